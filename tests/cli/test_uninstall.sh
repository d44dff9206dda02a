#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_uninstall.sh - `make uninstall` removes exactly what `make install` installed (issue 13,
# point 10), staged in a DESTDIR (nothing on this machine is touched; the Makefile does the
# systemd and catalog steps only without DESTDIR):
#   - install then uninstall, with PREFIX=/usr and with the default PREFIX=/usr/local: no file
#     is left, no path naming smtpmon, and files that were there before (another program in
#     sbin, a local file in /etc/smtpmon) are still there, unchanged;
#   - a configuration and a logrotate snippet edited after install are kept, each with one
#     "kept" line; everything else is removed;
#   - a second uninstall (nothing installed) succeeds and prints nothing.
# Uses the programs already built (make -o all): run `make` first. No root needed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
build=$(dirname "$smtpmon")
[ -x "$build/smtpmonctl" ] || { echo "FAIL: $build/smtpmonctl not built (make)"; exit 1; }
mk() { make --no-print-directory -s -o all BUILD="$build" "$@"; }

# files DIR: every file and symlink below DIR, relative, sorted
files() { (cd "$1" && find . \( -type f -o -type l \) | sort); }

for prefix in /usr /usr/local; do
	root=$tmp/root$(echo "$prefix" | tr / _)
	mkdir -p "$root$prefix/sbin" "$root/etc/smtpmon"
	echo other >"$root$prefix/sbin/other-tool"
	echo mine >"$root/etc/smtpmon/local.conf"
	before=$(files "$root")
	if ! mk install DESTDIR="$root" PREFIX="$prefix" >"$tmp/install.out" 2>&1; then
		fail "PREFIX=$prefix: make install: $(head -3 "$tmp/install.out")"
		continue
	fi
	n=$(comm -13 <(echo "$before") <(files "$root") | wc -l)
	((n >= 10)) || fail "PREFIX=$prefix: make install installed only $n files"
	mk uninstall DESTDIR="$root" PREFIX="$prefix" >"$tmp/uninstall.out" 2>&1 ||
		fail "PREFIX=$prefix: make uninstall: $(head -3 "$tmp/uninstall.out")"
	[[ -s $tmp/uninstall.out ]] && fail "PREFIX=$prefix: uninstall said: $(head -3 "$tmp/uninstall.out")"
	after=$(files "$root")
	if [[ $after == "$before" ]]; then
		ok "PREFIX=$prefix: $n files installed, all removed, the 2 others kept"
	else
		fail "PREFIX=$prefix: left behind: $(comm -13 <(echo "$before") <(echo "$after") | paste -sd' ')"
	fi
	[[ $(cat "$root$prefix/sbin/other-tool" "$root/etc/smtpmon/local.conf") == $'other\nmine' ]] ||
		fail "PREFIX=$prefix: a file that was not installed changed"
	left=$(cd "$root" && find . -name '*smtpmon*' ! -path ./etc/smtpmon)
	[[ -z $left ]] || fail "PREFIX=$prefix: paths naming smtpmon left: $left"
done

# Edited files are the operator's: kept, said so, and /etc/smtpmon with them.
root=$tmp/edited
mk install DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1 || fail "make install (edited)"
echo "# edited" >>"$root/etc/smtpmon/smtpmon.conf"
echo "# edited" >>"$root/etc/logrotate.d/smtpmon"
mk uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.out" 2>&1 || fail "make uninstall (edited)"
left=$(files "$root" | paste -sd' ')
if [[ $left == "./etc/logrotate.d/smtpmon ./etc/smtpmon/smtpmon.conf" ]] &&
	[[ $(grep -c '^  kept ' "$tmp/uninstall.out") == 2 ]]; then
	ok "edited config and logrotate snippet kept: $(sed 's/^ *//' "$tmp/uninstall.out" | paste -sd';')"
else
	fail "edited files: left '$left', said '$(cat "$tmp/uninstall.out")'"
fi
rm -f "$root/etc/smtpmon/smtpmon.conf" "$root/etc/logrotate.d/smtpmon"
mk uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.out" 2>&1 &&
	[[ ! -s $tmp/uninstall.out ]] && ok "uninstall with nothing installed: silent, exit 0" ||
	fail "second uninstall: $(head -3 "$tmp/uninstall.out")"
[[ -e $root/etc/smtpmon ]] && fail "an empty /etc/smtpmon is left"

cli_done test_uninstall
