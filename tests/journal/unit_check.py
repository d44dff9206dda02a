# SPDX-License-Identifier: GPL-2.0-only
"""unit_check.py - test_unit.sh's checks of one daemon's journal entries against its JSON
output and against the lab clients' own transcripts.

  unit_check.py same JOURNAL_JSON EVENTS_JSON
      the journal entries (`journalctl -o json` lines) are those journal_spec.py expects for
      the events of the JSON output (a file of JSON lines): one per event, one per reply
      however many lines, with the same SMTP_* fields and no other (SMTP_ + the key
      upper-cased without "id.", strings equal, numbers and booleans as their JSON text);
      each entry from smtpmon.service, SYSLOG_IDENTIFIER=smtpmon, one MESSAGE_ID per event
      type, PRIORITY by meaning (journal_spec.priority)
  unit_check.py session EVENTS_JSON TRANSCRIPT
      the events of the transcript's connection (by client port) are one connection (one
      uid), its requests and replies are the transcript's, in order, those after STARTTLS
      marked as from inside TLS (one smtp_starttls before them), it has one
      smtp_connection summary and no smtp_unexpected or content_gap
  unit_check.py absent EVENTS_JSON TRANSCRIPT
      no event of the transcript's connection at all
  unit_check.py subject JOURNAL_JSON_LINE CATALOG
      the catalog's Subject for the entry's MESSAGE_ID, @FIELD@s replaced by its values
Exit status 1 with the differences on stdout when a check fails.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from journal_spec import expected, priority  # noqa: E402


def field_value(v):
    # journalctl -o json: a byte array for a value that is not plain text, an array of values
    # for a field the entry repeats (the recipients of a transaction)
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return bytes(v).decode("utf-8", "backslashreplace")
    if isinstance(v, list):
        return [field_value(x) for x in v]
    return v


def load_lines(path, **kw):
    return [json.loads(l, **kw) for l in open(path) if l.strip()]


def events(path):
    # numbers kept as their JSON text: 1732640000.123456 must not become a float
    return load_lines(path, parse_float=str, parse_int=str)


def same(journal_path, events_path):
    entries = [e for e in load_lines(journal_path) if "SMTP_EVENT" in e]
    problems = []
    # Entries compared as JSON text: a field is a string in one entry and a list in another.
    want = sorted((sorted(e["fields"].items()) for e in expected(events(events_path))),
                  key=json.dumps)
    got = sorted((sorted((k, field_value(v)) for k, v in e.items() if k.startswith("SMTP_"))
                  for e in entries), key=json.dumps)
    if want != got:
        missing = [w for w in want if w not in got]
        extra = [g for g in got if g not in want]
        problems.append("%d JSON events, %d journal entries; not in the journal: %s; "
                        "not in the JSON: %s" % (len(want), len(got), missing[:3], extra[:3]))
    ids = {}
    for e in entries:
        ev = e["SMTP_EVENT"]
        prio = priority({k: field_value(v) for k, v in e.items()})
        if e.get("PRIORITY") != prio:
            problems.append("%s: PRIORITY %s, want %s" % (ev, e.get("PRIORITY"), prio))
        if e.get("_SYSTEMD_UNIT") != "smtpmon.service" or e.get("SYSLOG_IDENTIFIER") != "smtpmon":
            problems.append("%s: unit %s, identifier %s" % (ev, e.get("_SYSTEMD_UNIT"),
                                                          e.get("SYSLOG_IDENTIFIER")))
        ids.setdefault(ev, set()).add(e.get("MESSAGE_ID"))
    for ev, s in ids.items():
        if len(s) != 1 or None in s:
            problems.append("%s: MESSAGE_IDs %s" % (ev, s))
    if len({next(iter(s)) for s in ids.values()}) != len(ids):
        problems.append("two event types share a MESSAGE_ID: %s" % ids)
    if not entries:
        problems.append("no journal entry with SMTP_EVENT")
    return problems, "%d journal entries equal the %d JSON events" % (len(got), len(want))


def of_connection(events_path, transcript):
    return [e for e in events(events_path)
            if e["id.orig_p"] == str(transcript["orig_p"]) and
            e["id.resp_p"] == str(transcript["resp_p"])]


def session(events_path, transcript_path):
    t = json.load(open(transcript_path))
    evs = of_connection(events_path, t)
    # the last item: the line came from inside TLS (the event's "tls": true)
    requests = [[e["command"], e["arg"], e.get("tls") is True]
                for e in evs if e["event"] == "smtp_request"]
    replies = [[int(e["code"]), e["cmd"], e["msg"], e["cont_resp"], e.get("tls") is True]
               for e in evs if e["event"] == "smtp_reply"]
    problems = []
    starttls = [e for e in evs if e["event"] == "smtp_starttls"]
    if len(starttls) != any(r[-1] for r in t["requests"]):
        problems.append("%d smtp_starttls events" % len(starttls))
    if requests != t["requests"]:
        problems.append("requests %s, want %s" % (requests, t["requests"]))
    if replies != t["replies"]:
        problems.append("replies %s, want %s" % (replies, t["replies"]))
    uids = {e["uid"] for e in evs}
    if len(uids) != 1:
        problems.append("uids %s" % uids)
    kinds = [e["event"] for e in evs]
    if kinds.count("smtp_connection") != 1:
        problems.append("%d smtp_connection summaries" % kinds.count("smtp_connection"))
    bad = [e for e in evs if e["event"] in ("smtp_unexpected", "content_gap")]
    if bad:
        problems.append("anomalies: %s" % bad)
    return problems, "port %s -> %s: %d requests, %d replies, one uid, one summary" % (
        t["orig_p"], t["resp_p"], len(requests), len(replies))


def absent(events_path, transcript_path):
    t = json.load(open(transcript_path))
    evs = of_connection(events_path, t)
    return (["%d events of port %s -> %s" % (len(evs), t["orig_p"], t["resp_p"])] if evs else [],
            "no event of port %s -> %s" % (t["orig_p"], t["resp_p"]))


def subject(entry_path, catalog_path):
    entry = load_lines(entry_path)[-1]
    text = open(catalog_path).read()
    m = re.search(r"^-- %s\n(?:.*\n)*?Subject: (.*)$" % entry["MESSAGE_ID"], text, re.M)
    if not m:
        return ["no catalog entry for %s" % entry["MESSAGE_ID"]], ""
    line = re.sub(r"@([A-Z0-9_]+)@", lambda f: field_value(entry.get(f.group(1), "")), m.group(1))
    print(line)
    return [], None


if __name__ == "__main__":
    problems, summary = {"same": same, "session": session, "absent": absent,
                         "subject": subject}[sys.argv[1]](*sys.argv[2:])
    for p in problems:
        print(p)
    if summary and not problems:
        print(summary)
    sys.exit(1 if problems else 0)
