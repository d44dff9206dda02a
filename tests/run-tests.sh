#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# run-tests.sh - everything `make test` runs once build/smtpmon and build/san/smtpmon are built.
#
#   tests/run-tests.sh [PATTERN]      (root: network namespaces, BPF)
#
# Runs, one after the other: the cmocka unit tests (make unit), every test_*.sh under
# tests/cli, tests/oracle, tests/zeek, tests/corpus, tests/live and any other tests/*/, and a
# short fuzz run (make fuzz FUZZ_SECONDS=10). Exit status 77 from a test means "skipped". Each test is independent and cleans up after
# itself; its output goes to build/test-logs/NAME.log, and the tail of it is printed when it
# fails. With PATTERN, only the tests whose name contains it. Prints a summary; exit status 1
# if any test failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Debian's python3, the one tools/install-deps.sh installs modules for (and the one a fresh
# Debian 12 has): a version manager's shim in front of it (pyenv here) costs 0.6 s per start,
# and the suite starts Python thousands of times (test_reseg: 870 s with it, 88 s without).
export PATH="/usr/bin:/bin:$PATH"

pattern=${1:-}
logs=build/test-logs
mkdir -p "$logs"
# A test that hangs must not hold up the whole run forever.
per_test_limit=900

# The oracle test records build/lab-pcaps, which the corpus tests also read: it goes first.
# Directories not named here (a new tests/X/test_*.sh) run after these, alphabetically.
ordered_dirs=(cli oracle zeek corpus live)
tests=(unit)
for dir in "${ordered_dirs[@]}" $(ls tests); do
	[[ $dir == lab || $dir == unit || $dir == fuzz ]] && continue
	for t in tests/$dir/test_*.sh; do
		[[ -f $t && " ${tests[*]} " != *" $t "* ]] && tests+=("$t")
	done
done
tests+=(fuzz)

run_one() {
	case $1 in
	unit) timeout "$per_test_limit" make --no-print-directory unit ;;
	fuzz) timeout "$per_test_limit" make --no-print-directory -j"$(nproc)" fuzz FUZZ_SECONDS=10 ;;
	*) timeout -k 10 "$per_test_limit" "$1" ;;
	esac
}

names=() results=() times=() logfiles=()
start_all=$SECONDS
for t in "${tests[@]}"; do
	[[ -z $pattern || $t == *"$pattern"* ]] || continue
	name=${t#tests/}
	name=${name%.sh}
	log=$logs/${name//\//_}.log
	printf '%-36s ' "$name"
	start=$SECONDS
	run_one "$t" >"$log" 2>&1
	rc=$?
	elapsed=$((SECONDS - start))
	names+=("$name") times+=("$elapsed") logfiles+=("$log")
	if ((rc == 0)); then
		results+=(PASS)
		printf 'PASS %4ds\n' "$elapsed"
	elif ((rc == 77)); then
		# A test that cannot run here says so with 77 (the automake convention).
		results+=(SKIP)
		printf 'SKIP %4ds: %s\n' "$elapsed" "$(tail -n 1 "$log")"
	else
		results+=("FAIL")
		((rc == 124)) && note=" (timed out after ${per_test_limit}s)" || note=" (exit $rc)"
		printf 'FAIL %4ds%s, log: %s\n' "$elapsed" "$note" "$log"
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
done

echo
echo "== summary ($((SECONDS - start_all))s)"
failed=0
for i in "${!names[@]}"; do
	printf '  %-4s %-36s %4ds\n' "${results[$i]}" "${names[$i]}" "${times[$i]}"
	[[ ${results[$i]} == FAIL ]] && failed=$((failed + 1))
done
if ((${#names[@]} == 0)); then
	echo "no test matches '$pattern'"
	exit 1
fi
# Again after the summary, since only the end of a long run's output may be kept (CI): each
# failed test's FAIL lines and the last lines of its log.
for i in "${!names[@]}"; do
	[[ ${results[$i]} == FAIL ]] || continue
	echo "== ${names[$i]} failed: its FAIL lines, then the end of ${logfiles[$i]}"
	grep -m 20 '^FAIL' "${logfiles[$i]}" | sed 's/^/    | /'
	tail -n 15 "${logfiles[$i]}" | sed 's/^/    : /'
done
skipped=$(printf '%s\n' "${results[@]}" | grep -c '^SKIP$')
echo "${#names[@]} tests, $((${#names[@]} - failed - skipped)) passed, $skipped skipped, $failed failed"
((failed == 0))
