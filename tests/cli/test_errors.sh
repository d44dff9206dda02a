#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_errors.sh - errors name what was wrong and exit with the documented status (issue 13,
# point 5):
#   - an output file that cannot be opened: one line naming the output, the path and the
#     reason, exit 2 (a usage error, like an unreadable input), never "out of memory", nothing
#     written;
#   - an unknown event name in --events or in a file's [output] events: the line names it;
#   - smtpmonctl refused by the socket's permissions (exit 4): the remedy fits the socket. A
#     socket smtpmon made root's alone (its control group did not exist at start: 0600, or a
#     directory of group root) must not send the user to "join group root"; a socket of a
#     group names that group; a group without a name says its gid. Needs root for the
#     sockets and setpriv to ask as nobody; skipped otherwise.
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
	"^smtpmon: $tmp/ev.conf:2: \[output x\] events: unknown event 'weirds' \(known: .*weird, smtp_transaction, file, all\)\$"

echo "== smtpmonctl: permission denied, and the remedy"
if [[ $EUID -ne 0 ]] || ! command -v setpriv >/dev/null || ! getent group daemon >/dev/null; then
	echo "note: the smtpmonctl permission checks need root, setpriv and the group daemon"
	live_done
fi
# sock DIR DIRMODE DIRGROUP SOCKMODE SOCKGROUP: a listening socket DIR/s made by root
socks=()
sock() {
	mkdir "$tmp/$1"
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
open(sys.argv[1] + ".up", "w").close()
time.sleep(60)' "$tmp/$1/s" &
	socks+=($!)
	for _ in $(seq 50); do [[ -e $tmp/$1/s.up ]] && break; sleep 0.1; done
	chgrp "$5" "$tmp/$1/s" && chmod "$4" "$tmp/$1/s" && chgrp "$3" "$tmp/$1" && chmod "$2" "$tmp/$1"
}
trap 'kill "${socks[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
sock rootdir 750 root 600 root         # smtpmon by hand, its group missing: /run/smtpmon root:root
sock rootsock 755 root 600 root        # the socket root's alone, in an open directory
sock groupdir 750 daemon 660 daemon    # smtpmon with its group (here: daemon)
sock groupsock 755 root 660 daemon     # a socket of a group, in an open directory
sock nameless 755 root 660 54321       # a group without a name
# as_nobody SOCKET-DIR: smtpmonctl ping as nobody, outside every group
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" -s "$tmp/$1/s" ping >"$tmp/out" 2>"$tmp/err"
}
root_only="permission denied: only root may use it \(smtpmon gives it to its control group, default smtpmon, only if that group exists when it starts\): run as root, or create the group \(systemd-sysusers; make install does\) and restart smtpmon\$"
for d in rootdir rootsock; do
	as_nobody $d
	one_line "smtpmonctl, socket root's alone ($d)" $? 4 "^smtpmonctl: $tmp/$d/s: $root_only"
	live_check "... and no 'join group root'" bash -c "! grep -q 'group root' '$tmp/err'"
done
for d in groupdir groupsock; do
	as_nobody $d
	one_line "smtpmonctl, socket of the group daemon ($d)" $? 4 \
		"^smtpmonctl: $tmp/$d/s: permission denied: run as root or join group daemon \(then log in again\)\$"
done
as_nobody nameless
one_line "smtpmonctl, socket of a group without a name" $? 4 \
	"^smtpmonctl: $tmp/nameless/s: permission denied: run as root or join the socket's group \(gid 54321, which has no name here\)\$"
live_done
