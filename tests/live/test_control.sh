#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_control.sh - the control socket of `smtpmon run` at the protocol level (control.h,
# report.h): live statistics while capturing, the answer envelope and its version, errors for
# an unknown command or format and for a request of another protocol version, a silent client
# that cannot keep others waiting for long, a missing group (socket stays 0600), a second
# daemon that must not steal the socket, and the socket's removal on exit. The exact numbers
# and the permission errors are test_stats.sh's; the notify protocol is test_notify.sh's.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

CTL=build/smtpmonctl
live_lab "smbc$$"
sock=$d/ctl/control.sock

# ask LINE: one raw request line, the raw answer on stdout.
ask() {
	python3 - "$sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline(), end="")
PY
}

# jqt FILTER FILE: the filter holds for FILE.
# shellcheck disable=SC2317 # called by live_check
jqt() { jq -e "$1" "$2" >/dev/null; }

"$CTL" -s "$sock" frobnicate >/dev/null 2>&1
live_check "smtpmonctl: exit 2 on a bad command" test $? -eq 2
"$CTL" -s "$sock" metrics --json >/dev/null 2>&1
live_check "smtpmonctl: exit 2 on --json with metrics" test $? -eq 2

# The output takes only the summaries: the statistics still count every event.
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --control "$sock" \
	--control-group no-such-group-smbc --events smtp_connection || { live_fail "smtpmon starts"; live_done; }
live_check "missing group: a warning names it" \
	grep -q "control socket $sock: group 'no-such-group-smbc' does not exist: only root" "$d/err"
live_check "missing group: the socket is 0600 root:root" \
	test "$(stat -c '%a %U %G' "$sock")" = "600 root root"
live_check "the socket's new directory is 0750" test "$(stat -c '%a' "$d/ctl")" = 750

live_check "ping: the daemon's version and uptime" \
	bash -c "'$CTL' -s '$sock' ping | jq -e '.smtpmon | length > 0' >/dev/null"
lab_run_scenario plain >"$d/client.log" 2>&1 || live_fail "plain session: $(tail -3 "$d/client.log")"
lab_wait_idle
sleep 0.5

# Events reach the output while smtpmon runs, not only when it exits (stdout is a file
# here, fully buffered unless smtpmon flushes after each batch).
live_check "events are written while capturing" \
	grep -q '"event":"smtp_connection"' "$d/out.json"
ask '{"version":2,"cmd":"stats"}' >"$d/stats.json"
live_check "stats: one line, the envelope {version, ok, data}" \
	jqt '(keys_unsorted == ["version","ok","data"]) and .version == 2 and .ok == true' \
	"$d/stats.json"
live_check "stats: answered at once, counts current (one session, its EHLO)" \
	jqt '.data.connections == 1 and .data.commands.EHLO == 1 and .data.sessions_ended.FIN == 1' \
	"$d/stats.json"
live_check "stats: what the output's selection left out is counted, per output" \
	jqt '.data.output_events_written == {"stdout": 1} and .data.events.smtp_request == 6
	 and .data.output_events_suppressed.stdout == ([.data.events[]] | add) - 1' "$d/stats.json"
live_check "stats: kernel records counted, no ring drops" \
	jqt '(.data.kernel_records | add) >= 10 and (.data.kernel_ring_drops | add) == 0' \
	"$d/stats.json"
live_check "stats: kernel records == ring records read" \
	jqt '(.data.kernel_records | add) == .data.ring_records' "$d/stats.json"
live_check "stats: the ring's size" jqt '.data.ring_size_bytes == 33554432' "$d/stats.json"

ask '{"version":2,"cmd":"frobnicate"}' >"$d/unknown.json"
live_check "unknown command: an error answer" \
	jqt '.version == 2 and .ok == false and (.error | test("unknown command"))' "$d/unknown.json"
ask '{"version":2,"cmd":"stats","format":"xml"}' >"$d/format.json"
live_check "unknown format: an error answer" \
	jqt '.ok == false and (.error | test("unknown format"))' "$d/format.json"
ask '{"version":7,"cmd":"stats"}' >"$d/version.json"
live_check "another protocol version: an error that names ours" \
	jqt '.ok == false and .error == "protocol version mismatch: smtpmon speaks version 2"' \
	"$d/version.json"
ask '{"cmd":"stats"}' >"$d/noversion.json"
live_check "a request without a version: the same error" jqt '.ok == false' "$d/noversion.json"

# A client that connects and says nothing holds the socket for one second at most.
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(4)' \
	"$sock" &
silent=$!
sleep 0.2
start=$(date +%s%N)
"$CTL" -s "$sock" ping >/dev/null
live_check "behind a silent client: answered" test $? -eq 0
live_check "behind a silent client: within 2 s" test $((($(date +%s%N) - start) / 1000000)) -lt 2000
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null

# A second daemon must not steal the socket of a running one.
ip netns exec "$LAB_SRV_NS" timeout 5 "$SMTPMON" run -i lo --control "$sock" >/dev/null 2>"$d/err2" &
second=$!
for _ in $(seq 50); do grep -q 'control socket' "$d/err2" && break; sleep 0.1; done
kill -TERM $second 2>/dev/null
wait $second 2>/dev/null
live_check "second daemon: refuses the busy socket and says so" \
	grep -q "control socket $sock: in use by another smtpmon" "$d/err2"
live_check "first daemon: still answers on its socket" \
	bash -c "'$CTL' -s '$sock' ping >/dev/null"

live_stop TERM
live_check "SIGTERM: exit 0" test "$LIVE_RC" -eq 0
live_check "socket file removed on exit" test ! -e "$sock"
live_done
