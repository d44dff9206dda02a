#!/usr/bin/env python3
"""Compare smtpmon's SMTP command and reply lines with tshark's dissection of the same pcap.

usage: tshark_compare.py [--smtpmon PATH] [--ports LIST] [--min-agreement PCT] [-v] PCAP...

tshark is an independent oracle (Wireshark's own SMTP dissector). For every TCP connection,
mapped by its 4-tuple (never by index), two line sequences are compared:
  client: our smtp_request (COMMAND + " " + arg; the verb case-insensitively) against tshark's
          smtp.command_line; our SASL answers ("**" requests) against tshark's
          smtp.auth.username / smtp.auth.password; our end-of-data "." against tshark's smtp.eom.
  server: our smtp_reply lines (code, msg) against tshark's smtp.response.code with each of its
          smtp.rsp.parameter lines.
Lines are aligned with difflib. Every line only one side has must be explained by a named rule:
either a known mistake of tshark 4.0 (../shared/corpus/tshark-oracle/README.md "Where tshark
4.0 is wrong", ../shared/reference/smtp-peers.md section 1b), checked against the bytes tshark
itself saw, or a documented property of Zeek's event model. Anything else is printed as
unexplained and makes the exit status 1. The exit status is also 1 when fewer than
--min-agreement percent of all lines (explained differences included in the total) agree.

tshark runs with the preferences of the documented oracle command line (desegmentation and
out-of-order reassembly on, -d for ports 2525 and 225), with two deliberate changes:
smtp.decryption is off, so that SASL lines and 334 prompts stay as the raw base64 both sides
saw, and the output is the -J protocol tree rather than -e fields, because -e flattens the
reply parameters of several pipelined multi-line replies in one frame into one list.
"""
import argparse
import base64
import collections
import difflib
import ipaddress
import json
import os
import re
import subprocess
import sys

SERVER_PORTS_DEFAULT = "25,587,2525,225"


def tshark_cmd(pcap, ports):
    cmd = ["tshark", "-r", pcap, "-n",
           "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
           "-o", "smtp.desegment_lines:TRUE", "-o", "smtp.desegment_data:TRUE",
           "-o", "smtp.decryption:FALSE"]
    for p in ports:
        if p not in (25, 587):
            cmd += ["-d", f"tcp.port=={p},smtp"]
    cmd += ["-Y", "tcp.len > 0 || smtp", "-T", "json", "--no-duplicate-keys",
            "-J", "frame ip ipv6 tcp smtp"]
    return cmd


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def norm_addr(a):
    return str(ipaddress.ip_address(a))


def strip_eol(line):
    for eol in ("\r\n", "\n", "\r"):
        if line.endswith(eol):
            return line[: -len(eol)]
    return line


def escape_like_smtpmon(s):
    """smtpmon escapes control characters as \\xNN; tshark shows them raw. Normalise tshark's."""
    return "".join(c if c >= " " and c != "\x7f" else "\\x%02x" % ord(c) for c in s)


def split_command(line):
    """Zeek's split: the verb up to the first space/tab, the argument after spaces and tabs."""
    m = re.match(r"([^ \t]*)[ \t]*(.*)\Z", line, re.S)
    return m.group(1), m.group(2)


class Conn:
    def __init__(self, key):
        self.key = key  # (client addr, client port, server addr, server port)
        self.t_client = []  # tshark items: (kind, a, b, frame)
        self.t_server = []
        self.o_client = []  # our items: (kind, a, b)
        self.o_server = []
        self.o_unknown_cmds = []  # smtp_unexpected "unknown command" words
        self.o_rejected_data = False  # a DATA command got a reply other than 354
        self.o_bdat = False
        self.o_starttls = False
        self.o_gaps = 0
        self.client_frames = []  # (frame number, payload bytes, tshark showed commands in it)
        self.eom_frames = []


# ---------------------------------------------------------------------------------------------
# The two sides


