# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# bench-lib.sh - shared by tools/bench.sh and tools/bench-live.sh (source it).
#
# Results are rows of a tab-separated file, $BENCH_RESULTS:
#   PART  FIGURE  VALUE  GOAL  STATUS        (STATUS: met | NOT MET | - when there is no goal)
# bench.sh prints them as one table and writes docs/performance.md from them.

BENCH_RESULTS=${BENCH_RESULTS:-build/bench/results.tsv}

# bench_row PART FIGURE VALUE [GOAL STATUS]
bench_row() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:--}" "${5:--}" >>"$BENCH_RESULTS"
	printf '  %-34s %-26s %s %s\n' "$2" "$3" "${4:+(goal $4: }${5:-}" "${4:+)}"
}

# bench_goal PART FIGURE VALUE GOAL CONDITION: CONDITION is a bc expression that is 1 when met.
bench_goal() {
	local status="NOT MET"
	[[ $(echo "$5" | bc -l 2>/dev/null) == 1 ]] && status=met
	bench_row "$1" "$2" "$3" "$4" "$status"
}

# median of the numbers on stdin (the lower middle one for an even count)
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# f EXPR: bc with 2 decimals
f2() { printf '%.2f' "$(echo "$1" | bc -l)"; }
f1() { printf '%.1f' "$(echo "$1" | bc -l)"; }

now() { echo "$EPOCHREALTIME"; }

# END_FILTER: what a capture's filter must also take for capture_end.
END_FILTER='udp port 9'
# capture_end FILE COMMAND...: COMMAND (e.g. lab_cli) sends a UDP datagram to port 9 of the
# lab's server, after all the traffic; tcpdump (with -U) writes packets in the order it read
# them, so once the datagram is in FILE everything before it is too, and tcpdump can be
# stopped. (Waiting for the file to stop growing was not enough: a capture that stalled for a
# moment was stopped with its last packets still in the kernel buffer.)
capture_end() {
	local file=$1
	shift
	"$@" bash -c "echo end >/dev/udp/$LAB_SRV4/9" || return 1
	for _ in $(seq 300); do
		tcpdump -r "$file" -n -c 1 "$END_FILTER" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "bench: the end marker never reached $file" >&2
	return 1
}
