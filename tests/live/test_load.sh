#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_load.sh - acceptance 6: the BPF object passes this kernel's verifier and the programs
# attach, see traffic and leave again; plus the one-line errors of `smtpmon run` (exit 1):
# unknown interface, no privileges, native XDP where the driver has none, XDP hook taken.
# (TCX asked for on a kernel without it: tests/kernels, on Debian's 6.1.)
#
# In a throwaway veth pair with Postfix (tests/lab): for --ingress=tc and --ingress=xdp,
# smtpmon starts, bpftool shows the programs and links it reported, a plain SMTP session
# comes out as events, SIGTERM exits 0 with the final counters, and nothing is left.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

live_lab "smbl$$"

for ingress in tc xdp; do
	live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --ingress="$ingress" ||
		{ live_fail "$ingress: smtpmon starts and attaches"; continue; }
	live_ok "$ingress: smtpmon loads (verifier) and attaches"
	for id in $(live_ids "$d/err" prog); do
		live_check "$ingress: bpftool shows prog $id as ours" \
			bash -c "bpftool prog show id $id | grep -q 'name smtpmon_'"
	done
	nlinks=$(live_ids "$d/err" link | wc -l)
	live_check "$ingress: two links (ingress and egress)" test "$nlinks" -eq 2
	for id in $(live_ids "$d/err" link); do
		live_check "$ingress: bpftool shows link $id" bash -c "bpftool link show id $id >/dev/null"
	done
	if [[ $ingress == xdp ]]; then
		live_check "xdp: ip link shows the XDP program" \
			bash -c "ip netns exec '$LAB_SRV_NS' ip link show dev '$LAB_SRV_IF' | grep -q xdp"
	fi
	lab_run_scenario plain >"$d/client.log" 2>&1 || live_fail "$ingress: swaks plain session: $(tail -3 "$d/client.log")"
	lab_wait_idle
	sleep 0.3
	live_stop TERM
	live_check "$ingress: SIGTERM exits 0" test "$LIVE_RC" -eq 0
	live_check "$ingress: final kernel counters printed" grep -q '^smtpmon: kernel: packets' "$d/err"
	live_check "$ingress: EHLO seen live" \
		live_has "$d/out.json" '.event == "smtp_request" and .command == "EHLO"'
	live_check "$ingress: a 250 to DATA's end seen live" \
		live_has "$d/out.json" '.event == "smtp_reply" and .cmd == "." and .code == 250'
	live_check "$ingress: no ring drops" test "$(live_counter "$d/err" ring_drops)" = 0
	live_assert_detached "$LAB_SRV_NS" "$LAB_SRV_IF" "$d/err"
done

# One-line errors, exit status 1.
expect_error() {
	local what=$1 pattern=$2
	shift 2
	ip netns exec "$LAB_SRV_NS" "$@" >/dev/null 2>"$d/err"
	local rc=$?
	if [[ $rc -eq 1 ]] && grep -q "$pattern" "$d/err" && [[ $(wc -l <"$d/err") -eq 1 ]]; then
		live_ok "error: $what"
	else
		live_fail "error: $what (rc $rc): $(head -3 "$d/err")"
	fi
}
expect_error "unknown interface" "unknown interface 'nosuch0'" \
	"$SMTPMON" run -i nosuch0
expect_error "not root" "needs root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SMTPMON" run -i lo
expect_error "native XDP asked for on lo, whose driver has none" "its driver has no native XDP" \
	"$SMTPMON" run -i lo --ingress=xdp --xdp-mode=native --control none
# Another program owns the XDP hook: refuse with a clear message.
ip -n "$LAB_SRV_NS" link set dev "$LAB_SRV_IF" xdpgeneric obj build/smtpmon.bpf.o sec xdp.frags \
	2>/dev/null
if ip -n "$LAB_SRV_NS" link show dev "$LAB_SRV_IF" | grep -q xdp; then
	expect_error "XDP hook taken" "owned by program" "$SMTPMON" run -i "$LAB_SRV_IF" --ingress=xdp
	ip -n "$LAB_SRV_NS" link set dev "$LAB_SRV_IF" xdpgeneric off
else
	live_fail "could not put a foreign XDP program on $LAB_SRV_IF for the EBUSY test"
fi
live_done
