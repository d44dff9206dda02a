#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 12 (lab acceptance): smtpmon live on the lab's Postfix (tests/lab), one session of
# each kind: plain, refused recipient, pipelined, BDAT, a 3 MB attachment, STARTTLS (records
# from the TLS library's plaintext), a UTF-8 subject in RFC 2047 form. For every message
# Postfix logged as accepted, smtpmon's smtp_transaction must have the same queue_id,
# mailfrom, msg_id and accepted recipients, and every recipient Postfix refused must be in
# a record's rcpt_status with Postfix's code (tests/records/postfix_log_compare.py); the
# decoded subject must equal what the client sent. The comparison must first reject a
# doctored record.
#
# usage: tests/records/test_lab_postfix.sh   (root, from anywhere)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smtx$$"
subject='Grüße aus dem Labor ✓'
encoded="=?UTF-8?B?$(printf '%s' "$subject" | base64 -w0)?="

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" \
	--events smtp_transaction,smtp_connection || { live_fail "smtpmon starts"; live_done; }
for s in plain multi-rcpt pipelined bdat attachment-3mb starttls-25; do
	lab_run_scenario "$s" || live_fail "scenario $s"
done
lab_swaks --to "$LAB_RCPT,$LAB_REJECTED_RCPT" --header "Subject: $encoded" \
	>"$d/utf8.client.log" 2>&1 || live_fail "utf-8 subject client"
lab_wait_idle
sleep 0.5
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0

# The comparison must catch a wrong queue id, a lost refused recipient and a wrong sender.
for doctor in 's/"queue_id":"\([0-9A-F]\)/"queue_id":"X\1/' \
	's/"code":554/"code":550/' 's/"mailfrom":"sender@/"mailfrom":"sendr@/'; do
	sed "$doctor" "$d/out.json" >"$d/doctored.json"
	if python3 tests/records/postfix_log_compare.py "$d/doctored.json" "$LAB_MAILLOG" \
		"$subject" >/dev/null; then
		live_fail "the comparison misses a doctored record ($doctor)"
	fi
done

if python3 tests/records/postfix_log_compare.py "$d/out.json" "$LAB_MAILLOG" "$subject"; then
	live_ok "records agree with Postfix's log"
else
	live_fail "records agree with Postfix's log"
	grep -v 'reject\|message-id\|from=\|to=' "$LAB_MAILLOG" | tail -5
fi
live_done
