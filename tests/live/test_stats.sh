#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_stats.sh - smtpmonctl's statistics are exact (issue 4, acceptance 3 and 4): a scripted
# set of SMTP sessions (tests/live/stats_client.py, which counts from the client's side what
# smtpmon must report) runs through the lab while smtpmon captures it and tcpdump records it;
# `smtpmonctl stats --json` must give exactly the client's numbers, and so must tshark's
# reading of the capture (tests/live/check_stats.py). `smtpmonctl metrics` and the HTTP
# /metrics endpoint must pass a parser check of the exposition and agree with the JSON.
# Also: the sessions view of a session held open, the socket's group and mode, the permission
# error for a user outside the group (throwaway users and group, removed at exit), and the
# errors for a daemon that is not running and for a protocol mismatch.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

PY=/usr/bin/python3 # python3-prometheus-client is a Debian package
live_lab "smst$$"
group=smst$$ member=smstm$$ outsider=smsto$$
rundir=/run/smst$$
sock=$rundir/control.sock
FAKE_PID=
# shellcheck disable=SC2317 # the EXIT trap calls it
cleanup() {
	[[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null
	live_cleanup
	userdel "$member" 2>/dev/null
	userdel "$outsider" 2>/dev/null
	groupdel "$group" 2>/dev/null
	rm -rf "$rundir"
}
trap cleanup EXIT
if ! { groupadd "$group" && useradd -M -N -s /usr/sbin/nologin -G "$group" "$member" &&
	useradd -M -N -s /usr/sbin/nologin "$outsider"; }; then
	live_fail "test users"
	live_done
fi
# A copy the throwaway users can run whatever the permissions of the work tree.
install -m 0755 build/smtpmonctl "$d/smtpmonctl"
CTL=$d/smtpmonctl
as() { local user=$1; shift; runuser -u "$user" -- "$@"; }

# Not running: no socket at all, and a socket nobody listens on.
"$CTL" -s "$d/none.sock" stats >/dev/null 2>"$d/err.none"
live_check "not running: exit 3" test $? -eq 3
live_check "not running: says so" grep -q 'smtpmon is not running' "$d/err.none"
$PY -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$d/stale.sock"
"$CTL" -s "$d/stale.sock" stats >/dev/null 2>&1
live_check "stale socket file: exit 3" test $? -eq 3

# Protocol mismatch: a daemon of another release (no version, or another one).
for answer in '{"ok":true,"data":{}}' '{"version":99,"ok":true,"data":{}}'; do
	rm -f "$d/fake.sock"
	$PY - "$d/fake.sock" "$answer" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
c.recv(512)
c.sendall(sys.argv[2].encode() + b"\n")
c.close()
PY
	FAKE_PID=$!
	for _ in $(seq 50); do [[ -S $d/fake.sock ]] && break; sleep 0.1; done
	"$CTL" -s "$d/fake.sock" stats >/dev/null 2>"$d/err.fake"
	live_check "protocol mismatch ($answer): exit 5" test $? -eq 5
	live_check "protocol mismatch: says so" grep -q 'protocol mismatch' "$d/err.fake"
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
done

live_tcpdump_start "$d/cap.pcap" 'tcp port 25 or tcp port 587' || live_fail "tcpdump starts"
# The client's expectations are the wire's (it cannot know what the TLS library adds):
# --tls off; the plaintext has its own test (test_tls_plaintext.sh).
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --ports 25,587 --tls off \
	--control "$sock" --control-group "$group" --metrics-listen 127.0.0.1:19465 ||
	{ live_fail "smtpmon starts"; live_done; }

# The socket: root and the group, 0660, in a directory the group can enter.
live_check "socket: mode 0660, root:$group" test "$(stat -c '%a %U %G' "$sock")" = "660 root $group"
live_check "socket directory: mode 0750, root:$group" \
	test "$(stat -c '%a %U %G' "$rundir")" = "750 root $group"
live_check "a group member may ask" as "$member" "$CTL" -s "$sock" ping >/dev/null
as "$outsider" "$CTL" -s "$sock" stats >/dev/null 2>"$d/err.outsider"
live_check "outside the group: exit 4" test $? -eq 4
live_check "outside the group: names the group to join" \
	grep -q "permission denied: run as root or join group $group" "$d/err.outsider"

mkdir "$d/hold"
lab_cli $PY tests/live/stats_client.py --server "$LAB_SRV4" --from "$LAB_FROM" --to "$LAB_RCPT" \
	--to2 "$LAB_RCPT2" --rejected "$LAB_REJECTED_RCPT" --hold "$d/hold" "$d/expected.json" \
	>"$d/client.log" 2>&1 &
client=$!
for _ in $(seq 300); do [[ -e $d/hold/ready ]] && break; sleep 0.1; done
sleep 0.5 # the last RCPT's reply reaches smtpmon

# The held session, as smtpmonctl sessions shows it: keys as the events name them
# (uid, id.orig_h, ..., helo, mailfrom, rcptto as Zeek's smtp.log), addresses without
# FROM:/TO:, each recipient with its reply's code (the refused one's 554).
"$CTL" -s "$sock" sessions --json >"$d/sessions.json"
# shellcheck disable=SC2016 # jq variables
live_check "sessions: the held session, its state, HELO, sender, recipients and their outcome" \
	jq -e --arg cli "$LAB_CLI4" --arg from "<$LAB_FROM>" \
	--arg r1 "<$LAB_RCPT>" --arg r2 "<$LAB_REJECTED_RCPT>" --arg r3 "<$LAB_RCPT2>" \
	'.open == 1 and .listed == 1 and (.sessions[0] | ."id.orig_h" == $cli and ."id.resp_p" == 25
	 and (.uid | startswith("C")) and (."id.orig_p" > 0) and ."id.resp_h" != null
	 and .state == "RCPT_OK" and .helo == "stats.lab.example" and .mailfrom == $from
	 and .rcpt_count == 3 and .rcptto == [$r1, $r2, $r3] and .rcpt_codes == [250, 554, 250]
	 and .rcpt_accepted == 2 and .rcpt_rejected == 1 and .tls == false
	 and .orig_bytes > 0 and .resp_bytes > 0 and .ts > 1600000000
	 and (has("orig_h") or has("mail_from") or has("rcpt_to") | not))' "$d/sessions.json" >/dev/null
uid=$(jq -r '.sessions[0].uid' "$d/sessions.json")
"$CTL" -s "$sock" sessions >"$d/sessions.txt"
live_check "sessions table: the session's row and its recipients with their outcome" \
	bash -c "grep -q '^$uid .* RCPT_OK ' '$d/sessions.txt' &&
		grep -qF 'from <$LAB_FROM>  rcpt 3 (2 accepted, 1 refused): <$LAB_RCPT> 250, <$LAB_REJECTED_RCPT> 554, <$LAB_RCPT2> 250' '$d/sessions.txt' &&
		! grep -q 'FROM:\|TO:' '$d/sessions.txt'"
"$CTL" -s "$sock" stats --json >"$d/held.json"
live_check "stats: sessions by state while held" \
	jq -e '.sessions_open.RCPT_OK == 1 and ([.sessions_open[]] | add) == 1 and .sessions_open.READY == 0 and .connections_open == 1' "$d/held.json" >/dev/null

touch "$d/hold/release"
wait "$client" || live_fail "stats client: $(tail -3 "$d/client.log")"
lab_wait_idle
sleep 1 # the closing segments reach smtpmon
"$CTL" -s "$sock" stats --json >"$d/stats.json"
# The table: every row starts with its family's name, so grep finds each (commands has a row
# per verb, each named).
"$CTL" -s "$sock" stats >"$d/stats.txt"
live_check "stats table: no row without its name" \
	bash -c "[[ -s '$d/stats.txt' ]] && ! grep -q '^ ' '$d/stats.txt' &&
		[[ \$(grep -c '^commands  *verb=' '$d/stats.txt') -ge 5 ]] &&
		grep -q '^replies  *class=5xx  *[1-9]' '$d/stats.txt'"
# --watch: the second table has a rate per second on each counter row, none on gauges.
timeout 2.6 "$CTL" -s "$sock" stats --watch 1 >"$d/watch.txt"
live_check "stats --watch: rates per second on counters, none on gauges" \
	bash -c "[[ \$(grep -c '^smtpmonctl stats every 1s, .*rate per second' '$d/watch.txt') -ge 2 ]] &&
		grep -Eq '^segments  +[0-9]+ +0\.0/s\$' '$d/watch.txt' &&
		grep -Eq '^commands +verb=EHLO +[0-9]+ +0\.0/s\$' '$d/watch.txt' &&
		grep -Eq '^connections_open +[0-9]+\$' '$d/watch.txt' &&
		! grep -Eq '^uptime_seconds .*/s' '$d/watch.txt'"
"$CTL" -s "$sock" metrics >"$d/metrics.txt"
live_check "smtpmonctl metrics: exit 0" test $? -eq 0
ip netns exec "$LAB_SRV_NS" curl -s -D "$d/http.headers" -o "$d/http.txt" \
	http://127.0.0.1:19465/metrics
live_check "HTTP /metrics: 200, Prometheus 0.0.4 content type" \
	bash -c "grep -q '^HTTP/1.1 200' '$d/http.headers' &&
		grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' '$d/http.headers'"
live_check "HTTP /metrics: the same families as smtpmonctl metrics" \
	cmp <(grep '^# ' "$d/metrics.txt") <(grep '^# ' "$d/http.txt")
live_check "HTTP: other paths are 404" test "$(ip netns exec "$LAB_SRV_NS" curl -s -o /dev/null \
	-w '%{http_code}' http://127.0.0.1:19465/)" = 404
"$CTL" -s "$sock" stats >"$d/stats.txt"
live_check "stats table: the EHLO row matches the JSON" \
	grep -Eq "^commands +verb=EHLO +$(jq '.commands.EHLO' "$d/stats.json")\$" "$d/stats.txt"
timeout 2.5 "$CTL" -s "$sock" stats --json --watch 1 >"$d/watch.jsonl"
live_check "--watch 1: a JSON object a second" \
	test "$(jq -s 'map(.uptime_seconds) | length >= 2 and .[1] > .[0]' "$d/watch.jsonl")" = true

live_stop TERM
live_tcpdump_stop
live_check "SIGTERM: exit 0" test "$LIVE_RC" -eq 0

tshark -r "$d/cap.pcap" -o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE \
	-o smtp.desegment_lines:TRUE -o smtp.desegment_data:TRUE -d tcp.port==587,smtp \
	-Y 'smtp.command_line || smtp.response.code || smtp.data.reassembled.length || tcp.flags.syn == 1' \
	-T json -e tcp.stream -e smtp.command_line -e smtp.response.code \
	-e smtp.data.reassembled.length >"$d/tshark.json" 2>"$d/tshark.err" ||
	live_fail "tshark: $(cat "$d/tshark.err")"
tshark -r "$d/cap.pcap" -d tcp.port==587,smtp -Y 'tls.handshake.type == 1' -T fields \
	-e tcp.stream >"$d/tls-streams.txt" 2>>"$d/tshark.err"
$PY tests/live/check_stats.py "$d/expected.json" "$d/stats.json" "$d/metrics.txt" \
	"$d/tshark.json" "$d/tls-streams.txt" "$d/out.json" "$LAB_SRV_IF" || LIVE_FAILS=$((LIVE_FAILS + 1))
live_done
