#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_jsonl.py - strict validator for smtpmon's JSON-lines output.

usage: check_jsonl.py FILE [LABEL]
       check_jsonl.py --batch LIST     (LIST: one "FILE<TAB>LABEL" per line; one
                                        interpreter for many files)

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
B, I, S, N, L = bool, int, str, (int, float), list
FIELDS = {
    "smtp_request": [("is_orig", B), ("command", S), ("arg", S)],
    "smtp_reply": [("is_orig", B), ("code", I), ("cmd", S), ("msg", S), ("cont_resp", B)],
    "smtp_data": [("is_orig", B), ("data", S)],
    "smtp_starttls": [],
    "smtp_unexpected": [("is_orig", B), ("msg", S), ("detail", S)],
    "content_gap": [("is_orig", B), ("seq", I), ("length", I)],
    "weird": [("name", S), ("addl", S)],  # addl only when not empty
    "smtp_connection": [("duration", N), ("orig_bytes", I), ("resp_bytes", I),
                        ("orig_segs", I), ("resp_segs", I), ("transactions", I),
                        ("tls", B), ("gaps", I), ("missed_bytes", I), ("anomalies", I),
                        ("end", S), ("partial", B), ("community_id", S)],
    # Zeek's smtp.log fields, then ours (records/transaction.h)
    "smtp_transaction": [("trans_depth", I), ("helo", S), ("mailfrom", S), ("rcptto", L),
                         ("date", S), ("from", S), ("to", L), ("cc", L), ("reply_to", S),
                         ("msg_id", S), ("in_reply_to", S), ("subject", S),
                         ("x_originating_ip", S), ("first_received", S),
                         ("second_received", S), ("last_reply", S), ("path", L),
                         ("user_agent", S), ("tls", B), ("fuids", L), ("subject_decoded", S),
                         ("rcpt_status", L), ("queue_id", S), ("outcome", S),
                         ("outcome_code", I), ("body_bytes", I), ("community_id", S)],
    # files.log fields and ours (out_common.c, file_fields); content_seen only when
    # false, and then no sizes, timedout or digests
    "file": [("fuid", S), ("source", S), ("depth", I), ("trans_depth", I), ("mime_type", S),
             ("declared_type", S), ("filename", S), ("duration", N), ("is_orig", B),
             ("content_seen", B), ("seen_bytes", I), ("missing_bytes", I), ("timedout", B),
             ("parent_fuid", S), ("md5", S), ("sha1", S), ("sha256", S)],
}
# Unset fields are left out.
OPTIONAL = {("weird", "addl")} | {("smtp_transaction", k) for k in (
    "helo", "mailfrom", "rcptto", "date", "from", "to", "cc", "reply_to", "msg_id",
    "in_reply_to", "subject", "x_originating_ip", "first_received", "second_received",
    "last_reply", "user_agent", "subject_decoded", "queue_id", "outcome_code", "body_bytes")} | {
    ("file", k) for k in ("mime_type", "declared_type", "filename", "content_seen", "seen_bytes",
                          "missing_bytes", "timedout", "parent_fuid", "md5", "sha1", "sha256")}
OUTCOMES = {"accepted", "rejected", "aborted_rset", "aborted_quit", "aborted_gap",
            "aborted_tls", "aborted_mail", "aborted_end"}
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
    if ev == "smtp_transaction":
        if obj["outcome"] not in OUTCOMES:
            return "unknown outcome %r" % obj["outcome"]
        if ("outcome_code" in obj) != (obj["outcome"] == "rejected"):
            return "outcome_code %r with outcome %r" % (obj.get("outcome_code"), obj["outcome"])
        for k in ("rcptto", "to", "cc", "path", "fuids"):
            if not all(isinstance(x, str) for x in obj.get(k, [])):
                return "%s is not a list of strings" % k
        for r in obj["rcpt_status"]:
            if not isinstance(r, dict) or not isinstance(r.get("addr"), str) or \
                    set(r) not in ({"addr"}, {"addr", "code", "text"}):
                return "bad rcpt_status entry %r" % r
    return None


def check_file(path, label):
    """Prints the file's problems; 1 if any, else 0."""
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


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--batch":
        failed = 0
        with open(sys.argv[2]) as f:
            for line in f:
                path, label = line.rstrip("\n").split("\t", 1)
                failed |= check_file(path, label)
        return failed
    if len(sys.argv) not in (2, 3):
        print(__doc__.split("\n")[2], file=sys.stderr)
        return 2
    return check_file(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
