#!/bin/bash
# install-deps.sh - install the Debian 12 packages smtpmon's build, tests and demo need.
#
# Idempotent: asks dpkg which packages are missing and installs only those (as root,
# non-interactively). Postfix is preseeded to "No configuration" and Wireshark's dumpcap is
# not made setuid. The tests run their own Postfix instances in network namespaces, so a
# system-wide Postfix that the package would start is stopped and disabled again.
set -euo pipefail

build_pkgs=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libpcap-dev
	libsystemd-dev libinih-dev libcap-dev libmicrohttpd-dev libcmocka-dev pkg-config libclang-rt-14-dev git clang-format)
# Lab peers: a real Postfix with Cyrus SASL (saslpasswd2 + the sasldb plugin), swaks with
# STARTTLS (IO::Socket::SSL), capture and oracle tools, what the scripts call, systemd for
# the journal and unit tests (journald, systemd-analyze, systemd-nspawn), bc and time for
# make bench; the kernel matrix (tests/kernels): QEMU, a static busybox for the guest, and
# what builds its initramfs (cpio, xz and zstd for modules, file, strings from binutils).
test_pkgs=(postfix sasl2-bin libsasl2-modules libsasl2-modules-db swaks libio-socket-ssl-perl
	tcpdump tshark iproute2 jq python3 openssl procps psmisc coreutils util-linux
	systemd systemd-container bc time python3-prometheus-client iperf3 mandoc
	qemu-system-x86 busybox-static cpio xz-utils zstd file binutils msmtp)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-deps: all packages present"
	exit 0
fi
if [[ $EUID -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0)" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<-'EOF'
	postfix postfix/main_mailer_type select No configuration
	wireshark-common wireshark-common/install-setuid boolean false
EOF
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# "No configuration" leaves Postfix without a main.cf, so it does not start; if a system
# Postfix runs anyway, and we just installed it, stop and disable it.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now postfix.service >/dev/null 2>&1 || true
		systemctl mask postfix.service >/dev/null 2>&1 || true
	elif [[ -f /etc/postfix/main.cf ]] && postfix status >/dev/null 2>&1; then
		postfix stop || true
	fi
fi
echo "install-deps: done"
