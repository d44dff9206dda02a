#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# gen-vmlinux.sh - regenerate vmlinux/<arch>/vmlinux_<version>.h from the
# running kernel's BTF and point vmlinux/<arch>/vmlinux.h at it (bcc
# libbpf-tools convention: versioned file + symlink, so a build does not
# depend on the build host's kernel).
#
#   tools/gen-vmlinux.sh [BTF_FILE]     default /sys/kernel/btf/vmlinux
set -eu

btf=${1:-/sys/kernel/btf/vmlinux}
bpftool=${BPFTOOL:-bpftool}
arch=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# "6.18.44-fc-v595" -> "6.18": types do not change between stable releases.
ver=$(uname -r | sed -n 's/^\([0-9]*\)\.\([0-9]*\).*/\1.\2/p')
dir=$(dirname "$0")/../vmlinux/$arch

if [ ! -r "$btf" ]; then
	echo "gen-vmlinux: $btf not readable (kernel built without CONFIG_DEBUG_INFO_BTF?)" >&2
	exit 1
fi
mkdir -p "$dir"
out=$dir/vmlinux_$ver.h
{
	# the kernel's own types, under the kernel's licence
	echo '// SPDX-License-Identifier: GPL-2.0-only'
	"$bpftool" btf dump file "$btf" format c
} >"$out.tmp"
mv "$out.tmp" "$out"
ln -sfn "vmlinux_$ver.h" "$dir/vmlinux.h"
echo "gen-vmlinux: wrote $out ($(wc -c <"$out") bytes), $dir/vmlinux.h -> vmlinux_$ver.h"
