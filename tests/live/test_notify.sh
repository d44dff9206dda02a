#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_notify.sh - the systemd notify protocol of `smtpmon run` outside systemd (issue 4,
# acceptance 2). A fake service manager (python3) binds the datagram socket NOTIFY_SOCKET
# names, logs every datagram with its arrival time and sender pid (SCM_CREDENTIALS), and
# checks the daemon at the moment READY=1 arrives: it freezes the sender (SIGSTOP), lists
# the BPF links the process holds (/proc/PID/fdinfo: link_id) and asks the kernel whether
# each exists, counts the "smtpmon: attached" lines already on stderr, then lets it go on.
# A READY=1 sent before the attach would find no link.
#
# Run 1 (--config FILE, no watchdog), on the server end of a veth pair with Postfix behind:
#   - READY=1 with both TCX links (ingress, egress) held and alive, and both attach lines
#     already written; every datagram comes from the daemon's own pid;
#   - STATUS= at least every 1.5 s, and the text changes after an SMTP session;
#   - no WATCHDOG=1 without WATCHDOG_USEC;
#   - SIGHUP: RELOADING=1, then READY=1 with the same links (nothing detached), and a
#     session after the reload still reaches the JSON output;
#   - SIGTERM: STOPPING=1, exit 0.
# Run 2 (command line only, WATCHDOG_USEC=2 s): WATCHDOG=1 at least twice in 3 s and never
#   more than 2 s apart (a manager with WatchdogSec=2s would not kill it).
# Needs root; about 15 s. Run from anywhere: tests/live/test_notify.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
live_lab "smnf$$"
MANAGER_PID=
trap '[[ -n $MANAGER_PID ]] && kill "$MANAGER_PID" 2>/dev/null; live_cleanup' EXIT

