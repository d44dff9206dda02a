#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The decoder against tshark, an independent dissector: for every corpus
# pcap, the TCP segments with payload on ports 25/587 must be the same frames,
# with the same ports and payload lengths, in both. tshark's tcp.len is the
# length the IP header claims; where snaplen cut the frame, the decoder keeps
# only what was captured, so the expected length is tcp.len minus the bytes
# the capture lost (frame.len - frame.cap_len), and frames left with nothing
# are not expected at all.
# Run from the repo root: tests/cli/test_decode_vs_tshark.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
corpus=tests/data
segdump=build/tests/segdump

make -s "$segdump"
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pcaps=0 failed=0 total_segs=0 total_bytes=0

# compare_pcap FILE OUT: the per-frame lists from both tools into OUT.want and OUT.got, their
# differences into OUT.diff, the lines to print into OUT.msg. One per CPU runs at a time.
compare_pcap()
{
	local pcap=$1 out=$2
	# A damaged last record makes tshark exit non-zero after printing what
	# it read; both tools see the same readable prefix.
	tshark -r "$pcap" -Y 'tcp.len>0 && tcp.port in {25,587}' -T fields \
		-e frame.number -e tcp.srcport -e tcp.dstport -e tcp.len \
		-e frame.len -e frame.cap_len 2>/dev/null |
		awk -F'\t' '{ n = $4 - ($5 - $6); if (n > 0) print $1, $2, $3, n }' \
			>"$out.want" || true
	"$segdump" "$pcap" 2>/dev/null |
		awk '$2 == 0 && $5 > 0 && ($3 == 25 || $3 == 587 || $4 == 25 || $4 == 587) \
			{ print $1, $3, $4, $5 }' >"$out.got" || true
	: >"$out.msg"
	if ! [ -s "$out.want" ]; then
		echo "note: tshark sees no SMTP payload in $pcap" >>"$out.msg"
	fi
	if ! diff -u "$out.want" "$out.got" >"$out.diff"; then
		{
			echo "FAIL: $pcap (frame sport dport len: - tshark, + decoder)"
			head -20 "$out.diff"
		} >>"$out.msg"
	fi
}

while IFS= read -r -d '' pcap; do
	pcaps=$((pcaps + 1))
	compare_pcap "$pcap" "$tmp/$pcaps" &
	while (($(jobs -rp | wc -l) >= $(nproc))); do
		wait -n
	done
done < <(find "$corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)
wait
for i in $(seq "$pcaps"); do
	cat "$tmp/$i.msg"
	[ -s "$tmp/$i.diff" ] && failed=$((failed + 1))
	total_segs=$((total_segs + $(wc -l <"$tmp/$i.want")))
	total_bytes=$((total_bytes + $(awk '{ s += $4 } END { print s + 0 }' "$tmp/$i.want")))
done
echo "decode vs tshark, corpus: $pcaps pcaps, $total_segs segments, $total_bytes payload bytes, $failed mismatching pcaps"
[ "$pcaps" -gt 0 ] && [ "$total_segs" -gt 0 ] || exit 1

# A live capture as `tcpdump -i any` writes it on Debian 12 (Linux cooked
# v2), in a throwaway namespace whose loopback allows BIG TCP for IPv6: the
# kernel shows those >64 KB segments to taps as jumbograms (payload length 0
# and a hop-by-hop jumbo option). No capture filter: tcpdump's own filter
# does not look past the hop-by-hop header and would drop exactly those.
live_capture()
{
	local ns=smtpmon_dec_$$ out=$1 tcpdump_pid
	ip netns add "$ns" || return 1
	# shellcheck disable=SC2064 # expand now: the trap outlives this function
	trap "ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; sleep 0.2; ip netns del $ns 2>/dev/null; rm -rf '$tmp'" EXIT
	local run="ip netns exec $ns"
	$run ip link set lo up
	$run ip link set dev lo gso_max_size 180000 gro_max_size 180000 || return 1
	$run python3 - <<-'EOF' &
		# Minimal SMTP responder: one session on 127.0.0.1:25, one on [::1]:587.
		import socket, threading
		def serve(family, addr):
		    s = socket.socket(family)
		    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		    s.bind(addr)
		    s.listen(1)
		    c, _ = s.accept()
		    f = c.makefile('rb')
		    c.sendall(b'220 test ESMTP\r\n')
		    in_data = False
		    for line in f:
		        if in_data:
		            if line == b'.\r\n':
		                in_data = False
		                c.sendall(b'250 queued\r\n')
		            continue
		        verb = line[:4].upper()
		        if verb == b'EHLO':
		            c.sendall(b'250-test\r\n250 PIPELINING\r\n')
		        elif verb == b'DATA':
		            in_data = True
		            c.sendall(b'354 go on\r\n')
		        elif verb == b'QUIT':
		            c.sendall(b'221 bye\r\n')
		            break
		        else:
		            c.sendall(b'250 ok\r\n')
		    c.close()
		threads = [threading.Thread(target=serve, args=a) for a in
		           ((socket.AF_INET, ('127.0.0.1', 25)), (socket.AF_INET6, ('::1', 587)))]
		for t in threads:
		    t.start()
		for t in threads:
		    t.join()
	EOF
	$run tcpdump -q -i any -w "$out" 2>/dev/null &
	tcpdump_pid=$!
	sleep 1.5
	$run python3 - <<-'EOF' || return 1
		import smtplib
		body = ''.join('%069d\r\n' % i for i in range(6000))  # 426 kB
		for host, port in (('127.0.0.1', 25), ('::1', 587)):
		    s = smtplib.SMTP(host, port, timeout=10)
		    s.sendmail('alice@example.com', ['bob@example.com'], body)
		    s.quit()
	EOF
	sleep 0.5
	kill -INT "$tcpdump_pid"
	wait "$tcpdump_pid"
}

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null; then
	echo "SKIP live capture: needs root and tcpdump"
else
	live="$tmp/live-sll2.pcap"
	live_capture "$live" || { echo "FAIL: live capture could not be made"; exit 1; }
	before=$failed
	compare_pcap "$live" "$tmp/live"
	cat "$tmp/live.msg"
	[ -s "$tmp/live.diff" ] && failed=$((failed + 1))
	read -r link < <(tcpdump -r "$live" -c 1 2>&1 >/dev/null | grep -o 'link-type [A-Z_0-9]*')
	jumbos=$(awk '$1 > 65535 { n++ } END { print n + 0 }' < <(tshark -r "$live" \
		-Y 'ipv6.nxt == 0 && tcp.len > 0' -T fields -e tcp.len 2>/dev/null))
	echo "live capture ($link): $(wc -l <"$tmp/live.got") segments, $jumbos IPv6 jumbograms"
	[ "$link" = "link-type LINUX_SLL2" ] || { echo "FAIL: live capture is $link"; failed=$((failed + 1)); }
	[ "$jumbos" -gt 0 ] || { echo "FAIL: no IPv6 jumbogram in the live capture"; failed=$((failed + 1)); }
	[ "$(wc -l <"$tmp/live.got")" -gt 10 ] || { echo "FAIL: live capture too small"; failed=$((failed + 1)); }
	[ "$failed" -eq "$before" ] && echo "live capture: decoder and tshark agree"
fi

[ "$failed" -eq 0 ]
