#!/usr/bin/env bash
# bench-live.sh - what live capture costs a bulk SMTP upload (called at the end of make bench).
#
# One message body of LIVE_MB megabytes (default 1024) is uploaded to a tiny SMTP sink on port
# 25 across a throwaway veth pair (tests/lab/lab.sh), with nothing attached, with
# `smtpmon run --ingress tc`, with `--ingress xdp`, and with tcpdump -s0 -w /dev/null on the
# server's interface. The four are taken in turn, RUNS rounds (default 3); each is reported
# as the median over rounds of its throughput divided by the unattached throughput of the
# same round, because this machine is shared and only same-moment ratios mean something.
# kernel.bpf_stats_enabled is switched on for the run (and restored) so the programs' own
# cost per invocation (run_time_ns / run_cnt from bpftool) can be reported.
#
#   tools/bench-live.sh            (root; prints "skipped: needs root" otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
	echo "live capture: skipped: needs root"
	exit 0
fi
LIVE_MB=${LIVE_MB:-1024}
RUNS=${RUNS:-3}
SMTPMON=${SMTPMON:-build/smtpmon}
# Extra options for `smtpmon run`, e.g. SMTPMON_OPTS="--ring-size 67108864".
CONFIGS=(none tc xdp tcpdump)

. tests/lab/lab.sh
lab_init "smbn$$" || exit 1
d=$LAB_DIR
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	# lab_teardown is not written for set -e (a kill of an already gone process fails).
	set +e
	sysctl -q -w kernel.bpf_stats_enabled="$stats_before"
	lab_teardown
}
trap cleanup EXIT
trap 'exit 1' INT TERM
lab_netns || exit 1
sysctl -q -w kernel.bpf_stats_enabled=1

# The sink answers the SMTP dialogue up to 354 (so smtpmon parses a real DATA phase),
# then discards everything and closes once the client has.
cat >"$d/sink.py" <<'EOF'
import socket, sys
srv = socket.create_server((sys.argv[1], 25))
buf = bytearray(1 << 20)
while True:
    conn, _ = srv.accept()
    lines = conn.makefile("rb")
    conn.sendall(b"220 bench ESMTP\r\n")
    for line in lines:
        conn.sendall(b"354 go ahead\r\n" if line.upper().startswith(b"DATA") else b"250 ok\r\n")
        if line.upper().startswith(b"DATA"):
            break
    while conn.recv_into(buf):
        pass
    lines.close()
    conn.close()
