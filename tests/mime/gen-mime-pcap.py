#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures of SMTP sessions carrying hostile or large MIME messages, for
tests/mime/test_hostile.sh. Stdlib only (tools/pcapgen.py). Each session:
handshake, 220, EHLO, MAIL, RCPT, then the message with DATA (dot-stuffed)
or with one BDAT LAST chunk, 250, QUIT, FIN; client 10.1.0.N port 40000+N,
server 10.2.0.1 port 25. Message bytes go in 32 KB segments.

usage: gen-mime-pcap.py SCENARIO OUT.pcap [ARG]

  hostile       one session per hostile shape (see MESSAGES below)
  attachment N  one message with an N-byte attachment (base64) of
                deterministic pseudo-random bytes; prints its sha256
  many N SIZE   N such sessions one after the other (the cost measurement of
                docs/mime.md)
"""
import base64
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from pcapgen import Writer, frame  # noqa: E402

SERVER = bytes([10, 2, 0, 1])
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
SEG = 32 * 1024


def session(w, n, message, bdat, us):
    cli = bytes([10, 1, n >> 8 & 255, n & 255])
    port = 40000 + n
    seq = {"c": 1000 * n, "s": 500000 + 1000 * n}

    def pkt(who, flags, payload=b""):
        nonlocal us
        src, dst, sp, dp = (cli, SERVER, port, 25) if who == "c" else (SERVER, cli, 25, port)
        other = "s" if who == "c" else "c"
        f = frame(src, dst, sp, dp, seq[who], seq[other] if flags & ACK else 0, flags, payload)
        seq[who] = (seq[who] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        us += 100
        w.write(us, f)

    def send(who, data):
        for i in range(0, len(data), SEG):
            pkt(who, ACK | PSH, data[i:i + SEG])

    pkt("c", SYN)
    pkt("s", SYN | ACK)
    pkt("c", ACK)
    for who, data in [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"),
                      ("s", b"250-mx\r\n250 CHUNKING\r\n"), ("c", b"MAIL FROM:<a@example.org>\r\n"),
                      ("s", b"250 ok\r\n"), ("c", b"RCPT TO:<b@example.net>\r\n"),
                      ("s", b"250 ok\r\n")]:
        send(who, data)
    if bdat:
        send("c", b"BDAT %d LAST\r\n" % len(message) + message)
    else:
        send("c", b"DATA\r\n")
        send("s", b"354 go\r\n")
        stuffed = message.replace(b"\r\n.", b"\r\n..")
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        send("c", stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    send("s", b"250 2.0.0 Ok: queued as Q%d\r\n" % n)
    send("c", b"QUIT\r\n")
    send("s", b"221 bye\r\n")
    pkt("c", FIN | ACK)
    pkt("s", FIN | ACK)
    pkt("c", ACK)
    return us


def multipart(boundary, parts, close=True):
    out = b"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % boundary
    for p in parts:
        out += b"--" + boundary + b"\r\n" + p + b"\r\n"
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


def nested(levels):
    parts = []
    for i in range(levels):
        parts.append(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i))
    return b"".join(parts) + b"\r\ndeep\r\n"


def hostile():
    text = b"Content-Type: text/plain\r\n\r\nsome text that is a file\r\n"
    return [
        # 1 unterminated multipart (no closing boundary), an unterminated inner one
        (multipart(b"u1", [text, multipart(b"u2", [text], close=False)], close=False), False),
        # 2 10 000 nested multiparts, DATA and BDAT
        (nested(10000), False),
        (nested(10000), True),
        # 3 a 100 MB header line, then a header folded over 10 MB
        (b"Subject: big\r\nX-Huge: " + b"h" * (100 << 20) + b"\r\n\r\nbody after it\r\n", False),
        (b"X-Folded: start\r\n" + b" " + (b"f" * 998 + b"\r\n ") * (10 << 10) + b"end\r\n\r\n"
         b"body\r\n", False),
        # 4 invalid base64
        (multipart(b"b64", [b"Content-Transfer-Encoding: base64\r\n\r\n" +
                            b"!!!!****====AAAA====\x00\xff\r\n" * 20000]), False),
        # 5 a boundary in every line, a closing one in the middle of it
        (multipart(b"e", [b"x"]) .replace(b"--e--\r\n", b"") + b"--e\r\n" * 200000 +
         b"--e--\r\n" + b"--e\r\n" * 1000, False),
        # 6 quoted-printable junk and a header without a colon, a bare boundary
        (multipart(b"q", [b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
                          b"=\x01=ZZ=4=\r\n" * 5000, b"no colon header\r\n\r\nx"]), True),
    ]


def attachment(size):
    rnd = random.Random(size)
    data = bytes(rnd.getrandbits(8) for _ in range(min(size, 1 << 16)))
    data = (data * (size // len(data) + 1))[:size]
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    msg = multipart(b"att", [b"Content-Type: text/plain\r\n\r\nsee the attachment",
                             b"Content-Type: application/octet-stream\r\n"
                             b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                             b"Content-Transfer-Encoding: base64\r\n\r\n" + b64])
    return msg, hashlib.sha256(data).hexdigest()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    scenario, path = sys.argv[1], sys.argv[2]
    w = Writer(path)
    us = 1_700_000_000 * 1_000_000
    if scenario == "hostile":
        for n, (msg, bdat) in enumerate(hostile(), 1):
            us = session(w, n, msg, bdat, us)
    elif scenario == "many" and len(sys.argv) == 5:
        msg, _ = attachment(int(sys.argv[4]))
        for n in range(1, int(sys.argv[3]) + 1):
            us = session(w, n, msg, False, us)
    elif scenario == "attachment" and len(sys.argv) == 4:
        msg, digest = attachment(int(sys.argv[3]))
        session(w, 1, msg, False, us)
        print(digest)
    else:
        sys.exit(__doc__)
    w.close()


if __name__ == "__main__":
    main()
