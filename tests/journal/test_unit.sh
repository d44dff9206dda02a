#!/bin/bash
# test_unit.sh - systemd/smtpmon.service and `make install`.
#
# Always (no PID 1 needed):
#   - `systemd-analyze verify --man=no` on the unit with ExecStart pointed at build/smtpmon
#     prints nothing (verify exits 0 on unknown keys and bad values, so any output fails);
#   - `systemd-analyze security --offline=yes` exposure stays at or below 2.5 (now 2.1);
#   - `make install DESTDIR=... PREFIX=/usr` installs both programs and the unit, with
#     ExecStart rewritten to the installed path.
# End to end, when systemd-nspawn (package systemd-container) is installed: the host's /usr
# booted as a throwaway container (systemd as PID 1, --volatile=yes, private network, see
# ecosystem.md 2.4), the unit installed there monitoring the container's lo:
#   - `systemctl start` returns only once the BPF programs are attached (Type=notify), the
#     status text is smtpmon's, CapEff is exactly CAP_BPF CAP_NET_ADMIN CAP_PERFMON, and the
#     hardening left bpf() and netlink working;
#   - smtpmonctl stats answers on /run/smtpmon/control.sock (RuntimeDirectory);
#   - an SMTP dialogue on lo shows up as journal entries of the unit, with SMTPMON_* fields;
#   - `systemctl stop` ends it with success, the programs it reported are gone from the
#     kernel, nothing is left on lo, the RuntimeDirectory is removed.
# Needs root. Takes about 5 s. Run from anywhere: tests/journal/test_unit.sh
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
unit=${SMTPMON_UNIT:-systemd/smtpmon.service}

[[ $EUID -eq 0 ]] || { echo "skip: needs root"; exit 77; }
[ -x "$smtpmon" ] || { echo "FAIL: $smtpmon not built (make)"; exit 1; }

tmp=$(mktemp -d /tmp/smtpmon-unit.XXXXXX)
nspawn_pid=
# What systemd-analyze and systemd-nspawn leave in /run/systemd: removed if new.
leftovers=()
for f in /run/systemd/nspawn /run/systemd/nspawn-root /run/systemd/systemd-units-load; do
	[[ -e $f ]] || leftovers+=("$f")
