#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bench-tls.sh - make bench, part 7: what the TLS library probes cost (root; called by
# bench.sh; docs/tls-plaintext.md).
#
# A throwaway veth pair (tests/lab/lab.sh). Server side: tools/smtp-sink.py with STARTTLS on
# 25 and a TLS discard server on 8443 (tools/tls-load.py); client side: tools/tls-load.py,
# CPython's ssl (OpenSSL's SSL_write_ex on the client, SSL_read_ex in the servers: both ends'
# libraries are probed). RUNS rounds (default 5) of: alone, with `smtpmon run` attached
# (TLS plaintext on, copy mode), with `--bodies skip`, with `--tls off` (TC only), then the
# same in reverse order; every figure is the median over rounds of a same-round ratio of the
# runs' means.
#   - bulk SMTP over STARTTLS, TLS_MB megabytes per run: throughput attached / alone,
#     in copy mode and with --bodies skip; TLS ring drops; and with the TLS probes off, which
#     tells what the TC side alone does to that transfer
#   - a non-SMTP TLS workload on the same host (port 8443, TLS_MB per run): throughput
#     attached / alone, with the default `--tls-processes auto` (per process here, as root:
#     its processes are not probed at all) and with `--tls-processes all` (as under the
#     unit: its calls are probed and only counted, not_monitored)
#   - the same STARTTLS upload through the lab's Postfix (smtpd reads with SSL_read, cleanup
#     writes each mail to its queue, the discard transport drops it), PF_MB megabytes per
#     run: what an operator's MTA keeps of its throughput, in copy mode and with skip
#   - the cost of one probed call that is not SMTP: build/tools/tls-call-bench (SSL_write
#     on an SSL object with no connection) alone and attached with `--tls-processes all`
#     (per process it is not probed), RUNS times alternated
#
#   tools/bench-tls.sh     env: RUNS, TLS_MB (default 400), PF_MB (default 160), BENCH_RESULTS
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
if [[ $EUID -ne 0 ]]; then
	bench_row tls "TLS plaintext" "skipped: needs root"
	exit 0
fi
RUNS=${RUNS:-5}
TLS_MB=${TLS_MB:-400}
PF_MB=${PF_MB:-160}
SMTPMON=${SMTPMON:-build/smtpmon}

. tests/lab/lab.sh
lab_init "smbt$$" || exit 1
d=$LAB_DIR
MON_PID=
cleanup() {
	set +e
	[[ -n $MON_PID ]] && kill -KILL "$MON_PID" 2>/dev/null
	lab_teardown
}
trap cleanup EXIT
trap 'exit 1' INT TERM
lab_netns || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=sink.bench.example -days 1 \
	-keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
ip netns exec "$LAB_SRV_NS" python3 tools/smtp-sink.py "$LAB_SRV4" 25 "$d/cert.pem" \
	"$d/key.pem" 2>"$d/sink.err" &
SINK_PID=$!
ip netns exec "$LAB_SRV_NS" python3 tools/tls-load.py discard "$LAB_SRV4" 8443 "$d/cert.pem" \
	"$d/key.pem" 2>"$d/discard.err" &
for _ in $(seq 100); do
	lab_srv ss -Hltn 'sport = :25' | grep -q . && lab_srv ss -Hltn 'sport = :8443' | grep -q . &&
		break
	sleep 0.1
done

# run KIND: seconds of one run (KIND smtp or raw)
run() {
	local port=25
	[[ $1 == raw ]] && port=8443
	lab_cli python3 tools/tls-load.py "$1" "$LAB_SRV4" "$port" "$TLS_MB"
}

