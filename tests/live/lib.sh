# SPDX-License-Identifier: GPL-2.0-only
# lib.sh - helpers for the live-capture tests (source from bash at the top of the repo; it
# sources tests/lab/lab.sh and tests/lab/scenarios.sh).
#
#   live_lab PREFIX          root or skip (exit 77); a namespace pair with Postfix (tests/lab),
#                            torn down at exit together with the smtpmon run and tcpdump the
#                            test started (live_cleanup); sets d=$LAB_DIR
#   live_tcpdump_start FILE [FILTER]   full packets on the server's interface, unbuffered
#   live_tcpdump_stop
#   live_start NS OUTFILE ERRFILE NATTACH [smtpmon run options...]
#       starts build/smtpmon (or $SMTPMON) in namespace NS, sets LIVE_PID, and returns once
#       it reported NATTACH "smtpmon: attached ..." lines (1 if it died or timed out)
#   live_stop [SIGNAL]       signals LIVE_PID (default TERM), waits, sets LIVE_RC
#   live_ids ERRFILE prog|link   the kernel ids smtpmon reported for its attachments
#   live_assert_detached NS IF ERRFILE   nothing of that run is attached or loaded any more
#   live_counter ERRFILE NAME    a kernel counter from the final statistics line
#   live_normalise FILE      FILE's events as live and offline runs must both report them
#   live_own_events EVENTS OUT PCAP...   EVENTS without other labs' TLS sessions (the TLS
#                            library probes see the whole host), into OUT
#
# Tests print "ok ..." / "FAIL ..." lines; live_fail counts failures, live_done exits with
# 1 if any. Only our own processes are signalled, by PID.

. tests/lab/lab.sh
. tests/lab/scenarios.sh

SMTPMON=${SMTPMON:-build/smtpmon}
LIVE_FAILS=0
LIVE_PID=
LIVE_TCPDUMP_PID=

live_ok() { printf 'ok   %s\n' "$*"; }
live_fail() {
	printf 'FAIL %s\n' "$*"
	LIVE_FAILS=$((LIVE_FAILS + 1))
}
live_check() {
	local what=$1
	shift
	if "$@"; then live_ok "$what"; else live_fail "$what"; fi
}
live_done() {
	((LIVE_FAILS == 0)) || { echo "$LIVE_FAILS failure(s)"; exit 1; }
	exit 0
}

live_need_root() {
	if [[ $EUID -ne 0 ]]; then
		echo "skip: live tests need root"
		exit 77
	fi
}

live_start() {
	local ns=$1 out=$2 err=$3 want=$4 i
	shift 4
	: >"$err"
	ip netns exec "$ns" "$SMTPMON" run "$@" >"$out" 2>"$err" &
	LIVE_PID=$!
	for i in $(seq 300); do
		(($(grep -c '^smtpmon: attached ' "$err") >= want)) && return 0
		kill -0 "$LIVE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "smtpmon did not attach; stderr:" >&2
	cat "$err" >&2
	live_stop KILL
	return 1
}

live_stop() {
	local sig=${1:-TERM}
	LIVE_RC=
	[[ -n $LIVE_PID ]] || return 0
	kill -s "$sig" "$LIVE_PID" 2>/dev/null
	wait "$LIVE_PID" 2>/dev/null
	LIVE_RC=$?
	LIVE_PID=
}

# "smtpmon: attached X TCX ingress (prog 12, link 7)" -> 12 or 7
live_ids() {
	local err=$1 kind=$2
	sed -n "s/^smtpmon: attached .*(prog \([0-9]*\), link \([0-9]*\))$/\1 \2/p" "$err" |
		if [[ $kind == prog ]]; then cut -d' ' -f1; else cut -d' ' -f2 | grep -v '^0$'; fi |
		sort -u
}

live_counter() {
	sed -n "s/^smtpmon: kernel:.* $2 \([0-9]*\).*/\1/p" "$1"
}

# Programs are freed after an RCU grace period: poll a little.
live_gone() {
	local cmd=$1 id=$2 i
	for i in $(seq 50); do
		bpftool "$cmd" show id "$id" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}

live_assert_detached() {
	local ns=$1 ifname=$2 err=$3 id dir
	live_check "$err names the programs it attached" test -n "$(live_ids "$err" prog)"
	for id in $(live_ids "$err" prog); do
		live_check "prog $id unloaded" live_gone prog "$id"
	done
	for id in $(live_ids "$err" link); do
		live_check "link $id gone" live_gone link "$id"
	done
	for dir in ingress egress; do
		live_check "no tc $dir filter on $ifname" \
			bash -c "! ip netns exec '$ns' tc filter show dev '$ifname' $dir | grep -Eq 'smtpmon|handle 0x534d'"
	done
	live_check "no XDP on $ifname" \
		bash -c "! ip netns exec '$ns' ip link show dev '$ifname' | grep -q 'xdp'"
}

