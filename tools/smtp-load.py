#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""SMTP load for make bench: real sessions against a real server (the lab's Postfix) or a sink.

usage: smtp-load.py --server ADDR [--port 25] --mb N [--mix lab|bulk] [--workers W] [--seed S]
                    [--from A] [--to B] [--to C] [--reject R] [--summary FILE]

--mix lab (the recorded workload): sessions drawn with a fixed seed from
  attachment  one mail with a 1-5 MB base64 attachment (plain SMTP)
  pipelined   five small mails, each MAIL + several RCPT + DATA sent in one write (PIPELINING),
              one of the recipients refused (--reject) in every other mail
  starttls    STARTTLS, then two 20 KB mails inside TLS
  rejected    MAIL + RCPT of the refused recipient only, RSET, QUIT
--mix bulk (live cost): sessions of ten 8 MB mails, nothing else.
Workers run sessions until N MB of SMTP payload were sent. Every server reply is checked;
any unexpected one fails the run (exit 1). The summary (stdout, or --summary FILE) is JSON:
seconds, bytes sent, sessions and mails per kind, recipients refused.
Standard library only.
"""
import argparse
import base64
import json
import random
import socket
import ssl
import sys
import threading
import time

HELO = "client.lab.example"


class ReplyError(Exception):
    pass


class Session:
    """One SMTP connection; replies are read and checked one by one."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sent = 0
        self.extensions = []

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def reply(self, want, what):
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ReplyError(f"{what}: connection closed (after {lines})")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            lines.append(line.rstrip(b"\r").decode("utf-8", "replace"))
            if len(lines[-1]) < 4 or lines[-1][3] != "-":
                break
        code = int(lines[-1][:3])
        if code != want:
            raise ReplyError(f"{what}: expected {want}, got {lines}")
        return lines

    def greet(self):
        self.reply(220, "greeting")
        self.send(b"EHLO %s\r\n" % HELO.encode())
        self.extensions = [l[4:].split(" ")[0].upper() for l in self.reply(250, "EHLO")]

    def starttls(self):
        self.send(b"STARTTLS\r\n")
        self.reply(220, "STARTTLS")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.lab.example")
        self.send(b"EHLO %s\r\n" % HELO.encode())
        self.reply(250, "EHLO after STARTTLS")

    def mail(self, sender, rcpts, refused, body):
        """MAIL, RCPTs and DATA in one write when the server pipelines, else one by one.
        rcpts that are in `refused` must get 554; body must be dot-stuffed already."""
        cmds = [b"MAIL FROM:<%s>\r\n" % sender.encode()]
        cmds += [b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts]
        cmds.append(b"DATA\r\n")
        wants = [250] + [554 if r in refused else 250 for r in rcpts] + [354]
        if "PIPELINING" in self.extensions:
            self.send(b"".join(cmds))
            for want, cmd in zip(wants, cmds):
                self.reply(want, cmd.decode().strip())
        else:
            for want, cmd in zip(wants, cmds):
                self.send(cmd)
                self.reply(want, cmd.decode().strip())
        self.send(body)
        self.send(b".\r\n")
        self.reply(250, "end of data")

    def quit(self):
        self.send(b"QUIT\r\n")
        self.reply(221, "QUIT")
        self.sock.close()


def message(sender, to, subject, body, extra_headers=b""):
    head = b"From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d@%s>\r\n%s\r\n" % (
        sender.encode(), to.encode(), subject.encode(), time.time_ns(), HELO.encode(),
        extra_headers)
    return head + body


def text_body(rng, nbytes):
    words = [b"mail", b"server", b"queue", b"relay", b"message", b"header", b"body", b"line",
             b"transfer", b"session", b"reply", b"command", b"envelope", b"recipient"]
    lines, total = [], 0
    while total < nbytes:
        line = b" ".join(rng.choice(words) for _ in range(10)) + b"\r\n"
        lines.append(line)
        total += len(line)
    return b"".join(lines)