done
cleanup()
{
	local i
	if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# SIGTERM halts the container cleanly; a second one (or SIGKILL) cuts it short.
		kill -TERM "$nspawn_pid"
		for i in $(seq 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	for f in "${leftovers[@]}"; do
		rm -rf "$f"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

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

echo "== systemd-analyze verify"
sed "s|^ExecStart=/usr/local/sbin/smtpmon |ExecStart=$PWD/$smtpmon |" "$unit" >"$tmp/smtpmon.service"
grep -q "^ExecStart=$PWD/$smtpmon run " "$tmp/smtpmon.service" || fail "ExecStart not rewritten"
if systemd-analyze verify --man=no "$tmp/smtpmon.service" >"$tmp/verify.out" 2>&1 &&
	[[ ! -s $tmp/verify.out ]]; then
	ok "verify: no warnings"
else
	fail "verify: $(cat "$tmp/verify.out")"
fi

echo "== systemd-analyze security"
# --threshold is on a 0-100 scale: 25 is an exposure of 2.5.
if systemd-analyze security --offline=yes --threshold=25 "$tmp/smtpmon.service" \
	>"$tmp/security.out" 2>&1; then
	ok "$(grep -o 'Overall exposure level.*' "$tmp/security.out")"
else
	fail "security: $(tail -1 "$tmp/security.out")"
fi

echo "== make install"
if make --no-print-directory -s install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/install.out" 2>&1; then
	for f in usr/sbin/smtpmon usr/sbin/smtpmonctl; do
		[[ -x $tmp/root/$f ]] || fail "install: $f missing or not executable"
	done
	installed=$tmp/root/usr/lib/systemd/system/smtpmon.service
	if [[ -f $installed ]]; then
		[[ $(stat -c %a "$installed") == 644 ]] || fail "install: unit mode $(stat -c %a "$installed")"
		grep -qx 'ExecStart=/usr/sbin/smtpmon run --format journal $SMTPMON_OPTS' "$installed" ||
			fail "install: ExecStart is $(grep ^ExecStart "$installed")"
		diff <(grep -v ^ExecStart "$unit") <(grep -v ^ExecStart "$installed") >/dev/null ||
			fail "install: the unit changed beyond ExecStart"
	else
		fail "install: no unit in $tmp/root/usr/lib/systemd/system"
	fi
	ok "install into DESTDIR"
else
	fail "make install: $(cat "$tmp/install.out")"
fi

if ! command -v systemd-nspawn >/dev/null; then
	echo "SKIP end-to-end: systemd-nspawn not installed (apt-get install systemd-container)"
	((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
	exit 0
fi

echo "== end to end under systemd in a throwaway container"
e2e=$tmp/e2e
mkdir -p "$e2e"
cp "$smtpmon" "$e2e/smtpmon"
cp build/smtpmonctl "$e2e/smtpmonctl" || { echo "FAIL: build/smtpmonctl not built"; exit 1; }
sed "s|^ExecStart=/usr/local/sbin/|ExecStart=/opt/e2e/|" "$unit" >"$e2e/smtpmon.service"
cat >"$e2e/smtp_pair.py" <<'EOF'
# One SMTP dialogue over lo: a minimal server thread and a client; EHLO carries a \x01.
import socket, threading

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 25))
srv.listen(1)

def serve():
    c, _ = srv.accept()
    c.sendall(b"220 e2e ESMTP\r\n")
    for line in c.makefile("rb"):
        verb = line[:4].upper()
        c.sendall({b"EHLO": b"250 e2e\r\n", b"QUIT": b"221 bye\r\n"}.get(verb, b"250 ok\r\n"))
        if verb == b"QUIT":
            break
    c.close()

t = threading.Thread(target=serve)
t.start()
s = socket.create_connection(("127.0.0.1", 25))
f = s.makefile("rb")
f.readline()
for line in [b"EHLO e2e-client\x01\r\n", b"MAIL FROM:<a@e2e.example>\r\n", b"QUIT\r\n"]:
    s.sendall(line)
    f.readline()
s.close()
t.join()
EOF

systemd-nspawn --directory=/ --volatile=yes --boot --register=no --keep-unit \
	--private-network --console=pipe --capability=all \
	--system-call-filter='bpf perf_event_open' --bind="$e2e:/opt/e2e" -- \
	systemd.mask=systemd-networkd-wait-online.service systemd.mask=postfix.service \
	systemd.mask=postfix@-.service >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!

container=
for i in $(seq 150); do
	container=$(pgrep -P "$nspawn_pid" | head -1)
	[[ -n $container ]] && nsenter -t "$container" -a test -S /run/systemd/private 2>/dev/null && break
	container=
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $container ]]; then
	echo "FAIL: the container did not boot:"
	cat "$tmp/nspawn.log"
	exit 1
fi
in_ct() { timeout 60 nsenter -t "$container" -a "$@"; }
in_ct systemctl is-system-running --wait >/dev/null # "degraded" is normal here (empty /etc)

in_ct sh -c 'mkdir -p /etc/default &&
	echo "SMTPMON_OPTS=\"-i lo\"" >/etc/default/smtpmon &&
	cp /opt/e2e/smtpmon.service /run/systemd/system/ && systemctl daemon-reload' ||
	fail "installing the unit in the container"

