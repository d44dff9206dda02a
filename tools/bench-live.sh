#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bench-live.sh - make bench, parts 4 and 5: what live capture costs (root; called by bench.sh).
#
# A throwaway veth pair (tests/lab/lab.sh), a plain SMTP sink (tools/smtp-sink.py) on the
# server side so that the MTA is not the bottleneck, and a bulk SMTP load from the client side
# (tools/smtp-load.py --mix bulk: sessions of ten 8 MB mails, LIVE_MB megabytes per run, one
# worker, so every run sends the same sessions). RUNS rounds (default 5), each running the load
# alone, with `smtpmon run` attached (TC, default ring) and with `smtpmon run --bodies skip`,
# then the same three in reverse order (drift within a round cancels out); every figure is the
# median over rounds of a same-round ratio of the two runs' means.
#   - throughput ratio (attached / alone), smtpmon CPU seconds per GB (utime + stime from
#     /proc/PID/stat, counted from just after attach: loading is not per GB), ring drops (kernel counter ring_drops, summed over all rounds), bodies shed
#     in copy mode (kernel counter shed_bodies, summed over all rounds)
#   - events lost: one more run, attached and with tcpdump on the same interface; the live
#     events (smtp_request, smtp_reply: event, command, argument, code, message) against
#     `smtpmon read` of the capture
#   - --bodies skip: ring payload bytes (kernel counter payload_bytes) against copy mode, and
#     the requests and replies of both modes compared
#   - collateral: one iperf3 stream (port 5201) of 2 * RUNS + 2 windows of IPERF_WINDOW
#     seconds, smtpmon attached in every other one
#
#   tools/bench-live.sh      env: RUNS, LIVE_MB (default 3000: runs of about 3 s, as 1 s runs
#                            vary by 15 %), CHECK_MB (default 300), IPERF_WINDOW (default 6),
#                            BENCH_RESULTS (rows appended, see tools/bench-lib.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
if [[ $EUID -ne 0 ]]; then
	bench_row live "live capture" "skipped: needs root"
	exit 0
fi
RUNS=${RUNS:-5}
LIVE_MB=${LIVE_MB:-3000}
IPERF_WINDOW=${IPERF_WINDOW:-6}
CHECK_MB=${CHECK_MB:-300}
SMTPMON=${SMTPMON:-build/smtpmon}

. tests/lab/lab.sh
lab_init "smbl$$" || exit 1
d=$LAB_DIR
MON_PID=
TCPDUMP_PID=
IPERF_PID=
cleanup() {
	set +e
	[[ -n $MON_PID ]] && kill -KILL "$MON_PID" 2>/dev/null
	[[ -n $IPERF_PID ]] && kill -KILL "$IPERF_PID" 2>/dev/null
	[[ -n $TCPDUMP_PID ]] && kill -KILL "$TCPDUMP_PID" 2>/dev/null
	lab_teardown
}
trap cleanup EXIT
trap 'exit 1' INT TERM
lab_netns || exit 1

# Started directly, not through a shell function, so that the PID is the process itself.
ip netns exec "$LAB_SRV_NS" python3 tools/smtp-sink.py "$LAB_SRV4" 25 2>"$d/sink.err" &
ip netns exec "$LAB_SRV_NS" iperf3 -s -p 5201 >"$d/iperf3-server.log" 2>&1 &
for _ in $(seq 100); do
	lab_srv ss -Hltn 'sport = :25' | grep -q . && lab_srv ss -Hltn 'sport = :5201' | grep -q . &&
		break
	sleep 0.1
done

# load NAME: one bulk run; prints Gbit/s, leaves its summary in $d/NAME.load.json
load() {
	lab_cli python3 tools/smtp-load.py --server "$LAB_SRV4" --mb "$LIVE_MB" --mix bulk --workers 1 \
		--summary "$d/$1.load.json"
	jq -r '.bytes * 8 / .seconds / 1e9' "$d/$1.load.json"
}


