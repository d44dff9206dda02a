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

# wait_quiet FILE: until a capture file has stopped growing (tcpdump drains its kernel buffer
# behind the traffic; a signal before that loses the packets still in the buffer).
wait_quiet() {
	local last=-1 size
	for _ in $(seq 100); do
		size=$(stat -c %s "$1")
		[[ $size == "$last" ]] && return 0
		last=$size
		sleep 0.3
	done
}
