#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""event_diff.py - compare two smtpmon JSON-lines event streams.

usage: event_diff.py [--ignore-ts] EXPECTED ACTUAL
       event_diff.py --batch LIST

LIST: one comparison per line, "EXPECTED<TAB>ACTUAL<TAB>ts|ignore-ts<TAB>LABEL"; each
difference is printed after its label (one interpreter for many pairs: starting Python
costs a third of a second on the test machine).

Always ignored: orig_segs/resp_segs of smtp_connection (they count segments,
and re-cutting changes the number of segments by construction). The weird
rexmit_inconsistency is raised once per segment whose bytes differ from the
copy kept, with an excerpt that starts where that segment's overlap does: how
many there are and what they show depends on the cut, so only whether a
connection has any is compared (docs/reassembly.md).
--ignore-ts also ignores ts and the duration of smtp_connection and file: when pieces of
consecutive segments are reordered, bytes of a later segment may be
delivered by a piece of an earlier one, and an event carries the time of the
segment that completed its bytes (as in Zeek).
Prints the first difference with its line numbers; exit 1 if any.
"""
import json
import re
import sys

SEGMENT_COUNTS = ("orig_segs", "resp_segs")
LEADING_TS = re.compile(rb'^\{"ts":[0-9.eE+-]+,')
REXMIT = b'"name":"rexmit_inconsistency"'


def split_rexmit(lines):
    """The lines without rexmit_inconsistency weirds, and the uids that had one."""
    kept, uids = [], set()
    for line in lines:
        if REXMIT in line:
            uids.add(json.loads(line)["uid"])
        else:
            kept.append(line)
    return kept, uids


def normalize(raw, ignore_ts):
    ev = json.loads(raw)
    if ev.get("event") == "smtp_connection":
        for k in SEGMENT_COUNTS:
            ev.pop(k, None)
    if ignore_ts:
        ev.pop("ts", None)
        ev.pop("duration", None)
    return ev


def compare(expected, actual, ignore_ts, header=None):
    """Prints the first difference (after header, if any); 1 if any, else 0."""
    with open(expected, "rb") as f:
        exp = f.read().split(b"\n")
    with open(actual, "rb") as f:
        act = f.read().split(b"\n")
    exp, exp_rexmit = split_rexmit(exp)
    act, act_rexmit = split_rexmit(act)
    if exp_rexmit != act_rexmit:
        if header:
            print(header)
        print("  connections with rexmit_inconsistency differ: expected %s, got %s"
              % (sorted(exp_rexmit), sorted(act_rexmit)))
        return 1
    for i in range(max(len(exp), len(act))):
        e = exp[i] if i < len(exp) else b""
        a = act[i] if i < len(act) else b""
        if ignore_ts:
            e, a = LEADING_TS.sub(b"{", e), LEADING_TS.sub(b"{", a)
        # Most lines are byte-identical; parse only the others.
        if e == a:
            continue
        ne = normalize(e, ignore_ts) if e else None
        na = normalize(a, ignore_ts) if a else None
        if ne != na:
            if header:
                print(header)
            print("  first difference at event %d" % (i + 1))
            print("  expected %s" % json.dumps(ne))
            print("  got      %s" % json.dumps(na))
            print("  (%d vs %d events)" % (len(exp) - 1, len(act) - 1))
            return 1
    return 0


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--batch":
        failed = 0
        with open(args[1]) as f:
            for line in f:
                expected, actual, ts, label = line.rstrip("\n").split("\t")
                if ts not in ("ts", "ignore-ts"):
                    print("event_diff: %s: bad line %r" % (args[1], line), file=sys.stderr)
                    return 2
                if compare(expected, actual, ts == "ignore-ts", "FAIL " + label):
                    failed = 1
        return failed
    ignore_ts = "--ignore-ts" in args
    args = [a for a in args if a != "--ignore-ts"]
    if len(args) != 2:
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 2
    return compare(args[0], args[1], ignore_ts)


if __name__ == "__main__":
    sys.exit(main())
