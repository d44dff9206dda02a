#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_journal.sh - `smtpmon read --format journal` into a real systemd-journald, read back
# with journalctl and checked against the JSON and text sinks on the same input, and the
# journald catalog systemd/smtpmon.catalog:
#   - one entry per JSON event except smtp_data (never sent, even with --data: no entry has
#     SMTP_EVENT=smtp_data or SMTP_DATA, and a marker from a message body is in no field),
#     and one per reply: the lines of a multi-line reply are one entry (SMTP_MSG joined,
#     a reply to EHLO's extensions in SMTP_CAPABILITIES, SMTP_LINES), while the JSON
#     output keeps one event per line (the rules: journal_spec.py); entries in order;
#   - every SMTP_* field equals the JSON field of the same name (SMTP_ + key upper-cased
#     without "id."), one to one: strings equal the decoded JSON string (\xNN for control
#     bytes and invalid UTF-8, as Zeek writes them), numbers and booleans their JSON text;
#     no other SMTP_* field; no CODE_* fields;
#   - MESSAGE is the text sink's line without its time, or its first 256 bytes or fewer,
#     cut between two characters or escapes, then "…"; never a line break;
#   - PRIORITY by meaning: 4 (warning) for 5xx replies, smtp_unexpected, content_gap, weird
#     and an smtp_connection with end "eviction", 5 (notice) for 4xx replies, else 6; and
#     `journalctl -p warning|notice|info` returns exactly the entries expected at each
#     level (the 550 at notice, STARTTLS not); SYSLOG_IDENTIFIER=smtpmon; MESSAGE_ID per
#     event type from a table written out here (the ids never change);
#   - the example etc/smtpmon.conf's journal selection, read with --config: only the
#     entries its events/min_reply_code select, none of them info, and some;
#   - every field is a string in `journalctl -o json` without --all (never a byte array, as
#     for a value with C1 controls, nor null, as for a field of 4096 bytes or more), also
#     for hostile input: C1 controls, U+2028, bidirectional overrides and noncharacters are
#     written as \u escapes, a field over 4095 bytes has its value cut, with "…";
#   - for a pcap built here from known bytes (control bytes, bare CR and LF, NULs, invalid
#     and valid UTF-8, backslashes, lines of 5000 and 20000 bytes in commands and replies,
#     IPv6, a gap, STARTTLS), chosen fields equal an escaping of the raw wire bytes computed
#     independently in Python; the same pcap read with --max-conns 1 gives evictions;
#   - the catalog: one entry for every MESSAGE_ID in user/output/out_journal.c (parsed from the
#     source, so a new event type without an entry fails here) with Subject, Defined-By:
#     smtpmon, Documentation: man:smtpmon(8) and a text; `journalctl --root=DIR
#     --update-catalog` accepts it without a word and --list-catalog lists every id; and
#     `journalctl -x` (run in a private mount namespace that sees only that catalog
#     database) shows, under the entries of the hostile run, each entry's Subject with its
#     @FIELD@s replaced by the entry's values;
#   - with no journald socket, send failures give one stderr line plus a final count.
# Inputs: tests/data/synthetic/synth-smtp.pcap, tests/data/suricata/smtp-errors/
# smtperr.pcap (binary junk on port 25) and the generated pcap.
#
# Only one journald may run per machine: if one runs, it is used and only this run's entries
# (_PID of our smtpmon) are read back; otherwise /lib/systemd/systemd-journald is started here
# (runtime journal in /run/log/journal, sockets in /run/systemd/journal) and stopped, and what
# it created is removed, on exit. Needs root. Run from anywhere: tests/journal/test_journal.sh
# (SMTPMON=binary and SMTPMON_CATALOG=file to check others, KEEP_TMP=1 to keep the files).
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
corpus=tests/data
catalog=${SMTPMON_CATALOG:-systemd/smtpmon.catalog}
inputs=("$corpus/synthetic/synth-smtp.pcap" "$corpus/suricata/smtp-errors/smtperr.pcap")

[[ $EUID -eq 0 ]] || { echo "skip: needs root (journald)"; exit 77; }
[ -x "$smtpmon" ] || { echo "FAIL: $smtpmon not built (make)"; exit 1; }
for f in "${inputs[@]}"; do
	[ -r "$f" ] || { echo "FAIL: missing corpus file $f"; exit 1; }
done

