#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_files.sh - attachments sent to the lab's Postfix by real clients, captured live:
# every attachment's file event must carry the sha256 that sha256sum computes for the
# file, its size, its name (decoded: an RFC 2231 UTF-8 name included) and a sniffed type.
#
#   DATA: swaks with three attachments (3 MB of random bytes, a PNG, a UTF-8 text whose
#         name is ASCII), one message;
#   BDAT: Python's email package builds a message with the same three files, one of them
#         named "résumé été.txt" (RFC 2231 encoded by the library), sent with CHUNKING in
#         64 KB chunks.
# With --message-files yes each message also has a file of its own, message/rfc822, the
# parent of its parts' files and first in its transaction's fuids; the BDAT message's file
# has the size and sha256sum of the bytes the client sent. With --bodies skip it is marked
# not seen when the skip fell into that message.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smmf$$"

# The files, in the lab's directory.
# Random bytes, the same every run: libmagic finds a type in some random buffers (its weak
# rules match by chance), which made the "no type sniffed" check fail now and then.
python3 -c 'import random, sys; random.seed(20261204); sys.stdout.buffer.write(random.randbytes(3000000))' \
	>"$d/random.bin"
python3 - "$d/image.png" <<'PY'
import struct, sys, zlib
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
raw = b"".join(b"\x00" + bytes((x * y) & 255 for x in range(64)) for y in range(64))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
# ASCII first: Zeek's plain-text rule wants 10 printable bytes
printf 'Greetings from the lab: Grüße.\nZeile zwei, mit Umlauten: äöü.\n' >"$d/notes.txt"
cp "$d/notes.txt" "$d/résumé été.txt"

send_all() {
	lab_swaks --to "$LAB_RCPT" --attach "$d/random.bin" --attach-type image/png --attach "$d/image.png" \
		--attach-type text/plain --attach "$d/notes.txt" --suppress-data >"$d/swaks.log" 2>&1 ||
		live_fail "swaks (DATA): $(tail -3 "$d/swaks.log")"

	lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" "$d" >"$d/bdat.log" 2>&1 <<-'PY' ||
	import os, socket, sys
	from email.message import EmailMessage
	srv, frm, rcpt, d = sys.argv[1:5]
	m = EmailMessage()
	m["From"], m["To"], m["Subject"] = frm, rcpt, "attachments by BDAT"
	m.set_content("Three files attached.\n")
	for name, maintype, subtype in (("random.bin", "application", "octet-stream"),
	                                ("image.png", "image", "png"),
	                                ("résumé été.txt", "text", "plain")):
	    # as bytes (base64), so that the text keeps its LF line ends
	    data = open(os.path.join(d, name), "rb").read()
	    m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
	msg = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
	open(os.path.join(d, "bdat.eml"), "wb").write(msg)
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
	chunks = [msg[i:i + 65536] for i in range(0, len(msg), 65536)]
	for i, c in enumerate(chunks):
	    s.sendall(b"BDAT %d%s\r\n" % (len(c), b" LAST" if i == len(chunks) - 1 else b"") + c)
	    reply(b"250")
	s.sendall(b"QUIT\r\n")
	reply(b"221")
	PY
		live_fail "BDAT client: $(tail -3 "$d/bdat.log")"

}

live_start "$LAB_SRV_NS" "$d/out.json" "$d/out.err" 2 -i "$LAB_SRV_IF" --file-hashes md5,sha1,sha256 \
	--message-files yes || { live_fail "smtpmon starts"; live_done; }

send_all

lab_wait_idle
sleep 0.5
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0

# file events of the two messages: "name<TAB>seen_bytes<TAB>sha256<TAB>mime_type", by trans
jq -r 'select(.event == "file" and .filename != null)
	| [.filename, .seen_bytes, .sha256, (.mime_type // "-")] | @tsv' "$d/out.json" >"$d/files.tsv"
cat "$d/files.tsv" | sed 's/^/     /'
for f in random.bin image.png notes.txt "résumé été.txt"; do
	want="$(stat -c %s "$d/$f")	$(sha256sum <"$d/$f" | cut -d' ' -f1)"
	n=$(grep -c -F "$f	$want" "$d/files.tsv")
	case $f in
	notes.txt) expect=1 ;;	     # DATA only
	"résumé été.txt") expect=1 ;; # BDAT only
	*) expect=2 ;;		     # both messages
	esac
	live_check "$f: $expect file event(s) with its size and sha256sum ($n)" test "$n" -eq $expect
done
live_check "random.bin: no type sniffed (Zeek's unset)" \
	test "$(awk -F'\t' '$1 == "random.bin" && $4 == "-"' "$d/files.tsv" | wc -l)" -eq 2
