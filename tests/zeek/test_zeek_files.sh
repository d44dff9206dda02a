#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# smtpmon's file events against every files.log and file-analysis baseline of
# Zeek's SMTP tests (tests/data/zeek/baselines), field by field, except the
# differences documented in docs/zeek-differences.md (entries F1...).
#
# usage: tests/zeek/test_zeek_files.sh [SMTPMON]   (run from the repo root)
set -eu
cd "$(dirname "$0")/../.."
SMTPMON=${1:-build/smtpmon}
[ -x "$SMTPMON" ] || { echo "test_zeek_files: $SMTPMON missing (run make)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/smtpmon-zeek-files.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
compare() {
	python3 tests/zeek/compare_zeek_files.py --smtpmon "$1" --corpus tests/data/zeek \
		--differences docs/zeek-differences.md
}
rc=0
compare "$SMTPMON" >"$tmp/real" || rc=$?
[ $rc -le 1 ] || { cat "$tmp/real"; exit $rc; }

# The comparator must notice a doctored record: a digest, a size, a type, a
# name, a depth, a missing file, a missing-bytes count, a whole message's
# digest and size, a parent; each must produce a mismatch the real output
# does not have.
real=$(realpath "$SMTPMON")
for doctor in 's/"sha1":"5cd7c3/"sha1":"5cd7c4/' 's/"seen_bytes":1868,/"seen_bytes":1867,/' \
	's/"mime_type":"image\/png"/"mime_type":"image\/gif"/' 's/"filename":"NEWS.txt"/"filename":"NEWS.TXT"/' \
	's/"depth":4,/"depth":5,/' '/"seen_bytes":204,/d' 's/"missing_bytes":1000/"missing_bytes":999/' \
	's/"sha256":"6ea2/"sha256":"6ea3/' 's/"duration":1.165512/"duration":1.165513/' \
	's/"sha1":"f9bc3e/"sha1":"f9bc3f/' 's/"seen_bytes":8757,/"seen_bytes":8756,/' \
	's/"parent_fuid":"F/"parent_fuid":"G/'; do
	printf '#!/bin/sh\n"%s" "$@" | sed %s\n' "$real" "'$doctor'" >"$tmp/smtpmon"
	chmod +x "$tmp/smtpmon"
	compare "$tmp/smtpmon" >"$tmp/doctored" || true
	if ! grep '^MISMATCH ' "$tmp/doctored" | grep -qvxF -f "$tmp/real"; then
		echo "test_zeek_files: comparator misses a doctored record ($doctor)" >&2
		exit 1
	fi
done

cat "$tmp/real"
exit $rc
