#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_deb.sh - the Debian package (debian/, issue 13 point 10), built with Debian's own tools
# from a copy of this tree (dpkg-buildpackage -b; the copy's VERSION holds `make version`, as
# a tarball's would):
#   - the build succeeds and makes smtpmon_VERSION_ARCH.deb;
#   - its files are exactly those of `make install PREFIX=/usr DESTDIR=...` (the same tree's
#     programs, unit, sysusers.d, tmpfiles.d, catalog, man pages, example config and logrotate snippet),
#     plus /usr/share/doc/smtpmon/{copyright,changelog.gz}; man pages compressed;
#   - the two /etc files are conffiles; the postinst creates the user and group with
#     systemd-sysusers and /var/log/smtpmon with systemd-tmpfiles; the unit runs /usr/sbin/smtpmon; Depends names the shared libraries
#     (libbpf1, libpcap, libsystemd0, ...) through shlibs;
#   - the packaged smtpmon and smtpmonctl print `make version` for --version.
# Then, when systemd-nspawn is installed: this host booted as a throwaway container
# (tests/journal/nspawn.sh; /usr, /var and /etc the host's under overlays whose writes go
# to a temporary directory, so dpkg sees the host's packages and the host is not touched),
# and in it:
#   - `dpkg -i` installs the package: the user and group smtpmon and /var/log/smtpmon exist, systemd knows the unit at
#     /usr/lib/systemd/system/smtpmon.service, disabled and not started;
#   - with `interfaces = lo` in the packaged example config, `systemctl start smtpmon` makes
#     it active and `smtpmonctl ping` answers with the packaged version; a session to an SMTP
#     server on lo with a refused recipient gives one warning entry in the journal (the
#     example's busy-MX selection), `journalctl -t smtpmon -p warning SMTP_CODE=550`;
#   - `dpkg -r` stops it and removes every file but the conffiles; `dpkg --purge` those too.
# Needs root, dpkg-buildpackage and debhelper (tools/install-deps.sh test); skips (77)
# without them.
set -u
shopt -s extglob
cd "$(dirname "$0")/../.." || exit 1
[[ $EUID -eq 0 ]] || { echo "skip: needs root"; exit 77; }
. tests/cli/lib.sh
. tests/journal/nspawn.sh
ct_leftovers_note
trap 'ct_cleanup; rm -rf "$tmp"' EXIT

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
	grep -q '^	systemd-tmpfiles --create smtpmon.conf$' "$tmp/control/postinst" &&
	ok "postinst creates the user (systemd-sysusers) and /var/log/smtpmon (systemd-tmpfiles)" ||
	fail "postinst: $(cat "$tmp/control/postinst")"
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

if ! command -v systemd-nspawn >/dev/null; then
	echo "SKIP installing: systemd-nspawn not installed (apt-get install systemd-container)"
	cli_done test_deb
fi
echo "== installed and run as a service in a throwaway container"
mkdir -p "$tmp/e2e" "$tmp/usr" "$tmp/var" "$tmp/etc"
cp "$deb" tests/journal/unit_lab.py "$tmp/e2e/"
# /usr, /var (dpkg's database) and /etc (users, groups, statoverrides) are the host's under
# an overlay whose writes go to $tmp; units the host enables that have nothing to do here
# are masked.
if ! ct_boot "$tmp/nspawn.log" --volatile=yes --capability=all \
	--system-call-filter='bpf perf_event_open' --bind="$tmp/e2e:/opt/e2e" \
	--overlay=/usr:"$tmp/usr":/usr --overlay=/var:"$tmp/var":/var \
	--overlay=/etc:"$tmp/etc":/etc -- \
	systemd.mask=systemd-networkd-wait-online.service systemd.mask=postfix.service \
	systemd.mask=postfix@-.service systemd.mask=prometheus.service \
	systemd.mask=postgresql.service >"$tmp/boot.out"; then
	fail "the container did not boot: $(tail -5 "$tmp/boot.out")"
	cli_done test_deb
