# SPDX-License-Identifier: GPL-2.0-only
"""pcapgen - the frames and the file format of the generated captures (tools/gen-state-pcap.py,
tests/tools/gen-sessions-pcap.py, tests/tools/gen-frag-pcap.py). Stdlib only: classic pcap
(microseconds, little-endian), Ethernet/IPv4/TCP and Ethernet/IPv6/TCP with correct checksums,
and IPv4/IPv6 fragments of such segments."""
import struct

ETH = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"


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
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ETH + ip + tcp + payload


ETH6 = ETH[:12] + b"\x86\xdd"


def tcp_segment(pseudo, sport, dport, seq, ack, flags, payload):
    """The TCP header and payload; pseudo: the checksum's pseudo-header without the length."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    seglen = len(tcp) + len(payload)
    if len(pseudo) == 32:
        ph = pseudo + struct.pack("!I3xB", seglen, 6)
    else:
        ph = pseudo + struct.pack("!BBH", 0, 6, seglen)
    return tcp[:16] + struct.pack("!H", csum(ph + tcp + payload)) + tcp[18:] + payload


def fragments4(src, dst, ident, datagram, pieces, proto=6):
    """Ethernet/IPv4 fragments of datagram (the IP payload): pieces is a list of
    (offset, length, more) or (offset, bytes, more) for a piece whose bytes are given."""
    out = []
    for off, what, more in pieces:
        data = what if isinstance(what, bytes) else datagram[off:off + what]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident,
                         (0x2000 if more else 0) | off // 8, 64, proto, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        out.append(ETH + ip + data)
    return out


def frame6(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = tcp_segment(src + dst, sport, dport, seq, ack, flags, payload)
    return ETH6 + struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst) + tcp


def fragments6(src, dst, ident, datagram, pieces, proto=6):
    """Ethernet/IPv6 fragments (a fragment header after the fixed header); pieces as for
    fragments4."""
    out = []
    for off, what, more in pieces:
        data = what if isinstance(what, bytes) else datagram[off:off + what]
        frag = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), ident)
        out.append(ETH6 + struct.pack("!IHBB16s16s", 6 << 28, 8 + len(data), 44, 64, src, dst)
                   + frag + data)
    return out


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def write(self, us, fr):
        """us: microseconds since the epoch; the seconds must fit the unsigned 32-bit field."""
        sec, usec = divmod(us, 1_000_000)
        assert 0 <= sec <= 0xFFFFFFFF
        self.f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)) + fr)

    def close(self):
        self.f.close()
