#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_reload.sh - the daemon's config file and SIGHUP (issue 4: Daemon, acceptance 4), live
# against the lab's real Postfix:
#   - started from a config file only (interfaces, ports, two outputs: everything to a JSON
#     file, and replies with code >= 400 only to a second file);
#   - after attach the process holds no capability (CapPrm/CapEff/CapBnd empty, NoNewPrivs);
#   - SIGHUP with a changed file (port 587 dropped) while a session on port 25 is open: the
#     session keeps its uid and state across the reload (one smtp_connection, its commands
#     after the reload attributed as before), the JSON file is reopened (logrotate: the old
#     one was renamed), traffic on 587 is no longer seen, traffic on 25 still is;
#   - the selective output holds exactly the replies >= 400 of the full output (jq oracle);
#   - SIGHUP with a broken file: "reload failed", the running settings stay (port 25 still
#     captured, the same output file written), the daemon goes on; SIGTERM exits 0.
set -u
cd "$(dirname "$0")/../.." || exit 1
SMTPMON=${SMTPMON:-build/smtpmon}
. tests/live/lib.sh

live_lab "smrl$$"

write_config() { # PORTS
	cat >"$d/smtpmon.conf" <<-EOF
		; written by test_reload.sh
		[capture]
		interfaces = $LAB_SRV_IF
		ports = $1
		[control]
		socket = none
		[output all]
		type = json
		path = $d/all.json
		[output errors]
		type = json
		path = $d/errors.json
		events = smtp_reply
		min_reply_code = 400
	EOF
}

reloaded() { # N: the Nth "smtpmon: reload..." line has appeared
	local i
	for i in $(seq 50); do
		(($(grep -c '^smtpmon: reload' "$d/err") >= $1)) && return 0
		sleep 0.1
	done
	return 1
}

