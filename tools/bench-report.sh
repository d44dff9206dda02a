#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bench-report.sh - docs/performance.md from make bench's results (called by tools/bench.sh).
#
#   tools/bench-report.sh RESULTS.tsv SECONDS WORKLOAD.pcap >docs/performance.md
set -euo pipefail
results=$1
seconds=$2
workload=$3

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
version() { "$@" 2>/dev/null | head -1; }

cat <<EOF
# Performance

Written by \`make bench\` (tools/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit
$(git describe --always --dirty 2>/dev/null || echo unknown); the whole run took ${seconds} s.
Regenerate it with \`make bench\` (as root, after \`tools/install-deps.sh build test\`).

Machine: ${cpu}, $(nproc) CPUs, ${mem} RAM, ${os}, Linux $(uname -r).
Peers: $(version tshark --version), $(version tcpdump --version), $(version iperf3 --version).
Absolute numbers drift on this shared machine; the headline figures are ratios against a
peer measured in the same run, alternating runs, median of at least 5.

| Part | Figure | Value | Goal | Status |
|------|--------|-------|------|--------|
EOF
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, ($5 == "NOT MET" ? "**NOT MET**" : $5) }' "$results"

cat <<EOF

## How each number is made, and the command that reproduces it

Shared settings: RUNS (default 5), SMTPMON_BENCH_DIR (default /var/tmp/smtpmon-bench).

- **workload**: \`tools/bench-workload.sh $workload 300\` records real sessions
  (tools/smtp-load.py --mix lab, 4 workers) through the namespace lab's Postfix
  (tests/lab/lab.sh, discard transport) with \`tcpdump -s 0\` on the server's veth. The mix:
  one mail with a 1-5 MB base64 attachment per session; five small mails per session, MAIL,
  RCPT and DATA pipelined, two or three recipients, one refused (554) in every other mail;
  STARTTLS with two 20 KB mails inside TLS; MAIL plus a refused recipient only. The veth is
  set to \`gso_max_segs 1\`, so the capture holds wire-sized segments (at most 1448 bytes of
  payload), as on a NIC without GRO.
- **offline**: \`build/smtpmon read -q F\`, \`tshark -r F -T fields -e smtp.req.command
  -e smtp.req.parameter -e smtp.response.code -e smtp.rsp.parameter -Y smtp\` and
  \`tcpdump -r F -w /dev/null\`, output to /dev/null, the file in the page cache, runs
  alternated; wall time (bash EPOCHREALTIME) and peak RSS (\`/usr/bin/time -f %M\`).
  events/s counts smtpmon's JSON lines. The second RSS line is the same measurement on the
  30 MB workload (recorded the same way).
- **bpf**: \`build/tools/bpfbench -n 200000 -t 21\` (tools/bpfbench.c): BPF_PROG_TEST_RUN of
  the TC ingress and the XDP program on one packet per case, the ring (32 MB, as smtpmon run)
  drained between batches, the ring-drop counter and the records drained checked. The value
  is the kernel's own per-run average, median of 21 trials; each trial runs every case once,
  in reverse order every other trial, in at least 10 batches (the kernel truncates each
  batch's average to whole ns). "net" subtracts an empty program of the same type run in
  the same trial (the kernel's test-run loop); "minus" is the median of the per-trial
  differences of two cases run next to each other. The kernel cannot test-run a TC program
  on more than one page of packet, so the 64 KB super-packet is measured on XDP only
  (multi-buffer).
- **live**, **collateral**: \`tools/bench-live.sh\` (LIVE_MB=3000): a veth pair,
  tools/smtp-sink.py as server, tools/smtp-load.py --mix bulk (sessions of ten 8 MB mails,
  one worker) as client; per round the load alone, with \`smtpmon run -i VETH --control none\`
  (TC, default 32 MB ring) and with \`--bodies skip\`, then the three in reverse order, each
  figure the median over rounds of the ratio of the two runs' means; CPU from /proc/PID/stat; drops and
  payload bytes from smtpmon's final kernel counters. Events lost: one more attached run
  captured by tcpdump on the same interface; its requests and replies (event, command,
  argument, code, message) against \`smtpmon read\` of the capture. Collateral: one
  \`iperf3 -c -i 1\` stream to port 5201 of 12 windows of 6 s (IPERF_WINDOW), smtpmon
  attached in every other one; the one-second intervals at least a second away from a
  window's edges are averaged per state (separate iperf3 runs vary by 15 % here).
- **state**: \`tools/gen-state-pcap.py idle 10000 F\` (and 100, for the baseline: per connection
  = RSS difference / 9900), \`tools/gen-state-pcap.py synflood 1000000 F\`, each read with
  \`build/smtpmon read --idle-timeout 100000 [--max-conns N] F\` under \`/usr/bin/time -f %M\`;
  evictions from smtpmon's statistics line. Offline, not replayed live: the live path shares
  the same pipeline and limits.

## The goals that are not met, and why

- **Offline speed and live copy mode with the files on (issue 12).** Since 2026-12-04 text
  that starts like prose gets its type without libmagic's text tests (0.2-1.2 ms per text
  file; libmagic stays the oracle of tests/unit/test_sniff.c), the digests are fed 4 KB
  blocks, not decoded lines, and run in a thread of their own beside the parsing
  (docs/mime.md). Since 2026-12-05 the smtp_data event is built only when it is written:
  zeroing it for every body line had been 14 % of a run (perf), and \`smtpmon read -q
  --file-hashes none\` of the 340 MB workload went from 0.37 s to 0.27 s (24.8x tshark in
  the run of 09:53, 19.9x in the one before). With the default md5 and sha1 the run is as
  long as the digest thread: the workload carries 230 MB of attachment content, md5 takes
  0.28 s of it (about 900 MB/s here, \`openssl speed -evp md5\`), sha1 0.10 s, the parsing
  0.27 s. Tried on 2026-12-05 and dropped: one thread per digest (md5 and sha1 side by side):
  0.41-0.46 s against 0.41-0.43 s. Each file's event waits for its digests (188 waits, 0.05
  to 0.08 s in all, measured with a clock around the wait), and while an attachment is
  decoded md5 keeps one CPU and the parsing and sha1 share the other; the rest of the
  capture (commands, small mails) then runs on one CPU. Overlapping those would need the
  file events emitted later than their entity's end, in an order that depends on thread
  timing: not done. Live, copy mode hashes every body byte the same way (the bulk mails are
  one 8 MB text body each): about 1 CPU-second per GB, too slow for a 9 Gbit/s load on
  these 2 vCPUs. Since 2026-12-05 that no longer costs records: from three quarters full the
  kernel sheds bodies (docs/body-skip.md), so the ring drops and the events lost went to 0,
  and the row "bodies shed" says how many bodies copy mode did not copy. Whether the default
  should hash less is open: Suricata and Zeek's base scripts hash nothing, Zeek's
  hash-all-files policy md5, sha1 and sha256.
- **Peak RSS, small capture against big.** libmagic compiles the regular expressions of its
  rules when a file first reaches them and keeps them: about 3 MB more over the first few
  hundred binary files, then flat (a loop over random 4 KB buffers: 9.8 MB after 94 calls,
  10.5 MB after 500, 10.7 MB after 10 000). The small capture has a tenth of the big one's
  binary files. Before the prose shortcut every text file warmed it up in both.
- **TLS plaintext.** Two findings of 2026-12-05 change what these rows mean.
  (1) Nearly all of a uprobe's cost here was the single step: the kernel runs the probed
  instruction out of line under a debug trap unless it can emulate it, and in this virtual
  machine that trap costs about 10 us. One tracefs uprobe in SSL_write at its first
  instruction (sub, single-stepped) cost 10.1 us a call, at a call instruction in it
  (emulated) 0.76 us. OpenSSL's read and write are now probed at the internal function both
  public forms call, which begins with a push (user/capture/probe_site.h): a probed call went
  from 11.0-11.4 us to 1.3-1.5 us (the per-call row). GnuTLS, later that day, at
  gnutls_record_recv's tail call and at gnutls_record_send2: 1.2 us a call instead of about
  10 us (measured by hand: docs/tls-plaintext.md, Cost).
  (2) The bulk transfers waited on Nagle's algorithm: tools/tls-load.py's client did not set
  TCP_NODELAY, 400 MB of mail took 2.5-2.9 s alone with both CPUs about 70 % idle, and
  anything that moved the ACKs' timing moved the figure; smtpmon attached in copy mode made
  it twice as fast (214 % in one run). That was the "attached faster than alone" of every
  earlier run. With TCP_NODELAY the same transfer takes 0.49-0.54 s, CPU-bound on the 2 vCPUs
  (the Python client and sink each keep one busy), and the rows now measure what smtpmon
  takes from it: in copy mode smtpmon's user space parses (and hashes) every body byte on
  the same two CPUs; with --bodies skip each of the about 32 000 probed calls per 400 MB (the
  sink's SSL_read_ex returns one 16 KB record) still pays its traps, about 1.4 us, and
  the kernel's record of the skipped call; TC alone changes nothing measurable. The
  non-SMTP rows: by default (\`--tls-processes auto\`, per process here, as root) the
  workload's processes are not probed; what is left is the program on every system call's
  entry and TC on the same veth, a few per cent of a 1.6 GB/s transfer, within this
  row's noise (3 runs of each state: 0.232-0.241 s alone, 0.241-0.268 s attached). Where
  tracefs cannot be written (under the unit) auto puts the probes on the library files,
  the row "with --tls-processes all" (docs/tls-plaintext.md). The rows "through Postfix"
  run the same client against the lab's Postfix (smtpd, cleanup writing each 8 MB mail to
  its queue, the discard transport), the issue's own setting. Split by hand with scratch
  builds in the same rounds (2026-12-05, docs/tls-plaintext.md, Cost): the system-call hook
  with no uprobe kept 98.5 %, the uprobes with programs that return at once 82-90 %, and
  smtpmon itself with --bodies skip stayed within 3 points of that: the traps are the gap,
  3-5 us per call there, not the programs or the skipped-call records. Two more changes
  of 2026-12-05 (10:40 on): tools/tls-load.py's mails had no header block, so the MIME
  parser took all 8 MB of each as header lines (17-41 % of smtpmon's samples) and no file
  was hashed; they now have headers and a blank line, and copy mode hashes each 8 MB text
  body (md5 and sha1: the digest thread was 68 % of smtpmon's CPU in a profile through
  Postfix), which lowers the copy rows. And the probes' body records no longer wake smtpmon
  per call (ring_wake.bpf.h): a wake-up per 4 KB read of smtpd had been 48 % of smtpmon's
  samples.
- **Live throughput in copy mode (the default), before the files.** The load's client, its sink and smtpmon
  share the 2 vCPUs, and the transfer is CPU-bound. Copy mode means two passes over every
  body byte: the TC program copies it into the ring in the sender's softirq (on the
  transfer's critical path), and smtpmon reads it once to find the end of DATA. A profile
  of a 3000 MB copy-mode run (\`perf record -a -g\` during \`tools/smtp-load.py --mix bulk\`,
  2026-11-27): the TC program 9.2 % of all CPU samples, 7.6 % of them the copy into the ring
  (\`skb_copy_bits\`); smtpmon 11.9 %, 9.5 % of them the body scan (glibc's memchr, bound by
  memory: the bytes were just written by the other CPU); the Python client and sink 70 %; idle
  13 %. The kernel's copy alone is more than the 3 % the goal leaves. Tried and measured:
  a one-pass SSE2 scan of whole bodies (4 GB/s against 8 GB/s for a memchr per line when the
  data is in cache, the same when it is not: dropped); running smtpmon as SCHED_IDLE (95-97 %,
  but 26 000-47 000 ring drops per run: dropped); SCHED_IDLE with a thread that raises the
  priority once the ring is a quarter full (77 raises per GB, slower than plain: dropped).
  Kept: records of up to 32 KB (8 instead of 32 per 64 KB super-packet; smtpmon CPU
  0.28-0.32 -> 0.24-0.28 s/GB, throughput 78-83 % -> 83-87 %). \`--bodies skip\` met the
  goal then. With MIME files and digests on (issue 12), copy mode's reader falls behind this
  load: since 2026-12-05 the kernel sheds the bodies that arrive while the ring is three
  quarters full (nearly all of them under this load), which keeps every command and reply.
- **TLS-suppressed segment against a pure ACK.** Both leave before any map lookup and cost
  8-11 ns net; the suppressed segment must first be recognised as the cached encrypted
  flow's (ports, family, addresses read from the packet), which the ACK does not need: the
  paired difference is a fraction of a ns on TC and 1-2 ns on XDP. Against a FIN (an SMTP
  packet without payload that makes a record) it is 100 ns cheaper.
EOF
