#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""compare_zeek.py - smtpmon's events against Zeek's own test baselines.

For every Zeek test in tests/data/zeek/baselines/ that holds
event-level output (see tests/zeek/README.md for the list and for what each
baseline covers), run

    smtpmon read --format json --events all --keep-credentials TRACE

and compare field by field:

  dump        scripts.policy.misc.dump-events{,-json}: every smtp_request,
              smtp_reply and smtp_starttls Zeek raised, with ts and all
              parameters; connections matched by 5-tuple.
  requests    `out` of the bdat tests: "uid, T, COMMAND, arg" per smtp_request.
  events      `out` of the BDAT error tests: "smtp_request, uid, T, CMD, arg"
              and "smtp_reply, uid, F, code, cmd, msg" (cont_resp not printed).
  weird       weird.log: names per connection, deduplicated as Zeek's weird
              framework does, with the addl of the first occurrence.
  conn        conn.log.cut: duration and missed_bytes against smtp_connection.

Connections in `out` files carry only Zeek's uids, which an independent
implementation cannot reproduce: they are numbered in order of first
appearance on both sides and, where weird.log gives the uid's 5-tuple, the
numbering is checked against it.

Differences are allowed only through the objects in DIFFERENCES, each tied to
its numbered entry in docs/zeek-differences.md and to a narrow case; one
whose entry is missing from that file is not applied, and every use is
printed. Everything else must match exactly.

Exit status: 0 all match, 1 mismatches, 2 usage or setup error.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HEADER_PREFIX = "### BTest baseline data"
TS_FMT = "%.6f"

# Weird names of weird.log, by what raises them in Zeek: the SMTP analyzer (the
# Weird() calls of src/analyzer/protocol/smtp/SMTP.cc and BDAT.cc, and of the
# line splitter tcp/ContentLine.cc), the MIME parser, the SMTP scripts, the log
# writer. Only the SMTP analyzer's own weirds (analyzer, BDAT splitter, line
# splitter) are in smtpmon's scope; the others come from layers smtpmon does
# not have. They are compared anyway whenever smtpmon emits that name for the
# trace.
ANALYZER_WEIRDS = {
    "smtp_invalid_bdat_command", "smtp_huge_bdat_chunk", "smtp_missing_bdat_last_chunk",
    "smtp_bdat_remaining_at_end_data", "smtp_bdat_undelivered_at_done",
    "smtp_bdat_line_lf_only", "smtp_bdat_line_cr_only", "smtp_bdat_line_too_long",
    "smtp_bdat_chunk_overflow", "smtp_bdat_negative_len", "smtp_nested_mail_transaction",
    "smtp_unmatched_end_of_data", "smtp_excessive_pending_cmds",
    "line_terminated_with_single_CR", "NUL_in_line", "contentline_size_exceeded",
}
OUT_OF_SCOPE_WEIRDS = {
    "exceeded_mime_max_header_bytes": "MIME parser (smtpmon parses no MIME)",
    "exceeded_mime_max_depth": "MIME parser (smtpmon parses no MIME)",
    "base64_illegal_encoding": "MIME base64 decoder (smtpmon parses no MIME)",
    "smtp_mail_transaction_invalid": "script-level transaction validation (smtp/main.zeek)",
    "smtp_excessive_invalid_mail_transactions": "script-level transaction validation",
    "smtp_too_many_rcptto_addresses": "script-level smtp.log address limits",
    "smtp_too_many_to_addresses": "script-level smtp.log address limits",
    "smtp_too_many_cc_addresses": "script-level smtp.log address limits",
    "smtp_max_path_length_exceeded": "script-level smtp.log path limit",
    "missing_SMTP_entity": "script-level MIME entity bookkeeping",
    "log_container_field_truncated": "Zeek's log writer",
    "log_string_field_truncated": "Zeek's log writer",
}

