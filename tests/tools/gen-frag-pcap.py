#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Pcaps of one SMTP session whose client segments come partly as IP fragments, for
tests/cli/test_fragments.sh. The client 10.1.0.1 (fd00:1::1) port 40001 talks to 10.2.0.1
(fd00:2::1) port 25: handshake, 220, EHLO, MAIL, RCPT TO:<good@example.net>, DATA, a message
of 40 lines, QUIT, FINs. Stdlib only (tools/pcapgen.py).

usage: gen-frag-pcap.py SCENARIO OUT.pcap

  v4, v6     the RCPT segment in two fragments, the second sent first; the message segment in
             eight fragments of 232 bytes, in reverse order
  overlap    IPv4: the RCPT segment's fragments overlap and the overlap differs ("evil" in the
             second); Linux discards the datagram, so the client retransmits the segment whole
  dup        IPv4: a third fragment lies wholly inside the first and differs from it ("evil");
             Linux drops it and keeps the first copy
  timeout    IPv4: the RCPT segment's first fragment only (its second never comes), then after
             31 s the segment whole: the half datagram times out
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import pcapgen  # noqa: E402

SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
GOOD = b"RCPT TO:<good@example.net>\r\n"
EVIL = b"RCPT TO:<evil@example.net>\r\n"
BODY = b"Subject: fragments\r\n\r\n" + b"".join(b"line %02d of a message sent in IP fragments\r\n"
                                             % i for i in range(40)) + b".\r\n"
SCRIPT = [
    ("s", b"220 mx.example.net ESMTP\r\n"),
    ("c", b"EHLO client.example.org\r\n"),
    ("s", b"250 mx.example.net\r\n"),
    ("c", b"MAIL FROM:<alice@example.org>\r\n"),
    ("s", b"250 2.1.0 Ok\r\n"),
    ("c", GOOD),
    ("s", b"250 2.1.5 Ok\r\n"),
    ("c", b"DATA\r\n"),
    ("s", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    ("c", BODY),
    ("s", b"250 2.0.0 Ok: queued as 4F00D\r\n"),
    ("c", b"QUIT\r\n"),
    ("s", b"221 2.0.0 Bye\r\n"),
]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("v4", "v6", "overlap", "dup", "timeout"):
        sys.exit(__doc__)
    scenario, path = sys.argv[1:]
    v6 = scenario == "v6"
    cli = bytes.fromhex("fd000001" + "00" * 11 + "01") if v6 else bytes([10, 1, 0, 1])
    srv = bytes.fromhex("fd000002" + "00" * 11 + "01") if v6 else bytes([10, 2, 0, 1])
    seq = {"c": 1000, "s": 500000}
    w = pcapgen.Writer(path)
    us = [1_700_000_000 * 1_000_000]

    def write(fr, step=1000):
        us[0] += step
        w.write(us[0], fr)

    def segment(who, flags, payload=b""):
        """The TCP segment (header and payload) and its addresses; advances seq."""
        src, dst, sp, dp = (cli, srv, 40001, 25) if who == "c" else (srv, cli, 25, 40001)
        other = "s" if who == "c" else "c"
        seg = pcapgen.tcp_segment(src + dst if v6 else src + dst, sp, dp, seq[who],
                                  seq[other] if flags & ACK else 0, flags, payload)
        seq[who] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return src, dst, seg

    def whole(who, flags, payload=b""):
        src, dst, seg = segment(who, flags, payload)
        if v6:
            return pcapgen.ETH6 + pcapgen.struct.pack("!IHBB16s16s", 6 << 28, len(seg), 6, 64,
                                                      src, dst) + seg
        return pcapgen.frame(src, dst, *[int.from_bytes(seg[i:i + n], "big") for i, n in
                                         ((0, 2), (2, 2), (4, 4), (8, 4))], seg[13], seg[20:])

    def frags(src, dst, ident, datagram, pieces):
        f = pcapgen.fragments6 if v6 else pcapgen.fragments4
        return f(src, dst, ident, datagram, pieces)

    for fr in (whole("c", SYN), whole("s", SYN | ACK), whole("c", ACK)):
        write(fr)
    for who, data in SCRIPT:
        if who == "c" and data == GOOD:
            start = seq["c"]
            src, dst, seg = segment("c", ACK | PSH, GOOD)
            if scenario in ("v4", "v6"):
                pieces = frags(src, dst, 7, seg, [(24, 24, False), (0, 24, True)])
            elif scenario == "overlap":
                seq["c"] = start
                evil = segment("c", ACK | PSH, EVIL)[2]
                pieces = frags(src, dst, 7, seg, [(0, 32, True), (24, evil[24:], False)])
            elif scenario == "dup":
                seq["c"] = start
                evil = segment("c", ACK | PSH, EVIL)[2]
                pieces = frags(src, dst, 7, seg, [(0, 40, True), (24, evil[24:32], True),
                                                  (40, 8, False)])
            else:  # timeout
                pieces = frags(src, dst, 7, seg, [(0, 24, True)])
            for fr in pieces:
                write(fr)
            if scenario in ("overlap", "timeout"):
                seq["c"] = start  # the retransmission, whole
                write(whole("c", ACK | PSH, GOOD), 31_000_000 if scenario == "timeout" else 200_000)
        elif who == "c" and data == BODY and scenario in ("v4", "v6"):
            src, dst, seg = segment("c", ACK | PSH, BODY)
            n = (len(seg) + 231) // 232
            pieces = [(i * 232, 232, i < n - 1) for i in range(n)]
            for fr in reversed(frags(src, dst, 8, seg, pieces)):
                write(fr)
        else:
            write(whole(who, ACK | PSH, data))
    for fr in (whole("c", FIN | ACK), whole("s", FIN | ACK), whole("c", ACK)):
        write(fr)
    w.close()


if __name__ == "__main__":
    main()
