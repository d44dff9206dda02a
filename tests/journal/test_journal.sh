#!/bin/bash
# test_journal.sh - `smtpmon read --format journal` into a real systemd-journald, read back
# with journalctl and checked against the JSON and text sinks on the same input:
#   - one entry per JSON event except smtp_data (which is never sent, even with --data);
#   - every SMTPMON_* field equals the JSON field of the same name (SMTPMON_ + key upper-cased
#     without "id."), strings compared after undoing the text escaping's doubled backslash;
#     no other SMTPMON_* field; MESSAGE equals the text sink's line; PRIORITY, MESSAGE_ID and
#     SYSLOG_IDENTIFIER per event type; no CODE_* fields;
#   - every field is a string in `journalctl -o json --all` (never a byte array or null) and
#     MESSAGE has no newline, also for hostile input;
#   - for a pcap built here from known bytes (control bytes, invalid and valid UTF-8,
#     backslashes, a 5000-byte line, IPv6, a gap, STARTTLS), chosen fields equal an escaping
#     of the raw wire bytes computed independently in Python;
#   - with no journald socket, send failures give one stderr line plus a final count.
# Inputs: ../shared/corpus/synthetic/synth-smtp.pcap, ../shared/corpus/suricata/smtp-errors/
# smtperr.pcap (binary junk on port 25) and the generated pcap.
#
# Only one journald may run per machine: if one runs, it is used and only this run's entries
# (_PID of our smtpmon) are read back; otherwise /lib/systemd/systemd-journald is started here
# (runtime journal in /run/log/journal, sockets in /run/systemd/journal) and stopped, and what
# it created is removed, on exit. Needs root. Run from anywhere: tests/journal/test_journal.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
corpus=../shared/corpus
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
	rm -rf "$tmp"
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

a = Conn(False, bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]), 41000, 25)
a.server(b"220 mx.example ESMTP \xe2\x9c\x93 ready\r\n")
want("smtp_reply", "msg", b"mx.example ESMTP \xe2\x9c\x93 ready")
helo = b"h\xc3\xa9llo\x1b[31m\\x41\"q\"\ttab"
a.client(b"EHLO " + helo + b"\r\n")
want("smtp_request", "arg", helo)
a.server(b"250-mx.example\r\n250-\xff\xfe bad \\\r\n250 OK\r\n")
want("smtp_reply", "msg", b"\xff\xfe bad \\")
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
a.client(b"Subject: \x1b\\x\r\n\r\nbody \\ line\r\n.\r\n")
a.server(b"250 queued\r\n")
# longer than journalctl's 4096-byte limit for printing a field without --all
a.client(b"X" * 5000 + b"\r\n")
want("smtp_unexpected", "detail", b"X" * 5000)
a.server(b"500 5.5.2 what\r\n")
a.client(b"\x01\x02\x03 junk\r\n")
want("smtp_unexpected", "detail", b"\x01\x02\x03")
a.server(b"500 bad\r\n")
a.client(b"STARTTLS\r\n")
a.server(b"220 2.0.0 go ahead\r\n")
a.client(b"\x16\x03\x01\x00\x05hello")
a.close()

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

json_path, text_path, journal_path = sys.argv[1:4]
expect_path = sys.argv[4] if len(sys.argv) > 4 else None
errors = []

def err(msg):
    if len(errors) < 20:
        print("  " + msg)
    errors.append(msg)

# The specification, written out here rather than taken from the code.
PRIORITY = {"smtp_request": "6", "smtp_reply": "6", "smtp_connection": "6",
            "smtp_starttls": "5", "smtp_unexpected": "4", "content_gap": "4", "weird": "4"}

def keep(s):
    return s

events = [json.loads(l, parse_float=keep, parse_int=keep) for l in open(json_path, "rb")]
texts = [l.rstrip(b"\n").decode() for l in open(text_path, "rb")]
if len(events) != len(texts):
    err("json has %d events, text %d lines" % (len(events), len(texts)))
pairs = [(e, t) for e, t in zip(events, texts) if e["event"] != "smtp_data"]
ndata = len(events) - len(pairs)
entries = [json.loads(l) for l in open(journal_path, "rb")]
print("  %d JSON events (%d smtp_data), %d journal entries" % (len(events), ndata, len(entries)))
if len(entries) != len(pairs):
    err("journal has %d entries, want %d (JSON events minus smtp_data)" % (len(entries), len(pairs)))

def text_to_json_value(v, where):
    """The text escaping (\\\\ for a backslash, \\xNN) with its doubled backslash undone:
    what the JSON sink's string decodes to. Any other backslash is an error."""
    out, i = [], 0
    while i < len(v):
        if v[i] != "\\":
            out.append(v[i])
            i += 1
        elif v.startswith("\\\\", i):
            out.append("\\")
            i += 2
        elif re.match(r"\\x[0-9a-f]{2}", v[i:i + 4]):
            out.append(v[i:i + 4])
            i += 4
        else:
            err("%s: stray backslash in %r" % (where, v))
            return None
    return "".join(out)

