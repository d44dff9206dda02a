#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Issue 12: smtpmon's smtp.log (--output zeek:DIR) against every Zeek smtp.log
# baseline in tests/data/zeek/baselines, record by record and field by field,
# with JSON types checked against the baseline's #fields/#types
# (tests/zeek/compare_smtp_log.py; no difference allowed: where smtpmon's
# records differ from Zeek's outside these baselines is docs/zeek-differences.md).
#
# usage: tests/zeek/test_zeek_smtp_log.sh [SMTPMON]   (run from the repo root)
set -eu
cd "$(dirname "$0")/../.."
SMTPMON=${1:-build/smtpmon}
[ -x "$SMTPMON" ] || { echo "test_zeek_smtp_log: $SMTPMON missing (run make)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/smtpmon-zeeklog.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
compare() {
	python3 tests/zeek/compare_smtp_log.py --smtpmon "$1" --corpus tests/data/zeek
}
rc=0
compare "$SMTPMON" >"$tmp/real" || rc=$?
[ $rc -le 1 ] || { cat "$tmp/real"; exit $rc; }

# The comparator must notice a doctored smtp.log: a changed string, a changed
# set member, a dropped record, a vector in another order, a wrong type, a
# field Zeek does not have, a dropped fuid. The wrapper runs the real smtpmon,
# then edits the smtp.log it wrote.
real=$(realpath "$SMTPMON")
for doctor in 's/"mailfrom":"gurpartap@patriots.in"/"mailfrom":"gurpartap@patriots.io"/' \
	's/"rcptto":\["ericlim220@yahoo.com"/"rcptto":["ericlim220@yahoo.co"/' \
	'/"last_reply":"250 OK id=1pgobM-001mwq-Vc"/d' \
	's/"path":\["74.53.140.153","10.10.1.4"\]/"path":["10.10.1.4","74.53.140.153"]/' \
	's/"trans_depth":2/"trans_depth":"2"/' \
	's/"tls":true/"tls":true,"is_webmail":false/' \
	's/"subject":"Zeek Logo"/"subject":"Zeek logo"/' \
	's/"fuids":\["\([^"]*\)",/"fuids":[/'; do
	cat >"$tmp/smtpmon" <<SH
#!/bin/sh
"$real" "\$@" || exit \$?
for a in "\$@"; do
	case \$a in zeek:*) sed -i '$doctor' "\${a#zeek:}/smtp.log" ;; esac
done
SH
	chmod +x "$tmp/smtpmon"
	compare "$tmp/smtpmon" >"$tmp/doctored" || true
	if ! grep 'MISMATCH ' "$tmp/doctored" | grep -qvxF -f "$tmp/real"; then
		echo "test_zeek_smtp_log: comparator misses a doctored smtp.log ($doctor)" >&2
		exit 1
	fi
done

cat "$tmp/real"
exit $rc
