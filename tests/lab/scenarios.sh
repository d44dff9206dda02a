# SPDX-License-Identifier: GPL-2.0-only
# scenarios.sh - the client sessions the lab plays against its Postfix (source after lab.sh).
#
#   . tests/lab/lab.sh; . tests/lab/scenarios.sh
#   ... lab_init / lab_netns / lab_postfix_start ...
#   for s in "${LAB_SCENARIOS[@]}"; do lab_run_scenario "$s" || echo "$s failed"; done
#
# lab_run_scenario NAME runs one scenario from the client namespace and returns the client's
# status; the client's transcript goes to $LAB_DIR/NAME.client.log. Every scenario ends with
# the connection closed (QUIT or RST), but the server may still be closing: call lab_wait_idle
# before stopping a capture.
#
# LAB_TLS_SCENARIOS are sessions inside TLS played with CPython's smtplib and ssl
# (clients/tls_client.py): each appends its TLS secrets to $LAB_DIR/keylog (NSS key log
# format), with which tshark decrypts a capture (-o tls.keylog_file:$LAB_DIR/keylog). They are
# not in LAB_SCENARIOS: the wire-only tests and record.sh's default set stay as they were.
# tls-postscreen (not in LAB_TLS_SCENARIOS) needs the lab's LAB_POSTSCREEN=1 variant, and a
# client address postscreen has not seen yet: run it first, once per lab.

LAB_CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/clients" && pwd)

LAB_SCENARIOS=(plain multi-rcpt pipelined starttls-25 starttls-587 auth-plain auth-login bdat
	attachment-3mb ipv6 bare-lf reset-in-data concurrent-16)
LAB_TLS_SCENARIOS=(tls-starttls-25 tls-starttls-587-auth tls-auth-login tls-465 tls-pipelined
	tls-refused-rcpt tls-ipv6)

lab_swaks() {
	lab_cli swaks --server "$LAB_SRV4" --helo client.lab.example --from "$LAB_FROM" \
		--timeout 20 "$@"
}

lab_pyclient() {
	local scenario=$1
	shift
	lab_cli python3 "$LAB_CLIENTS_DIR/smtp_client.py" "$scenario" --from "$LAB_FROM" "$@"
}

lab_tlsclient() {
	local scenario=$1
	shift
	lab_cli python3 "$LAB_CLIENTS_DIR/tls_client.py" "$scenario" --from "$LAB_FROM" \
		--keylog "$LAB_DIR/keylog" "$@"
}

lab_run_scenario() {
	local name=$1 log=$LAB_DIR/$1.client.log
	case $name in
	plain) lab_swaks --to "$LAB_RCPT" ;;
	multi-rcpt) lab_swaks --to "$LAB_RCPT,$LAB_REJECTED_RCPT,$LAB_RCPT2" ;;
	pipelined) lab_swaks --pipeline --to "$LAB_RCPT,$LAB_RCPT2" ;;
	starttls-25) lab_swaks -tls --to "$LAB_RCPT" ;;
	starttls-587) lab_swaks -tls --port 587 --to "$LAB_RCPT" ;;
	auth-plain) lab_swaks -a PLAIN -au "$LAB_USER" -ap "$LAB_PASS" --to "$LAB_RCPT" ;;
	auth-login) lab_swaks -a LOGIN -au "$LAB_USER" -ap "$LAB_PASS" --to "$LAB_RCPT" ;;
	attachment-3mb)
		# 2.3 MB of random bytes are a little over 3 MB once base64-encoded.
		head -c 2300000 /dev/urandom >"$LAB_DIR/attachment.bin" &&
			lab_swaks --to "$LAB_RCPT" --attach "$LAB_DIR/attachment.bin" --suppress-data ;;
	bdat) lab_pyclient bdat --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	ipv6) lab_pyclient ipv6 --server "$LAB_SRV6" --to "$LAB_RCPT" --to "$LAB_RCPT2" ;;
	bare-lf) lab_pyclient bare-lf --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	reset-in-data) lab_pyclient reset-in-data --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	concurrent-16) lab_pyclient concurrent --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	tls-starttls-25) lab_tlsclient starttls --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	tls-starttls-587-auth)
		lab_tlsclient auth-plain --server "$LAB_SRV4" --to "$LAB_RCPT" \
			--user "$LAB_USER" --password "$LAB_PASS" ;;
	tls-auth-login)
		lab_tlsclient auth-login --server "$LAB_SRV4" --to "$LAB_RCPT" \
			--user "$LAB_USER" --password "$LAB_PASS" ;;
	tls-465)
		lab_tlsclient implicit --server "$LAB_SRV4" --to "$LAB_RCPT" \
			--user "$LAB_USER" --password "$LAB_PASS" ;;
	tls-pipelined) lab_tlsclient pipelined --server "$LAB_SRV4" --to "$LAB_RCPT" --to "$LAB_RCPT2" ;;
	tls-refused-rcpt)
		lab_tlsclient refused-rcpt --server "$LAB_SRV4" --to "$LAB_RCPT" --refused "$LAB_REJECTED_RCPT" ;;
	tls-ipv6) lab_tlsclient starttls --server "$LAB_SRV6" --to "$LAB_RCPT" ;;
	tls-postscreen)
		[[ ${LAB_POSTSCREEN:-0} == 1 ]] || { lab_log "tls-postscreen needs LAB_POSTSCREEN=1"; return 2; }
		lab_tlsclient postscreen --server "$LAB_SRV4" --to "$LAB_RCPT" ;;
	*)
		lab_log "unknown scenario '$name'"
		return 2
		;;
	esac >"$log" 2>&1
	local rc=$?
	if ((rc != 0)); then
		lab_log "scenario $name: client exit $rc, see $log: $(tail -3 "$log")"
		return $rc
	fi
	lab_check_transcript "$name" "$log"
}

