#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_detach.sh - acceptance 4: after SIGTERM and after SIGKILL nothing of smtpmon remains
# attached (ip link, tc filter show, bpftool prog/link), and a restart after SIGKILL works,
# for TCX ingress, XDP ingress and the legacy clsact path (forced with
# --tc-attach=clsact, the path kernels < 6.6 take). Legacy filters cannot die with the
# process: after SIGKILL the filter is still there by design, and the restart must replace it.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smbd$$"
ns=$LAB_SRV_NS
ifname=$LAB_SRV_IF

captures_a_session() {
	lab_run_scenario plain >/dev/null 2>&1 && lab_wait_idle && sleep 0.3 && live_stop TERM &&
		live_has "$d/out.json" '.event == "smtp_request" and .command == "QUIT"'
}

legacy_filters() {
	ip netns exec "$ns" tc filter show dev "$ifname" ingress
	ip netns exec "$ns" tc filter show dev "$ifname" egress
}

for mode in tc xdp legacy; do
	args=(-i "$ifname" --ingress="${mode/legacy/tc}")
	[[ $mode == legacy ]] && args+=(--tc-attach=clsact)

	# SIGTERM
	live_start "$ns" "$d/out.json" "$d/err" 2 "${args[@]}" || { live_fail "$mode: start"; continue; }
	if [[ $mode == legacy ]]; then
		live_check "legacy: filters are clsact filters" grep -q 'TC (clsact) ingress' "$d/err"
	fi
	live_stop TERM
	live_check "$mode: SIGTERM exits 0" test "$LIVE_RC" -eq 0
	live_assert_detached "$ns" "$ifname" "$d/err"

	# SIGKILL, then restart
	live_start "$ns" "$d/out.json" "$d/err" 2 "${args[@]}" || { live_fail "$mode: start"; continue; }
	cp "$d/err" "$d/err.killed"
	live_stop KILL
	if [[ $mode == legacy ]]; then
		live_check "legacy: after SIGKILL the orphaned filter is still there (expected)" \
			bash -c "ip netns exec '$ns' tc filter show dev '$ifname' ingress | grep -q 'handle 0x534d'"
	else
		live_assert_detached "$ns" "$ifname" "$d/err.killed"
	fi
	live_start "$ns" "$d/out.json" "$d/err" 2 "${args[@]}" ||
		{ live_fail "$mode: restart after SIGKILL"; continue; }
	live_ok "$mode: restart after SIGKILL attaches"
	if [[ $mode == legacy ]]; then
		n=$(legacy_filters | grep -c 'handle 0x534d')
		live_check "legacy: the stale filters were replaced, not doubled ($n)" test "$n" -eq 2
	fi
	live_check "$mode: the restarted capture sees a session" captures_a_session
	live_check "$mode: ... and exits 0" test "$LIVE_RC" -eq 0
	live_assert_detached "$ns" "$ifname" "$d/err"
	[[ $mode == legacy ]] && live_assert_detached "$ns" "$ifname" "$d/err.killed"
done
live_done
