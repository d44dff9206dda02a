#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The scripted sessions of test_stats.sh, and the expected statistics they imply.

usage: stats_client.py --server ADDR --from A --to B --to2 C --rejected D --hold DIR OUT.json

Plays a fixed list of SMTP sessions against the lab's Postfix, waiting for every reply (no
pipelining), and counts from the client's side what smtpmon must report: commands sent in
clear text by verb ("." is END_OF_DATA), replies received in clear text by class (a multi-line
reply once), STARTTLS upgrades (a 220 to STARTTLS followed by a TLS handshake), words that are
not SMTP commands, and sessions. What is said inside TLS is invisible to smtpmon and not
counted. One session stops after its recipients until DIR/release exists (it writes
DIR/ready first), so the test can look at it with `smtpmonctl sessions`.
Exit status 0 when every reply was the one the script expects, 1 otherwise.
"""
import argparse
import collections
import json
import os
import socket
import ssl
import sys
import time

HELO = "stats.lab.example"

expected = {
    "commands": collections.Counter(),
    "replies": collections.Counter(),
    "starttls_upgrades": 0,
    "unknown_commands": 0,
    "sessions": 0,
}


def fail(msg):
    print(f"stats_client: {msg}", file=sys.stderr)
    sys.exit(1)


class Session:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.clear = True
        expected["sessions"] += 1
        self.expect(220)

    def reply(self):
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                fail("connection closed while waiting for a reply")
            lines.append(line)
            if line[3:4] != b"-":
                break
        code = int(lines[-1][:3])
        if self.clear:
            expected["replies"][f"{code // 100}xx"] += 1
        return code, lines

    def expect(self, *codes):
        code, lines = self.reply()
        if code not in codes:
            fail(f"wanted {codes}, got {b''.join(lines)!r}")
        return code

    def cmd(self, line, *codes, verb=None):
        self.sock.sendall(line.encode() + b"\r\n")
        if self.clear:
            if verb is None:
                word = line.split(" ", 1)[0].upper()
                verb = word if word != "." else "END_OF_DATA"
            if verb == "unknown":
                expected["unknown_commands"] += 1
            else:
                expected["commands"][verb] += 1
        return self.expect(*codes)

    def starttls(self):
        self.cmd("STARTTLS", 220)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.file = self.sock.makefile("rb")
        self.clear = False
        expected["starttls_upgrades"] += 1

    def mail(self, frm, rcpts):
        self.cmd(f"MAIL FROM:<{frm}>", 250)
        for r in rcpts:
            self.cmd(f"RCPT TO:<{r}>", 250)
        self.cmd("DATA", 354)
        self.sock.sendall(b"Subject: stats\r\n\r\nline one\r\n..dot-stuffed line\r\n")
        self.cmd(".", 250)

    def quit(self):
        self.cmd("QUIT", 221)
        self.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--from", dest="frm", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--to2", required=True)
    ap.add_argument("--rejected", required=True)
    ap.add_argument("--hold", required=True)
    ap.add_argument("out")
    a = ap.parse_args()

    # 1: a plain mail
    s = Session(a.server, 25)
    s.cmd(f"EHLO {HELO}", 250)
    s.mail(a.frm, [a.to])
    s.quit()

    # 2: HELO, a refused recipient, RSET, NOOP, a word that is no command
    s = Session(a.server, 25)
    s.cmd(f"HELO {HELO}", 250)
    s.cmd(f"MAIL FROM:<{a.frm}>", 250)
    s.cmd(f"RCPT TO:<{a.to}>", 250)
    s.cmd(f"RCPT TO:<{a.rejected}>", 554)
    s.cmd("RSET", 250)
    s.cmd("NOOP", 250)
    s.cmd("FROBNICATE now", 500, verb="unknown")
    s.quit()

    # 3: STARTTLS on 25, then a mail nobody can see
    s = Session(a.server, 25)
    s.cmd(f"EHLO {HELO}", 250)
    s.starttls()
    s.cmd(f"EHLO {HELO}", 250)
    s.mail(a.frm, [a.to, a.to2])
    s.quit()

    # 4: submission refuses mail before STARTTLS
    s = Session(a.server, 587)
    s.cmd(f"EHLO {HELO}", 250)
    s.cmd(f"MAIL FROM:<{a.frm}>", 530)
    s.starttls()
    s.cmd(f"EHLO {HELO}", 250)
    s.quit()

    # 5: a recipient before MAIL, then two mails in one session
    s = Session(a.server, 25)
    s.cmd(f"EHLO {HELO}", 250)
    s.cmd(f"RCPT TO:<{a.to}>", 503)
    s.mail(a.frm, [a.to])
    s.mail(a.frm, [a.to2, a.to])
    s.quit()

    # 6: held open after its recipients (one refused), for smtpmonctl sessions
    s = Session(a.server, 25)
    s.cmd(f"EHLO {HELO}", 250)
    s.cmd(f"MAIL FROM:<{a.frm}>", 250)
    s.cmd(f"RCPT TO:<{a.to}>", 250)
    s.cmd(f"RCPT TO:<{a.rejected}>", 554)
    s.cmd(f"RCPT TO:<{a.to2}>", 250)
    open(os.path.join(a.hold, "ready"), "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(a.hold, "release")):
        if time.time() > deadline:
            fail("never released")
        time.sleep(0.05)
    s.cmd("RSET", 250)
    s.quit()

    with open(a.out, "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


main()