# mon_start NAME [smtpmon run options]: attached to the server's veth (TC ingress + egress)
mon_start() {
	local name=$1
	shift
	: >"$d/$name.err"
	ip netns exec "$LAB_SRV_NS" "$SMTPMON" run -i "$LAB_SRV_IF" --control none "$@" \
		>"$d/$name.json" 2>"$d/$name.err" &
	MON_PID=$!
	for _ in $(seq 200); do
		if (($(grep -c '^smtpmon: attached ' "$d/$name.err") >= 2)); then
			# Loading and verifying the programs is CPU too, but not per GB.
			sleep 0.2
			cpu_ticks "$MON_PID" >"$d/$name.cpu0"
			return 0
		fi
		kill -0 "$MON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench-live: smtpmon did not attach: $(cat "$d/$name.err")" >&2
	exit 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# mon_stop NAME: waits until smtpmon has drained its ring (its CPU time stops moving), notes
# its CPU seconds in $d/NAME.cpu, stops it; its final statistics are in $d/NAME.err.
mon_stop() {
	local name=$1 last=-1 now
	for _ in $(seq 50); do
		now=$(cpu_ticks "$MON_PID")
		[[ $now == "$last" ]] && break
		last=$now
		sleep 0.1
	done
	echo "($now - $(cat "$d/$name.cpu0")) / $(getconf CLK_TCK)" | bc -l >"$d/$name.cpu"
	kill -TERM "$MON_PID"
	wait "$MON_PID" || { echo "bench-live: smtpmon failed: $(cat "$d/$name.err")" >&2; exit 1; }
	MON_PID=
}

# kernel NAME COUNTER: a counter from smtpmon's final "smtpmon: kernel: ..." line
kernel() { sed -n "s/^smtpmon: kernel:.* $2 \([0-9]*\).*/\1/p" "$d/$1.err"; }

# Requests and replies as comparable lines (no time stamps, uids or ports), sorted.
dialogue() {
	jq -r 'select(.event == "smtp_request" or .event == "smtp_reply")
		| [.event, .command // .cmd // "", .arg // "", (.code // "" | tostring), .msg // ""]
		| @tsv' "$1" | sort
}

# run NAME MODE: one load run alone, or with smtpmon in copy or skip mode; Gbit/s in $GBIT.
# (Not in a $(...) subshell: the cleanup trap must know smtpmon's PID.)
run() {
	local name=$1 mode=$2
	case $mode in
	alone) GBIT=$(load "$name") ;;
	copy) mon_start "$name" ;;
	skip) mon_start "$name" --bodies skip ;;
	esac
	if [[ $mode != alone ]]; then
		GBIT=$(load "$name")
		mon_stop "$name"
	fi
}

mean() { echo "($1 + $2) / 2" | bc -l; }

echo "live: $LIVE_MB MB bulk SMTP per run over a veth pair, $RUNS rounds of 6 runs"
: >"$d/rounds"
for round in $(seq "$RUNS"); do
	run "alone$round" alone && a1=$GBIT
	run "copy$round" copy && c1=$GBIT
	run "skip$round" skip && s1=$GBIT
	run "skip${round}b" skip && s2=$GBIT
	run "copy${round}b" copy && c2=$GBIT
	run "alone${round}b" alone && a2=$GBIT
	alone=$(mean "$a1" "$a2")
	copy=$(mean "$c1" "$c2")
	skip=$(mean "$s1" "$s2")
	bytes=$(jq .bytes "$d/copy$round.load.json")
	echo "$round $alone $copy $skip" \
		"$(mean "$(cat "$d/copy$round.cpu")" "$(cat "$d/copy${round}b.cpu")")" \
		"$(mean "$(cat "$d/skip$round.cpu")" "$(cat "$d/skip${round}b.cpu")")" "$bytes" \
		"$(($(kernel "copy$round" ring_drops) + $(kernel "copy${round}b" ring_drops)))" \
		"$(($(kernel "skip$round" ring_drops) + $(kernel "skip${round}b" ring_drops)))" \
		"$(kernel "copy$round" payload_bytes) $(kernel "skip$round" payload_bytes)" \
		"$(($(kernel "copy$round" shed_bodies) + $(kernel "copy${round}b" shed_bodies)))" \
		"$(($(jq '[.mails[]] | add' "$d/copy$round.load.json") * 2))" >>"$d/rounds"
	echo "  round $round: Gbit/s alone $(f2 "$a1") $(f2 "$a2"), copy $(f2 "$c1") $(f2 "$c2")," \
		"skip $(f2 "$s1") $(f2 "$s2")"