tmp=$(mktemp -d /tmp/smtpmon-journal.XXXXXX)
our_journald=
created=()
cleanup()
{
	if [[ -n $our_journald ]]; then
		kill "$our_journald" 2>/dev/null
		wait "$our_journald" 2>/dev/null
	fi
	# Only directories this test created, deepest first.
	for ((i = ${#created[@]} - 1; i >= 0; i--)); do
		rm -rf "${created[$i]}"
	done
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

failures=0
fail()
{
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# mkdir_own DIR: create DIR and its missing parents, remembering each for cleanup.
mkdir_own()
{
	local d=$1 missing=()
	while [[ ! -e $d ]]; do
		missing=("$d" "${missing[@]}")
		d=$(dirname "$d")
	done
	for d in "${missing[@]}"; do
		mkdir "$d" && created+=("$d") || return 1
	done
}

start_journald()
{
	local i
	if pids=$(pidof systemd-journald); then
		echo "using the running systemd-journald (pid $pids)"
		return 0
	fi
	mkdir_own /run/systemd/journal || return 1
	mkdir_own /run/log/journal || return 1
	/lib/systemd/systemd-journald >"$tmp/journald.log" 2>&1 &
	our_journald=$!
	for i in $(seq 100); do
		[[ -S /run/systemd/journal/socket ]] && journalctl --sync 2>/dev/null && {
			echo "started systemd-journald (pid $our_journald)"
			return 0
		}
		kill -0 "$our_journald" 2>/dev/null || break
		sleep 0.1
	done
	echo "systemd-journald did not come up:" >&2
	cat "$tmp/journald.log" >&2
	return 1
}

echo "== the catalog"
# Installed into a throwaway root: journalctl builds ROOT/var/lib/systemd/catalog/database.
croot=$tmp/catalog-root
mkdir -p "$croot/usr/lib/systemd/catalog"
cp "$catalog" "$croot/usr/lib/systemd/catalog/smtpmon.catalog"
journalctl --root="$croot" --update-catalog >"$tmp/update-catalog.out" 2>&1 ||
	fail "journalctl --update-catalog exited $?"
[[ -s $tmp/update-catalog.out ]] &&
	fail "journalctl --update-catalog complains: $(head -5 "$tmp/update-catalog.out")"
journalctl --root="$croot" --list-catalog >"$tmp/list-catalog" || fail "--list-catalog"
journalctl --root="$croot" --dump-catalog >"$tmp/dump-catalog" || fail "--dump-catalog"
# What journalctl understood (the dump), against the ids in the source.
python3 - user/output/out_journal.c "$tmp/list-catalog" "$tmp/dump-catalog" <<'EOF' || fail "catalog entries"
import re, sys

src, listing, dump = (open(p).read() for p in sys.argv[1:4])
ids = dict(re.findall(r'\[(EV_\w+)\]\s*=\s*\{\s*"([0-9a-f]{32})"', src))
errors = []
if len(ids) < 7:
    errors.append("found only %d MESSAGE_IDs in out_journal.c: %r" % (len(ids), ids))
listed = dict(l.split(" ", 1) for l in listing.splitlines())
entries = {}
for m in re.finditer(r"^-- ([0-9a-f]{32})\n(.*?)(?=^-- |\Z)", dump, re.S | re.M):
    entries[m.group(1)] = m.group(2)
for event, mid in sorted(ids.items()):
    text = entries.get(mid)
    if text is None:
        errors.append("%s (%s): no catalog entry" % (event, mid))
        continue
    head, _, body = text.partition("\n\n")
    fields = dict(l.split(": ", 1) for l in head.splitlines() if ": " in l)
    if not fields.get("Subject"):
        errors.append("%s: no Subject" % event)
    if fields.get("Defined-By") != "smtpmon":
        errors.append("%s: Defined-By %r" % (event, fields.get("Defined-By")))
    if fields.get("Documentation") != "man:smtpmon(8)":
        errors.append("%s: Documentation %r" % (event, fields.get("Documentation")))
    if len(body.split()) < 40:
        errors.append("%s: the text has %d words" % (event, len(body.split())))
    if listed.get(mid) != "smtpmon: " + fields.get("Subject", ""):
        errors.append("%s: --list-catalog shows %r" % (event, listed.get(mid)))
extra = set(entries) - set(ids.values())
if extra:
    errors.append("catalog entries for unknown ids: %s" % sorted(extra))
for e in errors:
    print("  " + e)
print("  %d MESSAGE_IDs in out_journal.c, %d catalog entries" % (len(ids), len(entries)))
sys.exit(1 if errors else 0)
EOF

start_journald || { echo "FAIL: no journald"; exit 1; }

echo "== generating the hostile pcap"
python3 - "$tmp/hostile.pcap" "$tmp/expect.json" <<'EOF' || { echo "FAIL: pcap generator"; exit 1; }
# A classic pcap (Ethernet, IPv4/IPv6, TCP) of two SMTP connections built from known bytes,
# plus expect.json: events whose field must carry exactly given wire bytes.
import json, struct, sys

out, expect_path = sys.argv[1], sys.argv[2]
frames, expect = [], []
clock = [1700000000_000000]

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def frame(v6, src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp) + len(payload), 6)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp + payload)) + tcp[18:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp) + len(payload), 6, 64) + src + dst
        eth = b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000,
                         64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    clock[0] += 1000
    frames.append((clock[0], eth + ip + tcp + payload))

class Conn:
    def __init__(self, v6, c, s, cport, sport):
        self.v6, self.c, self.s, self.cport, self.sport = v6, c, s, cport, sport
        self.cseq, self.sseq = 1000, 5000
        frame(v6, c, s, cport, sport, self.cseq, 0, 0x02)
        frame(v6, s, c, sport, cport, self.sseq, self.cseq + 1, 0x12)
        self.cseq += 1
        self.sseq += 1
        frame(v6, c, s, cport, sport, self.cseq, self.sseq, 0x10)

    def client(self, data, lost=False):
        if not lost:
            frame(self.v6, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, 0x18,
                  data)
        self.cseq += len(data)

    def server(self, data):
        frame(self.v6, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq, 0x18, data)
        self.sseq += len(data)

    def close(self):
        frame(self.v6, self.c, self.s, self.cport, self.sport, self.cseq, self.sseq, 0x11)
        frame(self.v6, self.s, self.c, self.sport, self.cport, self.sseq, self.cseq + 1, 0x11)
        frame(self.v6, self.c, self.s, self.cport, self.sport, self.cseq + 1, self.sseq + 1,
              0x10)

def want(event, field, raw):
    expect.append({"event": event, "field": field, "hex": raw.hex()})

# Opened before a and still open while a runs: with --max-conns 1, a evicts it.
c = Conn(False, bytes([10, 9, 0, 3]), bytes([10, 9, 0, 2]), 43000, 25)
c.server(b"220 c\r\n")
c.client(b"EHLO c\x07bell\r\n")
want("smtp_request", "arg", b"c\x07bell")

a = Conn(False, bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]), 41000, 25)
a.server(b"220 mx.example ESMTP \xe2\x9c\x93 ready\r\n")
want("smtp_reply", "msg", b"mx.example ESMTP \xe2\x9c\x93 ready")
helo = b"h\xc3\xa9llo\x1b[31m\\x41\"q\"\ttab"
a.client(b"EHLO " + helo + b"\r\n")
want("smtp_request", "arg", helo)
a.server(b"250-mx.example\r\n250-\xff\xfe bad \\\r\n250 OK\r\n")
# one entry for the three lines: the extensions in one field
want("smtp_reply", "capabilities", b"\xff\xfe bad \\, OK")
# NUL: Zeek drops it from the line (weird NUL_in_line); overlong C0 AF, DEL, lone 0x80.
mail = b"FROM:<a\x00b@\xc0\xafx.example> \x7f\x80"
a.client(b"MAIL " + mail + b"\r\n")
want("smtp_request", "arg", mail.replace(b"\x00", b""))
a.server(b"250 2.1.0 Ok\r\n")
# an encoded surrogate, a code point above U+10FFFF, a valid 4-byte sequence
rcpt = b"TO:<\xed\xa0\x80@x\xf4\x90\x80\x80\xf0\x9f\x93\xa7>"
a.client(b"RCPT " + rcpt + b"\r\n")
want("smtp_request", "arg", rcpt)
a.server(b"250 Ok\r\n")
a.client(b"DATA\r\n")
a.server(b"354 go\r\n")
a.client(b"Subject: \x1b\\x\r\nX-Marker: journal-must-not-see-body-7f3a\r\n\r\n"
         b"body \\ line\r\n.\r\n")
