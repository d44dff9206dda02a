#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_plaintext.sh - SMTP inside TLS (docs/tls-plaintext.md) against an independent oracle:
# tshark decrypting the same capture with the clients' TLS key log.
#
# A real Postfix (tests/lab: STARTTLS on 25 and 587, implicit TLS on 465) and CPython's
# smtplib/ssl clients (tests/lab/clients/tls_client.py, OpenSSL's SSL_read_ex/SSL_write_ex),
# each appending its TLS secrets to $LAB_DIR/keylog. `smtpmon run --data` on the server's
# interface sees every LAB_TLS_SCENARIOS session while tcpdump records each into its own pcap.
# Then:
#   - tests/oracle/tshark_compare.py --keylog: per scenario, the command and reply lines inside
#     TLS ("tls": true) agree with tshark's dissection of the decrypted records for >= 99.5%
#     of lines, and every line before STARTTLS agrees as without TLS (no unexplained
#     difference); the lines before STARTTLS are also exactly those `smtpmon read` reports
#     from the pcap (the wire's view is unchanged);
#   - OpenSSL's read and write are probed at the internal function both forms call
#     (user/capture/probe_site.h), so the oracle checks both forms there;
#   - AUTH PLAIN and LOGIN inside TLS are redacted, and no form of the password is anywhere;
#   - smtp_data inside TLS carries "tls": true like the requests and replies;
#   - port 465: the whole session comes from inside TLS, and no smtp_unexpected, weird or
#     content_gap event comes from its TLS records (nor from anything else here);
#   - a TLS session on 465 between two processes on a private copy of libssl.so.3 (no probe
#     on it) is the one connection counted in sessions_unseen;
#   - a non-SMTP TLS workload (openssl s_server on 8443 in the server namespace, s_client
#     sending SMTP-looking lines) produces no event and no copied byte; with the probes on
#     the library files they see its calls (not_monitored grows), with --tls-processes smtp
#     they do not (its processes are not probed: calls does not grow).
# The probes see the whole host: TLS sessions of other labs running at the same time (other
# tests, in other namespaces) are left out first (live_own_events); bytes they had copied
# while the non-SMTP workload ran cannot be told apart, so that one check is then skipped.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

command -v tshark >/dev/null || { echo "skip: tshark missing (tools/install-deps.sh)"; exit 77; }
SMTPMONCTL=${SMTPMONCTL:-$(dirname "$SMTPMON")/smtpmonctl}
# auto (the default): per process here, as root, with the probes defined in tracefs; all:
# uprobes on the library files, as under the unit (test_tls_processes_all.sh runs this test
# so); smtp: per process, whatever tracefs allows.
TLS_PROCESSES=${TLS_PROCESSES:-auto}
live_lab "smtlp$$"

# The openssl s_server of the non-SMTP workload runs in the server namespace: lab_teardown
# kills it with everything else there.
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --data \
	--control "$d/ctl.sock" --control-group root --tls-processes "$TLS_PROCESSES" ||
	{ live_fail "smtpmon starts"; live_done; }
live_check "the TLS library probes are set up ($(grep -m1 'TLS plaintext from' "$d/err"))" \
	grep -q '^smtpmon: TLS plaintext from .*libssl' "$d/err"
# Debian 12's OpenSSL 3.0: both forms of each call go through one internal function that
# begins with a push (user/capture/probe_site.h). Postfix calls SSL_read/SSL_write, the
# clients SSL_read_ex/SSL_write_ex: the oracle below checks that both are seen there.
live_check "OpenSSL probed at the shared callees, where the kernel emulates the first instruction" \
	grep -q '^smtpmon: TLS plaintext: .*libssl.so.3: SSL_read and SSL_read_ex at their shared callee 0x[0-9a-f]*, SSL_write and SSL_write_ex at their shared callee 0x[0-9a-f]* (no single-step)$' "$d/err"
