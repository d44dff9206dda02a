#!/usr/bin/env python3
"""Write a synthetic SMTP capture for benchmarks: SESSIONS complete sessions
(handshake, EHLO, pipelined envelope, DATA with a BODY_KB body, QUIT, FINs),
each on its own client port, interleaved so that many connections are open
at once. Stdlib only; Ethernet/IPv4/TCP, 1448-byte segments.

usage: gen-bench-pcap.py OUT.pcap [SESSIONS] [BODY_KB] [CONCURRENT]
"""
import struct
import sys

MSS = 1448


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp + payload


def session(idx, body_kb):
    """Yields (from_client, flags, payload) steps of one session."""
    body = b"".join(b"Line %06d of a synthetic message body, long enough to be realistic.\r\n" % i
                    for i in range(body_kb * 1024 // 72))
    yield True, 0x02, b""
    yield False, 0x12, b""
    yield True, 0x10, b""
    yield False, 0x18, b"220 mx.bench.example ESMTP\r\n"
    yield True, 0x18, b"EHLO client%d.bench.example\r\n" % idx
    yield False, 0x18, b"250-mx.bench.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"
    yield True, 0x18, (b"MAIL FROM:<user%d@bench.example>\r\nRCPT TO:<rcpt%d@bench.example>\r\n"
                       b"DATA\r\n" % (idx, idx))
    yield False, 0x18, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    msg = b"From: user%d@bench.example\r\nSubject: bench %d\r\n\r\n" % (idx, idx) + body + b".\r\n"
    for off in range(0, len(msg), MSS):
        yield True, 0x18, msg[off:off + MSS]
    yield False, 0x18, b"250 2.0.0 Ok: queued as B%05d\r\n" % idx
    yield True, 0x18, b"QUIT\r\n"
    yield False, 0x18, b"221 2.0.0 Bye\r\n"
    yield True, 0x11, b""
    yield False, 0x11, b""


def main():
    out = sys.argv[1]
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    body_kb = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    concurrent = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    cli, srv = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2])
    ts = 1_700_000_000_000_000
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        pending = list(range(sessions))
        active = []
        while pending or active:
            while pending and len(active) < concurrent:
                i = pending.pop(0)
                active.append([i, session(i, body_kb), 1000 + i * 7919, 5000 + i * 104729])
            for st in list(active):
                i, steps, cseq, sseq = st
                step = next(steps, None)
                if step is None:
                    active.remove(st)
                    continue
                from_client, flags, payload = step
                cport = 1024 + i % 60000
                if from_client:
                    fr = frame(cli, srv, cport, 25, cseq, sseq, flags, payload)
                    st[2] = cseq + len(payload) + (1 if flags & 0x03 else 0)
                else:
                    fr = frame(srv, cli, 25, cport, sseq, st[2], flags, payload)
                    st[3] = sseq + len(payload) + (1 if flags & 0x03 else 0)
                ts += 10
                f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(fr), len(fr)))
                f.write(fr)


if __name__ == "__main__":
    main()
