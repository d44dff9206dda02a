#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bpfbench (make bench, part 3) on a tiny repeat: every program and packet runs, the ring-drop
# counter stays zero, the records per run are the ones the record contract (bpf/smtpmon.h)
# implies (none for a non-SMTP segment, a pure ACK or a segment of an encrypted flow; one for a
# 1448-byte SMTP segment; eight for a 64000-byte super-packet: 32768 + 3 * 8192 + 3 * 2048 +
# 512), and the figures the goals use (net of the empty program, paired differences) are there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $EUID -ne 0 ]]; then
	echo "skip: BPF_PROG_TEST_RUN needs root"
	exit 77
fi
make -s build/tools/bpfbench
out=$(build/tools/bpfbench -n 2000 -t 3)
echo "$out"
fails=0
check() {
	local prog=$1 case=$2 records=$3 line
	line=$(grep -E "^$prog $case (ns|unsupported) " <<<"$out") ||
		{ echo "FAIL $prog $case: no line"; fails=$((fails + 1)); return; }
	if [[ $line == *unsupported* ]]; then
		echo "note $line"
		return
	fi
	# a time was measured (ns > 0; how long is make bench's business, not a test's: a loaded
	# machine took 162 us for the 64 KB super-packet), records as expected, drops 0, a net figure
	if awk -v want="$records" '{ exit !($4 > 0 && $8 == want && $10 == 0 &&
		$11 == "net" && $12 < $4) }' <<<"$line"; then
		echo "ok   $line"
	else
		echo "FAIL $line (want $records records per run, 0 drops, ns > 0)"
		fails=$((fails + 1))
	fi
}
for prog in tc xdp; do
	check "$prog" non_smtp 0
	check "$prog" smtp_ack 0
	check "$prog" smtp_fin 1
	check "$prog" smtp_1448 1
	check "$prog" tls_suppressed 0
done
# The super-packet cannot be test-run on TC (one page at most); on XDP it must be.
check xdp smtp_gso_64k 8
grep -q '^xdp smtp_gso_64k ns ' <<<"$out" || { echo "FAIL xdp did not run the super-packet"; fails=$((fails + 1)); }
grep -q '^xdp smtp_1448 .* runs 6001 ' <<<"$out" || { echo "FAIL runs is not 1 + 2000 * 3"; fails=$((fails + 1)); }
# The empty program's figure and the paired differences the goals use.
for prog in tc xdp; do
	grep -qE "^$prog empty ns [0-9.]+$" <<<"$out" || { echo "FAIL $prog: no empty program line"; fails=$((fails + 1)); }
	for b in smtp_ack smtp_fin; do
		grep -qE "^$prog tls_suppressed minus $b ns -?[0-9.]+$" <<<"$out" ||
			{ echo "FAIL $prog: no tls_suppressed minus $b line"; fails=$((fails + 1)); }
	done
done
((fails == 0))
