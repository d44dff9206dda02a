# SPDX-License-Identifier: GPL-2.0-only
r"""journal_spec.py - what the journal output sends for a stream of JSON events, written out
from the contract in user/output/out_journal.c rather than taken from the code; shared by
test_journal.sh and unit_check.py.

expected(events, texts=None) -> list of dicts, one per journal entry, in order:
  "fields"   the SMTP_* fields (values as journalctl -o json shows them)
  "priority" the PRIORITY digit
  "event"    the event name
  "message"  the whole MESSAGE before the 256-byte cut (only when texts, the text sink's
             lines of the same events, are given)
Rules: smtp_data is never sent; the lines of a multi-line reply (cont_resp true) are held per
connection (uid) until its last line and sent as one smtp_reply entry with the last line's
fields, SMTP_MSG the lines joined by " " (reply to EHLO: the first line, and
SMTP_CAPABILITIES the others joined by ", "), SMTP_LINES; a connection that ends, or input
that ends, inside a multi-line reply sends what came with SMTP_CONT_RESP=true first.
PRIORITY: 4 for 5xx replies, smtp_unexpected, content_gap, weird and evictions; 5 for 4xx
replies; 6 for everything else.
Values: the JSON value decoded, except that the characters the JSON output writes as \u
escapes (C1 controls, U+2028/U+2029, bidirectional controls, noncharacters) are written as
those escapes (a surrogate pair above U+FFFF); a field whose NAME=value is over 4095 bytes
has its value cut between two characters or escapes (\xNN, \uXXXX, two backslashes) so that
NAME=value with "…" appended is 4095 bytes or fewer.
"""
import re

WARNING = {"smtp_unexpected", "content_gap", "weird"}
REPLY_HEAD = re.compile(r" smtp_reply \S+ \d+")


FIELD_MAX = 4095  # bytes of NAME=value: journalctl -o json shows longer ones as null


def unsafe(c):
    o = ord(c)
    return (0x80 <= o <= 0x9f or o in (0x61c, 0x200e, 0x200f) or 0x2028 <= o <= 0x202e or
            0x2066 <= o <= 0x2069 or 0xfdd0 <= o <= 0xfdef or o & 0xfffe == 0xfffe)


def u_escape(c):
    o = ord(c)
    if o <= 0xffff:
        return "\\u%04x" % o
    o -= 0x10000
    return "\\u%04x\\u%04x" % (0xd800 | o >> 10, 0xdc00 | (o & 0x3ff))


def visible(s):
    return "".join(u_escape(c) if unsafe(c) else c for c in s)


ESCAPE_OR_CHAR = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\\\|.", re.S | re.I)


def capped(name, v):
    if len(name) + 1 + len(v.encode()) <= FIELD_MAX:
        return v
    out, n = [], len(name) + 1
    for tok in ESCAPE_OR_CHAR.findall(v):
        n += len(tok.encode())
        if n > FIELD_MAX - 3:
            break
        out.append(tok)
    return "".join(out) + "…"


def json_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return visible(v) if isinstance(v, str) else str(v)


def finish(fields):
    """Every value capped as the journal sink caps it."""
    return {k: [capped(k, x) for x in v] if isinstance(v, list) else capped(k, v)
            for k, v in fields.items()}


def priority(fields):
    ev = fields["SMTP_EVENT"]
    if ev in WARNING or (ev == "smtp_connection" and fields.get("SMTP_END") == "eviction"):
        return "4"
    if ev == "smtp_reply":
        code = int(fields["SMTP_CODE"])
        if 500 <= code <= 599:
            return "4"
        if 400 <= code <= 499:
            return "5"
    return "6"


def fields_of(ev):
    if ev["event"] == "smtp_transaction":
        return transaction_fields(ev)
    return {"SMTP_" + k.replace("id.", "", 1).upper(): json_text(v) for k, v in ev.items()}


def transaction_fields(ev):
    """smtp_transaction: SMTP_MSGID for msg_id; a list is one field joined by ','; one
    SMTP_RCPT (address) and one SMTP_RCPT_STATUS ("address code text") per recipient,
    which journalctl -o json shows as a string for one and a list for several."""
    want = {}
    for k, v in ev.items():
        name = "SMTP_MSGID" if k == "msg_id" else "SMTP_" + k.replace("id.", "", 1).upper()
        if k == "rcpt_status":
            one = lambda x: x[0] if len(x) == 1 else x
            if v:
                want["SMTP_RCPT"] = one([visible(r["addr"]) for r in v])
                want["SMTP_RCPT_STATUS"] = one(
                    [visible(r["addr"] + (" %s %s" % (r["code"], r["text"]) if "code" in r else ""))
                     for r in v])
        elif isinstance(v, list):
            if v:
                want[name] = ",".join(visible(x) for x in v)
        else:
            want[name] = json_text(v)
    return want


def reply_text(text):
    """The text sink's line of a reply: (line up to and with the code, the message text)."""
    m = REPLY_HEAD.search(text)
    return text[:m.end()], text[m.end() + 1:]


def expected(events, texts=None):
    out, pending = [], {}
    if texts is None:
        texts = [None] * len(events)

    def single(ev, text):
        f = finish(fields_of(ev))
        e = {"fields": f, "priority": priority(f), "event": ev["event"]}
        if text is not None:
            e["message"] = text.split(" ", 1)[1]
        out.append(e)

    def joined(uid, complete):
        lines = pending.pop(uid)
        if len(lines) == 1 and complete:
            return single(*lines[0])
        last, last_text = lines[-1]
        f = fields_of(last)
        msgs = [json_text(ev["msg"]) for ev, _ in lines]
        ehlo = last["cmd"].upper() == "EHLO"
        f["SMTP_MSG"] = msgs[0] if ehlo and len(lines) > 1 else " ".join(msgs)
        if ehlo and len(lines) > 1:
            f["SMTP_CAPABILITIES"] = ", ".join(msgs[1:])
        f["SMTP_CONT_RESP"] = "false" if complete else "true"
        if len(lines) > 1:
            f["SMTP_LINES"] = str(len(lines))
        f = finish(f)
        e = {"fields": f, "priority": priority(f), "event": "smtp_reply"}
        if last_text is not None:
            head, _ = reply_text(last_text.split(" ", 1)[1])
            if not complete:  # the text sink's form of a line with more to come
                head += "-"
            texts_ = [reply_text(t)[1] for _, t in lines]
            body = texts_[0] if ehlo and len(lines) > 1 else " ".join(texts_)
            msg = head + ("" if not complete else " " if body else "") + body
            if ehlo and len(lines) > 1:
                msg += " capabilities: " + ", ".join(texts_[1:])
            e["message"] = msg
        out.append(e)

    for ev, text in zip(events, texts):
        kind, uid = ev["event"], ev.get("uid")
        if kind == "smtp_data":
            continue
        if kind == "smtp_reply":
            if uid in pending or json_text(ev["cont_resp"]) == "true":
                pending.setdefault(uid, []).append((ev, text))
                if json_text(ev["cont_resp"]) != "true":
                    joined(uid, True)
                continue
        if kind == "smtp_connection" and uid in pending:
            joined(uid, False)
        single(ev, text)
    for uid in list(pending):
        joined(uid, False)
    return out
