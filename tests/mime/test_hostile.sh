#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Hostile MIME through the whole read pipeline (tests/mime/gen-mime-pcap.py
# hostile): unterminated multiparts, 10 000 nested levels (DATA and BDAT), a
# 100 MB header line, a header folded over 10 MB, invalid base64, a boundary
# in every line, quoted-printable junk. Under the sanitizer build (make san:
# ASan, UBSan; any report fails) the run must end cleanly with the expected
# files and weirds; under the normal build its peak RSS must stay small, and a
# 50 MB attachment must cost no more memory than a 50 KB one (within 10%) and
# hash to the sha256 of its bytes.
#
# usage: tests/mime/test_hostile.sh   (from the repo root; make and make san first)
set -euo pipefail
cd "$(dirname "$0")/../.."
smtpmon=build/smtpmon
san=build/san/smtpmon
[ -x "$smtpmon" ] || { echo "test_hostile: $smtpmon missing (run make)" >&2; exit 2; }
[ -x "$san" ] || { echo "test_hostile: $san missing (run make san)" >&2; exit 77; }
tmp=$(mktemp -d /tmp/smtpmon-mime-hostile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_hostile: FAIL: $*" >&2; exit 1; }

python3 tests/mime/gen-mime-pcap.py hostile "$tmp/hostile.pcap"

# 1. sanitizers: a report aborts with a non-zero status
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$san" read -q "$tmp/hostile.pcap" >"$tmp/san.json" 2>"$tmp/san.err" ||
	{ cat "$tmp/san.err" >&2; fail "sanitizer build: exit $?"; }
! grep -q 'Sanitizer\|runtime error' "$tmp/san.err" || { cat "$tmp/san.err" >&2; fail "sanitizer report"; }
echo "ok   sanitizer build: clean ($(wc -l <"$tmp/san.json") events)"

# 2. what must come out (the same with both builds)
"$smtpmon" read -q "$tmp/hostile.pcap" >"$tmp/out.json"
cmp -s "$tmp/out.json" "$tmp/san.json" || fail "the sanitizer build's events differ"
python3 - "$tmp/out.json" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
conns = []
for e in ev:
    if e["uid"] not in conns:
        conns.append(e["uid"])
def of(n, kind, **kw):
    return [e for e in ev if e["uid"] == conns[n - 1] and e["event"] == kind
            and all(e.get(k) == v for k, v in kw.items())]
checks = [
    ("unterminated multiparts: their 2 parts are files",
     [e["seen_bytes"] for e in of(1, "file")] == [26, 28]),
    ("10 000 levels (DATA): one depth weird, nothing below",
     len(of(2, "weird", name="exceeded_mime_max_depth", addl="100")) == 1 and not of(2, "file")),
    ("10 000 levels (BDAT): the same",
     len(of(3, "weird", name="exceeded_mime_max_depth", addl="100")) == 1 and not of(3, "file")),
    ("100 MB header line: cut by the line limit, the body is still a file",
     of(4, "weird", name="contentline_size_exceeded") and
     [e["seen_bytes"] for e in of(4, "file")] == [15]),
    ("10 MB folded header: one header weird, the body is a file",
     len(of(5, "weird", name="exceeded_mime_max_header_bytes")) == 1 and
     [e["seen_bytes"] for e in of(5, "file")] == [6]),
    ("invalid base64: one weird for the entity",
     len(of(6, "weird", name="base64_illegal_encoding")) == 1),
    ("a boundary in every line: no file, no weird",
     not of(7, "file") and not of(7, "weird")),
    ("quoted-printable junk (BDAT): decoded as far as it goes",
     [e["seen_bytes"] for e in of(8, "file")] == [35002, 1]),
    ("every message ended", len([e for e in ev if e["event"] == "smtp_connection"]) == 8),
]
bad = [name for name, ok in checks if not ok]
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(1 if bad else 0)
PY

# 3. memory: the 210 MB of hostile input in little memory
rss=$( { /usr/bin/time -f '%M' "$smtpmon" read -q "$tmp/hostile.pcap" >/dev/null; } 2>&1 | tail -1)
[ "$rss" -lt 65536 ] || fail "peak RSS $rss KB for the hostile capture (limit 64 MB)"
echo "ok   hostile capture: peak RSS $rss KB"

# 4. a 50 MB attachment costs what a 50 KB one does, and hashes right
for size in 51200 52428800; do
	want=$(python3 tests/mime/gen-mime-pcap.py attachment "$tmp/att.pcap" $size)
	rss=$( { /usr/bin/time -f '%M' "$smtpmon" read -q --file-hashes sha256 "$tmp/att.pcap" \
		>"$tmp/att.json"; } 2>&1 | tail -1)
	got=$(grep -o "\"seen_bytes\":$size,.*\"sha256\":\"[0-9a-f]*\"" "$tmp/att.json" | grep -o '[0-9a-f]\{64\}' || true)
	[ "$got" = "$want" ] || fail "attachment of $size bytes: sha256 '$got', want $want"
	echo "ok   attachment of $size bytes: sha256 as computed from its bytes; peak RSS $rss KB"
	eval "rss_$size=$rss"
done
# shellcheck disable=SC2154
[ $((rss_52428800 * 10)) -le $((rss_51200 * 11)) ] ||
	fail "RSS with 50 MB ($rss_52428800 KB) more than 10% above 50 KB ($rss_51200 KB)"
echo "ok   memory independent of the attachment size"