if [[ $TLS_PROCESSES != all ]]; then
	probed=$(sed -n 's/^smtpmon: TLS plaintext: \([0-9]*\) processes probed now.*/\1/p' "$d/err")
	live_check "per process: Postfix's master and its smtpd for 25, 587 and 465 probed at start (${probed:-none})" \
		test "${probed:-0}" -ge 4
	# The smtpd processes that serve the scenarios are forked after this: they are probed
	# from their fork by the events they inherit (user/capture/trace_uprobes.h), not
	# some ms later, so their first sessions are seen whole.
	live_check "per process: the probes are defined in tracefs and inherited at fork" \
		bash -c "! grep -q 'tracefs probes:\|not per process:' '$d/err'"
fi

for s in "${LAB_TLS_SCENARIOS[@]}"; do
	live_tcpdump_start "$d/$s.pcap" "tcp and (host $LAB_SRV4 or host $LAB_SRV6)" ||
		{ live_fail "$s: tcpdump starts"; continue; }
	lab_run_scenario "$s"
	live_check "$s: the client's session went as expected" test $? -eq 0
	lab_wait_idle || live_fail "$s: sessions still open after 10 s"
	sleep 0.2 # the server's last FIN/ACK
	live_tcpdump_stop
done

# The non-SMTP TLS workload: s_server -rev sends each line back reversed, so the client's
# reversed line comes back as an SMTP reply line.
stats() { # the sum of one per-library TLS probe counter
	"$SMTPMONCTL" -s "$d/ctl.sock" stats --json | jq "[.$1[]] | add"
}
copied0=$(stats tls_probe_copied_bytes) notmon0=$(stats tls_probe_not_monitored)
calls0=$(stats tls_probe_calls)
t0=$(date +%s.%N)
lab_srv timeout 20 openssl s_server -accept 8443 -cert "$d/postfix/etc/cert.pem" \
	-key "$d/postfix/etc/key.pem" -naccept 1 -rev -quiet >"$d/s_server.out" 2>&1 &
s_server=$!
for _ in $(seq 100); do lab_srv ss -Hltn 'sport = :8443' | grep -q . && break; sleep 0.05; done
{
	printf 'EHLO not.smtp.example\r\nMAIL FROM:<x@not.smtp.example>\r\n'
	printf 'gniteerg ptms a ton 022\r\nQUIT\r\n'
	sleep 0.5
} | lab_cli timeout 20 openssl s_client -connect "$LAB_SRV4:8443" -quiet -no_ign_eof \
	>"$d/s_client.out" 2>"$d/s_client.err"
wait "$s_server"
t1=$(date +%s.%N)
live_check "non-SMTP TLS: s_server answered over TLS ($(grep -a -m1 '^220' "$d/s_client.out"))" \
	grep -aq '^220 not a smtp greeting' "$d/s_client.out"
copied1=$(stats tls_probe_copied_bytes) notmon1=$(stats tls_probe_not_monitored)
calls1=$(stats tls_probe_calls)
if [[ $TLS_PROCESSES == all ]]; then
	live_check "non-SMTP TLS: the probes saw its calls, not monitored ($notmon0 -> $notmon1)" \
		test "$notmon1" -gt "$notmon0"
else
	live_check "non-SMTP TLS: its process is not probed (calls $calls0 -> $calls1)" \
		test "$calls1" -eq "$calls0" -a "$notmon1" -eq "$notmon0"
fi

