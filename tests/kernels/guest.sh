#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# guest.sh - /init of a kernel-matrix guest (tests/kernels/test_kernels.sh boots it under QEMU).
#
# On the guest's kernel, with the binaries built on the host:
#   1. build/tests/test_bpf_prog: every program through BPF_PROG_TEST_RUN on hand-made frames;
#      build/tests/test_bpf_log: what this kernel's verifier says about a program it refuses;
#   2. for TC (TCX or clsact, whatever the kernel has) and XDP ingress: two network
#      namespaces joined by a veth pair, tools/smtp-sink.py in one, smtp_session.py sessions
#      over IPv4 and IPv6 from the other, `smtpmon run --data` on the server's interface and
#      tcpdump on the same interface; then `smtpmon read --data` of the capture;
#   3. after smtpmon exits: none of its programs loaded, no filter, no XDP left;
#   3b. the TLS probes per process: with the unit's capabilities (uprobe PMU) and as root
#      (tracefs definitions, inherited at fork: tests/kernels/tls_forks.py);
#   3c. GnuTLS at its probe sites (a return probe on a jump): msmtp over STARTTLS to an
#      OpenSSL sink, both libraries' probes copying the same bytes;
#   4. the refusals: --xdp-mode=native on a device whose driver has no XDP (lo),
#      --tc-attach=tcx on a kernel without TCX: one line and exit status 1.
# It reports on the second serial port (ttyS1; the kernel's console is ttyS0), for the host to
# judge: "@@ ok WHAT" / "@@ FAIL WHAT" lines, files gzip'ed and base64'ed between
# "@@ file NAME" and "@@ end", "@@ done" at the very end. Then it powers the guest off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
cd /smtpmon || exit 1
SMTPMON=build/smtpmon
stty -F /dev/ttyS1 raw -echo
exec 3>/dev/ttyS1