fi
in_ct systemctl is-system-running --wait >/dev/null
pkg=/opt/e2e/$(basename "$deb")
in_ct env DEBIAN_FRONTEND=noninteractive dpkg -i "$pkg" >"$tmp/dpkg-i.out" 2>&1 &&
	ok "dpkg -i $(basename "$deb")" || fail "dpkg -i: $(tail -5 "$tmp/dpkg-i.out")"
in_ct getent passwd smtpmon >/dev/null && in_ct getent group smtpmon >/dev/null &&
	[[ $(in_ct stat -c '%U:%G %a' /var/log/smtpmon) == "smtpmon:adm 2750" ]] &&
	ok "user and group smtpmon, /var/log/smtpmon smtpmon:adm 2750: made by the postinst" ||
	fail "no user or group smtpmon, or /var/log/smtpmon $(in_ct stat -c '%U:%G %a' /var/log/smtpmon 2>&1)"
path=$(in_ct systemctl show -P FragmentPath smtpmon)
state="$(in_ct systemctl is-enabled smtpmon 2>/dev/null) $(in_ct systemctl is-active smtpmon 2>/dev/null)"
[[ $path == ?(/usr)/lib/systemd/system/smtpmon.service && $state == "disabled inactive" ]] &&
	ok "unit $path: $state" || fail "unit '$path': '$state' (want disabled inactive)"

in_ct sed -i 's/^interfaces =$/interfaces = lo/' /etc/smtpmon/smtpmon.conf
in_ct systemd-run --quiet --unit=smd-lab-server python3 /opt/e2e/unit_lab.py server 127.0.0.1 25
in_ct systemctl start smtpmon && [[ $(in_ct systemctl is-active smtpmon) == active ]] &&
	ok "systemctl start smtpmon: active" ||
	fail "start: $(in_ct systemctl status --no-pager smtpmon 2>&1 | tail -5)"
got=$(in_ct smtpmonctl ping 2>&1)
[[ $got == *"\"smtpmon\":\"$version\""* ]] && ok "smtpmonctl ping: $got" || fail "smtpmonctl ping: $got"
for _ in $(seq 50); do in_ct ss -Hltn 'sport = :25' | grep -q . && break; sleep 0.1; done
in_ct python3 - <<'PY' >"$tmp/session.out" 2>&1 || fail "the SMTP session: $(tail -3 "$tmp/session.out")"
import smtplib
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.ehlo("deb.example")
s.mail("a@deb.example")
code, _ = s.rcpt("bad@e2e.example")
assert code == 550, code
s.quit()
PY
n=0
for _ in $(seq 50); do
	n=$(in_ct journalctl -o cat --no-pager -t smtpmon -p warning SMTP_CODE=550 | grep -c 'smtp_reply RCPT 550')
	((n > 0)) && break
	sleep 0.2
done
((n == 1)) && ok "journal: the 550 to RCPT as one warning entry" || fail "journal: $n entries for the 550"

in_ct env DEBIAN_FRONTEND=noninteractive dpkg -r smtpmon >"$tmp/dpkg-r.out" 2>&1 ||
	fail "dpkg -r: $(tail -3 "$tmp/dpkg-r.out")"
left=$(in_ct sh -c 'ls /usr/sbin/smtpmon /usr/sbin/smtpmonctl /usr/lib/systemd/system/smtpmon.service 2>/dev/null; ls /etc/smtpmon/smtpmon.conf /etc/logrotate.d/smtpmon' | paste -sd' ')
[[ $left == "/etc/logrotate.d/smtpmon /etc/smtpmon/smtpmon.conf" ]] &&
	ok "dpkg -r: programs and unit gone, conffiles kept" || fail "after dpkg -r: $left"
[[ $(in_ct systemctl is-active smtpmon 2>/dev/null) != active ]] && ok "dpkg -r: not running" ||
	fail "smtpmon still active after dpkg -r"
in_ct env DEBIAN_FRONTEND=noninteractive dpkg --purge smtpmon >/dev/null 2>&1 &&
	[[ -z $(in_ct sh -c 'ls -d /etc/smtpmon /etc/logrotate.d/smtpmon 2>/dev/null') ]] &&
	ok "dpkg --purge: conffiles gone" || fail "dpkg --purge left /etc files"

cli_done test_deb
