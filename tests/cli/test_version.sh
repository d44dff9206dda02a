#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_version.sh - `--version` of both programs (issue 13, point 3) and where the version comes
# from (Makefile: VERSION):
#   - `smtpmon --version`, `smtpmon read --version` and `smtpmonctl --version` print one line
#     "smtpmon VERSION" on stdout, nothing on stderr, exit 0; VERSION is what the Makefile
#     computes for this tree (`make version`), so a binary older than the tree fails here;
#   - in a clone: `git archive` of HEAD (no .git) takes its version from the VERSION file that
#     export-subst filled in, equal to `git describe --tags --always` of HEAD; unpacked inside
#     another git repository it still does (that repository's describe must not leak in); a
#     copy whose VERSION was never filled in says "unknown".
# No root needed.
set -u
cd "$(dirname "$0")/../.." || exit 1
smtpmon=${SMTPMON:-build/smtpmon}
ctl=$(dirname "$smtpmon")/smtpmonctl
. tests/live/lib.sh # live_ok, live_fail, live_check, live_done; nothing here needs root
tmp=$(mktemp -d /tmp/smtpmon-version.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -x "$smtpmon" ] && [ -x "$ctl" ] || { echo "FAIL $smtpmon or $ctl not built"; exit 1; }
mk() { make --no-print-directory -s "$@"; }

want=$(mk version)
[[ -n $want && $want != *" "* ]] || live_fail "make version printed '$want'"
# version_ok NAME COMMAND...: one line "smtpmon $want", exit 0, empty stderr
version_ok() {
	local name=$1 rc
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [[ $rc -eq 0 && $(cat "$tmp/out") == "smtpmon $want" && $(wc -l <"$tmp/out") -eq 1 &&
		! -s $tmp/err ]]; then
		live_ok "$name: $(cat "$tmp/out")"
	else
		live_fail "$name: exit $rc, stdout '$(head -c 200 "$tmp/out")', stderr '$(head -c 200 "$tmp/err")' (want 'smtpmon $want'; a stale build? make)"
	fi
}
version_ok "smtpmon --version" "$smtpmon" --version
version_ok "smtpmon read --version" "$smtpmon" read --version
version_ok "smtpmonctl --version" "$ctl" --version

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "note: not a git clone, the VERSION file checks need one"
	live_done
fi
head=$(git describe --tags --always HEAD)
[[ $want == "$head" || $want == "$head-dirty" ]] &&
	live_ok "in the clone: git describe ($want)" || live_fail "in the clone: '$want', HEAD is '$head'"

mkdir "$tmp/archive"
git archive HEAD | tar -x -C "$tmp/archive"
got=$(mk -C "$tmp/archive" version)
[[ $got == "$head" ]] && live_ok "git archive of HEAD: VERSION file says $got" ||
	live_fail "git archive of HEAD: make version says '$got', want '$head' ($(grep -v '^#' "$tmp/archive/VERSION" | tr '\n' '|'))"

git init -q "$tmp/outer" && git -C "$tmp/outer" -c user.name=t -c user.email=t@example.com \
	commit -q --allow-empty -m outer
git archive HEAD | tar -x -C "$tmp/outer" --one-top-level=inner
got=$(mk -C "$tmp/outer/inner" version)
[[ $got == "$head" ]] && live_ok "unpacked inside another repository: still $got" ||
	live_fail "unpacked inside another repository: '$got' (the outer one is $(git -C "$tmp/outer" describe --always))"

mkdir "$tmp/copy"
git show HEAD:Makefile >"$tmp/copy/Makefile"
git show HEAD:VERSION >"$tmp/copy/VERSION"
got=$(mk -C "$tmp/copy" version)
[[ $got == unknown ]] && live_ok "a copy whose VERSION was never filled in: unknown" ||
	live_fail "a copy with the placeholder VERSION: '$got', want unknown"
live_done