live_check "image.png sniffed as image/png" \
	test "$(awk -F'\t' '$1 == "image.png" && $4 == "image/png"' "$d/files.tsv" | wc -l)" -eq 2
live_check "the texts sniffed as text/plain" \
	test "$(awk -F'\t' '$1 ~ /txt$/ && $4 == "text/plain"' "$d/files.tsv" | wc -l)" -eq 2
live_check "the message bodies are files too (no name)" \
	test "$(jq -s '[.[] | select(.event == "file" and .filename == null)] | length' "$d/out.json")" -ge 2
live_check "no content_gap" \
	test "$(jq -s '[.[] | select(.event == "content_gap")] | length' "$d/out.json")" -eq 0

# The whole messages' files: one per transaction, first in its fuids, parent of the others.
wholes=$(jq -s -c '[.[] | select(.event == "file" and .mime_type == "message/rfc822")]' "$d/out.json")
live_check "--message-files: two message/rfc822 files ($(jq length <<<"$wholes"))" \
	test "$(jq length <<<"$wholes")" -eq 2
live_check "--message-files: each first in its transaction's fuids, the parent of the rest" \
	test "$(jq -s --argjson w "$wholes" '[.[] | select(.event == "smtp_transaction")
		| .fuids as $f | select(any($w[]; .fuid == $f[0]))] | length' "$d/out.json")" -eq 2 -a \
	"$(jq -s --argjson w "$wholes" '[.[] | select(.event == "file" and .mime_type != "message/rfc822"
		and (.parent_fuid as $p | any($w[]; .fuid == $p) | not))] | length' "$d/out.json")" -eq 0
want="$(stat -c %s "$d/bdat.eml") $(sha256sum <"$d/bdat.eml" | cut -d' ' -f1)"
live_check "--message-files: the BDAT message's file has the sent message's size and sha256sum" \
	test "$(jq -r '.[] | "\(.seen_bytes) \(.sha256)"' <<<"$wholes" | grep -c -x -F "$want")" -eq 1

# --bodies skip: the bodies are not copied; no record may claim sizes or digests.
live_start "$LAB_SRV_NS" "$d/skip.json" "$d/skip.err" 2 -i "$LAB_SRV_IF" --bodies skip \
	--file-hashes md5,sha1,sha256 --message-files yes ||
	{ live_fail "smtpmon --bodies skip starts"; live_done; }
send_all
lab_wait_idle
sleep 0.5
live_stop TERM
live_check "--bodies skip: smtpmon exits 0" test "$LIVE_RC" -eq 0
live_check "--bodies skip: the kernel skipped body bytes" \
	test "$(live_counter "$d/skip.err" skipped_bytes)" -gt 3000000
# Parts read before the kernel's skip took effect are whole (their end was seen) and
# must be right; the part the skip fell into, and only it, is marked not seen.
jq -r 'select(.event == "file") | [(.filename // "-"), (if has("content_seen") then .content_seen else true end),
	(if has("seen_bytes") or has("sha256") then "sized" else "-" end),
	(.seen_bytes // "-"), (.sha256 // "-")] | @tsv' "$d/skip.json" >"$d/skip.tsv"
sed 's/^/     /' "$d/skip.tsv"
live_check "--bodies skip: parts marked not seen, without sizes or digests" \
	test "$(awk -F'\t' '$2 == "false" && $3 == "-"' "$d/skip.tsv" | wc -l)" -ge 1
# A message the skip fell into has a whole-message file marked not seen, without sizes; one
# read whole (the skip took effect in the other message only) has its sizes.
unseen=$(jq -s -c '[.[] | select(.event == "file")] as $f | [$f[] | select(.mime_type == "message/rfc822")
	| . as $m | select(any($f[]; .parent_fuid == $m.fuid and .content_seen == false))
	| if .content_seen == false and (has("seen_bytes") | not) then "ok" else "bad" end]' "$d/skip.json")
live_check "--bodies skip: the messages skipped in have their file marked not seen ($unseen)" \
	test "$(jq 'length > 0 and all(. == "ok")' <<<"$unseen")" = true
live_check "--bodies skip: no part not seen has sizes or digests" \
	test "$(awk -F'\t' '$2 == "false" && $3 != "-"' "$d/skip.tsv" | wc -l)" -eq 0
bad=0
while IFS=$'\t' read -r name seen sized size sum; do
	[[ $seen == true && $sized == sized && $name != - ]] || continue
	[[ "$size $sum" == "$(stat -c %s "$d/$name") $(sha256sum <"$d/$name" | cut -d' ' -f1)" ]] ||
		bad=$((bad + 1))
done <"$d/skip.tsv"
live_check "--bodies skip: the parts seen whole have their files' size and sha256sum" test $bad -eq 0
live_done
