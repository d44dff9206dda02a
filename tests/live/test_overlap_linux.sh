#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_overlap_linux.sh - TCP overlaps whose copies differ (issue 14 point 5): smtpmon must see
# what a real Linux receiver took, and say that the copies differed.
#
# Two namespaces (tests/lab). The server is a small SMTP server whose RCPT reply names the
# recipient it read (tests/lab/clients/rcpt_echo_server.py) on the Linux stack of the server
# namespace; the client (tests/lab/clients/overlap_client.py) speaks TCP itself over a packet
# socket and sends "RCPT TO:<evil@...>" and "RCPT TO:<good@...>" at overlapping sequence
# numbers in each shape of that script. For every shape: the recipient the server named is the
# one Linux is documented to keep (docs/reassembly.md), smtpmon's smtp_request agrees with it,
# live (TC on the server's veth) and offline (`smtpmon read` of tcpdump's capture of the same
# run), and smtpmon raised the weird rexmit_inconsistency carrying both copies.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

# shape -> the recipient Linux keeps (measured with this test on Linux 6.1 and 6.18).
declare -A want=([ofo-then-inorder]=good [same-start]=evil [earlier-start]=good
	[later-start]=evil [same-start-longer]=good [rexmit-delivered]=good [fragments]=good
	[frag-overlap]=good)
shapes=(ofo-then-inorder same-start earlier-start later-start same-start-longer rexmit-delivered
	fragments frag-overlap)

live_need_root
lab_init "smov$$" || exit 1
SERVER_PID=
trap '[[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; live_cleanup' EXIT
lab_netns || exit 1
d=$LAB_DIR
# The crafted client uses an address its own kernel does not have (so that kernel sends no
# RST); the server reaches it through a static neighbour entry.
CRAFT4=10.199.0.3
srv_mac=$(lab_srv cat "/sys/class/net/$LAB_SRV_IF/address")
cli_mac=$(lab_cli cat "/sys/class/net/$LAB_CLI_IF/address")
lab_srv ip neigh add "$CRAFT4" lladdr "$cli_mac" dev "$LAB_SRV_IF" nud permanent || exit 1
lab_srv python3 tests/lab/clients/rcpt_echo_server.py "$LAB_SRV4" &
SERVER_PID=$!

live_start "$LAB_SRV_NS" "$d/live.json" "$d/live.err" 2 --tls off -i "$LAB_SRV_IF" ||
	{ live_fail "smtpmon starts"; live_done; }
live_tcpdump_start "$d/run.pcap" "host $CRAFT4" || { live_fail "tcpdump starts"; live_done; }
for i in $(seq 50); do lab_srv ss -Hltn "sport = :25" | grep -q . && break; sleep 0.1; done
: >"$d/replies"
for s in "${shapes[@]}"; do
	out=$(lab_cli python3 tests/lab/clients/overlap_client.py "$LAB_CLI_IF" "$CRAFT4" \
		"$LAB_SRV4" "$srv_mac" "$s" 2>&1) || { live_fail "$s: client: $out"; continue; }
	echo "$s $out" | tee -a "$d/replies"
done
sleep 0.5
live_tcpdump_stop
live_stop TERM
"$SMTPMON" read -q --format json "$d/run.pcap" >"$d/offline.json" ||
	live_fail "smtpmon read of the capture"

while read -r s port _code _ext _word rcpt _ok; do
	took=${rcpt#<}
	took=${took%%@*}
	live_check "$s: Linux kept the $took copy (documented: ${want[$s]})" \
		test "$took" = "${want[$s]}"
	for run in live offline; do
		f=$d/$run.json
		seen=$(jq -r --argjson p "$port" 'select(."id.orig_p" == $p and .event ==
			"smtp_request" and .command == "RCPT") | .arg' "$f")
		if [[ $s == fragments && $run == live ]]; then
			live_check "$s: live: the fragmented RCPT is a content_gap (documented)" \
				live_has "$f" "(.\"id.orig_p\" == $port and .event == \"content_gap\")"
			continue
		fi
		live_check "$s: $run smtpmon saw the server's RCPT ($seen)" \
			test "$seen" = "TO:$rcpt"
		case $s in
		fragments) ;;
		frag-overlap)
			[[ $run == offline ]] &&
				live_check "$s: offline weird fragment_inconsistency" \
					live_has "$f" "(.\"id.orig_p\" == $port and .event == \"weird\" and
					.name == \"fragment_inconsistency\")"
			;;
		*)
			live_check "$s: $run weird rexmit_inconsistency with both copies" \
				live_has "$f" "(.\"id.orig_p\" == $port and .event == \"weird\" and
				.name == \"rexmit_inconsistency\" and
				(.addl | test(\"kept=.*$took@.*dropped=\")))"
			;;
		esac
	done
done <"$d/replies"
live_check "every shape ran" test "$(wc -l <"$d/replies")" -eq ${#shapes[@]}
frags=$(live_counter "$d/live.err" fragments)
live_check "live: the kernel counted the 4 fragments ($frags)" test "${frags:-0}" -ge 4
per_if=$(sed -n "s/^smtpmon: fragments skipped:.* $LAB_SRV_IF \([0-9]*\).*/\1/p" "$d/live.err")
live_check "live: ... and per interface ($LAB_SRV_IF $per_if)" test "${per_if:-0}" -ge 4
live_done
