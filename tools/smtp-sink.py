#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A plain SMTP sink for the live benchmark: so that the MTA is not the bottleneck, it answers
every command with 250 (DATA with 354, QUIT with 221), finds each message's end (CRLF . CRLF)
with one C-speed search per received block and throws the message away. PIPELINING is
offered and honoured. With a certificate and key, STARTTLS is offered too (the TLS benchmark,
tools/bench-tls.sh); SSLKEYLOGFILE names a file for its TLS key log (tshark decrypts with it).
One thread per connection. Standard library only.

usage: smtp-sink.py ADDR [PORT [CERT KEY]]
"""
import os
import socket
import ssl
import sys
import threading

END = b"\r\n.\r\n"
EHLO = b"250-sink.bench.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000000000\r\n"
TLS = None  # an ssl.SSLContext when STARTTLS is offered


def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"220 sink.bench.example ESMTP\r\n")
    buf = bytearray()
    in_data = False
    block = bytearray(1 << 20)
    view = memoryview(block)
    while True:
        n = conn.recv_into(block)
        if not n:
            break
        buf += view[:n]
        out = []
        while True:
            if in_data:
                # The body started with the line after DATA, so a CRLF is in front of it.
                end = buf.find(END)
                if end < 0:
                    del buf[: max(0, len(buf) - len(END) + 1)]
                    break
                del buf[: end + len(END)]
                in_data = False
                out.append(b"250 2.0.0 Ok: discarded\r\n")
                continue
            nl = buf.find(b"\n")
            if nl < 0:
                break
            verb = bytes(buf[:4]).upper()
            del buf[: nl + 1]
            if verb == b"EHLO":
                out.append(EHLO.replace(b"250 SIZE", b"250-STARTTLS\r\n250 SIZE") if TLS else EHLO)
            elif verb == b"STAR" and TLS:
                conn.sendall(b"".join(out) + b"220 go ahead\r\n")
                out = []
                conn = TLS.wrap_socket(conn, server_side=True)
                del buf[:]
            elif verb == b"DATA":
                out.append(b"354 go ahead\r\n")
                in_data = True
                buf[0:0] = b"\r\n"
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                conn.sendall(b"".join(out))
                conn.close()
                return
            else:
                out.append(b"250 Ok\r\n")
        if out:
            conn.sendall(b"".join(out))
    conn.close()


def main():
    global TLS
    if len(sys.argv) > 4:
        TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS.load_cert_chain(sys.argv[3], sys.argv[4])
        if os.environ.get("SSLKEYLOGFILE"):
            TLS.keylog_filename = os.environ["SSLKEYLOGFILE"]
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    srv = socket.create_server((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25),
                               family=family, backlog=128)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
