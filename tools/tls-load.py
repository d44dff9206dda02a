#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""TLS load for make bench (tools/bench-tls.sh): bulk mail over STARTTLS to tools/smtp-sink.py,
or bulk bytes over TLS to a discard server on another port (a non-SMTP TLS workload).
Prints the seconds the transfer took. Standard library only (CPython's ssl: OpenSSL's
SSL_write_ex / SSL_read_ex).

usage: tls-load.py smtp SERVER PORT MB [RCPT]   mails of 8 MB (headers, a text body) over STARTTLS, one session each
       tls-load.py raw SERVER PORT MB        MB megabytes over one TLS connection
       tls-load.py discard ADDR PORT CERT KEY   the discard server for raw
"""
import socket
import ssl
import sys
import threading
import time

BLOCK = 64 * 1024
MAIL_MB = 8


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def expect(f, code):
    while True:
        line = f.readline()
        if not line.startswith(code):
            raise SystemExit("unexpected reply %r (want %s)" % (line, code))
        if line[3:4] != b"-":
            return


def connect(server, port):
    """TCP_NODELAY, as the sink sets on its side. Without it the transfers waited on Nagle's
    algorithm and delayed ACKs: 2.5-2.9 s per 400 MB of mail with both CPUs mostly idle,
    0.49-0.54 s with it (2026-12-05), and anything that moved the ACKs' timing moved the
    figure (smtpmon attached in copy mode made it twice as fast), so the bench measured
    timers, not what the probes cost."""
    sock = socket.create_connection((server, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def smtp_session(server, port, body, ctx, rcpt):
    sock = connect(server, port)
    f = sock.makefile("rb")
    expect(f, b"220")
    sock.sendall(b"EHLO load.example\r\n")
    expect(f, b"250")
    sock.sendall(b"STARTTLS\r\n")
    expect(f, b"220")
    tls = ctx.wrap_socket(sock)
    f = tls.makefile("rb")
    tls.sendall(b"EHLO load.example\r\n")
    expect(f, b"250")
    tls.sendall(b"MAIL FROM:<load@client.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
    expect(f, b"250")
    expect(f, b"250")
    expect(f, b"354")
    for i in range(0, len(body), BLOCK):
        tls.sendall(body[i:i + BLOCK])
    tls.sendall(b".\r\nQUIT\r\n")
    expect(f, b"250")
    expect(f, b"221")
    tls.close()


def main():
    mode = sys.argv[1]
    if mode == "discard":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv = socket.create_server((sys.argv[2], int(sys.argv[3])))

        def drain(conn):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                while tls.recv(1 << 20):
                    pass
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()
    server, port, mb = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = client_context()
    start = time.monotonic()
    if mode == "smtp":
        rcpt = sys.argv[5] if len(sys.argv) > 5 else "sink@bench.example"
        # A mail as clients send them: a header block, a blank line, a text body (one
        # text/plain file with its digests). Without the blank line every line was a
        # header line to the MIME parser.
        head = (b"From: <load@client.example>\r\nTo: <%s>\r\nSubject: tls bulk\r\n"
                b"Message-ID: <bulk@client.example>\r\n\r\n" % rcpt.encode())
        line = b"x" * 76 + b"\r\n"
        body = head + line * (MAIL_MB * 1024 * 1024 // len(line))
        for _ in range(max(1, mb // MAIL_MB)):
            smtp_session(server, port, body, ctx, rcpt)
    else:
        block = b"y" * BLOCK
        with ctx.wrap_socket(connect(server, port)) as tls:
            for _ in range(mb * 1024 * 1024 // BLOCK):
                tls.sendall(block)
    print("%.4f" % (time.monotonic() - start))


if __name__ == "__main__":
    main()