def attachment_body(rng, nbytes):
    raw = rng.randbytes(nbytes)
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return (b"This is a multi-part message in MIME format.\r\n\r\n--BOUNDARY\r\n"
            b"Content-Type: text/plain\r\n\r\nSee the attachment.\r\n\r\n--BOUNDARY\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n" + b64 +
            b"--BOUNDARY--\r\n")


MIME = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n"
LAB_KINDS = ["attachment", "pipelined", "pipelined", "starttls", "rejected"]


class Load:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.sent = 0
        self.budget = a.mb << 20
        self.sessions = {}
        self.mails = {}
        self.refused = 0
        self.errors = []
        self.bulk_body = text_body(random.Random(a.seed), 8 << 20) if a.mix == "bulk" else None

    def account(self, kind, s, mails, refused):
        with self.lock:
            self.sent += s.sent
            self.sessions[kind] = self.sessions.get(kind, 0) + 1
            self.mails[kind] = self.mails.get(kind, 0) + mails
            self.refused += refused

    def more(self):
        with self.lock:
            return self.sent < self.budget and not self.errors

    def session(self, kind, rng):
        a = self.a
        s = Session(a.server, a.port)
        s.greet()
        mails = refused = 0
        if kind == "attachment":
            body = attachment_body(rng, rng.randint(1 << 20, 5 << 20) * 3 // 4)
            s.mail(a.sender, [a.to[0]], set(), message(a.sender, a.to[0], "attachment", body, MIME))
            mails = 1
        elif kind == "pipelined":
            for i in range(5):
                rcpts = list(a.to) + ([a.reject] if i % 2 == 0 else [])
                s.mail(a.sender, rcpts, {a.reject},
                       message(a.sender, a.to[0], f"small {i}", text_body(rng, 2000)))
                mails += 1
                refused += i % 2 == 0
        elif kind == "starttls":
            s.starttls()
            for i in range(2):
                s.mail(a.sender, [a.to[0]], set(),
                       message(a.sender, a.to[0], f"tls {i}", text_body(rng, 20000)))
                mails += 1
        elif kind == "rejected":
            s.send(b"MAIL FROM:<%s>\r\n" % a.sender.encode())
            s.reply(250, "MAIL")
            s.send(b"RCPT TO:<%s>\r\n" % a.reject.encode())
            s.reply(554, "RCPT of the refused recipient")
            s.send(b"RSET\r\n")
            s.reply(250, "RSET")
            refused = 1
        elif kind == "bulk":
            for i in range(10):
                s.mail(a.sender, [a.to[0]], set(),
                       message(a.sender, a.to[0], f"bulk {i}", self.bulk_body))
                mails += 1
        s.quit()
        self.account(kind, s, mails, refused)

    def worker(self, n):
        rng = random.Random(self.a.seed * 1000 + n)
        i = n
        try:
            while self.more():
                kind = "bulk" if self.a.mix == "bulk" else LAB_KINDS[i % len(LAB_KINDS)]
                self.session(kind, rng)
                i += 1
        except (OSError, ReplyError) as e:
            with self.lock:
                self.errors.append(f"worker {n}: {e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--mb", type=int, required=True, help="stop after this much SMTP payload")
    p.add_argument("--mix", choices=["lab", "bulk"], default="lab")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--from", dest="sender", default="sender@client.example")
    p.add_argument("--to", action="append", help="accepted recipients (repeatable)")
    p.add_argument("--reject", default="nobody@lab.example", help="a recipient the server refuses")
    p.add_argument("--summary", help="write the JSON summary here instead of stdout")
    a = p.parse_args()
    a.to = a.to or ["bob@lab.example", "carol@lab.example"]
    load = Load(a)
    start = time.monotonic()
    threads = [threading.Thread(target=load.worker, args=(n,)) for n in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = {"seconds": round(time.monotonic() - start, 4), "bytes": load.sent,
               "sessions": load.sessions, "mails": load.mails, "refused_rcpts": load.refused}
    text = json.dumps(summary, sort_keys=True)
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    if load.errors:
        print("smtp-load: " + "; ".join(load.errors), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
