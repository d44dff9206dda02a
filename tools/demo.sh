#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# demo.sh - the live demo (`sudo make demo`): a throwaway pair of network namespaces with a
# real Postfix in one and an SMTP client in the other, smtpmon attached to the server's
# interface, one plain session and one STARTTLS session, the events printed, everything
# removed again. Needs root and a built build/smtpmon.
#
#   tools/demo.sh [--format json|text] [--ingress tc|xdp]
set -u
cd "$(dirname "$0")/.." || exit 1
format=text
ingress=tc
while (($#)); do
	case $1 in
	--format) format=$2; shift 2 ;;
	--ingress) ingress=$2; shift 2 ;;
	*) echo "usage: $0 [--format json|text] [--ingress tc|xdp]" >&2; exit 2 ;;
	esac
done
[[ $EUID -eq 0 ]] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }
[[ -x build/smtpmon ]] || { echo "demo: build/smtpmon missing: run make first" >&2; exit 1; }

. tests/lab/lab.sh
. tests/lab/scenarios.sh
smtpmon_pid=
cleanup() {
	[[ -n $smtpmon_pid ]] && kill -KILL "$smtpmon_pid" 2>/dev/null
	lab_teardown
}
lab_init "smdemo$$" || exit 1
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*" >&2; }
step "namespaces $LAB_PREFIX-srv / $LAB_PREFIX-cli, veth, Postfix on ports 25 and 587"
lab_netns && lab_postfix_start || exit 1

step "smtpmon run -i $LAB_SRV_IF --ingress=$ingress (in the server namespace)"
events=$LAB_DIR/events
ip netns exec "$LAB_SRV_NS" build/smtpmon run -i "$LAB_SRV_IF" --ingress="$ingress" \
	--format "$format" >"$events" 2>"$LAB_DIR/smtpmon.err" &
smtpmon_pid=$!
for _ in $(seq 300); do
	(($(grep -c '^smtpmon: attached' "$LAB_DIR/smtpmon.err") >= 2)) && break
	kill -0 "$smtpmon_pid" 2>/dev/null || break
	sleep 0.1
done
cat "$LAB_DIR/smtpmon.err" >&2
grep -q '^smtpmon: attached' "$LAB_DIR/smtpmon.err" || exit 1

step "client: swaks, a plain message to port 25, then STARTTLS on port 587"
lab_run_scenario plain || exit 1
lab_run_scenario starttls-587 || exit 1
lab_wait_idle
sleep 0.3

step "SIGTERM: detach, drain, final counters"
kill -TERM "$smtpmon_pid"
wait "$smtpmon_pid"
rc=$?
smtpmon_pid=
sed -n '/^smtpmon: kernel/,$p' "$LAB_DIR/smtpmon.err" >&2

step "events"
cat "$events"
exit $rc
