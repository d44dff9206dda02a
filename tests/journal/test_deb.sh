#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_deb.sh - the Debian package (debian/, issue 13 point 10), built with Debian's own tools
# from a copy of this tree (dpkg-buildpackage -b; the copy's VERSION holds `make version`, as
# a tarball's would):
#   - the build succeeds and makes smtpmon_VERSION_ARCH.deb;
#   - its files are exactly those of `make install PREFIX=/usr DESTDIR=...` (the same tree's
#     programs, unit, sysusers.d, catalog, man pages, example config and logrotate snippet),
#     plus /usr/share/doc/smtpmon/{copyright,changelog.gz}; man pages compressed;
#   - the two /etc files are conffiles; the postinst creates the group with
#     systemd-sysusers; the unit runs /usr/sbin/smtpmon; Depends names the shared libraries
#     (libbpf1, libpcap, libsystemd0, ...) through shlibs;
#   - the packaged smtpmon and smtpmonctl print `make version` for --version.
# Installing it and running it as a service under systemd is not done here (test_unit.sh
# runs the `make install` of the same files).
# Needs dpkg-buildpackage and debhelper (tools/install-deps.sh test); skips (77) without them.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

for tool in dpkg-buildpackage dh; do
	command -v "$tool" >/dev/null || { echo "skip: $tool not installed (debhelper, dpkg-dev)"; exit 77; }
done
version=$(make --no-print-directory -s version)
src=$tmp/smtpmon
mkdir -p "$src"
git ls-files -co --exclude-standard | grep -v '^debian/smtpmon/' | tar -cf - -T - | tar -xf - -C "$src" ||
	{ echo "FAIL: copying the tree"; exit 1; }
echo "$version" >"$src/VERSION"
rm -rf "$src/build"
if (cd "$src" && DEB_BUILD_OPTIONS="parallel=2 nocheck" nice dpkg-buildpackage -b -us -uc) \
	>"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -b"
else
	fail "dpkg-buildpackage: $(tail -5 "$tmp/build.log")"
	cli_done test_deb
fi
deb=$(ls "$tmp"/smtpmon_*.deb 2>/dev/null | head -1)
[[ -f $deb ]] || { fail "no smtpmon_*.deb made"; cli_done test_deb; }

# The same tree's make install, staged.
make --no-print-directory -s -C "$src" -o all install PREFIX=/usr DESTDIR="$tmp/staged" \
	>/dev/null 2>&1 || fail "make install of the copy"
(cd "$tmp/staged" && find . -type f | sed 's|^\./|/|; s|^\(/usr/share/man/.*\)|\1.gz|' | sort) \
	>"$tmp/want"
printf '%s\n' /usr/share/doc/smtpmon/changelog.gz /usr/share/doc/smtpmon/copyright >>"$tmp/want"
sort -o "$tmp/want" "$tmp/want"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$tmp/got"
if diff -u "$tmp/want" "$tmp/got" >"$tmp/files.diff"; then
	ok "$(basename "$deb"): the $(wc -l <"$tmp/got") files of make install PREFIX=/usr, and its doc"
else
	fail "package files differ from make install's: $(tail -n +3 "$tmp/files.diff" | grep '^[-+]' | paste -sd' ')"
fi

dpkg-deb -e "$deb" "$tmp/control"
[[ $(sort "$tmp/control/conffiles") == $'/etc/logrotate.d/smtpmon\n/etc/smtpmon/smtpmon.conf' ]] &&
	ok "conffiles: the config and the logrotate snippet" ||
	fail "conffiles: $(paste -sd' ' "$tmp/control/conffiles")"
grep -q '^	systemd-sysusers smtpmon.conf$' "$tmp/control/postinst" &&
	ok "postinst creates the group (systemd-sysusers)" || fail "postinst: $(cat "$tmp/control/postinst")"
depends=$(dpkg-deb -f "$deb" Depends)
missing=
for lib in libbpf1 libpcap libsystemd0 libinih1 libcap2 libmicrohttpd; do
	[[ $depends == *"$lib"* ]] || missing+=" $lib"
done
[[ -z $missing ]] && ok "Depends: $depends" || fail "Depends lacks$missing: $depends"

dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/sbin/smtpmon run --config /etc/smtpmon/smtpmon.conf$' \
	"$tmp/root/usr/lib/systemd/system/smtpmon.service" && ok "the unit runs /usr/sbin/smtpmon" ||
	fail "ExecStart: $(grep ExecStart= "$tmp/root/usr/lib/systemd/system/smtpmon.service")"
for prog in smtpmon smtpmonctl; do
	got=$("$tmp/root/usr/sbin/$prog" --version 2>&1)
	[[ $got == "smtpmon $version" ]] && ok "packaged $prog --version: $got" ||
		fail "packaged $prog --version: '$got', want 'smtpmon $version'"
done

cli_done test_deb
