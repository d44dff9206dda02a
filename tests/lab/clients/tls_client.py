#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Lab SMTP sessions inside TLS, with CPython's smtplib and ssl (OpenSSL's SSL_read_ex and
SSL_write_ex), each writing its TLS secrets to a key log (NSS key log format, appended) so
that tshark can decrypt a capture of it. Standard library only.

usage: tls_client.py SCENARIO --server ADDR [--port N] --from A --to B [--to C]
                     --keylog FILE [--user U --password P] [--refused R]

Scenarios (the port defaults to the scenario's own):
  starttls      EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA, QUIT                      (25)
  auth-plain    STARTTLS, AUTH PLAIN with an initial response, one message          (587)
  auth-login    STARTTLS, AUTH LOGIN (username and password after 334 prompts), one message (587)
  implicit      TLS from the first byte, AUTH PLAIN, one message                    (465)
  pipelined     STARTTLS, MAIL/RCPT/RCPT/DATA in one write (PIPELINING), one message (25)
  refused-rcpt  STARTTLS, a recipient that is refused with 554, a message to the other (25)
  postscreen    against the lab's LAB_POSTSCREEN=1 variant: a first session with postscreen's
                own SMTP engine (STARTTLS served by tlsproxy) deferred at RCPT with 450, then a
                second one, handed to smtpd, with a message (25)

The transcript goes to stdout, in swaks' notation: '->'/'<-' in the clear, '~>'/'<~' inside
TLS, replies with two spaces after the arrow ('<~  250 2.0.0 Ok'), notes after '#'. AUTH
payloads are shown as they were sent (the lab's own throwaway credentials). Exit status 0
when the session went as the scenario expects, 1 otherwise (with the reason on stderr).
"""
import argparse
import smtplib
import ssl
import sys
import time

HELO = "client.lab.example"
PORTS = {"starttls": 25, "auth-plain": 587, "auth-login": 587, "implicit": 465,
         "pipelined": 25, "refused-rcpt": 25, "postscreen": 25}


def fail(msg):
    print(f"tls_client: {msg}", file=sys.stderr)
    sys.exit(1)


def context(keylog):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
    ctx.keylog_filename = keylog  # OpenSSL's keylog callback; CPython appends to the file
    return ctx


class Traced:
    """smtplib with a transcript: every line sent and received, marked inside TLS."""

    def _tls(self):
        return isinstance(self.sock, ssl.SSLSocket)

    def send(self, s):
        data = s.decode("ascii", "replace") if isinstance(s, bytes) else s
        arrow = "~>" if self._tls() else "->"
        # A message body is shown as one line per line, like the commands.
        for line in data.split("\r\n")[:-1] if data.endswith("\r\n") else [data]:
            print(f"{arrow} {line}")
        super().send(s)

    def getreply(self):
        arrow = "<~" if self._tls() else "<-"
        code, msg = super().getreply()
        lines = msg.decode("utf-8", "replace").split("\n") or [""]
        for i, line in enumerate(lines):
            sep = "-" if i < len(lines) - 1 else " "
            print(f"{arrow}  {code}{sep}{line}")
        sys.stdout.flush()
        return code, msg


class SMTP(Traced, smtplib.SMTP):
    pass


class SMTP_SSL(Traced, smtplib.SMTP_SSL):
    pass


def message(a, subject):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d.%s@%s>\r\n\r\n"
            "a message sent inside TLS\r\n.a line that starts with a dot (stuffed on the wire)\r\nlast line\r\n"
            % (a.sender, a.to[0], subject, time.time_ns(), subject.replace(" ", "-"), HELO))


def expect(got, code, what):
    if got[0] != code:
        fail(f"{what}: expected {code}, got {got[0]} {got[1]!r}")
    return got


def starttls(a):
    s = SMTP(a.server, a.port, local_hostname=HELO, timeout=20)
    expect(s.ehlo(), 250, "EHLO")
    if not s.has_extn("starttls"):
        fail("the server does not offer STARTTLS")
    expect(s.starttls(context=context(a.keylog)), 220, "STARTTLS")
    expect(s.ehlo(), 250, "EHLO inside TLS")
    return s


def send_message(s, a, subject, rcpts=None):
    rcpts = rcpts or a.to
    expect(s.mail(a.sender), 250, "MAIL")
    for r in rcpts:
        expect(s.rcpt(r), 250, f"RCPT {r}")
    expect(s.data(message(a, subject)), 250, "end of data")


def quit(s):
    expect(s.docmd("QUIT"), 221, "QUIT")
    s.close()


def scenario_starttls(a):
    s = starttls(a)
    send_message(s, a, "starttls")
    quit(s)


def scenario_auth_plain(a):
    s = starttls(a)
    s.user, s.password = a.user, a.password
    expect(s.auth("PLAIN", s.auth_plain), 235, "AUTH PLAIN")  # initial response on the line
    send_message(s, a, "auth plain")
    quit(s)


def scenario_auth_login(a):
    s = starttls(a)
    s.user, s.password = a.user, a.password
    # No initial response: AUTH LOGIN, 334, username, 334, password, 235.
    expect(s.auth("LOGIN", s.auth_login, initial_response_ok=False), 235, "AUTH LOGIN")
    send_message(s, a, "auth login")
    quit(s)


def scenario_implicit(a):
    s = SMTP_SSL(a.server, a.port, local_hostname=HELO, timeout=20, context=context(a.keylog))
    expect(s.ehlo(), 250, "EHLO")
    s.user, s.password = a.user, a.password
    expect(s.auth("PLAIN", s.auth_plain), 235, "AUTH PLAIN")
    send_message(s, a, "implicit tls")
    quit(s)


def scenario_pipelined(a):
    s = starttls(a)
    if not s.has_extn("pipelining"):
        fail("the server does not offer PIPELINING inside TLS")
    # MAIL, two RCPT and DATA in one write: one TLS record.
    cmds = [f"MAIL FROM:<{a.sender}>"] + [f"RCPT TO:<{r}>" for r in a.to[:2]] + ["DATA"]
    print(f"# {len(cmds)} commands in one write")
    s.send("".join(c + "\r\n" for c in cmds))
    for c, code in zip(cmds, [250] * (len(cmds) - 1) + [354]):
        expect(s.getreply(), code, f"pipelined {c.split()[0]}")
    s.send(smtplib.quotedata(message(a, "pipelined")) + ".\r\n")
    expect(s.getreply(), 250, "end of data")
    quit(s)


def scenario_refused_rcpt(a):
    if not a.refused:
        fail("refused-rcpt needs --refused")
    s = starttls(a)
    expect(s.mail(a.sender), 250, "MAIL")
    expect(s.rcpt(a.refused), 554, f"RCPT {a.refused} (refused)")
    expect(s.rcpt(a.to[0]), 250, f"RCPT {a.to[0]}")
    expect(s.data(message(a, "refused rcpt")), 250, "end of data")
    quit(s)


def scenario_postscreen(a):
    s = starttls(a)
    expect(s.mail(a.sender), 250, "MAIL (postscreen)")
    code, msg = s.rcpt(a.to[0])
    if code == 250:
        fail("RCPT got 250 at once: postscreen did not test this client (cached already?)")
    expect((code, msg), 450, "RCPT deferred by postscreen's deep protocol tests")
    quit(s)
    print("# second session: the client passed postscreen's tests")
    s = starttls(a)
    send_message(s, a, "after postscreen")
    quit(s)


SCENARIOS = {
    "starttls": scenario_starttls,
    "auth-plain": scenario_auth_plain,
    "auth-login": scenario_auth_login,
    "implicit": scenario_implicit,
    "pipelined": scenario_pipelined,
    "refused-rcpt": scenario_refused_rcpt,
    "postscreen": scenario_postscreen,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--refused")
    p.add_argument("--keylog", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    a.port = a.port or PORTS[a.scenario]
    try:
        SCENARIOS[a.scenario](a)
    except (OSError, smtplib.SMTPException) as e:
        fail(f"{a.scenario}: {e!r}")


if __name__ == "__main__":
    main()
