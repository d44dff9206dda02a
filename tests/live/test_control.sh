#!/bin/bash
# test_control.sh - operations around `smtpmon run`: the control socket served to smtpmonctl
# (live statistics while capturing), and the systemd notify protocol (READY=1 once attached,
# STOPPING=1 on SIGTERM), with a fake manager socket standing in for PID 1.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

CTL=build/smtpmonctl
live_lab "smbc$$"
NOTIFY_PID=
trap '[[ -n $NOTIFY_PID ]] && kill $NOTIFY_PID 2>/dev/null; live_cleanup' EXIT
sock=$d/control.sock

# The fake service manager: a datagram socket that logs what it receives.
python3 - "$d/notify.sock" "$d/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode() + "\n---\n")
        log.flush()
PY
NOTIFY_PID=$!
for _ in $(seq 50); do [[ -S $d/notify.sock ]] && break; sleep 0.1; done

live_check "smtpmonctl: exit 3 when no daemon listens" \
	bash -c "'$CTL' -s '$sock' stats >/dev/null 2>&1; test \$? -eq 3"
live_check "smtpmonctl: exit 2 on a bad command" \
	bash -c "'$CTL' -s '$sock' frobnicate >/dev/null 2>&1; test \$? -eq 2"

NOTIFY_SOCKET=$d/notify.sock live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 \
	-i "$LAB_SRV_IF" --control "$sock" || { live_fail "smtpmon starts"; live_done; }
for _ in $(seq 50); do grep -q READY=1 "$d/notify.log" 2>/dev/null && break; sleep 0.1; done
live_check "notify: READY=1 after attaching" grep -q '^READY=1' "$d/notify.log"
live_check "notify: STATUS names the interfaces" grep -q '^STATUS=capturing on 1 interface' "$d/notify.log"

live_check "smtpmonctl ping answers with the version" \
	bash -c "'$CTL' -s '$sock' ping | grep -q '\"ok\":true,\"version\":'"
lab_run_scenario plain >"$d/client.log" 2>&1 || live_fail "plain session: $(tail -3 "$d/client.log")"
lab_wait_idle
sleep 1.5 # statistics are published once a second

# Events reach the output while smtpmon runs, not only when it exits (stdout is a file
# here, fully buffered unless smtpmon flushes after each batch).
live_check "events are written while capturing" \
	grep -q '"event":"smtp_connection"' "$d/out.json"
"$CTL" -s "$sock" -j stats >"$d/stats.json"
live_check "smtpmonctl -j stats: one valid JSON reply" \
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] is True' "$d/stats.json"
stat_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"][sys.argv[2]])' "$d/stats.json" "$1"; }
live_check "stats: the session's connection counted" test "$(stat_of connections_total)" -ge 1
live_check "stats: kernel records counted" test "$(stat_of kernel_records)" -ge 10
live_check "stats: requests counted" test "$(stat_of events_smtp_request)" -ge 5
live_check "stats: no ring drops" test "$(stat_of kernel_ring_drops)" -eq 0
# The table and the JSON tell the same numbers.
"$CTL" -s "$sock" stats >"$d/stats.txt"
live_check "smtpmonctl stats: table row matches the JSON" \
	grep -Eq "^events_smtp_request +$(stat_of events_smtp_request)\$" "$d/stats.txt"

# A second daemon must not steal the socket of a running one.
ip netns exec "$LAB_SRV_NS" timeout 5 "$SMTPMON" run -i lo --control "$sock" >/dev/null 2>"$d/err2" &
second=$!
sleep 2
kill -TERM $second 2>/dev/null
wait $second 2>/dev/null
live_check "second daemon: refuses the busy socket and says so" \
	grep -q "control socket $sock: in use by another smtpmon" "$d/err2"
live_check "first daemon: still answers on its socket" \
	bash -c "'$CTL' -s '$sock' ping >/dev/null"

live_stop TERM
live_check "SIGTERM: exit 0" test "$LIVE_RC" -eq 0
live_check "notify: STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$d/notify.log"
live_check "socket file removed on exit" test ! -e "$sock"
live_done
