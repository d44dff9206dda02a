# SPDX-License-Identifier: GPL-2.0-only
# lib.sh - what the command-line tests share (source it after cd to the repository root).
#
#   smtpmon    the binary under test ($SMTPMON, default build/smtpmon); the test fails at
#              once when it is not built
#   tmp        a temporary directory, removed at exit
#   fail WHAT / ok WHAT   a failed / passed check (fail counts)
#   cli_done NAME         exit 1 with the count if anything failed, else "NAME: ok"

smtpmon=${SMTPMON:-build/smtpmon}
[ -x "$smtpmon" ] || { echo "FAIL: $smtpmon not built (make)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail()
{
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok()
{
	echo "ok   $*"
}

cli_done()
{
	if [ "$failures" -gt 0 ]; then
		echo "$1: $failures failure(s)"
		exit 1
	fi
	echo "$1: ok"
}