ok() { echo "@@ ok $*" >&3; }
fail() { echo "@@ FAIL $*" >&3; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
show_file() {
	{
		echo "@@ file $1"
		gzip -c "$2" | base64
		echo "@@ end"
	} >&3
}

echo "@@ kernel $(uname -r)" >&3
for m in $(cat /modules/order); do
	insmod "/modules/$m.ko" || fail "insmod $m"
done
ip link set lo up

# 1. Program test runs, and the verifier's own words about a program it refuses.
timeout 300 build/tests/test_bpf_prog >/tmp/test_bpf_prog.log 2>&1
rc=$?
show_file test_bpf_prog.log /tmp/test_bpf_prog.log
check "BPF_PROG_TEST_RUN of every program (test_bpf_prog exit $rc)" test $rc -eq 0
timeout 120 build/tests/test_bpf_log >/tmp/test_bpf_log.log 2>&1
rc=$?
show_file test_bpf_log.log /tmp/test_bpf_log.log
check "a refused program's reason (test_bpf_log exit $rc)" test $rc -eq 0

# 2. The lab.
ip netns add srv && ip netns add cli &&
	ip link add vs type veth peer name vc &&
	ip link set vs netns srv && ip link set vc netns cli || fail "lab: namespaces and veth"
for ns in srv cli; do
	ip -n $ns link set lo up
done
ip -n srv addr add 10.77.0.1/24 dev vs
ip -n srv addr add fd77::1/64 dev vs nodad
ip -n cli addr add 10.77.0.2/24 dev vc
ip -n cli addr add fd77::2/64 dev vc nodad
ip -n srv link set vs up
ip -n cli link set vc up
ip netns exec srv python3 tools/smtp-sink.py 10.77.0.1 25 &
sink4=$!
ip netns exec srv python3 tools/smtp-sink.py fd77::1 25 &
sink6=$!

# Waits until FILE has N lines matching PATTERN (or PID died, or 60 s passed).
wait_lines() {
	local file=$1 pattern=$2 n=$3 pid=$4 i
	for i in $(seq 600); do
		(($(grep -c "$pattern" "$file") >= n)) && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# tls_stat FILE LIB NAME: a counter of smtpmon's final "tls LIB:" line in FILE.
tls_stat() { sed -n "s/^smtpmon: tls $2:.* $3 \([0-9]*\).*/\1/p" "$1"; }

# The kernel frees programs after an RCU grace period: poll a little.
no_program_left() {
	local i
	for i in $(seq 50); do
		bpftool prog show | grep -q ' name smtpmon_' || return 0
		sleep 0.1
	done
	return 1
}

for mode in tc xdp; do
	d=/tmp/$mode
	mkdir -p $d
	# A big buffer: under TCG tcpdump is slow to drain it (seen: 9215 bytes of a message
	# missing from the capture, none from the live run).
	ip netns exec srv tcpdump -i vs -s 0 -B 65536 -U --immediate-mode -n -Z root \
		-w $d/capture.pcap \
		tcp port 25 2>$d/tcpdump.err &
	tcpdump=$!
	wait_lines $d/tcpdump.err 'listening on' 1 $tcpdump || fail "$mode: tcpdump starts"
	ip netns exec srv $SMTPMON run -i vs --ingress=$mode --data --control none \
		>$d/live.json 2>$d/live.err &
	smtpmon=$!
	if ! wait_lines $d/live.err '^smtpmon: attached ' 2 $smtpmon; then
		fail "$mode: smtpmon run attaches"
		show_file $mode-live.err $d/live.err
		kill $tcpdump
		continue
	fi
	ok "$mode: smtpmon run attaches: $(grep '^smtpmon: attached ' $d/live.err | cut -d' ' -f3- |
		tr '\n' ';')"
	# Python's _ssl brought OpenSSL into the image: the TLS library probes (uprobes,
	# the raw tracepoint) load and attach on this kernel too.
	check "$mode: TLS library probes set up: $(grep 'TLS plaintext' $d/live.err | head -1)" \
		grep -q '^smtpmon: TLS plaintext from ' $d/live.err
	for server in 10.77.0.1 fd77::1; do
		ip netns exec cli timeout 120 python3 tests/kernels/smtp_session.py $server 25 64 ||
			fail "$mode: SMTP session to $server"
	done
	sleep 1 # the last FIN and ACK
	kill -INT $tcpdump
	wait $tcpdump
	# The capture is the oracle only if it is whole.
	check "$mode: tcpdump dropped nothing ($(grep 'dropped by kernel' $d/tcpdump.err))" \
		grep -q '^0 packets dropped by kernel' $d/tcpdump.err
	kill -TERM $smtpmon
	wait $smtpmon
	check "$mode: smtpmon run exits 0 on SIGTERM (exit $?)" test $? -eq 0
	check "$mode: no program of smtpmon left loaded" no_program_left
	check "$mode: no filter left on vs" \
		bash -c '! ip netns exec srv tc filter show dev vs ingress | grep -q . &&
			! ip netns exec srv tc filter show dev vs egress | grep -q .'
	check "$mode: no XDP left on vs" bash -c '! ip -n srv link show dev vs | grep -q xdp'
	$SMTPMON read --data $d/capture.pcap >$d/offline.json 2>$d/offline.err ||
		fail "$mode: smtpmon read of the capture: $(cat $d/offline.err)"
	show_file $mode-live.json $d/live.json
	show_file $mode-offline.json $d/offline.json
	show_file $mode-live.err $d/live.err
done
# smtpmon.service's capabilities, given to a user that is not root as the unit does: the
# capture and the TLS library probes attach on this kernel (uprobes need CAP_SYS_ADMIN since
# the stable kernels of July 2025: without it, "Permission denied (uprobes need
# CAP_SYS_ADMIN)" on Debian's 6.1.0-57 and 6.12.118). With --bodies skip, so that this
# kernel's verifier also checks the TLS probes' own body skipping (a constant it prunes
# unless set).
caps=+bpf,+net_admin,+perfmon,+sys_admin
per=0 # uprobes per process, read off below
ip netns exec srv setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=$caps \
	--ambient-caps=$caps $SMTPMON run -i vs --control none --bodies skip \
	>/dev/null 2>/tmp/unit-caps.err &
smtpmon=$!
if wait_lines /tmp/unit-caps.err '^smtpmon: attached ' 2 $smtpmon; then
	check "the unit's capabilities as user 65534: capture and TLS probes attach" \
		grep -q '^smtpmon: TLS plaintext from ' /tmp/unit-caps.err
else
	fail "the unit's capabilities as user 65534: capture does not attach"
fi
kill -TERM $smtpmon 2>/dev/null
wait $smtpmon
show_file unit-caps.err /tmp/unit-caps.err
# The probes per process (--tls-processes smtp), with the same capabilities: the kernel's
# scan finds the two sinks listening on port 25, a client connecting later is marked by its
# connect(), and smtpmon-attach holds one perf event per probe and process (16 here): 32 for
# the sinks, 48 once the client is attached, 32 again some seconds after it ended (the
# closing waits for 2 s without a request). Polled: attaching takes long under TCG.
attach_events() { # perf events held by smtpmon-attach
	local c
	for c in /proc/[0-9]*/comm; do
		[[ $(cat "$c" 2>/dev/null) == smtpmon-attach ]] || continue
		ls -l "${c%/comm}/fd" 2>/dev/null | grep -c 'perf_event'
		return
	done
	echo 0
}
wait_events() { # TEST N: until smtpmon-attach's count of perf events passes `test COUNT TEST N`
	for _ in $(seq 600); do # 60 s at most
		test "$(attach_events)" "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}
ip netns exec srv setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=$caps \
	--ambient-caps=$caps $SMTPMON run -i vs --control none --tls-processes smtp \
	>/dev/null 2>/tmp/per-process.err &
smtpmon=$!
if wait_lines /tmp/per-process.err 'processes probed now' 1 $smtpmon; then
	check "per process: the sinks on port 25 probed at start: $(grep -o '[0-9]* processes probed now' /tmp/per-process.err)" \
		grep -Eq 'TLS plaintext: 2 processes probed now' /tmp/per-process.err
	# Uprobes per process: how many depends on the probe sites the libraries allow
	# (user/capture/probe_site.h), so it is read off the two sinks here.
	per=$(($(attach_events) / 2))
	check "per process: the two sinks hold the same number of uprobes ($per each)" \
		test "$per" -gt 0 -a $((per * 2)) -eq "$(attach_events)"
	ip netns exec cli python3 -c 'import socket, time
s = socket.create_connection(("10.77.0.1", 25))
time.sleep(60)' &
	client=$!
	wait_events -eq $((per * 3))
	rc=$? # before the message's $(attach_events) sets $? again
	check "per process: a client connecting later is attached ($(attach_events) perf events)" \
		test $rc -eq 0
	kill $client
	wait $client
	wait_events -eq $((per * 2))
	rc=$?
	check "per process: and detached once it ended ($(attach_events) perf events)" \
		test $rc -eq 0
else
	fail "per process: smtpmon run --tls-processes smtp sets up its probes"
fi
kill -TERM $smtpmon 2>/dev/null
wait $smtpmon
show_file per-process.err /tmp/per-process.err
# As root the probes are defined in tracefs and inherited at fork
# (user/capture/trace_uprobes.h): tls_forks.py, probed when it listens on 465, forks 10
# children that each make two probed calls at once, long before an attach for them could
# come (under TCG some ms); each call is counted only if the child was probed from its fork.
rm -f /tmp/forks-go
ip netns exec srv $SMTPMON run -i vs --control none --tls-processes smtp \
	>/dev/null 2>/tmp/forks.err &
smtpmon=$!
if wait_lines /tmp/forks.err 'processes probed now' 1 $smtpmon; then
	check "per process as root: probes defined in tracefs" \
		bash -c '! grep -q "tracefs probes:" /tmp/forks.err'
	ip netns exec srv python3 tests/kernels/tls_forks.py tests/kernels/forks.crt \
		tests/kernels/forks.key 10.77.0.1 465 /tmp/forks-go 10 >/tmp/forks.out 2>&1 &
	forks=$!
	wait_events -ge $((per * 3)) # the two sinks and tls_forks.py (and the shell that starts it)
	rc=$?
	check "per process as root: tls_forks.py attached ($(attach_events) perf events)" \
		test $rc -eq 0
	touch /tmp/forks-go
	wait $forks
	check "per process as root: tls_forks.py's 10 children ran ($(cat /tmp/forks.out))" \
		grep -q 'forks done' /tmp/forks.out
	kill -TERM $smtpmon
	wait $smtpmon
	calls=$(tls_stat /tmp/forks.err openssl calls)
	check "per process as root: every call of the 10 forks probed, by inheritance (calls ${calls:-none} of 20)" \
		test "${calls:-0}" -eq 20
else
	fail "per process as root: smtpmon run --tls-processes smtp sets up its probes"
	kill -TERM $smtpmon 2>/dev/null
	wait $smtpmon
fi
show_file forks.err /tmp/forks.err
# GnuTLS on this kernel (msmtp, Debian 12's GnuTLS 3.7) over STARTTLS to a sink on OpenSSL,
# with the probes on the library files: gnutls_record_recv is probed at its tail call, with a
# return probe on a jump rather than at an entry, gnutls_record_send at gnutls_record_send2
# (user/capture/probe_site.h). Both ends pass the same plaintext, so each library's probes
# must copy the same bytes, every call tied to its socket.
ip netns exec srv python3 tools/smtp-sink.py 10.77.0.1 587 tests/kernels/forks.crt \
	tests/kernels/forks.key 2>/tmp/tls-sink.err &
tls_sink=$!
ip netns exec srv $SMTPMON run -i vs --control none --tls-processes all >/dev/null \
	2>/tmp/gnutls.err &
smtpmon=$!
if wait_lines /tmp/gnutls.err '^smtpmon: attached ' 2 $smtpmon; then
	check "GnuTLS probed at its tail call and at gnutls_record_send2" \
		grep -q 'gnutls_record_recv at its tail call 0x[0-9a-f]*, gnutls_record_send at gnutls_record_send2' /tmp/gnutls.err
	printf 'account lab\nhost 10.77.0.1\nport 587\nfrom a@lab.example\ntls on\ntls_starttls on\ntls_certcheck off\n' >/tmp/msmtprc
	chmod 600 /tmp/msmtprc
	printf 'Subject: gnutls\r\n\r\nbody line\r\n' |
		ip netns exec cli timeout 60 msmtp -C /tmp/msmtprc -a lab b@lab.example >/tmp/msmtp.out 2>&1
	check "msmtp sent its mail over STARTTLS (exit $?)" test $? -eq 0
	sleep 1
	kill -TERM $smtpmon
	wait $smtpmon
	g=$(tls_stat /tmp/gnutls.err gnutls copied_bytes)
	o=$(tls_stat /tmp/gnutls.err openssl copied_bytes)
	check "GnuTLS's probes copied what OpenSSL's did (${g:-none} and ${o:-none} bytes)" \
		test "${g:-0}" -gt 0 -a "${g:-0}" = "${o:-1}"
	check "every GnuTLS call tied to its socket (no_socket $(tls_stat /tmp/gnutls.err gnutls no_socket))" \
		test "$(tls_stat /tmp/gnutls.err gnutls no_socket)" = 0
else
	fail "GnuTLS: smtpmon run --tls-processes all attaches"
	kill -TERM $smtpmon 2>/dev/null
	wait $smtpmon
fi
show_file gnutls.err /tmp/gnutls.err
show_file msmtp.out /tmp/msmtp.out
kill $sink4 $sink6 $tls_sink

# 4. Refusals: what the kernel or the device cannot do is one line and exit status 1.
refused() { # WHAT EXPECTED-WORDS smtpmon run options...
	local what=$1 words=$2
	shift 2
	ip netns exec srv timeout 60 $SMTPMON run --control none "$@" >/dev/null 2>/tmp/refused.err
	local rc=$? lines
	lines=$(wc -l </tmp/refused.err)
	if [[ $rc -eq 1 && $lines -eq 1 ]] && grep -q "$words" /tmp/refused.err; then
		ok "$what: exit 1, one line: $(cat /tmp/refused.err)"
	else
		fail "$what: exit $rc, $lines lines: $(head -3 /tmp/refused.err | tr '\n' '|')"
	fi
}
refused "native XDP on lo, whose driver has none" "no native XDP" \
	-i lo --ingress=xdp --xdp-mode=native
kernel=$(uname -r)
major=${kernel%%.*} minor=${kernel#*.}
minor=${minor%%.*}
if ((major < 6 || (major == 6 && minor < 6))); then
	refused "TCX on a kernel before 6.6" "has no TCX" -i vs --tc-attach=tcx
else
	ip netns exec srv timeout -s INT 20 $SMTPMON run --control none -i vs --tc-attach=tcx \
		>/dev/null 2>/tmp/tcx.err
	check "TCX asked for and attached on $kernel" grep -q 'attached vs TCX egress' /tmp/tcx.err
fi
echo "@@ done" >&3
poweroff -f
