#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Issue 12: the community_id of smtp_connection (the same value the connection's
# smtp_transaction records carry) equals tshark's Community ID v1 (its communityid
# dissector) for every connection of every Zeek and synthetic capture under tests/data
# (IPv4 and IPv6; the Suricata captures add nothing new for a hash of the 4-tuple and
# would cost a minute of tshark starts). The comparison must first catch a planted
# mistake.
#
# usage: tests/oracle/test_community_id.sh [SMTPMON]   (from anywhere)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SMTPMON=${1:-build/smtpmon}
[[ -x $SMTPMON ]] || { echo "test_community_id: $SMTPMON missing (run make)" >&2; exit 2; }
SMTPMON=$(realpath "$SMTPMON")
command -v tshark >/dev/null || { echo "test_community_id: tshark missing" >&2; exit 77; }
tshark -G protocols 2>/dev/null | grep -c $'\tcommunityid$' >/dev/null ||
	{ echo "test_community_id: this tshark has no communityid dissector" >&2; exit 77; }

tmp=$(mktemp -d /tmp/smtpmon-cid.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mapfile -t pcaps < <(find tests/data/zeek tests/data/synthetic -name '*.pcap' -o -name '*.pcapng' |
	sort)

# A mutant: one character of the first community_id changed.
cat >"$tmp/mutant" <<EOF2
#!/bin/bash
"$SMTPMON" "\$@" | sed '0,/"community_id":"1:./s//"community_id":"1:#/'
EOF2
chmod +x "$tmp/mutant"
if python3 tests/oracle/community_id_compare.py "$tmp/mutant" "${pcaps[0]}" >"$tmp/m"; then
	echo "test_community_id: the comparison misses a changed community_id" >&2
	cat "$tmp/m"
	exit 1
fi

python3 tests/oracle/community_id_compare.py "$SMTPMON" "${pcaps[@]}"
