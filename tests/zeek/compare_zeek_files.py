#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""compare_zeek_files.py - smtpmon's file events against Zeek's files.log
baselines and file-analysis outputs (tests/data/zeek/baselines).

For every baseline below, run

    smtpmon read --format json --file-hashes md5,sha1,sha256 TRACE

and compare, file by file in order, every field the baseline has:

  files.log   scripts.base.protocols.smtp.attachment: the whole record
              (connection, source, depth, mime_type, filename, duration,
              is_orig, seen/total/missing/overflow bytes, timedout,
              parent_fuid).
  cut         files.log.cut of the BDAT tests: the columns they keep (uid,
              source, depth, mime_type, filename, sha1, missing_bytes).
  analysis    scripts.base.frameworks.file-analysis.smtp/out: for each SMTP
              file, seen and missing bytes, MIME type, MD5, SHA1, SHA256.
  length      scripts.base.files.mime.mime-content-hash*/out: the decoded
              length of each message (Zeek's content hash covers all its
              files: the sum of their seen_bytes).
  rfc822      files.cut of the rfc822-msg-file-analysis tests (Zeek's
              whole-message option on; smtpmon read --message-files yes):
              every file, the whole message's included (type, seen and
              missing bytes, its sha1), and each part's parent_fuid.

Zeek's uids and fuids cannot be reproduced: uids are matched in order of
first appearance, fuids are checked for shape and uniqueness. Differences are
allowed only through DIFFERENCES, each naming its entry in
docs/zeek-differences.md (an entry missing there is not applied); every use
is printed as a note. Exit status: 0 all match, 1 mismatches, 2 setup error.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HEADER_PREFIX = "### BTest baseline data"
P = "scripts.base.protocols.smtp."
BASELINES = [
    (P + "attachment", "files.log", "smtp.pcap", "files.log"),
    (P + "bdat-gap", "files.log.cut", "smtp/smtp-bdat-gap.pcap", "cut"),
    (P + "bdat-multipart", "files.log.cut", "smtp/rfc3030-bdat-multipart.pcap", "cut"),
    (P + "bdat-multipart-chunked", "files.log.cut", "smtp/rfc3030-bdat-multipart-chunked.pcap",
     "cut"),
    (P + "bdat-pipeline-8bitmime", "files.log.cut", "smtp/smtp-bdat-pipeline-8bitmime.pcap",
     "cut"),
    ("scripts.base.frameworks.file-analysis.smtp", "out", "smtp.pcap", "analysis"),
    ("scripts.base.files.mime.mime-content-hash", "out", "smtp.pcap", "length"),
    ("scripts.base.files.mime.mime-content-hash-2", "out", "smtp.pcap", "length"),
    ("scripts.base.files.mime.mime-content-hash-3", "out", "smtp.pcap", "length"),
    (P + "rfc822-msg-file-analysis", "files.cut", "smtp-attachment-msg.pcap", "rfc822"),
    (P + "rfc822-msg-file-analysis-binary", "files.cut", "smtp/rfc3030-bdat-nonascii.pcap",
     "rfc822"),
    (P + "rfc822-msg-file-analysis-gap", "files.cut", "smtp/smtp-bdat-gap.pcap", "rfc822"),
    (P + "rfc822-msg-file-analysis-multi-mail", "files.cut",
     "smtp/smtp-bdat-pipeline-8bitmime.pcap", "rfc822"),
    (P + "rfc822-msg-file-analysis-multi-session", "files.cut", "smtp.pcap", "rfc822"),
]

# Allowed differences: entry title in docs/zeek-differences.md -> what it
# covers. Each is applied only where the code below names it.
DIFFERENCES = {
    "file-framework": "F1. Fields of Zeek's file framework that smtpmon does not have",
    "whole-message": "F2. The whole-message file after a gap (`--message-files`)",
}

FUID_RE = re.compile(r"^F[0-9A-Za-z]{17}$")


class Report:
    def __init__(self, known_entries):
        self.matched = 0
        self.mismatches = []
        self.notes = {}
        self.known = known_entries

    def allowed(self, key, what):
        title = DIFFERENCES[key]
        if title not in self.known:
            return False
        self.notes.setdefault(title, []).append(what)
        return True

    def check(self, where, field, want, got):
        if want == got:
            self.matched += 1
        else:
            self.mismatches.append("MISMATCH %s %s: zeek %r, smtpmon %r" % (where, field, want, got))


