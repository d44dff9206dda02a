#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_exim.sh - TLS plaintext from GnuTLS on the server side (docs/tls-plaintext.md): Exim,
# from Debian's exim4-daemon-light package unpacked into a temporary directory (never
# installed), as the lab's server on port 25 (tests/lab/lab.sh lab_exim_start).
#
# Clients: CPython's smtplib/ssl (STARTTLS, pipelining, a refused recipient) on a private copy
# of libssl.so.3 that smtpmon does not probe (tests/live/lib.sh live_private_libssl), so that
# their lines inside TLS come from Exim's GnuTLS alone; and msmtp (GnuTLS: both ends GnuTLS).
# Each client writes its TLS key log. smtpmon runs on the server's
# interface, tcpdump records each session. Then tshark decrypts each capture with the key log
# (tests/oracle/tshark_compare.py --keylog): the lines inside TLS agree for >= 99.5% per
# scenario, nothing unexplained; the GnuTLS probes counted calls; no content_gap, weird or
# smtp_unexpected.
# The packages come with apt-get download (cached in build/deb-cache); without network and
# without a cache the test is skipped (77) with a message saying so.
#
# By default (`--tls-processes auto`, here per process with the probes defined in tracefs)
# Exim's child per connection is probed from its fork by the events it inherits: its whole
# session is seen inside TLS, though it is over before an attach for it could come
# (docs/tls-plaintext.md, "Which processes"). TLS_PROCESSES=all runs it with the probes on
# the library files.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
TLS_PROCESSES=${TLS_PROCESSES:-auto}

command -v tshark >/dev/null || { echo "skip: tshark missing (tools/install-deps.sh)"; exit 77; }
command -v msmtp >/dev/null || { echo "skip: msmtp missing (tools/install-deps.sh test)"; exit 77; }
cache=${SMTPMON_DEB_CACHE:-build/deb-cache}
mkdir -p "$cache" || exit 1
pkgs=(exim4-daemon-light exim4-base exim4-config)
for p in "${pkgs[@]}"; do
	compgen -G "$cache/${p}_*.deb" >/dev/null && continue
	(cd "$cache" && timeout 120 apt-get download "$p" >download.log 2>&1) || {
		echo "skip: apt-get download $p failed (no network, no cached package in $cache):" \
			"$(tail -1 "$cache/download.log")"
		exit 77
	}
done

live_need_root
lab_init "smex$$" || exit 1
trap live_cleanup EXIT
lab_netns || exit 1
d=$LAB_DIR
for p in "${pkgs[@]}"; do
	dpkg -x "$(ls "$cache/${p}"_*.deb | tail -1)" "$d/exim-root" || { live_fail "unpack $p"; live_done; }
done
lab_exim_start "$d/exim-root/usr/sbin/exim4" || { live_fail "exim starts"; live_done; }

live_private_libssl "$d/privlib" || { live_fail "a private copy of libssl.so.3"; live_done; }
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --data \
	--tls-processes "$TLS_PROCESSES" ||
	{ live_fail "smtpmon starts"; live_done; }
live_check "the GnuTLS library is probed" grep -q '^smtpmon: TLS plaintext from .*libgnutls' "$d/err"
# Debian 12's GnuTLS 3.7: gnutls_record_recv probed at its tail call, gnutls_record_send at
# gnutls_record_send2, where the kernel emulates the instruction (user/capture/probe_site.h).
# Exim and msmtp call both: the oracle below checks what is seen there.
live_check "GnuTLS probed where the kernel emulates the instruction" \
	grep -q '^smtpmon: TLS plaintext: .*libgnutls.so.30[.0-9]*: gnutls_record_recv at its tail call 0x[0-9a-f]*, gnutls_record_send at gnutls_record_send2 0x[0-9a-f]* (no single-step)$' "$d/err"

cat >"$d/msmtprc" <<EOF
account lab
host $LAB_SRV4
port 25
from $LAB_FROM
tls on
tls_starttls on
tls_certcheck off
EOF
chmod 600 "$d/msmtprc"

client() { # SCENARIO
	local py=(lab_cli env LD_LIBRARY_PATH="$d/privlib" python3 tests/lab/clients/tls_client.py --server "$LAB_SRV4"
		--from "$LAB_FROM" --keylog "$d/keylog")
	case $1 in
	exim-starttls) "${py[@]}" starttls --to "$LAB_RCPT" ;;
	exim-pipelined) "${py[@]}" pipelined --to "$LAB_RCPT" --to "$LAB_RCPT2" ;;
	exim-refused-rcpt) "${py[@]}" refused-rcpt --to "$LAB_RCPT" --refused "$LAB_REJECTED_RCPT" ;;
	exim-msmtp)
		printf 'Subject: GnuTLS to GnuTLS\r\n\r\nbody line\r\n.dot line\r\n' |
			lab_cli env SSLKEYLOGFILE="$d/keylog" msmtp -C "$d/msmtprc" -a lab "$LAB_RCPT"
		;;
	esac
}
scenarios=(exim-starttls exim-pipelined exim-refused-rcpt exim-msmtp)
for s in "${scenarios[@]}"; do
	live_tcpdump_start "$d/$s.pcap" "tcp port 25" || { live_fail "$s: tcpdump starts"; continue; }
	client "$s" >"$d/$s.log" 2>&1
	live_check "$s: the client's session went as expected" test $? -eq 0
	lab_wait_idle || live_fail "$s: sessions still open after 10 s"
	sleep 0.2
	live_tcpdump_stop
done
sleep 1 # the 0.5 s a connection with plaintext waits after its FIN
live_stop TERM
live_check "smtpmon exits 0" test "$LIVE_RC" -eq 0
grep '^smtpmon: \(tls\|user tls\)' "$d/err"
live_own_events "$d/out.json" "$d/own.json" "$d"/exim-*.pcap
live_check "GnuTLS calls were counted" grep -Eq '^smtpmon: tls gnutls: calls [1-9]' "$d/err"
# GnuTLS writes with sendmsg: a session whose first call is a write (msmtp's EHLO) is tied
# to its socket by that system call too.
live_check "every GnuTLS call tied to its socket (no_socket 0)" \
	grep -Eq '^smtpmon: tls gnutls: .* no_socket 0,' "$d/err"
live_check "the Python clients' library was not probed (OpenSSL calls 0)" \
	grep -Eq '^smtpmon: tls openssl: calls 0,' "$d/err"
live_check "one connection per scenario" test "$(jq -c 'select(.event == "smtp_connection")' \
	"$d/own.json" | wc -l)" -eq "${#scenarios[@]}"
stray=$(jq -c 'select(.event == "smtp_unexpected" or .event == "weird" or
	.event == "content_gap")' "$d/own.json")
live_check "no smtp_unexpected, weird or content_gap" test -z "$stray"
[[ -n $stray ]] && head -5 <<<"$stray"

echo "== the oracle: tshark with the clients' key log"
python3 tests/oracle/tshark_compare.py --smtpmon "$SMTPMON" --keylog "$d/keylog" \
	--events "$d/own.json" --min-tls-agreement 99.5 "$d"/exim-*.pcap >"$d/oracle.out" 2>&1
rc=$?
sed 's|[^ ]*/\(exim-[a-z-]*\.pcap\)|\1|' "$d/oracle.out"
live_check "oracle: inside TLS >= 99.5% per scenario, nothing unexplained" test $rc -eq 0
for s in "${scenarios[@]}"; do
	live_check "oracle: $s compared" grep -q "^ok   .*/$s.pcap: " "$d/oracle.out"
done
live_done
