#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_slow_clients.sh - slow or silent local clients cannot keep a real one out of the control
# socket or /metrics, and capture goes on (control.h, metrics_http.h: a deadline for a whole
# request, not per read; a new client evicts the one waiting longest).
#
# While `smtpmon run` captures in a lab namespace, attackers (python3, in the background):
#   - control socket: 40 clients, each sending a byte of a request every 0.5 s and never the
#     newline, reconnecting when cut off; 5 silent ones;
#   - /metrics: 40 clients trickling header bytes, one every 0.5 s, reconnecting when cut off,
#     and 300 idle connections opened at once and reopened when closed.
# Meanwhile, 5 times: `smtpmonctl ping` answers within 2 s and a scrape of /metrics (curl,
# 3 s limit) returns the exposition; an SMTP session through the lab is reported. Before the
# deadlines existed one trickling client held the control socket and 16 held /metrics for as
# long as they kept trickling.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

CTL=build/smtpmonctl
live_lab "smsl$$"
sock=$d/ctl/control.sock
metrics=127.0.0.1:19471
attackers=()
cleanup_attackers() {
	for p in "${attackers[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${attackers[@]}"; do wait "$p" 2>/dev/null; done
	attackers=()
}
trap 'cleanup_attackers; live_cleanup' EXIT

live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --tls off \
	--control "$sock" --metrics-listen "$metrics" || { live_fail "smtpmon starts"; live_done; }

# The attackers run for the whole test; each reconnects when the daemon cuts it off.
lab_srv python3 - "$sock" "${metrics%:*}" "${metrics#*:}" >"$d/attack.log" 2>&1 <<'PY' &
import socket, sys, threading, time

sock_path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def trickle(connect, payload):
    while True:
        try:
            s = connect()
            for b in payload:
                s.send(bytes([b]))
                time.sleep(0.5)
        except OSError:
            time.sleep(0.05)

def silent(connect):
    while True:
        try:
            s = connect()
            s.recv(1)  # returns when the daemon closes it
        except OSError:
            time.sleep(0.05)

def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    return s

def tcp():
    return socket.create_connection((host, port))

control = b'{"version":2,"cmd":"ping"}' * 100       # never a newline
http = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000  # never the blank line
jobs = [(trickle, (unix, control))] * 40 + [(silent, (unix,))] * 5
jobs += [(trickle, (tcp, http))] * 40 + [(silent, (tcp,))] * 300
for fn, args in jobs:
    threading.Thread(target=fn, args=args, daemon=True).start()
print("attacking", flush=True)
time.sleep(3600)
PY
attackers+=($!)
sleep 3 # every attacker connected, the first ones already cut off and back

for round in 1 2 3 4 5; do
	start=$(date +%s%N)
	lab_srv timeout 5 "$CTL" -s "$sock" ping >"$d/ping.$round" 2>&1
	rc=$? ms=$((($(date +%s%N) - start) / 1000000))
	live_check "round $round: smtpmonctl ping answered within 2 s ($ms ms, exit $rc)" \
		test $rc -eq 0 -a $ms -lt 2000
	start=$(date +%s%N)
	lab_srv curl -sS --max-time 3 -o "$d/metrics.$round" "http://$metrics/metrics" 2>"$d/curl.$round"
	rc=$? ms=$((($(date +%s%N) - start) / 1000000))
	live_check "round $round: /metrics scraped ($ms ms, exit $rc $(head -c 100 "$d/curl.$round"))" \
		grep -q '^smtpmon_build_info' "$d/metrics.$round"
	sleep 0.5
done

lab_run_scenario plain >"$d/client.log" 2>&1 || live_fail "plain session: $(tail -3 "$d/client.log")"
lab_wait_idle
sleep 0.5
live_check "capture goes on: the session under attack is reported" \
	grep -q '"event":"smtp_transaction"' "$d/out.json"
live_check "the attackers were running all along" \
	bash -c "kill -0 ${attackers[0]} && grep -q attacking '$d/attack.log'"
cleanup_attackers
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
live_done
