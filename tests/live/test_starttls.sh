#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_starttls.sh - acceptance 5: STARTTLS suppression.
#
# STARTTLS sessions on ports 25 and 587 against the lab's Postfix, smtpmon live on the
# server's veth, tcpdump on the same interface. Oracle (tshark on the capture, independent of
# smtpmon's decoder): per TCP stream, the payload up to and including the server's 220 reply
# to STARTTLS is plaintext, everything after it is TLS. The kernel must have copied exactly
# the plaintext bytes (payload_bytes) and suppressed exactly the TLS bytes
# (suppressed_bytes), and each smtp_connection must still count every payload byte.
#
# Then the path where the kernel cannot see the 220 first: a client pipelining
# "NOOP\r\nSTARTTLS\r\n" gets "250 ...\r\n220 ...\r\n" in one segment, which the BPF
# program's start-of-segment check misses; user space's parser must then mark the flow
# (tls_marks 1) and the TLS bytes after that must still be suppressed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smbs$$"

for ingress in tc xdp; do
	live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --ingress=$ingress ||
		{ live_fail "$ingress: smtpmon starts"; continue; }
	live_tcpdump_start "$d/tls.pcap" || live_fail "$ingress: tcpdump starts"
	lab_run_scenario starttls-25 || live_fail "$ingress: starttls-25 client"
	lab_run_scenario starttls-587 || live_fail "$ingress: starttls-587 client"
	lab_wait_idle
	sleep 0.5
	live_tcpdump_stop
	live_stop TERM
	live_check "$ingress: smtpmon exits 0" test "$LIVE_RC" -eq 0

	# stream  plaintext-bytes  tls-bytes
	tshark -r "$d/tls.pcap" -Y 'tcp.len > 0' -T fields -e tcp.stream -e tcp.srcport \
		-e tcp.len -e tcp.payload 2>/dev/null | python3 -c '
import sys
streams = {}
for line in sys.stdin:
    stream, sport, tlen, payload = (line.rstrip("\n").split("\t") + [""])[:4]
    data = bytes.fromhex(payload.replace(":", ""))
    s = streams.setdefault(stream, {"plain": 0, "tls": 0, "asked": False, "on": False})
    from_server = int(sport) in (25, 587)
    if s["on"]:
        s["tls"] += int(tlen)
        continue
    s["plain"] += int(tlen)
    if not from_server:
        s["asked"] = data.upper().endswith(b"STARTTLS\r\n")
    elif s["asked"] and data.startswith(b"220"):
        s["on"] = True
for k, s in sorted(streams.items()):
    print(k, s["plain"], s["tls"], int(s["on"]))
' >"$d/oracle"
	cat "$d/oracle"
	plain=$(awk '{s += $2} END {print s + 0}' "$d/oracle")
	tls=$(awk '{s += $3} END {print s + 0}' "$d/oracle")
	ntls=$(awk '{s += $4} END {print s + 0}' "$d/oracle")
	live_check "$ingress: the oracle sees two STARTTLS sessions ($ntls)" test "$ntls" -eq 2
	copied=$(live_counter "$d/err" payload_bytes)
	suppressed=$(live_counter "$d/err" suppressed_bytes)
	live_check "$ingress: kernel copied exactly the plaintext bytes ($copied = $plain)" \
		test "$copied" = "$plain"
	live_check "$ingress: kernel suppressed exactly the TLS bytes ($suppressed = $tls)" \
		test "$suppressed" = "$tls"
	total=$(jq -s '[.[] | select(.event == "smtp_connection") | .orig_bytes + .resp_bytes] | add // 0' "$d/out.json")
	live_check "$ingress: smtp_connection counts every payload byte ($total = $plain + $tls)" \
		test "$total" -eq $((plain + tls))
	ntls_events=$(jq -s '[.[] | select(.event == "smtp_connection" and .tls)] | length' "$d/out.json")
	live_check "$ingress: both connections marked tls ($ntls_events)" test "$ntls_events" -eq 2
done
pipelined_starttls() {
	lab_cli python3 - "$LAB_SRV4" <<-'PY'
		import socket, ssl, sys
		s = socket.create_connection((sys.argv[1], 25), timeout=10)
		f = s.makefile("rb")
		def reply():
		    while True:
		        line = f.readline()
		        if line[3:4] != b"-":
		            return line
		reply()
		s.sendall(b"EHLO pipelined.example\r\n")
		reply()
		s.sendall(b"NOOP\r\nSTARTTLS\r\n")
		assert reply().startswith(b"250")
		assert reply().startswith(b"220")
		ctx = ssl.create_default_context()
		ctx.check_hostname = False
		ctx.verify_mode = ssl.CERT_NONE
		t = ctx.wrap_socket(s, server_hostname="mx")
		t.sendall(b"EHLO pipelined.example\r\n")
		t.recv(4096)
		t.sendall(b"QUIT\r\n")
		t.recv(4096)
		t.close()
	PY
}
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" ||
	{ live_fail "pipelined: smtpmon starts"; live_done; }
pipelined_starttls >"$d/pipelined.log" 2>&1 || live_fail "pipelined STARTTLS client: $(tail -3 "$d/pipelined.log")"
lab_wait_idle
sleep 0.3
live_stop TERM
grep '^smtpmon: \(kernel\|user\)' "$d/err"
marks=$(sed -n 's/.* tls_marks \([0-9]*\).*/\1/p' "$d/err")
live_check "pipelined: user space marked the flow encrypted (tls_marks $marks)" test "$marks" = 1
live_check "pipelined: TLS bytes suppressed after the mark" \
	test "$(live_counter "$d/err" suppressed_bytes)" -gt 0
live_check "pipelined: smtp_connection says tls" \
	live_has "$d/out.json" '.event == "smtp_connection" and .tls'
live_done
