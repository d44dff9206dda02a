#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_license.sh - the licensing of the tree (issue 13, point 10):
#   - LICENSE is the GNU GPL version 2 (the project is GPL-2.0-only);
#   - every source file, script and Makefile starts with its SPDX line,
#     "SPDX-License-Identifier: GPL-2.0-only" in the file's comment syntax (// or /* */ for
#     C, # for shell, Python and make), on line 1 or, after a #! line, line 2. Source files: the
#     tracked regular files (git ls-files; every file when there is no .git) named *.c, *.h,
#     *.sh, *.py or Makefile, and every other file that starts with #! (debian/rules,
#     .ci/run, ...); tests/data/ (third-party captures, see its MANIFEST) is not ours;
#   - the BPF programs stay loadable with the GPL-only helpers: every bpf/*.bpf.c and
#     tests/unit/*.bpf.c declares a license the kernel counts as GPL-compatible
#     (license_is_gpl_compatible: "GPL", "GPL v2", "GPL and additional rights",
#     "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL").
# No root needed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

if [[ -f LICENSE ]] && grep -q 'GNU GENERAL PUBLIC LICENSE' LICENSE &&
	grep -q 'Version 2, June 1991' LICENSE; then
	ok "LICENSE: GNU GPL version 2"
else
	fail "LICENSE missing or not the GPL version 2"
fi

if git rev-parse --show-toplevel >/dev/null 2>&1 &&
	[[ $(realpath "$(git rev-parse --show-toplevel)") == "$(realpath .)" ]]; then
	git ls-files >"$tmp/files"
else
	find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||' >"$tmp/files"
fi
checked=0
missing=()
while IFS= read -r f; do
	[[ $f == tests/data/* || -L $f || ! -f $f ]] && continue
	first=$(head -c 2 "$f")
	case $f in
	*.c | *.h) want='// SPDX-License-Identifier: GPL-2.0-only' alt='/* SPDX-License-Identifier: GPL-2.0-only */' ;;
	*.sh | *.py | Makefile | */Makefile) want='# SPDX-License-Identifier: GPL-2.0-only' alt= ;;
	*) [[ $first == '#!' ]] || continue
		want='# SPDX-License-Identifier: GPL-2.0-only' alt= ;;
	esac
	checked=$((checked + 1))
	if [[ $first == '#!' ]]; then
		line=$(sed -n 2p "$f")
	else
		line=$(head -n 1 "$f")
	fi
	[[ $line == "$want" || (-n $alt && $line == "$alt") ]] || missing+=("$f")
done <"$tmp/files"
if ((${#missing[@]} == 0 && checked > 100)); then
	ok "$checked source files, scripts and Makefiles: each starts with its SPDX line"
else
	fail "$checked checked; without the SPDX line (${#missing[@]}): ${missing[*]:0:20}"
fi

bad=()
n=0
for f in bpf/*.bpf.c tests/unit/*.bpf.c; do
	[[ -f $f ]] || continue
	n=$((n + 1))
	lic=$(sed -n 's/.*SEC("license") *= *"\([^"]*\)".*/\1/p' "$f")
	case $lic in
	"GPL" | "GPL v2" | "GPL and additional rights" | "Dual BSD/GPL" | "Dual MIT/GPL" | "Dual MPL/GPL") ;;
	*) bad+=("$f: '${lic:-none}'") ;;
	esac
done
((${#bad[@]} == 0 && n > 0)) && ok "$n BPF programs with a GPL-compatible license string" ||
	fail "BPF license strings: ${bad[*]}"

cli_done test_license
