#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_sessions.sh - TLS plaintext (docs/tls-plaintext.md) with real processes, beyond the
# lab's own clients (test_tls_plaintext.sh has the tshark oracle):
#   - GnuTLS: msmtp (linked with libgnutls.so.30) submits over STARTTLS on 587 to Postfix
#     (OpenSSL). The client writes the first plaintext (EHLO), so its library feeds the
#     session and Postfix's copy is left out: every line inside TLS once, tls:true, and the
#     counters show GnuTLS calls and the other end's copy.
#   - A session opened before smtpmon started: a Python client does STARTTLS and EHLO, waits
#     while smtpmon starts, then MAIL, RCPT, DATA, QUIT. Its later lines are reported inside
#     TLS on the same connection (the wire shows it only as encrypted: a partial session),
#     never on another one.
#   - --tls off: nothing inside TLS, and no probe is attached.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

command -v msmtp >/dev/null || { echo "skip: msmtp missing (tools/install-deps.sh test)"; exit 77; }
live_lab "smts$$"

tls_lines() { # FILE UID: the commands inside TLS of that connection, space-separated
	jq -r --arg uid "$2" 'select(.uid == $uid and .tls == true and .event == "smtp_request")
		| .command' "$1" | tr '\n' ' '
}

# The session opened before smtpmon: it pauses after EHLO inside TLS until $d/go exists.
lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" "$d" >"$d/early.log" 2>&1 <<'PY' &
import os, smtplib, ssl, sys, time
srv, frm, rcpt, d = sys.argv[1:5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(srv, 25, local_hostname="early.lab.example", timeout=60)
s.starttls(context=ctx)
s.ehlo("early.lab.example")
open(os.path.join(d, "early.ready"), "w").close()
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.1)
s.sendmail(frm, [rcpt], "Subject: opened before smtpmon\r\n\r\nlate lines\r\n")
s.quit()
PY
early=$!
for _ in $(seq 100); do [[ -e $d/early.ready ]] && break; sleep 0.1; done
live_check "the early session is open inside TLS before smtpmon starts" test -e "$d/early.ready"

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" ||
	{ live_fail "smtpmon starts"; live_done; }
live_check "the TLS library probes are set up" grep -q '^smtpmon: TLS plaintext from ' "$d/err"
touch "$d/go"
wait "$early"
live_check "early session: the client finished ($(tail -1 "$d/early.log"))" test $? -eq 0

cat >"$d/msmtprc" <<EOF
account lab
host $LAB_SRV4
port 587
from $LAB_FROM
tls on
tls_starttls on
tls_certcheck off
auth plain
user $LAB_USER
password $LAB_PASS
EOF
chmod 600 "$d/msmtprc"
printf 'Subject: over GnuTLS\r\n\r\nbody line\r\n' |
	lab_cli msmtp -C "$d/msmtprc" -a lab "$LAB_RCPT" >"$d/msmtp.log" 2>&1
live_check "msmtp (GnuTLS) submits over STARTTLS on 587 ($(tail -1 "$d/msmtp.log"))" test $? -eq 0
lab_wait_idle
sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: \(tls\|user tls\)' "$d/err"

msmtp_uid=$(jq -r 'select(.event == "smtp_connection" and ."id.resp_p" == 587) | .uid' "$d/out.json")
live_check "msmtp: one connection on 587 ($msmtp_uid)" test "$(wc -w <<<"$msmtp_uid")" -eq 1
live_check "msmtp: every command inside TLS once ($(tls_lines "$d/out.json" "$msmtp_uid"))" \
	test "$(tls_lines "$d/out.json" "$msmtp_uid")" = "EHLO AUTH MAIL RCPT DATA . QUIT "
live_check "msmtp: AUTH inside TLS is redacted" live_has "$d/out.json" \
	".uid == \"$msmtp_uid\" and .command == \"AUTH\" and .tls == true
	 and (.arg | test(\"redacted\")) and (.arg | contains(\"$LAB_PASS\") | not)"
live_check "msmtp: the 250 to the message's end inside TLS" live_has "$d/out.json" \
	".uid == \"$msmtp_uid\" and .event == \"smtp_reply\" and .cmd == \".\" and .code == 250
	 and .tls == true"
live_check "msmtp: no gap" bash -c "! jq -e 'select(.uid == \"$msmtp_uid\" and
	.event == \"content_gap\")' '$d/out.json' | grep -q ."
live_check "GnuTLS calls were counted" \
	grep -Eq '^smtpmon: tls gnutls: calls [1-9]' "$d/err"
live_check "the server's copy (OpenSSL) was left out, counted" \
	grep -Eq '^smtpmon: user tls: .* other_end [1-9]' "$d/err"

early_uid=$(jq -r 'select(.event == "smtp_connection" and ."id.resp_p" == 25) | .uid' "$d/out.json")
live_check "early session: one connection ($early_uid)" test "$(wc -w <<<"$early_uid")" -eq 1
live_check "early session: a partial connection, seen encrypted" live_has "$d/out.json" \
	".uid == \"$early_uid\" and .event == \"smtp_connection\" and .partial and .tls"
live_check "early session: the 250 to its message's end, inside TLS" live_has "$d/out.json" \
	".uid == \"$early_uid\" and .event == \"smtp_reply\" and .code == 250 and .tls == true
	 and (.msg | test(\"queued as\"))"
live_check "early session: QUIT inside TLS" live_has "$d/out.json" \
	".uid == \"$early_uid\" and .command == \"QUIT\" and .tls == true"
live_check "no line inside TLS on any other connection" test "$(jq -r \
	--arg a "$early_uid" --arg b "$msmtp_uid" \
	'select(.tls == true and .event != "smtp_connection" and .uid != $a and .uid != $b)' \
	"$d/out.json" | wc -l)" -eq 0

# --tls off: the wire only.
live_start "$LAB_SRV_NS" "$d/off.json" "$d/off.err" 2 -i "$LAB_SRV_IF" --tls off ||
	live_fail "smtpmon --tls off starts"
printf 'Subject: tls off\r\n\r\nbody\r\n' |
	lab_cli msmtp -C "$d/msmtprc" -a lab "$LAB_RCPT" >"$d/msmtp2.log" 2>&1 ||
	live_fail "msmtp again: $(tail -1 "$d/msmtp2.log")"
lab_wait_idle
sleep 0.3
live_stop TERM
live_check "--tls off: no probe set up" bash -c "! grep -q 'TLS plaintext' '$d/off.err'"
# (smtp_connection and smtp_transaction carry tls: true for a session that was encrypted, as
# Zeek's smtp.log does; only the line events say what was read inside TLS.)
live_check "--tls off: no line inside TLS" bash -c "! jq -e 'select(.tls == true and
	(.event | test(\"^smtp_(request|reply|data|unexpected)$\")))' '$d/off.json' | grep -q ."
live_check "--tls off: STARTTLS still seen" live_has "$d/off.json" '.event == "smtp_starttls"'
live_done
