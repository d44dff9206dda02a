#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# SMTP smuggling shapes offline (issue 12 point 4), on the pcap that
# `tests/tools/gen-sessions-pcap.py smuggling` writes: session 1 ends its message with the
# standard <CR><LF>.<CR><LF>, sessions 2-9 with a marker MTAs disagree on, cut between two
# segments right after the byte that follows the dot, and then pipeline a second transaction.
# Each of sessions 2-9 must raise smtp_ambiguous_end_of_data naming its marker, then
# smtp_smuggled_command for MAIL, RCPT and DATA behind it; session 1 neither
# (docs/smuggling.md). The live counterpart against Postfix: tests/live/test_smuggling.sh.
# Run from the repo root: tests/cli/test_smuggling_pcap.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

. tests/cli/lib.sh

tests/tools/gen-sessions-pcap.py smuggling "$tmp/smuggling.pcap" || { fail "generator"; exit 1; }
"$smtpmon" read -q --format json "$tmp/smuggling.pcap" >"$tmp/out.json" || fail "read"
jq -r 'select(.event == "weird" and (.name | startswith("smtp_ambiguous") or
	startswith("smtp_smuggled"))) | "\(."id.orig_p") \(.name) \(.addl)"' "$tmp/out.json" \
	>"$tmp/got"
n=1
for marker in "<LF>.<LF>" "<LF>.<CR><LF>" "<CR><LF>.<LF>" "<CR>.<CR>" "<CR><LF>.<CR>" \
	"<CR>.<CR><LF>" "<LF>.<CR>" "<CR>.<LF>"; do
	n=$((n + 1))
	p=$((40000 + n))
	printf '%s\n' "$p smtp_ambiguous_end_of_data $marker" \
		"$p smtp_smuggled_command MAIL FROM:<smuggled-$n@example.org>" \
		"$p smtp_smuggled_command RCPT TO:<bob@example.net>" "$p smtp_smuggled_command DATA"
done >"$tmp/want"
if diff "$tmp/want" "$tmp/got"; then
	ok "each marker named, the smuggled MAIL, RCPT and DATA flagged, the standard one silent"
else
	fail "weirds differ (want < > got)"
fi
# Every session still parses both transactions (the parser takes each marker as the end).
[ "$(jq -s '[.[] | select(.event == "smtp_connection")] | map(.transactions) | add' \
	"$tmp/out.json")" = 18 ] && ok "2 transactions in each of the 9 sessions" ||
	fail "transactions: $(jq -c 'select(.event == "smtp_connection") | .transactions' "$tmp/out.json" | tr '\n' ' ')"
cli_done test_smuggling_pcap
