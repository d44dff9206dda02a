#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""postfix_log_compare.py EVENTS MAILLOG [SUBJECT] - smtpmon's smtp_transaction
records against Postfix's own log of the same run.

From Postfix's log (smtpd, cleanup, qmgr, discard lines of one instance):
  accepted messages: queue id, sender (qmgr from=<>), message-id (cleanup),
  recipients (discard to=<...> status=sent);
  refused recipients: "reject: RCPT from ...: CODE ...; from=<F> to=<T>"
  (queue id or NOQUEUE).
Checks:
  * every message Postfix accepted has exactly one record with outcome
    accepted and that queue_id, and the record's mailfrom, msg_id and
    accepted recipients (rcpt_status entries with a 2xx code) equal Postfix's;
  * every recipient Postfix refused is in a record's rcpt_status with the
    code Postfix logged, in the record of the same queue id when Postfix
    had one, else in a record with that sender;
  * SUBJECT (optional): some record's subject_decoded equals it.
Records whose queue id this Postfix never logged (another lab's TLS sessions:
the library probes see the whole host) are left out and counted.
Exit 0 when everything agrees, 1 otherwise."""
import json
import re
import sys

LINE = re.compile(r"postfix/(\w+)\[\d+\]: ([0-9A-Za-z]+): (.*)$")


def parse_log(path):
    msgs, refused = {}, []
    for line in open(path, encoding="utf-8", errors="replace"):
        m = LINE.search(line)
        if not m:
            continue
        prog, qid, rest = m.groups()
        if rest.startswith("reject: RCPT from "):
            r = re.search(r": (\d{3}) .*?; from=<([^>]*)> to=<([^>]*)>", rest)
            if r:
                refused.append((None if qid == "NOQUEUE" else qid, r.group(2), r.group(3),
                                int(r.group(1))))
            continue
        if qid == "NOQUEUE":
            continue
        msg = msgs.setdefault(qid, {"from": None, "msgid": None, "to": set(), "qmgr": False})
        if prog == "cleanup" and rest.startswith("message-id="):
            msg["msgid"] = rest[len("message-id="):].strip()
        elif prog == "qmgr" and rest.startswith("from=<"):
            msg["from"] = rest[6:rest.index(">")]
            msg["qmgr"] = True
        elif prog == "discard" and rest.startswith("to=<") and "status=sent" in rest:
            msg["to"].add(rest[4:rest.index(">")])
    return {q: m for q, m in msgs.items() if m["qmgr"]}, refused


def main():
    events, maillog = sys.argv[1], sys.argv[2]
    subject = sys.argv[3] if len(sys.argv) > 3 else None
    recs = [json.loads(l) for l in open(events, encoding="utf-8")]
    recs = [r for r in recs if r.get("event") == "smtp_transaction"]
    msgs, refused = parse_log(maillog)
    bad = 0

    def fail(text):
        nonlocal bad
        bad += 1
        print("FAIL " + text)

    by_qid = {}
    for r in recs:
        if "queue_id" in r:
            by_qid.setdefault(r["queue_id"], []).append(r)
    foreign = [q for q in by_qid if q not in msgs]
    for qid, m in sorted(msgs.items()):
        rs = by_qid.get(qid, [])
        if len(rs) != 1:
            fail("%s: %d records with this queue_id (Postfix accepted the message)" % (qid, len(rs)))
            continue
        r = rs[0]
        accepted = {s["addr"] for s in r["rcpt_status"] if 200 <= s.get("code", 0) < 300}
        got = (r["outcome"], r.get("mailfrom", ""), r.get("msg_id"), accepted)
        want = ("accepted", m["from"], m["msgid"], m["to"])
        if got != want:
            fail("%s: smtpmon %r, Postfix %r" % (qid, got, want))
        else:
            print("ok   %s: from=<%s> msg_id=%s to=%s" % (qid, m["from"], m["msgid"],
                                                        ",".join(sorted(m["to"]))))
    for qid, sender, rcpt, code in refused:
        cands = by_qid.get(qid, []) if qid else [r for r in recs if r.get("mailfrom") == sender]
        if not any(s["addr"] == rcpt and s.get("code") == code
                   for r in cands for s in r["rcpt_status"]):
            fail("refused %s (%s, from=<%s>, %d): no record has it" % (rcpt, qid or "NOQUEUE",
                                                                      sender, code))
        else:
            print("ok   refused %s with %d (%s)" % (rcpt, code, qid or "NOQUEUE"))
    if subject is not None:
        if any(r.get("subject_decoded") == subject for r in recs):
            print("ok   subject_decoded %r" % subject)
        else:
            fail("no record has subject_decoded %r (have %r)"
                 % (subject, [r.get("subject_decoded") for r in recs]))
    if foreign:
        print("note: %d record(s) with a queue id this Postfix never logged left out" % len(foreign))
    print("%d messages and %d refused recipients in Postfix's log, %d disagree"
          % (len(msgs), len(refused), bad))
    return 1 if bad or not msgs or not refused else 0


if __name__ == "__main__":
    sys.exit(main())
