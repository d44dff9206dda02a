#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Acceptance 4 (issue 2): smtpmon's client command lines and server reply lines agree with
# tshark's dissection, per connection, on every corpus pcap and on pcaps recorded here from
# real sessions (Postfix in one network namespace, swaks/smtplib clients in another: every
# scenario of tests/lab/scenarios.sh, re-recorded into build/lab-pcaps/ on each run).
# Agreement >= 99% over each set, and every difference explained by a named rule
# (tests/oracle/tshark_compare.py). First the comparator must catch four planted mistakes.
#
# usage: tests/oracle/test_corpus_tshark.sh [SMTPMON]   (root, from anywhere)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SMTPMON=${1:-build/smtpmon}
COMPARE=tests/oracle/tshark_compare.py
[[ -x $SMTPMON ]] || { echo "test_corpus_tshark: $SMTPMON missing (run make)" >&2; exit 2; }
SMTPMON=$(realpath "$SMTPMON")

tmp=$(mktemp -d /tmp/smtpmon-oracle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

echo "== recording the lab scenarios"
if ! tests/lab/record.sh -o build/lab-pcaps; then
	echo "test_corpus_tshark: lab recording failed" >&2
	failed=1
fi

# A mutant smtpmon: the real output with one planted mistake, which the comparison must
# report as unexplained.
mutant() {
	local name=$1 program=$2
	cat >"$tmp/$name" <<-EOF
		#!/bin/bash
		"$SMTPMON" "\$@" | python3 -c '$program'
	EOF
	chmod +x "$tmp/$name"
}
mutant reply-text '
import sys
done = False
for l in sys.stdin:
    if not done and "\"msg\":\"2.1.5 Ok\"" in l:
        l, done = l.replace("2.1.5 Ok", "2.1.5 OK"), True
    sys.stdout.write(l)'
mutant lost-rcpt '
import sys
done = False
for l in sys.stdin:
    if not done and "\"command\":\"RCPT\"" in l:
        done = True
        continue
    sys.stdout.write(l)'
# The message body of reset-in-data holds the line "QUIT would be a body line here".
mutant body-as-command '
import sys, json
for l in sys.stdin:
    sys.stdout.write(l)
    e = json.loads(l)
    if e["event"] == "smtp_reply" and e["code"] == 354:
        e.update(event="smtp_request", is_orig=True, command="QUIT",
                 arg="would be a body line here")
        for k in ("code", "cmd", "msg", "cont_resp"):
            del e[k]
        sys.stdout.write(json.dumps(e) + "\n")'

# A header line of the first BDAT chunk of the bdat scenario, reported as a command.
mutant chunk-as-command '
import sys, json
done = False
for l in sys.stdin:
    sys.stdout.write(l)
    e = json.loads(l)
    if not done and e["event"] == "smtp_reply" and e["cmd"] == "BDAT":
        done = True
        e.update(event="smtp_request", is_orig=True, command="FROM:",
                 arg="<sender@client.example>")
        for k in ("code", "cmd", "msg", "cont_resp"):
            del e[k]
        sys.stdout.write(json.dumps(e) + "\n")'

echo "== the comparison catches planted mistakes"
for m in reply-text:plain lost-rcpt:multi-rcpt body-as-command:reset-in-data \
	chunk-as-command:bdat; do
	name=${m%%:*} pcap=build/lab-pcaps/${m#*:}.pcap
	if [[ ! -f $pcap ]]; then
		echo "FAIL self-test $name: $pcap was not recorded"
		failed=1
	elif python3 "$COMPARE" --smtpmon "$tmp/$name" "$pcap" >"$tmp/out" 2>&1; then
		echo "FAIL self-test $name: not detected"
		cat "$tmp/out"
		failed=1
	elif ! grep -q 'unexplained, only' "$tmp/out"; then
		echo "FAIL self-test $name: failed without naming the difference"
		cat "$tmp/out"
		failed=1
	else
		echo "ok   self-test $name: $(grep -m1 'unexplained, only' "$tmp/out" | sed 's/^ *//')"
	fi
done

# The fuzzer seeds under tests/data/zeek/traces/extras/fuzz-smtp-corpus/ (*.pcap.pkt) are raw
# packet fragments, not capture files: tshark cannot read them.
echo "== corpus pcaps"
mapfile -d '' corpus < <(find tests/data \( -name '*.pcap' -o -name '*.pcapng' \) \
	-type f -print0 | sort -z)
((${#corpus[@]} > 90)) || { echo "FAIL: only ${#corpus[@]} corpus pcaps found" >&2; failed=1; }
python3 "$COMPARE" --smtpmon "$SMTPMON" "${corpus[@]}" || failed=1

echo "== lab pcaps"
mapfile -d '' lab < <(find build/lab-pcaps -maxdepth 1 -name '*.pcap' -type f -print0 | sort -z)
((${#lab[@]} >= 13)) || { echo "FAIL: only ${#lab[@]} lab pcaps recorded" >&2; failed=1; }
((${#lab[@]})) && { python3 "$COMPARE" --smtpmon "$SMTPMON" "${lab[@]}" || failed=1; }

exit $failed
