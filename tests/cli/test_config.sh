#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_config.sh - the config file and the output options (issue 4: Daemon, acceptance 4), with
# `smtpmon read` so that no privilege is needed:
#   - every bad file is refused with exit 2 and one line "smtpmon: FILE:LINE: [section] key: why"
#     (or FILE:LINE: syntax error), nothing on stdout;
#   - values from the file apply (ports), and a command-line flag overrides the file;
#   - outputs from the file, each with its selection, hold exactly what jq selects from the full
#     JSON output of the same capture (an oracle outside smtpmon's output code);
#   - --output TYPE[:PATH] is repeatable and replaces the file's outputs; --events selects for
#     every output;
#   - an output file smtpmon creates is 0640 whatever the umask (077 here, as the unit's): the
#     group (adm under smtpmon.service) reads it; an existing file keeps its mode.
set -u
cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
pcap=tests/data/zeek/traces/smtp-mail-transactions-invalid.pcap
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done; nothing here needs root
tmp=$(mktemp -d /tmp/smtpmon-config.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -x "$smtpmon" ] || { echo "FAIL $smtpmon not built"; exit 1; }
[ -r "$pcap" ] || { echo "FAIL $pcap missing"; exit 1; }

# refused CONTENT REGEX: the file is refused with exit 2 and the message matches REGEX
refused() {
	local content=$1 want=$2 rc
	printf '%b' "$content" >"$tmp/bad.conf"
	"$smtpmon" read -q --config "$tmp/bad.conf" "$pcap" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [[ $rc -eq 2 && ! -s $tmp/out && $(wc -l <"$tmp/err") -eq 1 ]] &&
		grep -Eq "^smtpmon: $tmp/bad.conf:$want" "$tmp/err"; then
		live_ok "refused: $(head -c 90 "$tmp/err")"
	else
		live_fail "want exit 2 and '$want' for $(printf '%q' "$content"); got $rc: $(cat "$tmp/err")"
	fi
}
refused '[capture]\nports = 25,x\n' "2: \[capture\] ports: bad port list '25,x'"
refused '[capture]\nportz = 25\n' '2: \[capture\] portz: unknown key'
refused '[captur]\nports = 25\n' '2: \[captur\] ports: unknown key'
refused 'ports = 25\n' '1: \[\] ports: unknown key outside a section'
refused '[capture]\n\n; comment\ningress = ebpf\n' "4: \[capture\] ingress: want tc or xdp, got 'ebpf'"
refused '[capture]\nring_size = 3000\n' '2: \[capture\] ring_size: want a power of two'
refused '[limits]\nmax_line = 12\n' '2: \[limits\] max_line: want 512'
refused '[limits]\nidle_timeout = 5x\n' '2: \[limits\] idle_timeout: '
refused '[privacy]\ndata = maybe\n' "2: \[privacy\] data: want yes or no, got 'maybe'"
refused '[privacy]\ncredentials = show\n' '2: \[privacy\] credentials: want redact or keep'
refused '[control]\nsocket = relative.sock\n' '2: \[control\] socket: want an absolute path'
refused '[metrics]\nlisten = 9465\n' '2: \[metrics\] listen: want ADDR:PORT'
refused '[output x]\ntype = xml\n' "2: \[output x\] type: want json, text, journal or zeek, got 'xml'"
refused '[output x]\nevents = smtp_requests\n' "2: \[output x\] events: unknown event"
refused '[output x]\nmin_reply_code = 1000\n' '2: \[output x\] min_reply_code: want a reply code'
refused '[output x]\ncolour = red\n' '2: \[output x\] colour: unknown key'
refused '[capture\nports = 25\n' '1: syntax error'
refused "$(for i in 1 2 3 4 5 6 7 8 9; do printf '[output o%d]\\ntype = json\\n' $i; done)" \
	'18: \[output o9\] type: more than 8 outputs'

"$smtpmon" read -q --config "$tmp/none.conf" "$pcap" >"$tmp/out" 2>"$tmp/err"
rc=$?
live_check "missing --config file: exit 2 with the reason ($(cat "$tmp/err"))" \
	bash -c "[[ $rc -eq 2 ]] && grep -q '^smtpmon: $tmp/none.conf: No such file or directory' '$tmp/err'"
