#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""One SMTP session of the kernel-matrix guest (tests/kernels/guest.sh): EHLO, MAIL, two RCPT,
DATA with a body of many segments (so the programs cut and reassemble real multi-segment
traffic), RSET, NOOP, QUIT. Standard library only (smtplib), the server is tools/smtp-sink.py.

usage: smtp_session.py SERVER_ADDR PORT BODY_KB
"""
import smtplib
import sys


def main():
    addr, port, body_kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    line = "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n"
    body = line * (body_kb * 1024 // len(line) + 1)
    msg = ("From: <alice@example.org>\r\nTo: <bob@example.net>\r\n"
           "Subject: kernel matrix over %s\r\n\r\n%s" % (addr, body))
    with smtplib.SMTP(addr, port, local_hostname="client.example.org", timeout=60) as s:
        s.sendmail("alice@example.org", ["bob@example.net", "carol@example.net"], msg)
        s.rset()
        s.noop()


if __name__ == "__main__":
    main()
