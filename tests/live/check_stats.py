#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks smtpmon's statistics after test_stats.sh's scripted run against two oracles.

usage: check_stats.py EXPECTED.json STATS.json METRICS.txt TSHARK.json TLS_STREAMS.txt EVENTS.jsonl
                      IFACE

EXPECTED.json   what stats_client.py counted from the client's side
STATS.json      `smtpmonctl stats --json`
METRICS.txt     `smtpmonctl metrics`
TSHARK.json     tshark -T json of the same traffic (commands, reply codes, message ends)
TLS_STREAMS.txt tcp.stream of every TLS ClientHello tshark saw
EVENTS.jsonl    smtpmon's own JSON output of the run
IFACE           the one interface smtpmon watched (its kernel counters per interface)

Prints "ok ..." / "FAIL ..." lines; exit status 1 if anything failed. Run with /usr/bin/python3
(python3-prometheus-client is a Debian package).
"""
import collections
import json
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

VERBS = ["EHLO", "HELO", "MAIL", "RCPT", "DATA", "END_OF_DATA", "BDAT", "RSET", "QUIT", "NOOP",
         "VRFY", "EXPN", "HELP", "STARTTLS", "X-ANONYMOUSTLS", "AUTH", "AUTH_ANSWER", "ETRN",
         "TURN", "SEND", "SOML", "SAML"]
CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"]

failures = 0


def check(what, got, want):
    global failures
    if got == want:
        print(f"ok   {what}: {got}")
    else:
        failures += 1
        print(f"FAIL {what}: got {got!r}, want {want!r}")


def tshark_counts(path):
    """Commands by verb, replies by class, message ends, streams: tshark's view."""
    commands, replies, streams = collections.Counter(), collections.Counter(), set()
    for pkt in json.load(open(path)):
        layers = pkt["_source"]["layers"]
        streams.add(layers["tcp.stream"][0])
        # smtp.req.command keeps four characters (STARTTLS is "STAR"): the line's first word.
        # tshark shows no command line for a word that is not a command.
        for line in layers.get("smtp.command_line", []):
            commands[line.split(" ", 1)[0].strip().upper()] += 1
        for code in layers.get("smtp.response.code", []):
            replies[f"{int(code) // 100}xx"] += 1
        commands["END_OF_DATA"] += len(layers.get("smtp.data.reassembled.length", []))
    return commands, replies, len(streams)