def read_tshark(pcap, ports, conns_by_stream):
    out = subprocess.run(tshark_cmd(pcap, ports), capture_output=True)
    text = out.stdout.decode("utf-8", "surrogateescape")
    if not text.strip():
        if out.returncode != 0:
            return f"tshark failed: {out.stderr.decode(errors='replace').strip()}"
        return None
    try:
        packets = json.loads(text)
    except json.JSONDecodeError:
        # A truncated capture makes tshark stop with an error after valid packets; its JSON
        # array is then unterminated. Keep what it printed.
        packets = json.loads(text.rstrip().rstrip(",") + "]")
    for p in packets:
        L = p["_source"]["layers"]
        tcp = L.get("tcp")
        if not tcp:
            continue
        ipl = L.get("ip") or L.get("ipv6")
        if not ipl:
            continue
        if "ip" in L:
            src, dst = L["ip"]["ip.src"], L["ip"]["ip.dst"]
        else:
            src, dst = L["ipv6"]["ipv6.src"], L["ipv6"]["ipv6.dst"]
        sport, dport = int(tcp["tcp.srcport"]), int(tcp["tcp.dstport"])
        if dport in ports:
            to_server, key = True, (norm_addr(src), sport, norm_addr(dst), dport)
        elif sport in ports:
            to_server, key = False, (norm_addr(dst), dport, norm_addr(src), sport)
        else:
            continue
        stream = int(tcp["tcp.stream"])
        conn = conns_by_stream.get(stream)
        if conn is None:
            conn = conns_by_stream[stream] = Conn(key)
        frame = int(L["frame"]["frame.number"])
        smtps = as_list(L.get("smtp"))
        shown = False
        for smtp in smtps:
            if to_server:
                for line in as_list(smtp.get("smtp.command_line")):
                    verb, arg = split_command(escape_like_smtpmon(strip_eol(line)))
                    conn.t_client.append(("C", verb.upper(), arg, frame))
                    shown = True
                for f in ("smtp.auth.username", "smtp.auth.password",
                          "smtp.auth.username_password"):
                    for v in as_list(smtp.get(f)):
                        conn.t_client.append(("C", "**", escape_like_smtpmon(v), frame))
                        shown = True
                if "smtp.eom" in smtp:
                    conn.t_client.append(("C", ".", ".", frame))
                    conn.eom_frames.append(frame)
            else:
                responses = as_list(smtp.get("smtp.response"))
                trees = as_list(smtp.get("smtp.response_tree"))
                for tree in trees:
                    code = int(tree.get("smtp.response.code", -1))
                    params = as_list(tree.get("smtp.rsp.parameter")) or [""]
                    for prm in params:
                        conn.t_server.append(("S", code, escape_like_smtpmon(prm), frame))
                if len(trees) < len(responses):
                    for r in responses[len(trees):]:
                        conn.t_server.append(("S", -1, escape_like_smtpmon(strip_eol(r)), frame))
        payload = tcp.get("tcp.payload")
        if to_server and payload:
            conn.client_frames.append((frame, bytes.fromhex(payload.replace(":", "")), shown))
    return None


def read_smtpmon(smtpmon, pcap, ports):
    cmd = [smtpmon, "read", "--format", "json", "--keep-credentials",
           "--ports", ",".join(map(str, sorted(ports))),
           "--events", "smtp_request,smtp_reply,smtp_unexpected,smtp_starttls,content_gap", pcap]
    out = subprocess.run(cmd, capture_output=True)
    if out.returncode not in (0,):
        err = out.stderr.decode(errors="replace").strip().splitlines()
        # A truncated last record is reported but everything before it is kept.
        if not out.stdout:
            return None, f"smtpmon exit {out.returncode}: {err[-1] if err else ''}"
    conns = collections.OrderedDict()
    for raw in out.stdout.decode("utf-8").splitlines():
        ev = json.loads(raw)
        uid = ev["uid"]
        conn = conns.get(uid)
        if conn is None:
            key = (norm_addr(ev["id.orig_h"]), ev["id.orig_p"], norm_addr(ev["id.resp_h"]),
                   ev["id.resp_p"])
            conn = conns[uid] = Conn(key)
        kind = ev["event"]
        if kind == "smtp_request":
            if ev["command"] == "(UNKNOWN)" and ev["arg"] == "":
                continue  # Zeek's synthetic request after a gap: no wire line behind it
            conn.o_client.append(("C", ev["command"].upper(), ev["arg"]))
            if ev["command"].upper() == "BDAT":
                conn.o_bdat = True
        elif kind == "smtp_reply":
            conn.o_server.append(("S", ev["code"], ev["msg"]))
            if ev["cmd"] == "DATA" and ev["code"] != 354 and not ev["cont_resp"]:
                conn.o_rejected_data = True
        elif kind == "smtp_unexpected" and ev["msg"] == "unknown command":
            conn.o_unknown_cmds.append(ev["detail"])
        elif kind == "smtp_starttls":
            conn.o_starttls = True
        elif kind == "content_gap":
            conn.o_gaps += 1
    return list(conns.values()), None