"$smtpmon" read -q --output journal:/x "$pcap" >"$tmp/out" 2>"$tmp/err"
rc=$?
live_check "--output journal:PATH refused ($(head -1 "$tmp/err"))" \
	bash -c "[[ $rc -eq 2 ]] && grep -q '^smtpmon: --output: journal takes no path' '$tmp/err'"
"$smtpmon" read -q --output xml "$pcap" >"$tmp/out" 2>"$tmp/err"
rc=$?
live_check "--output xml refused" bash -c "[[ $rc -eq 2 ]] && grep -q '^smtpmon: --output: want json' '$tmp/err'"

# The full JSON output: the oracle's input.
"$smtpmon" read -q "$pcap" >"$tmp/full.json" || live_fail "plain read"
live_check "the capture has replies >= 400 and requests" \
	jq -s -e 'any(.[]; .code >= 400) and any(.[]; .event == "smtp_request")' "$tmp/full.json"

cat >"$tmp/good.conf" <<EOF
; every output of this file has its own selection
[capture]
ports = 587            ; the capture's server is on 25: nothing is seen
[output requests]
type = json
path = $tmp/requests.json
events = smtp_request,smtp_connection
[output failures]
type = json
path = $tmp/failures.json
events = smtp_reply
min_reply_code = 400
[output human]
type = text
path = $tmp/human.txt
EOF
"$smtpmon" read -q --config "$tmp/good.conf" "$pcap" >"$tmp/out" 2>"$tmp/err"
live_check "ports = 587 from the file: no event, nothing on stdout" \
	bash -c "[[ ! -s '$tmp/requests.json' && ! -s '$tmp/human.txt' && ! -s '$tmp/out' ]]"
rm -f "$tmp"/requests.json "$tmp"/failures.json "$tmp"/human.txt
"$smtpmon" read -q --config "$tmp/good.conf" --ports 25 "$pcap" >"$tmp/out" 2>"$tmp/err"
live_check "--ports 25 overrides the file" test -s "$tmp/requests.json"
tests/tools/select_events.py "$tmp/full.json" 'e["event"] in ("smtp_request", "smtp_connection")' >"$tmp/want"
live_check "[output requests] = jq's requests and connections ($(wc -l <"$tmp/want") lines)" \
	cmp -s "$tmp/want" "$tmp/requests.json"
tests/tools/select_events.py "$tmp/full.json" 'e["event"] == "smtp_reply" and e["code"] >= 400' >"$tmp/want"
live_check "[output failures] = jq's replies >= 400 ($(wc -l <"$tmp/want") lines)" \
	cmp -s "$tmp/want" "$tmp/failures.json"
live_check "[output human]: one text line per event" \
	test "$(wc -l <"$tmp/human.txt")" -eq "$(wc -l <"$tmp/full.json")"
live_check "no stdout when the file names the outputs" test ! -s "$tmp/out"

before=$(wc -l <"$tmp/requests.json")
"$smtpmon" read -q --config "$tmp/good.conf" --ports 25 --output json --output "text:$tmp/t.txt" \
	--events smtp_reply "$pcap" >"$tmp/out" 2>"$tmp/err"
tests/tools/select_events.py "$tmp/full.json" 'e["event"] == "smtp_reply"' >"$tmp/want"
live_check "--output json (stdout) with --events: jq's replies" cmp -s "$tmp/want" "$tmp/out"
live_check "--output text:PATH with --events: one line per reply" \
	test "$(wc -l <"$tmp/t.txt")" -eq "$(wc -l <"$tmp/want")"
live_check "--output replaced the file's outputs (theirs untouched)" \
	test "$(wc -l <"$tmp/requests.json")" -eq "$before"

(umask 077 && "$smtpmon" read -q --output "json:$tmp/new.json" --output "text:$tmp/new.txt" "$pcap")
live_check "new output files under umask 077: 0640 ($(stat -c %a "$tmp/new.json" "$tmp/new.txt" | paste -sd' '))" \
	test "$(stat -c %a "$tmp/new.json" "$tmp/new.txt" | paste -sd' ')" = "640 640"
chmod 600 "$tmp/new.json"
"$smtpmon" read -q --output "json:$tmp/new.json" "$pcap"
live_check "an existing output file keeps its mode (0600) and is appended to" \
	test "$(stat -c %a "$tmp/new.json")" = 600 -a "$(wc -l <"$tmp/new.json")" -eq "$(($(wc -l <"$tmp/full.json") * 2))"

live_done
