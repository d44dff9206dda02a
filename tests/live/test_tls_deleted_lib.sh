#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_deleted_lib.sh - a server whose libssl.so.3 was deleted while it runs (what a
# package upgrade leaves: the old file, still mapped, no longer on disk) is probed
# (docs/tls-plaintext.md, "Which libraries").
#
# A CPython ssl server on 465 (implicit TLS) in the server's namespace runs on a private copy of
# libssl.so.3, which is deleted once it listens. smtpmon starts after that, with the default
# --tls-processes (per process here, the probes defined in tracefs on the deleted file
# through /proc/self/fd/N): it finds the file through the server's /proc/PID/map_files and
# probes the server, found by the kernel's scan. A client on another private copy (which
# appears after smtpmon started, so it is not probed), CPython's ssl too, talks to it: the server's lines
# inside TLS are reported ("tls": true), the session is not counted unseen.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
live_need_root
lab_init "smdl$$" || exit 1
trap live_cleanup EXIT
lab_netns || exit 1
d=$LAB_DIR

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=deleted-lib \
	-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null || live_fail "a certificate"
live_private_libssl "$d/srvlib" || live_fail "a private copy of libssl.so.3 for the server"
# CPython's ssl (SSL_read_ex, SSL_write_ex) as an implicit-TLS server for one session.
lab_srv env LD_LIBRARY_PATH="$d/srvlib" timeout 60 python3 -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.create_server((sys.argv[1], 465))
conn, _ = ls.accept()
with ctx.wrap_socket(conn, server_side=True) as s:
    s.sendall(b"220 deleted-lib.example ESMTP\r\n")
    s.recv(4096)
    s.sendall(b"221 bye\r\n")
' "$LAB_SRV4" "$d/cert.pem" "$d/key.pem" >"$d/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do lab_srv ss -Hltn 'sport = :465' | grep -q . && break; sleep 0.05; done
rm "$d/srvlib/libssl.so.3"
pid=$(lab_srv ss -Hltnp 'sport = :465' | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
live_check "the server (pid ${pid:-none}) maps its libssl.so.3, deleted" \
	grep -q 'srvlib/libssl.so.3 (deleted)' "/proc/${pid:-0}/maps"

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --control none ||
	{ live_fail "smtpmon starts"; live_done; }
# One process maps it, in several pieces: counted once.
live_check "the deleted library is probed ($(grep 'srvlib' "$d/err" | head -1))" \
	grep -q '^smtpmon: TLS plaintext from .*srvlib/libssl.so.3 (deleted) (openssl, 1 processes map it)' "$d/err"
live_check "per process, the probes in tracefs" \
	bash -c "! grep -q 'tracefs probes:\|not per process:' '$d/err'"

live_private_libssl "$d/clilib" || live_fail "a private copy of libssl.so.3 for the client"
lab_cli env LD_LIBRARY_PATH="$d/clilib" timeout 20 python3 -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with ctx.wrap_socket(socket.create_connection((sys.argv[1], 465))) as s:
    print(s.recv(4096).decode(), end="")
    s.sendall(b"QUIT\r\n")
    print(s.recv(4096).decode(), end="")
' "$LAB_SRV4" >"$d/client.out" 2>&1
wait "$server"
live_check "a line went both ways over TLS" grep -aq '^221 bye' "$d/client.out"

sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
live_check "the server's reply inside TLS, from the deleted library's probes" \
	bash -c "jq -c 'select(.event == \"smtp_reply\" and .tls == true and .code == 220)' '$d/out.json' | grep -q ."
live_check "no session unseen ($(grep -o 'sessions_unseen [0-9]*' "$d/err"))" \
	grep -q 'sessions_unseen 0$' "$d/err"
live_done