mon_start() {
	: >"$d/mon.err"
	ip netns exec "$LAB_SRV_NS" "$SMTPMON" run -i "$LAB_SRV_IF" --control none -q "$@" \
		>/dev/null 2>"$d/mon.err" &
	MON_PID=$!
	# Ready: the probes set up, or with --tls off the second direction attached.
	local ready='^smtpmon: TLS plaintext from '
	[[ " $* " == *" --tls off "* ]] && ready='^smtpmon: attached .* egress'
	for _ in $(seq 300); do
		grep -q "$ready" "$d/mon.err" && return 0
		sleep 0.1
	done
	echo "bench-tls: smtpmon did not get ready ($ready): $(cat "$d/mon.err")" >&2
	exit 1
}

# mon_stop: stops smtpmon, appends its TLS ring drops to $d/counters
mon_stop() {
	kill -TERM "$MON_PID"
	wait "$MON_PID" || true
	MON_PID=
	awk '/^smtpmon: tls (openssl|gnutls):/ {
		for (i = 1; i < NF; i++) if ($i == "ring_drops") dr += $(i + 1) + 0 }
		END { print dr + 0 }' "$d/mon.err" >>"$d/counters"
}

# A first run of each kind, not counted: the first transfer after the lab starts was 2-4
# times slower than the next ones (1.85 s against 0.45-0.53 s for 200 MB, 2026-12-04), which
# alone made "attached / alone" read above 100 %.
run smtp >/dev/null
run raw >/dev/null
run_pf() { lab_cli python3 tools/tls-load.py smtp "$LAB_SRV4" 25 "$PF_MB" "$LAB_RCPT"; }

# step NAME: one timed run, its seconds in V. a, m, s, o: the sink alone, attached, with
# --bodies skip, with --tls off (TC only); ra, rm, rp: the raw transfer alone, attached with
# the probes on the library files, attached by default (per process); pa, pm, ps: through
# Postfix alone, attached, with --bodies skip.
step() {
	case $1 in
	a) V=$(run smtp) ;;
	ra) V=$(run raw) ;;
	pa) V=$(run_pf) ;;
	m | rp | pm | rm | s | ps | o)
		case $1 in
		rm) mon_start --tls-processes all ;;
		s | ps) mon_start --bodies skip ;;
		o) mon_start --tls off ;;
		*) mon_start ;;
		esac
		case $1 in
		m | s | o) V=$(run smtp) ;;
		rp | rm) V=$(run raw) ;;
		*) V=$(run_pf) ;;
		esac
		mon_stop
		;;
	esac
}

# rounds FILE "COLUMNS" STEPS...: RUNS rounds of STEPS; each appends to FILE one line, the
# seconds of its runs summed per step, in the order of COLUMNS.
rounds() {
	local file=$1 columns=$2 r name line
	shift 2
	: >"$file"
	for r in $(seq "$RUNS"); do
		local -A t=()
		for name in "$@"; do
			step "$name"
			t[$name]=$(echo "${t[$name]:-0} + $V" | bc -l)
		done
		line=
		for name in $columns; do line+="${t[$name]} "; done
		echo "${line% }" | tee -a "$file"
	done
}
# throughput ratio = alone seconds / attached seconds: ratio FILE ALONE ATTACHED (columns)
ratio() { awk -v a="$2" -v b="$3" '{ print $a / $b }' "$1" | median; }
# per_run FILE COLUMN: seconds of one run (each round sums two)
per_run() { f2 "$(awk -v c="$2" '{ print $c / 2 }' "$1" | median)"; }

# One round: alone, attached, skip, TC only, raw alone, raw attached with the probes on the
# library files, raw attached by default (per process), and back (ABCDEFG GFEDCBA).
: >"$d/counters"
rounds "$d/rounds" "a m s ra rm rp o" a m s o ra rm rp rp rm ra o s m a
copy=$(ratio "$d/rounds" 1 2)
skip=$(ratio "$d/rounds" 1 3)
raw_on_files=$(ratio "$d/rounds" 4 5)
raw_default=$(ratio "$d/rounds" 4 6)
tc_only=$(ratio "$d/rounds" 1 7)
probes=$(ratio "$d/rounds" 7 2)
drops=$(awk '{ s += $1 } END { print s + 0 }' "$d/counters")
r=$d/rounds
bench_row tls "seconds per run (median): alone, attached, skip, TC only; raw alone, raw attached with --tls-processes all, raw attached (default)" \
	"$(per_run "$r" 1), $(per_run "$r" 2), $(per_run "$r" 3), $(per_run "$r" 7); $(per_run "$r" 4), $(per_run "$r" 5), $(per_run "$r" 6) ($TLS_MB MB each)"
