#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""select_events.py FILE EXPR - print the JSON lines of FILE, verbatim, whose event `e` makes
the Python expression EXPR true (e.g. 'e["event"] == "smtp_reply" and e["code"] >= 400').
An oracle for output selection that shares no code with smtpmon; jq would re-print numbers."""
import json
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if eval(sys.argv[2], {}, {"e": e}):
        sys.stdout.write(line)
