# SPDX-License-Identifier: GPL-2.0-only
"""unit_lab.py - the SMTP server and client of test_unit.sh's container lab.

  unit_lab.py server ADDR PORT...              answer on every PORT until killed
  unit_lab.py client ADDR PORT OUT [PAUSEFILE] one session; its transcript, as smtpmon
                                               should report it, as JSON in OUT; with
                                               PAUSEFILE, waits after EHLO until it exists
  unit_lab.py tls-client ADDR PORT OUT         the same session after EHLO and STARTTLS,
                                               inside TLS (the transcript says which lines)

With UNIT_LAB_CERT=CERT,KEY in its environment the server offers STARTTLS with that
certificate (Python's ssl: OpenSSL's libssl, which smtpmon probes for the plaintext).

The transcript is the oracle: what the client sent and what the server answered, written
the way Zeek (and smtpmon) report it: commands upper-cased, control bytes as \\xNN.
"""
import json, os, socket, ssl, sys, threading, time

EHLO_LINES = [b"250-e2e.example", b"250-PIPELINING", b"250 8BITMIME"]


def server_tls():
    cert = os.environ.get("UNIT_LAB_CERT")
    if not cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert.split(","))
    return ctx


def serve(conn, tls):
    conn.sendall(b"220 e2e.example ESMTP\r\n")
    in_data = False
    ehlo = EHLO_LINES[:-1] + [b"250-STARTTLS", EHLO_LINES[-1]] if tls else EHLO_LINES
    f = conn.makefile("rb")
    while True:
        line = f.readline()  # f changes at STARTTLS
        if not line:
            break
        line = line.rstrip(b"\r\n")
        if in_data:
            if line == b".":
                in_data = False
                conn.sendall(b"250 2.0.0 Ok: queued\r\n")
            continue
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"EHLO":
            conn.sendall(b"\r\n".join(ehlo) + b"\r\n")
        elif verb == b"STARTTLS" and tls:
            conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
            conn = tls.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
            ehlo, tls = EHLO_LINES, None
        elif verb == b"RCPT" and b"bad@" in line:
            conn.sendall(b"550 5.1.1 <bad@e2e.example>: Recipient address rejected\r\n")
        elif verb == b"DATA":
            in_data = True
            conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 2.0.0 Bye\r\n")
            break
        else:
            conn.sendall(b"250 2.1.0 Ok\r\n")
    conn.close()


def server(addr, ports):
    for port in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(16)
        threading.Thread(target=accept_loop, args=(s, server_tls()), daemon=True).start()
    print("listening", flush=True)
    threading.Event().wait()


def accept_loop(s, tls):
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, tls), daemon=True).start()


def zeek_text(b):
    return "".join(chr(c) if 0x20 <= c < 0x7F else "\\x%02x" % c for c in b)


def client(addr, port, out, pause=None, starttls=False):
    s = socket.create_connection((addr, int(port)))
    orig_p = s.getsockname()[1]
    f = s.makefile("rb")
    requests, replies = [], []
    inside = False  # each line of the transcript: [..., inside TLS]

    def read_reply(cmd):
        while True:
            line = f.readline().rstrip(b"\r\n")
            replies.append([int(line[:3]), cmd, zeek_text(line[4:]), line[3:4] == b"-", inside])
            if line[3:4] != b"-":
                return

    def command(line):
        s.sendall(line + b"\r\n")
        verb, _, arg = line.partition(b" ")
        requests.append([zeek_text(verb.upper()), zeek_text(arg), inside])
        read_reply(zeek_text(verb.upper()))

    read_reply(">")
    command(b"EHLO e2e-client\x01")
    if starttls:
        command(b"STARTTLS")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
        f = s.makefile("rb")
        inside = True
        command(b"EHLO e2e-client")
    while pause and not os.path.exists(pause):
        time.sleep(0.05)
    command(b"MAIL FROM:<a@e2e.example>")
    command(b"RCPT TO:<b@e2e.example>")
    command(b"RCPT TO:<bad@e2e.example>")
    command(b"DATA")
    s.sendall(b"Subject: e2e\r\n\r\nhello\r\n.\r\n")
    requests.append([".", ".", inside])
    read_reply(".")
    command(b"QUIT")
    s.close()
    json.dump({"orig_p": orig_p, "resp_p": int(port),
               "requests": requests, "replies": replies}, open(out, "w"))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "tls-client":
        client(*sys.argv[2:5], starttls=True)
    else:
        client(*sys.argv[2:])
