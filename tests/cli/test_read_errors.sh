#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `smtpmon read` on inputs it cannot use: exit status 2 and exactly one line
# on stderr naming the file; on a file whose last record is cut or damaged:
# exit 0, one warning, and the events of the packets before it.
# -q keeps main's statistics line out of stderr, so only our lines are left.
# Run from the repo root: tests/cli/test_read_errors.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
corpus=tests/data
exim_pcap=$corpus/suricata/bug-3616-smtp/input.pcap
damaged_pcap=$corpus/suricata/smtp-to-comma/10.7.29.101_49898-178.63.41.150_25.pcap

. tests/cli/lib.sh

# run FILE...: sets rc, and leaves stdout/stderr in $tmp/out, $tmp/err.
run()
{
	"$smtpmon" read -q "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# expect_unreadable NAME FILE REASON_REGEX
expect_unreadable()
{
	local name=$1 file=$2 reason=$3
	run "$file"
	[ "$rc" -eq 2 ] || fail "$name: exit status $rc, want 2"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$name: want one stderr line, got: $(cat "$tmp/err")"
	grep -Eqx "smtpmon: $(printf '%s' "$file" | sed 's/[.[\*^$/]/\\&/g'): $reason" "$tmp/err" ||
		fail "$name: stderr is '$(cat "$tmp/err")', want 'smtpmon: $file: $reason'"
	[ ! -s "$tmp/out" ] || fail "$name: unexpected output: $(head -3 "$tmp/out")"
}

: >"$tmp/empty.pcap"
printf 'From: alice\r\nnot a capture\r\n' >"$tmp/text.pcap"
mkdir "$tmp/dir.pcap"
# A valid pcap header (microseconds, little-endian) for 802.11, link type 105.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0\x69\0\0\0' >"$tmp/wifi.pcap"

expect_unreadable missing "$tmp/missing.pcap" 'No such file or directory'
expect_unreadable directory "$tmp/dir.pcap" 'Is a directory'
expect_unreadable text "$tmp/text.pcap" 'unknown file format'
expect_unreadable empty "$tmp/empty.pcap" 'empty file, not a pcap'
expect_unreadable wifi "$tmp/wifi.pcap" 'unsupported link type IEEE802_11 \(105\)'

# A missing file among good ones still fails the run.
run "$exim_pcap" "$tmp/missing.pcap"
[ "$rc" -eq 2 ] || fail "good + missing: exit status $rc, want 2"

# The Exim session (60 packets, MAIL FROM:<gurpartap@patriots.in>; tests/data/suricata/README.md)
# with its last record cut by 10 bytes.
cp "$exim_pcap" "$tmp/cut.pcap"
truncate -s -10 "$tmp/cut.pcap"
run "$tmp/cut.pcap"
[ "$rc" -eq 0 ] || fail "truncated: exit status $rc, want 0"
[ "$(cat "$tmp/err")" = "smtpmon: $tmp/cut.pcap: truncated record after 59 packets, earlier packets kept" ] ||
	fail "truncated: stderr is '$(cat "$tmp/err")'"
jq -e -s 'any(.[]; .event == "smtp_request" and .command == "MAIL"
	and .arg == "FROM: <gurpartap@patriots.in>")' "$tmp/out" >/dev/null ||
	fail "truncated: no MAIL request from the earlier packets in: $(head -c 600 "$tmp/out")"

# A corpus pcap whose 19th record header is garbage: truncated on purpose upstream, 18
# readable packets (tests/data/suricata/README.md).
run "$damaged_pcap"
[ "$rc" -eq 0 ] || fail "damaged: exit status $rc, want 0"
grep -qx "smtpmon: $damaged_pcap: damaged record after 18 packets (.*), earlier packets kept" \
	"$tmp/err" || fail "damaged: stderr is '$(cat "$tmp/err")'"
jq -e -s 'any(.[]; .event == "smtp_request")' "$tmp/out" >/dev/null ||
	fail "damaged: no smtp_request from the 18 readable packets"

cli_done test_read_errors
