#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_journal_stuck.sh - a journald stopped with SIGSTOP never stalls the daemon
# (out_journal.c, journal_writer.h): `smtpmon run --output journal --output json:FILE` in a
# lab, its journald stopped while SMTP sessions go on:
#   - the JSON output keeps growing with every session (capture goes on);
#   - `smtpmonctl ping` answers within 2 s;
#   - after SIGCONT, journald receives what was queued meanwhile (sending resumes by itself);
#   - stopped again, SIGTERM ends smtpmon within 5 s, exit 0, and its last words count the
#     events the journal did not get.
# The journald: the test's own systemd-journald when none runs on this host, with its sockets
# and files on tmpfs in a private mount namespace; when one runs (only the one a test started
# may be stopped), a stand-in that binds the same socket in that namespace and reads it as
# journald does. Either way the socket's queue is 4 datagrams (net.unix.max_dgram_qlen in the
# lab's network namespace), so a stopped reader fills it at once. Before the writer thread,
# smtpmon blocked in sd_journal_sendv: the JSON output stopped, ping timed out, SIGTERM waited.
set -u
if [[ -z ${SMTPMON_PRIVATE_MOUNTS:-} ]]; then
	exec unshare -m --propagation private env SMTPMON_PRIVATE_MOUNTS=1 "$0" "$@"
fi
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

CTL=build/smtpmonctl
live_lab "smjs$$"
sock=$d/ctl/control.sock
reader=
cleanup_reader() {
	[[ -n $reader ]] || return 0
	kill -CONT "$reader" 2>/dev/null
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	reader=
}
trap 'cleanup_reader; live_cleanup' EXIT

# The journal's directories exist on every systemd host; tmpfs over them, in this namespace only.
for dir in /run/systemd/journal /run/log/journal; do
	mkdir -p "$dir" && mount -t tmpfs -o size=16m none "$dir" || { live_fail "tmpfs on $dir"; live_done; }
done
# The reader runs in a network namespace of its own (unshare -n: /sys stays as it is, which
# journald needs) whose datagram queue length is 4; a path socket works across namespaces.
# (A command, not a function: $! must be the reader itself, which SIGSTOP stops.)
small_queue=(unshare -n sh -c 'sysctl -qw net.unix.max_dgram_qlen=4 && exec "$@"' sh)

if pidof systemd-journald >/dev/null; then
	kind="a stand-in (a systemd-journald runs on this host)"
	"${small_queue[@]}" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
n = 0
while True:
    data, anc, flags, addr = s.recvmsg(1 << 20, socket.CMSG_SPACE(64))
    n += data.count(b"SYSLOG_IDENTIFIER=smtpmon\n") + len(anc)
    open(sys.argv[1], "w").write(str(n))' "$d/received" &
	reader=$!
	received() { cat "$d/received" 2>/dev/null || echo 0; }
else
	kind="this test's own systemd-journald"
	"${small_queue[@]}" /lib/systemd/systemd-journald >"$d/journald.log" 2>&1 &
	reader=$!
	received() { journalctl -D /run/log/journal -q -o cat SYSLOG_IDENTIFIER=smtpmon 2>/dev/null | wc -l; }
fi
for _ in $(seq 100); do [[ -S /run/systemd/journal/socket ]] && break; sleep 0.1; done
live_check "the journal's socket is there: $kind" test -S /run/systemd/journal/socket

live_start "$LAB_SRV_NS" /dev/null "$d/err" 2 -i "$LAB_SRV_IF" --tls off --control "$sock" \
	--output journal --output "json:$d/out.json" || { live_fail "smtpmon starts"; live_done; }
session() { lab_run_scenario plain >>"$d/client.log" 2>&1 || live_fail "plain session $1"; }
transactions() { grep -c '"event":"smtp_transaction"' "$d/out.json" 2>/dev/null || echo 0; }

session 1
lab_wait_idle
sleep 1
[[ $kind == *own* ]] && journalctl --directory /run/log/journal --sync 2>/dev/null
before=$(received)
live_check "journald running: it has the first session's entries ($before)" test "$before" -gt 0

kill -STOP "$reader"
for n in 2 3 4 5; do session "$n"; done
lab_wait_idle
sleep 1
live_check "journald stopped: the JSON output has every session ($(transactions) of 5)" \
	test "$(transactions)" -eq 5
start=$(date +%s%N)
lab_srv timeout 5 "$CTL" -s "$sock" ping >/dev/null 2>&1
rc=$? ms=$((($(date +%s%N) - start) / 1000000))
live_check "journald stopped: smtpmonctl ping answers within 2 s ($ms ms, exit $rc)" \
	test $rc -eq 0 -a $ms -lt 2000

kill -CONT "$reader"
sleep 2
[[ $kind == *own* ]] && journalctl --directory /run/log/journal --sync 2>/dev/null
after=$(received)
live_check "journald continued: it got the entries queued meanwhile ($before -> $after)" \
	test "$after" -gt $((before * 3))

kill -STOP "$reader"
for n in 6 7; do session "$n"; done
lab_wait_idle
sleep 0.5
start=$(date +%s%N)
kill -TERM "$LIVE_PID"
for _ in $(seq 100); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.1; done
ms=$((($(date +%s%N) - start) / 1000000))
kill -0 "$LIVE_PID" 2>/dev/null && live_fail "SIGTERM: still running after 10 s, killed"
live_stop KILL # reaps it (exit status of the TERM if it had ended)
live_check "journald stopped: SIGTERM ends smtpmon within 5 s ($ms ms), exit 0 ($LIVE_RC)" \
	test "$ms" -lt 5000 -a "$LIVE_RC" = 0
live_check "the events the journal did not get are counted: $(grep 'journal:' "$d/err" | tail -1)" \
	grep -Eq '^smtpmon: journal: [1-9][0-9]* of [0-9]+ events not sent$' "$d/err"
cleanup_reader
live_done
