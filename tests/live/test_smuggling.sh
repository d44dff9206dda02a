#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_smuggling.sh - SMTP smuggling shapes (issue 12 point 4) against a real Postfix.
#
# Two namespaces with Postfix (tests/lab). For each end-of-data marker of the 2023 SMTP
# smuggling research (and the standard one as a control), tests/lab/clients/smuggle_client.py
# ends a message with that marker and pipelines a second transaction (MAIL FROM
# <smuggled-TAG@client.example>) behind it. Postfix's log says whether it took the marker as
# the end (it then queued the smuggled sender). Whatever it decided, smtpmon, live on the
# server's veth and offline from tcpdump's capture of the same run, must raise the weird
# smtp_ambiguous_end_of_data naming the marker's bytes and smtp_smuggled_command naming the
# MAIL command behind it, and neither for the standard marker (docs/smuggling.md).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

# marker (smuggle_client.py's spelling) -> the weird's addl
declare -A shape=([LF.LF]="<LF>.<LF>" [LF.CRLF]="<LF>.<CR><LF>" [CRLF.LF]="<CR><LF>.<LF>"
	[CR.CR]="<CR>.<CR>" [CRLF.CR]="<CR><LF>.<CR>" [CR.CRLF]="<CR>.<CR><LF>"
	[LF.CR]="<LF>.<CR>" [CR.LF]="<CR>.<LF>" [CRLF.CRLF]=)
markers=(CRLF.CRLF LF.LF LF.CRLF CRLF.LF CR.CR CRLF.CR CR.CRLF LF.CR CR.LF)

live_lab "smsm$$"
live_start "$LAB_SRV_NS" "$d/live.json" "$d/live.err" 2 --tls off -i "$LAB_SRV_IF" ||
	{ live_fail "smtpmon starts"; live_done; }
live_tcpdump_start "$d/run.pcap" "host $LAB_SRV4" || { live_fail "tcpdump starts"; live_done; }
n=0
for m in "${markers[@]}"; do
	n=$((n + 1))
	lab_cli python3 tests/lab/clients/smuggle_client.py "$LAB_SRV4" "$LAB_FROM" "$LAB_RCPT" \
		"t$n" "$m" >"$d/client.$n" 2>&1 || live_fail "$m: client: $(tail -2 "$d/client.$n")"
done
lab_wait_idle || live_fail "sessions still open after 10 s"
sleep 1 # the server's last FIN/ACK, and qmgr's log lines
live_tcpdump_stop
live_stop TERM
"$SMTPMON" read -q --format json "$d/run.pcap" >"$d/offline.json" ||
	live_fail "smtpmon read of the capture"

pf_version=$(postconf -c "$LAB_POSTFIX_DIR" -h mail_version)
n=0
for m in "${markers[@]}"; do
	n=$((n + 1))
	if grep -q "from=<smuggled-t$n@client.example>" "$LAB_MAILLOG"; then
		took="took it as the end: the smuggled message was queued"
	else
		took="read on: no smuggled message"
	fi
	echo "note $m: Postfix $pf_version $took"
	for run in live offline; do
		f=$d/$run.json
		# The connection of this marker: the one whose MAIL names smuggled-tN.
		uid=$(jq -r --arg a "FROM:<smuggled-t$n@client.example>" 'select(.event ==
			"smtp_request" and .command == "MAIL" and .arg == $a) | .uid' "$f" | head -1)
		if [[ -z $uid ]]; then
			live_fail "$m: $run: the connection (its smuggled MAIL) not found"
			continue
		fi
		eod=$(jq -r --arg u "$uid" 'select(.uid == $u and .event == "weird" and .name ==
			"smtp_ambiguous_end_of_data") | .addl' "$f")
		smuggled=$(jq -r --arg u "$uid" 'select(.uid == $u and .event == "weird" and .name ==
			"smtp_smuggled_command") | .addl' "$f")
		if [[ -n ${shape[$m]} ]]; then
			live_check "$m: $run: smtp_ambiguous_end_of_data ${shape[$m]} ($eod)" \
				test "$eod" = "${shape[$m]}"
			live_check "$m: $run: smtp_smuggled_command names the MAIL behind it" \
				test "$(head -1 <<<"$smuggled")" = "MAIL FROM:<smuggled-t$n@client.example>"
		else
			live_check "$m: $run: the standard marker raises neither weird" \
				test -z "$eod$smuggled"
		fi
	done
done
live_done
