#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A minimal SMTP server whose RCPT reply names the recipient it read, so that a test knows
which bytes the Linux TCP stack handed to the application. Everything else gets 250 (QUIT:
221, then close). Serves connections one after another until killed. Standard library only.

usage: rcpt_echo_server.py ADDR [PORT]
"""
import socket
import sys


def serve(conn):
    conn.sendall(b"220 echo.lab.example ESMTP\r\n")
    buf = b""
    while True:
        data = conn.recv(4096)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if line.upper().startswith(b"RCPT TO:"):
                conn.sendall(b"250 2.1.5 recipient " + line[8:] + b" ok\r\n")
            elif line.upper() == b"QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


def main():
    srv = socket.create_server((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
    while True:
        conn, _ = srv.accept()
        with conn:
            serve(conn)


if __name__ == "__main__":
    main()
