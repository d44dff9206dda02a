#!/bin/bash
# The decoder against tshark, an independent dissector: for every corpus
# pcap, the TCP segments with payload on ports 25/587 must be the same frames,
# with the same ports and payload lengths, in both. tshark's tcp.len is the
# length the IP header claims; where snaplen cut the frame, the decoder keeps
# only what was captured, so the expected length is tcp.len minus the bytes
# the capture lost (frame.len - frame.cap_len), and frames left with nothing
# are not expected at all.
# Run from the repo root: tests/cli/test_decode_vs_tshark.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
corpus=../shared/corpus
segdump=build/tests/segdump

make -s "$segdump"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pcaps=0 failed=0 total_segs=0 total_bytes=0
while IFS= read -r -d '' pcap; do
	pcaps=$((pcaps + 1))
	# A damaged last record makes tshark exit non-zero after printing what
	# it read; both tools see the same readable prefix.
	tshark -r "$pcap" -Y 'tcp.len>0 && tcp.port in {25,587}' -T fields \
		-e frame.number -e tcp.srcport -e tcp.dstport -e tcp.len \
		-e frame.len -e frame.cap_len 2>/dev/null |
		awk -F'\t' '{ n = $4 - ($5 - $6); if (n > 0) print $1, $2, $3, n }' \
			>"$tmp/want" || true
	"$segdump" "$pcap" 2>/dev/null |
		awk '$2 == 0 && $5 > 0 && ($3 == 25 || $3 == 587 || $4 == 25 || $4 == 587) \
			{ print $1, $3, $4, $5 }' >"$tmp/got" || true
	if ! [ -s "$tmp/want" ]; then
		echo "note: tshark sees no SMTP payload in $pcap"
	fi
	if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
		echo "FAIL: $pcap (frame sport dport len: - tshark, + decoder)"
		head -20 "$tmp/diff"
		failed=$((failed + 1))
	fi
	total_segs=$((total_segs + $(wc -l <"$tmp/want")))
	total_bytes=$((total_bytes + $(awk '{ s += $4 } END { print s + 0 }' "$tmp/want")))
done < <(find "$corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)

echo "decode vs tshark: $pcaps pcaps, $total_segs segments, $total_bytes payload bytes, $failed mismatching pcaps"
[ "$pcaps" -gt 0 ] && [ "$total_segs" -gt 0 ] && [ "$failed" -eq 0 ]