# links_alive: how many of the links smtpmon reported ("attached ... (prog N, link M)") exist.
# bpftool 7.1 does not list TCX links under `net show`; link ids are global, so ask for them.
links_alive()
{
	local n=0 l
	for l in $links; do
		bpftool link show id "$l" >/dev/null 2>&1 && n=$((n + 1))
	done
	echo $n
}
links=
if in_ct systemctl start smtpmon; then
	# Attached when start returned: READY=1 comes after the attach.
	links=$(in_ct journalctl -u smtpmon --no-pager -o cat |
		sed -n 's/^smtpmon: attached lo .*(prog [0-9]*, link \([0-9]*\))$/\1/p')
	n=$(links_alive)
	[[ -n $links ]] && ((n == $(echo $links | wc -w))) &&
		ok "start returned with $n links attached to lo" ||
		fail "start returned with links '$links', $n alive"
else
	fail "systemctl start: $(in_ct journalctl -u smtpmon --no-pager -o cat | tail -5)"
fi
show() { in_ct systemctl show --value -p "$1" smtpmon; }
[[ $(show Type) == notify ]] || fail "Type=$(show Type)"
[[ $(show ActiveState) == active ]] || fail "ActiveState=$(show ActiveState)"
[[ $(show StatusText) == "capturing on 1 interface(s)" ]] || fail "StatusText=$(show StatusText)"
pid=$(show MainPID)
# CAP_NET_ADMIN 12, CAP_PERFMON 38, CAP_BPF 39
capeff=$(in_ct sed -n 's/^CapEff:\t//p' "/proc/$pid/status")
[[ $capeff == 000000c000001000 ]] && ok "CapEff = CAP_BPF CAP_NET_ADMIN CAP_PERFMON" ||
	fail "CapEff $capeff, want 000000c000001000"
in_ct test -S /run/smtpmon/control.sock || fail "no /run/smtpmon/control.sock"
in_ct /opt/e2e/smtpmonctl stats >"$tmp/stats" 2>&1 && grep -q '^kernel_packets ' "$tmp/stats" &&
	ok "smtpmonctl stats" || fail "smtpmonctl stats: $(head -3 "$tmp/stats")"

in_ct /usr/bin/python3 /opt/e2e/smtp_pair.py || fail "SMTP dialogue on lo"
for i in $(seq 50); do
	in_ct journalctl -u smtpmon -o json --no-pager SMTPMON_EVENT=smtp_request >"$tmp/requests"
	(($(wc -l <"$tmp/requests") >= 3)) && break
	sleep 0.2
done
python3 - "$tmp/requests" <<'EOF' && ok "SMTP requests in the unit's journal" || fail "requests in the journal"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
got = [(e.get("SMTPMON_COMMAND"), e.get("SMTPMON_ARG")) for e in entries]
want = [("EHLO", "e2e-client\\x01"), ("MAIL", "FROM:<a@e2e.example>"), ("QUIT", "")]
ok = got == want and all(e.get("_SYSTEMD_UNIT") == "smtpmon.service" and e.get("PRIORITY") == "6"
                         and e.get("SMTPMON_RESP_P") == "25" for e in entries)
if not ok:
    print("  got %r, want %r" % (got, want))
sys.exit(0 if ok else 1)
EOF

if in_ct systemctl stop smtpmon; then
	stopped=1
	[[ $(show Result) == success && $(show ExecMainStatus) == 0 && $(show ActiveState) == inactive ]] ||
		{ stopped=; fail "after stop: Result=$(show Result) status=$(show ExecMainStatus) $(show ActiveState)"; }
	n=$(links_alive)
	((n == 0)) || { stopped=; fail "$n of the links '$links' still exist after stop"; }
	in_ct test -e /run/smtpmon && { stopped=; fail "/run/smtpmon left behind"; }
	in_ct journalctl -u smtpmon -o json --no-pager SMTPMON_EVENT=smtp_connection |
		grep -q '"SMTPMON_ORIG_H":"127.0.0.1"' ||
		{ stopped=; fail "no smtp_connection summary in the journal"; }
	[[ -n $stopped ]] && ok "stop: success, links $(echo $links) gone, runtime directory removed"
else
	fail "systemctl stop"
fi

if ((failures)); then
	echo "$failures failure(s)"
	exit 1
fi
echo "ok: unit verified and run under systemd"
