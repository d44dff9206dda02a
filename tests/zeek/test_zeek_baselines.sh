#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Acceptance 3: smtpmon's event sequence against Zeek's event-level baselines
# (tests/data/zeek/baselines), field by field, except the differences
# documented in docs/zeek-differences.md. What each baseline covers, and which
# baselines are not event-level, is in tests/zeek/README.md.
#
# usage: tests/zeek/test_zeek_baselines.sh [SMTPMON]   (run from the repo root)
set -eu
cd "$(dirname "$0")/../.."
SMTPMON=${1:-build/smtpmon}
[ -x "$SMTPMON" ] || { echo "test_zeek_baselines: $SMTPMON missing (run make)" >&2; exit 2; }
[ -d tests/data/zeek/baselines ] ||
	{ echo "test_zeek_baselines: tests/data/zeek missing" >&2; exit 2; }

# The comparator must notice a wrong field, a missing event and a missing
# weird, or a pass would mean nothing: each doctored output must produce a
# mismatch that the real output does not have.
tmp=$(mktemp -d /tmp/smtpmon-zeek.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
compare() {
	python3 tests/zeek/compare_zeek.py --smtpmon "$1" --corpus tests/data/zeek \
		--differences docs/zeek-differences.md
}
rc=0
compare "$SMTPMON" >"$tmp/real" || rc=$?
[ $rc -le 1 ] || { cat "$tmp/real"; exit $rc; }
real=$(realpath "$SMTPMON")
for doctor in 's/"arg":"GP"/"arg":"GQ"/' '/"code":354/d' '/"name":"smtp_invalid_bdat_command"/d' \
	's/"cont_resp":true/"cont_resp":false/' 's/"missed_bytes":1000/"missed_bytes":999/'; do
	printf '#!/bin/sh\n"%s" "$@" | sed %s\n' "$real" "'$doctor'" >"$tmp/smtpmon"
	chmod +x "$tmp/smtpmon"
	compare "$tmp/smtpmon" >"$tmp/doctored" || true
	if ! grep '^MISMATCH ' "$tmp/doctored" | grep -qvxF -f "$tmp/real"; then
		echo "test_zeek_baselines: comparator misses a doctored output ($doctor)" >&2
		exit 1
	fi
done

cat "$tmp/real"
exit $rc
