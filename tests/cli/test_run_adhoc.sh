#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_run_adhoc.sh - an ad-hoc `smtpmon run` beside a configured service (issue 13, point 4):
#   - the configuration file is read only when --config names it: with a bad
#     /etc/smtpmon/smtpmon.conf in place (an overlay on /etc in a private mount namespace; the
#     host's /etc is never touched), `smtpmon run -i IFACE` is not stopped by it (it fails
#     later, on the interface that does not exist: exit 1), while
#     `--config /etc/smtpmon/smtpmon.conf` refuses the file (exit 2, naming it), and
#     `smtpmon read` likewise;
#   - one smtpmon per interface: in a throwaway network namespace, a second `smtpmon run` on
#     the interface a first one monitors is refused in one line naming the first one's pid,
#     exit 1, with --control none and with a control socket of its own (never created), also
#     when it names a free interface besides (nothing attached); the first one runs on,
#     undisturbed. A free interface beside it, and `lo` of another namespace, are
#     monitored. A name squatted by another user (nobody), listening or only bound (no
#     credentials to read), does not keep smtpmon from starting (a warning says the check is
#     skipped). Once the first one is killed
#     (SIGKILL: no clean-up of its own), the interface is free again at once.
# Needs root (mount namespace, overlayfs, network namespaces, BPF); skipped otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1
smtpmon=$(realpath "${SMTPMON:-build/smtpmon}")
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done
[[ $EUID -eq 0 ]] || { echo "skip: needs root"; exit 77; }
[ -x "$smtpmon" ] || { echo "FAIL $smtpmon not built"; exit 1; }
tmp=$(mktemp -d /tmp/smtpmon-adhoc.XXXXXX)
ns_a=smad$$a ns_b=smad$$b
pids=()
cleanup() {
	local p
	for p in ${pids[@]+"${pids[@]}"}; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$ns_a" 2>/dev/null
	ip netns del "$ns_b" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== the configuration file only with --config"
# in_etc_overlay COMMAND...: runs COMMAND where /etc/smtpmon/smtpmon.conf is a bad file
in_etc_overlay() {
	unshare --mount --propagation private sh -ec '
		mount -t tmpfs tmpfs "$1"
		mkdir -p "$1/upper/smtpmon" "$1/work"
		printf "[capture]\nports = 25,x\n" >"$1/upper/smtpmon/smtpmon.conf"
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
		shift
		exec "$@"' sh "$tmp/ovl" "$@"
}
mkdir "$tmp/ovl"
in_etc_overlay cat /etc/smtpmon/smtpmon.conf >"$tmp/conf" 2>"$tmp/err"
if ! grep -q '25,x' "$tmp/conf"; then
	echo "skip: no overlay on /etc in a mount namespace here: $(head -2 "$tmp/err")"
	exit 77
fi
[[ ! -e /etc/smtpmon/smtpmon.conf ]] || ! grep -q '25,x' /etc/smtpmon/smtpmon.conf ||
	live_fail "the host's /etc/smtpmon/smtpmon.conf holds the test's bad file"
in_etc_overlay "$smtpmon" run -i nosuchif0 --control none >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 1 ]] && ! grep -q smtpmon.conf "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]]; then
	live_ok "run without --config: the service's bad file not read ($(cat "$tmp/err"))"
else
	live_fail "run without --config: exit $rc: $(head -3 "$tmp/err")"
fi
in_etc_overlay "$smtpmon" run --config /etc/smtpmon/smtpmon.conf -i nosuchif0 --control none \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "^smtpmon: /etc/smtpmon/smtpmon.conf:2: \[capture\] ports: bad port list '25,x'" "$tmp/err" &&
	live_ok "run --config /etc/smtpmon/smtpmon.conf: refused, exit 2" ||
	live_fail "run --config /etc/smtpmon/smtpmon.conf: exit $rc: $(head -3 "$tmp/err")"
in_etc_overlay "$smtpmon" read -q tests/data/synthetic/synth-smtp.pcap >"$tmp/out" 2>"$tmp/err"
rc=$?
[[ $rc -eq 0 && -s $tmp/out && ! -s $tmp/err ]] && live_ok "read without --config: not read either" ||
	live_fail "read without --config: exit $rc: $(head -3 "$tmp/err")"

echo "== one smtpmon per interface"
ip netns add "$ns_a" && ip netns add "$ns_b" &&
	ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up &&
	ip -n "$ns_a" link add v0 type veth peer name v1 &&
	ip -n "$ns_a" link set v0 up && ip -n "$ns_a" link set v1 up ||
	{ live_fail "network namespaces"; live_done; }
