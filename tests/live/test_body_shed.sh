#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_body_shed.sh - --bodies=copy with a reader that cannot keep up (docs/body-skip.md,
# "Shedding bodies").
#
# smtpmon runs with a 1 MB ring and is stopped (SIGSTOP) while the lab's Postfix takes a 3 MB
# attachment, then a plain and a pipelined mail; then it is continued. The ring fills with the
# attachment's body: from three quarters full the kernel skips the rest of that body instead
# of copying it, so nothing is dropped and every command and reply after it reaches smtpmon.
# Oracle: `smtpmon read` of tcpdump's capture of the same run (all bytes), for the requests
# and replies; the attachment's file is reported as not seen live, as seen from the capture.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smsh$$"

# smtp_request/smtp_reply without what differs between a live run and a read of its capture.
dialogue() {
	jq -c 'select(.event == "smtp_request" or .event == "smtp_reply") | del(.ts, .uid)' "$1"
}

live_tcpdump_start "$d/wire.pcap" "tcp port 25" || live_fail "tcpdump starts"
live_start "$LAB_SRV_NS" "$d/live.json" "$d/live.err" 2 -i "$LAB_SRV_IF" --ring-size 1M ||
	{
		live_fail "smtpmon starts"
		live_done
	}
kill -STOP "$LIVE_PID"
for s in attachment-3mb plain pipelined; do
	lab_run_scenario "$s" || live_fail "scenario $s"
done
lab_wait_idle
kill -CONT "$LIVE_PID"
sleep 1
live_stop TERM
live_tcpdump_stop
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: kernel' "$d/live.err"

shed=$(live_counter "$d/live.err" shed_bodies)
live_check "the kernel shed a body (shed_bodies ${shed:-none})" test "${shed:-0}" -ge 1
live_check "no ring drop" test "$(live_counter "$d/live.err" ring_drops)" = 0
skipped=$(live_counter "$d/live.err" skipped_bytes)
live_check "most of the 3 MB body skipped (${skipped:-none} bytes)" test "${skipped:-0}" -gt 1500000

"$SMTPMON" read -q "$d/wire.pcap" >"$d/read.json" 2>"$d/read.err" ||
	live_fail "smtpmon read of the capture: $(tail -3 "$d/read.err")"
dialogue "$d/live.json" >"$d/live.dialogue"
dialogue "$d/read.json" >"$d/read.dialogue"
live_check "the capture holds the three mails" \
	test "$(grep -c '"command":"\."' "$d/read.dialogue")" -eq 3
live_check "every request and reply as in the capture ($(wc -l <"$d/read.dialogue") events)" \
	diff "$d/read.dialogue" "$d/live.dialogue"
live_check "no content_gap" \
	test "$(jq -s '[.[] | select(.event == "content_gap")] | length' "$d/live.json")" -eq 0

# The attachment (application/octet-stream by its content) is not seen live; read sees it.
attachment='select(.event == "file" and .declared_type == "application/octet-stream")'
live_check "live: the shed attachment's file is marked not seen" \
	test "$(jq -c "$attachment | .content_seen" "$d/live.json")" = false
live_check "read: the attachment's file seen whole" \
	test "$(jq -c "$attachment | .seen_bytes" "$d/read.json")" = 2300000
live_check "live: the later mails' files seen" \
	test "$(jq -s '[.[] | select(.event == "file" and .content_seen != false)] | length' \
		"$d/live.json")" -ge 2
live_done
