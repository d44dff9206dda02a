#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_oracle.sh - the oracle for SMTP inside TLS (tests/oracle/tshark_compare.py --keylog)
# checks itself, independently of smtpmon's TLS library probes:
#   - every LAB_TLS_SCENARIOS session (tests/lab/clients/tls_client.py: CPython smtplib/ssl)
#     succeeds against the lab's Postfix; tests/lab/record.sh records each into
#     build/lab-pcaps-tls/ with the clients' TLS key log;
#   - tshark decrypts each with the key log and shows every command line the client sent
#     inside TLS (the count per scenario is known) and the server's replies;
#   - events built from tshark's own dissection (--emit-events, redacted as smtpmon redacts)
#     agree with it 100%;
#   - planted mistakes in those events are each caught as an unexplained difference: a missing,
#     an extra, a changed and a reordered line inside TLS, a line inside TLS reported as
#     outside, a credential left in clear; `smtpmon read` (blind inside TLS) and a wrong key
#     log fail too.
#
# usage: tests/oracle/test_tls_oracle.sh [SMTPMON]   (root, from anywhere)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
[[ $EUID -eq 0 ]] || { echo "skip: the lab needs root (network namespaces)"; exit 77; }
command -v tshark >/dev/null || { echo "skip: tshark missing (tools/install-deps.sh)"; exit 77; }
SMTPMON=${1:-build/smtpmon}
COMPARE=tests/oracle/tshark_compare.py
OUT=build/lab-pcaps-tls
. tests/lab/scenarios.sh

tmp=$(mktemp -d /tmp/smtpmon-tlsoracle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	failed=1
}

# The command lines each client sends inside TLS (tls_client.py), "." included.
declare -A client_lines=([tls-starttls-25]=6 [tls-starttls-587-auth]=7 [tls-auth-login]=9
	[tls-465]=7 [tls-pipelined]=7 [tls-refused-rcpt]=7 [tls-ipv6]=6)

echo "== recording the TLS scenarios against Postfix"
rm -rf "$OUT"
if ! tests/lab/record.sh -o "$OUT" "${LAB_TLS_SCENARIOS[@]}"; then
	fail "lab recording (client transcripts in $OUT/*.client.log)"
fi
[[ -s $OUT/keylog ]] || { fail "no TLS key log written"; exit 1; }
ok "key log: $(grep -c '^CLIENT_TRAFFIC_SECRET_0 ' "$OUT/keylog") TLS 1.3 sessions"

pcaps=()
for s in "${LAB_TLS_SCENARIOS[@]}"; do pcaps+=("$OUT/$s.pcap"); done

echo "== what tshark decrypts with the key log, and events built from it"
: >"$tmp/events.json"
for s in "${LAB_TLS_SCENARIOS[@]}"; do
	python3 "$COMPARE" --keylog "$OUT/keylog" --emit-events --redacted "$OUT/$s.pcap" \
		>"$tmp/$s.json" || { fail "$s: --emit-events"; continue; }
	cat "$tmp/$s.json" >>"$tmp/events.json"
	c=$(jq -c 'select(.tls == true and .event == "smtp_request")' "$tmp/$s.json" | wc -l)
	r=$(jq -c 'select(.tls == true and .event == "smtp_reply")' "$tmp/$s.json" | wc -l)
	b=$(jq -c 'select(.tls != true)' "$tmp/$s.json" | wc -l)
	if ((c == client_lines[$s] && r > 0)); then
		ok "$s: tshark decrypted $c client and $r server lines inside TLS ($b lines before)"
	else
		fail "$s: tshark decrypted $c client lines (want ${client_lines[$s]}) and $r server lines"
	fi
done

if python3 "$COMPARE" --keylog "$OUT/keylog" --events "$tmp/events.json" --redacted \
	--min-tls-agreement 100 "${pcaps[@]}" >"$tmp/base.out" 2>&1; then
	ok "tshark's own lines as events: $(grep '^  inside TLS' "$tmp/base.out" | sed 's/^ *//')"
else
	fail "tshark's own lines as events do not agree with tshark"
	cat "$tmp/base.out"
fi

# mutant NAME SCENARIO PYTHON: $tmp/NAME.json, SCENARIO's events with one planted mistake.
# PYTHON edits the list `evs` of event dicts in place. Only SCENARIO's own events: each
# self-test compares with that scenario's capture alone, and two scenarios' clients may
# happen to use the same source port (a CI run planted a mistake in the wrong session so).
mutant() {
	python3 -c "
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
def first(cond):
    return next(i for i, e in enumerate(evs) if cond(e))
$3
sys.stdout.write(''.join(json.dumps(e) + '\n' for e in evs))" "$tmp/$2.json" >"$tmp/$1.json"
}
port_of() { jq -r 'select(.event == "smtp_request") | ."id.orig_p"' "$tmp/$1.json" | head -1; }