def read_baseline(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[0].startswith(HEADER_PREFIX):
        lines = lines[1:]
    return [l for l in lines if l != ""]


def table(lines):
    """A Zeek TSV log (#fields header) or a zeek-cut table (first line: names)."""
    fields, rows = None, []
    for l in lines:
        if l.startswith("#fields"):
            fields = l.split("\t")[1:]
        elif l.startswith("#"):
            continue
        elif fields is None:
            fields = l.rstrip("\t").split("\t")
        else:
            rows.append(dict(zip(fields, l.split("\t"))))
    return fields or [], rows


def run_smtpmon(smtpmon, trace, extra=()):
    out = subprocess.run([smtpmon, "read", "-q", "--format", "json", "--file-hashes",
                          "md5,sha1,sha256", *extra, trace], stdout=subprocess.PIPE,
                         check=False)
    if out.returncode != 0:
        sys.exit("compare_zeek_files: %s %s: exit %d" % (smtpmon, trace, out.returncode))
    files = []
    for line in out.stdout.decode("utf-8").splitlines():
        e = json.loads(line)
        if e.get("event") == "file":
            files.append(e)
    return files


def zeek_value(e, key):
    """Our event's field as Zeek's log text."""
    v = e.get(key)
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "T" if v else "F"
    if key == "duration":
        return "%.6f" % v
    return str(v)


def uid_map(report, where, zeek_uids, files):
    ours = []
    for f in files:
        if f["uid"] not in ours:
            ours.append(f["uid"])
    order = []
    for u in zeek_uids:
        if u not in order:
            order.append(u)
    report.check(where, "connections with files", len(order), len(ours))
    return dict(zip(order, ours))


def check_fuids(report, where, files):
    fuids = [f["fuid"] for f in files]
    report.check(where, "fuid shape", True, all(FUID_RE.match(x) for x in fuids))
    report.check(where, "fuid unique", len(fuids), len(set(fuids)))


def compare_rows(report, where, rows, files, columns):
    report.check(where, "files", len(rows), len(files))
    umap = uid_map(report, where, [r["uid"] for r in rows if "uid" in r], files)
    for i, (row, f) in enumerate(zip(rows, files)):
        at = "%s file %d" % (where, i + 1)
        for col in columns:
            if col not in row:
                continue
            want = row[col]
            if col == "ts":
                continue  # masked in the baselines
            if col == "uid":
                report.check(at, col, umap.get(want), f["uid"])
            elif col == "fuid":
                continue  # checked for shape and uniqueness
            elif col in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"):
                report.check(at, col, want, zeek_value(f, col))
            elif col in ("analyzers", "local_orig", "total_bytes", "overflow_bytes"):
                if zeek_value(f, col) != want and report.allowed(
                        "file-framework", "%s %s=%s" % (at, col, want)):
                    continue
                report.check(at, col, want, zeek_value(f, col))
            else:
                report.check(at, col, want, zeek_value(f, col))
    check_fuids(report, where, files)


def compare_analysis(report, where, lines, files):
    """Blocks from FILE_NEW to the next one: 'file #N, seen, missing' at
    FILE_STATE_REMOVE, MIME_TYPE, source, digests."""
    blocks, cur, prev = [], None, None
    for l in lines:
        if l == "FILE_NEW":
            cur = {}
            blocks.append(cur)
        elif cur is not None:
            m = re.match(r"^file #\d+, (\d+), (\d+)$", l)
            if m and prev == "FILE_STATE_REMOVE":
                cur["seen_bytes"], cur["missing_bytes"] = m.group(1), m.group(2)
            elif prev == "MIME_TYPE":
                cur["mime_type"] = l
            elif l.startswith("source: "):
                cur["source"] = l[8:]
            for h in ("MD5", "SHA1", "SHA256"):
                if l.startswith(h + ": "):
                    cur[h.lower()] = l[len(h) + 2:]
        prev = l
    smtp = [b for b in blocks if b.get("source") == "SMTP"]
    report.check(where, "files", len(smtp), len(files))
    for i, (b, f) in enumerate(zip(smtp, files)):
        for k in ("seen_bytes", "missing_bytes", "mime_type", "md5", "sha1", "sha256"):
            report.check("%s file %d" % (where, i + 1), k, b.get(k, "-"), zeek_value(f, k))


def compare_length(report, where, lines, files):
    """'mime_content_hash, uid, length, digest': one per message."""
    per_conn = {}
    for f in files:
        key = (f["uid"], f["trans_depth"])
        per_conn[key] = per_conn.get(key, 0) + f["seen_bytes"]
    ours = list(per_conn.values())
    # mime-content-hash-3 prints both digests per message: one name counts
    name = lines[0].split(",")[0] if lines else ""
    want = [int(l.split(",")[2]) for l in lines if l.split(",")[0] == name]
    report.check(where, "messages", len(want), len(ours))
    for i, (w, o) in enumerate(zip(want, ours)):
        report.check("%s message %d" % (where, i + 1), "decoded length", w, o)


def compare_rfc822(report, where, rows, files):
    """Every file, the whole message's (message/rfc822, logged after its parts)
    included; parent_fuid through the files' order; sha1 where Zeek's test
    computed one (the whole message's only)."""
    # After a gap Zeek logs no file for the next message's part and counts
    # its bytes in that message's file (smtp-bdat-gap: 86 = 78 + 8; without
    # the option bdat-gap's files.log has the part).
    if len(files) > len(rows) and where.endswith("-gap"):
        gap_at = next((i for i, f in enumerate(files) if f.get("missing_bytes")), None)
        part = next((i for i, f in enumerate(files)
                     if gap_at is not None and i > gap_at + 1
                     and f.get("parent_fuid")), None)
        if part is not None and report.allowed(
                "whole-message", "%s: the part after the gap (%d bytes) counted in its message's"
                " file" % (where, files[part]["seen_bytes"])):
            files = [dict(f) for f in files]
            for f in files:
                if f["fuid"] == files[part]["parent_fuid"]:
                    f["seen_bytes"] += files[part]["seen_bytes"]
            del files[part]
    compare_rows(report, where, rows, files, ["uid", "mime_type", "seen_bytes", "missing_bytes"])
    ours = {r["fuid"]: f["fuid"] for r, f in zip(rows, files) if "fuid" in r}
    for i, (r, f) in enumerate(zip(rows, files)):
        at = "%s file %d" % (where, i + 1)
        if "parent_fuid" in r:
            report.check(at, "parent_fuid", ours.get(r["parent_fuid"], r["parent_fuid"]),
                         f.get("parent_fuid", "-"))
        if r.get("sha1", "-") != "-":
            report.check(at, "sha1", r["sha1"], zeek_value(f, "sha1"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smtpmon", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--differences", required=True)
    args = ap.parse_args()
    with open(args.differences, encoding="utf-8") as f:
        known = f.read()
    report = Report(known)
    for test, name, trace, kind in BASELINES:
        path = os.path.join(args.corpus, "baselines", test, name)
        trace_path = os.path.join(args.corpus, "traces", trace)
        if not os.path.exists(path) or not os.path.exists(trace_path):
            sys.exit("compare_zeek_files: missing %s or %s" % (path, trace_path))
        lines = read_baseline(path)
        files = run_smtpmon(args.smtpmon, trace_path,
                            ("--message-files", "yes") if kind == "rfc822" else ())
        before = len(report.mismatches)
        if kind in ("files.log", "cut"):
            fields, rows = table(lines)
            compare_rows(report, test, rows, files, fields)
        elif kind == "analysis":
            compare_analysis(report, test, lines, files)
        elif kind == "length":
            compare_length(report, test, lines, files)
        else:
            fields, rows = table(lines)
            compare_rfc822(report, test, rows, files)
        print("%-8s %s (%s: %s)" % ("ok" if len(report.mismatches) == before else "FAIL", test,
                                      trace, kind))
    for m in report.mismatches:
        print(m)
    for title, uses in report.notes.items():
        print("note: difference %s: %s" % (title, "; ".join(uses)))
    print("compare_zeek_files: %d fields matched, %d mismatches" %
          (report.matched, len(report.mismatches)))
    return 1 if report.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
