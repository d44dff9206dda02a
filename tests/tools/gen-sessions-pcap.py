#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Small pcaps of whole SMTP sessions with chosen timestamps, for the cli tests. Stdlib only:
the pcap bytes are written here (classic pcap, microseconds, little-endian, Ethernet/IPv4/TCP
with correct checksums). Every session is the same script: handshake, 220, EHLO, MAIL FROM,
RCPT TO, DATA, a short message, QUIT, FIN both ways; client NAME is 10.1.0.N port 40000+N,
the server 10.2.0.1 port 25.

usage: gen-sessions-pcap.py SCENARIO OUT.pcap

  many N      N sessions one after the other, 1 ms between packets (plenty of output)
  ts-max      one session whose packets are stamped 0xfffffff0 s (2106-02-07T06:28:00Z) and
              the 190 ms after it: the top of the unsigned 32-bit seconds field
  backwards   session 1 starts at 1700000000 s; after its EHLO reply the clock steps back one
              hour: the rest of session 1 and the whole of session 2 are stamped an hour
              earlier, 10 ms apart, interleaved
  spike       sessions 1 and 2 interleaved at 1700000000 s, 10 ms apart; the one packet that
              carries session 1's reply to MAIL is stamped 0xfffffff0 s; the rest of the
              capture goes on at 1700000000 s
  smuggling   one session per end-of-data marker of SMUGGLING_MARKERS (session n: marker
              n - 1): the message ends with that marker, cut into two segments right after the
              byte that follows the dot, and the second segment goes on with
              "MAIL FROM:<smuggled-N@example.org>", RCPT, DATA and a second message ended the
              standard way (SMTP smuggling, docs/smuggling.md)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from pcapgen import Writer, frame  # noqa: E402

SERVER = bytes([10, 2, 0, 1])
T0 = 1_700_000_000
TS_MAX = 0xFFFFFFF0
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08

# (sender, payload); "c" the client, "s" the server
SCRIPT = [
    ("s", b"220 mx.example.net ESMTP\r\n"),
    ("c", b"EHLO client.example.org\r\n"),
    ("s", b"250-mx.example.net\r\n250 8BITMIME\r\n"),
    ("c", b"MAIL FROM:<alice@example.org>\r\n"),
    ("s", b"250 2.1.0 Ok\r\n"),
    ("c", b"RCPT TO:<bob@example.net>\r\n"),
    ("s", b"250 2.1.5 Ok\r\n"),
    ("c", b"DATA\r\n"),
    ("s", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    ("c", b"Subject: test\r\n\r\nHello.\r\n.\r\n"),
    ("s", b"250 2.0.0 Ok: queued as 4F00D\r\n"),
    ("c", b"QUIT\r\n"),
    ("s", b"221 2.0.0 Bye\r\n"),
]
# Session 1 ends its message the standard way: the control.
SMUGGLING_MARKERS = [b"\r\n.\r\n", b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r",
                     b"\r.\r\n", b"\n.\r", b"\r.\n"]


def smuggling_script(n):
    marker = SMUGGLING_MARKERS[n - 1]
    cut = marker.index(b".") + 2
    body = SCRIPT.index(("c", b"Subject: test\r\n\r\nHello.\r\n.\r\n"))
    second = (b"MAIL FROM:<smuggled-%d@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
              b"Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n" % n)
    return (SCRIPT[:body] + [("c", b"Subject: test\r\n\r\nHello." + marker[:cut]),
                             ("c", marker[cut:] + second)] + SCRIPT[body + 1:])


# Index in Session.packets() of the server's reply to MAIL (after SYN, SYN-ACK, ACK).
MAIL_REPLY = 3 + 4


def session(n, script=SCRIPT):
    """The frames of session n, in order."""
    cli = bytes([10, 1, n >> 8 & 255, n & 255])
    port = 40000 + n
    seq = {"c": 1000 * n, "s": 500000 + 1000 * n}

    def pkt(who, flags, payload=b""):
        src, dst, sp, dp = (cli, SERVER, port, 25) if who == "c" else (SERVER, cli, 25, port)
        other = "s" if who == "c" else "c"
        f = frame(src, dst, sp, dp, seq[who], seq[other] if flags & ACK else 0, flags, payload)
        seq[who] = (seq[who] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        return f

    out = [pkt("c", SYN), pkt("s", SYN | ACK), pkt("c", ACK)]
    out += [pkt(who, ACK | PSH, data) for who, data in script if data]
    out += [pkt("c", FIN | ACK), pkt("s", FIN | ACK), pkt("c", ACK)]
    return out


def interleave(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    scenario, path = sys.argv[1], sys.argv[-1]
    w = Writer(path)
    us = T0 * 1_000_000
    if scenario == "many" and len(sys.argv) == 4:
        for n in range(1, int(sys.argv[2]) + 1):
            for fr in session(n):
                us += 1000
                w.write(us, fr)
    elif scenario == "smuggling":
        for n in range(1, len(SMUGGLING_MARKERS) + 1):
            for fr in session(n, smuggling_script(n)):
                us += 1000
                w.write(us, fr)
    elif scenario == "ts-max":
        for i, fr in enumerate(session(1)):
            w.write(TS_MAX * 1_000_000 + i * 10_000, fr)
    elif scenario == "backwards":
        s1 = session(1)
        cut = 3 + 3  # handshake, 220, EHLO, EHLO reply
        for fr in s1[:cut]:
            us += 10_000
            w.write(us, fr)
        us -= 3600 * 1_000_000
        for fr in interleave(s1[cut:], session(2)):
            us += 10_000
            w.write(us, fr)
    elif scenario == "spike":
        s1 = [(fr, i == MAIL_REPLY) for i, fr in enumerate(session(1))]
        s2 = [(fr, False) for fr in session(2)]
        for fr, spike in interleave(s1, s2):
            us += 10_000
            w.write(TS_MAX * 1_000_000 if spike else us, fr)
    else:
        sys.exit(__doc__)
    w.close()


if __name__ == "__main__":
    main()
