#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Lab SMTP clients that swaks cannot play: raw BDAT, bare LF, a reset inside DATA,
IPv6 and concurrent sessions. Standard library only.

usage: smtp_client.py SCENARIO --server ADDR [--port N] --from A --to B [--to C] [...]
Exit status 0 when the session went as the scenario expects, 1 otherwise (with the reason).
"""
import argparse
import smtplib
import socket
import struct
import sys
import threading
import time

HELO = "client.lab.example"


def fail(msg):
    print(f"smtp_client: {msg}", file=sys.stderr)
    sys.exit(1)


def message(frm, to, subject, body_lines, eol="\r\n"):
    head = [f"From: <{frm}>", f"To: <{to}>", f"Subject: {subject}",
            "Message-ID: <%d.%s@client.lab.example>" % (time.time_ns(), subject.replace(" ", "-"))]
    return eol.join(head + [""] + body_lines) + eol


class Raw:
    """A line-level SMTP client on a plain socket, for byte-exact sessions."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """Read one (possibly multi-line) reply; return (code, [lines])."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    fail(f"connection closed while waiting for a reply (got {lines})")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def expect(self, code, what):
        got, lines = self.reply()
        if got != code:
            fail(f"{what}: expected {code}, got {lines}")
        return lines

    def close(self):
        self.sock.close()


def scenario_bdat(a):
    """Two messages by BDAT: one in three chunks (the last as 'BDAT n LAST'), one as a chunk
    followed by 'BDAT 0 LAST'. Each BDAT command is sent in its own write, then its octets."""
    c = Raw(a.server, a.port)
    c.expect(220, "greeting")
    c.send(f"EHLO {HELO}\r\n")
    if not any("CHUNKING" in l for l in c.expect(250, "EHLO")):
        fail("server does not offer CHUNKING")
    body = message(a.sender, a.to[0], "bdat chunks", ["first line", "second line", ".dot line"]).encode()
    chunks = [body[:40], body[40:90], body[90:]]
    c.send(f"MAIL FROM:<{a.sender}> BODY=8BITMIME\r\n")
    c.expect(250, "MAIL")
    c.send(f"RCPT TO:<{a.to[0]}>\r\n")
    c.expect(250, "RCPT")
    for i, chunk in enumerate(chunks):
        last = " LAST" if i == len(chunks) - 1 else ""
        c.send(f"BDAT {len(chunk)}{last}\r\n")
        time.sleep(0.05)  # the command line in its own segment, then the octets
        c.send(chunk)
        c.expect(250, f"BDAT chunk {i}")
    body2 = message(a.sender, a.to[0], "bdat zero last", ["only chunk"]).encode()
    c.send(f"MAIL FROM:<{a.sender}>\r\n")
    c.expect(250, "MAIL 2")
    c.send(f"RCPT TO:<{a.to[0]}>\r\n")
    c.expect(250, "RCPT 2")
    c.send(f"BDAT {len(body2)}\r\n")
    time.sleep(0.05)
    c.send(body2)
    c.expect(250, "BDAT 2")
    c.send("BDAT 0 LAST\r\n")
    c.expect(250, "BDAT 0 LAST")
    c.send("QUIT\r\n")
    c.expect(221, "QUIT")
    c.close()


def scenario_bare_lf(a):
    """A whole session with bare LF line endings, commands and message alike. Postfix may
    accept or refuse it; whatever it answers is recorded, only a hang is a failure."""
    c = Raw(a.server, a.port)
    c.expect(220, "greeting")
    c.send(f"EHLO {HELO}\n")
    code, lines = c.reply()
    print(f"bare-lf: EHLO -> {code}", file=sys.stderr)
    c.send(f"MAIL FROM:<{a.sender}>\n")
    print(f"bare-lf: MAIL -> {c.reply()[0]}", file=sys.stderr)
    c.send(f"RCPT TO:<{a.to[0]}>\n")
    print(f"bare-lf: RCPT -> {c.reply()[0]}", file=sys.stderr)
    c.send("DATA\n")
    code, _ = c.reply()
    print(f"bare-lf: DATA -> {code}", file=sys.stderr)
    if code == 354:
        c.send(message(a.sender, a.to[0], "bare lf", ["line one", "..stuffed", "line three"], eol="\n"))
        c.send(".\n")
        print(f"bare-lf: end of data -> {c.reply()[1]}", file=sys.stderr)
    c.send("QUIT\n")
    c.reply()
    c.close()


def scenario_reset_in_data(a):
    """Half a message body, then the socket is closed with RST (SO_LINGER 0)."""
    c = Raw(a.server, a.port)
    c.expect(220, "greeting")
    c.send(f"EHLO {HELO}\r\n")
    c.expect(250, "EHLO")
    c.send(f"MAIL FROM:<{a.sender}>\r\n")
    c.expect(250, "MAIL")
    c.send(f"RCPT TO:<{a.to[0]}>\r\n")
    c.expect(250, "RCPT")
    c.send("DATA\r\n")
    c.expect(354, "DATA")
    c.send(message(a.sender, a.to[0], "reset inside data", ["this message is never finished"]))
    c.send("QUIT would be a body line here\r\nstill body\r\n")
    time.sleep(0.1)  # let the body reach the server before the reset
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def send_with_smtplib(a, host, subject, lines, count=1):
    with smtplib.SMTP(host, a.port, local_hostname=HELO, timeout=20) as s:
        for i in range(count):
            refused = s.sendmail(a.sender, a.to, message(a.sender, a.to[0], f"{subject} {i}", lines))
            if refused:
                fail(f"refused recipients: {refused}")


def scenario_ipv6(a):
    """A plain message over IPv6 with smtplib."""
    if ":" not in a.server:
        fail("ipv6 scenario needs an IPv6 server address")
    send_with_smtplib(a, a.server, "over ipv6", ["sent over IPv6"])


def scenario_concurrent(a):
    """16 sessions at the same time, each sending two messages."""
    errors = []
    start = threading.Barrier(16)

    def one(n):
        try:
            start.wait()
            send_with_smtplib(a, a.server, f"concurrent {n}", [f"session {n}"] * 20, count=2)
        except BaseException as e:  # SystemExit from fail() included
            errors.append(f"session {n}: {e!r}")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("; ".join(errors))


SCENARIOS = {
    "bdat": scenario_bdat,
    "bare-lf": scenario_bare_lf,
    "reset-in-data": scenario_reset_in_data,
    "ipv6": scenario_ipv6,
    "concurrent": scenario_concurrent,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    a = p.parse_args()
    try:
        SCENARIOS[a.scenario](a)
    except (OSError, smtplib.SMTPException) as e:
        fail(f"{a.scenario}: {e!r}")


if __name__ == "__main__":
    main()