# live_normalise FILE: the events of FILE without what differs between a live run and `read`
# of its capture (timestamps, uids and file ids, both random; durations, packet counts),
# grouped by connection in order of appearance. A transaction keeps how many files it had.
# A connection closed by a FIN from one side and an RST from the other within microseconds
# (swaks after TLS: client FIN, client RST, server FIN 9 us apart) ends "FIN" or "RST"
# depending on which of the two packets reached the observer first; the ingress hook and
# the egress hook run on different CPUs, so the ring buffer and tcpdump may order them
# differently (seen once in CI). Both mean "closed": only that distinction is dropped.
live_normalise() {
	jq -c 'del(.ts, .uid, .fuid, .duration, .orig_segs, .resp_segs)
		| if has("fuids") then .fuids |= length else . end
		| if .end == "FIN" or .end == "RST" then .end = "closed" else . end
		| [."id.orig_h", ."id.orig_p", ."id.resp_h", ."id.resp_p"] as $k | [$k, .]' "$1" |
		cat -n | sort -s -k2,2 | cut -f2-
}
# live_has FILE 'jq condition': some event of the JSON-lines FILE satisfies it.
live_has() {
	jq -e -s "any(.[]; $2)" "$1" >/dev/null
}

live_tcpdump_start() {
	local file=$1 filter=${2:-tcp} i
	: >"$d/tcpdump.err"
	ip netns exec "$LAB_SRV_NS" tcpdump -i "$LAB_SRV_IF" -s 0 -U --immediate-mode -B 65536 -n \
		-Z root -w "$file" "$filter" 2>"$d/tcpdump.err" &
	LIVE_TCPDUMP_PID=$!
	for i in $(seq 100); do
		grep -q 'listening on' "$d/tcpdump.err" && return 0
		sleep 0.05
	done
	return 1
}

live_tcpdump_stop() {
	[[ -n $LIVE_TCPDUMP_PID ]] || return 0
	kill -INT "$LIVE_TCPDUMP_PID" 2>/dev/null
	wait "$LIVE_TCPDUMP_PID" 2>/dev/null
	LIVE_TCPDUMP_PID=
}

live_cleanup() {
	live_stop KILL
	live_tcpdump_stop
	lab_teardown
}

live_lab() {
	live_need_root
	lab_init "$1" || exit 1
	trap live_cleanup EXIT
	{ lab_netns && lab_postfix_start; } || exit 1
	d=$LAB_DIR
}

# live_own_events EVENTS OUT PCAP...: the events of EVENTS without the connections of other
# labs on this host, into OUT. The TLS library probes see every process of the host: a TLS
# session in another network namespace (another test's lab running at the same time, with
# the same addresses) is reported as a partial connection this lab's wire never showed.
# Those connections (partial, with a 4-tuple that none of the PCAPs holds) are left out; how
# many goes to stdout.
live_own_events() {
	local events=$1 out=$2 own foreign
	shift 2
	own=$(for p in "$@"; do "$SMTPMON" read -q --format json --events smtp_connection "$p"; done |
		jq -c '[."id.orig_h", ."id.orig_p", ."id.resp_h", ."id.resp_p"]' | jq -s -c 'unique')
	foreign=$(jq -c --argjson own "$own" 'select(.event == "smtp_connection" and .partial and
		([."id.orig_h", ."id.orig_p", ."id.resp_h", ."id.resp_p"] as $k | any($own[]; . == $k)
		| not)) | .uid' "$events" | jq -s -c .)
	jq -c --argjson f "$foreign" 'select(.uid as $u | any($f[]; . == $u) | not)' "$events" >"$out"
	[[ $foreign == '[]' ]] ||
		echo "note: $(jq length <<<"$foreign") connection(s) of another lab on this host left out"
}

# live_private_libssl DIR: a copy of the system's libssl.so.3 in DIR. A process started after
# smtpmon with LD_LIBRARY_PATH=DIR loads it: a file smtpmon does not probe, so that the lines
# inside TLS of its sessions come from the other end's library alone.
live_private_libssl() {
	local lib
	lib=$(python3 -c 'import _ssl, re
print(re.search(r"(/\S*/libssl\.so\.3)$", open("/proc/self/maps").read(), re.M).group(1))') &&
		mkdir -p "$1" && cp "$lib" "$1/"
}