# ---------------------------------------------------------------------------------------------
# Rules that explain a line only one side has. Each returns a reason or None.


def client_bytes_not_shown(conn):
    """The client bytes tshark dissected as something other than command lines (message data,
    DATA fragments, or segments it never finished reassembling)."""
    return b"".join(p for _, p, shown in conn.client_frames if not shown)


def line_in(data, text):
    b = text.encode("utf-8", "surrogateescape")
    return b + b"\r\n" in data or b + b"\n" in data


def wire_line(item):
    _, verb, arg = item[:3]
    return verb if not arg else f"{verb} {arg}"


def bare_lf_end_marker(conn):
    data = b"".join(p for _, p, _ in conn.client_frames)
    return re.search(rb"(?<!\r)\n\.\n", data) is not None


def split_end_marker(conn):
    frames = [p for _, p, _ in conn.client_frames]
    return any(a.endswith(b"\r\n.") and b.startswith(b"\r\n") or
               a.endswith(b"\r\n.\r") and b.startswith(b"\n")
               for a, b in zip(frames, frames[1:]))


def explain_ours_only_client(conn, item):
    """We report a client line that tshark does not show."""
    hidden = client_bytes_not_shown(conn)
    if item[1] == ".":
        if conn.o_bdat:
            return "tshark#2 DATA after BDAT not reassembled (no end of data)"
        if split_end_marker(conn):
            return "tshark#4 end-of-data marker split across segments"
        if bare_lf_end_marker(conn):
            return "tshark-bare-LF end-of-data marker (LF.LF) not recognised"
        if conn.o_rejected_data:
            return "tshark#3 DATA mode kept after a refused DATA"
        return None
    if item[1] == "**" and line_in(hidden, item[2]):
        return "tshark SASL answer shown as data (mechanism not decoded or after data)"
    if not line_in(hidden, wire_line(item)):
        return None  # tshark dissected these bytes as commands and still lacks the line
    if item[1] == "BDAT" or conn.o_bdat:
        return "tshark#1 command lines lost in a segment that carries BDAT chunk data"
    if conn.o_rejected_data:
        return "tshark#3 DATA mode entered although the server refused DATA"
    if bare_lf_end_marker(conn):
        return "tshark-bare-LF end-of-data marker (LF.LF) missed: later commands taken as data"
    if split_end_marker(conn):
        return "tshark#4 split end-of-data marker missed: later commands taken as data"
    return "tshark#1 command lines lost in a segment that also carries message data"


def explain_tshark_only_client(conn, item):
    """tshark shows a client line that we do not report as a request."""
    verb = item[1]
    for i, word in enumerate(conn.o_unknown_cmds):
        if word.upper() == verb or (verb == "" and word == ""):
            del conn.o_unknown_cmds[i]
            return "zeek-model unknown command: smtp_unexpected instead of smtp_request"
    return None


def explain_server(conn, item, ours):
    if not ours and item[1] == -1:
        return "tshark reply line without a reply code"
    return None


# ---------------------------------------------------------------------------------------------


def compare_seq(conn, ours, theirs, explain_ours, explain_theirs, result):
    a = [tuple(x[:3]) for x in ours]
    b = [tuple(x[:3]) for x in theirs]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            result["agree"] += i2 - i1
            continue
        for x in a[i1:i2]:
            record(result, conn, "ours", x, explain_ours(conn, x))
        for x in theirs[j1:j2]:
            record(result, conn, "tshark", x, explain_theirs(conn, x))


def record(result, conn, side, item, reason):
    if reason:
        result["explained"][reason] += 1
    else:
        result["unexplained"].append((conn.key, side, item))


