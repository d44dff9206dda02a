#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# install-deps.sh - install the Debian 12 packages smtpmon needs, for what is asked:
#
#   tools/install-deps.sh [build] [run] [demo] [test] [all]      (default: all)
#
#   build  compile smtpmon and smtpmonctl (`make`, `make install`)
#   run    the shared libraries the programs load: for a machine that runs binaries built
#          elsewhere (build brings them along with the -dev packages)
#   demo   the lab of `make demo` (with build: `make demo` asks for "build demo"): a Postfix
#          server in a network namespace, swaks as client
#   test   everything `make test` runs besides the build (with build: `make test` and the CI
#          entry .ci/run ask for "build test"): the demo's lab and its other clients, capture
#          and oracle tools, systemd for the journal and unit tests, QEMU for the kernel matrix,
#          the unit-test and sanitizer libraries, make bench's tools
#   all    all of the above
#
# Idempotent: asks dpkg which packages are missing and installs only those (as root,
# non-interactively); without root it names them and exits 1. Postfix is preseeded to "No
# configuration" and Wireshark's dumpcap is not made setuid. The lab runs its own Postfix
# instances in network namespaces, so a system-wide Postfix that the package would start is
# stopped and disabled again.
#
# Postfix (demo, test) is never installed over another MTA: when an installed package
# provides mail-transport-agent (Exim, Sendmail, OpenSMTPD, ...) or apt's simulation of
# `apt-get install postfix` would remove a package, the script refuses in one line and
# installs nothing.
set -euo pipefail

build_pkgs=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libpcap-dev
	libsystemd-dev libinih-dev libcap-dev libmicrohttpd-dev libssl-dev libmagic-dev pkg-config git)
# Debian 13's time64 library names first, where they differ: the first that apt knows is
# installed; either one present is enough.
run_pkgs=(libbpf1 'libelf1t64|libelf1' zlib1g 'libpcap0.8t64|libpcap0.8' libsystemd0 libinih1
	libcap2 'libmicrohttpd12t64|libmicrohttpd12' 'libssl3t64|libssl3' 'libmagic1t64|libmagic1')
# The lab (tests/lab): a real Postfix with Cyrus SASL (saslpasswd2 + the sasldb plugin), swaks
# with STARTTLS (IO::Socket::SSL), openssl for its certificate, ip for the namespaces.
demo_pkgs=(postfix sasl2-bin libsasl2-modules libsasl2-modules-db swaks libio-socket-ssl-perl
	openssl iproute2)
# The tests: the lab and its Python and msmtp clients, capture and oracle tools, what the
# scripts call, systemd for the journal and unit tests (journald, systemd-analyze,
# systemd-nspawn) and logrotate for the installed snippet, the unit tests (cmocka), the
# sanitizer and fuzzer runtimes, clang-format, mandoc for the man pages; bc and time for make
# bench; Prometheus and python3-yaml for the contrib/ rules and dashboard, debhelper for the
# .deb (tests/journal/test_deb.sh); the kernel matrix (tests/kernels): QEMU, a static busybox
# for the guest, and what builds its initramfs (cpio, xz and zstd for modules, file, strings
# from binutils); the libraries of Exim, which tests/live/test_tls_exim.sh unpacks from its
# package (apt-get download) and runs without installing it.
test_pkgs=("${demo_pkgs[@]}" libcmocka-dev libclang-rt-14-dev clang-format
	tcpdump tshark jq python3 procps psmisc coreutils util-linux msmtp
	systemd systemd-container logrotate mandoc bc time python3-prometheus-client iperf3
	prometheus python3-yaml debhelper dpkg-dev fakeroot
	qemu-system-x86 busybox-static cpio xz-utils zstd file binutils
	libgnutls-dane0 libunbound8 libevent-2.1-7 libdb5.3 libidn12 libpcre2-8-0 libnsl2)

usage() {
	echo "usage: $0 [build] [run] [demo] [test] [all]   (default: all)" >&2
	exit 2
}

wanted=()
(($# > 0)) || set -- all
for group in "$@"; do
	case $group in
	build) wanted+=("${build_pkgs[@]}") ;;
	run) wanted+=("${run_pkgs[@]}") ;;
	demo) wanted+=("${demo_pkgs[@]}") ;;
	test) wanted+=("${test_pkgs[@]}") ;;
	all) wanted+=("${build_pkgs[@]}" "${run_pkgs[@]}" "${demo_pkgs[@]}" "${test_pkgs[@]}") ;;
	-h | --help) usage ;;
	*)
		echo "install-deps: unknown group '$group'" >&2
		usage
		;;
	esac
done

# What dpkg has installed, and which of those provide mail-transport-agent.
declare -A installed=()
mtas=()
while IFS='|' read -r status pkg provides; do
	[[ $status == ii* ]] || continue
	installed[$pkg]=1
	[[ ,${provides// /}, == *,mail-transport-agent,* && $pkg != postfix ]] && mtas+=("$pkg")
done < <(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null || true)

missing=()
for p in "${wanted[@]}"; do
	present=
	IFS='|' read -ra alternatives <<<"$p"
	for a in "${alternatives[@]}"; do
		[[ -n ${installed[$a]:-} ]] && present=1
	done
	[[ -n $present || " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-deps: all packages present ($*)"
	exit 0
fi

# Postfix must not replace another MTA: dpkg's view, then apt's (which also sees conflicts
# of packages that do not call themselves an MTA). One line, nothing installed.
postfix_refused() {
	local removed=("${mtas[@]}")
	if ((${#removed[@]} == 0)); then
		mapfile -t removed < <(apt-get -s -q install postfix 2>/dev/null | awk '$1 == "Remv" { print $2 }')
	fi
	((${#removed[@]} > 0)) || return 1
	echo "install-deps: not installing postfix (the lab's mail server for make demo and make test): it would remove the installed ${removed[*]}; run the demo and the tests on a machine without another MTA (a VM or container)" >&2
}
needs_postfix=
[[ " ${missing[*]} " == *" postfix "* ]] && needs_postfix=1
if [[ -n $needs_postfix ]] && postfix_refused; then
	exit 1
fi

if [[ $EUID -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0 $*)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# With fresh package lists, apt's view of postfix once more.
if [[ -n $needs_postfix ]] && postfix_refused; then
	exit 1
fi
# The first alternative apt knows.
install=()
for p in "${missing[@]}"; do
	IFS='|' read -ra alternatives <<<"$p"
	pick=${alternatives[-1]}
	for a in "${alternatives[@]}"; do
		if apt-cache show "$a" >/dev/null 2>&1; then
			pick=$a
			break
		fi
	done
	install+=("$pick")
done

echo "install-deps: installing ${install[*]}"
debconf-set-selections <<-'EOF'
	postfix postfix/main_mailer_type select No configuration
	wireshark-common wireshark-common/install-setuid boolean false
EOF
apt-get install -y -q --no-install-recommends "${install[@]}"

# "No configuration" leaves Postfix without a main.cf, so it does not start; if a system
# Postfix runs anyway, and we just installed it, stop and disable it.
if [[ -n $needs_postfix ]]; then
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now postfix.service >/dev/null 2>&1 || true
		systemctl mask postfix.service >/dev/null 2>&1 || true
	elif [[ -f /etc/postfix/main.cf ]] && postfix status >/dev/null 2>&1; then
		postfix stop || true
	fi
fi
echo "install-deps: done"
