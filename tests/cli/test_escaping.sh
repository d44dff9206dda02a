#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_escaping.sh - one escaping policy for every output (docs in user/output/jsonw.h):
# characters that a terminal or a log viewer acts on never reach the text output raw, and the
# JSON output carries them as valid \u escapes that decode to the wire's characters.
#
# A capture built here holds, in a command, a reply, a Subject and an attachment's RFC 2047
# file name, valid UTF-8 for: the C1 controls NEL (U+0085) and the 8-bit CSI (U+009B, which
# starts a terminal escape sequence like ESC [), the line separator U+2028, the right-to-left
# override U+202E ("invoice<RLO>fdp.exe" displays as "invoiceexe.pdf"), the bidi isolates
# U+2066/U+2069, the noncharacters U+FDD0 and U+1FFFF; and for comparison ESC, CR, DEL, a
# no-break space and an accented letter (which pass as text). Checked, independently of the
# code (Python's decoders):
#   - text output: valid UTF-8 with no C0 control but the line ends, no DEL, no C1, no
#     U+2028/U+2029, no bidi control, no noncharacter; each such character of the input is
#     written \uXXXX (a surrogate pair above U+FFFF), ESC and DEL as \xNN; é and the no-break
#     space as they are;
#   - JSON output: the same characters absent from the raw text, and json.loads of the
#     command's argument, the reply's text, the decoded Subject and the file name gives back
#     exactly the wire's characters (C0 controls and DEL as \xNN, Zeek's convention).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

python3 - "$tmp/tricky.pcap" <<'EOF' || { echo "FAIL: pcap generator"; exit 1; }
import base64, sys
sys.path.insert(0, "tools")
from pcapgen import Writer, frame

TRICKY = ("nel\u0085 csi\u009b31m sep\u2028x invoice\u202efdp.exe iso\u2066y\u2069 "
          "nc\ufdd0 \U0001ffff esc\x1b[2J del\x7f nbsp\u00a0 caf\u00e9")
w = Writer(sys.argv[1])
t = [1700000000_000000]
cli, srv = bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1])
seq = {"c": 1000, "s": 5000}

def send(who, flags, payload=b""):
    t[0] += 1000
    if who == "c":
        w.write(t[0], frame(cli, srv, 40001, 25, seq["c"], seq["s"], flags, payload))
    else:
        w.write(t[0], frame(srv, cli, 25, 40001, seq["s"], seq["c"], flags, payload))
    seq[who] += len(payload) + (1 if flags & 0x03 else 0)

send("c", 0x02)
send("s", 0x12)
send("c", 0x10)
wire = TRICKY.encode()
name = "=?utf-8?B?%s?=" % base64.b64encode("invoice\u202efdp.exe".encode()).decode()
subject = "=?utf-8?B?%s?=" % base64.b64encode("pay\u2028now\u0085".encode()).decode()
for who, line in [("s", b"220 mx.example ESMTP"), ("c", b"EHLO client.example"),
                  ("s", b"250 mx.example"), ("c", b"NOOP " + wire), ("s", b"250 " + wire),
                  ("c", b"MAIL FROM:<a@example.org>"), ("s", b"250 ok"),
                  ("c", b"RCPT TO:<b@example.net>"), ("s", b"250 ok"), ("c", b"DATA"),
                  ("s", b"354 go"),
                  ("c", b"\r\n".join([
                      b"Subject: " + subject.encode(), b"MIME-Version: 1.0",
                      b"Content-Type: multipart/mixed; boundary=zz", b"", b"--zz",
                      b"Content-Type: text/plain", b"", b"hello", b"--zz",
                      b"Content-Type: application/octet-stream",
                      b"Content-Disposition: attachment; filename=\"" + name.encode() + b"\"",
                      b"Content-Transfer-Encoding: base64", b"",
                      base64.b64encode(b"MZ not really"), b"--zz--", b"."])),
                  ("s", b"250 queued"), ("c", b"QUIT"), ("s", b"221 bye")]:
    send(who, 0x18, line + b"\r\n")
