#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_loss.sh - acceptance 3: ring-buffer overflow is counted and reaches the parser as gaps.
#
# smtpmon runs with a deliberately tiny ring (--ring-size 4096) on the server's veth while a
# client sends a ~3 MB message whose body is full of lines that look like SMTP commands
# (MAIL FROM:<evil...>, RCPT TO:, QUIT). The kernel must count ring drops; the client
# direction of that session must get content_gap events; no smtp_request may be invented from
# body bytes; smtpmon must exit 0; and a plain session after the flood must parse completely.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smbx$$"

python3 - "$d/flood.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("Subject: flood\r\n\r\n")
    i = 0
    while f.tell() < 3_000_000:
        f.write(f"MAIL FROM:<evil{i}@flood.example>\r\nRCPT TO:<evil{i}@flood.example>\r\n"
                f"QUIT\r\n")
        i += 1
PY

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --ring-size 4096 ||
	{ live_fail "smtpmon starts with a 4 KB ring"; live_done; }
lab_swaks --to "$LAB_RCPT" --data "$d/flood.eml" --suppress-data >"$d/flood.log" 2>&1 ||
	live_fail "flood client: $(tail -3 "$d/flood.log")"
lab_wait_idle
lab_run_scenario plain >/dev/null 2>&1 || live_fail "plain session after the flood"
lab_wait_idle
sleep 0.3
live_stop TERM
grep '^smtpmon: \(kernel\|user\)' "$d/err"
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
drops=$(live_counter "$d/err" ring_drops)
drop_bytes=$(live_counter "$d/err" ring_drop_bytes)
live_check "ring drops counted ($drops records, $drop_bytes bytes)" test "${drops:-0}" -gt 0 -a "${drop_bytes:-0}" -gt 0

# The flood session is the one with the large orig_bytes; the plain one follows it.
flood_port=$(jq -r 'select(.event == "smtp_connection" and .orig_bytes > 1000000) | ."id.orig_p"' "$d/out.json")
plain_port=$(jq -r 'select(.event == "smtp_connection" and .orig_bytes < 100000) | ."id.orig_p"' "$d/out.json")
live_check "both sessions reported (flood port '$flood_port', plain port '$plain_port')" \
	test -n "$flood_port" -a -n "$plain_port" -a "$(echo "$flood_port" | wc -w)" -eq 1
gap_bytes=$(jq -s "[.[] | select(.event == \"content_gap\" and .is_orig and .\"id.orig_p\" == ${flood_port:-0}) | .length] | add // 0" "$d/out.json")
live_check "the flood's client direction has content_gap events ($gap_bytes bytes)" \
	test "$gap_bytes" -gt 0
# A dropped record whose direction never gets another record (its FIN dropped too) cannot
# report its loss; more gap bytes than dropped bytes would mean invented gaps.
live_check "gap bytes ($gap_bytes) <= ring drop bytes ($drop_bytes)" test "$gap_bytes" -le "${drop_bytes:-0}"
no_evil_request() {
	! live_has "$d/out.json" '.event == "smtp_request" and ((.arg // "") | test("evil"))'
}
live_check "no smtp_request invented from body bytes" no_evil_request
count_cmd() {
	jq -s "[.[] | select(.event == \"smtp_request\" and .\"id.orig_p\" == $1 and .command == \"$2\")] | length" "$d/out.json"
}
live_check "flood session: one MAIL, one RCPT, at most one QUIT" \
	test "$(count_cmd "${flood_port:-0}" MAIL)" -eq 1 -a "$(count_cmd "${flood_port:-0}" RCPT)" -eq 1 \
	-a "$(count_cmd "${flood_port:-0}" QUIT)" -le 1
plain_events() { jq -c "select(.\"id.orig_p\" == ${plain_port:-0})" "$d/out.json"; }
plain_cmds=$(plain_events | jq -r 'select(.event == "smtp_request") | .command' | tr '\n' ' ')
live_check "plain session after the flood: all commands ($plain_cmds)" \
	test "$plain_cmds" = "EHLO MAIL RCPT DATA . QUIT "
plain_accepted() {
	plain_events | jq -e -s 'any(.[]; .event == "smtp_reply" and .cmd == "." and .code == 250)' >/dev/null
}
live_check "plain session after the flood: message accepted" plain_accepted
plain_clean() { ! plain_events | grep -q '"content_gap"\|"smtp_unexpected"'; }
live_check "plain session after the flood: no gap, nothing unexpected" plain_clean
live_done
