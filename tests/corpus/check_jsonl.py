#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_jsonl.py - strict validator for smtpmon's JSON-lines output.

usage: check_jsonl.py FILE [LABEL]

Every line must be: non-empty, valid UTF-8 (strict decoding), one JSON object
(json.loads, which rejects raw control characters inside strings) without
duplicate keys, with the common fields ts, uid, id.orig_h, id.orig_p,
id.resp_h, id.resp_p, event in that order and of the right types, followed by
exactly the fields documented for that event (user/output/out_json.c). The file must
end with a newline. A uid must always name the same 4-tuple.
Prints one line per problem (at most 20) and exits 1 if there was any.
"""
import ipaddress
import json
import re
import sys

COMMON = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "event"]
B, I, S, N = bool, int, str, (int, float)
FIELDS = {
    "smtp_request": [("is_orig", B), ("command", S), ("arg", S)],
    "smtp_reply": [("is_orig", B), ("code", I), ("cmd", S), ("msg", S), ("cont_resp", B)],
    "smtp_data": [("is_orig", B), ("data", S)],
    "smtp_starttls": [],
    "smtp_unexpected": [("is_orig", B), ("msg", S), ("detail", S)],
    "content_gap": [("is_orig", B), ("seq", I), ("length", I)],
    "weird": [("name", S), ("addl", S)],  # addl only when not empty
    "smtp_connection": [("duration", N), ("orig_bytes", I), ("resp_bytes", I),
                        ("orig_pkts", I), ("resp_pkts", I), ("transactions", I),
                        ("tls", B), ("gaps", I), ("missed_bytes", I), ("anomalies", I),
                        ("end", S), ("partial", B)],
}
OPTIONAL = {("weird", "addl")}
ENDS = {"FIN", "RST", "timeout", "eviction", "end_of_input"}
UID = re.compile(r"^C[0-9A-Za-z]{1,18}$")


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in %s" % keys)
    return dict(pairs)


def is_type(v, t):
    # bool is an int in Python; keep them apart.
    if t is B:
        return isinstance(v, bool)
    return isinstance(v, t) and not isinstance(v, bool)


def check_object(obj):
    keys = list(obj)
    if keys[:len(COMMON)] != COMMON:
        return "common fields %s, want %s" % (keys[:len(COMMON)], COMMON)
    if not is_type(obj["ts"], N) or obj["ts"] < 0:
        return "bad ts %r" % obj["ts"]
    if not isinstance(obj["uid"], str) or not UID.match(obj["uid"]):
        return "bad uid %r" % obj["uid"]
    for h in ("id.orig_h", "id.resp_h"):
        try:
            ipaddress.ip_address(obj[h])
        except (ValueError, TypeError):
            return "bad %s %r" % (h, obj[h])
    for p in ("id.orig_p", "id.resp_p"):
        if not is_type(obj[p], I) or not 0 <= obj[p] <= 65535:
            return "bad %s %r" % (p, obj[p])
    ev = obj["event"]
    if ev not in FIELDS:
        return "unknown event %r" % ev
    want = [(k, t) for k, t in FIELDS[ev] if (ev, k) not in OPTIONAL or k in obj]
    rest = keys[len(COMMON):]
    if rest != [k for k, _ in want]:
        return "%s fields %s, want %s" % (ev, rest, [k for k, _ in want])
    for k, t in want:
        if not is_type(obj[k], t):
            return "%s.%s has type %s" % (ev, k, type(obj[k]).__name__)
    if ev == "smtp_reply" and not 0 <= obj["code"] <= 999:
        return "reply code %r" % obj["code"]
    if ev == "smtp_connection" and obj["end"] not in ENDS:
        return "unknown end %r" % obj["end"]
    if ev == "weird" and not obj["name"]:
        return "weird without a name"
    return None


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 2
    path = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) == 3 else path
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if data and not data.endswith(b"\n"):
        problems.append("output does not end with a newline")
    tuples = {}
    for n, raw in enumerate(data.split(b"\n")[:-1] if data else [], 1):
        err = None
        if not raw:
            err = "empty line"
        else:
            try:
                obj = json.loads(raw.decode("utf-8", errors="strict"),
                                 object_pairs_hook=no_duplicates)
                err = check_object(obj) if isinstance(obj, dict) else "not a JSON object"
            except (UnicodeDecodeError, ValueError) as e:
                err = "%s: %s" % (type(e).__name__, e)
            if err is None:
                t = (obj["id.orig_h"], obj["id.orig_p"], obj["id.resp_h"], obj["id.resp_p"])
                if tuples.setdefault(obj["uid"], t) != t:
                    err = "uid %s names %s and %s" % (obj["uid"], tuples[obj["uid"]], t)
        if err:
            problems.append("line %d: %s: %.200r" % (n, err, raw))
    for p in problems[:20]:
        print("%s: %s" % (label, p))
    if len(problems) > 20:
        print("%s: ... %d problems in all" % (label, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
