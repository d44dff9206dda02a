#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Packet times from the wrong place (issue 14, case 9), on pcaps that
# tests/tools/gen-sessions-pcap.py writes:
#   ts-max     a session stamped 0xfffffff0 s: an unsigned 32-bit second, 2106-02-07, not
#              -16 s (which came out as year 2554)
#   backwards  the capture's clock steps back an hour in the middle of session 1; session 2
#              runs entirely after the step
#   spike      one packet of session 1 (its reply to MAIL) stamped 0xfffffff0 s while both
#              sessions run in 2023
# In every case: no connection times out, each session keeps one uid, MAIL is answered as
# MAIL (not "(UNKNOWN)", the parser state of a connection restarted mid-session), each
# session ends with FIN; the step is a weird of the session whose packets made it, and is
# counted on the statistics line.
# Run from the repo root: tests/cli/test_time.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

. tests/cli/lib.sh
# check NAME FILTER: the jq filter holds for the events of $tmp/out.json (slurped).
check()
{
	if jq -e -s "$2" "$tmp/out.json" >/dev/null; then
		echo "ok   $1"
	else
		fail "$1"
	fi
}

# The session invariants for a scenario whose sessions have client ports PORTS.
sessions_whole()
{
	local name=$1 port
	shift
	for port in "$@"; do
		check "$name: port $port has one uid" \
			"[.[] | select(.\"id.orig_p\" == $port) | .uid] | unique | length == 1"
		check "$name: port $port: MAIL answered as MAIL" \
			"any(.[]; .\"id.orig_p\" == $port and .event == \"smtp_reply\" and .cmd == \"MAIL\"
			and .code == 250)"
		check "$name: port $port ends once, with FIN, not partial" \
			"[.[] | select(.\"id.orig_p\" == $port and .event == \"smtp_connection\")] |
			length == 1 and .[0].end == \"FIN\" and .[0].partial == false
			and .[0].transactions == 1"
	done
	check "$name: no (UNKNOWN) reply, no smtp_unexpected, no timeout" \
		'all(.[]; (.cmd // "") != "(UNKNOWN)" and .event != "smtp_unexpected"
		and (.end // "") != "timeout")'
}

# run SCENARIO: writes the pcap and reads it (JSON); rc, $tmp/out.json, $tmp/err.
run()
{
	tests/tools/gen-sessions-pcap.py "$1" "$tmp/$1.pcap" || { fail "$1: generator"; return; }
	"$smtpmon" read "$tmp/$1.pcap" >"$tmp/out.json" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$1: exit status $rc; stderr: $(cat "$tmp/err")"
}

# stats_line NAME BACK JUMPS: the statistics line counts the steps.
stats_line()
{
	if grep -q "; time went back $2, jumped $3\$" "$tmp/err"; then
		echo "ok   $1: statistics line: time went back $2, jumped $3"
	else
		fail "$1: statistics line is: $(cat "$tmp/err")"
	fi
}

run ts-max
check "ts-max: every ts in 0xfffffff0 .. 2^32 s" \
	'length > 10 and all(.[]; .ts >= 4294967280 and .ts < 4294967296)'
sessions_whole ts-max 40001
check "ts-max: no time weird" 'all(.[]; .event != "weird")'
stats_line ts-max 0 0
"$smtpmon" read -q --format text "$tmp/ts-max.pcap" >"$tmp/out.txt" 2>&1
first=$(head -c 27 "$tmp/out.txt")
if [ "$first" = "2106-02-07T06:28:00.030000Z" ]; then
	echo "ok   ts-max: text shows 2106-02-07T06:28:00.030000Z"
else
	fail "ts-max: text starts with '$first', want 2106-02-07T06:28:00.030000Z"
fi

run backwards
sessions_whole backwards 40001 40002
check "backwards: session 1 has one time_went_backwards weird, of about an hour" \
	'[.[] | select(.event == "weird")] | length == 1 and .[0]."id.orig_p" == 40001
	and .[0].name == "time_went_backwards" and .[0].addl == "3599.990000 s"'
check "backwards: session 1 counts it as an anomaly, not in its duration" \
	'any(.[]; ."id.orig_p" == 40001 and .event == "smtp_connection" and .anomalies == 1
	and .duration < 1)'
stats_line backwards 1 0

run spike
sessions_whole spike 40001 40002
check "spike: session 1 has time_jumped_forward then time_went_backwards" \
	'[.[] | select(.event == "weird") | [."id.orig_p", .name]] ==
	[[40001, "time_jumped_forward"], [40001, "time_went_backwards"]]'
check "spike: the sessions end in 2023, not 2106" \
	'all(.[]; .event != "smtp_connection" or .ts < 1800000000)'
check "spike: session 1's summary: 2 anomalies, duration under a second" \
	'any(.[]; ."id.orig_p" == 40001 and .event == "smtp_connection" and .anomalies == 2
	and .duration < 1)'
stats_line spike 1 1

cli_done test_time