wait_event() { # FILE JQ: until an event of FILE satisfies JQ (the outputs flush per batch)
	local i
	for i in $(seq 50); do
		[[ -s $1 ]] && live_has "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

write_config 25,587
live_start "$LAB_SRV_NS" "$d/stdout" "$d/err" 2 --config "$d/smtpmon.conf" ||
	{ live_fail "smtpmon starts from the config file"; live_done; }
sleep 0.3
live_check "capabilities after attach: none ($(grep -E '^Cap(Prm|Eff|Bnd)' /proc/$LIVE_PID/status | tr -s '\t\n' ' '))" \
	bash -c "grep -Eq '^CapPrm:\s+0+$' /proc/$LIVE_PID/status &&
		grep -Eq '^CapEff:\s+0+$' /proc/$LIVE_PID/status &&
		grep -Eq '^CapBnd:\s+0+$' /proc/$LIVE_PID/status &&
		grep -Eq '^NoNewPrivs:\s+1$' /proc/$LIVE_PID/status"
live_check "stdout unused when the file names the outputs" test ! -s "$d/stdout"

# A session on port 25 that stays open across the reload.
lab_cli python3 - "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" "$LAB_REJECTED_RCPT" "$d/go" \
	>"$d/slow.log" 2>&1 <<-'PY' &
	import os, smtplib, sys, time
	srv, sender, rcpt, rejected, go = sys.argv[1:]
	s = smtplib.SMTP(srv, 25, local_hostname="slow.lab.example", timeout=30)
	s.ehlo()
	for _ in range(600):
	    if os.path.exists(go):
	        break
	    time.sleep(0.1)
	else:
	    sys.exit("no go after 60 s")
	s.mail(sender)
	print("rcpt", s.rcpt(rejected)[0], s.rcpt(rcpt)[0])
	s.data(b"Subject: reload\r\n\r\nkept across the reload\r\n")
	s.quit()
	PY
slow_pid=$!
wait_event "$d/all.json" '.command == "EHLO" and .arg == "slow.lab.example"' ||
	live_fail "the slow session's EHLO is seen before the reload"
uid=$(jq -r 'select(.command == "EHLO" and .arg == "slow.lab.example") | .uid' "$d/all.json")

lab_run_scenario starttls-587 >/dev/null 2>&1 || live_fail "starttls-587 before the reload"
lab_wait_idle
wait_event "$d/all.json" '.event == "smtp_connection" and ."id.resp_p" == 587' ||
	live_fail "port 587 is seen before the reload"

mv "$d/all.json" "$d/all.json.1" # logrotate
write_config 25
kill -HUP "$LIVE_PID"
live_check "SIGHUP: reloaded ($(grep '^smtpmon: reload' "$d/err" | tail -1))" reloaded 1
live_check "SIGHUP: the log says so" grep -q '^smtpmon: reloaded .*: 1 port(s), 2 output(s)' "$d/err"
live_check "SIGHUP: the JSON file is reopened at its path" test -e "$d/all.json"
touch "$d/go"
wait "$slow_pid"
live_check "the slow session completes ($(tr '\n' ' ' <"$d/slow.log"))" grep -q '^rcpt 554 250' "$d/slow.log"
lab_run_scenario starttls-587 >/dev/null 2>&1 || live_fail "starttls-587 after the reload"
lab_run_scenario plain >/dev/null 2>&1 || live_fail "plain after the reload"
lab_wait_idle
wait_event "$d/all.json" '.event == "smtp_connection" and .uid != "'"$uid"'"' ||
	live_fail "the plain session after the reload is seen"

after=$d/all.json
live_check "open session kept its uid: MAIL after the reload has uid $uid" \
	live_has "$after" '.uid == "'"$uid"'" and .command == "MAIL"'
live_check "open session: the 554 to its RCPT is attributed to RCPT" \
	live_has "$after" '.uid == "'"$uid"'" and .code == 554 and .cmd == "RCPT"'
live_check "open session: one smtp_connection in all, not partial" \
	test "$(cat "$d/all.json.1" "$after" | jq -s "[.[] | select(.uid == \"$uid\" and .event == \"smtp_connection\" and .partial == false)] | length")" -eq 1
live_check "port 587 not seen after the reload" \
	bash -c "! jq -e 'select(.\"id.resp_p\" == 587)' '$after' >/dev/null"
live_check "port 25 still seen after the reload" \
	live_has "$after" '.uid != "'"$uid"'" and .command == "QUIT" and ."id.resp_p" == 25'

# errors.json against the full output filtered by jq.
cat "$d/all.json.1" "$after" >"$d/all-both.json"
tests/tools/select_events.py "$d/all-both.json" 'e["event"] == "smtp_reply" and e["code"] >= 400' >"$d/want-errors"
live_check "errors output: exactly the replies >= 400 ($(wc -l <"$d/want-errors") lines)" \
	bash -c "[[ -s '$d/want-errors' ]] && cmp -s '$d/want-errors' '$d/errors.json'"

# A broken file on SIGHUP keeps everything running.
printf '[capture]\nports = 25\nring_size = lots\n' >"$d/smtpmon.conf"
kill -HUP "$LIVE_PID"
live_check "bad reload: reported with file:line:key" reloaded 2
live_check "bad reload: message names smtpmon.conf:3 and ring_size" \
	grep -q "^smtpmon: $d/smtpmon.conf:3: \[capture\] ring_size: " "$d/err"
live_check "bad reload: 'keeping the running configuration'" \
	grep -q '^smtpmon: reload failed: keeping the running configuration' "$d/err"
n=$(grep -c '"event":"smtp_connection"' "$after")
lab_run_scenario plain >/dev/null 2>&1 || live_fail "plain after the bad reload"
lab_wait_idle
for _ in $(seq 50); do
	(($(grep -c '"event":"smtp_connection"' "$after") > n)) && break
	sleep 0.1
done
live_check "bad reload: port 25 still captured into the same file" \
	test "$(grep -c '"event":"smtp_connection"' "$after")" -gt "$n"
live_stop TERM
live_check "SIGTERM: exit 0 (got $LIVE_RC)" test "$LIVE_RC" -eq 0
live_done