def main():
    expected, stats = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
    metrics_text = open(sys.argv[3]).read()
    t_commands, t_replies, t_streams = tshark_counts(sys.argv[4])
    tls_streams = len(set(open(sys.argv[5]).read().split()))
    events = [json.loads(line) for line in open(sys.argv[6])]
    stats_iface = sys.argv[7]

    # Every number three ways: the client's script, tshark, smtpmon.
    check("tshark and the client agree on the sessions", t_streams, expected["sessions"])
    for verb in VERBS:
        want = expected["commands"].get(verb, 0)
        check(f"tshark: {verb} commands", t_commands.get(verb, 0), want)
        check(f"smtpmon: {verb} commands", stats["commands"][verb], want)
    check("smtpmon: other commands", stats["commands"]["other"], 0)
    check("tshark: no other command lines", sorted(set(t_commands) - set(VERBS)), [])
    check("smtpmon: unknown command events", stats["unexpected"].get("unknown command", 0),
          expected["unknown_commands"])
    for cls in CLASSES:
        want = expected["replies"].get(cls, 0)
        check(f"tshark: {cls} replies", t_replies.get(cls, 0), want)
        check(f"smtpmon: {cls} replies", stats["replies"][cls], want)
    check("smtpmon: invalid replies", stats["replies"]["invalid"], 0)
    check("tshark: TLS handshakes", tls_streams, expected["starttls_upgrades"])
    check("smtpmon: STARTTLS upgrades", stats["starttls_upgrades"], expected["starttls_upgrades"])
    check("smtpmon: sessions that used TLS", stats["sessions_tls"], expected["starttls_upgrades"])
    check("smtpmon: connections", stats["connections"], expected["sessions"])
    # A TLS client may close with the server's close_notify unread: RST, not FIN.
    check("smtpmon: sessions ended by FIN or RST",
          stats["sessions_ended"]["FIN"] + stats["sessions_ended"]["RST"], expected["sessions"])
    check("smtpmon: sessions ended", sum(stats["sessions_ended"].values()), expected["sessions"])
    check("smtpmon: connections open", stats["connections_open"], 0)
    check("smtpmon: gaps", stats["gaps"], 0)

    # The counters against smtpmon's own output: every event was written.
    by_type = collections.Counter(e["event"] for e in events)
    for name, n in stats["events"].items():
        check(f"events {name} == lines in the output", n, by_type.get(name, 0))
    check("output_events_written == lines in the output",
          sum(stats["output_events_written"].values()), len(events))

    # The exposition: parsable, HELP and TYPE for each family, counters in _total, the same
    # numbers as the JSON.
    try:
        families = list(text_string_to_metric_families(metrics_text))
        check("metrics: prometheus_client parses the exposition", True, True)
    except Exception as e:  # the parser's own exceptions vary by version
        check(f"metrics: prometheus_client parses the exposition ({e})", False, True)
        families = []
    helps = set(re.findall(r"^# HELP (\S+) ", metrics_text, re.M))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.M))
    label = r'[a-z_]+="(?:[^"\\]|\\.)*"'
    samples = [(name, re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels), v) for name, labels, v in
               re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(%s(?:,%s)*)\})? (\d+)$" % (label, label),
                          metrics_text, re.M)]
    lines = [l for l in metrics_text.splitlines() if l and not l.startswith("#")]
    check("metrics: every sample line has the expected shape", len(samples), len(lines))
    bad = sorted({name for name, *_ in samples if name not in helps or name not in types})
    check("metrics: samples without # HELP or # TYPE", bad, [])
    bad = sorted(n for n, t in types.items() if (t == "counter") != n.endswith("_total"))
    check("metrics: counters and only counters end in _total", bad, [])
    # process_*: the standard names of the Prometheus client libraries, as they are
    bad = sorted(n for n in types if not n.startswith(("smtpmon_", "process_")))
    check("metrics: every name starts with smtpmon_ (or is a standard process_ one)", bad, [])
    want_process = ["process_cpu_seconds_total", "process_max_fds", "process_open_fds",
                    "process_resident_memory_bytes", "process_start_time_seconds",
                    "process_virtual_memory_bytes"]
    check("metrics: the process_* families", sorted(n for n in types if n.startswith("process_")),
          want_process)
    check("metrics: families parsed", len(families), len(types))
    mismatched = []
    for name, labels, v in samples:
        if name.startswith("process_"):
            name = "smtpmon_" + name  # the JSON key is the family's name
        key = re.sub(r"_total$", "", name[len("smtpmon_"):])
        if key in ("uptime_seconds", "memory_heap_bytes", "ring_used_bytes", "kernel_packets",
                   "kernel_interface_packets") or key.startswith("process_"):
            continue  # they move between the two requests (kernel_packets: any IPv6 ND)
        want = stats.get(key)
        for _, value in labels:  # JSON nests a second label under the first
            want = (want or {}).get(value)
        if want is None or int(v) != want:
            mismatched.append(f"{name}{labels} {v} != {want}")
    check("metrics: every sample equals the JSON", mismatched, [])
    # Per interface and program: the lab's one interface (no "other": every packet came
    # through a hook smtpmon attached), and the per-program totals are its sums.
    per_iface = {k: v for k, v in stats.items() if k.startswith("kernel_interface_")}
    check("stats: kernel counters per interface, one family per kernel counter",
          sorted(k[len("kernel_interface_"):] for k in per_iface),
          sorted(k[len("kernel_"):] for k in stats if k.startswith("kernel_") and
                 not k.startswith("kernel_interface_")))
    check("stats: one interface, not 'other'",
          sorted({i for v in per_iface.values() for i in v}), [stats_iface])
    sums = {k: {p: sum(v[i].get(p, 0) for i in v) for p in stats["kernel_" + k[17:]]}
            for k, v in per_iface.items()}
    check("stats: per-program counters are the sums over interfaces",
          sums,
          {k: stats["kernel_" + k[17:]] for k in sums})
    sys.exit(1 if failures else 0)


main()