# (baseline directory, trace under traces/, checks). The order is the report
# order. Baselines not listed here are listed, with the reason, in
# tests/zeek/README.md.
P = "scripts.base.protocols.smtp."
BASELINES = [
    ("scripts.policy.misc.dump-events", "smtp.pcap", ["dump-text"]),
    ("scripts.policy.misc.dump-events-json", "smtp.pcap", ["dump-json", "dump-redacted"]),
    (P + "bdat", "smtp/rfc3030-bdat-example1.pcap", ["requests", "no-weird", "conn"]),
    (P + "bdat-0-last", "smtp/rfc3030-bdat-0-last.pcap", ["requests", "no-weird", "conn"]),
    (P + "bdat-multipart", "smtp/rfc3030-bdat-multipart.pcap", ["requests", "no-weird", "conn"]),
    (P + "bdat-multipart-chunked", "smtp/rfc3030-bdat-multipart-chunked.pcap",
     ["requests", "no-weird", "conn"]),
    (P + "bdat-pipeline-8bitmime", "smtp/smtp-bdat-pipeline-8bitmime.pcap",
     ["requests", "no-weird", "conn"]),
    (P + "bdat-gap", "smtp/smtp-bdat-gap.pcap", ["requests", "weird", "conn"]),
    (P + "bdat-chunk-size-overflow", "smtp/smtp-bdat-cmd-chunk-size-overflow.pcap",
     ["events", "weird"]),
    (P + "bdat-chunk-size-overflow2", "smtp/smtp-bdat-cmd-chunk-size-overflow2.pcap",
     ["events", "weird"]),
    (P + "bdat-negative-chunk-size", "smtp/smtp-bdat-cmd-negative-chunk-size.pcap",
     ["events", "weird"]),
    (P + "bdat-cmd-invalid", "smtp/smtp-bdat-cmd-invalid.pcapng", ["events", "weird"]),
    (P + "mail-transactions-invalid", "smtp-mail-transactions-invalid.pcap", ["weird"]),
    (P + "mime-header-size-limit", "smtp/mime-header-size-limit.pcap", ["weird"]),
    (P + "address-limits", "smtp/smtp-many-addresses.pcap", ["weird"]),
]


# ---------------------------------------------------------------- difference rules
class Difference:
    """One deliberate difference, tied to its numbered entry in
    docs/zeek-differences.md ("## N. Title"). It applies only if that entry
    exists with that title, and only to the narrow case its check accepts."""

    def __init__(self, number, title, what):
        self.number, self.title, self.what = number, title, what
        self.body = None  # the entry's text, once found
        self.used = []

    def allows(self, case, needle=None):
        """needle: a word the entry must name (in backquotes) for this case."""
        if self.body is None or (needle is not None and "`%s`" % needle not in self.body):
            return False
        self.used.append(case)
        return True

    def label(self):
        return "difference %d (%s)" % (self.number, self.title)


# Difference 10: smtpmon raises none of the weirds of Zeek's MIME parser and
# BDAT line splitter; a weird.log name is excused only if entry 10 names it.
MISSING_WEIRD = Difference(10, "Event details that Zeek does not have",
                           "weird.log name not raised by smtpmon")
# Difference 8: connections whose start was not seen are parsed by smtpmon and
# ignored by Zeek; a connection only we report is excused only if our own
# smtp_connection says partial.
PARTIAL_CONN = Difference(8, "Partial connections (start not seen) are parsed",
                          "connection only smtpmon reports, partial")
DIFFERENCES = [MISSING_WEIRD, PARTIAL_CONN]
_ENTRY = re.compile(r"^## (\d+)\. (.*)$", re.M)


def activate_rules(doc_path):
    try:
        with open(doc_path, encoding="utf-8") as f:
            doc = f.read()
    except OSError as e:
        return ["differences file %s: %s (no difference allowed)" % (doc_path, e.strerror)]
    heads = list(_ENTRY.finditer(doc))
    entries = {}
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(doc)
        entries[int(m.group(1))] = (m.group(2).strip(), doc[m.end():end])
    notes = []
    for d in DIFFERENCES:
        title, body = entries.get(d.number, (None, None))
        if title is not None and title.startswith(d.title):
            d.body = body
        else:
            notes.append("%s not found in %s: not applied" % (d.label(), doc_path))
    return notes


# Difference 9: without --keep-credentials, every SASL answer (`**`) argument
# is "[redacted]" and an AUTH argument keeps only its mechanism (an initial
# response becomes "[redacted]"). Zeek's events with that applied are what
# a default run must print.
REDACTION = Difference(9, "Privacy: credentials and mail text",
                       "credentials redacted by default")
DIFFERENCES.append(REDACTION)


