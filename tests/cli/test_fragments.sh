#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# IP fragments offline (issue 14 point 6), on the pcaps `tests/tools/gen-frag-pcap.py` writes
# (one SMTP session each; docs/reassembly.md, "IP fragments"):
#   v4, v6    the RCPT segment in two fragments (out of order), the message in eight (reversed):
#             every command and the message are seen, no content_gap, and the statistics line
#             counts 2 reassembled datagrams
#   overlap   the RCPT fragments overlap and differ: the datagram is discarded (as Linux does),
#             the whole retransmission gives RCPT TO:<good...>, and the weird
#             fragment_inconsistency names it
#   dup       a fragment inside the first one differs: the first copy stays (good), weird
#   timeout   half a datagram, then 31 s later the segment whole: the half is dropped (counted),
#             the session is whole
# Run from the repo root: tests/cli/test_fragments.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

. tests/cli/lib.sh

for s in v4 v6 overlap dup timeout; do
	tests/tools/gen-frag-pcap.py "$s" "$tmp/$s.pcap" || { fail "$s: generator"; continue; }
	"$smtpmon" read --format json "$tmp/$s.pcap" >"$tmp/$s.json" 2>"$tmp/$s.err" ||
		{ fail "$s: read"; continue; }
	rcpt=$(jq -r 'select(.event == "smtp_request" and .command == "RCPT") | .arg' "$tmp/$s.json")
	[ "$rcpt" = "TO:<good@example.net>" ] && ok "$s: RCPT seen as sent ($rcpt)" ||
		fail "$s: RCPT: '$rcpt'"
	[ "$(jq -s '[.[] | select(.event == "content_gap")] | length' "$tmp/$s.json")" = 0 ] &&
		ok "$s: no content_gap" || fail "$s: content_gap: $(grep content_gap "$tmp/$s.json")"
	[ "$(jq -r 'select(.event == "smtp_connection") | .transactions' "$tmp/$s.json")" = 1 ] &&
		ok "$s: the message ended" || fail "$s: no transaction"
	weird=$(jq -r 'select(.event == "weird" and .name == "fragment_inconsistency") | .addl' \
		"$tmp/$s.json")
	stats=$(cat "$tmp/$s.err")
	case $s in
	v4 | v6)
		[ -z "$weird" ] && ok "$s: no weird" || fail "$s: weird $weird"
		[[ $stats == *"fragments 10 (datagrams reassembled 2, discarded for overlaps 0, inconsistent 0, dropped 0)"* ]] &&
			ok "$s: statistics" || fail "$s: statistics: $stats"
		;;
	overlap)
		[ "$weird" = "id=7 offset=24 datagram discarded" ] && ok "$s: weird ($weird)" ||
			fail "$s: weird '$weird'"
		[[ $stats == *"discarded for overlaps 1, inconsistent 1,"* ]] && ok "$s: statistics" ||
			fail "$s: statistics: $stats"
		;;
	dup)
		[ "$weird" = "id=7 offset=24 first copy kept" ] && ok "$s: weird ($weird)" ||
			fail "$s: weird '$weird'"
		[[ $stats == *"datagrams reassembled 1, discarded for overlaps 0, inconsistent 1,"* ]] &&
			ok "$s: statistics" || fail "$s: statistics: $stats"
		;;
	timeout)
		[[ $stats == *"fragments 1 (datagrams reassembled 0, discarded for overlaps 0, inconsistent 0, dropped 1)"* ]] &&
			ok "$s: statistics" || fail "$s: statistics: $stats"
		;;
	esac
done
cli_done test_fragments
