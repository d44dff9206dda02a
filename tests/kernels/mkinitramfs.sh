#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# mkinitramfs.sh - the root file system of a kernel-matrix guest, as an uncompressed cpio.
#
#   tests/kernels/mkinitramfs.sh KERNEL_TREE OUT.cpio
#
# KERNEL_TREE is a Debian linux-image package unpacked with dpkg-deb -x. The image holds:
# busybox (the shell tools), the freshly built build/smtpmon and the BPF unit tests,
# the peers the guest test runs (bash, iproute2's ip and tc, tcpdump, bpftool, Debian's
# python3 with the part of its standard library the SMTP peers import), each with the
# shared libraries ldd names, the kernel modules the lab needs (veth, the clsact qdisc,
# cls_bpf; decompressed, so busybox's insmod loads them, in dependency order in
# /modules/order), the repository's lab scripts and SMTP sink under /smtpmon, and
# tests/kernels/guest.sh as /init. Nothing is taken from the guest kernel but its modules:
# what runs is what `make` built on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1

tree=$1 out=$2
root=$(mktemp -d "${TMPDIR:-/tmp}/smtpmon-initramfs.XXXXXX")
chmod 0755 "$root" # the guest's /: its users other than root run programs too
trap 'rm -rf "$root"' EXIT

modules=(drivers/net/veth net/sched/sch_ingress net/sched/cls_bpf)
programs=(/bin/bash /usr/sbin/ip /usr/sbin/tc /usr/bin/tcpdump /usr/sbin/bpftool /usr/bin/setpriv
	/usr/bin/python3.11 /usr/bin/msmtp build/smtpmon build/tests/test_bpf_prog
	build/tests/test_bpf_log)

for p in busybox bash ip tc tcpdump bpftool setpriv python3.11 openssl msmtp; do
	command -v "$p" >/dev/null || {
		echo "mkinitramfs: $p is missing (tools/install-deps.sh test installs it)" >&2
		exit 1
	}
done
file /bin/busybox | grep -q 'statically linked' ||
	{ echo "mkinitramfs: /bin/busybox is not static (package busybox-static)" >&2; exit 1; }

mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,modules,smtpmon/build/tests,usr/bin,usr/sbin}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
	[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
done

# A program and every library it loads, at the same paths as here.
copy_with_libs() {
	local f=$1 dest=$2 lib
	mkdir -p "$(dirname "$root$dest")"
	cp -L "$f" "$root$dest"
	for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
		[[ -e $root$lib ]] && continue
		mkdir -p "$(dirname "$root$lib")"
		cp -L "$lib" "$root$lib"
	done
}
for p in "${programs[@]}"; do
	case $p in
	build/*) copy_with_libs "$p" "/smtpmon/$p" ;;
	*) copy_with_libs "$p" "$p" ;;
	esac
done
ln -sf python3.11 "$root/usr/bin/python3"

# Python's standard library without what a socket server and smtplib never import, and the
# C extension modules those imports load (with their libraries).
py=/usr/lib/python3.11
mkdir -p "$root$py"
tar -C "$py" --exclude=test --exclude=idlelib --exclude=tkinter --exclude=ensurepip \
	--exclude=lib2to3 --exclude=pydoc_data --exclude=dist-packages --exclude='config-*' \
	--exclude=site-packages --exclude=turtledemo -cf - . | tar -C "$root$py" -xf -
for so in "$py"/lib-dynload/*.so; do
	copy_with_libs "$so" "$so"
done

# The guest's identity files: tcpdump and python look up users and hosts.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"

# Kernel modules, decompressed, and the order to load them in (each after what it needs).
kver=$(ls "$tree/lib/modules")
moddir=$tree/lib/modules/$kver/kernel
declare -A queued=()
add_module() { # PATH-BELOW-kernel/ without suffix
	local rel=$1 f dep
	[[ -n ${queued[$rel]:-} ]] && return 0
	queued[$rel]=1
	f=$(ls "$moddir/$rel".ko* 2>/dev/null | head -1)
	[[ -n $f ]] || { echo "mkinitramfs: module $rel not in $kver" >&2; exit 1; }
	local name=${rel##*/}
	case $f in
	*.xz) xz -dc "$f" >"$root/modules/$name.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/modules/$name.ko" ;;
	*) cp "$f" "$root/modules/$name.ko" ;;
	esac
	for dep in $(strings -a "$root/modules/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$(cd "$moddir" && find . -name "$dep.ko*" | head -1 | sed 's|^\./||;s|\.ko.*||')"
	done
	echo "$name" >>"$root/modules/order"
}
for m in "${modules[@]}"; do
	add_module "$m"
done

cp tests/kernels/guest.sh "$root/init"
chmod 755 "$root/init"
mkdir -p "$root/smtpmon/tools" "$root/smtpmon/tests/kernels"
cp tools/smtp-sink.py "$root/smtpmon/tools/"
cp tests/kernels/smtp_session.py "$root/smtpmon/tests/kernels/"
cp tests/kernels/tls_forks.py "$root/smtpmon/tests/kernels/"
# A throwaway certificate for tls_forks.py's in-memory TLS sessions.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tls-forks \
	-keyout "$root/smtpmon/tests/kernels/forks.key" -out "$root/smtpmon/tests/kernels/forks.crt" \
	2>/dev/null || { echo "mkinitramfs: openssl req failed" >&2; exit 1; }

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