a.server(b"250 queued\r\n")
# longer than journalctl's 4096-byte limit for printing a field without --all
a.client(b"X" * 5000 + b"\r\n")
want("smtp_unexpected", "detail", b"X" * 5000)
a.server(b"500 5.5.2 what\r\n")
a.client(b"\x01\x02\x03 junk\r\n")
want("smtp_unexpected", "detail", b"\x01\x02\x03")
a.server(b"500 bad\r\n")
# A bare LF and a bare CR end lines too: three commands, none of them broken.
a.client(b"NOOP one\ntwo\rthree\r\n")
# The direction's first NUL is dropped (weird NUL_in_line), later ones are kept.
a.server(b"250 a\x00b\x00c\x07\r\n500 x\r\n500 y\r\n")
want("smtp_reply", "msg", b"ab\x00c\x07")
a.client(b"RSET\r\n")
a.server(b"250-first\nsecond\r\n250 done\r\n")
# Valid UTF-8 that a terminal or journald acts on: NEL, the 8-bit CSI, a line separator, a
# right-to-left override ("exe.pdf" shown for "fdp.exe"), bidi isolates, noncharacters.
tricky = (b"\xc2\x85nel \xc2\x9b31m \xe2\x80\xa8sep \xe2\x80\xaefdp.exe "
          b"\xe2\x81\xa6iso\xe2\x81\xa9 \xef\xb7\x90 \xf0\x9f\xbf\xbf \xc2\xa0ok")