done
col() { awk -v k="$1" '{ print $k }' "$d/rounds"; }
ratio() { awk -v a="$1" -v b="$2" '{ print $a / $b }' "$d/rounds" | median; }
cpu_per_gb() { awk -v c="$1" '{ print $c / ($7 / 1e9) }' "$d/rounds" | median; }

bench_row live "bulk throughput alone" "$(f2 "$(col 2 | median)") Gbit/s"
copy_ratio=$(ratio 3 2)
bench_goal live "throughput attached / alone (copy, default)" "$(f1 "$copy_ratio * 100") %" ">= 97 %" \
	"$copy_ratio >= 0.97"
bench_row live "smtpmon CPU per GB (copy)" "$(f2 "$(cpu_per_gb 5)") s/GB"
drops=$(awk '{ s += $8 } END { print s + 0 }' "$d/rounds")
bench_goal live "ring drops, 32 MB ring (all rounds)" "$drops" "0" "$drops == 0"
# Bodies the kernel skipped in copy mode because the ring was three quarters full
# (docs/body-skip.md, "Shedding bodies"): what copy mode did not copy to stay lossless.
bench_row live "bodies shed in copy mode, ring crowded (all rounds)" \
	"$(awk '{ s += $12; m += $13 } END { print s + 0 " of " m + 0 " mails" }' "$d/rounds")"

# Events lost: the same load once more, attached and captured.
# A smaller run (CHECK_MB) and a 1 GB capture buffer, so tcpdump loses nothing even when it
# falls behind; if it still drops, the comparison proves nothing and says so.
ip netns exec "$LAB_SRV_NS" tcpdump -i "$LAB_SRV_IF" -s 0 -B 1048576 -U -n -Z root -w "$d/check.pcap" \
	"tcp port 25 or $END_FILTER" 2>"$d/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$d/tcpdump.err" && break
	sleep 0.05
done
mon_start check
LIVE_MB=$CHECK_MB load check >/dev/null
mon_stop check
capture_end "$d/check.pcap" lab_cli
kill -TERM "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=
"$SMTPMON" read "$d/check.pcap" >"$d/offline.json" 2>"$d/offline.err"
dialogue "$d/check.json" >"$d/live.tsv"
dialogue "$d/offline.json" >"$d/offline.tsv"
# Kept for a look when the two differ: < only offline, > only live.
comm -3 "$d/offline.tsv" "$d/live.tsv" | sed 's/^\t/> /; t; s/^/< /' >build/bench/live-vs-offline.diff
lost=$(comm -23 "$d/offline.tsv" "$d/live.tsv" | wc -l)
extra=$(comm -13 "$d/offline.tsv" "$d/live.tsv" | wc -l)
pcap_drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$d/tcpdump.err")
if [[ ${pcap_drops:-1} != 0 ]]; then
	bench_row live "events lost (live vs read of pcap)" \
		"inconclusive: tcpdump dropped ${pcap_drops:-?} packets" "0" "NOT MET"
else
	bench_goal live "events lost (live vs read of pcap)" \
		"$lost of $(wc -l <"$d/offline.tsv") ($extra extra), $CHECK_MB MB run" "0" \
		"$lost == 0 && $extra == 0"
fi

# --bodies skip
skip_ratio=$(ratio 4 2)
bench_goal live "throughput attached / alone (--bodies skip)" "$(f1 "$skip_ratio * 100") %" \
	">= 97 %" "$skip_ratio >= 0.97"
bench_row live "smtpmon CPU per GB (skip)" "$(f2 "$(cpu_per_gb 6)") s/GB"
copy_bytes=$(col 10 | median)
skip_bytes=$(col 11 | median)
bench_row live "ring payload bytes copy -> skip" \
	"$copy_bytes -> $skip_bytes ($(f1 "100 - 100 * $skip_bytes / $copy_bytes") % saved)"