bench_goal tls "STARTTLS bulk: attached / alone (copy)" "$(f1 "$copy * 100") %" ">= 90 %" \
	"$copy >= 0.90"
bench_goal tls "STARTTLS bulk: attached / alone (--bodies skip)" "$(f1 "$skip * 100") %" \
	">= 97 %" "$skip >= 0.97"
# What the TC side alone costs, and what the probes add to it (docs/performance.md).
bench_row tls "STARTTLS bulk: TC only (--tls off) / alone" "$(f1 "$tc_only * 100") %"
bench_row tls "STARTTLS bulk: attached / TC only (what the probes change)" \
	"$(f1 "$probes * 100") %"
bench_goal tls "TLS ring drops (all runs)" "$drops" "0" "$drops == 0"
bench_goal tls "non-SMTP TLS: attached (default: auto, here per process) / alone" \
	"$(f1 "$raw_default * 100") %" ">= 95 %" "$raw_default >= 0.95"
# As under the unit, where tracefs cannot be written and auto puts the probes on the files.
bench_row tls "non-SMTP TLS: attached with --tls-processes all / alone" \
	"$(f1 "$raw_on_files * 100") %"
# Through the lab's Postfix on port 25 instead of the sink: rounds of alone, copy, skip and
# back (ABCCBA), the first transfer not counted.
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
lab_postfix_start || exit 1
run_pf >/dev/null
rounds "$d/pf_rounds" "pa pm ps" pa pm ps ps pm pa
pf_copy=$(ratio "$d/pf_rounds" 1 2)
pf_skip=$(ratio "$d/pf_rounds" 1 3)
pf_drops=$(awk '{ s += $1 } END { print s + 0 }' "$d/counters")
r=$d/pf_rounds
bench_row tls "through Postfix: seconds per run (median): alone, attached, skip" \
	"$(per_run "$r" 1), $(per_run "$r" 2), $(per_run "$r" 3) ($PF_MB MB each)"
bench_goal tls "STARTTLS bulk through Postfix: attached / alone (copy)" \
	"$(f1 "$pf_copy * 100") %" ">= 90 %" "$pf_copy >= 0.90"
bench_goal tls "STARTTLS bulk through Postfix: attached / alone (--bodies skip)" \
	"$(f1 "$pf_skip * 100") %" ">= 97 %" "$pf_skip >= 0.97"
bench_goal tls "TLS ring drops (all runs, Postfix's included)" "$pf_drops" "0" "$pf_drops == 0"
# One probed call that is not SMTP, timed directly: build/tools/tls-call-bench (SSL_write on
# an SSL object with no connection) alone and attached, alternated, medians of RUNS.
: >"$d/calls"
for _ in $(seq "$RUNS"); do
	alone=$(build/tools/tls-call-bench 20000)
	mon_start --tls-processes all
	attached=$(build/tools/tls-call-bench 20000)
	mon_stop
	echo "$alone $attached" >>"$d/calls"
done
# each line: SSL_write alone, getppid alone, SSL_write attached, getppid attached
alone=$(awk '{ print $1 }' "$d/calls" | median)
attached=$(awk '{ print $3 }' "$d/calls" | median)
syscall=$(awk '{ print $2 }' "$d/calls" | median)
bench_row tls "one SSL_write call, not SMTP: alone / attached" "$(f1 "$alone") ns / $(f1 "$attached") ns"
bench_row tls "cost per probed non-SMTP call (uprobe + uretprobe)" \
	"$(f1 "$attached - $alone") ns (a getppid() system call here: $(f1 "$syscall") ns)"
