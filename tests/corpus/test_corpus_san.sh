#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Acceptance 2: every corpus pcap (tests/data/**/*.pcap, *.pcapng) and
# every pcap the lab tests recorded (build/lab-pcaps/*.pcap) runs through the
# ASan+UBSan build (build/san/smtpmon, `make san`) without a sanitizer report
# and with exit status 0, and every JSON output line passes the strict
# validator tests/corpus/check_jsonl.py. Each file runs with
#   --events all --data --keep-credentials --message-files yes   (JSON, validated)
#   defaults                                 (JSON, validated)
#   --format text --events all --data        (sanitizers and exit status only)
# and every corpus pcap also runs through the sanitized re-cutting driver
# (build/san/tools/reseg, tests/tools/reseg.c) as 1-byte segments and in its
# chaos mode (reordered, duplicated, overlapping pieces), which drives the
# reassembler through paths the captures alone do not reach.
#
# usage: tests/corpus/test_corpus_san.sh [SMTPMON]   (run from the repo root)
# One job per pcap, as many at once as there are CPUs (the script runs itself with
# SMTPMON --one FILE for each).
set -euo pipefail
cd "$(dirname "$0")/../.."
SMTPMON=${1:-build/san/smtpmon}
CHECK=tests/corpus/check_jsonl.py
[ -x "$SMTPMON" ] || { echo "test_corpus_san: $SMTPMON missing (run make san)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/smtpmon-san.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
RESEG=build/san/tools/reseg

# check_one FILE: every run of one pcap, in its own directory; prints the failures and
# "runs N lines M"; exit 1 on a failure. One job per pcap, in parallel (below).
check_one() {
	local f=$1 dir fail=0 runs=0 lines=0 rc mode
	dir=$(mktemp -d "$tmp/one.XXXXXX")
	: >"$dir/validate"
	run() { # label, json?, args...
		local label=$1 json=$2
		shift 2
		runs=$((runs + 1))
		rc=0
		"$SMTPMON" read "$@" >"$dir/out$runs" 2>"$dir/err" || rc=$?
		if [ $rc -ne 0 ] || grep -qE 'Sanitizer|runtime error:' "$dir/err"; then
			echo "FAIL $label: exit $rc"
			sed -n '1,30p' "$dir/err"
			fail=1
			return
		fi
		if [ "$json" = json ]; then
			printf '%s\t%s\n' "$dir/out$runs" "$label" >>"$dir/validate"
			lines=$((lines + $(wc -l <"$dir/out$runs")))
		fi
	}
	run "$f (all)" json --events all --data --keep-credentials --message-files yes "$f"
	run "$f (defaults)" json "$f"
	run "$f (text)" text --format text --events all --data "$f"
	case $f in build/lab-pcaps/*) ;; *)
		for mode in bytes1 chaos; do
			runs=$((runs + 1))
			rc=0
			"$RESEG" --mode $mode --seed 5 "$f" >"$dir/out$runs" 2>"$dir/err" || rc=$?
			if [ $rc -ne 0 ] || grep -qE 'Sanitizer|runtime error:' "$dir/err"; then
				echo "FAIL $f (reseg --mode $mode): exit $rc"
				sed -n '1,30p' "$dir/err"
				fail=1
			else
				printf '%s\t%s\n' "$dir/out$runs" "$f (reseg --mode $mode)" >>"$dir/validate"
			fi
		done
		;;
	esac
	# One validator for all the outputs: starting Python costs 0.35 s on the test machine.
	python3 "$CHECK" --batch "$dir/validate" || fail=1
	rm -rf "$dir"
	echo "runs $runs lines $lines"
	return $fail
}
if [ "${2:-}" = --one ]; then
	check_one "$3"
	exit
fi

# The validator must reject what it is there to catch, or a pass means nothing.
printf '%s\n' '{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_starttls"}' >"$tmp/good"
python3 "$CHECK" "$tmp/good" >/dev/null || { echo "test_corpus_san: validator rejects a good line" >&2; exit 1; }
i=0
while IFS= read -r bad; do
	i=$((i + 1))
	printf '%b' "$bad" >"$tmp/bad"
	if python3 "$CHECK" "$tmp/bad" >/dev/null; then
		echo "test_corpus_san: validator accepts bad input #$i: $bad" >&2
		exit 1
	fi
done <<'EOF'
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_starttls"}\n\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_starttls"}
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_data","is_orig":true,"data":"\xff"}\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_data","is_orig":true,"data":"a\x01b"}\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_data","is_orig":true}\n
{"ts":1.0,"uid":"CAbc","uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_starttls"}\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_request","is_orig":1,"command":"A","arg":""}\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_reply","is_orig":false,"code":250,"cmd":"X","msg":"ok","cont_resp":false}\n{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":2,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_starttls"}\n
{"ts":1.0,"uid":"CAbc","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_req
EOF


pcaps=()
while IFS= read -r -d '' f; do pcaps+=("$f"); done < <(
	find tests/data \( -name '*.pcap' -o -name '*.pcapng' \) -type f -print0 | sort -z
	find build/lab-pcaps -maxdepth 1 -name '*.pcap' -type f -print0 2>/dev/null | sort -z)
[ ${#pcaps[@]} -gt 0 ] || { echo "test_corpus_san: no pcaps found" >&2; exit 2; }

# Built by `make san` with the same sanitizers as build/san/smtpmon.
make --no-print-directory -s san
fail=0
printf '%s\0' "${pcaps[@]}" |
	xargs -0 -n1 -P "$(nproc)" "$(realpath "$0")" "$SMTPMON" --one >"$tmp/report" || fail=1
grep -v '^runs [0-9]* lines [0-9]*$' "$tmp/report" || true
runs=$(awk '/^runs [0-9]+ lines [0-9]+$/ { n += $2 } END { print n + 0 }' "$tmp/report")
lines=$(awk '/^runs [0-9]+ lines [0-9]+$/ { n += $4 } END { print n + 0 }' "$tmp/report")
echo "test_corpus_san: ${#pcaps[@]} pcaps, $runs runs, $lines JSON lines checked"
[ $fail -eq 0 ] && echo "test_corpus_san: PASS" || echo "test_corpus_san: FAIL"
exit $fail
