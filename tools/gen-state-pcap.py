#!/usr/bin/env python3
"""Captures for the state-scale benchmark (make bench, part 6). Stdlib only; Ethernet/IPv4/TCP
with correct checksums; every connection has its own client address and port.

usage: gen-state-pcap.py idle N OUT.pcap
           N SMTP connections to port 25 opened one after the other and left open: handshake,
           220 greeting, EHLO, 250 reply; no FIN, no RST (smtpmon tracks N idle connections)
       gen-state-pcap.py synflood N OUT.pcap
           N SYNs to port 25, each from a distinct client address and port, no answer
"""
import struct
import sys

SERVER = bytes([10, 2, 0, 1])
ETH = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
GREETING = b"220 mx.bench.example ESMTP\r\n"
EHLO = b"EHLO client.bench.example\r\n"
EHLO_REPLY = b"250-mx.bench.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ETH + ip + tcp + payload


def client(i):
    """A distinct (address, port) for connection i: 10.64.0.0/10 and ports 1024-60999."""
    n = i // 59976
    return bytes([10, 64 + (n >> 16 & 63), n >> 8 & 255, n & 255]), 1024 + i % 59976


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.us = 1_700_000_000 * 1_000_000

    def write(self, fr, step_us=1):
        self.us += step_us
        self.f.write(struct.pack("<IIII", self.us // 1_000_000, self.us % 1_000_000, len(fr), len(fr)))
        self.f.write(fr)

    def close(self):
        self.f.close()


def idle(n, w):
    for i in range(n):
        cli, port = client(i)
        c, s = 1000, 5000
        w.write(frame(cli, SERVER, port, 25, c, 0, 0x02))
        w.write(frame(SERVER, cli, 25, port, s, c + 1, 0x12))
        c, s = c + 1, s + 1
        w.write(frame(cli, SERVER, port, 25, c, s, 0x10))
        w.write(frame(SERVER, cli, 25, port, s, c, 0x18, GREETING))
        s += len(GREETING)
        w.write(frame(cli, SERVER, port, 25, c, s, 0x18, EHLO))
        c += len(EHLO)
        w.write(frame(SERVER, cli, 25, port, s, c, 0x18, EHLO_REPLY))
        s += len(EHLO_REPLY)
        w.write(frame(cli, SERVER, port, 25, c, s, 0x10))


def synflood(n, w):
    for i in range(n):
        cli, port = client(i)
        w.write(frame(cli, SERVER, port, 25, i * 7919 & 0xFFFFFFFF, 0, 0x02))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("idle", "synflood"):
        sys.exit(__doc__)
    w = Writer(sys.argv[3])
    {"idle": idle, "synflood": synflood}[sys.argv[1]](int(sys.argv[2]), w)
    w.close()


if __name__ == "__main__":
    main()