# manager_start SOCKET LOG ERRFILE: the fake manager, until killed. LOG gets one JSON object
# per datagram: t (monotonic seconds), pid, msg, and at READY=1 links (the daemon's link
# ids), alive (those the kernel still lists) and attached (stderr attach lines).
manager_start() {
	python3 - "$@" <<'PY' &
import json, os, signal, socket, struct, subprocess, sys, time

path, log_path, err_path = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
ucred = struct.calcsize("3i")

def link_ids(pid):
    ids = []
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            for line in open("/proc/%d/fdinfo/%s" % (pid, fd)):
                if line.startswith("link_id:"):
                    ids.append(int(line.split()[1]))
        except OSError:
            pass
    return sorted(ids)

def alive(link):
    return subprocess.run(["bpftool", "link", "show", "id", str(link)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

with open(log_path, "a") as log:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(ucred))
        rec = {"t": time.monotonic(), "pid": None, "msg": msg.decode(errors="replace")}
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                rec["pid"] = struct.unpack("3i", data[:ucred])[0]
        if "READY=1" in rec["msg"].split("\n") and rec["pid"]:
            os.kill(rec["pid"], signal.SIGSTOP)
            try:
                rec["links"] = link_ids(rec["pid"])
                rec["alive"] = [l for l in rec["links"] if alive(l)]
                rec["attached"] = sum(1 for l in open(err_path, errors="replace")
                                      if l.startswith("smtpmon: attached "))
            finally:
                os.kill(rec["pid"], signal.SIGCONT)
        log.write(json.dumps(rec) + "\n")
        log.flush()
PY
	MANAGER_PID=$!
	for _ in $(seq 50); do
		[[ -S $1 ]] && return 0
		sleep 0.1
	done
	return 1
}

manager_stop() {
	kill "$MANAGER_PID" 2>/dev/null
	wait "$MANAGER_PID" 2>/dev/null
	MANAGER_PID=
}

# wait_for LOG JQ_FILTER [TENTHS]: until the filter over all records of LOG (an array) is true.
wait_for() {
	for _ in $(seq "${3:-50}"); do
		jq -e -s "$2" "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# q LOG JQ_FILTER: a jq query over all records of LOG (an array, -s).
q() { jq -r -s "$2" "$1"; }

# A record of msg's lines: "STATUS=x\nREADY=1" has READY=1.
has() { printf '(.msg | split("\\n") | index("%s") != null)' "$1"; }

echo "== run 1: --config, no watchdog"
log=$d/notify1.log
: >"$log"
manager_start "$d/notify1.sock" "$log" "$d/err1" || { live_fail "fake manager starts"; live_done; }
cat >"$d/smtpmon.conf" <<EOF
[capture]
interfaces = $LAB_SRV_IF
ports = 25,587
# The links counted below are the wire's; the TLS library probes add a number that depends
# on the libraries this host has.
[tls]
plaintext = off
[control]
socket = none
[output events]
type = json
path = $d/out1.json
EOF
NOTIFY_SOCKET=$d/notify1.sock live_start "$LAB_SRV_NS" /dev/null "$d/err1" 2 \
	--config "$d/smtpmon.conf" || { live_fail "smtpmon run --config starts"; live_done; }
pid=$LIVE_PID
live_check "READY=1 arrives" wait_for "$log" "any(.[]; $(has READY=1))"
ready=$(q "$log" "map(select($(has READY=1)))[0]")
live_check "READY=1: the daemon holds 2 BPF links ($(jq -c .links <<<"$ready"))" \
	test "$(jq '.links | length' <<<"$ready")" -eq 2
live_check "READY=1: the kernel lists both" \
	test "$(jq -c .alive <<<"$ready")" == "$(jq -c .links <<<"$ready")"
live_check "READY=1: both attach lines were on stderr before it" \
	test "$(jq .attached <<<"$ready")" -eq 2
live_check "every datagram comes from the daemon (pid $pid)" \
	test "$(q "$log" "map(select(.pid != $pid)) | length")" -eq 0

t_ready=$(jq .t <<<"$ready")
sleep 3.5
live_check "STATUS= at least 3 times in the 3.5 s after READY=1" \
	test "$(q "$log" "map(select(.t > $t_ready and (.msg | test(\"(^|\\n)STATUS=\")))) | length")" -ge 3
# the largest gap between two STATUS= updates
# shellcheck disable=SC2016 # jq's $i
status_gap() {
	q "$log" '[.[] | select(.msg | test("(^|\n)STATUS=")) | .t] |
		[range(1; length) as $i | .[$i] - .[$i - 1]] | max // 99'
}
live_check "STATUS= never more than 1.5 s apart ($(status_gap) s)" \
	python3 -c "import sys; sys.exit(float(sys.argv[1]) > 1.5)" "$(status_gap)"
last_status() { q "$log" '[.[] | .msg | split("\n")[] | select(startswith("STATUS="))] | last'; }
before=$(last_status)
lab_run_scenario plain >"$d/client1.log" 2>&1 || live_fail "plain session: $(tail -3 "$d/client1.log")"
lab_wait_idle
sleep 2
after=$(last_status)
live_check "STATUS changes with traffic ('$before' -> '$after')" test "$before" != "$after"
live_check "no WATCHDOG=1 without WATCHDOG_USEC" \
	test "$(q "$log" "map(select($(has WATCHDOG=1))) | length")" -eq 0

n_before=$(wc -l <"$log")
kill -HUP "$pid"
live_check "SIGHUP: READY=1 again" \
	wait_for "$log" ".[$n_before:] | any(.[]; $(has READY=1))" 50
reload=$(q "$log" ".[$n_before:]")
first_of() { jq "[.[] | $(has "$1")] | index(true)" <<<"$reload"; }
# shellcheck disable=SC2317 # called by live_check
reloading_first() {
	jq -e "($(first_of RELOADING=1) | type == \"number\") and
		$(first_of RELOADING=1) < $(first_of READY=1)" <<<null >/dev/null
}
live_check "SIGHUP: RELOADING=1 (datagram $(first_of RELOADING=1)) before READY=1 ($(first_of READY=1))" \
	reloading_first
ready2=$(jq "map(select($(has READY=1)))[0]" <<<"$reload")
live_check "SIGHUP: the same links at READY=1 ($(jq -c .links <<<"$ready2"))" \
	test "$(jq -c .alive <<<"$ready2")" == "$(jq -c .links <<<"$ready")"
live_check "SIGHUP: the daemon goes on" kill -0 "$pid"
sessions_before=$(grep -c '"event":"smtp_connection"' "$d/out1.json")
lab_run_scenario plain >"$d/client2.log" 2>&1 || live_fail "plain session: $(tail -3 "$d/client2.log")"
lab_wait_idle
for _ in $(seq 30); do
	(($(grep -c '"event":"smtp_connection"' "$d/out1.json") > sessions_before)) && break
	sleep 0.1
done
live_check "after the reload, a new session reaches the output" \
	test "$(grep -c '"event":"smtp_connection"' "$d/out1.json")" -gt "$sessions_before"

n_before=$(wc -l <"$log")
live_stop TERM
live_check "SIGTERM: exit 0 (got $LIVE_RC)" test "$LIVE_RC" -eq 0
live_check "SIGTERM: STOPPING=1" wait_for "$log" ".[$n_before:] | any(.[]; $(has STOPPING=1))" 20
manager_stop

echo "== run 2: WATCHDOG_USEC=2000000"
log=$d/notify2.log
: >"$log"
manager_start "$d/notify2.sock" "$log" "$d/err2" || { live_fail "fake manager starts"; live_done; }
NOTIFY_SOCKET=$d/notify2.sock WATCHDOG_USEC=2000000 live_start "$LAB_SRV_NS" /dev/null \
	"$d/err2" 2 -i "$LAB_SRV_IF" --control none --output "json:$d/out2.json" ||
	{ live_fail "smtpmon run with WATCHDOG_USEC starts"; live_done; }
wait_for "$log" "any(.[]; $(has READY=1))" || live_fail "run 2: READY=1"
sleep 3
pings=$(q "$log" "[.[] | select($(has WATCHDOG=1)) | .t]")
live_check "WATCHDOG=1 at least twice in 3 s ($(jq length <<<"$pings"))" \
	test "$(jq length <<<"$pings")" -ge 2
gap=$(jq '[range(1; length) as $i | .[$i] - .[$i - 1]] | max // 99' <<<"$pings")
live_check "WATCHDOG=1 never 2 s apart (largest gap $gap s)" \
	python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 2)" "$gap"
live_stop TERM
live_check "run 2: SIGTERM exits 0 (got $LIVE_RC)" test "$LIVE_RC" -eq 0
manager_stop
live_done