def redact(test, ev):
    if ev["event"] != "smtp_request" or ev["command"] not in ("**", "AUTH"):
        return ev
    if ev["command"] == "**":
        arg = "[redacted]"
    else:
        mech, _, initial = ev["arg"].partition(" ")
        arg = mech + (" [redacted]" if initial else "")
    if arg != ev["arg"] and REDACTION.allows("%s %s %r" % (test, ev["command"], ev["arg"])):
        return dict(ev, arg=arg)
    return ev


# ---------------------------------------------------------------- helpers
_XNN = re.compile(r"\\x([0-9a-fA-F]{2})")


def zeek_bytes(s):
    """Zeek's and smtpmon's shared escape convention (\\xNN for control and
    invalid bytes) back to bytes, so both sides compare as raw bytes."""
    out = bytearray()
    pos = 0
    for m in _XNN.finditer(s):
        out += s[pos:m.start()].encode("utf-8")
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += s[pos:].encode("utf-8")
    return bytes(out)


def read_baseline(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    first, _, rest = text.partition("\n")
    if not first.startswith(HEADER_PREFIX):
        raise ValueError("%s: first line is not the btest header" % path)
    return rest


def tuple_key(orig_h, orig_p, resp_h, resp_p):
    return "%s:%s > %s:%s" % (orig_h, orig_p, resp_h, resp_p)


def ts_str(v):
    return TS_FMT % float(v)


class Run:
    """smtpmon's output for one trace, parsed."""

    def __init__(self, smtpmon, trace, keep_credentials=True):
        cmd = [smtpmon, "read", "--format", "json", "--events", "all"]
        cmd += ["--keep-credentials"] if keep_credentials else []
        cmd.append(trace)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                     p.stderr.decode(errors="replace").strip()))
        self.events = []
        for n, line in enumerate(p.stdout.split(b"\n")[:-1], 1):
            ev = json.loads(line.decode("utf-8", errors="strict"))
            ev["_line"] = n
            ev["_conn"] = tuple_key(ev["id.orig_h"], ev["id.orig_p"], ev["id.resp_h"],
                                    ev["id.resp_p"])
            self.events.append(ev)

    def of(self, names):
        return [e for e in self.events if e["event"] in names]


class Report:
    def __init__(self):
        self.mismatches = []
        self.notes = []
        self.checked = 0

    def mismatch(self, test, what):
        self.mismatches.append("%s: %s" % (test, what))


def show(ev):
    if ev is None:
        return "(nothing)"
    keys = [k for k in ev if not k.startswith("_") and k not in
            ("uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")]
    return "{" + ", ".join("%s=%r" % (k, ev[k]) for k in keys) + "}"


# ---------------------------------------------------------------- sequence comparison
def compare_seq(report, test, conn, expected, actual, fields):
    """expected/actual: lists of dicts, compared field by field in order;
    reports the first difference."""
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        if e is not None and a is not None and all(_eq(f, e.get(f), a.get(f)) for f in fields):
            report.checked += 1
            continue
        diff = [f for f in fields if e is None or a is None or not _eq(f, e.get(f), a.get(f))]
        report.mismatch(test, "connection %s, event #%d (smtpmon output line %s): "
                        "first difference in %s\n      expected %s\n      got      %s" %
                        (conn, i + 1, a["_line"] if a else "-", ",".join(diff),
                         show(_only(e, fields)), show(_only(a, fields))))
        return False
    return True


def _only(ev, fields):
    if ev is None:
        return None
    d = {f: ev.get(f) for f in fields}
    if "_line" in ev:
        d["_line"] = ev["_line"]
    return d


def _eq(field, x, y):
    if field == "ts":
        return x is not None and y is not None and ts_str(x) == ts_str(y)
    if isinstance(x, str) and isinstance(y, str):
        return zeek_bytes(x) == zeek_bytes(y)
    return x == y


# ---------------------------------------------------------------- dump-events
_DUMP_HEAD = re.compile(r"^(\d+\.\d+) (\S+)$")
_DUMP_ARG = re.compile(r"^ +\[(\d+)\] (\w+): (\w+) += ?(.*)$")
_CONN_ID = re.compile(r"^\[id=\[orig_h=([^,]+), orig_p=(\d+)/tcp, resp_h=([^,]+), resp_p=(\d+)/tcp")


