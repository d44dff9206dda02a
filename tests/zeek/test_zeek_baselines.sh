#!/bin/sh
# Acceptance 3: smtpmon's event sequence against Zeek's event-level baselines
# (../shared/corpus/zeek/baselines), field by field, except the differences
# documented in docs/zeek-differences.md. What each baseline covers, and which
# baselines are not event-level, is in tests/zeek/README.md.
#
# usage: tests/zeek/test_zeek_baselines.sh [SMTPMON]   (run from the repo root)
set -eu
cd "$(dirname "$0")/../.."
SMTPMON=${1:-build/smtpmon}
[ -x "$SMTPMON" ] || { echo "test_zeek_baselines: $SMTPMON missing (run make)" >&2; exit 2; }
[ -d ../shared/corpus/zeek/baselines ] ||
	{ echo "test_zeek_baselines: ../shared/corpus/zeek missing" >&2; exit 2; }
exec python3 tests/zeek/compare_zeek.py --smtpmon "$SMTPMON" \
	--corpus ../shared/corpus/zeek --differences docs/zeek-differences.md
