#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_postscreen.sh - SMTP inside TLS with Postfix's postscreen + tlsproxy on port 25
# (the lab's LAB_POSTSCREEN=1 variant), against tshark's decryption with the client's key log.
#
# A client postscreen has not seen talks to postscreen's own SMTP engine: its STARTTLS is
# served by tlsproxy, a separate process that holds the TCP socket and does the TLS, and the
# session is deferred at RCPT (450 4.3.2). The client's second connection is handed to smtpd
# (the socket passes from postscreen to smtpd) and sends a message. Both sessions must be
# reported inside TLS as tshark sees them (>= 99.5% per connection set, nothing unexplained),
# the first one with its 450 from inside TLS.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

command -v tshark >/dev/null || { echo "skip: tshark missing (tools/install-deps.sh)"; exit 77; }
LAB_POSTSCREEN=1
live_lab "smtps$$"
live_check "postscreen answers on 25 (master.cf)" grep -q '^smtp .* postscreen$' \
	"$d/postfix/etc/master.cf"

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --control none ||
	{ live_fail "smtpmon starts"; live_done; }
live_tcpdump_start "$d/tls-postscreen.pcap" "tcp and host $LAB_SRV4" ||
	live_fail "tcpdump starts"
lab_run_scenario tls-postscreen
live_check "tls-postscreen: deferred by postscreen, then a message through smtpd" test $? -eq 0
lab_wait_idle || live_fail "sessions still open after 10 s"
sleep 0.2
live_tcpdump_stop
live_check "tlsproxy served the first session's TLS" grep -q 'postfix/tlsproxy.*CONNECT from' \
	"$LAB_MAILLOG"
sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: \(tls\|user tls\)' "$d/err"
# Only this lab's connections: the probes also see other labs on this host.
live_own_events "$d/out.json" "$d/own.json" "$d/tls-postscreen.pcap"

python3 tests/oracle/tshark_compare.py --smtpmon "$SMTPMON" --keylog "$d/keylog" \
	--events "$d/own.json" --redacted --min-tls-agreement 99.5 "$d/tls-postscreen.pcap" \
	>"$d/oracle.out" 2>&1
rc=$?
sed 's|[^ ]*/\(tls-[a-z0-9-]*\.pcap\)|\1|' "$d/oracle.out"
live_check "oracle: both sessions inside TLS >= 99.5%, nothing unexplained" test $rc -eq 0
live_check "oracle: two connections" grep -q '^ok   .*: 2 conns' "$d/oracle.out"

first=$(jq -r 'select(.event == "smtp_reply") | .uid' "$d/own.json" | head -1) # its greeting
live_check "postscreen's session: its commands inside TLS ($(jq -r --arg u "$first" \
	'select(.uid == $u and .tls == true and .event == "smtp_request") | .command' \
	"$d/own.json" | tr '\n' ' '))" test "$(jq -r --arg u "$first" 'select(.uid == $u and
	.tls == true and .event == "smtp_request") | .command' "$d/own.json" | tr '\n' ' ')" \
	= "EHLO MAIL RCPT QUIT "
live_check "postscreen's session: the 450 to RCPT from inside TLS" live_has "$d/own.json" \
	".uid == \"$first\" and .event == \"smtp_reply\" and .code == 450 and .tls == true"
live_check "smtpd's session: the message queued, inside TLS" live_has "$d/own.json" \
	".uid != \"$first\" and .event == \"smtp_reply\" and .tls == true and
	 (.msg | test(\"queued as\"))"
live_check "no smtp_unexpected, weird or content_gap event" test "$(jq -c 'select(.event ==
	"smtp_unexpected" or .event == "weird" or .event == "content_gap")' "$d/own.json" |
	wc -l)" -eq 0
live_done
