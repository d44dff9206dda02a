#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_reload_rescan.sh - per process (`[tls] processes = smtp`), a port added on SIGHUP
# brings its server's TLS calls in: the reload runs the kernel's scan again
# (tls_probe_set_ports), which marks the processes holding a socket of the new port.
#
# A STARTTLS server that is not Postfix (tools/smtp-sink.py, CPython's ssl) listens on 2525 in
# the lab's server namespace before smtpmon starts with ports = 25 only. Its clients run on a
# private copy of libssl.so.3 (live_private_libssl): no probe is on their side, so whatever
# comes from inside TLS comes from the server's probes.
#   - before the reload: a session on 2525 gives no event, and the server is not probed;
#   - after `ports = 25, 2525` and SIGHUP, before any new session: one more process is
#     probed (the scan; without it the server would be probed only once it accepts a
#     connection, too late for a client quicker than the attach: docs/tls-plaintext.md);
#   - a session on 2525 is then reported inside TLS ("tls": true) command by command, as
#     the client sent it.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

SMTPMONCTL=${SMTPMONCTL:-$(dirname "$SMTPMON")/smtpmonctl}
live_lab "smrs$$"
port=2525

write_config() { # PORTS
	cat >"$d/smtpmon.conf" <<-EOF
		; written by test_tls_reload_rescan.sh
		[capture]
		interfaces = $LAB_SRV_IF
		ports = $1
		[tls]
		processes = smtp
		[control]
		socket = $d/ctl.sock
		group = root
		[output all]
		type = json
		path = $d/all.json
	EOF
}

probed() { # processes probed now, from smtpmonctl's metrics
	"$SMTPMONCTL" -s "$d/ctl.sock" metrics | awk '$1 == "smtpmon_tls_processes" { print $2 }'
}

session() { # one STARTTLS session to the sink, from the client namespace, unprobed library
	LD_LIBRARY_PATH=$d/privlib lab_cli python3 tests/lab/clients/tls_client.py starttls \
		--server "$LAB_SRV4" --port "$port" --from "rescan@client.lab.example" \
		--to "$1@sink.bench.example" --keylog "$d/keylog" >"$d/$1.transcript" 2>&1
}

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=sink.lab.example -days 1 \
	-keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1 || live_fail "a certificate"
live_private_libssl "$d/privlib" || live_fail "a private copy of libssl.so.3"
lab_srv python3 tools/smtp-sink.py "$LAB_SRV4" "$port" "$d/cert.pem" "$d/key.pem" \
	2>"$d/sink.err" &
for _ in $(seq 100); do
	lab_srv ss -Hltn "sport = :$port" | grep -q . && break
	sleep 0.1
done

write_config 25
live_start "$LAB_SRV_NS" "$d/stdout" "$d/err" 2 --config "$d/smtpmon.conf" ||
	{ live_fail "smtpmon starts per process from the config file"; live_done; }
before=$(probed)
live_check "per process, probed at start: Postfix, not the sink on $port (${before:-none})" \
	test -n "$before"

session before || live_fail "the session before the reload went as expected ($(cat "$d/before.transcript"))"
lab_wait_idle
live_check "before the reload: no event of port $port" \
	test "$(jq -s "[.[] | select(.\"id.resp_p\" == $port)] | length" "$d/all.json")" = 0

write_config "25, $port"
kill -HUP "$LIVE_PID"
for _ in $(seq 100); do
	grep -q '^smtpmon: reloaded' "$d/err" && [[ $(probed) -gt $before ]] && break
	sleep 0.1
done
live_check "SIGHUP: reloaded with 2 ports ($(grep '^smtpmon: reload' "$d/err" | tail -1))" \
	grep -q '^smtpmon: reloaded .*: 2 port(s)' "$d/err"
after=$(probed)
live_check "SIGHUP: the sink on $port is probed now ($before -> ${after:-none} processes)" \
	test "${after:-0}" -gt "$before"

session after || live_fail "the session after the reload went as expected ($(cat "$d/after.transcript"))"
lab_wait_idle
sleep 0.5 # the outputs flush per batch
tls_commands=$(jq -r "select(.\"id.resp_p\" == $port and .event == \"smtp_request\" and .tls)
	| .command" "$d/all.json" | tr '\n' ' ')
live_check "after the reload: the session's commands inside TLS, from the server's probes ($tls_commands)" \
	test "$tls_commands" = "EHLO MAIL RCPT DATA . QUIT "
live_check "after the reload: the recipient inside TLS is the client's" \
	live_has "$d/all.json" "select(.\"id.resp_p\" == $port and .tls and .command == \"RCPT\"
		and (.arg | contains(\"after@sink.bench.example\")))"
live_check "after the reload: the STARTTLS before it is on the wire" \
	live_has "$d/all.json" "select(.\"id.resp_p\" == $port and .event == \"smtp_starttls\")"

live_stop
live_check "smtpmon exits 0 ($LIVE_RC)" test "$LIVE_RC" = 0
live_done
