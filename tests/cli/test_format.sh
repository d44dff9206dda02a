#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_format.sh - every C source and header follows the committed .clang-format.
set -u
cd "$(dirname "$0")/../.." || exit 1
fail=0
for f in $(git ls-files '*.c' '*.h' | grep -v '^vmlinux/'); do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "FAIL $f is not clang-formatted (clang-format -i $f)"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "ok   all C files clang-formatted"
exit $fail
