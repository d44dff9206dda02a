#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""compare_smtp_log.py - smtpmon's smtp.log (--output zeek:DIR) against
Zeek's smtp.log baselines, record by record, field by field.

For every (baseline, trace) of BASELINES: run
    smtpmon read -q --output zeek:TMP [--ports P] TRACE
read TMP/smtp.log (Zeek's JSON log format) and compare with the baseline's
TSV smtp.log:
  * types: every key of every JSON line is one of the baseline's #fields and
    its JSON value has that field's #types type;
  * records: connections matched by 5-tuple, records in order within a
    connection, same number of records;
  * fields: every field but ts (masked in the baselines) and uid (Zeek's
    random uids); sets (rcptto, to, cc) as sets, vectors (path) in order,
    fuids by count (file ids are Zeek's random ids); strings as bytes after
    undoing Zeek's \\xNN escapes.
No difference is allowed: every compared field must be equal. What smtpmon
does differently from Zeek's smtp.log (and why it does not show in these
baselines, or is outside the comparison) is in docs/zeek-differences.md.

Exit status: 0 all match, 1 mismatches, 2 usage or setup error.
"""
import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

P = "scripts.base.protocols.smtp."
# (baseline directory, trace under traces/, extra smtpmon arguments)
BASELINES = [
    (P + "basic", "smtp.pcap", []),
    (P + "attachment", "smtp.pcap", []),
    (P + "attachment-msg", "smtp-attachment-msg.pcap", []),
    (P + "one-side", "smtp-one-side-only.pcap", []),
    (P + "starttls", "tls/smtp-starttls.pcap", []),
    (P + "mail-transactions-invalid", "smtp-mail-transactions-invalid.pcap", []),
    (P + "bdat", "smtp/rfc3030-bdat-example1.pcap", []),
    (P + "bdat-0-last", "smtp/rfc3030-bdat-0-last.pcap", []),
    (P + "bdat-multipart", "smtp/rfc3030-bdat-multipart.pcap", []),
    (P + "bdat-multipart-chunked", "smtp/rfc3030-bdat-multipart-chunked.pcap", []),
    (P + "bdat-pipeline-8bitmime", "smtp/smtp-bdat-pipeline-8bitmime.pcap", []),
    (P + "bdat-gap", "smtp/smtp-bdat-gap.pcap", []),
    (P + "bdat-chunk-size-overflow", "smtp/smtp-bdat-cmd-chunk-size-overflow.pcap", []),
    (P + "bdat-chunk-size-overflow2", "smtp/smtp-bdat-cmd-chunk-size-overflow2.pcap", []),
    (P + "bdat-negative-chunk-size", "smtp/smtp-bdat-cmd-negative-chunk-size.pcap", []),
    (P + "bdat-cmd-invalid", "smtp/smtp-bdat-cmd-invalid.pcapng", []),
    ("scripts.base.protocols.http.http-connect", "http/connect-with-smtp.pcap",
     ["--ports", "8240"]),
]

SETS = {"rcptto", "to", "cc"}
TYPE_CHECK = {
    "time": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "interval": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "port": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 65536,
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "addr": lambda v: isinstance(v, str) and _is_addr(v),
}


def _is_addr(v):
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def type_ok(ztype, v):
    m = re.match(r"^(set|vector)\[(\w+)\]$", ztype)
    if m:
        return isinstance(v, list) and all(TYPE_CHECK[m.group(2)](x) for x in v)
    return TYPE_CHECK[ztype](v)


def unescape(s):
    """Zeek's \\xNN escapes back to bytes (both sides use them)."""
    out = bytearray()
    b = s.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(b):
        if b[i:i + 2] == b"\\x" and re.match(rb"[0-9a-fA-F]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def parse_baseline(path):
    fields, types, rows = None, None, []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("### ") or not line:
                continue
            if line.startswith("#fields\t"):
                fields = line.split("\t")[1:]
            elif line.startswith("#types\t"):
                types = line.split("\t")[1:]
            elif line.startswith("#"):
                continue
            else:
                rows.append(dict(zip(fields, line.split("\t"))))
    return fields, dict(zip(fields, types)), rows


def zeek_value(ztype, text):
    """A TSV value as the JSON log would have it (None: unset)."""
    if text == "-":
        return None
    if ztype.startswith(("set[", "vector[")):
        return [] if text == "(empty)" else text.split(",")
    if ztype == "bool":
        return text == "T"
    if ztype in ("count", "port"):
        return int(text)
    return text


def norm(field, ztype, v):
    if v is None:
        return None
    if field == "fuids":
        return len(v)
    if isinstance(v, list):
        vals = [unescape(x) if isinstance(x, str) else x for x in v]
        return sorted(vals) if field in SETS else vals
    if ztype == "addr":
        return str(ipaddress.ip_address(v))
    if isinstance(v, str):
        return unescape(v)
    return v


def key(rec):
    return (str(ipaddress.ip_address(rec["id.orig_h"])), int(rec["id.orig_p"]),
            str(ipaddress.ip_address(rec["id.resp_h"])), int(rec["id.resp_p"]))


def compare(name, fields, types, base_rows, ours, report):
    ok = True
    for n, rec in enumerate(ours):
        for k, v in rec.items():
            if k not in types:
                report("MISMATCH %s: line %d: field %s is not in Zeek's #fields" % (name, n + 1, k))
                ok = False
            elif not type_ok(types[k], v):
                report("MISMATCH %s: line %d: %s=%r is not a %s" % (name, n + 1, k, v, types[k]))
                ok = False
    by_conn_z, by_conn_o = {}, {}
    for r in base_rows:
        by_conn_z.setdefault(key(r), []).append(r)
    for r in ours:
        by_conn_o.setdefault(key(r), []).append(r)
    for conn in sorted(set(by_conn_z) | set(by_conn_o)):
        zs, os_ = by_conn_z.get(conn, []), by_conn_o.get(conn, [])
        if len(zs) != len(os_):
            report("MISMATCH %s: %s: %d records, Zeek %d" % (name, conn, len(os_), len(zs)))
            ok = False
            continue
        for i, (z, o) in enumerate(zip(zs, os_)):
            for f in fields:
                if f in ("ts", "uid"):
                    continue
                zv = norm(f, types[f], zeek_value(types[f], z[f]))
                ov = norm(f, types[f], o.get(f))
                if zv == ov:
                    continue
                report("MISMATCH %s: %s record %d: %s: smtpmon %r, Zeek %r"
                       % (name, conn, i + 1, f, ov, zv))
                ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smtpmon", required=True)
    ap.add_argument("--corpus", required=True)
    a = ap.parse_args()
    lines = []
    report = lines.append
    all_ok = True
    for base, trace, extra in BASELINES:
        bpath = os.path.join(a.corpus, "baselines", base, "smtp.log")
        tpath = os.path.join(a.corpus, "traces", trace)
        if not os.path.exists(bpath) or not os.path.exists(tpath):
            print("compare_smtp_log: missing %s or %s" % (bpath, tpath), file=sys.stderr)
            return 2
        fields, types, rows = parse_baseline(bpath)
        with tempfile.TemporaryDirectory() as d:
            cmd = [a.smtpmon, "read", "-q", "--output", "zeek:" + d] + extra + [tpath]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode != 0:
                print("compare_smtp_log: %s: exit %d: %s" % (" ".join(cmd), r.returncode,
                      r.stderr.decode(errors="replace")), file=sys.stderr)
                return 2
            ours = []
            with open(os.path.join(d, "smtp.log"), encoding="utf-8") as f:
                for line in f:
                    ours.append(json.loads(line))
        n0 = len(lines)
        ok = compare(base, fields, types, rows, ours, report)
        all_ok &= ok
        print("%s %s (%d records)" % ("ok  " if ok else "FAIL", base, len(rows)))
        for line in lines[n0:]:
            print("  " + line)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