def parse_dump_text(text):
    """smtp-events.log: an event header line `ts name`, then one line per
    argument `[i] name: type = value` (value runs to the end of the line,
    trailing blanks included), then an empty line."""
    events = []
    cur = None
    for line in text.split("\n"):
        m = _DUMP_HEAD.match(line)
        if m:
            cur = {"ts": float(m.group(1)), "event": m.group(2)}
            events.append(cur)
            continue
        m = _DUMP_ARG.match(line)
        if m and cur is not None:
            name, typ, val = m.group(2), m.group(3), m.group(4)
            if name == "c":
                cm = _CONN_ID.match(val)
                if not cm:
                    raise ValueError("unparsed connection record: %.80s" % val)
                cur["_conn"] = tuple_key(*cm.groups())
            elif typ == "bool":
                cur[name] = {"T": True, "F": False}[val]
            elif typ == "count":
                cur[name] = int(val)
            else:
                cur[name] = val
        elif line.strip() and not m:
            raise ValueError("unparsed dump line: %.80s" % line)
    return events


def parse_dump_json(text):
    """smtp-events.json: pretty-printed JSON objects one after the other."""
    dec = json.JSONDecoder()
    events, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return events
        obj, pos = dec.raw_decode(text, pos)
        args = obj["args"]
        cid = args["c"]["id"]
        ev = {"ts": obj["ts"], "event": obj["event"],
              "_conn": tuple_key(cid["orig_h"], cid["orig_p"]["port"], cid["resp_h"],
                                 cid["resp_p"]["port"])}
        for k, v in args.items():
            if k != "c":
                ev[k] = v
        events.append(ev)


DUMP_FIELDS = {
    "smtp_request": ["event", "ts", "is_orig", "command", "arg"],
    "smtp_reply": ["event", "ts", "is_orig", "code", "cmd", "msg", "cont_resp"],
    "smtp_starttls": ["event", "ts"],
}


def check_dump(report, test, expected, run):
    bad = sorted({e["event"] for e in expected} - set(DUMP_FIELDS))
    if bad:
        raise ValueError("%s: events the comparator does not know: %s" % (test, bad))
    actual = drop_partial_only(test, run, run.of(set(DUMP_FIELDS)), {e["_conn"] for e in expected})
    conns_e = _by_conn(expected)
    conns_a = _by_conn(actual)
    for conn in sorted(set(conns_e) | set(conns_a)):
        e, a = conns_e.get(conn, []), conns_a.get(conn, [])
        fields = ["event", "ts", "is_orig", "command", "arg", "code", "cmd", "msg", "cont_resp"]
        compare_seq(report, test, conn, e, a, fields)


def drop_partial_only(test, run, actual, zeek_conns):
    """Difference 8: our events of connections Zeek does not report, when our
    own summary says the connection's start was not seen. zeek_conns: the
    5-tuples Zeek reports, or None when the baseline has no 5-tuples (then
    every partial connection of ours is one Zeek would not show)."""
    partial = {ev["_conn"] for ev in run.of({"smtp_connection"}) if ev["partial"]}
    keep = []
    for ev in actual:
        if ev["_conn"] in partial and (zeek_conns is None or ev["_conn"] not in zeek_conns) \
                and PARTIAL_CONN.allows("%s %s" % (test, ev["_conn"])):
            continue
        keep.append(ev)
    return keep


def _by_conn(events):
    out = {}
    for ev in events:
        out.setdefault(ev["_conn"], []).append(ev)
    return out


# ---------------------------------------------------------------- out files
def parse_out_requests(text):
    """bdat tests: `uid, T, COMMAND, arg` per smtp_request."""
    rows = []
    for line in text.split("\n"):
        if not line:
            continue
        uid, is_orig, command, arg = line.split(", ", 3)
        rows.append({"uid": uid, "event": "smtp_request", "is_orig": _tf(is_orig),
                     "command": command, "arg": arg})
    return rows


def parse_out_events(text):
    """BDAT error tests: `smtp_request, uid, T, CMD, arg` or
    `smtp_reply, uid, F, code, cmd, msg`."""
    rows = []
    for line in text.split("\n"):
        if not line:
            continue
        name, rest = line.split(", ", 1)
        if name == "smtp_request":
            uid, is_orig, command, arg = rest.split(", ", 3)
            rows.append({"uid": uid, "event": name, "is_orig": _tf(is_orig),
                         "command": command, "arg": arg})
        elif name == "smtp_reply":
            uid, is_orig, code, cmd, msg = rest.split(", ", 4)
            rows.append({"uid": uid, "event": name, "is_orig": _tf(is_orig), "code": int(code),
                         "cmd": cmd, "msg": msg})
        else:
            raise ValueError("unknown event in out file: %r" % line)
    return rows


