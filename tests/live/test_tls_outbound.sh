#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_outbound.sh - the host as the client inside TLS (docs/tls-plaintext.md): Postfix's own
# outbound delivery over STARTTLS to a second lab server.
#
# The lab's Postfix relays mail for relay.example (LAB_RELAY=1) with its smtp client, STARTTLS
# required, to a second server in the client namespace (tools/smtp-sink.py, which writes its TLS
# key log). That server loads a private copy of libssl.so.3 that smtpmon does not probe (started
# after smtpmon from a directory of its own), so everything inside TLS comes from Postfix's
# smtp client alone: the library of the end that is not on the monitored port. smtpmon runs on
# the Postfix side's interface; tcpdump records it. Then:
#   - one connection from Postfix to the second server, orig = Postfix (the host as client),
#     with STARTTLS and, inside TLS, EHLO MAIL RCPT DATA . QUIT from the originator and the
#     server's replies from the responder;
#   - tests/oracle/tshark_compare.py with the second server's key log: the lines inside TLS
#     agree with tshark's decryption for >= 99.5% (and the plain inbound submission too);
#   - no smtp_unexpected, weird or content_gap.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

command -v tshark >/dev/null || { echo "skip: tshark missing (tools/install-deps.sh)"; exit 77; }
LAB_RELAY=1
live_lab "smto$$"

live_private_libssl "$d/privlib" || { live_fail "a private copy of libssl.so.3"; live_done; }

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" ||
	{ live_fail "smtpmon starts"; live_done; }
lab_relay_server LD_LIBRARY_PATH="$d/privlib" || { live_fail "the second server starts"; live_done; }
relay_pid=$(lab_cli ss -Hltnp 'sport = :25' | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
live_check "the second server runs on the private libssl copy" \
	grep -q "$d/privlib/libssl.so.3" "/proc/$relay_pid/maps"

live_tcpdump_start "$d/outbound.pcap" "tcp port 25" || live_fail "tcpdump starts"
lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RELAY_RCPT" >"$d/submit.log" 2>&1 <<'PY'
import smtplib, sys
srv, frm, rcpt = sys.argv[1:4]
s = smtplib.SMTP(srv, 25, local_hostname="submit.client.example", timeout=20)
s.sendmail(frm, [rcpt], "Subject: relayed over STARTTLS\r\n\r\noutbound body\r\n")
s.quit()
print("submitted")
PY
live_check "the mail was submitted ($(tail -1 "$d/submit.log"))" grep -q '^submitted' "$d/submit.log"
for _ in $(seq 150); do
	grep -q "to=<$LAB_RELAY_RCPT>.*status=sent" "$LAB_MAILLOG" 2>/dev/null && break
	sleep 0.1
done
live_check "Postfix relayed it to the second server ($(grep -o "to=<$LAB_RELAY_RCPT>.*status=[a-z]*" \
	"$LAB_MAILLOG" | tail -1))" grep -q "to=<$LAB_RELAY_RCPT>.*status=sent" "$LAB_MAILLOG"
live_check "... over TLS" grep -q "TLS connection established to .*$LAB_CLI4" "$LAB_MAILLOG"
for _ in $(seq 100); do
	lab_srv ss -Htn state established 'dport = :25' | grep -q . || break
	sleep 0.1
done
lab_wait_idle

sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_tcpdump_stop
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: \(tls\|user tls\)' "$d/err"
live_own_events "$d/out.json" "$d/own.json" "$d/outbound.pcap"

uid=$(jq -r --arg s "$LAB_SRV4" --arg c "$LAB_CLI4" 'select(.event == "smtp_connection" and
	."id.orig_h" == $s and ."id.resp_h" == $c and ."id.resp_p" == 25) | .uid' "$d/own.json")
live_check "one outbound connection, Postfix as the originator ($uid)" test "$(wc -w <<<"$uid")" -eq 1
live_check "outbound: STARTTLS on the wire" live_has "$d/own.json" \
	".uid == \"$uid\" and .event == \"smtp_starttls\""
cmds=$(jq -r --arg u "$uid" 'select(.uid == $u and .tls == true and .event == "smtp_request")
	| .command' "$d/own.json" | tr '\n' ' ')
live_check "outbound: Postfix's commands inside TLS ($cmds)" test "$cmds" = "EHLO MAIL RCPT DATA . QUIT "
live_check "outbound: RCPT inside TLS names the relayed recipient" live_has "$d/own.json" \
	".uid == \"$uid\" and .tls == true and .command == \"RCPT\" and
	 (.arg | contains(\"$LAB_RELAY_RCPT\"))"
live_check "outbound: the second server's 250 to the message's end inside TLS" live_has \
	"$d/own.json" ".uid == \"$uid\" and .event == \"smtp_reply\" and .cmd == \".\" and
	 .code == 250 and .tls == true"
live_check "outbound: the second server's EHLO reply inside TLS (sink.bench.example)" live_has \
	"$d/own.json" ".uid == \"$uid\" and .event == \"smtp_reply\" and .tls == true and
	 .cmd == \"EHLO\" and (.msg | contains(\"sink.bench.example\"))"
stray=$(jq -c 'select(.event == "smtp_unexpected" or .event == "weird" or
	.event == "content_gap")' "$d/own.json")
live_check "no smtp_unexpected, weird or content_gap" test -z "$stray"
[[ -n $stray ]] && head -5 <<<"$stray"

echo "== the oracle: tshark with the second server's key log"
python3 tests/oracle/tshark_compare.py --smtpmon "$SMTPMON" --keylog "$d/relay-keylog" \
	--events "$d/own.json" --min-tls-agreement 99.5 "$d/outbound.pcap" >"$d/oracle.out" 2>&1
rc=$?
sed 's|[^ ]*/\(outbound\.pcap\)|\1|' "$d/oracle.out"
live_check "oracle: inside TLS >= 99.5%, nothing unexplained" test $rc -eq 0
live_done