EOF
# The client times the body only: from after 354 until the sink has read all of it (its
# close is seen); prints seconds.
cat >"$d/upload.py" <<'EOF'
import socket, sys, time
total = int(sys.argv[2]) << 20
line = b"x" * 76 + b"\r\n"
chunk = memoryview(line * ((1 << 20) // len(line)))
s = socket.create_connection((sys.argv[1], 25))
replies = s.makefile("rb")
replies.readline()
for cmd in (b"EHLO client.example", b"MAIL FROM:<a@client.example>", b"RCPT TO:<b@lab.example>",
            b"DATA"):
    s.sendall(cmd + b"\r\n")
    replies.readline()
start = time.monotonic()
sent = 0
while sent < total:
    part = chunk[: total - sent]
    s.sendall(part)
    sent += len(part)
s.sendall(b"\r\n.\r\nQUIT\r\n")
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print(f"{time.monotonic() - start:.4f}")
EOF

# Started directly (no subshell that would announce "Terminated" when lab_teardown ends it).
ip netns exec "$LAB_SRV_NS" python3 "$d/sink.py" "$LAB_SRV4" 2>"$d/sink.err" &
disown
for _ in $(seq 50); do
	lab_srv ss -Hltn 'sport = :25' | grep -q . && break
	sleep 0.1
done

# smtpmon and tcpdump run under /usr/bin/time for their CPU seconds; PEER is the monitored
# process itself (time's child), which is the one to signal.
peer_start() {
	local cfg=$1
	case $cfg in
	tc | xdp)
		ip netns exec "$LAB_SRV_NS" /usr/bin/time -f '%U %S' -o "$d/cpu" "$SMTPMON" run -i "$LAB_SRV_IF" \
			--ingress "$cfg" --control none --events smtp_connection ${SMTPMON_OPTS:-} \
			>"$d/out.json" 2>"$d/err" &
		ready='^smtpmon: attached .* ingress'
		;;
	tcpdump)
		ip netns exec "$LAB_SRV_NS" /usr/bin/time -f '%U %S' -o "$d/cpu" tcpdump -i "$LAB_SRV_IF" -s 0 -n \
			-w /dev/null 'tcp port 25' >/dev/null 2>"$d/err" &
		ready='listening on'
		;;
	esac
	TIME_PID=$!
	for _ in $(seq 100); do
		grep -q "$ready" "$d/err" 2>/dev/null && break
		kill -0 "$TIME_PID" 2>/dev/null ||
			{ echo "bench-live: $cfg exited at start:" >&2; cat "$d/err" >&2; exit 1; }
		sleep 0.1
	done
	PEER=$(tr -d " " <"/proc/$TIME_PID/task/$TIME_PID/children")
	[[ $PEER =~ ^[0-9]+$ ]] || { echo "bench-live: $cfg did not start" >&2; exit 1; }
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# Programs that smtpmon attached: "id run_time_ns run_cnt" for each, read before it exits.
prog_stats() {
	local id
	for id in $(sed -n 's/^smtpmon: attached .*(prog \([0-9]*\),.*/\1/p' "$d/err" | sort -u); do
		bpftool -j prog show id "$id" | jq -r '"\(.name) \(.run_time_ns // 0) \(.run_cnt // 0)"'
	done
}

peer_stop() {
	local cfg=$1 last now
	# Let smtpmon drain its ring first: stop once its CPU time no longer moves.
	last=-1
	for _ in $(seq 50); do
		now=$(cpu_ticks "$PEER")
		[[ $now == "$last" ]] && break
		last=$now
		sleep 0.2
	done
	[[ $cfg == tcpdump ]] || prog_stats >"$d/progs"
	kill -s "$([[ $cfg == tcpdump ]] && echo INT || echo TERM)" "$PEER"
	wait "$TIME_PID" || { echo "bench-live: $cfg failed:" >&2; cat "$d/err" >&2; exit 1; }
}

# results: one line per measurement: round config gbit ratio drops cpu_s [prog ns/run ...]
: >"$d/results"
bytes=$((LIVE_MB << 20))
for round in $(seq "$RUNS"); do
	for cfg in "${CONFIGS[@]}"; do
		[[ $cfg == none ]] || peer_start "$cfg"
		secs=$(lab_cli python3 "$d/upload.py" "$LAB_SRV4" "$LIVE_MB")
		gbit=$(echo "$bytes * 8 / $secs / 1000000000" | bc -l)
		[[ $cfg == none ]] && base=$gbit
		extra=
		lost=-
		cpu=-
		if [[ $cfg != none ]]; then
			peer_stop "$cfg"
			cpu=$(awk '{ print $1 + $2 }' "$d/cpu")
			if [[ $cfg == tcpdump ]]; then
				lost=$(awk '/packets received by filter/ { seen = $1 }
					/packets dropped by kernel/ { lost = $1 }
					END { if (seen) printf "%.2f", 100 * lost / seen }' "$d/err")
			else
				lost=$(sed -n 's/^smtpmon: kernel:.* ring_drop_bytes \([0-9]*\).*/\1/p' "$d/err")
				lost=$(echo "100 * ${lost:-0} / $bytes" | bc -l | xargs printf '%.2f')
				extra=$(awk '$3 > 0 { printf " %s:%.0f:%d", $1, $2 / $3, $3 }' "$d/progs")
				jq -e -s --argjson min "$bytes" \
					'any(.[]; .event == "smtp_connection" and .orig_bytes >= $min)' \
					"$d/out.json" >/dev/null ||
					echo "bench-live: round $round $cfg: no smtp_connection of the upload" >&2
			fi
		fi
		echo "$round $cfg $gbit $(echo "$gbit / $base" | bc -l) ${lost:-?} $cpu$extra" >>"$d/results"
	done
done

median() { sort -g | sed -n "$(((RUNS + 1) / 2))p"; }
col() { awk -v c="$1" -v k="$2" '$2 == c { print $k }' "$d/results"; }
# "name ns/run (runs)" per program, medians over rounds
progs() {
	local name
	for name in $(col "$1" 0 | grep -o 'smtpmon_[a-z_]*' | sort -u); do
		printf '%s %s ns (%s runs)  ' "$name" \
			"$(col "$1" 0 | grep -o "$name:[0-9]*" | cut -d: -f2 | median)" \
			"$(col "$1" 0 | grep -o "$name:[0-9]*:[0-9]*" | cut -d: -f3 | median)"
	done
}
echo "live capture: $LIVE_MB MB SMTP DATA upload to port 25 over a veth pair, median of $RUNS rounds"
echo "  (lost: smtpmon ring_drop_bytes / bytes sent; tcpdump packets dropped / received by filter)"
printf '  %-8s %7s %6s %20s %6s  %s\n' config Gbit/s ratio "lost % per round" "CPU s" \
	"BPF per program: run_time_ns / run_cnt"
for cfg in "${CONFIGS[@]}"; do
	printf '  %-8s %7.2f %6.2f %20s %6s  %s\n' "$cfg" "$(col "$cfg" 3 | median)" \
		"$(col "$cfg" 4 | median)" "$(col "$cfg" 5 | tr '\n' ' ')" \
		"$(col "$cfg" 6 | median)" "$(progs "$cfg")"
done
