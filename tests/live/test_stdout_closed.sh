#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_stdout_closed.sh - `smtpmon run ... | head -1` (issue 14, case 8). Once head has its
# line and exits, the next write to stdout fails with EPIPE; SIGPIPE is ignored, so instead of
# dying with status 141 smtpmon stops as on SIGTERM: exit status 3 (user/settings/exit_status.h), a
# line saying why, the final counters on stderr, the control socket removed, the programs and
# links gone, and the other output (a file) complete: drained and flushed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

# jqt [-s] FILTER FILE: the filter holds for FILE.
# shellcheck disable=SC2317 # called by live_check
jqt() { jq -e "$@" >/dev/null; }

live_lab "smsc$$"
sock=$d/ctl/control.sock

# One run with stdout into `head -1`; MODE tc (TCX links, which die with the process anyway)
# or legacy (clsact filters, which only an orderly exit removes: kernels before 6.6).
stdout_closed_run() {
	local mode=$1 pid rc sessions=0
	if [[ $mode == legacy ]]; then export SMTPMON_FORCE_LEGACY_TC=1; else unset SMTPMON_FORCE_LEGACY_TC; fi
	rm -f "$d/stdout.fifo" "$d/all.json" "$d/first"
	mkfifo "$d/stdout.fifo"
	# The reader first: smtpmon's shell blocks opening the FIFO until it is there.
	head -1 <"$d/stdout.fifo" >"$d/first" &
	local head_pid=$!

	live_start "$LAB_SRV_NS" "$d/stdout.fifo" "$d/err" 2 -i "$LAB_SRV_IF" --control "$sock" \
		--output json --output "json:$d/all.json" || { live_fail "$mode: smtpmon starts"; return; }
	pid=$LIVE_PID
	live_check "$mode: the control socket is there while capturing" test -S "$sock"

	# One session writes more than one line: head leaves after the first, a later write
	# fails.
	for _ in 1 2 3 4 5; do
		kill -0 "$pid" 2>/dev/null || break
		lab_run_scenario plain >/dev/null 2>&1 || live_fail "$mode: plain session"
		lab_wait_idle
		sessions=$((sessions + 1))
		sleep 0.5
	done
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		live_fail "$mode: smtpmon still runs after $sessions sessions with head gone; stderr: $(cat "$d/err")"
		live_stop KILL
	else
		wait "$pid"
		rc=$?
		LIVE_PID=
		live_check "$mode: exit status 3, not 141 (got $rc)" test "$rc" -eq 3
	fi
	wait "$head_pid"
	live_check "$mode: head got one JSON event line" jqt '.event' "$d/first"
	live_check "$mode: stderr says why it stopped" \
		grep -qx 'smtpmon: stdout closed by its reader: stopping' "$d/err"
	live_check "$mode: not taken for a write error" bash -c "! grep -q 'writing events' '$d/err'"
	live_check "$mode: final kernel counters on stderr" grep -q '^smtpmon: kernel: packets [0-9]' "$d/err"
	live_check "$mode: final user counters on stderr" grep -q '^smtpmon: user: records [0-9]' "$d/err"
	live_check "$mode: the control socket is removed" test ! -e "$sock"
	live_assert_detached "$LAB_SRV_NS" "$LAB_SRV_IF" "$d/err"
	# Ended by the stop (end_of_input) or before it: every connection has its summary.
	live_check "$mode: the file output: every connection ends with its smtp_connection" \
		jqt -s '([.[].uid] | unique) == ([.[] | select(.event == "smtp_connection") | .uid] | unique)
			and length > 1' "$d/all.json"
	live_check "$mode: the file output ends with a whole line" \
		bash -c "test \"\$(tail -c 1 '$d/all.json' | od -An -c | tr -d ' ')\" = '\\n'"
}

stdout_closed_run tc
stdout_closed_run legacy
live_done
