#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The benchmark workload generator (tools/bench-workload.sh + tools/smtp-load.py --mix lab) on
# a small run: the capture holds what the load's summary promises, seen by an independent
# dissector (tshark): every session kind, refused recipients (554), STARTTLS answered 220,
# pipelined envelopes (several commands in one client segment), several recipients per mail,
# and attachment sessions of at least 1 MB (the veth drops and retransmits under the load, so
# tshark reassembles out of order). Then the bulk mix against tools/smtp-sink.py
# (every reply is checked by the client; a sink that missed a message's end would hang it).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $EUID -ne 0 ]]; then
	echo "skip: the lab needs root"
	exit 77
fi
tmp=$(mktemp -d /tmp/smbwt.XXXXXX)
ns=smbwt$$
sink_pid=
cleanup() {
	[[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() {
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

tools/bench-workload.sh "$tmp/w.pcap" 12 2
cat "$tmp/w.pcap.json"
sum() { jq -r "$1" "$tmp/w.pcap.json"; }
fields() { tshark -o tcp.reassemble_out_of_order:TRUE -r "$tmp/w.pcap" -Y smtp -T fields -E occurrence=a -E separator=/t "$@" 2>/dev/null; }
fields -e smtp.req.command -e smtp.response.code >"$tmp/cmds"
# one command or code per line (fields are tab-separated, occurrences comma-separated)
count() { tr '\t,' '\n' <"$tmp/cmds" | grep -cx "$1" || true; }

for kind in attachment pipelined starttls rejected; do
	check "the load ran $kind sessions" test "$(sum ".sessions.$kind // 0")" -gt 0
done
sessions=$(sum '[.sessions[]] | add')
check "one EHLO per session and one more per STARTTLS ($sessions sessions; tshark $(count EHLO))" \
	test "$(count EHLO)" -eq "$((sessions + 0))"
# tshark names the command by its first four letters ("STAR").
check "STARTTLS commands = starttls sessions" \
	test "$(($(count STARTTLS) + $(count STAR)))" -eq "$(sum .sessions.starttls)"
check "a 220 answer per STARTTLS and greeting (tshark $(count 220))" \
	test "$(count 220)" -eq "$((sessions + $(sum .sessions.starttls)))"
check "554 replies = refused recipients ($(sum .refused_rcpts); tshark $(count 554))" test "$(count 554)" -eq "$(sum .refused_rcpts)"
# Mails inside TLS are invisible: the cleartext DATA commands are the other kinds' mails.
check "DATA commands = attachment + pipelined mails (tshark $(count DATA))" \
	test "$(count DATA)" -eq "$(sum '.mails.attachment + .mails.pipelined')"
check "more RCPT than MAIL (several recipients)" test "$(count RCPT)" -gt "$(count MAIL)"
check "pipelined: client segments carrying MAIL, RCPT and DATA together" \
	test "$(grep -c 'MAIL,RCPT,RCPT.*DATA' "$tmp/cmds" || true)" -ge "$(sum .mails.pipelined)"
# Client-to-server payload per TCP stream: the attachment sessions carry 1-7 MB each.
tshark -r "$tmp/w.pcap" -Y 'tcp.dstport == 25' -T fields -e tcp.stream -e tcp.len 2>/dev/null |
	awk '{ b[$1] += $2 } END { for (s in b) if (b[s] >= 1000000) n++; print n + 0 }' >"$tmp/big"
check "attachment sessions of at least 1 MB ($(cat "$tmp/big"))" \
	test "$(cat "$tmp/big")" -eq "$(sum .sessions.attachment)"
check "capture at least as large as the load's bytes" \
	test "$(stat -c %s "$tmp/w.pcap")" -ge "$(sum .bytes)"

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" python3 tools/smtp-sink.py 127.0.0.1 2525 &
sink_pid=$!
for _ in $(seq 50); do
	ip netns exec "$ns" ss -Hltn 'sport = :2525' | grep -q . && break
	sleep 0.1
done
check "bulk mix through the sink" timeout 60 ip netns exec "$ns" python3 tools/smtp-load.py \
	--server 127.0.0.1 --port 2525 --mb 100 --mix bulk --workers 2 --summary "$tmp/bulk.json"
cat "$tmp/bulk.json"
check "bulk: ten mails per session, at least 100 MB" \
	jq -e '.mails.bulk == 10 * .sessions.bulk and .bytes >= 100 * 1048576' "$tmp/bulk.json"
((fails == 0))
