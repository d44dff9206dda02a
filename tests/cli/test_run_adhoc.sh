#!/bin/bash
# test_run_adhoc.sh - an ad-hoc `smtpmon run` beside a configured service (issue 13, point 4):
#   - the configuration file is read only when --config names it: with a bad
#     /etc/smtpmon/smtpmon.conf in place (an overlay on /etc in a private mount namespace; the
#     host's /etc is never touched), `smtpmon run -i IFACE` is not stopped by it (it fails
#     later, on the interface that does not exist: exit 1), while
#     `--config /etc/smtpmon/smtpmon.conf` refuses the file (exit 2, naming it), and
#     `smtpmon read` likewise.
# Needs root (mount namespace, overlayfs); skipped otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1
smtpmon=$(realpath "${SMTPMON:-build/smtpmon}")
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done
[[ $EUID -eq 0 ]] || { echo "skip: needs root"; exit 77; }
[ -x "$smtpmon" ] || { echo "FAIL $smtpmon not built"; exit 1; }
tmp=$(mktemp -d /tmp/smtpmon-adhoc.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

echo "== the configuration file only with --config"
# in_etc_overlay COMMAND...: runs COMMAND where /etc/smtpmon/smtpmon.conf is a bad file
in_etc_overlay() {
	unshare --mount --propagation private sh -ec '
		mount -t tmpfs tmpfs "$1"
		mkdir -p "$1/upper/smtpmon" "$1/work"
		printf "[capture]\nports = 25,x\n" >"$1/upper/smtpmon/smtpmon.conf"
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
		shift
		exec "$@"' sh "$tmp/ovl" "$@"
}
mkdir "$tmp/ovl"
in_etc_overlay cat /etc/smtpmon/smtpmon.conf >"$tmp/conf" 2>"$tmp/err"
if ! grep -q '25,x' "$tmp/conf"; then
	echo "skip: no overlay on /etc in a mount namespace here: $(head -2 "$tmp/err")"
	exit 77
fi
[[ ! -e /etc/smtpmon/smtpmon.conf ]] || ! grep -q '25,x' /etc/smtpmon/smtpmon.conf ||
	live_fail "the host's /etc/smtpmon/smtpmon.conf holds the test's bad file"
in_etc_overlay "$smtpmon" run -i nosuchif0 --control none >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 1 ]] && ! grep -q smtpmon.conf "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]]; then
	live_ok "run without --config: the service's bad file not read ($(cat "$tmp/err"))"
else
	live_fail "run without --config: exit $rc: $(head -3 "$tmp/err")"
fi
in_etc_overlay "$smtpmon" run --config /etc/smtpmon/smtpmon.conf -i nosuchif0 --control none \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "^smtpmon: /etc/smtpmon/smtpmon.conf:2: \[capture\] ports: bad port list '25,x'" "$tmp/err" &&
	live_ok "run --config /etc/smtpmon/smtpmon.conf: refused, exit 2" ||
	live_fail "run --config /etc/smtpmon/smtpmon.conf: exit $rc: $(head -3 "$tmp/err")"
in_etc_overlay "$smtpmon" read -q tests/data/synthetic/synth-smtp.pcap >"$tmp/out" 2>"$tmp/err"
rc=$?
[[ $rc -eq 0 && -s $tmp/out && ! -s $tmp/err ]] && live_ok "read without --config: not read either" ||
	live_fail "read without --config: exit $rc: $(head -3 "$tmp/err")"
live_done
