#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bench-workload.sh - record the benchmark workload: real SMTP sessions (tools/smtp-load.py
# --mix lab: 1-5 MB attachments, pipelined small mails with several recipients, STARTTLS,
# refused recipients) against the lab's real Postfix (tests/lab/lab.sh; every mail goes to
# the discard transport), captured with tcpdump -s 0 on the server's veth.
#
#   tools/bench-workload.sh OUT.pcap MB [WORKERS]     (root)
#
# Writes OUT.pcap (atomically: OUT.pcap.tmp and .part first) and OUT.pcap.json, the load's summary
# (sessions and mails per kind, refused recipients, bytes sent).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
mb=$2
workers=${3:-4}

. tools/bench-lib.sh
. tests/lab/lab.sh
lab_init "smbw$$" || exit 1
tcpdump_pid=
cleanup() {
	set +e
	[[ -n $tcpdump_pid ]] && kill -TERM "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid"
	lab_teardown
	rm -f "$out.tmp" "$out.part"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
lab_netns || exit 1
lab_postfix_start || exit 1
d=$LAB_DIR
# Wire-sized segments (at most one MSS per packet, as a capture on a NIC without GRO sees them)
# rather than the veth's 64 KB TSO super-packets: the harder case, one record per 1448 bytes.
lab_srv ip link set dev "$LAB_SRV_IF" gso_max_segs 1
lab_cli ip link set dev "$LAB_CLI_IF" gso_max_segs 1

# -B: a 64 MB kernel buffer, so the capture keeps up with the veth; -U: each packet written as
# read, so that capture_end below knows when the buffer is drained. Started directly (not
# through a shell function, whose subshell would get the signal meant for tcpdump).
ip netns exec "$LAB_SRV_NS" tcpdump -i "$LAB_SRV_IF" -s 0 -B 65536 -U -n -Z root -w "$out.tmp" \
	"tcp or $END_FILTER" 2>"$d/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$d/tcpdump.err" && break
	sleep 0.05
done

lab_cli python3 tools/smtp-load.py --server "$LAB_SRV4" --mb "$mb" --mix lab \
	--workers "$workers" --from "$LAB_FROM" --to "$LAB_RCPT" --to "$LAB_RCPT2" \
	--reject "$LAB_REJECTED_RCPT" --summary "$out.json"
lab_wait_idle || echo "bench-workload: sessions still open after the load" >&2
capture_end "$out.tmp" lab_cli || exit 1
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
if grep -q '[1-9][0-9]* packets dropped by kernel' "$d/tcpdump.err"; then
	echo "bench-workload: tcpdump dropped packets: $(cat "$d/tcpdump.err")" >&2
	exit 1
fi
# Without the end marker.
tcpdump -r "$out.tmp" -w "$out.part" tcp 2>/dev/null
mv "$out.part" "$out"
rm -f "$out.tmp"
echo "bench-workload: $out: $(stat -c %s "$out") bytes; $(cat "$out.json")"
