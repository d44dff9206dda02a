#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `smtpmon read FILE | head -1` (issue 14, case 8): the reader of stdout goes away after one
# line. SIGPIPE must not kill smtpmon (exit 141, no statistics): the EPIPE stops the read at
# once, the statistics line still comes, the exit status is 3 (user/settings/exit_status.h). A FIFO
# given as an output file whose reader goes away is an ordinary write error: reported once,
# the read goes on to the end, exit status 0.
# Run from the repo root: tests/cli/test_stdout_closed.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

. tests/cli/lib.sh

# 3000 sessions, 19 packets each: about 10 MB of JSON, far more than a pipe holds.
tests/tools/gen-sessions-pcap.py many 3000 "$tmp/many.pcap" || { echo "FAIL: generator"; exit 1; }
frames=57000

for format in json text; do
	"$smtpmon" read --format "$format" "$tmp/many.pcap" 2>"$tmp/err" | head -1 >"$tmp/first"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 3 ]; then
		ok "$format | head -1: exit status 3"
	else
		fail "$format | head -1: exit status $rc, want 3; stderr: $(cat "$tmp/err")"
	fi
	[ "$(wc -l <"$tmp/first")" -eq 1 ] || fail "$format: head got no line"
	if [ "$format" = json ]; then
		jq -e '.event == "smtp_reply" and .code == 220' "$tmp/first" >/dev/null ||
			fail "json: the first line is not the first session's greeting: $(cat "$tmp/first")"
	fi
	if grep -qx 'smtpmon: stdout closed by its reader: stopped' "$tmp/err"; then
		ok "$format: says why it stopped"
	else
		fail "$format: no 'stdout closed' line in: $(cat "$tmp/err")"
	fi
	grep -q 'writing events' "$tmp/err" && fail "$format: a closed stdout reported as a write error"
	read_frames=$(sed -n 's/^smtpmon: frames \([0-9]*\), .*/\1/p' "$tmp/err")
	if [ -z "$read_frames" ]; then
		fail "$format: no statistics line on stderr: $(cat "$tmp/err")"
	elif [ "$read_frames" -ge "$frames" ]; then
		fail "$format: read all $read_frames frames after stdout was gone"
	else
		ok "$format: statistics line, read stopped after $read_frames of $frames frames"
	fi
	[ "$(wc -l <"$tmp/err")" -eq 2 ] || fail "$format: stderr has other lines: $(cat "$tmp/err")"
done

# A FIFO output file whose reader leaves: not stdout. One error line, the read goes on.
mkfifo "$tmp/fifo"
head -c 100 "$tmp/fifo" >/dev/null &
reader=$!
"$smtpmon" read --output "json:$tmp/fifo" --output "text:$tmp/out.txt" "$tmp/many.pcap" \
	>"$tmp/stdout" 2>"$tmp/err"
rc=$?
wait "$reader"
if [ "$rc" -eq 0 ]; then
	ok "FIFO output closed: exit status 0"
else
	fail "FIFO output closed: exit status $rc, want 0; stderr: $(cat "$tmp/err")"
fi
if grep -qx 'smtpmon: writing events: Broken pipe' "$tmp/err"; then
	ok "FIFO output closed: one write error line"
else
	fail "FIFO: stderr is: $(cat "$tmp/err")"
fi
grep -q 'stdout closed' "$tmp/err" && fail "FIFO: taken for a closed stdout"
if grep -q "^smtpmon: frames $frames, " "$tmp/err"; then
	ok "FIFO output closed: read to the end"
else
	fail "FIFO: not read to the end: $(cat "$tmp/err")"
fi
n=$(grep -c ' smtp_connection ' "$tmp/out.txt")
if [ "$n" -eq 3000 ]; then
	ok "FIFO output closed: the other output has all 3000 sessions"
else
	fail "FIFO: the text output has $n sessions, want 3000"
fi

cli_done test_stdout_closed
