#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# run-fuzz.sh [--corpus DIR] SECONDS - run every libFuzzer harness in build/fuzz
# (make fuzz-build) for SECONDS each, one per CPU at a time, seeded from tests/data.
#
# make test runs them briefly with a throwaway corpus. make fuzz-long passes
# --corpus build/fuzz-corpus: each harness's corpus is kept in DIR/<harness> and
# grows from run to run, so long runs resume where the last one stopped.
#
# Seeds are built at run time into a temporary directory, never into the
# repository:
#   fuzz_smtp    Zeek's SMTP fuzzer seeds (*.pkt) as they are, plus one script
#                per TCP flow on port 25/587 of every corpus capture (payloads
#                in capture order, in the same 0x01 "PKT" dir format)
#   fuzz_packet  the first frames of every corpus capture, and of the IP fragment captures
#                of tests/tools/gen-frag-pcap.py, in the harness's link-index +
#                16-bit-length framing
#   fuzz_json    the SMTP payloads above, each as one string
#   fuzz_mime    the client bytes of each of those flows (their messages)
#   fuzz_records the same scripts as fuzz_smtp
#   fuzz_elf     a small shared object defining SSL_read and SSL_write, compiled here
# and, for each harness, the reproducers of its past findings in tests/fuzz/regressions/<harness>/
# (named after what they found; fixed since).
# A crash, leak, timeout, out-of-memory or undefined behaviour fails the run (exit 1); libFuzzer's
# reproducer is kept as build/fuzz-findings/<harness>-crash-<sha1> (or
# leak-, timeout-, oom-) and the log as build/fuzz-findings/<harness>.log.
# Reproduce one with: build/fuzz/fuzz_<harness> build/fuzz-findings/<file>
set -euo pipefail

keep=
if [ "${1:-}" = --corpus ]; then
	keep=${2:?--corpus needs a directory}
	shift 2
fi
secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 SECONDS" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
corpus=tests/data
findings=build/fuzz-findings
if [ ! -d "$corpus" ]; then
	echo "run-fuzz: $corpus: no such directory" >&2
	exit 2
fi
harnesses=(build/fuzz/fuzz_*)
if [ ! -x "${harnesses[0]}" ]; then
	echo "run-fuzz: no harness in build/fuzz; run 'make fuzz-build' first" >&2
	exit 2