# A session no probe can see: implicit TLS on 465 between two processes on a private copy of
# libssl.so.3 (tests/live/lib.sh live_private_libssl), the server in the client's namespace.
# It must be counted in sessions_unseen (and nothing else is).
if live_private_libssl "$d/privlib"; then
	lab_cli env LD_LIBRARY_PATH="$d/privlib" timeout 20 openssl s_server -accept "$LAB_CLI4:465" \
		-cert "$d/postfix/etc/cert.pem" -key "$d/postfix/etc/key.pem" -naccept 1 -rev -quiet \
		>/dev/null 2>&1 &
	unseen_server=$!
	for _ in $(seq 100); do lab_cli ss -Hltn 'sport = :465' | grep -q . && break; sleep 0.05; done
	{
		printf 'EHLO unseen.example\r\n'
		sleep 0.5
	} | lab_srv env LD_LIBRARY_PATH="$d/privlib" timeout 20 openssl s_client \
		-connect "$LAB_CLI4:465" -quiet -no_ign_eof >"$d/unseen.out" 2>/dev/null
	wait "$unseen_server"
	live_check "unseen session: a line went both ways over TLS on the private libssl" \
		grep -aq 'elpmaxe.neesnu OLHE' "$d/unseen.out"
else
	live_fail "a private copy of libssl.so.3"
fi

sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: \(tls\|user tls\)' "$d/err"
live_check "every connection that turned to TLS got its plaintext but the one on the private libssl ($(grep -o 'sessions_unseen [0-9]*' "$d/err"))" \
	grep -q '^smtpmon: user tls: .*, sessions_unseen 1$' "$d/err"
live_check "unseen session: one connection reported, in TLS, nothing from inside TLS" \
	test "$(jq -c --arg h "$LAB_CLI4" 'select(."id.resp_h" == $h) | [.event, .tls]' \
		"$d/out.json" | jq -s -c .)" = '[["smtp_connection",true]]'
# From here on only this lab's scenarios: the probes also see other labs on this host.
live_own_events "$d/out.json" "$d/all_own.json" "$d"/tls-*.pcap
jq -c --arg h "$LAB_CLI4" 'select(."id.resp_h" != $h)' "$d/all_own.json" >"$d/own.json"
if [[ $copied0 != "$copied1" ]] && cmp -s "$d/out.json" "$d/own.json"; then
	live_fail "non-SMTP TLS: bytes copied while it ran ($copied0 -> $copied1)"
elif [[ $copied0 != "$copied1" ]]; then
	echo "note: non-SMTP TLS: $((copied1 - copied0)) bytes copied while another lab's TLS" \
		"sessions ran: not attributable, not checked"
else
	live_ok "non-SMTP TLS: no byte copied ($copied0 -> $copied1)"
fi

echo "== the oracle: tshark with the key log"
python3 tests/oracle/tshark_compare.py --smtpmon "$SMTPMON" --keylog "$d/keylog" \
	--events "$d/own.json" --redacted --min-tls-agreement 99.5 "$d"/tls-*.pcap >"$d/oracle.out" 2>&1
rc=$?
sed 's|[^ ]*/\(tls-[a-z0-9-]*\.pcap\)|\1|' "$d/oracle.out"
live_check "oracle: inside TLS >= 99.5% per scenario, nothing unexplained before or inside TLS" \
	test $rc -eq 0
for s in "${LAB_TLS_SCENARIOS[@]}"; do
	live_check "oracle: $s compared" grep -q "^ok   .*/$s.pcap: " "$d/oracle.out"
done

# Before STARTTLS the live run reports what `smtpmon read` of the capture reports.
before_tls() { # EVENTS-FILE: the requests and replies outside TLS, without times and uids
	jq -c 'select((.event == "smtp_request" or .event == "smtp_reply") and .tls != true)
		| del(.ts, .uid)' "$1"
}
for s in "${LAB_TLS_SCENARIOS[@]}"; do
	"$SMTPMON" read -q --format json "$d/$s.pcap" >"$d/$s.read.json"
	before_tls "$d/$s.read.json" >"$d/$s.read.before"
	# The live events of this scenario's connections (the 4-tuples of its pcap).
	jq -c '[."id.orig_p", ."id.resp_p"]' "$d/$s.read.json" | sort -u >"$d/$s.ports"
	before_tls "$d/own.json" | jq -c --slurpfile p <(jq -s . "$d/$s.ports") \
		'select([."id.orig_p", ."id.resp_p"] as $k | $p[0] | index([$k]))' >"$d/$s.live.before"
	live_check "$s: before STARTTLS, live = read of the pcap ($(wc -l <"$d/$s.read.before") lines)" \
		cmp -s "$d/$s.read.before" "$d/$s.live.before"
