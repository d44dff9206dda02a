#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_bodies_skip.sh - --bodies=skip against the lab's Postfix (docs/body-skip.md).
#
# The same sessions -- a 3 MB attachment by DATA (swaks), small and pipelined mails, the lab's
# small BDAT mail and a 2.5 MB mail in three BDAT chunks -- captured live on the server's veth
# once with --bodies=copy and once with --bodies=skip. The smtp_request and smtp_reply events
# must be identical (uids, addresses, ports and Postfix queue ids aside); skip mode must show no
# content_gap, no fallback, skipped bytes in the kernel's counters, and copy less than a tenth
# of the payload bytes into the ring. The saving is printed (kernel payload_bytes, records).
# Before the kernel found BDAT commands itself, user space's late hints let 1.7 MB of the 5.7
# MB through (30 %, against a limit of a third); since, 0.23 MB (4 %).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smbk$$"

# 2.5 MB in chunks of 1 MB, 1 MB and 0.5 MB ("BDAT n LAST"); each command and its octets
# in one write, as a CHUNKING client does, then the reply.
big_bdat() {
	lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" <<-'PY'
		import base64, os, socket, sys
		srv, frm, rcpt = sys.argv[1:4]
		s = socket.create_connection((srv, 25), timeout=20)
		f = s.makefile("rb")
		def reply(want):
		    while True:
		        line = f.readline()
		        if line[3:4] != b"-":
		            assert line.startswith(want), line
		            return
		reply(b"220")
		for cmd, want in ((b"EHLO bdat.client.example", b"250"), (b"MAIL FROM:<" + frm.encode() + b">", b"250"),
		                  (b"RCPT TO:<" + rcpt.encode() + b">", b"250")):
		    s.sendall(cmd + b"\r\n")
		    reply(want)
		head = b"From: <%s>\r\nTo: <%s>\r\nSubject: big bdat\r\n\r\n" % (frm.encode(), rcpt.encode())
		b64 = base64.encodebytes(os.urandom(1900000)).replace(b"\n", b"\r\n")
		msg = (head + b64)[:2500000]
		chunks = [msg[:1000000], msg[1000000:2000000], msg[2000000:]]
		for i, c in enumerate(chunks):
		    last = b" LAST" if i == len(chunks) - 1 else b""
		    s.sendall(b"BDAT %d%s\r\n" % (len(c), last) + c)
		    reply(b"250")
		s.sendall(b"QUIT\r\n")
		reply(b"221")
	PY
}

user_counter() {
	sed -n "s/^smtpmon: user:.* $2 \([0-9]*\).*/\1/p" "$1"
}

# smtp_request/smtp_reply without what differs between two runs.
dialogue() {
	jq -c 'select(.event == "smtp_request" or .event == "smtp_reply")
		| del(.ts, .uid, ."id.orig_h", ."id.orig_p", ."id.resp_h", ."id.resp_p")' "$1" |
		sed -E 's/queued as [0-9A-Za-z]+/queued as QID/'
}

# skip-xdp: the same with the XDP program on ingress (where the client's segments arrive).
for mode in copy skip skip-xdp; do
	ingress=tc
	[[ $mode == *-xdp ]] && ingress=xdp
	live_start "$LAB_SRV_NS" "$d/$mode.json" "$d/$mode.err" 2 -i "$LAB_SRV_IF" \
		--bodies="${mode%-xdp}" --ingress=$ingress ||
		{ live_fail "$mode: smtpmon starts"; continue; }
	for s in plain pipelined attachment-3mb bdat; do
		lab_run_scenario "$s" || live_fail "$mode: scenario $s"
	done
	big_bdat >"$d/big_bdat.$mode.log" 2>&1 ||
		live_fail "$mode: big BDAT client: $(tail -3 "$d/big_bdat.$mode.log")"
	lab_wait_idle
	sleep 0.5
	live_stop TERM
	live_check "$mode: smtpmon exits 0" test "$LIVE_RC" -eq 0
	grep '^smtpmon: \(kernel\|user\)' "$d/$mode.err"
	dialogue "$d/$mode.json" >"$d/$mode.dialogue"
	live_check "$mode: no content_gap" \
		test "$(jq -s '[.[] | select(.event == "content_gap")] | length' "$d/$mode.json")" -eq 0
	live_check "$mode: 5 sessions, 6 mails" test "$(jq -s '[.[] | select(.event == "smtp_connection")
		| .transactions] | add' "$d/$mode.json")" -eq 6
done

live_check "the dialogues were seen ($(wc -l <"$d/copy.dialogue") events)" \
	test "$(wc -l <"$d/copy.dialogue")" -gt 40
live_check "smtp_request and smtp_reply identical with --bodies=skip" \
	diff "$d/copy.dialogue" "$d/skip.dialogue"
live_check "... and with --bodies=skip --ingress=xdp" diff "$d/copy.dialogue" "$d/skip-xdp.dialogue"

for mode in skip skip-xdp; do
	skipped=$(live_counter "$d/$mode.err" skipped_bytes)
	live_check "$mode: the kernel skipped body bytes ($skipped)" test "${skipped:-0}" -gt 1000000
	live_check "$mode: no end-of-body fallback" \
		test "$(user_counter "$d/$mode.err" skip_fallbacks)" = 0
	live_check "$mode: no failed map update" \
		test "$(sed -n 's/.* skip_marks [0-9]* (failed \([0-9]*\)).*/\1/p' "$d/$mode.err")" = 0
done
live_check "copy: the kernel skipped nothing" test "$(live_counter "$d/copy.err" skipped_bytes)" = 0

copied=$(live_counter "$d/copy.err" payload_bytes)
kept=$(live_counter "$d/skip.err" payload_bytes)
echo "ring payload bytes: copy $copied, skip $kept ($(((copied - kept) * 100 / copied))% saved);" \
	"records: copy $(live_counter "$d/copy.err" records), skip $(live_counter "$d/skip.err" records)"
live_check "skip copies less than a tenth of the payload bytes ($kept of $copied)" \
	test $((kept * 10)) -lt "$copied"
live_done