def compare_pcap(pcap, smtpmon, ports):
    result = {"agree": 0, "explained": collections.Counter(), "unexplained": [], "error": None,
              "conns": 0}
    t_by_stream = {}
    err = read_tshark(pcap, ports, t_by_stream)
    if err:
        result["error"] = err
        return result
    ours, err = read_smtpmon(smtpmon, pcap, ports)
    if err:
        result["error"] = err
        return result

    # Pair connections by 4-tuple; a reused tuple pairs in order of appearance.
    t_by_key = collections.defaultdict(list)
    for stream in sorted(t_by_stream):
        t_by_key[t_by_stream[stream].key].append(t_by_stream[stream])
    o_by_key = collections.defaultdict(list)
    for c in ours:
        o_by_key[c.key].append(c)
    for key in list(dict.fromkeys(list(t_by_key) + list(o_by_key))):
        tl, ol = t_by_key.get(key, []), o_by_key.get(key, [])
        for i in range(max(len(tl), len(ol))):
            t = tl[i] if i < len(tl) else Conn(key)
            o = ol[i] if i < len(ol) else Conn(key)
            if not (t.t_client or t.t_server or o.o_client or o.o_server):
                continue
            result["conns"] += 1
            # Our facts and tshark's bytes meet in one object for the rules.
            t.o_unknown_cmds, t.o_rejected_data = o.o_unknown_cmds, o.o_rejected_data
            t.o_bdat, t.o_starttls, t.o_gaps = o.o_bdat, o.o_starttls, o.o_gaps
            compare_seq(t, o.o_client, t.t_client, explain_ours_only_client,
                        explain_tshark_only_client, result)
            compare_seq(t, o.o_server, t.t_server, lambda c, x: explain_server(c, x, True),
                        lambda c, x: explain_server(c, x, False), result)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pcaps", nargs="+")
    ap.add_argument("--smtpmon", default=os.path.join(os.path.dirname(__file__),
                                                      "../../build/smtpmon"))
    ap.add_argument("--ports", default=SERVER_PORTS_DEFAULT)
    ap.add_argument("--min-agreement", type=float, default=99.0)
    ap.add_argument("-v", "--verbose", action="store_true", help="list explained differences")
    a = ap.parse_args()
    ports = {int(p) for p in a.ports.split(",")}

    total = {"agree": 0, "explained": collections.Counter(), "unexplained": 0}
    failed = False
    for pcap in a.pcaps:
        r = compare_pcap(pcap, a.smtpmon, ports)
        name = os.path.relpath(pcap)
        if r["error"]:
            print(f"ERROR {name}: {r['error']}")
            failed = True
            continue
        n_expl = sum(r["explained"].values())
        lines = r["agree"] + n_expl + len(r["unexplained"])
        pct = 100.0 * r["agree"] / lines if lines else 100.0
        status = "ok  " if not r["unexplained"] else "FAIL"
        print(f"{status} {name}: {r['conns']} conns, {lines} lines, {r['agree']} agree "
              f"({pct:.1f}%), {n_expl} explained, {len(r['unexplained'])} unexplained")
        if a.verbose:
            for reason, n in sorted(r["explained"].items()):
                print(f"       {n:4d} x {reason}")
        for key, side, item in r["unexplained"]:
            print(f"       unexplained, only {side}: {key[0]}:{key[1]} -> {key[2]}:{key[3]} "
                  f"{item!r}")
        total["agree"] += r["agree"]
        total["explained"].update(r["explained"])
        total["unexplained"] += len(r["unexplained"])
        failed |= bool(r["unexplained"])

    n_expl = sum(total["explained"].values())
    lines = total["agree"] + n_expl + total["unexplained"]
    pct = 100.0 * total["agree"] / lines if lines else 100.0
    print(f"TOTAL {len(a.pcaps)} pcaps: {lines} lines, {total['agree']} agree ({pct:.2f}%), "
          f"{n_expl} explained, {total['unexplained']} unexplained")
    for reason, n in sorted(total["explained"].items()):
        print(f"  {n:5d} x {reason}")
    if lines and pct < a.min_agreement:
        print(f"agreement {pct:.2f}% is below {a.min_agreement}%")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
