#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# record.sh - play every lab scenario against a real Postfix and record each into its own pcap.
#
#   tests/lab/record.sh [-o OUTDIR] [SCENARIO...]     (root; default OUTDIR build/lab-pcaps)
#
# tcpdump captures the server's veth end (full packets, only the lab's addresses) into
# OUTDIR/SCENARIO.pcap; the client transcripts go to OUTDIR/SCENARIO.client.log. The TLS
# scenarios (LAB_TLS_SCENARIOS, only when named) leave their TLS key log in OUTDIR/keylog, for
# tshark -o tls.keylog_file:OUTDIR/keylog. Exit status 1 if a client failed or a capture is
# empty; the namespaces and Postfix are always removed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lab.sh
. tests/lab/scenarios.sh

out=build/lab-pcaps
if [[ ${1:-} == -o ]]; then
	out=$2
	shift 2
fi
scenarios=("$@")
((${#scenarios[@]})) || scenarios=("${LAB_SCENARIOS[@]}")
mkdir -p "$out" || exit 1

lab_init "smrec$$" || exit 1
trap lab_teardown EXIT
trap 'exit 130' INT TERM
lab_netns && lab_postfix_start || exit 1

# Start tcpdump on the server's veth; return once it is capturing. Immediate mode, so that
# nothing is left in the ring at SIGINT; it gives every packet a snaplen-sized slot, hence -B.
capture_start() {
	local pcap=$1 err=$LAB_DIR/tcpdump.err i
	: >"$err"
	# ip netns exec execs tcpdump: $! is tcpdump itself, so it can be stopped with SIGINT.
	ip netns exec "$LAB_SRV_NS" tcpdump -i "$LAB_SRV_IF" -s 0 -U --immediate-mode -B 65536 -n -Z root -w "$pcap" \
		"host $LAB_SRV4 or host $LAB_SRV6" 2>"$err" &
	capture_pid=$!
	for i in $(seq 100); do
		grep -q 'listening on' "$err" && return 0
		kill -0 "$capture_pid" 2>/dev/null || break
		sleep 0.05
	done
	lab_log "tcpdump did not start: $(cat "$err")"
	return 1
}

capture_stop() {
	kill -INT "$capture_pid" 2>/dev/null
	wait "$capture_pid"
	local dropped
	dropped=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$LAB_DIR/tcpdump.err")
	[[ $dropped == 0 ]] && return 0
	lab_log "tcpdump lost packets: $(tr '\n' ' ' <"$LAB_DIR/tcpdump.err")"
	return 1
}

failed=0
for s in "${scenarios[@]}"; do
	pcap=$out/$s.pcap
	rm -f "$pcap"
	capture_start "$pcap" || exit 1
	lab_run_scenario "$s"
	rc=$?
	lab_wait_idle || lab_log "$s: sessions still open after 10 s"
	sleep 0.2 # the last FIN/ACK of the server side
	capture_stop || rc=1
	cp "$LAB_DIR/$s.client.log" "$out/$s.client.log" 2>/dev/null
	if ((rc != 0)); then
		failed=1
	elif [[ ! -s $pcap ]]; then
		lab_log "$s: empty capture"
		failed=1
	else
		printf 'recorded %-16s %9d bytes\n' "$s" "$(stat -c %s "$pcap")"
	fi
done
cp "$LAB_MAILLOG" "$out/postfix.maillog" 2>/dev/null
[[ -f $LAB_DIR/keylog ]] && cp "$LAB_DIR/keylog" "$out/keylog"
exit $failed