# A recipient inside TLS not reported.
p=$(port_of tls-refused-rcpt)
mutant tls-missing-rcpt tls-refused-rcpt "
del evs[first(lambda e: e['id.orig_p'] == $p and e.get('tls') and e.get('command') == 'RCPT')]"
# A message line inside TLS reported as a command.
p=$(port_of tls-starttls-25)
mutant tls-body-as-command tls-starttls-25 "
i = first(lambda e: e['id.orig_p'] == $p and e.get('tls') and e.get('code') == 354)
evs.insert(i + 1, dict(evs[i - 1], command='LAST', arg='line'))"
# A reply text inside TLS changed.
p=$(port_of tls-465)
mutant tls-reply-text tls-465 "
i = first(lambda e: e['id.orig_p'] == $p and e.get('msg') == '2.1.5 Ok')
evs[i]['msg'] = '2.1.5 OK'"
# The two pipelined recipients in the wrong order.
p=$(port_of tls-pipelined)
mutant tls-pipelined-order tls-pipelined "
i = first(lambda e: e['id.orig_p'] == $p and e.get('command') == 'RCPT')
j = first(lambda e: e['id.orig_p'] == $p and e.get('command') == 'RCPT' and e is not evs[i])
evs[i]['arg'], evs[j]['arg'] = evs[j]['arg'], evs[i]['arg']"
# The EHLO after STARTTLS reported as if outside TLS.
p=$(port_of tls-starttls-587-auth)
mutant tls-flag-lost tls-starttls-587-auth "
del evs[first(lambda e: e['id.orig_p'] == $p and e.get('tls') and e.get('command') == 'EHLO')]['tls']"
# AUTH PLAIN's initial response inside TLS not redacted.
mutant tls-credential tls-starttls-587-auth "
i = first(lambda e: e['id.orig_p'] == $p and e.get('tls') and e.get('command') == 'AUTH')
evs[i]['arg'] = 'PLAIN AGFsaWNlQGxhYi5leGFtcGxlAGxhYi1zZWNyZXQtNw=='"

echo "== the comparison catches planted mistakes"
# expect NAME PATTERN COMPARE-ARGS...: the comparison fails and prints PATTERN.
expect() {
	local name=$1 pattern=$2
	shift 2
	if python3 "$COMPARE" "$@" >"$tmp/out" 2>&1; then
		fail "self-test $name: not detected"
		cat "$tmp/out"
	elif ! grep -q -- "$pattern" "$tmp/out"; then
		fail "self-test $name: failed without '$pattern'"
		cat "$tmp/out"
	else
		ok "self-test $name: $(grep -m1 -- "$pattern" "$tmp/out" | sed 's/^ *//')"
	fi
}
for m in tls-missing-rcpt:tls-refused-rcpt tls-body-as-command:tls-starttls-25 \
	tls-reply-text:tls-465 tls-pipelined-order:tls-pipelined \
	tls-credential:tls-starttls-587-auth; do
	expect "${m%%:*}" 'unexplained, only .* (inside TLS)' --keylog "$OUT/keylog" --redacted \
		--events "$tmp/${m%%:*}.json" --min-tls-agreement 99.5 "$OUT/${m#*:}.pcap"
done
expect tls-flag-lost-outside 'unexplained, only ours: .*EHLO' --keylog "$OUT/keylog" \
	--redacted --events "$tmp/tls-flag-lost.json" "$OUT/tls-starttls-587-auth.pcap"
expect tls-flag-lost-inside 'unexplained, only tshark (inside TLS): .*EHLO' --keylog \
	"$OUT/keylog" --redacted --events "$tmp/tls-flag-lost.json" "$OUT/tls-starttls-587-auth.pcap"
: >"$tmp/empty.keylog"
expect wrong-keylog 'decrypted no SMTP line' --keylog "$tmp/empty.keylog" --redacted \
	--events "$tmp/events.json" --min-tls-agreement 99.5 "$OUT/tls-starttls-25.pcap"
if [[ -x $SMTPMON ]]; then
	expect smtpmon-read 'unexplained, only tshark (inside TLS)' --smtpmon "$SMTPMON" \
		--keylog "$OUT/keylog" --min-tls-agreement 99.5 "$OUT/tls-starttls-25.pcap"
else
	echo "note: $SMTPMON missing: the smtpmon read self-test left out"
fi
exit $failed