a.client(b"NOOP " + tricky + b"\r\n")
want("smtp_request", "arg", tricky)
a.server(b"250 " + tricky + b"\r\n")
want("smtp_reply", "msg", tricky)
# Longer than max_line (16384): cut there (weird contentline_size_exceeded).
a.client(b"NOOP " + b"\xfe" * 20000 + b"\r\n")
want("smtp_request", "arg", b"\xfe" * (16384 - 5))
# Every control byte but CR and LF (which end lines), DEL, invalid and valid UTF-8.
huge = (bytes(b for b in range(32) if b not in b"\r\n") + b"\x7f\x80\xff\xc3\xa9\\") * 600
a.server(b"250 " + huge + b"\r\n")
want("smtp_reply", "msg", huge[:16384 - 4])
a.client(b"STARTTLS\r\n")
a.server(b"220 2.0.0 go ahead\r\n")
a.client(b"\x16\x03\x01\x00\x05hello")
a.close()

c.server(b"250 c\r\n")
c.client(b"QUIT\r\n")
c.server(b"221 c\r\n")
c.close()

b = Conn(True, bytes.fromhex("20010db8000000000000000000000001"),
         bytes.fromhex("20010db8000000000000000000000002"), 42000, 587)
b.server(b"220 hi\r\n")
b.client(b"EHLO b\r\n")
b.server(b"250 hello\r\n")
b.client(b"MAIL FROM:<lost@x>\r\n", lost=True)  # a content gap
b.server(b"250 Ok\r\n")
b.client(b"QUIT\r\n")
b.server(b"221 bye\r\n")
b.close()

with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for t, fr in frames:
        f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)))
        f.write(fr)
with open(expect_path, "w") as f:
    json.dump(expect, f)
EOF
inputs+=("$tmp/hostile.pcap")