# The server must have answered the way the scenario exists to show (swaks transcripts and
# tls_client.py's, in the same notation: '<~' is a reply inside TLS; the Python clients also
# check every reply themselves).
lab_check_transcript() {
	local name=$1 log=$2 want=()
	case $name in
	plain | pipelined | attachment-3mb) want=('^<-  250 2.0.0 Ok: queued as') ;;
	multi-rcpt) want=('^<\*\* 554 5.1.1 <nobody@' '^<-  250 2.0.0 Ok: queued as') ;;
	starttls-25 | starttls-587) want=('^<-  220 2.0.0 Ready to start TLS' '^<~  250 2.0.0 Ok: queued') ;;
	auth-plain | auth-login) want=('^<-  235 2.7.0 Authentication successful' '^<-  250 2.0.0 Ok: queued') ;;
	tls-starttls-25 | tls-ipv6)
		want=('^<-  220 2.0.0 Ready to start TLS' '^~> [eE][hH][lL][oO] ' '^<~  250 2.0.0 Ok: queued as' '^<~  221 ') ;;
	tls-starttls-587-auth)
		want=('^<-  220 2.0.0 Ready to start TLS' '^~> AUTH PLAIN ' '^<~  235 2.7.0 Authentication successful'
			'^<~  250 2.0.0 Ok: queued as') ;;
	tls-auth-login)
		want=('^<-  220 2.0.0 Ready to start TLS' '^~> AUTH LOGIN$' '^<~  334 VXNlcm5hbWU6'
			'^<~  334 UGFzc3dvcmQ6' '^<~  235 2.7.0 Authentication successful' '^<~  250 2.0.0 Ok: queued as') ;;
	tls-465)
		want=('^<~  220 mx.lab.example ESMTP' '^<~  235 2.7.0 Authentication successful'
			'^<~  250 2.0.0 Ok: queued as') ;;
	tls-pipelined)
		want=('^<~  250[ -]PIPELINING' '^# 4 commands in one write$' '^<~  354 '
			'^<~  250 2.0.0 Ok: queued as') ;;
	tls-refused-rcpt) want=('^<~  554 5.1.1 <nobody@' '^<~  250 2.0.0 Ok: queued as') ;;
	tls-postscreen)
		want=('^<-  220 2.0.0 Ready to start TLS' '^<~  450 4.3.2 ' '^# second session'
			'^<~  250 2.0.0 Ok: queued as') ;;
	esac
	local w
	for w in ${want[@]+"${want[@]}"}; do
		grep -q -- "$w" "$log" || { lab_fail "scenario $name: no '$w' in $log"; return; }
	done
}
