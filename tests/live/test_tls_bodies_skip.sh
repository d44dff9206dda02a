#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_bodies_skip.sh - --bodies=skip inside TLS (docs/tls-plaintext.md, docs/body-skip.md):
# the TLS library probes stop copying message bodies.
#
# One Python client (OpenSSL) does STARTTLS on 25 to the lab's Postfix and sends, inside TLS,
# in writes of 32 KB as an MTA does, a 3 MB mail by DATA (a header block, then base64), a
# small mail by DATA, and a 2.5 MB mail in three BDAT chunks; captured once with --bodies=copy and once with --bodies=skip (--data both
# times). The smtp_request and smtp_reply events inside TLS must be identical; with skip the
# header lines of the big mail are still reported (smtp_data), no content_gap or fallback, the
# probes' skipped_bytes counter (OpenSSL) holds most of the bodies and the probes copy less
# than 5 % of what they copy with --bodies=copy. User space's marks come late (here it ran a
# whole BDAT chunk behind the client, and only this check caught that the chunks were copied
# whole): the kernel starts the skips itself, at each BDAT command that starts a write and
# 64 KB after each 354, so what is copied is the commands' writes and the header allowance.
# A third run in copy mode with a 4 MB ring and smtpmon stopped during the client's session:
# the probes shed bodies once the ring is three quarters full, nothing is dropped and the
# dialogue is the same.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smtb$$"

client() {
	lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" <<-'PY'
		import base64, os, smtplib, ssl, sys, time
		srv, frm, rcpt = sys.argv[1:4]
		ctx = ssl.create_default_context()
		ctx.check_hostname = False
		ctx.verify_mode = ssl.CERT_NONE
		# Probed from its first connect() on, once smtpmon's attach is done (about 20 ms,
		# docs/tls-plaintext.md, "Which processes"): a session at once would be half past
		# its first body by then, and its copy of that body counted against the skip.
		smtplib.SMTP(srv, 25, local_hostname="skip.client.example", timeout=30).quit()
		time.sleep(1)
		s = smtplib.SMTP(srv, 25, local_hostname="skip.client.example", timeout=30)
		s.starttls(context=ctx)
		s.ehlo("skip.client.example")
		def send(data):  # as an MTA writes: 32 KB at a time
		    for i in range(0, len(data), 32768):
		        s.sock.sendall(data[i:i + 32768])
		def mail(cmd, data, want):
		    for c in ("MAIL FROM:<%s>" % frm, "RCPT TO:<%s>" % rcpt) + cmd:
		        code, msg = s.docmd(c)
		        assert code == want.get(c, 250), (c, code, msg)
		b64 = base64.encodebytes(os.urandom(2200000)).replace(b"\n", b"\r\n")
		head = b"From: <%s>\r\nTo: <%s>\r\n" % (frm.encode(), rcpt.encode())
		mail(("DATA",), None, {"DATA": 354})
		send(head + b"Subject: big data in tls\r\nX-Check: header kept\r\n\r\n" + b64 + b".\r\n")
		assert s.getreply()[0] == 250
		mail(("DATA",), None, {"DATA": 354})
		send(head + b"Subject: small in tls\r\n\r\nshort body\r\n.\r\n")
		assert s.getreply()[0] == 250
		mail((), None, {})
		msg = (head + b"Subject: big bdat in tls\r\n\r\n" + b64)[:2500000]
		chunks = [msg[:1000000], msg[1000000:2000000], msg[2000000:]]
		for i, c in enumerate(chunks):
		    last = b" LAST" if i == len(chunks) - 1 else b""
		    send(b"BDAT %d%s\r\n" % (len(c), last) + c)
		    code, m = s.getreply()
		    assert code == 250, (i, code, m)
		s.quit()
		print("client done")
	PY
}

# smtp_request/smtp_reply inside TLS without what differs between two runs.
dialogue() {
	jq -c 'select(.tls == true and (.event == "smtp_request" or .event == "smtp_reply"))
		| del(.ts, .uid, ."id.orig_h", ."id.orig_p", ."id.resp_h", ."id.resp_p")' "$1" |
		sed -E 's/queued as [0-9A-Za-z]+/queued as QID/'
}

tls_counter() { # FILE LIB NAME
	sed -n "s/^smtpmon: tls $2:.* $3 \([0-9]*\).*/\1/p" "$1"
}

