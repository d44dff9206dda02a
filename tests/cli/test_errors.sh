#!/bin/bash
# test_errors.sh - errors name what was wrong and exit with the documented status (issue 13,
# point 5):
#   - an output file that cannot be opened: one line naming the output, the path and the
#     reason, exit 2 (a usage error, like an unreadable input), never "out of memory", nothing
#     written;
#   - an unknown event name in --events or in a file's [output] events: the line names it;
# No root needed.
set -u
cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
ctl=$(dirname "$smtpmon")/smtpmonctl
pcap=tests/data/synthetic/synth-smtp.pcap
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done; the root part needs no lab
tmp=$(mktemp -d /tmp/smtpmon-errors.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -x "$smtpmon" ] && [ -x "$ctl" ] || { echo "FAIL $smtpmon or $ctl not built"; exit 1; }

# one_line WHAT RC WANT_RC REGEX: exit status, exactly one stderr line matching REGEX
one_line() {
	local what=$1 rc=$2 want_rc=$3 re=$4
	if [[ $rc -eq $want_rc && $(wc -l <"$tmp/err") -eq 1 ]] && grep -Eq -- "$re" "$tmp/err"; then
		live_ok "$what: exit $rc: $(head -c 160 "$tmp/err")"
	else
		live_fail "$what: exit $rc (want $want_rc), stderr: $(head -c 400 "$tmp/err")"
	fi
}

echo "== unopenable outputs"
"$smtpmon" read --output json:/nonexist/x.json "$pcap" >"$tmp/out" 2>"$tmp/err"
one_line "--output json:/nonexist/x.json" $? 2 \
	'^smtpmon: output json:/nonexist/x.json: open /nonexist/x.json: No such file or directory$'
live_check "... and not a word of memory" bash -c "! grep -qi memory '$tmp/err'"
live_check "... and nothing on stdout" test ! -s "$tmp/out"
mkdir "$tmp/dir.json"
"$smtpmon" read -q --output "text:$tmp/dir.json" "$pcap" >"$tmp/out" 2>"$tmp/err"
one_line "--output text:DIRECTORY" $? 2 "^smtpmon: output text:$tmp/dir.json: open $tmp/dir.json: Is a directory\$"
printf '[output archive]\ntype = json\npath = %s\n' "$tmp/no/such/dir/e.json" >"$tmp/out.conf"
"$smtpmon" read -q --config "$tmp/out.conf" "$pcap" >"$tmp/out" 2>"$tmp/err"
one_line "a file's [output archive] path in a missing directory" $? 2 \
	"^smtpmon: output archive: open $tmp/no/such/dir/e.json: No such file or directory\$"

echo "== unknown event names"
"$smtpmon" read -q --events smtp_replies "$pcap" >"$tmp/out" 2>"$tmp/err"
rc=$?
head -1 "$tmp/err" >"$tmp/err1" && mv "$tmp/err1" "$tmp/err" # the usage follows
one_line "--events smtp_replies" $rc 2 "^smtpmon: --events: unknown event 'smtp_replies' \(known: smtp_request, smtp_reply, .*\)\$"
"$smtpmon" read -q --events smtp_reply,smtp_startls "$pcap" >"$tmp/out" 2>"$tmp/err"
rc=$?
head -1 "$tmp/err" >"$tmp/err1" && mv "$tmp/err1" "$tmp/err"
one_line "--events with one bad name of two" $rc 2 "^smtpmon: --events: unknown event 'smtp_startls' "
printf '[output x]\nevents = smtp_request,weirds\n' >"$tmp/ev.conf"
"$smtpmon" read -q --config "$tmp/ev.conf" "$pcap" >"$tmp/out" 2>"$tmp/err"
one_line "[output x] events = smtp_request,weirds" $? 2 \
	"^smtpmon: $tmp/ev.conf:2: \[output x\] events: unknown event 'weirds' \(known: .*weird, all\)\$"

live_done
