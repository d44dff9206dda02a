#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A crafted SMTP client that sends overlapping TCP segments whose copies differ, to see which
copy a real Linux receiver keeps (and whether smtpmon agrees). It speaks TCP itself over an
AF_PACKET socket with a source address the client's kernel does not own, so that kernel
neither answers nor resets the connection (the server side needs a static neighbour entry for
that address). Frames are built with tools/pcapgen.py. Standard library only.

usage: overlap_client.py IFACE SRC_IP DST_IP DST_MAC SHAPE
Prints the client's port and the server's reply to the crafted RCPT command on stdout; exit 0
when the session ran.

Shapes (G = "RCPT TO:<good@lab.example>\\r\\n", E the same with "evil", S = the sequence
number of the command's first byte; every shape ends with the whole command delivered):
  ofo-then-inorder   E[1:] at S+1 (out of order), then G at S (in order, covers it)
  same-start         E[1:] at S+1, then G[1:] at S+1, then G[:1] at S
  earlier-start      E[9:] at S+9, then G[1:] at S+1, then G[:1] at S
  later-start        E[1:] at S+1, then G[9:] at S+9, then G[:1] at S
  same-start-longer  E[1:-2] at S+1, then G[1:] at S+1 (longer), then G[:1] at S
  rexmit-delivered   G at S (in order, delivered), then E at S
  fragments          G at S in one TCP segment cut into two IPv4 fragments, the second first
  frag-overlap       that segment's fragments overlap and differ (E's bytes in the second);
                     0.3 s later G whole at S (the retransmission, if the receiver dropped it)
"""
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../tools"))
import pcapgen  # noqa: E402

G = b"RCPT TO:<good@lab.example>\r\n"
E = b"RCPT TO:<evil@lab.example>\r\n"
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

SHAPES = {
    "ofo-then-inorder": [(1, E[1:]), (0, G)],
    "same-start": [(1, E[1:]), (1, G[1:]), (0, G[:1])],
    "earlier-start": [(9, E[9:]), (1, G[1:]), (0, G[:1])],
    "later-start": [(1, E[1:]), (9, G[9:]), (0, G[:1])],
    "same-start-longer": [(1, E[1:-2]), (1, G[1:]), (0, G[:1])],
    "rexmit-delivered": [(0, G), (0, E)],
}


# IPv4 fragment pieces (offset, length or bytes, more) of the RCPT segment (20-byte TCP header).
FRAGMENTS = {
    "fragments": lambda seg, evil: [(24, 24, False), (0, 24, True)],
    "frag-overlap": lambda seg, evil: [(0, 32, True), (24, evil[24:], False)],
}


def fail(msg):
    print(f"overlap_client: {msg}", file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, iface, src, dst, dst_mac):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.sock.bind((iface, 0))
        with open(f"/sys/class/net/{iface}/address") as f:
            src_mac = bytes.fromhex(f.read().strip().replace(":", ""))
        self.eth = bytes.fromhex(dst_mac.replace(":", "")) + src_mac + b"\x08\x00"
        self.src, self.dst = socket.inet_aton(src), socket.inet_aton(dst)
        self.sport = random.randint(20000, 60000)
        self.seq = random.randint(0, 0xFFFFFFFF)
        self.ack = 0
        self.buf = b""

    def send(self, flags, payload=b"", seq=None):
        seq = self.seq if seq is None else seq
        fr = pcapgen.frame(self.src, self.dst, self.sport, 25, seq & 0xFFFFFFFF,
                           self.ack & 0xFFFFFFFF, flags, payload)
        self.sock.send(self.eth + fr[len(pcapgen.ETH):])

    def receive(self, timeout):
        """Handles the server's segments for up to timeout seconds; returns its flags seen."""
        seen = 0
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                break
            fr = self.sock.recv(65536)[14:]
            if len(fr) < 40 or fr[9] != 6 or fr[12:16] != self.dst or fr[16:20] != self.src:
                continue
            ihl = (fr[0] & 15) * 4
            tot = struct.unpack("!H", fr[2:4])[0]
            sport, dport, seq, _ack, off, flags = struct.unpack("!HHIIBB", fr[ihl:ihl + 14])
            if sport != 25 or dport != self.sport:
                continue
            payload = fr[ihl + (off >> 4) * 4:tot]
            seen |= flags
            if flags & SYN:
                self.ack = seq + 1
                self.seq += 1
            elif payload and seq == self.ack & 0xFFFFFFFF:
                self.buf += payload
                self.ack += len(payload)
                self.send(ACK)
            if flags & (SYN | RST):
                return seen
        return seen

    def reply(self, timeout=5.0):
        """The next complete reply (its last line has a space after the code)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = self.buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    self.buf = b"\r\n".join(lines[i + 1:])
                    return b"\r\n".join(lines[:i + 1]).decode(errors="replace")
            self.receive(0.1)
        fail(f"no reply; got {self.buf!r}")

    def send_fragments(self, shape, seq):
        seg = pcapgen.tcp_segment(self.src + self.dst, self.sport, 25, seq & 0xFFFFFFFF,
                                  self.ack & 0xFFFFFFFF, PSH | ACK, G)
        evil = pcapgen.tcp_segment(self.src + self.dst, self.sport, 25, seq & 0xFFFFFFFF,
                                   self.ack & 0xFFFFFFFF, PSH | ACK, E)
        pieces = FRAGMENTS[shape](seg, evil)
        for fr in pcapgen.fragments4(self.src, self.dst, random.randint(1, 65535), seg, pieces):
            self.sock.send(self.eth + fr[len(pcapgen.ETH):])
            self.receive(0.05)

    def command(self, line):
        self.send(PSH | ACK, line)
        self.seq += len(line)
        return self.reply()


def main():
    if len(sys.argv) != 6 or sys.argv[5] not in list(SHAPES) + list(FRAGMENTS):
        fail(__doc__)
    iface, src, dst, dst_mac, shape = sys.argv[1:]
    c = Conn(iface, src, dst, dst_mac)
    c.send(SYN)
    if not c.receive(3.0) & SYN:
        fail("no SYN-ACK")
    c.send(ACK)
    banner = c.reply()
    if not banner.startswith("220"):
        fail(f"banner {banner!r}")
    for line in (b"HELO crafted.lab.example\r\n", b"MAIL FROM:<crafted@lab.example>\r\n"):
        r = c.command(line)
        if not r.startswith("250"):
            fail(f"{line!r}: {r!r}")
    base = c.seq
    if shape in FRAGMENTS:
        c.send_fragments(shape, base)
        if shape == "frag-overlap" and not c.receive(0.3) & PSH:
            c.send(PSH | ACK, G, base)
    for off, piece in SHAPES.get(shape, []):
        c.send(PSH | ACK, piece, base + off)
        c.receive(0.05)  # one at a time, in this order, at the receiver
    c.seq = base + len(G)
    print(c.sport, c.reply())
    c.command(b"QUIT\r\n")
    c.send(FIN | ACK)
    c.seq += 1
    c.receive(0.3)
    c.send(ACK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