# shed: copy mode with a 4 MB ring, smtpmon stopped (SIGSTOP) while the client sends its 11 MB:
# the probes shed the bodies once the ring is three quarters full (docs/body-skip.md, "Shedding
# bodies"). Each call of a shed body still makes a small record (112 bytes for Postfix's 4 KB
# reads): a reader stopped for long enough overflows any ring.
for mode in copy skip shed; do
	ring=()
	[[ $mode == shed ]] && ring=(--ring-size 4M)
	live_start "$LAB_SRV_NS" "$d/$mode.json" "$d/$mode.err" 2 -i "$LAB_SRV_IF" \
		--bodies="${mode/shed/copy}" --data "${ring[@]}" ||
		{ live_fail "$mode: smtpmon starts"; continue; }
	[[ $mode == shed ]] && kill -STOP "$LIVE_PID"
	client >"$d/client.$mode.log" 2>&1
	live_check "$mode: the client sent its mails ($(tail -1 "$d/client.$mode.log"))" \
		grep -q '^client done' "$d/client.$mode.log"
	lab_wait_idle
	[[ $mode == shed ]] && kill -CONT "$LIVE_PID"
	sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
	live_stop TERM
	live_check "$mode: smtpmon exits 0" test "$LIVE_RC" -eq 0
	grep '^smtpmon: \(tls\|user\)' "$d/$mode.err"
	dialogue "$d/$mode.json" >"$d/$mode.dialogue"
	live_check "$mode: no content_gap" \
		test "$(jq -s '[.[] | select(.event == "content_gap")] | length' "$d/$mode.json")" -eq 0
	live_check "$mode: 3 mails inside TLS" test "$(jq -s '[.[] | select(.event == "smtp_reply"
		and .tls == true and (.msg | test("queued as")))] | length' "$d/$mode.json")" -eq 3
	live_check "$mode: the big mail's headers are reported inside TLS" live_has "$d/$mode.json" \
		'.event == "smtp_data" and .tls == true and (tostring | contains("header kept"))'
done

live_check "the dialogue inside TLS was seen ($(wc -l <"$d/copy.dialogue") events)" \
	test "$(wc -l <"$d/copy.dialogue")" -gt 15
live_check "smtp_request and smtp_reply inside TLS identical with --bodies=skip" \
	diff "$d/copy.dialogue" "$d/skip.dialogue"
live_check "... and with bodies shed by a crowded ring" diff "$d/copy.dialogue" "$d/shed.dialogue"
shed=$(tls_counter "$d/shed.err" openssl shed_bodies)
live_check "shed: the probes shed bodies (${shed:-none})" test "${shed:-0}" -ge 1
live_check "shed: no ring drop" test "$(tls_counter "$d/shed.err" openssl ring_drops)" = 0
skipped=$(tls_counter "$d/shed.err" openssl skipped_bytes)
live_check "shed: the probes skipped body bytes (${skipped:-?})" test "${skipped:-0}" -gt 1000000
live_check "copy: the probes shed nothing" \
	test "$(tls_counter "$d/copy.err" openssl shed_bodies)" = 0
skipped=$(tls_counter "$d/skip.err" openssl skipped_bytes)
live_check "skip: the probes skipped the bodies (${skipped:-?} bytes)" test "${skipped:-0}" -gt 4000000
live_check "copy: the probes skipped nothing" \
	test "$(tls_counter "$d/copy.err" openssl skipped_bytes)" = 0
live_check "skip: no end-of-body fallback" \
	test "$(sed -n 's/^smtpmon: user:.* skip_fallbacks \([0-9]*\).*/\1/p' "$d/skip.err")" = 0
live_check "skip: no failed skip mark" \
	test "$(sed -n 's/.* skip_marks [0-9]* (failed \([0-9]*\)).*/\1/p' "$d/skip.err")" = 0
copied=$(tls_counter "$d/copy.err" openssl copied_bytes)
kept=$(tls_counter "$d/skip.err" openssl copied_bytes)
echo "probes' copied bytes: copy ${copied:-?}, skip ${kept:-?}"
live_check "skip: the probes copy less than 5 % ($kept of $copied)" \
	test $((${kept:-1} * 20)) -lt "${copied:-0}"
live_done