skip_drops=$(awk '{ s += $9 } END { print s + 0 }' "$d/rounds")
bench_goal live "ring drops --bodies skip" "$skip_drops" "0" "$skip_drops == 0"
dialogue "$d/copy1.json" >"$d/copy.tsv"
dialogue "$d/skip1.json" >"$d/skip.tsv"
comm -3 "$d/copy.tsv" "$d/skip.tsv" | sed 's/^\t/> /; t; s/^/< /' >build/bench/copy-vs-skip.diff
differ=$(comm -3 "$d/copy.tsv" "$d/skip.tsv" | wc -l)
bench_goal live "requests+replies skip vs copy" "$differ differ of $(wc -l <"$d/copy.tsv")" \
	"0 differ" "$differ == 0 && $(wc -l <"$d/copy.tsv") > 0"

# Collateral: one iperf3 stream on port 5201 across the same interface, smtpmon attached
# and detached in turn, IPERF_WINDOW seconds each, inside the stream: separate iperf3 runs
# differ by 15 % on this machine (CPU placement, neighbours), seconds of one stream far less.
# A one-second interval counts when it lies in one window, a second away from its edges
# (attaching and detaching happen at the edges). A window starts once smtpmon is attached
# (seconds on a loaded machine: a fixed schedule left windows empty), so the stream is given
# more time than the windows can take and interrupted after the last one (iperf3 still writes
# its JSON, with an "interrupt" error and the intervals).
windows=$((RUNS * 2 + 2))
t0=$(now)
ip netns exec "$LAB_CLI_NS" iperf3 -c "$LAB_SRV4" -p 5201 -t $((windows * (IPERF_WINDOW + 30))) \
	-i 1 -J >"$d/iperf3.json" &
IPERF_PID=$!
sleep 1
: >"$d/windows"
for w in $(seq 0 $((windows - 1))); do
	state=alone
	if ((w % 2)); then
		state=attached
		mon_start "iperf$w"
	fi
	from=$(echo "$(now) - $t0" | bc -l)
	sleep "$IPERF_WINDOW"
	to=$(echo "$(now) - $t0" | bc -l)
	[[ $state == attached ]] && mon_stop "iperf$w"
	echo "$state $from $to" >>"$d/windows"
done
kill -INT "$IPERF_PID"
wait "$IPERF_PID" || true # interrupted: exit status 1
IPERF_PID=
jq -r '.intervals[].sum | [.start, .end, .bits_per_second / 1e9] | @tsv' "$d/iperf3.json" |
	awk 'NR == FNR { state[NR] = $1; from[NR] = $2 + 1; to[NR] = $3 - 1; n = NR; next }
	{ for (i = 1; i <= n; i++) if ($1 >= from[i] && $2 <= to[i]) print state[i], $3 }' \
		"$d/windows" - >"$d/iperf"
iperf_mean() { awk -v s="$1" '$1 == s { t += $2; n++ } END { if (n) print t / n, n }' "$d/iperf"; }
read -r alone_gbit alone_n < <(iperf_mean alone) || true
read -r attached_gbit attached_n < <(iperf_mean attached) || true
if [[ -z ${alone_gbit:-} || -z ${attached_gbit:-} ]]; then
	echo "bench-live: iperf3 gave no usable interval: $(jq -r '.error // "\(.intervals | length) intervals"' \
		"$d/iperf3.json" 2>&1 | head -1); windows: $(paste -sd' ' "$d/windows")" >&2
	exit 1
fi
echo "  iperf3: $alone_n seconds alone, mean $(f2 "$alone_gbit") Gbit/s; $attached_n attached," \
	"mean $(f2 "$attached_gbit") Gbit/s"
bench_row collateral "iperf3 alone" "$(f2 "$alone_gbit") Gbit/s ($alone_n s)"
iratio=$(echo "$attached_gbit / $alone_gbit" | bc -l)
bench_goal collateral "iperf3 attached / alone" "$(f1 "$iratio * 100") % ($attached_n s)" \
	">= 98 %" "$iratio >= 0.98"