# check_entries JSON TEXT JOURNAL [EXPECT]: the comparison described at the top.
check_entries()
{
	python3 - "$@" <<'EOF'
import json, re, sys
from collections import Counter

sys.path.insert(0, "tests/journal")
import journal_spec

json_path, text_path, journal_path = sys.argv[1:4]
expect_path = sys.argv[4] if len(sys.argv) > 4 else None
errors = []

def err(msg):
    if len(errors) < 20:
        print("  " + msg)
    errors.append(msg)

# The ids, written out here rather than taken from the code.
MESSAGE_ID = {"smtp_request": "d51fb00bd0b44eba9693a3c540b2b364",
              "smtp_reply": "2776601b33004b3387b96f1926595d5d",
              "smtp_starttls": "8a78e66db85a4499a864eb46473cf4a4",
              "smtp_unexpected": "017d0be3525f476fb04d6fd254e68001",
              "content_gap": "fa7e2afda2174f46b64bcf72ae69d228",
              "smtp_connection": "97ef2b028dfb4179a45ef283e0897ff9",
              "weird": "e77448ff73344ed990d3ea3281ada07f",
              "file": "8bb921fd34494e898b2e9e47db4c9169",
              "smtp_transaction": "c5848e0952c641d0b35e051fa428341c"}
# Fields one entry may repeat (journalctl -o json: an array of strings): the recipients.
REPEATED = {"SMTP_RCPT", "SMTP_RCPT_STATUS"}
MESSAGE_MAX = 256  # bytes of the text line

def keep(s):
    return s

events = [json.loads(l, parse_float=keep, parse_int=keep) for l in open(json_path, "rb")]
texts = [l.rstrip(b"\n").decode() for l in open(text_path, "rb")]
if len(events) != len(texts):
    err("json has %d events, text %d lines" % (len(events), len(texts)))
want_entries = journal_spec.expected(events, texts)
ndata = sum(e["event"] == "smtp_data" for e in events)
ncont = sum(e["event"] == "smtp_reply" and e["cont_resp"] is True for e in events)
entries = [json.loads(l) for l in open(journal_path, "rb")]
print("  %d JSON events (%d smtp_data, %d reply lines with more to come), %d journal entries"
      % (len(events), ndata, ncont, len(entries)))
if len(entries) != len(want_entries):
    err("journal has %d entries, want %d (one per reply, none for smtp_data)"
        % (len(entries), len(want_entries)))
for ent in entries:
    if ent.get("SMTP_EVENT") == "smtp_data" or "SMTP_DATA" in ent:
        err("an smtp_data event reached the journal")
    if any("journal-must-not-see-body" in v for v in ent.values() if isinstance(v, str)):
        err("a message body line reached the journal: %r" % ent.get("MESSAGE"))

def check_message(msg, line, where):
    """The text line from after its time; cut between characters or escapes, then "…"."""
    if "\n" in msg or "\r" in msg:
        err("%s: MESSAGE has a line break" % where)
    if len(line.encode()) <= MESSAGE_MAX:
        if msg != line:
            err("%s: MESSAGE %r, want %r" % (where, msg[:200], line[:200]))
        return
    head = msg[:-1]
    if not msg.endswith("…") or not line.startswith(head):
        err("%s: MESSAGE %r is not a cut of %r" % (where, msg[:300], line[:300]))
    elif not MESSAGE_MAX - 4 < len(head.encode()) <= MESSAGE_MAX:
        err("%s: MESSAGE cut after %d bytes" % (where, len(head.encode())))
    elif re.search(r"(?<!\\)(\\\\)*\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$", head):
        err("%s: MESSAGE cut inside an escape: %r" % (where, head[-8:]))

seen_types = Counter()
for n, (want_e, ent) in enumerate(zip(want_entries, entries)):
    where = "entry %d (%s)" % (n, want_e["event"])
    seen_types[want_e["event"]] += 1
    for k, v in ent.items():
        if not isinstance(v, str) and not (k in REPEATED and isinstance(v, list) and
                                           all(isinstance(x, str) for x in v)):
            err("%s: field %s is not a string: %r" % (where, k, v))
    if not isinstance(ent.get("MESSAGE"), str):
        continue
    check_message(ent["MESSAGE"], want_e["message"], where)
    if ent.get("SYSLOG_IDENTIFIER") != "smtpmon":
        err("%s: SYSLOG_IDENTIFIER %r" % (where, ent.get("SYSLOG_IDENTIFIER")))
    if ent.get("PRIORITY") != want_e["priority"]:
        err("%s: PRIORITY %r, want %r" % (where, ent.get("PRIORITY"), want_e["priority"]))
    if ent.get("MESSAGE_ID") != MESSAGE_ID.get(want_e["event"]):
        err("%s: MESSAGE_ID %r, want %r" % (where, ent.get("MESSAGE_ID"),
                                           MESSAGE_ID.get(want_e["event"])))
    if any(k.startswith("CODE_") for k in ent):
        err("%s: has CODE_* fields" % where)
    want = want_e["fields"]
    got = {k: v for k, v in ent.items() if k.startswith("SMTP_")}
    for name in sorted(set(want) | set(got)):
        if name not in got:
            err("%s: %s missing" % (where, name))
        elif name not in want:
            err("%s: unexpected %s=%r" % (where, name, got[name]))
        elif got[name] != want[name]:
            err("%s: %s=%r, want %r" % (where, name, str(got[name])[:200], want[name][:200]))
print("  entries by type: %s" % ", ".join("%s %d" % kv for kv in sorted(seen_types.items())))

def escape_zeek(raw):
    """Independent of smtpmon: \\xNN for control bytes and bytes outside a well-formed
    UTF-8 sequence (Python's strict decoder), \\uXXXX for the characters the contract
    names (journal_spec.visible), every other byte as it is."""
    out, i = [], 0
    while i < len(raw):
        b = raw[i]
        if b < 0x20 or b == 0x7f:
            out.append("\\x%02x" % b)
        elif b < 0x80:
            out.append(chr(b))
        else:
            n = 2 if 0xc2 <= b <= 0xdf else 3 if 0xe0 <= b <= 0xef else 4 if 0xf0 <= b <= 0xf4 else 0
            try:
                if n:
                    out.append(journal_spec.visible(raw[i:i + n].decode("utf-8")))
                    i += n
                    continue
            except UnicodeDecodeError:
                pass
            out.append("\\x%02x" % b)
        i += 1
    return "".join(out)

if expect_path:
    for x in json.load(open(expect_path)):
        name = "SMTP_" + x["field"].upper()
        value = journal_spec.capped(name, escape_zeek(bytes.fromhex(x["hex"])))
        if not any(e.get("SMTP_EVENT") == x["event"] and e.get(name) == value for e in entries):
            err("no %s entry with %s=%r" % (x["event"], name, value[:120]))
    print("  %d fields checked against the wire bytes" % len(json.load(open(expect_path))))
sys.exit(1 if errors else 0)
EOF
}

