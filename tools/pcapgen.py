# SPDX-License-Identifier: GPL-2.0-only
"""pcapgen - the frames and the file format of the generated captures (tools/gen-state-pcap.py,
tests/tools/gen-sessions-pcap.py). Stdlib only: classic pcap (microseconds, little-endian),
Ethernet/IPv4/TCP with correct checksums."""
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
