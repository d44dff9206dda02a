#!/usr/bin/env python3
"""event_diff.py - compare two smtpmon JSON-lines event streams.

usage: event_diff.py [--ignore-ts] EXPECTED ACTUAL

Always ignored: orig_pkts/resp_pkts of smtp_connection (they count segments,
and re-cutting changes the number of segments by construction).
--ignore-ts also ignores ts and the smtp_connection duration: when pieces of
consecutive segments are reordered, bytes of a later segment may be
delivered by a piece of an earlier one, and an event carries the time of the
segment that completed its bytes (as in Zeek).
Prints the first difference with its line numbers; exit 1 if any.
"""
import json
import sys

SEGMENT_COUNTS = ("orig_pkts", "resp_pkts")


def load(path, ignore_ts):
    out = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            ev = json.loads(raw)
            if ev.get("event") == "smtp_connection":
                for k in SEGMENT_COUNTS:
                    ev.pop(k, None)
                if ignore_ts:
                    ev.pop("duration", None)
            if ignore_ts:
                ev.pop("ts", None)
            out.append((n, ev))
    return out


def main():
    args = sys.argv[1:]
    ignore_ts = "--ignore-ts" in args
    args = [a for a in args if a != "--ignore-ts"]
    if len(args) != 2:
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 2
    exp, act = load(args[0], ignore_ts), load(args[1], ignore_ts)
    for i in range(max(len(exp), len(act))):
        e = exp[i] if i < len(exp) else (None, None)
        a = act[i] if i < len(act) else (None, None)
        if e[1] != a[1]:
            print("  first difference at event %d (expected line %s, got line %s)" %
                  (i + 1, e[0], a[0]))
            print("  expected %s" % json.dumps(e[1]))
            print("  got      %s" % json.dumps(a[1]))
            print("  (%d vs %d events)" % (len(exp), len(act)))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
