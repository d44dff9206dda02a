#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Acceptance 5: segmentation invariance. Every corpus pcap
# (tests/data/**/*.pcap, *.pcapng), and every pcap the lab tests
# recorded (build/lab-pcaps/*.pcap, if present), is fed through build/tools/reseg
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
# smtp_connection orig_segs/resp_segs count segments and are not compared.
# For reorder and chaos, ts (and the duration) are not compared either: an
# event carries the time of the segment whose piece completed its bytes, and
# reordering pieces of consecutive segments legitimately changes which
# segment that is (see tests/corpus/event_diff.py). Everything else must be
# identical. What reseg never moves, and why, is in tests/tools/reseg.c.
#
# usage: tests/corpus/test_reseg.sh [SEEDS]   (run from the repo root; default 2)
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/../.."
if [ "${1:-}" != --one ]; then SEEDS=${1:-${SEEDS:-2}}; fi
SEEDS=${SEEDS:-2}
RESEG=build/tools/reseg
SMTPMON=build/smtpmon
DIFF=tests/corpus/event_diff.py

[ "${1:-}" = --one ] || make --no-print-directory -s "$SMTPMON" "$RESEG"

# One pcap: prints what failed, exits 1 if anything did.
check_one() {
	local name=$1 f tmp fail=0
	tmp=$(mktemp -d /tmp/smtpmon-reseg.XXXXXX)
	# A snapshot, so every run reads the same bytes even if the lab tests
	# record the file again meanwhile.
	f=$tmp/input.${name##*.}
	cp "$name" "$f"
	"$SMTPMON" read -q --events all --data --keep-credentials "$f" >"$tmp/read" 2>/dev/null || true
	"$RESEG" --mode asis "$f" >"$tmp/asis" 2>/dev/null || true
	if ! cmp -s "$tmp/read" "$tmp/asis"; then
		echo "FAIL $name: reseg --mode asis differs from smtpmon read"
		python3 "$DIFF" "$tmp/read" "$tmp/asis" || true
		rm -rf "$tmp"
		return 1
	fi
	# Every cut first, then one event_diff.py for all of them.
	: >"$tmp/pairs"
	for mode in bytes1 random shuffle dup reorder chaos; do
		local ts=ts seeds
		case $mode in reorder | chaos) ts=ignore-ts ;; esac
		seeds=$(seq 1 "$SEEDS")
		[ $mode = bytes1 ] && seeds=1
		for seed in $seeds; do
			if ! "$RESEG" --mode $mode --seed "$seed" "$f" >"$tmp/cut-$mode-$seed" 2>"$tmp/err"; then
				echo "FAIL $name: reseg --mode $mode --seed $seed failed"
				cat "$tmp/err"
				fail=1
			else
				printf '%s\t%s\t%s\t%s\n' "$tmp/asis" "$tmp/cut-$mode-$seed" $ts \
					"$name: --mode $mode --seed $seed" >>"$tmp/pairs"
			fi
		done
	done
	python3 "$DIFF" --batch "$tmp/pairs" || fail=1
	rm -rf "$tmp"
	return $fail
}

if [ "${1:-}" = --one ]; then
	check_one "$2"
	exit
fi

# The modes must actually move bytes around, or equal output proves nothing:
# on smtp.pcap (a DATA flight), reorder must form multi-segment windows and
# reorder, shuffle and dup must send pieces out of order.
ref=tests/data/zeek/traces/smtp.pcap
for mode in shuffle reorder dup chaos; do
	stats=$("$RESEG" --mode $mode "$ref" 2>&1 >/dev/null | grep '^reseg:')
	windows=$(echo "$stats" | sed -n 's/.* \([0-9]*\) multi-segment windows.*/\1/p')
	moved=$(echo "$stats" | sed -n 's/.* \([0-9]*\) pieces out of order.*/\1/p')
	if [ "${moved:-0}" -eq 0 ] || { [ $mode = reorder ] && [ "${windows:-0}" -eq 0 ]; }; then
		echo "test_reseg: --mode $mode changes nothing on $ref: $stats" >&2
		exit 1
	fi
done

pcaps=()
while IFS= read -r -d '' f; do pcaps+=("$f"); done < <(
	find tests/data \( -name '*.pcap' -o -name '*.pcapng' \) -type f -print0 | sort -z
	find build/lab-pcaps -maxdepth 1 -name '*.pcap' -type f -print0 2>/dev/null | sort -z)
[ ${#pcaps[@]} -gt 0 ] || { echo "test_reseg: no pcaps under tests/data" >&2; exit 2; }

# One job per pcap, in parallel; each job's report is printed whole.
fail=0
printf '%s\0' "${pcaps[@]}" |
	SEEDS=$SEEDS xargs -0 -n1 -P "$(nproc)" "$SELF" --one >"${TMPDIR:-/tmp}/smtpmon-reseg.$$" || fail=1
cat "${TMPDIR:-/tmp}/smtpmon-reseg.$$"
rm -f "${TMPDIR:-/tmp}/smtpmon-reseg.$$"
echo "test_reseg: ${#pcaps[@]} pcaps, 6 modes, $SEEDS seeds"
[ $fail -eq 0 ] && echo "test_reseg: PASS" || echo "test_reseg: FAIL"
exit $fail