done

echo "== redaction, 465, smtp_data, stray events"
live_check "AUTH inside TLS: PLAIN twice (587, 465) and LOGIN once, redacted" test "$(jq -r \
	'select(.command == "AUTH" and .tls == true) | .arg' "$d/own.json" | sort | tr '\n' ,)" \
	= "LOGIN,PLAIN [redacted],PLAIN [redacted],"
live_check "AUTH LOGIN's two SASL answers inside TLS, redacted" test "$(jq -r \
	'select(.command == "**" and .tls == true) | .arg' "$d/own.json" | tr '\n' ,)" \
	= "[redacted],[redacted],"
secrets=("$LAB_PASS" "$(printf '%s' "$LAB_PASS" | base64)" "$(printf '%s' "$LAB_USER" | base64)"
	"$(printf '\0%s\0%s' "$LAB_USER" "$LAB_PASS" | base64)")
leak=
for x in "${secrets[@]}"; do grep -qF -- "$x" "$d/out.json" && leak+=" $x"; done
live_check "no credential in the output${leak:+ (found:$leak)}" test -z "$leak"

count() { jq -c "select($1)" "${2:-$d/own.json}" | wc -l; }
n_data=$(count '.event == "smtp_data"') n_data_tls=$(count '.event == "smtp_data" and .tls == true')
live_check "smtp_data inside TLS carries \"tls\": true ($n_data_tls of $n_data)" \
	test "$n_data" -gt 0 -a "$n_data_tls" -eq "$n_data"

uid465=$(jq -r 'select(.event == "smtp_connection" and ."id.resp_p" == 465) | .uid' "$d/own.json")
live_check "465: one connection ($uid465)" test "$(wc -w <<<"$uid465")" -eq 1
live_check "465: the greeting comes from inside TLS" live_has "$d/own.json" \
	".uid == \"$uid465\" and .event == \"smtp_reply\" and .code == 220 and .tls == true"
live_check "465: every request and reply inside TLS ($(jq -c --arg u "$uid465" \
	'select(.uid == $u and .event == "smtp_request")' "$d/own.json" | wc -l) requests)" \
	test "$(jq -c --arg u "$uid465" 'select(.uid == $u and (.event == "smtp_request" or
	.event == "smtp_reply") and .tls != true)' "$d/own.json" | wc -l)" -eq 0
live_check "465: no smtp_starttls (TLS from the first byte)" test "$(jq -c --arg u "$uid465" \
	'select(.uid == $u and .event == "smtp_starttls")' "$d/own.json" | wc -l)" -eq 0
stray=$(jq -c 'select(.event == "smtp_unexpected" or .event == "weird" or
	.event == "content_gap")' "$d/own.json")
live_check "no smtp_unexpected, weird or content_gap event (465's TLS records included)" \
	test -z "$stray"
[[ -n $stray ]] && head -5 <<<"$stray"
n_conns=$(count '.event == "smtp_connection"')
live_check "one connection per scenario ($n_conns)" test "$n_conns" -eq "${#LAB_TLS_SCENARIOS[@]}"
live_check "none of them partial (each seen from its SYN)" \
	test "$(count '.event == "smtp_connection" and .partial')" -eq 0

live_check "non-SMTP TLS: no event on port 8443" \
	test "$(count '."id.orig_p" == 8443 or ."id.resp_p" == 8443' "$d/out.json")" -eq 0
live_check "non-SMTP TLS: no event while it ran" test "$(jq -c --argjson t0 "$t0" \
	--argjson t1 "$t1" 'select(.ts >= $t0 and .ts <= $t1)' "$d/own.json" | wc -l)" -eq 0
live_done