def _tf(s):
    return {"T": True, "F": False}[s]


def number_conns(rows, key):
    """Connection ordinal by first appearance."""
    order = {}
    for r in rows:
        order.setdefault(r[key], len(order) + 1)
        r["_ord"] = order[r[key]]
    return order


def check_out(report, test, rows, run, names, fields, uid_tuples):
    actual = drop_partial_only(test, run, run.of(names), None)
    zeek_order = number_conns(rows, "uid")
    ours_order = number_conns(actual, "_conn")
    # Where weird.log ties a uid to a 5-tuple, the numbering must agree.
    ours_by_ord = {v: k for k, v in ours_order.items()}
    for uid, n in zeek_order.items():
        if uid in uid_tuples and ours_by_ord.get(n) not in (None, uid_tuples[uid]):
            report.mismatch(test, "connection #%d is %s in Zeek (weird.log) but %s in smtpmon" %
                            (n, uid_tuples[uid], ours_by_ord.get(n)))
    for r in rows:
        r["_conn"] = uid_tuples.get(r["uid"], "#%d" % r["_ord"])
    compare_seq(report, test, "all connections (numbered in order of appearance)",
                rows, actual, ["_ord"] + fields)


# ---------------------------------------------------------------- weird.log / conn.log
def parse_zeek_log(text):
    """A Zeek TSV log, either with its `#fields` header or cut by zeek-cut -m
    (a plain first line of column names, no `#` lines)."""
    fields, rows = None, []
    for line in text.split("\n"):
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            if fields is None:
                fields = line.split("\t")
                continue
            values = line.split("\t")
            if len(values) != len(fields):
                raise ValueError("log row has %d columns, header %d" % (len(values), len(fields)))
            rows.append(dict(zip(fields, values)))
    return rows


