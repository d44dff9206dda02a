#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_deps.sh - the dependencies by purpose (issue 13, point 2):
#   - tools/install-deps.sh GROUP asks for that group's packages only: build (compiler, BPF
#     tools, -dev packages), run (the shared libraries alone), demo (the lab's Postfix and
#     swaks, nothing of the tests), test (the lab, tshark, QEMU, cmocka, ...); an unknown
#     group is a usage error (exit 2); with everything installed it says so and exits 0;
#   - postfix (demo, test) is never installed over another MTA: an installed package that
#     provides mail-transport-agent (exim4-daemon-light here), or apt's simulation removing a
#     package (sendmail-bin here), is refused in one line naming it, exit 1; build and run do
#     not care;
#   - make demo and make test ask for build+demo and build+test, .ci/run for build+test;
#   - a missing build tool stops make with one line naming it and the remedy
#     (tools/install-deps.sh build), not a shell's "not found" and error 127: bpftool, clang,
#     the C compiler.
# dpkg-query and apt-get are stand-ins on PATH (what dpkg "has installed" and what apt's
# simulation "would do" are the test's), and the script runs as nobody when the test runs as
# root, so that nothing can be installed or changed on this machine whatever happens.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done; nothing here needs root
tmp=$(mktemp -d /tmp/smtpmon-deps.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/bin"
cp tools/install-deps.sh "$tmp/"

# dpkg-query -W -f=FORMAT: one line per package "installed" ($tmp/installed: NAME [PROVIDES])
cat >"$tmp/bin/dpkg-query" <<EOF
#!/bin/bash
while read -r pkg provides; do
	[[ -n \$pkg ]] && echo "ii |\$pkg|\$provides"
done <"$tmp/installed"
EOF
# apt-get -s install postfix: $tmp/apt-sim; any other call is recorded and fails
cat >"$tmp/bin/apt-get" <<EOF
#!/bin/bash
if [[ " \$* " == *" -s "* ]]; then cat "$tmp/apt-sim"; exit 0; fi
echo "apt-get \$*" >>"$tmp/calls"
exit 1
EOF
chmod 755 "$tmp/bin/"*
: >"$tmp/installed"
echo "Inst postfix (3.7.11-0+deb12u1 Debian:12.0/stable [amd64])" >"$tmp/apt-sim"
chmod 644 "$tmp/installed" "$tmp/apt-sim"

# deps GROUP...: install-deps.sh with the stand-ins, as nobody; rc, $tmp/out, $tmp/err
deps() {
	local as=()
	[[ $EUID -eq 0 ]] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	${as[@]+"${as[@]}"} env PATH="$tmp/bin:/usr/bin:/bin" bash "$tmp/install-deps.sh" "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# asked GROUP: the packages the group asks for on a machine that has none
asked() {
	deps "$@"
	sed -n 's/^install-deps: missing packages: \(.*\); run as root.*/\1/p' "$tmp/err" | tr ' ' '\n'
}
# has LIST WORDS... / lacks LIST WORDS...
has() {
	local list=$1 w
	shift
	for w; do grep -qx -- "$w" <<<"$list" || return 1; done
}
lacks() {
	local list=$1 w
	shift
	for w; do grep -qx -- "$w" <<<"$list" && return 1; done
	return 0
}

echo "== groups"
build=$(asked build)
live_check "build: the compiler, BPF tools, -dev packages, git ($(wc -l <<<"$build") packages)" \
	has "$build" make gcc clang bpftool libbpf-dev libpcap-dev libmicrohttpd-dev git
live_check "build: nothing of the lab or the tests" \
	lacks "$build" postfix swaks tshark qemu-system-x86 libcmocka-dev systemd-container
run=$(asked run)
live_check "run: the shared libraries ($(paste -sd' ' <<<"$run"))" \
	has "$run" libbpf1 'libelf1t64|libelf1' 'libpcap0.8t64|libpcap0.8' libsystemd0 libinih1
live_check "run: no compiler, no -dev package, no lab" \
	bash -c "! grep -qE -- '-dev\$|^(clang|gcc|make|postfix)\$' <<<'$run'"
demo=$(asked demo)
live_check "demo: the lab's Postfix with SASL, swaks with TLS" \
	has "$demo" postfix sasl2-bin libsasl2-modules swaks libio-socket-ssl-perl
live_check "demo: nothing of the tests" lacks "$demo" tshark qemu-system-x86 libcmocka-dev tcpdump
test_=$(asked test)
live_check "test: the lab, tshark, QEMU, cmocka, nspawn, logrotate" \
	has "$test_" postfix swaks tshark qemu-system-x86 libcmocka-dev systemd-container logrotate
all=$(asked)
live_check "no group: all of them ($(wc -l <<<"$all") packages)" \
	has "$all" clang postfix tshark libinih1
deps build bogus
live_check "an unknown group: exit 2 naming it" \
	bash -c "[[ $rc -eq 2 ]] && grep -q \"unknown group 'bogus'\" '$tmp/err'"

echo "== postfix and another MTA"
echo "exim4-daemon-light exim4-daemon, mail-transport-agent" >"$tmp/installed"
for group in demo test "build demo"; do
	# shellcheck disable=SC2086 # the groups are words
	deps $group
	if [[ $rc -eq 1 && $(wc -l <"$tmp/err") -eq 1 ]] &&
		grep -q '^install-deps: not installing postfix (.*): it would remove the installed exim4-daemon-light; ' "$tmp/err"; then
		live_ok "$group, Exim installed: refused in one line"
	else
		live_fail "$group, Exim installed: exit $rc: $(head -3 "$tmp/err")"
	fi
done
for group in build run; do
	deps $group
	live_check "$group, Exim installed: no word of postfix" \
		bash -c "[[ $rc -eq 1 ]] && ! grep -q postfix '$tmp/err' && grep -q 'missing packages' '$tmp/err'"
done
: >"$tmp/installed"
printf 'Remv sendmail-bin [8.17.1.9-2]\nInst postfix (3.7.11-0+deb12u1 Debian:12.0/stable [amd64])\n' >"$tmp/apt-sim"
deps demo
[[ $rc -eq 1 ]] && grep -q 'it would remove the installed sendmail-bin; ' "$tmp/err" &&
	live_ok "demo, apt's simulation removes sendmail-bin: refused" ||
	live_fail "demo, apt's simulation removes sendmail-bin: exit $rc: $(head -3 "$tmp/err")"
echo "Inst postfix (3.7.11-0+deb12u1 Debian:12.0/stable [amd64])" >"$tmp/apt-sim"
deps demo
[[ $rc -eq 1 ]] && grep -q 'missing packages: .*postfix' "$tmp/err" &&
	live_ok "demo, no other MTA: postfix is just missing" ||
	live_fail "demo, no other MTA: exit $rc: $(head -3 "$tmp/err")"
echo "postfix mail-transport-agent" >"$tmp/installed"
deps demo
live_check "demo, postfix itself installed: no refusal" bash -c "! grep -q 'not installing' '$tmp/err'"
live_check "nothing was ever installed (no apt-get call but simulations)" test ! -e "$tmp/calls"

# every package of the group "installed": exit 0
asked all | tr "|" "\n" >"$tmp/installed"
deps build test
live_check "everything installed: exit 0, says so" \
	bash -c "[[ $rc -eq 0 ]] && grep -qx 'install-deps: all packages present (build test)' '$tmp/out'"

echo "== make demo, make test, .ci/run"
make -n --no-print-directory demo 2>/dev/null | head -1 >"$tmp/demo.n"
live_check "make demo asks for build and demo ($(cat "$tmp/demo.n"))" \
	grep -qx 'tools/install-deps.sh build demo' "$tmp/demo.n"
make -n --no-print-directory test 2>/dev/null | head -1 >"$tmp/test.n"
live_check "make test asks for build and test ($(cat "$tmp/test.n"))" \
	grep -qx 'tools/install-deps.sh build test' "$tmp/test.n"
live_check ".ci/run asks for build and test" grep -qx 'tools/install-deps.sh build test' .ci/run

echo "== make names a missing build tool"
# missing VAR=VALUE NAME: a build from scratch stops at once, in one line
missing() {
	make --no-print-directory BUILD="$tmp/build" "$1" >"$tmp/make.out" 2>"$tmp/make.err"
	local rc=$? line
	line=$(grep -v '^  ' "$tmp/make.err")
	if [[ $rc -ne 0 && $(wc -l <<<"$line") -eq 1 && $line == *"*** $2 not found: '${1#*=}' (install the build dependencies: sudo tools/install-deps.sh build).  Stop." ]] &&
		! grep -q 'Error 127' "$tmp/make.err"; then
		live_ok "make $1: $line"
	else
		live_fail "make $1: exit $rc: $(head -c 400 "$tmp/make.err")"
	fi
	rm -rf "$tmp/build"
}
missing BPFTOOL=nosuchbpftool bpftool
missing CLANG=nosuchclang clang
missing CC=nosuchcc "C compiler"
live_done