# start NAME NS NATTACH OPTIONS...: smtpmon run in NS, in the background, until it reported
# NATTACH attachments (pid in $started)
start() {
	local name=$1 ns=$2 want=$3 i
	shift 3
	ip netns exec "$ns" "$smtpmon" run --tls off "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	started=$!
	pids+=("$started")
	for i in $(seq 300); do
		(($(grep -c '^smtpmon: attached ' "$tmp/$name.err") >= want)) && return 0
		kill -0 "$started" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
# stop PID: SIGTERM, its exit status in $stopped
stop() {
	kill -TERM "$1"
	wait "$1"
	stopped=$?
}
# refused WHAT PID OPTIONS...: a second smtpmon in ns_a is refused in one line naming PID
refused() {
	local what=$1 pid=$2 rc
	shift 2
	ip netns exec "$ns_a" timeout 20 "$smtpmon" run --tls off "$@" >"$tmp/second.out" 2>"$tmp/second.err"
	rc=$?
	if [[ $rc -eq 1 && $(cat "$tmp/second.err") == "smtpmon: lo is already monitored by smtpmon pid $pid (stop it first)" ]]; then
		live_ok "$what: exit 1, $(cat "$tmp/second.err")"
	else
		live_fail "$what: exit $rc: $(head -4 "$tmp/second.err")"
	fi
}
start first "$ns_a" 1 -i lo --control none || { live_fail "first smtpmon on lo: $(cat "$tmp/first.err")"; live_done; }
first=$started
refused "second on lo, --control none" "$first" -i lo --control none
refused "second on lo, a control socket of its own" "$first" -i lo --control "$tmp/second.sock"
live_check "... whose socket was never made" test ! -e "$tmp/second.sock"
refused "second on v0 and lo" "$first" -i v0 -i lo --control none
live_check "... nothing attached to v0" bash -c "! grep -q attached '$tmp/second.err'"
live_check "the first one runs on" kill -0 "$first"

if start beside "$ns_a" 2 -i v0 --control none; then
	stop "$started"
	live_check "a free interface beside it (v0): attached, then exit $stopped" test "$stopped" -eq 0
else
	live_fail "a free interface beside it (v0): $(cat "$tmp/beside.err")"
fi
if start other "$ns_b" 1 -i lo --control none; then
	stop "$started"
	live_check "lo of another namespace: attached, then exit $stopped" test "$stopped" -eq 0
else
	live_fail "lo of another namespace: $(cat "$tmp/other.err")"
fi

ifindex=$(ip netns exec "$ns_a" cat /sys/class/net/v0/ifindex)
# squat HOW: nobody holds v0's name; "listen" answers connections, "bind" does not
squat() {
	# the system's python3: a python of root's (pyenv) may be closed to nobody
	ip netns exec "$ns_a" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind("\0smtpmon/ifindex/" + sys.argv[1])
if sys.argv[2] == "listen":
    s.listen()
print("held", flush=True)
time.sleep(60)' "$ifindex" "$1" >"$tmp/squat.out" 2>&1 &
	squatter=$!
	pids+=("$squatter")
	for _ in $(seq 50); do grep -q held "$tmp/squat.out" && break; sleep 0.1; done
}
# squatted HOW WARNING: smtpmon attaches to v0 anyway, saying so
squatted() {
	squat "$1"
	if start "squatted-$1" "$ns_a" 2 -i v0 --control none; then
		stop "$started"
		live_check "v0's name squatted by nobody ($1): attached anyway, then exit $stopped" test "$stopped" -eq 0
		live_check "... saying the check is skipped" grep -q "^smtpmon: v0: $2; not checking\$" "$tmp/squatted-$1.err"
	else
		live_fail "v0's name squatted by nobody ($1): $(head -3 "$tmp/squatted-$1.err") ($(cat "$tmp/squat.out"))"
	fi
	kill "$squatter"
	wait "$squatter" 2>/dev/null
}
squatted listen "pid [0-9]* of uid 65534 holds the name smtpmon uses to find a second smtpmon"
squatted bind "a process that does not answer holds the name smtpmon uses to find a second smtpmon (Connection refused)"

kill -KILL "$first"
wait "$first" 2>/dev/null
if start after "$ns_a" 1 -i lo --control none; then
	stop "$started"
	live_check "after SIGKILL of the first one: lo free at once, attached, exit $stopped" test "$stopped" -eq 0
else
	live_fail "after SIGKILL of the first one: $(cat "$tmp/after.err")"
fi
live_done
