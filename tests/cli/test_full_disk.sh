#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_full_disk.sh - a JSON or text output on a full file system (a 64 KiB tmpfs in a private
# mount namespace) keeps whole lines only, and its losses are counted exactly (out_common.h):
#   - every line of the file is whole (valid JSON for json, each one of the run's events, in
#     order), and the file ends with a newline;
#   - the lines in the file plus the events the final counters say were not written equal
#     the events of the same run to stdout;
#   - smtpmon exits 0 and says once why it lost events.
# Before this, the file ended in the middle of a line and nothing counted the loss.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

python3 tests/tools/gen-sessions-pcap.py many 300 "$tmp/many.pcap" || { fail "pcap generator"; cli_done test_full_disk; }
"$smtpmon" read -q --format json "$tmp/many.pcap" >"$tmp/all.json" || fail "read to stdout"
total=$(wc -l <"$tmp/all.json")
[ "$total" -gt 1000 ] || fail "the capture gives $total events, want plenty"

mkdir -p "$tmp/mnt"
for fmt in json text; do
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount -t tmpfs -o size=64k none "$1" && shift &&
		"$@"; rc=$?; cp "$0/out" "$0/../out.copy" 2>/dev/null; exit $rc' \
		"$tmp/mnt" "$tmp/mnt" "$smtpmon" read -q --output "$fmt:$tmp/mnt/out" "$tmp/many.pcap" \
		2>"$tmp/$fmt.err"
	rc=$?
	[ $rc -eq 0 ] || fail "$fmt: smtpmon exits $rc on a full disk"
	mv "$tmp/out.copy" "$tmp/$fmt.out" 2>/dev/null || { fail "$fmt: no output file"; continue; }
	lines=$(wc -l <"$tmp/$fmt.out")
	lost=$(sed -n "s/^smtpmon: $fmt output: \([0-9]*\) events ([0-9]* bytes) not written.*/\1/p" \
		"$tmp/$fmt.err")
	[ -n "$lost" ] || { fail "$fmt: no final count of the events not written: $(cat "$tmp/$fmt.err")"; continue; }
	ok "$fmt: $lines lines in a 64 KiB file system, $lost events counted as not written, of $total"
	[ "$lines" -gt 0 ] && [ "$lost" -gt 0 ] || fail "$fmt: the disk should have filled"
	[ $((lines + lost)) -eq "$total" ] || fail "$fmt: $lines written + $lost lost != $total"
	[ -z "$(tail -c 1 "$tmp/$fmt.out")" ] || fail "$fmt: the file ends inside a line"
	grep -q "No space left on device" "$tmp/$fmt.err" || fail "$fmt: the reason is not said"
	[ "$(grep -c 'No space left' "$tmp/$fmt.err")" -eq 1 ] || fail "$fmt: the reason said more than once"
	if [ "$fmt" = json ]; then
		python3 -c 'import json, sys
for n, l in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(l)' "$tmp/$fmt.out" || fail "json: a line that is not JSON"
		python3 -c 'import sys
want = iter(open(sys.argv[1], "rb"))
sys.exit(0 if all(l in want for l in open(sys.argv[2], "rb")) else 1)' "$tmp/all.json" "$tmp/$fmt.out" ||
			fail "json: the lines written are not events of the run, in order"
	fi
done
cli_done test_full_disk
