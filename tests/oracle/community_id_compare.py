#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""community_id_compare.py SMTPMON PCAP... - the community_id of every
smtp_connection smtpmon writes for each capture against the one tshark's
communityid dissector computes for the same TCP 4-tuple.

Prints one line per capture and a total; exit 0 when every connection agrees
(and at least one was compared), 1 otherwise, 2 on a setup error."""
import ipaddress
import json
import subprocess
import sys


def tshark_ids(pcap):
    cmd = ["tshark", "--enable-protocol", "communityid", "-n", "-r", pcap, "-Y", "tcp",
           "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
           "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "communityid"]
    # a capture cut short makes tshark exit 2 after it printed every packet it read
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ids = {}
    for line in out.stdout.decode().splitlines():
        f = line.split("\t")
        if len(f) != 7 or not f[6]:
            continue
        src, dst = f[0] or f[1], f[3] or f[4]
        if "," in src + dst + f[2] + f[5]:  # an ICMP error quoting a TCP header
            continue
        a = (str(ipaddress.ip_address(src)), int(f[2]))
        b = (str(ipaddress.ip_address(dst)), int(f[5]))
        ids.setdefault(frozenset((a, b)), set()).add(f[6])
    return ids


def main():
    smtpmon, pcaps = sys.argv[1], sys.argv[2:]
    total = bad = 0
    for pcap in pcaps:
        r = subprocess.run([smtpmon, "read", "-q", "--events", "smtp_connection",
                            "--ports", "25,465,587,8240", pcap],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            print("community_id_compare: %s: exit %d" % (pcap, r.returncode), file=sys.stderr)
            return 2
        ids = tshark_ids(pcap)
        n = 0
        for line in r.stdout.decode().splitlines():
            e = json.loads(line)
            a = (str(ipaddress.ip_address(e["id.orig_h"])), e["id.orig_p"])
            b = (str(ipaddress.ip_address(e["id.resp_h"])), e["id.resp_p"])
            theirs = ids.get(frozenset((a, b)))
            n += 1
            if theirs is None:
                print("  %s: %s:%d-%s:%d: tshark has no id" % (pcap, a[0], a[1], b[0], b[1]))
                bad += 1
            elif e.get("community_id") not in theirs:
                print("  MISMATCH %s: %s:%d-%s:%d: smtpmon %s, tshark %s"
                      % (pcap, a[0], a[1], b[0], b[1], e.get("community_id"),
                         ",".join(sorted(theirs))))
                bad += 1
        total += n
    print("community_id: %d connections compared, %d differ" % (total, bad))
    return 0 if total and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