message_ids = {}
for n, ((ev, text), ent) in enumerate(zip(pairs, entries)):
    where = "entry %d (%s)" % (n, ev["event"])
    for k, v in ent.items():
        if not isinstance(v, str):
            err("%s: field %s is not a string: %r" % (where, k, v))
    msg = ent.get("MESSAGE")
    if not isinstance(msg, str):
        continue
    if "\n" in msg or "\r" in msg:
        err("%s: MESSAGE has a line break" % where)
    if msg != text:
        err("%s: MESSAGE %r, text sink %r" % (where, msg[:200], text[:200]))
    if ent.get("SYSLOG_IDENTIFIER") != "smtpmon":
        err("%s: SYSLOG_IDENTIFIER %r" % (where, ent.get("SYSLOG_IDENTIFIER")))
    if ent.get("PRIORITY") != PRIORITY.get(ev["event"]):
        err("%s: PRIORITY %r, want %r" % (where, ent.get("PRIORITY"), PRIORITY.get(ev["event"])))
    mid = ent.get("MESSAGE_ID", "")
    if not re.fullmatch(r"[0-9a-f]{32}", mid):
        err("%s: MESSAGE_ID %r" % (where, mid))
    if message_ids.setdefault(ev["event"], mid) != mid:
        err("%s: MESSAGE_ID %s, earlier %s" % (where, mid, message_ids[ev["event"]]))
    if any(k.startswith("CODE_") for k in ent):
        err("%s: has CODE_* fields" % where)
    want = {}
    for k, v in ev.items():
        name = "SMTPMON_" + k.replace("id.", "").upper()
        want[name] = "true" if v is True else "false" if v is False else v
    got = {k: v for k, v in ent.items() if k.startswith("SMTPMON_")}
    for name in sorted(set(want) | set(got)):
        if name not in got:
            err("%s: %s missing" % (where, name))
        elif name not in want:
            err("%s: unexpected %s=%r" % (where, name, got[name]))
        elif isinstance(got[name], str):
            value = text_to_json_value(got[name], "%s %s" % (where, name))
            if value is not None and value != want[name]:
                err("%s: %s=%r, JSON has %r" % (where, name, got[name][:200], want[name][:200]))
if len(set(message_ids.values())) != len(message_ids):
    err("event types share a MESSAGE_ID: %r" % message_ids)

def escape_text(raw):
    """Independent of smtpmon: \\xNN for control bytes and bytes outside a well-formed
    UTF-8 sequence (Python's strict decoder), \\\\ for a backslash."""
    out, i = [], 0
    while i < len(raw):
        b = raw[i]
        if b < 0x20 or b == 0x7f:
            out.append("\\x%02x" % b)
        elif b == 0x5c:
            out.append("\\\\")
        elif b < 0x80:
            out.append(chr(b))
        else:
            n = 2 if 0xc2 <= b <= 0xdf else 3 if 0xe0 <= b <= 0xef else 4 if 0xf0 <= b <= 0xf4 else 0
            try:
                if n:
                    out.append(raw[i:i + n].decode("utf-8"))
                    i += n
                    continue
            except UnicodeDecodeError:
                pass
            out.append("\\x%02x" % b)
        i += 1
    return "".join(out)

if expect_path:
    for x in json.load(open(expect_path)):
        name = "SMTPMON_" + x["field"].upper()
        value = escape_text(bytes.fromhex(x["hex"]))
        if not any(e.get("SMTPMON_EVENT") == x["event"] and e.get(name) == value for e in entries):
            err("no %s entry with %s=%r" % (x["event"], name, value[:120]))
    print("  %d fields checked against the wire bytes" % len(json.load(open(expect_path))))
sys.exit(1 if errors else 0)
EOF
}

for f in "${inputs[@]}"; do
	name=$(basename "$f")
	echo "== $name"
	"$smtpmon" read -q --data --format json "$f" >"$tmp/$name.json" || fail "$name: json run"
	"$smtpmon" read -q --data --format text "$f" >"$tmp/$name.txt" || fail "$name: text run"
	since=$(date +%s)
	"$smtpmon" read -q --data --format journal "$f" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	wait "$pid" || fail "$name: journal run exited $?"
	[[ -s $tmp/$name.out ]] && fail "$name: journal run wrote to stdout"
	[[ -s $tmp/$name.err ]] && fail "$name: journal run wrote to stderr: $(head -3 "$tmp/$name.err")"
	journalctl --sync || fail "journalctl --sync"
	journalctl -o json --all --no-pager --since "@$((since - 1))" \
		_PID="$pid" SYSLOG_IDENTIFIER=smtpmon >"$tmp/$name.journal" ||
		fail "$name: journalctl"
	[[ $f == "$tmp/hostile.pcap" ]] && expect=("$tmp/expect.json") || expect=()
	grep -q '"event":"smtp_data"' "$tmp/$name.json" || fail "$name: input has no smtp_data"
	check_entries "$tmp/$name.json" "$tmp/$name.txt" "$tmp/$name.journal" "${expect[@]}" ||
		fail "$name: journal entries differ from the JSON/text sinks"
done

echo "== a missing journal is reported once"
f=$corpus/synthetic/synth-smtp.pcap
want=$(grep -vc '"event":"smtp_data"' "$tmp/synth-smtp.pcap.json")
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
