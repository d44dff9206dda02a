#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compare smtpmon's SMTP command and reply lines with tshark's dissection of the same pcap.

usage: tshark_compare.py [--smtpmon PATH] [--ports LIST] [--min-agreement PCT] [-v] PCAP...
       tshark_compare.py --keylog FILE [--events FILE] [--redacted] [--implicit-tls-ports LIST]
                         [--min-tls-agreement PCT] [options above] PCAP...
       tshark_compare.py --keylog FILE --emit-events [--redacted] PCAP   (self-tests)

tshark is an independent oracle (Wireshark's own SMTP dissector). For every TCP connection,
mapped by its 4-tuple (never by index), two line sequences are compared:
  client: our smtp_request (COMMAND + " " + arg; the verb case-insensitively) against tshark's
          smtp.command_line; our SASL answers ("**" requests) against tshark's
          smtp.auth.username / smtp.auth.password; our end-of-data "." against tshark's smtp.eom.
  server: our smtp_reply lines (code, msg) against tshark's smtp.response.code with each of its
          smtp.rsp.parameter lines.
Lines are aligned with difflib. Every line only one side has must be explained by a named rule:
either a known mistake of tshark 4.0 (listed above the rules below), checked against the bytes
tshark itself saw, or a documented property of Zeek's event model. Anything else is printed as
unexplained and makes the exit status 1. The exit status is also 1 when the agreement, over
all PCAPs together, is below --min-agreement percent. Agreement = lines that agree / all lines
except those tshark lost to one of its known mistakes (it cannot vote on lines it never
dissected); differences explained by Zeek's event model count against it. The share of all
lines is printed as well.

tshark runs with TCP and SMTP desegmentation and TCP out-of-order reassembly on (off by
default in 4.0), -d for the server ports other than 25 and 587 (2525 and 225 in the corpus),
and smtp.decryption off, so that SASL lines and 334 prompts stay as the raw base64 both sides
saw. The output is the -J protocol tree rather than -e fields, because -e flattens the reply
parameters of several pipelined multi-line replies in one frame into one list.

Inside TLS (--keylog FILE, a TLS key log in NSS format written by the clients): tshark runs
with -o tls.keylog_file:FILE and dissects the SMTP of the decrypted records (after STARTTLS,
and on the implicit-TLS ports, default 465, from the first byte: -d tcp.port==465,tls and
-d tls.port==465,smtp, which are also tshark 4.0's defaults for 465). A line is inside TLS
when its SMTP layer follows a TLS layer in frame.protocols ("...:tcp:tls:smtp"). Each
connection then has four sequences, compared separately: client and server lines before
STARTTLS, as without --keylog, and client and server lines inside TLS, which are our events
with "tls": true. A line reported on the wrong side of STARTTLS is a difference on both.
The rules about tshark's mistakes read the client's wire bytes: they apply before STARTTLS
only; inside TLS only the Zeek event model's unknown commands and SASL answers, our own
content gaps, and tshark#1 for a QUIT in the record that ends the message data (tshark's own
dissection shows the end of data and the server's 221) explain a difference. `smtpmon read` cannot see inside TLS: --events FILE gives
smtpmon's JSON lines from a live run (`smtpmon run`) instead, for all PCAPs; the connections
of a PCAP are those with a 4-tuple it holds and those that began within its time span.
--redacted: smtpmon's AUTH payloads are redacted (its default, without --keep-credentials):
tshark's AUTH arguments and SASL answers are compared in the same redacted form. Per PCAP the
agreement before and inside TLS is printed with the number of lines tshark decrypted;
--min-tls-agreement PCT fails a PCAP whose agreement inside TLS is lower, or in which tshark
decrypted no SMTP line at all (a missing or wrong key log). --emit-events prints, instead of
comparing, the events smtpmon should report for one PCAP, built from tshark's dissection
(for the comparator's own self-test: planted mistakes in them must be caught).
"""
import argparse
import collections
import concurrent.futures
import difflib
import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys

SERVER_PORTS_DEFAULT = "25,587,2525,225"


def tshark_cmd(pcap, ports, keylog=None, implicit=()):
    cmd = ["tshark", "-r", pcap, "-n",
           "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
           "-o", "smtp.desegment_lines:TRUE", "-o", "smtp.desegment_data:TRUE",
           "-o", "smtp.decryption:FALSE"]
    if keylog:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    for p in sorted(ports):
        if keylog and p in implicit:
            cmd += ["-d", f"tcp.port=={p},tls", "-d", f"tls.port=={p},smtp"]
        elif p not in (25, 587):
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
        self.o_gaps = 0
        self.o_tail = 0  # our requests after our last reply
        self.o_requests = collections.Counter()  # verb -> our requests
        self.o_answered = collections.Counter()  # cmd -> first lines of our replies
        self.retrans_frames = set()  # frames tshark flags as (spurious) retransmissions
        self.client_frames = []  # (frame number, payload bytes, tshark showed commands in it)
        # Inside TLS (--keylog): the same, for the lines of decrypted records / "tls": true.
        self.t_client_tls = []
        self.t_server_tls = []
        self.o_client_tls = []
        self.o_server_tls = []
        self.o_unknown_cmds_tls = []
        self.o_gaps_tls = 0
        self.o_data_tls = set()  # line keys of our smtp_data lines from the client inside TLS
        self.t_pipelined_data_tls = False  # tshark showed DATA and another command in one record
        self.first_ts = None  # our first event of the connection (--events)
        self.t_cont = set()  # id() of tshark's reply lines that another line of theirs follows


# ---------------------------------------------------------------------------------------------
# The two sides


def smtp_layers_in_tls(protocols, n):
    """For each of the frame's n SMTP layers, in order: whether it follows a TLS layer in
    frame.protocols ("eth:ethertype:ip:tcp:tls:smtp:imf")."""
    flags, tls = [], False
    for proto in protocols.split(":"):
        if proto == "tls":
            tls = True
        elif proto == "smtp":
            flags.append(tls)
    return (flags + [tls] * n)[:n]


def read_tshark(pcap, ports, conns_by_stream, keylog=None, implicit=(), info=None):
    out = subprocess.run(tshark_cmd(pcap, ports, keylog, implicit), capture_output=True)
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
        if info is not None:
            ts = float(L["frame"]["frame.time_epoch"])
            info["first_ts"] = min(info.get("first_ts", ts), ts)
            info["last_ts"] = max(info.get("last_ts", ts), ts)
            info.setdefault("frames", []).append((frame, ts, key, to_server))
        if "retransmission" in json.dumps(tcp.get("tcp.analysis", {})):
            conn.retrans_frames.add(frame)
        smtps = as_list(L.get("smtp"))
        in_tls = smtp_layers_in_tls(L["frame"].get("frame.protocols", ""), len(smtps))
        shown = False
        if keylog and to_server and any(in_tls):
            commands = [split_command(strip_eol(c))[0].upper()
                        for smtp in smtps for c in as_list(smtp.get("smtp.command_line"))]
            if len(commands) > 1 and "DATA" in commands:
                conn.t_pipelined_data_tls = True
        for smtp, tls in zip(smtps, in_tls):
            t_client = conn.t_client_tls if keylog and tls else conn.t_client
            t_server = conn.t_server_tls if keylog and tls else conn.t_server
            if to_server:
                for line in as_list(smtp.get("smtp.command_line")):
                    verb, arg = split_command(escape_like_smtpmon(strip_eol(line)))
                    t_client.append(("C", verb.upper(), arg, frame))
                    shown = True
                for f in ("smtp.auth.username", "smtp.auth.password",
                          "smtp.auth.username_password"):
                    for v in as_list(smtp.get(f)):
                        t_client.append(("C", "**", escape_like_smtpmon(v), frame))
                        shown = True
                if "smtp.eom" in smtp:
                    t_client.append(("C", ".", ".", frame))
            else:
                responses = as_list(smtp.get("smtp.response"))
                trees = as_list(smtp.get("smtp.response_tree"))
                for tree in trees:
                    code = int(tree.get("smtp.response.code", -1))
                    params = as_list(tree.get("smtp.rsp.parameter")) or [""]
                    for n, prm in enumerate(params):
                        # Zeek (and we) skip blanks between the code and the text; tshark
                        # keeps them. Same wire line, so compare without them.
                        prm = escape_like_smtpmon(prm).lstrip(" \t")
                        t_server.append(("S", code, prm, frame))
                        if n < len(params) - 1:
                            conn.t_cont.add(id(t_server[-1]))  # a line of a multi-line reply
                if len(trees) < len(responses):
                    for r in responses[len(trees):]:
                        t_server.append(("S", -1, escape_like_smtpmon(strip_eol(r)), frame))
        payload = tcp.get("tcp.payload")
        # With a key log, TLS records are not client lines: the wire rules see the clear part.
        if keylog and "tls" in L["frame"].get("frame.protocols", "").split(":"):
            payload = None
        if to_server and payload:
            conn.client_frames.append((frame, bytes.fromhex(payload.replace(":", "")), shown))
    return None


def read_smtpmon(smtpmon, pcap, ports, opts=None):
    """Our events for PCAP: `smtpmon read` of it, or (opts.events) those of a live run's
    output that belong to the PCAP."""
    if opts is not None and opts.events:
        return read_events(opts.events, None)
    cmd = [smtpmon, "read", "--format", "json",
           "--ports", ",".join(map(str, sorted(ports))),
           "--events", "smtp_request,smtp_reply,smtp_unexpected,content_gap", pcap]
    if opts is None or not opts.redacted:
        cmd.insert(4, "--keep-credentials")
    if opts is not None and opts.keylog:
        cmd[-1:-1] = ["--implicit-tls-ports", ",".join(map(str, sorted(opts.implicit)))]
    out = subprocess.run(cmd, capture_output=True)
    # A failing exit with output is a truncated capture: reported, everything before kept.
    if out.returncode != 0 and not out.stdout:
        err = out.stderr.decode(errors="replace").strip().splitlines()
        return None, f"smtpmon exit {out.returncode}: {err[-1] if err else ''}"
    return read_events(None, out.stdout.decode("utf-8").splitlines())


def read_events(path, lines):
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            return None, f"events: {e}"
    conns = collections.OrderedDict()
    for raw in lines:
        if not raw.strip():
            continue
        ev = json.loads(raw)
        uid = ev["uid"]
        conn = conns.get(uid)
        if conn is None:
            key = (norm_addr(ev["id.orig_h"]), ev["id.orig_p"], norm_addr(ev["id.resp_h"]),
                   ev["id.resp_p"])
            conn = conns[uid] = Conn(key)
            conn.first_ts = ev.get("ts")
        kind = ev["event"]
        if ev.get("tls") is True and kind in ("smtp_request", "smtp_reply", "smtp_unexpected",
                                              "content_gap"):
            # Inside TLS: the same bookkeeping into the TLS sequences.
            if kind == "smtp_request":
                if ev["command"] == "(UNKNOWN)" and ev["arg"] == "":
                    continue
                conn.o_client_tls.append(("C", ev["command"].upper(), ev["arg"]))
            elif kind == "smtp_reply":
                conn.o_server_tls.append(("S", ev["code"], ev["msg"], ev["cont_resp"]))
            elif kind == "smtp_unexpected" and ev["msg"] == "unknown command":
                conn.o_unknown_cmds_tls.append(ev["detail"])
            elif kind == "content_gap":
                conn.o_gaps_tls += 1
            continue
        if ev.get("tls") is True and kind == "smtp_data" and ev.get("is_orig"):
            conn.o_data_tls.add(line_key(ev["data"]))
            continue
        if kind == "smtp_request":
            if ev["command"] == "(UNKNOWN)" and ev["arg"] == "":
                continue  # Zeek's synthetic request after a gap: no wire line behind it
            conn.o_client.append(("C", ev["command"].upper(), ev["arg"]))
            conn.o_requests[ev["command"].upper()] += 1
            conn.o_tail += 1
            if ev["command"].upper() == "BDAT":
                conn.o_bdat = True
        elif kind == "smtp_reply":
            if not conn.o_server or not conn.o_server[-1][3]:
                conn.o_answered[ev["cmd"].upper()] += 1
            conn.o_server.append(("S", ev["code"], ev["msg"], ev["cont_resp"]))
            conn.o_tail = 0
            if ev["cmd"] == "DATA" and ev["code"] != 354 and not ev["cont_resp"]:
                conn.o_rejected_data = True
        elif kind == "smtp_unexpected" and ev["msg"] == "unknown command":
            conn.o_unknown_cmds.append(ev["detail"])
        elif kind == "content_gap":
            conn.o_gaps += 1
    return list(conns.values()), None


# ---------------------------------------------------------------------------------------------
# Rules that explain a line only one side has. Each returns the rule's name or None. The
# numbered tshark rules are these known mistakes of tshark 4.0's SMTP dissector, each
# reproduced on corpus captures (tests/data):
#   1. A client segment that carries command lines and message data (BDAT with its chunk,
#      or pipelined MAIL/RCPT/DATA followed by the body in the same segment) is shown only
#      as "DATA fragment": its command lines are missing. Seen in suricata/smtp-pipelining,
#      every suricata/smtp-bdat-* pcap but smtp-bdat-zero-last-next-mail (a zero-length
#      chunk carries no data), suricata/bug-7126, synthetic stream 1.
#   2. After BDAT, later DATA messages on the same connection are often not reassembled,
#      and BDAT messages are never dissected as messages: smtp-bdat-last-next-mail,
#      smtp-bdat-multichunk-*, smtp-bdat-pipelined-next-mail, smtp-bdat-bad-tail-*.
#   3. DATA mode is entered on the client's DATA command whatever the server answers, so
#      after a 4xx/5xx to DATA the following commands look like message data:
#      smtp-data-rejected, smtp-ehlo-reset-after-rejected-data, synthetic stream 3.
#   4. An end-of-data marker split between the dot and its CRLF is missed: synthetic
#      stream 4.
# (Also known, and avoided by the command line of tshark_cmd: out-of-order segments need
# tcp.reassemble_out_of_order, off by default; ports other than 25 and 587 need -d.)
# The unnumbered tshark rules are mistakes outside that list.


def split_lines(data):
    """Client bytes as lines, split the way Zeek splits them (CRLF, bare LF, bare CR), with
    the octets announced by a 'BDAT <n>' line skipped (a chunk need not end with CRLF)."""
    lines, pos = [], 0
    eol = re.compile(rb"\r\n|\n|\r")
    while pos < len(data):
        m = eol.search(data, pos)
        end, nxt = (m.start(), m.end()) if m else (len(data), len(data))
        line = data[pos:end]
        lines.append(escape_like_smtpmon(line.decode("utf-8", "surrogateescape")))
        pos = nxt
        bdat = re.match(rb"(?i)BDAT[ \t]+([0-9]{1,12})(?:[ \t]+LAST)?[ \t]*\Z", line)
        if bdat:
            pos += int(bdat.group(1))
    return lines


def line_key(line):
    """A wire line as a comparable key: the verb upper-cased, one space before the argument."""
    verb, arg = split_command(line)
    return f"{verb.upper()} {arg}" if arg else verb.upper()


def item_key(item):
    _, verb, arg = item[:3]
    if verb == ".":
        return "."
    if verb == "**":
        return line_key(arg)
    return f"{verb} {arg}" if arg else verb


def hidden_lines(conn):
    """Lines of the client segments tshark did not show as command lines (it took them for
    message data, or never finished reassembling them)."""
    frames = [p for _, p, shown in conn.client_frames if not shown]
    # Per segment (a line starts at a segment start) and joined (a line spans segments).
    lines = set(split_lines(b"".join(frames)))
    for p in frames:
        lines.update(split_lines(p))
    return {line_key(l) for l in lines}


def client_data(conn):
    return b"".join(p for _, p, _ in conn.client_frames)


def bare_lf_end_marker(conn):
    return re.search(rb"(?<!\r)\n\.\n", client_data(conn)) is not None


def split_end_marker(conn):
    frames = [p for _, p, _ in conn.client_frames]
    return any(a.endswith(b"\r\n.") and b.startswith(b"\r\n") or
               a.endswith(b"\r\n.\r") and b.startswith(b"\n")
               for a, b in zip(frames, frames[1:]))


def answered(conn, verb, item, after_bdat=False):
    """Evidence that a request was a command and not message text we took for one: the
    server answered every request of this verb; or it is a QUIT on the client's last line.
    After BDAT also: it came after the server's last reply (the capture ends unanswered)."""
    if conn.o_answered[verb] >= conn.o_requests[verb]:
        return True
    lines = split_lines(client_data(conn).rstrip(b"\r\n"))
    if verb == "QUIT" and lines and line_key(lines[-1]) == item_key(item):
        return True
    return after_bdat and item in conn.o_client[len(conn.o_client) - conn.o_tail:]


def explain_ours_only_client(conn, item):
    """We report a client line that tshark does not show."""
    verb = item[1]
    data = client_data(conn)
    if data and not data.endswith((b"\n", b"\r")) and \
            line_key(split_lines(data)[-1]) == item_key(item):
        return "tshark-unterminated last line (ended by FIN) never shown"
    if item_key(item) not in hidden_lines(conn):
        return None
    if conn.o_bdat and answered(conn, verb, item, after_bdat=True):
        return "tshark#1/#2 after BDAT, command lines taken for chunk data"
    if not answered(conn, verb, item):
        return None
    if conn.o_rejected_data:
        return "tshark#3 DATA mode entered although the server refused DATA"
    if bare_lf_end_marker(conn):
        return "tshark-bare-LF end-of-data marker (LF.LF) missed, later lines taken for data"
    if split_end_marker(conn):
        return "tshark#4 split end-of-data marker missed, later lines taken for data"
    if verb != "**":
        return "tshark#1 command lines lost in a segment that also carries message data"
    return None


def explain_tshark_only_client(conn, item):
    """tshark shows a client line that we do not report as a request."""
    verb, arg, frame = item[1], item[2], item[3]
    if verb == "**":
        # tshark decodes any line after AUTH LOGIN as a SASL answer; Zeek only after a 334
        # it attributed to AUTH. Find the wire line that holds the value.
        words = [split_command(l)[0] for l in split_lines(client_data(conn)) if arg and arg in l]
    else:
        words = [verb]
    for i, word in enumerate(conn.o_unknown_cmds):
        if word.upper() in (w.upper() for w in words):
            del conn.o_unknown_cmds[i]
            return "zeek-model unknown command: smtp_unexpected instead of smtp_request"
    if conn.o_gaps and frame in conn.retrans_frames:
        return "smtpmon content_gap: bytes ACKed before they were captured (docs/reassembly.md)"
    if conn.o_gaps:
        return ("zeek-model after a content_gap, client lines wait for a server reply"
                " (docs/zeek-differences.md 7)")
    return None


def explain_ours_only_server(conn, item):
    """tshark dissects the server side without known mistakes: a reply line only we report
    is never explained."""
    return None


def explain_tshark_only_server(conn, item):
    if conn.o_gaps and item[3] in conn.retrans_frames:
        return "smtpmon content_gap: bytes ACKed before they were captured (docs/reassembly.md)"
    if item[1] == -1:
        return "tshark reply line without a reply code"
    return None


def pair_sasl_answers(ours, theirs, result):
    """Zeek takes every line after a 334 for a SASL answer ("**"), a command word included;
    tshark shows such a line as a command. Same wire line: pair them and take them out."""
    rest = list(theirs)
    left = []
    for x in ours:
        if x[1] == "**":
            match = next((t for t in rest if t[1] != "**" and item_key(t) == item_key(x)), None)
            if match:
                rest.remove(match)
                result["explained"]["zeek-model line after a 334 is a SASL answer (**)"] += 1
                continue
        left.append(x)
    return left, rest


# Inside TLS the wire bytes are records, not lines: the rules above cannot look at them, and
# tshark's SMTP dissector sees the decrypted stream whole (no segment carries commands and
# data by accident of the wire). Only the event model's own differences remain.


# tshark#5 inside TLS: when DATA comes in one record with the commands before it (msmtp over
# GnuTLS pipelines RCPT and DATA), tshark never enters data mode; every line of the message is
# shown as a command line and its end of data as a "." command. Its own dissection has the
# evidence (DATA in a record with another command); the line must be one of our smtp_data lines.
TSHARK_PIPELINED_DATA_TLS = "tshark#5 inside TLS: DATA pipelined in one record, message lines shown as commands"


def explain_tls_ours_only_client(conn, item):
    if item[1] == "." and conn.t_pipelined_data_tls and \
            any(t[1] == "." and t[2] == "" for t in conn.t_client_tls):
        return TSHARK_PIPELINED_DATA_TLS
    # tshark#1 inside TLS: a client that writes the end of the message data and QUIT in one
    # call (Postfix's smtp client does) sends them in one record, whose QUIT tshark shows as
    # message data. Its own dissection still has the evidence: the message ended (its last
    # client line is the end of data) and the server answered QUIT (221).
    if item[1] == "QUIT" and conn.t_client_tls and conn.t_client_tls[-1][1] == "." and \
            any(s[1] == 221 for s in conn.t_server_tls):
        return "tshark#1 inside TLS: QUIT in the record that ends the message data not shown"
    return None


def explain_tls_tshark_only_client(conn, item):
    verb = item[1]
    if conn.t_pipelined_data_tls and verb != "**":
        key = item_key(item) if verb != "." else "."
        # Our data lines are dot-unstuffed: tshark's "..dot line" is our ".dot line".
        if key == "." or key in conn.o_data_tls or \
                (key.startswith("..") and key[1:] in conn.o_data_tls):
            return TSHARK_PIPELINED_DATA_TLS
    for i, word in enumerate(conn.o_unknown_cmds_tls):
        if verb != "**" and word.upper() == verb.upper():
            del conn.o_unknown_cmds_tls[i]
            return "zeek-model unknown command: smtp_unexpected instead of smtp_request"
    if conn.o_gaps_tls:
        return "smtpmon content_gap inside TLS (plaintext lost: ring full)"
    return None


def explain_tls_ours_only_server(conn, item):
    return None


def explain_tls_tshark_only_server(conn, item):
    if conn.o_gaps_tls:
        return "smtpmon content_gap inside TLS (plaintext lost: ring full)"
    if item[1] == -1:
        return "tshark reply line without a reply code"
    return None


REDACTED = "[redacted]"
SASL_NAME = re.compile(r"[A-Za-z0-9_-]*")


def redact_like_smtpmon(item):
    """smtpmon's redaction of credentials (user/smtp/smtp.c redact()): AUTH keeps its mechanism
    (a name of at most 20 RFC 4422 characters) and loses the initial response; a SASL answer
    becomes [redacted]; an argument that does not start with a mechanism name goes whole."""
    kind, verb, arg = item[:3]
    if verb == "**":
        return (kind, verb, REDACTED) + tuple(item[3:])
    if verb != "AUTH" or arg == "":
        return item
    mech = SASL_NAME.match(arg).end()
    rest = len(arg) - len(arg[mech:].lstrip(" \t"))
    if 0 < mech <= 20 and rest == len(arg):
        return item
    if mech == 0 or mech > 20 or rest == mech:
        return (kind, verb, REDACTED) + tuple(item[3:])
    return (kind, verb, arg[:mech] + " " + REDACTED) + tuple(item[3:])


# ---------------------------------------------------------------------------------------------


def compare_seq(conn, ours, theirs, explain_ours, explain_theirs, result):
    a = [tuple(x[:3]) for x in ours]
    b = [tuple(x[:3]) for x in theirs]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            result["agree"] += i2 - i1
            continue
        only_ours, only_theirs = pair_sasl_answers(ours[i1:i2], theirs[j1:j2], result)
        for x in only_ours:
            record(result, conn, "ours", x, explain_ours(conn, x))
        for x in only_theirs:
            record(result, conn, "tshark", x, explain_theirs(conn, x))


def record(result, conn, side, item, reason):
    if reason:
        result["explained"][reason] += 1
    else:
        result["unexplained"].append((conn.key, side, item))


def new_stats():
    return {"agree": 0, "explained": collections.Counter(), "unexplained": []}


def compare_pcap(pcap, smtpmon, ports, opts=None):
    result = {"agree": 0, "explained": collections.Counter(), "unexplained": [], "error": None,
              "conns": 0, "tls": new_stats(), "t_tls_lines": [0, 0]}
    keylog = opts.keylog if opts is not None else None
    implicit = opts.implicit if opts is not None else ()
    t_by_stream = {}
    info = {}
    err = read_tshark(pcap, ports, t_by_stream, keylog, implicit, info)
    if err:
        result["error"] = err
        return result
    ours, err = read_smtpmon(smtpmon, pcap, ports, opts)
    if err:
        result["error"] = err
        return result
    if opts is not None and opts.events:
        # One live run's events for several PCAPs: those of this PCAP's connections, and any
        # other connection that began while it was being recorded.
        keys = {c.key for c in t_by_stream.values()}
        first, last = info.get("first_ts"), info.get("last_ts")
        ours = [c for c in ours if c.key in keys or
                (first is not None and c.first_ts is not None and first <= c.first_ts <= last)]
    if opts is not None and opts.redacted:
        for c in t_by_stream.values():
            for seq in (c.t_client, c.t_client_tls):
                seq[:] = [redact_like_smtpmon(x) for x in seq]

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
            if not (t.t_client or t.t_server or o.o_client or o.o_server or t.t_client_tls or
                    t.t_server_tls or o.o_client_tls or o.o_server_tls):
                continue
            result["conns"] += 1
            # Our facts and tshark's bytes meet in one object for the rules.
            t.o_unknown_cmds, t.o_rejected_data = o.o_unknown_cmds, o.o_rejected_data
            t.o_bdat, t.o_gaps = o.o_bdat, o.o_gaps
            t.o_requests, t.o_answered, t.o_client = o.o_requests, o.o_answered, o.o_client
            t.o_tail = o.o_tail
            compare_seq(t, o.o_client, t.t_client, explain_ours_only_client,
                        explain_tshark_only_client, result)
            compare_seq(t, o.o_server, t.t_server, explain_ours_only_server,
                        explain_tshark_only_server, result)
            if keylog:
                t.o_unknown_cmds_tls, t.o_gaps_tls = o.o_unknown_cmds_tls, o.o_gaps_tls
                t.o_data_tls = o.o_data_tls
                result["t_tls_lines"][0] += len(t.t_client_tls)
                result["t_tls_lines"][1] += len(t.t_server_tls)
                compare_seq(t, o.o_client_tls, t.t_client_tls, explain_tls_ours_only_client,
                            explain_tls_tshark_only_client, result["tls"])
                compare_seq(t, o.o_server_tls, t.t_server_tls, explain_tls_ours_only_server,
                            explain_tls_tshark_only_server, result["tls"])
    return result


def emit_events(pcap, ports, opts):
    """The events smtpmon should report for PCAP, from tshark's dissection: one uid per
    connection, requests and replies in frame order, "tls": true inside TLS, the replies'
    cmd from the client's commands in order. Only the fields the comparison reads, and ts."""
    t_by_stream, info = {}, {}
    err = read_tshark(pcap, ports, t_by_stream, opts.keylog, opts.implicit, info)
    if err:
        print(err, file=sys.stderr)
        return 1
    ts_of = {f: ts for f, ts, _, _ in info.get("frames", [])}
    for stream in sorted(t_by_stream):
        c = t_by_stream[stream]
        if opts.redacted:
            c.t_client = [redact_like_smtpmon(x) for x in c.t_client]
            c.t_client_tls = [redact_like_smtpmon(x) for x in c.t_client_tls]
        items = []  # (frame, order, tls, item)
        for tls, cl, sv in ((False, c.t_client, c.t_server), (True, c.t_client_tls,
                                                            c.t_server_tls)):
            items += [(x[3], 0, tls, x) for x in cl] + [(x[3], 1, tls, x) for x in sv]
        items.sort(key=lambda x: (x[0], x[1]))  # stable: the order within a frame stays
        uid = "C" + hashlib.sha1(repr((c.key, stream)).encode()).hexdigest()[:17]
        base = {"uid": uid, "id.orig_h": c.key[0], "id.orig_p": c.key[1],
                "id.resp_h": c.key[2], "id.resp_p": c.key[3]}
        pending = collections.deque()
        for frame, _, tls, x in items:
            ev = {"ts": ts_of.get(frame, 0.0), **base}
            if x[0] == "C":
                ev.update(event="smtp_request", is_orig=True, command=x[1], arg=x[2])
                if x[1] != "**":
                    pending.append(x[1])
            else:
                cont = id(x) in c.t_cont
                cmd = pending[0] if pending else ">"
                if not cont and pending:
                    pending.popleft()
                ev.update(event="smtp_reply", is_orig=False, code=x[1], cmd=cmd, msg=x[2],
                          cont_resp=cont)
            if tls:
                ev["tls"] = True
            print(json.dumps(ev))
    return 0


def agreement(agree, explained, unexplained):
    """Lines that agree, out of all lines but those tshark lost to one of its known
    mistakes: tshark cannot vote on a line it never dissected."""
    judged = agree + unexplained + sum(n for r, n in explained.items()
                                       if not r.startswith("tshark"))
    return 100.0 * agree / judged if judged else 100.0


def stats_line(st):
    n_expl = sum(st["explained"].values())
    n_unexpl = len(st["unexplained"]) if isinstance(st["unexplained"], list) else \
        st["unexplained"]
    lines = st["agree"] + n_expl + n_unexpl
    return lines, n_expl, n_unexpl, agreement(st["agree"], st["explained"], n_unexpl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pcaps", nargs="+")
    ap.add_argument("--smtpmon", default=os.path.join(os.path.dirname(__file__),
                                                      "../../build/smtpmon"))
    ap.add_argument("--ports", default=SERVER_PORTS_DEFAULT)
    ap.add_argument("--min-agreement", type=float, default=99.0)
    ap.add_argument("-v", "--verbose", action="store_true", help="list explained differences")
    ap.add_argument("--keylog", help="TLS key log (NSS format): compare the lines inside TLS")
    ap.add_argument("--implicit-tls-ports", default="465",
                    help="with --keylog: ports where TLS starts at once (default 465)")
    ap.add_argument("--events", help="with --keylog: smtpmon's JSON lines of a live run, "
                    "instead of `smtpmon read` of each PCAP")
    ap.add_argument("--redacted", action="store_true",
                    help="smtpmon's AUTH payloads are redacted: compare tshark's redacted too")
    ap.add_argument("--min-tls-agreement", type=float,
                    help="with --keylog: fail a PCAP whose agreement inside TLS is lower, or "
                    "in which tshark decrypted no SMTP line")
    ap.add_argument("--emit-events", action="store_true",
                    help="with --keylog and one PCAP: print the events smtpmon should report, "
                    "from tshark's dissection (self-tests)")
    a = ap.parse_args()
    ports = {int(p) for p in a.ports.split(",")}
    a.implicit = {int(p) for p in a.implicit_tls_ports.split(",") if p}
    if (a.events or a.min_tls_agreement is not None or a.emit_events) and not a.keylog:
        ap.error("--events, --min-tls-agreement and --emit-events need --keylog")
    if a.keylog:
        if not os.path.isfile(a.keylog):
            ap.error(f"--keylog {a.keylog}: no such file")
        ports |= a.implicit
    if a.emit_events:
        if len(a.pcaps) != 1:
            ap.error("--emit-events takes one PCAP")
        return emit_events(a.pcaps[0], ports, a)
    opts = a if (a.keylog or a.redacted) else None

    total = {"agree": 0, "explained": collections.Counter(), "unexplained": 0}
    total_clear = {"agree": 0, "explained": collections.Counter(), "unexplained": 0}
    total_tls = {"agree": 0, "explained": collections.Counter(), "unexplained": 0}
    failed = False
    # tshark and smtpmon run as subprocesses: one pcap per CPU at a time, reported in order.
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = pool.map(lambda pcap: compare_pcap(pcap, a.smtpmon, ports, opts), a.pcaps)
    for pcap, r in zip(a.pcaps, results):
        name = os.path.relpath(pcap)
        if r["error"]:
            print(f"ERROR {name}: {r['error']}")
            failed = True
            continue
        tls = r["tls"]
        both = {"agree": r["agree"] + tls["agree"],
                "explained": r["explained"] + tls["explained"],
                "unexplained": r["unexplained"] + tls["unexplained"]}
        lines, n_expl, n_unexpl, pct = stats_line(both)
        status = "ok  " if not both["unexplained"] else "FAIL"
        low = ""
        if a.keylog and a.min_tls_agreement is not None:
            t_lines = sum(r["t_tls_lines"])
            tls_pct = stats_line(tls)[3]
            if t_lines == 0:
                low = "; tshark decrypted no SMTP line (key log?)"
            elif tls_pct < a.min_tls_agreement:
                low = f"; agreement inside TLS {tls_pct:.1f}% < {a.min_tls_agreement}%"
            if low:
                status = "FAIL"
        print(f"{status} {name}: {r['conns']} conns, {lines} lines, {both['agree']} agree, "
              f"{n_expl} explained, {n_unexpl} unexplained, agreement {pct:.1f}%{low}")
        if a.keylog:
            for label, st in (("before TLS", r), ("inside TLS", tls)):
                lines, n_expl, n_unexpl, pct = stats_line(st)
                extra = ""
                if st is tls:
                    extra = (f" (tshark decrypted {r['t_tls_lines'][0]} client and "
                             f"{r['t_tls_lines'][1]} server lines)")
                print(f"       {label}: {lines} lines, {st['agree']} agree, {n_expl} explained, "
                      f"{n_unexpl} unexplained, agreement {pct:.1f}%{extra}")
        if a.verbose:
            for reason, n in sorted(both["explained"].items()):
                print(f"       {n:4d} x {reason}")
        for unexpl, where in ((r["unexplained"], ""), (tls["unexplained"], " (inside TLS)")):
            for key, side, item in unexpl:
                print(f"       unexplained, only {side}{where}: {key[0]}:{key[1]} -> "
                      f"{key[2]}:{key[3]} {item!r}")
        for tot, st in ((total, both), (total_clear, r), (total_tls, tls)):
            tot["agree"] += st["agree"]
            tot["explained"].update(st["explained"])
            tot["unexplained"] += len(st["unexplained"])
        failed |= bool(both["unexplained"]) or bool(low)

    lines, n_expl, n_unexpl, pct = stats_line(total)
    raw = 100.0 * total["agree"] / lines if lines else 100.0
    print(f"TOTAL {len(a.pcaps)} pcaps: {lines} lines, {total['agree']} agree ({raw:.2f}% of "
          f"all), {n_expl} explained, {total['unexplained']} unexplained; agreement on the "
          f"lines tshark dissected: {pct:.2f}%")
    if a.keylog:
        for label, st in (("before TLS", total_clear), ("inside TLS", total_tls)):
            t_lines, t_expl, t_unexpl, t_pct = stats_line(st)
            print(f"  {label}: {t_lines} lines, {st['agree']} agree, {t_expl} explained, "
                  f"{t_unexpl} unexplained, agreement {t_pct:.2f}%")
    for reason, n in sorted(total["explained"].items()):
        print(f"  {n:5d} x {reason}")
    if lines and pct < a.min_agreement:
        print(f"agreement {pct:.2f}% is below {a.min_agreement}%")
        failed = True
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