# run_journal NAME FILE [OPTIONS...]: FILE through the three sinks, then the comparison.
# Sets journal_pid (the journal run's pid) for later look-ups.
journal_pid=
declare -A run_pid
run_journal()
{
	local name=$1 f=$2 expect=()
	shift 2
	echo "== $name"
	"$smtpmon" read -q --data "$@" --format json "$f" >"$tmp/$name.json" || fail "$name: json run"
	"$smtpmon" read -q --data "$@" --format text "$f" >"$tmp/$name.txt" || fail "$name: text run"
	since=$(date +%s)
	"$smtpmon" read -q --data "$@" --format journal "$f" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	journal_pid=$!
	run_pid[$name]=$journal_pid
	wait "$journal_pid" || fail "$name: journal run exited $?"
	[[ -s $tmp/$name.out ]] && fail "$name: journal run wrote to stdout"
	[[ -s $tmp/$name.err ]] && fail "$name: journal run wrote to stderr: $(head -3 "$tmp/$name.err")"
	journalctl --sync || fail "journalctl --sync"
	journalctl -o json --no-pager --since "@$((since - 1))" \
		_PID="$journal_pid" SYSLOG_IDENTIFIER=smtpmon >"$tmp/$name.journal" ||
		fail "$name: journalctl"
	[[ $f == "$tmp/hostile.pcap" && $# == 0 ]] && expect=("$tmp/expect.json")
	grep -q '"event":"smtp_data"' "$tmp/$name.json" || fail "$name: input has no smtp_data"
	check_entries "$tmp/$name.json" "$tmp/$name.txt" "$tmp/$name.journal" "${expect[@]}" ||
		fail "$name: journal entries differ from the JSON/text sinks"
}

for f in "${inputs[@]}"; do
	[[ $f == "$tmp/hostile.pcap" ]] || run_journal "$(basename "$f")" "$f"
done
run_journal evicting "$tmp/hostile.pcap" --max-conns 1
grep -q '"end":"eviction"' "$tmp/evicting.json" || fail "--max-conns 1 evicted nothing"
# Last, so that journal_pid names its run for the catalog check.
run_journal hostile.pcap "$tmp/hostile.pcap"

echo "== journalctl -x shows the catalog under the hostile run's entries"
# journalctl -x reads /var/lib/systemd/catalog/database whatever --root says: a private mount
# namespace sees the database built above there, the host's stays untouched.
# shellcheck disable=SC2016 # expanded by the inner sh
unshare -m sh -c 'mount --bind "$1" /var/lib/systemd/catalog && shift && exec "$@"' sh \
	"$croot/var/lib/systemd/catalog" journalctl -x --all --no-pager -o short \
	_PID="$journal_pid" SYSLOG_IDENTIFIER=smtpmon >"$tmp/x.out" 2>&1 || fail "journalctl -x"
python3 - "$tmp/dump-catalog" "$tmp/hostile.pcap.journal" "$tmp/x.out" <<'EOF' ||
import re, sys
from collections import Counter

dump, journal, xout = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
subjects = dict(re.findall(r"^-- ([0-9a-f]{32})\nSubject: (.*)$", dump, re.M))
entries = [__import__("json").loads(l) for l in journal.splitlines()]
errors, want = [], Counter()
for e in entries:
    subject = subjects.get(e.get("MESSAGE_ID"))
    if subject is None:
        errors.append("no catalog Subject for %s" % e.get("MESSAGE_ID"))
        continue
    for name in re.findall(r"@([A-Z0-9_]+)@", subject):
        if name not in e:
            errors.append("%s entry lacks %s, used in its Subject" % (e["SMTP_EVENT"], name))
    want[re.sub(r"@([A-Z0-9_]+)@", lambda m: e.get(m.group(1), ""), subject)] += 1
got = Counter(m for m in re.findall(r"^\S+ Subject: (.*)$", xout, re.M))
for subject, n in sorted(want.items()):
    if got[subject] < n:
        errors.append("-x shows %r %d times, want %d" % (subject[:150], got[subject], n))
for e in errors[:20]:
    print("  " + e)
print("  %d entries, %d catalog subjects shown" % (len(entries), sum(got.values())))
sys.exit(1 if errors else 0)
EOF
	fail "journalctl -x: catalog text missing"

# count_entries FILE: its lines that are journal entries of smtpmon.
count_entries()
{
	grep -c '"SYSLOG_IDENTIFIER" *: *"smtpmon"' "$1"
}

# expect_count JSON PRIORITY [EVENTS MIN_CODE]: the entries journal_spec expects for the JSON
# events with a PRIORITY at or above (<=) the given one, in the given selection.
expect_count()
{
	python3 - "$@" <<'EOF'
import json, sys
sys.path.insert(0, "tests/journal")
import journal_spec

events = [json.loads(l) for l in open(sys.argv[1])]
level = int(sys.argv[2])
select = sys.argv[3].split(",") if len(sys.argv) > 3 else None
min_code = int(sys.argv[4]) if len(sys.argv) > 4 else 0
n = 0
for e in journal_spec.expected(events):
    if select and e["event"] not in select:
        continue
    if e["event"] == "smtp_reply" and int(e["fields"]["SMTP_CODE"]) < min_code:
        continue
    n += int(e["priority"]) <= level
print(n)
EOF
}

echo "== journalctl -p: priorities by meaning, through journald's own filter"
for name in synth-smtp.pcap smtperr.pcap hostile.pcap; do
	for level in warning:4 notice:5 info:6; do
		journalctl -o json --no-pager -p "${level%:*}" _PID="${run_pid[$name]}" \
			SYSLOG_IDENTIFIER=smtpmon >"$tmp/p.json" || fail "journalctl -p ${level%:*}"
		got=$(count_entries "$tmp/p.json")
		want=$(expect_count "$tmp/$name.json" "${level#*:}")
		echo "  $name -p ${level%:*}: $got entries"
		[[ $got == "$want" ]] || fail "$name: journalctl -p ${level%:*} gives $got entries, want $want"
	done
done
# synth-smtp's one rejection (550 to RCPT) is there at warning, its STARTTLS is not at notice.
journalctl -o json --no-pager -p notice _PID="${run_pid[synth-smtp.pcap]}" >"$tmp/p.json"
grep -q '"SMTP_CODE" *: *"550"' "$tmp/p.json" || fail "-p notice lacks the 550 reply"
grep -q '"SMTP_EVENT" *: *"smtp_starttls"' "$tmp/p.json" && fail "-p notice shows smtp_starttls"
# The EHLO reply of 8 lines is one entry with the extensions in one field.
journalctl -o json --all --no-pager _PID="${run_pid[synth-smtp.pcap]}" SMTP_CMD=EHLO \
	SMTP_EVENT=smtp_reply >"$tmp/ehlo.json"
python3 - "$tmp/ehlo.json" <<'EOF' || fail "synth-smtp: the EHLO reply entry"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
caps = "PIPELINING, SIZE 10240000, 8BITMIME, SMTPUTF8, CHUNKING, AUTH PLAIN LOGIN, STARTTLS"
first = e[0] if e else {}
ok = (first.get("SMTP_MSG") == "mx.example.net Hello" and first.get("SMTP_CAPABILITIES") == caps
      and first.get("SMTP_LINES") == "8" and first.get("MESSAGE", "").endswith(caps))
print("  %d EHLO reply entries, the first: %s" % (len(e), {k: v for k, v in first.items()
      if k in ("SMTP_MSG", "SMTP_CAPABILITIES", "SMTP_LINES")}))
sys.exit(0 if ok else 1)
EOF

echo "== the example configuration's journal selection (a busy MX)"
# Its [output journal] section, read with --config: failures and anomalies only, all of them
# notice or warning; one plain message sends nothing when all goes well.
sel=$(sed -n '/^\[output journal\]/,/^\[/{s/^events *= *//p}' etc/smtpmon.conf)
min=$(sed -n '/^\[output journal\]/,/^\[/{s/^min_reply_code *= *//p}' etc/smtpmon.conf)
[[ -n $sel && -n $min ]] || fail "etc/smtpmon.conf: no [output journal] events/min_reply_code"
for name in synth-smtp.pcap hostile.pcap; do
	f=$corpus/synthetic/synth-smtp.pcap
	[[ $name == hostile.pcap ]] && f=$tmp/hostile.pcap
	since=$(date +%s)
	"$smtpmon" read -q --config etc/smtpmon.conf "$f" >"$tmp/mx.out" 2>"$tmp/mx.err" &
	pid=$!
	wait "$pid" || fail "$name: read --config etc/smtpmon.conf exited $?"
	[[ -s $tmp/mx.err ]] && fail "$name: busy-MX run wrote to stderr: $(head -3 "$tmp/mx.err")"
	journalctl --sync
	journalctl -o json --all --no-pager --since "@$((since - 1))" _PID="$pid" \
		SYSLOG_IDENTIFIER=smtpmon >"$tmp/mx.json" || fail "journalctl"
	got=$(count_entries "$tmp/mx.json")
	want=$(expect_count "$tmp/$name.json" 6 "$sel" "$min")
	routine=$(grep -c '"PRIORITY" *: *"6"' "$tmp/mx.json")
	echo "  $name: $got entries (of $(count_entries "$tmp/$name.journal") with events = all)"
	[[ $got == "$want" ]] || fail "$name: the example config sends $got entries, want $want"
	((routine == 0)) || fail "$name: the example config sends $routine info entries"
	((got > 0)) || fail "$name: the example config sends nothing"
done

echo "== a missing journal is reported once"
f=$corpus/synthetic/synth-smtp.pcap
want=$(python3 -c 'import json, sys; sys.path.insert(0, "tests/journal"); import journal_spec
print(len(journal_spec.expected([json.loads(l) for l in open(sys.argv[1])])))' "$tmp/synth-smtp.pcap.json")
# Private mount namespaces with an empty /run/systemd/journal: libsystemd drops entries
# silently when there is no socket, so smtpmon checks for it at start.
unshare -m sh -c 'mount -t tmpfs none /run/systemd/journal && exec "$@"' sh \
	"$smtpmon" read -q --format journal "$f" 2>"$tmp/fail.err"
echo "smtpmon: journal: /run/systemd/journal/socket: No such file or directory; events will be" \
	"lost" >"$tmp/fail.want"
diff -u "$tmp/fail.want" "$tmp/fail.err" || fail "stderr without a journal socket"
# A socket nobody listens on (journald stopped): every send fails.
unshare -m sh -c 'mount -t tmpfs none /run/systemd/journal &&
	python3 -c "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])" \
		/run/systemd/journal/socket && exec "$@"' sh \
	"$smtpmon" read -q --format journal "$f" 2>"$tmp/fail.err"
printf 'smtpmon: journal: sending an event: %s\nsmtpmon: journal: %d of %d events not sent\n' \
	"Connection refused (further failures counted)" "$want" "$want" >"$tmp/fail.want"
diff -u "$tmp/fail.want" "$tmp/fail.err" || fail "stderr with a dead journal socket"

if ((failures)); then
	echo "$failures failure(s)"
	exit 1
fi
echo "ok: journal entries match the JSON and text sinks"
