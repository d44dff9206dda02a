# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# nspawn.sh - the throwaway systemd container of test_unit.sh and test_deb.sh: this host's
# tree booted by systemd-nspawn (systemd as PID 1, private network), entered with nsenter.
# Source it after `cd` to the repository root.
#
#   ct_leftovers_note      before anything: remembers which of systemd-nspawn's files in
#                          /run/systemd are new, for ct_cleanup to remove
#   ct_boot LOG NSPAWN-OPTIONS... [-- KERNEL-ARGS...]
#                          boots it in the background (--directory=/ --boot --register=no
#                          --keep-unit --private-network --console=pipe are given), waits for
#                          its manager, sets ct_pid (nspawn) and container (its PID 1);
#                          returns 1 with LOG on stdout when it did not come up
#   in_ct COMMAND...       runs COMMAND inside, 60 s at most
#   ct_cleanup             halts the container (SIGTERM, then SIGKILL after 10 s) and removes
#                          the new /run/systemd files; safe to call when nothing was booted
# --keep-unit: without it nspawn fails at once with "Failed to open system bus" where the
# host runs no systemd/D-Bus.

ct_pid=
container=
ct_leftovers=()

ct_leftovers_note()
{
	local f
	for f in /run/systemd/nspawn /run/systemd/nspawn-root /run/systemd/systemd-units-load; do
		[[ -e $f ]] || ct_leftovers+=("$f")
	done
}

ct_boot()
{
	local log=$1
	shift
	systemd-nspawn --directory=/ --boot --register=no --keep-unit --private-network \
		--console=pipe "$@" >"$log" 2>&1 &
	ct_pid=$!
	container=
	for _ in $(seq 150); do
		container=$(pgrep -P "$ct_pid" | head -1)
		[[ -n $container ]] && nsenter -t "$container" -a test -S /run/systemd/private 2>/dev/null &&
			return 0
		container=
		kill -0 "$ct_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log"
	return 1
}

in_ct() { timeout 60 nsenter -t "$container" -a "$@"; }

ct_cleanup()
{
	local f
	if [[ -n $ct_pid ]] && kill -0 "$ct_pid" 2>/dev/null; then
		# SIGTERM halts the container cleanly; a second one (or SIGKILL) cuts it short.
		kill -TERM "$ct_pid"
		for _ in $(seq 100); do
			kill -0 "$ct_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$ct_pid" 2>/dev/null
		wait "$ct_pid" 2>/dev/null
	fi
	for f in "${ct_leftovers[@]}"; do
		rm -rf "$f"
	done
}