send("c", 0x11)
send("s", 0x11)
send("c", 0x10)
w.close()
EOF

"$smtpmon" read -q --format text "$tmp/tricky.pcap" >"$tmp/out.txt" ||
	fail "smtpmon read --format text exited $?"
"$smtpmon" read -q --format json "$tmp/tricky.pcap" >"$tmp/out.json" ||
	fail "smtpmon read --format json exited $?"

python3 - "$tmp/out.txt" "$tmp/out.json" <<'EOF'
import json, sys

TRICKY = ("nel\u0085 csi\u009b31m sep\u2028x invoice\u202efdp.exe iso\u2066y\u2069 "
          "nc\ufdd0 \U0001ffff esc\x1b[2J del\x7f nbsp\u00a0 caf\u00e9")
errors = []

def bad(c):
    o = ord(c)
    return ((o < 0x20 and c != "\n") or 0x7f <= o <= 0x9f or o in (0x61c, 0x200e, 0x200f) or
            0x2028 <= o <= 0x202e or 0x2066 <= o <= 0x2069 or 0xfdd0 <= o <= 0xfdef or
            o & 0xfffe == 0xfffe)

def check(cond, what):
    print(("ok   " if cond else "FAIL: ") + what)
    if not cond:
        errors.append(what)

text = open(sys.argv[1], "rb").read().decode("utf-8")  # strict: valid UTF-8 or an exception
raw = [c for c in text if bad(c)]
check(not raw, "text: no control, C1, separator, bidi or noncharacter raw (%r)" % raw[:5])
want = ("nel\\u0085 csi\\u009b31m sep\\u2028x invoice\\u202efdp.exe iso\\u2066y\\u2069 "
        "nc\\ufdd0 \\ud83f\\udfff esc\\x1b[2J del\\x7f nbsp\u00a0 caf\u00e9")
check(text.count(want) == 2, "text: the command and the reply written %r" % want[:60])
check(any("invoice\\u202efdp.exe" in l for l in text.split("\n") if " file " in l),
      "text: the attachment's name shows its override: invoice\\u202efdp.exe")

jtext = open(sys.argv[2], "rb").read().decode("utf-8")
raw = [c for c in jtext if bad(c)]
check(not raw, "json: no control, C1, separator, bidi or noncharacter raw (%r)" % raw[:5])
events = [json.loads(l) for l in jtext.split("\n") if l]  # not splitlines: U+2028 is no line end here
noop = [e for e in events if e["event"] == "smtp_request" and e["command"] == "NOOP"]
# Zeek's convention for C0 controls and DEL: \\xNN in the decoded value.
zeek = TRICKY.replace("\x1b", "\\x1b").replace("\x7f", "\\x7f")
check(len(noop) == 1 and noop[0]["arg"] == zeek, "json: the NOOP argument decodes to the wire's")
reply = [e for e in events if e["event"] == "smtp_reply" and e.get("cmd") == "NOOP"]
check(len(reply) == 1 and reply[0]["msg"] == zeek, "json: the reply decodes to the wire's")
files = [e for e in events if e["event"] == "file" and e.get("filename")]
check([f["filename"] for f in files] == ["invoice\u202efdp.exe"],
      "json: the file name decodes to invoice<RLO>fdp.exe (%r)" % [f.get("filename") for f in files])
txn = [e for e in events if e["event"] == "smtp_transaction"]
check(len(txn) == 1 and txn[0].get("subject_decoded") == "pay\u2028now\u0085",
      "json: the decoded Subject is the sender's (%r)" % [t.get("subject_decoded") for t in txn])
sys.exit(1 if errors else 0)
EOF
[ $? -eq 0 ] || fail "escaping checks"
cli_done test_escaping
