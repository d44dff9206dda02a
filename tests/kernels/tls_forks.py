#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""tls_forks.py - forks that speak TLS at once, for the probes inherited at fork.

    tls_forks.py CERT KEY ADDRESS PORT GO-FILE FORKS

Listens on ADDRESS:PORT (a monitored port: the kernel marks this process for
`--tls-processes smtp` at listen()), then waits until GO-FILE exists (the
caller waits until smtpmon-attach has probed this process). Then, FORKS times:
completes a TLS handshake between two in-memory endpoints (OpenSSL through
Python's ssl, memory BIOs: no socket, and no probed function: SSL_do_handshake),
forks, and the child at once writes 5 bytes on the client end and reads them on
the server end (SSL_write_ex and SSL_read_ex: two probed calls that pass
plaintext), then exits. The parent itself makes no probed call.

A child is probed from its first instruction only by events it inherits: the
attach smtpmon makes for it once the kernel reports the fork comes later than
its two calls. So smtpmon's count of probed calls that passed plaintext
(`calls` of openssl, counted as `no_socket`) is 2 * FORKS when inheritance
works, less when it does not. Prints "forks done" at the end.
"""
import os
import socket
import ssl
import sys
import time


def pump(a_out, b_in):
    data = a_out.read()
    if data:
        b_in.write(data)


def session(server_ctx, client_ctx):
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = set()
    for _ in range(20):
        for name, end in (("client", client), ("server", server)):
            if name in done:
                continue
            try:
                end.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
        pump(c_out, s_in)
        pump(s_out, c_in)
        if len(done) == 2:
            return client, server, c_out, s_in
    sys.exit("tls_forks: the in-memory handshake did not complete")


def main():
    cert, key, address, port, go, forks = sys.argv[1:7]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, int(port)))
    listener.listen()
    while not os.path.exists(go):
        time.sleep(0.05)
    for _ in range(int(forks)):
        client, server, c_out, s_in = session(server_ctx, client_ctx)
        pid = os.fork()
        if pid == 0:
            client.write(b"hello")
            pump(c_out, s_in)
            os._exit(0 if server.read(5) == b"hello" else 1)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            sys.exit("tls_forks: a child failed")
    print("forks done", flush=True)


if __name__ == "__main__":
    main()