def check_weird(report, test, rows, run):
    ours = {}
    for ev in run.of({"weird"}):
        ours.setdefault(ev["_conn"], {}).setdefault(ev["name"], ev.get("addl", "-") or "-")
    emitted = {n for d in ours.values() for n in d}
    expected = {}
    for r in rows:
        name = r["name"]
        if name not in ANALYZER_WEIRDS and name not in OUT_OF_SCOPE_WEIRDS:
            raise ValueError("%s: weird %s is in neither scope list" % (test, name))
        if name in OUT_OF_SCOPE_WEIRDS and name not in emitted:
            report.notes.append("%s: weird.log %s not compared: %s" %
                                (test, name, OUT_OF_SCOPE_WEIRDS[name]))
            continue
        conn = tuple_key(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
        expected.setdefault(conn, {}).setdefault(name, r["addl"])
    for conn in sorted(set(expected) | set(ours)):
        e, a = expected.get(conn, {}), ours.get(conn, {})
        for name in sorted(set(e) | set(a)):
            if name in e and name in a and zeek_bytes(e[name]) == zeek_bytes(a[name]):
                report.checked += 1
            elif name not in a and MISSING_WEIRD.allows("%s %s %s" % (test, conn, name), name):
                continue
            elif name not in a:
                report.mismatch(test, "connection %s: weird %s (addl %r) missing" %
                                (conn, name, e[name]))
            elif name not in e:
                report.mismatch(test, "connection %s: weird %s (addl %r) not in weird.log" %
                                (conn, name, a[name]))
            else:
                report.mismatch(test, "connection %s: weird %s addl expected %r, got %r" %
                                (conn, name, e[name], a[name]))


def check_conn(report, test, rows, run):
    summaries = {ev["_conn"]: ev for ev in run.of({"smtp_connection"})}
    for r in rows:
        conn = tuple_key(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
        s = summaries.get(conn)
        if s is None:
            report.mismatch(test, "connection %s: no smtp_connection event" % conn)
            continue
        if ts_str(s["duration"]) != ts_str(r["duration"]):
            report.mismatch(test, "connection %s: duration expected %s, got %s" %
                            (conn, r["duration"], ts_str(s["duration"])))
        else:
            report.checked += 1
        if "missed_bytes" in r:
            if int(r["missed_bytes"]) != s["missed_bytes"]:
                report.mismatch(test, "connection %s: missed_bytes expected %s, got %s" %
                                (conn, r["missed_bytes"], s["missed_bytes"]))
            else:
                report.checked += 1


# ---------------------------------------------------------------- main
def run_test(report, smtpmon, corpus, test, trace_rel, checks):
    bdir = os.path.join(corpus, "baselines", test)
    trace = os.path.join(corpus, "traces", trace_rel)
    run = Run(smtpmon, trace)
    uid_tuples = {}
    weird_rows = []
    if os.path.exists(os.path.join(bdir, "weird.log")):
        weird_rows = parse_zeek_log(read_baseline(os.path.join(bdir, "weird.log")))
        for r in weird_rows:
            if r["uid"] != "-":
                uid_tuples[r["uid"]] = tuple_key(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"],
                                                 r["id.resp_p"])
    for check in checks:
        if check == "dump-text":
            exp = parse_dump_text(read_baseline(os.path.join(bdir, "smtp-events.log")))
            twin = os.path.join(corpus, "baselines", test + "-json", "smtp-events.json")
            if os.path.exists(twin):
                _self_check(test, exp, parse_dump_json(read_baseline(twin)))
            check_dump(report, test, exp, run)
        elif check == "dump-json":
            exp = parse_dump_json(read_baseline(os.path.join(bdir, "smtp-events.json")))
            check_dump(report, test, exp, run)
        elif check == "dump-redacted":
            exp = parse_dump_json(read_baseline(os.path.join(bdir, "smtp-events.json")))
            check_dump(report, test + " (default: credentials redacted)",
                       [redact(test, e) for e in exp], Run(smtpmon, trace, False))
        elif check == "requests":
            rows = parse_out_requests(read_baseline(os.path.join(bdir, "out")))
            check_out(report, test, rows, run, {"smtp_request"},
                      ["event", "is_orig", "command", "arg"], uid_tuples)
        elif check == "events":
            rows = parse_out_events(read_baseline(os.path.join(bdir, "out")))
            check_out(report, test, rows, run, {"smtp_request", "smtp_reply"},
                      ["event", "is_orig", "command", "arg", "code", "cmd", "msg"], uid_tuples)
        elif check == "weird":
            check_weird(report, test, weird_rows, run)
        elif check == "no-weird":
            # The Zeek test asserts that no weird.log was written.
            check_weird(report, test, [], run)
        elif check == "conn":
            rows = parse_zeek_log(read_baseline(os.path.join(bdir, "conn.log.cut")))
            check_conn(report, test, rows, run)
        else:
            raise ValueError("unknown check %s" % check)


def _self_check(test, text_events, json_events):
    """The text and JSON dumps are two renderings of the same Zeek run: the
    two parsers must agree, or one of them is wrong."""
    if len(text_events) != len(json_events):
        raise ValueError("%s: text dump has %d events, JSON dump %d" %
                         (test, len(text_events), len(json_events)))
    for t, j in zip(text_events, json_events):
        for k in set(t) | set(j):
            if not _eq(k, t.get(k), j.get(k)):
                raise ValueError("%s: text and JSON dumps disagree on %s: %r vs %r" %
                                 (test, k, t.get(k), j.get(k)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smtpmon", default="build/smtpmon")
    ap.add_argument("--corpus", default="tests/data/zeek")
    ap.add_argument("--differences", default="docs/zeek-differences.md")
    ap.add_argument("--only", help="run only baselines whose name contains this")
    args = ap.parse_args()

    if not os.access(args.smtpmon, os.X_OK):
        print("compare_zeek: %s: not an executable (run make)" % args.smtpmon, file=sys.stderr)
        return 2
    report = Report()
    report.notes += activate_rules(args.differences)
    for test, trace, checks in BASELINES:
        if args.only and args.only not in test:
            continue
        before = len(report.mismatches)
        try:
            run_test(report, args.smtpmon, args.corpus, test, trace, checks)
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            report.mismatch(test, "cannot compare: %s" % e)
        status = "ok" if len(report.mismatches) == before else "MISMATCH"
        print("%-8s %s (%s: %s)" % (status, test, trace, ",".join(checks)))
    for d in DIFFERENCES:
        if d.used:
            report.notes.append("%s, %s: %s" % (d.label(), d.what, "; ".join(sorted(set(d.used)))))
    for n in report.notes:
        print("note: " + n)
    for m in report.mismatches:
        print("MISMATCH " + m)
    print("compare_zeek: %d fields/events matched, %d mismatches" %
          (report.checked, len(report.mismatches)))
    return 1 if report.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
