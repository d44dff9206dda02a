#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Captures for the state-scale benchmark (make bench, part 6). Stdlib only; Ethernet/IPv4/TCP
with correct checksums; every connection has its own client address and port.

usage: gen-state-pcap.py idle N OUT.pcap
           N SMTP connections to port 25 opened one after the other and left open: handshake,
           220 greeting, EHLO, 250 reply; no FIN, no RST (smtpmon tracks N idle connections)
       gen-state-pcap.py synflood N OUT.pcap
           N SYNs to port 25, each from a distinct client address and port, no answer
       gen-state-pcap.py attachment N OUT.pcap
           one whole SMTP session whose message carries an attachment of N pseudo-random
           bytes (base64, 76-column lines) in 1448-byte segments; its SHA-256 in OUT.pcap.sha256
"""
import base64
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapgen import Writer, frame  # noqa: E402

SERVER = bytes([10, 2, 0, 1])
GREETING = b"220 mx.bench.example ESMTP\r\n"
EHLO = b"EHLO client.bench.example\r\n"
EHLO_REPLY = b"250-mx.bench.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


def client(i):
    """A distinct (address, port) for connection i: 10.64.0.0/10 and ports 1024-60999."""
    n = i // 59976
    return bytes([10, 64 + (n >> 16 & 63), n >> 8 & 255, n & 255]), 1024 + i % 59976


class Clocked(Writer):
    """Every frame 1 us after the one before, from 1700000000 s on."""

    def __init__(self, path):
        super().__init__(path)
        self.us = 1_700_000_000 * 1_000_000

    def add(self, fr):
        self.us += 1
        self.write(self.us, fr)


def idle(n, w):
    for i in range(n):
        cli, port = client(i)
        c, s = 1000, 5000
        w.add(frame(cli, SERVER, port, 25, c, 0, 0x02))
        w.add(frame(SERVER, cli, 25, port, s, c + 1, 0x12))
        c, s = c + 1, s + 1
        w.add(frame(cli, SERVER, port, 25, c, s, 0x10))
        w.add(frame(SERVER, cli, 25, port, s, c, 0x18, GREETING))
        s += len(GREETING)
        w.add(frame(cli, SERVER, port, 25, c, s, 0x18, EHLO))
        c += len(EHLO)
        w.add(frame(SERVER, cli, 25, port, s, c, 0x18, EHLO_REPLY))
        s += len(EHLO_REPLY)
        w.add(frame(cli, SERVER, port, 25, c, s, 0x10))


def synflood(n, w):
    for i in range(n):
        cli, port = client(i)
        w.add(frame(cli, SERVER, port, 25, i * 7919 & 0xFFFFFFFF, 0, 0x02))


def attachment(n, w, path):
    data = random.Random(n).randbytes(n)
    with open(path + ".sha256", "w") as f:
        f.write(hashlib.sha256(data).hexdigest() + "\n")
    b64 = base64.b64encode(data)
    body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    message = (b"From: <a@bench.example>\r\nTo: <b@bench.example>\r\nSubject: attachment\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n"
               b"--bb\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--bb\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--bb--\r\n.\r\n")
    cli, port = client(0)
    seq = {"c": 1000, "s": 5000}

    def send(who, flags, payload=b""):
        src, dst, sp, dp = (cli, SERVER, port, 25) if who == "c" else (SERVER, cli, 25, port)
        ack = seq["s" if who == "c" else "c"]
        for off in range(0, max(len(payload), 1), 1448):
            piece = payload[off:off + 1448]
            w.add(frame(src, dst, sp, dp, seq[who], ack, flags, piece))
            seq[who] += len(piece)
        seq[who] += 1 if flags & 0x03 else 0

    send("c", 0x02)
    send("s", 0x12)
    send("c", 0x10)
    for who, data_ in [("s", GREETING), ("c", EHLO), ("s", EHLO_REPLY),
                       ("c", b"MAIL FROM:<a@bench.example>\r\n"), ("s", b"250 ok\r\n"),
                       ("c", b"RCPT TO:<b@bench.example>\r\n"), ("s", b"250 ok\r\n"),
                       ("c", b"DATA\r\n"), ("s", b"354 go\r\n"), ("c", message),
                       ("s", b"250 ok queued as 4BENCH\r\n"), ("c", b"QUIT\r\n"),
                       ("s", b"221 bye\r\n")]:
        send(who, 0x18, data_)
    send("c", 0x11)
    send("s", 0x11)
    send("c", 0x10)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("idle", "synflood", "attachment"):
        sys.exit(__doc__)
    w = Clocked(sys.argv[3])
    if sys.argv[1] == "attachment":
        attachment(int(sys.argv[2]), w, sys.argv[3])
    else:
        {"idle": idle, "synflood": synflood}[sys.argv[1]](int(sys.argv[2]), w)
    w.close()


if __name__ == "__main__":
    main()