fi
# Undefined behaviour is a finding too, not just a message.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
work=$(mktemp -d /tmp/smtpmon-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$findings"

python3 - "$corpus" "$work" <<'PY'
"""Seed corpora for the harnesses, from the pcap/pcapng files of the corpus."""
import glob
import hashlib
import os
import struct
import subprocess
import sys

corpus, work = sys.argv[1], sys.argv[2]
# Must match link_types[] in tests/fuzz/fuzz_packet.c.
LINK_TYPES = [1, 113, 276, 12, 101, 228, 229, 0, 108]
SMTP_PORTS = (25, 587)
MAX_SEED = 32 * 1024
MAX_FRAME = 0x3FFF
MARKER = b"\x01PKT"


def pcap_frames(path):
    """(linktype, [frame bytes]) of a pcap or pcapng file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        frames, off = [], 24
        while off + 16 <= len(data):
            incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            frames.append(data[off + 16:off + 16 + incl])
            off += 16 + incl
        return link, frames
    if magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        links, frames, link, off = [], [], None, 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12:
                break
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                ifid, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
                if ifid < len(links):
                    link = links[ifid] if link is None else link
                    frames.append(body[20:20 + caplen])
            off += blen
        return (link if link is not None else 1), frames
    return None, []


def ip_payload(link, f):
    """(ip bytes) after the link header, or None."""
    if link == 1:
        off, etype = 14, struct.unpack(">H", f[12:14])[0] if len(f) >= 14 else 0
        while etype in (0x8100, 0x88A8) and len(f) >= off + 4:
            etype = struct.unpack(">H", f[off + 2:off + 4])[0]
            off += 4
        return f[off:] if etype in (0x0800, 0x86DD) else None
    if link == 113:
        return f[16:]
    if link == 276:
        return f[20:]
    if link in (0, 108):
        return f[4:]
    if link in (12, 14, 101, 228, 229):
        return f
    return None


def tcp_segment(ip):
    """(src, sport, dst, dport, payload) of a TCP packet, or None."""
    if not ip:
        return None
    if ip[0] >> 4 == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            return None
        total = struct.unpack(">H", ip[2:4])[0] or len(ip)
        src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:total]
    elif ip[0] >> 4 == 6 and len(ip) >= 40:
        if ip[6] != 6:
            return None
        src, dst, tcp = ip[8:24], ip[24:40], ip[40:40 + struct.unpack(">H", ip[4:6])[0]]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack(">HH", tcp[:4])
    return src, sport, dst, dport, tcp[(tcp[12] >> 4) * 4:]


def write(kind, name, blob):
    d = os.path.join(work, "seeds-" + kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as out:
        out.write(blob)


for pkt in glob.glob(os.path.join(corpus, "zeek/traces/extras/fuzz-smtp-corpus/*.pkt")):
    seed = open(pkt, "rb").read()
    write("smtp", os.path.basename(pkt), seed)
    write("records", os.path.basename(pkt), seed)
    write("json", os.path.basename(pkt), seed[:4096])

captures = sorted(glob.glob(os.path.join(corpus, "**/*.pcap*"), recursive=True))
# IP fragments (IPv4, IPv6, overlapping, duplicate): no corpus capture has them.
for scenario in ("v4", "v6", "overlap", "dup"):
    path = os.path.join(work, "frag-%s.pcap" % scenario)
    subprocess.run([sys.executable, "tests/tools/gen-frag-pcap.py", scenario, path], check=True)
    captures.append(path)
for path in captures:
    tag = hashlib.sha1(path.encode()).hexdigest()[:10] + "-" + os.path.basename(path)
    link, frames = pcap_frames(path)
    if link in LINK_TYPES and frames:
        blob = bytes([LINK_TYPES.index(link)])
        for f in frames:
            f = f[:MAX_FRAME]
            if len(blob) + 2 + len(f) > MAX_SEED:
                break
            blob += struct.pack(">H", len(f)) + f
        write("packet", tag, blob)
    flows = {}
    for f in frames:
        seg = tcp_segment(ip_payload(link, f))
        if not seg or not seg[4]:
            continue
        src, sport, dst, dport, payload = seg
        if dport in SMTP_PORTS:
            key, direction = (src, sport, dst, dport), 1
        elif sport in SMTP_PORTS:
            key, direction = (dst, dport, src, sport), 0
        else:
            continue
        flows.setdefault(key, []).append(bytes([direction]) + payload)
    for n, records in enumerate(list(flows.values())[:8]):
        blob = b""
        for r in records:
            if len(blob) + len(MARKER) + len(r) > MAX_SEED:
                break
            blob += MARKER + r
            if len(r) > 1 and MARKER not in r:
                write("json", "%s-%d-%d" % (tag, n, len(blob)), r[1:1 + 1024])
        write("smtp", "%s-%d" % (tag, n), blob)
        write("records", "%s-%d" % (tag, n), blob)
        # fuzz_mime: the client's bytes of the flow (its messages), options 0
        mail = b"".join(r[1:] for r in records if r[0] == 1)[:MAX_SEED]
        if b"\n\r\n" in mail or b"\n\n" in mail:
            write("mime", "%s-%d" % (tag, n), b"\x00" + mail)

# fuzz_elf: an ELF shared object with the symbols the TLS probes look up.
src = os.path.join(work, "elf_seed.c")
with open(src, "w") as out:
    out.write("int SSL_read(void) { return 1; }\nint SSL_write(void) { return 2; }\n")
so = os.path.join(work, "elf_seed.so")
if subprocess.run(["cc", "-shared", "-fPIC", "-nostdlib", "-o", so, src]).returncode == 0:
    write("elf", "shared-object", open(so, "rb").read())

for kind in ("smtp", "packet", "json", "mime", "records", "elf"):
    d = os.path.join(work, "seeds-" + kind)
    print("run-fuzz: %d seeds for fuzz_%s" % (len(os.listdir(d)) if os.path.isdir(d) else 0, kind))
PY

harness_name() { # build/fuzz/fuzz_NAME -> NAME
	local name
	name=$(basename "$1")
	echo "${name#fuzz_}"
}

# One harness: its status ("ok" or "failed") into $work/status-NAME, its summary into
# $work/summary-NAME.
run_one() {
	local bin=$1 name run log
	name=$(harness_name "$bin")
	run=$work/run-$name
	[ -z "$keep" ] || run=$keep/$name
	mkdir -p "$run" "$work/seeds-$name"
	# Past findings, fixed: libFuzzer runs every seed first, so a regression fails at once.
	if [ -d "tests/fuzz/regressions/$name" ]; then
		cp tests/fuzz/regressions/"$name"/* "$work/seeds-$name/"
	fi
	log=$findings/$name.log
	{
		echo "run-fuzz: fuzz_$name for ${secs}s (corpus $run: $(find "$run" -type f | wc -l) inputs)"
		if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
			-artifact_prefix="$findings/$name-" "$run" "$work/seeds-$name" >"$log" 2>&1; then
			grep -aE '^Done|stat::number_of_executed_units|stat::peak_rss_mb' "$log" |
				sed "s/^/run-fuzz:   /" || true
			grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed "s/^/run-fuzz:   /" || true
			echo ok >"$work/status-$name"
		else
			echo "run-fuzz: fuzz_$name FAILED, log $log:"
			grep -aE 'ERROR|SUMMARY|Test unit written|^ +#[0-9]+ ' "$log" | head -40 || true
			echo failed >"$work/status-$name"
		fi
	} >"$work/summary-$name" 2>&1
}

# As many harnesses at a time as there are CPUs: each is one process on one core.
jobs_max=$(nproc)
for bin in "${harnesses[@]}"; do
	[ -x "$bin" ] || continue
	while [ "$(jobs -pr | wc -l)" -ge "$jobs_max" ]; do
		wait -n || true
	done
	run_one "$bin" &
done
wait
failed=()
for bin in "${harnesses[@]}"; do
	[ -x "$bin" ] || continue
	name=$(harness_name "$bin")
	cat "$work/summary-$name"
	[ "$(cat "$work/status-$name" 2>/dev/null)" = ok ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "run-fuzz: failed: ${failed[*]}; reproducers in $findings/" >&2
	exit 1
fi
echo "run-fuzz: all harnesses clean"
