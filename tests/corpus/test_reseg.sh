#!/bin/bash
# Acceptance 5: segmentation invariance. Every corpus pcap
# (../shared/corpus/**/*.pcap, *.pcapng) is fed through build/tools/reseg
# (tests/tools/reseg.c: smtpmon's own pcap source with each segment re-cut
# before the pipeline sees it) in every mode, and the event stream (all
# events, --data, --keep-credentials) must equal the stream of the unchanged
# segments:
#   asis      must also equal `smtpmon read` byte for byte (the driver itself
#             changes nothing)
#   bytes1    1-byte segments
#   random    random sizes            } SEEDS seeds each
#   shuffle   pieces of one segment in random order
#   dup       exact and overlapping retransmissions of pieces
#   reorder   pieces shuffled across consecutive same-direction segments
#   chaos     reorder + dup
# smtp_connection orig_pkts/resp_pkts count segments and are not compared.
# For reorder and chaos, ts (and the duration) are not compared either: an
# event carries the time of the segment whose piece completed its bytes, and
# reordering pieces of consecutive segments legitimately changes which
# segment that is (see tests/corpus/event_diff.py). Everything else must be
# identical. What reseg never moves, and why, is in tests/tools/reseg.c.
#
# usage: tests/corpus/test_reseg.sh [SEEDS]   (run from the repo root; default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS=${1:-3}
RESEG=build/tools/reseg
SMTPMON=build/smtpmon
DIFF=tests/corpus/event_diff.py

make --no-print-directory -s "$SMTPMON" "$RESEG"

tmp=$(mktemp -d /tmp/smtpmon-reseg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

pcaps=()
while IFS= read -r -d '' f; do pcaps+=("$f"); done < <(
	find ../shared/corpus \( -name '*.pcap' -o -name '*.pcapng' \) -type f -print0 | sort -z)
[ ${#pcaps[@]} -gt 0 ] || { echo "test_reseg: no pcaps under ../shared/corpus" >&2; exit 2; }

fail=0 runs=0
for f in "${pcaps[@]}"; do
	"$SMTPMON" read -q --events all --data --keep-credentials "$f" >"$tmp/read" 2>/dev/null || true
	"$RESEG" --mode asis "$f" >"$tmp/asis" 2>/dev/null || true
	runs=$((runs + 1))
	if ! cmp -s "$tmp/read" "$tmp/asis"; then
		echo "FAIL $f: reseg --mode asis differs from smtpmon read"
		python3 "$DIFF" "$tmp/read" "$tmp/asis" || true
		fail=1
		continue
	fi
	for mode in bytes1 random shuffle dup reorder chaos; do
		opts=()
		case $mode in reorder | chaos) opts=(--ignore-ts) ;; esac
		seeds=$(seq 1 "$SEEDS")
		[ $mode = bytes1 ] && seeds=1
		for seed in $seeds; do
			runs=$((runs + 1))
			"$RESEG" --mode $mode --seed "$seed" "$f" >"$tmp/cut" 2>"$tmp/err" || {
				echo "FAIL $f: reseg --mode $mode --seed $seed exited $?"
				cat "$tmp/err"
				fail=1
				continue
			}
			if ! out=$(python3 "$DIFF" "${opts[@]}" "$tmp/asis" "$tmp/cut"); then
				echo "FAIL $f: --mode $mode --seed $seed"
				echo "$out"
				fail=1
			fi
		done
	done
done
echo "test_reseg: ${#pcaps[@]} pcaps, $runs runs"
[ $fail -eq 0 ] && echo "test_reseg: PASS" || echo "test_reseg: FAIL"
exit $fail
