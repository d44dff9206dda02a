#!/usr/bin/env bash
# make bench: offline throughput and memory of `smtpmon read` against peers
# measured in the same run on the same capture (these machines are shared, so
# only the ratios mean something). Peers: tshark with its SMTP dissector, and
# tcpdump -r as the floor (reading and printing packets, no SMTP at all).
# Then the live side (tools/bench-live.sh, root only).
#
#   tools/bench.sh [SESSIONS] [BODY_KB]      (default 8000 sessions of 16 KB)
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-8000}
BODY_KB=${2:-16}
RUNS=${RUNS:-3}
dir=build/bench
mkdir -p "$dir"
pcap=$dir/bench-$SESSIONS-$BODY_KB.pcap
[ -s "$pcap" ] || python3 tools/gen-bench-pcap.py "$pcap" "$SESSIONS" "$BODY_KB" 64
size=$(stat -c %s "$pcap")

# median wall seconds and max RSS (KB) of RUNS runs of a command
measure() {
	local name=$1 ; shift
	local times=() rss=0 t r
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e %M' -o "$dir/time.out" "$@" >/dev/null 2>&1
		read -r t r <"$dir/time.out"
		times+=("$t")
		(( r > rss )) && rss=$r
	done
	t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
	printf '%-28s %8.3f s %10.1f MB/s %8d KB max RSS\n' "$name" "$t" \
		"$(echo "$size / $t / 1000000" | bc -l)" "$rss"
	eval "T_${name//[^a-z]/_}=$t"
}

echo "capture: $pcap ($size bytes, $SESSIONS sessions, ${BODY_KB} KB bodies), median of $RUNS runs"
measure smtpmon build/smtpmon read -q "$pcap"
measure smtpmon_data build/smtpmon read -q --data "$pcap"
measure tshark tshark -r "$pcap" -Y smtp -T fields -e tcp.stream -e smtp.req.command -e smtp.response.code
measure tcpdump tcpdump -nn -r "$pcap"
echo "ratios (peer time / smtpmon time; above 1 means smtpmon is faster):"
printf '  tshark  / smtpmon  %6.1fx\n' "$(echo "$T_tshark / $T_smtpmon" | bc -l)"
printf '  tcpdump / smtpmon  %6.1fx\n' "$(echo "$T_tcpdump / $T_smtpmon" | bc -l)"
echo
tools/bench-live.sh
