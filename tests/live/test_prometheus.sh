#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_prometheus.sh - the monitoring that ships with smtpmon plugs into Prometheus (issue 13,
# point 9): contrib/prometheus/smtpmon.rules.yml and contrib/grafana/smtpmon-dashboard.json
# against a live smtpmon in the lab, scraped by Debian's own Prometheus server:
#   - `promtool check rules` passes on the rules;
#   - smtpmon runs on the lab server's interface with --metrics-listen; Prometheus (package
#     prometheus, tools/install-deps.sh test) runs in the server's namespace, scrapes it every
#     second as job "smtpmon" and evaluates the rules; the lab's client sends mail, one of
#     them to a refused recipient (a 5xx);
#   - every rule is loaded and evaluates without error (/api/v1/rules: health "ok");
#   - every alert expression returns data: evaluated with `bool` after each comparison
#     (a comparison otherwise filters the samples away when the alert does not fire), each
#     gives at least one sample; so does every query of every dashboard panel, with the
#     dashboard's variables given a value ($instance: all, $__rate_interval: 10s);
#   - the samples say what happened: some replies are 5xx, replies_by_code has the 554, the
#     2xx replies increased, process_open_fds is there; up is 1.
# Needs root (namespaces, BPF) and the lab; skips (77) without the prometheus package.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh

rules=contrib/prometheus/smtpmon.rules.yml
dashboard=contrib/grafana/smtpmon-dashboard.json
for tool in prometheus promtool; do
	command -v "$tool" >/dev/null || {
		echo "skip: $tool not installed (sudo tools/install-deps.sh test)"
		exit 77
	}
done
promtool check rules "$rules" >/dev/null 2>&1 && live_ok "promtool check rules $rules" ||
	live_fail "promtool check rules: $(promtool check rules "$rules" 2>&1 | tail -3)"

live_lab "smpr$$"
PROM_PID=
# shellcheck disable=SC2317 # the EXIT trap calls it
cleanup() {
	[[ -n $PROM_PID ]] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
	live_cleanup
}
trap cleanup EXIT

metrics=127.0.0.1:19466
web=127.0.0.1:19467
live_start "$LAB_SRV_NS" "$d/out.json" "$d/err" 2 -i "$LAB_SRV_IF" --ports 25,587 --tls off \
	--control none --metrics-listen "$metrics" || { live_fail "smtpmon starts"; live_done; }

cat >"$d/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/$rules
scrape_configs:
  - job_name: smtpmon
    static_configs:
      - targets: ["$metrics"]
YML
lab_srv prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
	--web.listen-address="$web" --log.level=warn >"$d/prometheus.log" 2>&1 &
PROM_PID=$!
api() { lab_srv curl -sS --max-time 5 "http://$web/api/v1/$1" "${@:2}"; }
# (jq -e passes on empty input, as when Prometheus does not listen yet: grep the answer)
for _ in $(seq 150); do
	api query --data-urlencode 'query=up{job="smtpmon"}' 2>/dev/null |
		grep -q '"value":\[[0-9.]*,"1"\]' && break
	kill -0 "$PROM_PID" 2>/dev/null || break
	sleep 0.2
done
api query --data-urlencode 'query=up{job="smtpmon"}' | grep -q '"value":\[[0-9.]*,"1"\]' &&
	live_ok "prometheus scrapes smtpmon (up == 1)" ||
	{ live_fail "prometheus never scraped smtpmon: $(api query --data-urlencode "query=up" 2>&1 | head -c 300); $(tail -5 "$d/prometheus.log")"; live_done; }

sleep 2 # samples from before the mail, so that rates see it
# Mail: two accepted, one refused recipient (5xx).
lab_run_scenario plain >/dev/null 2>&1 || live_fail "scenario plain"
lab_run_scenario multi-rcpt >/dev/null 2>&1 || live_fail "scenario multi-rcpt"
lab_swaks --to "$LAB_REJECTED_RCPT" >"$d/rejected.log" 2>&1
grep -q '<\*\* *5[0-9][0-9]' "$d/rejected.log" && live_ok "the lab refused $LAB_REJECTED_RCPT" ||
	live_fail "no 5xx for $LAB_REJECTED_RCPT: $(tail -3 "$d/rejected.log")"
lab_wait_idle
sleep 4 # a few scrapes and rule evaluations with the new counts

api rules >"$d/rules.json"
live_check "every rule of $rules is loaded and evaluates without error" \
	python3 - "$d/rules.json" "$rules" <<'PY'
import json, re, sys
got = json.load(open(sys.argv[1]))["data"]["groups"]
names = re.findall(r"^\s*- alert: (\S+)", open(sys.argv[2]).read(), re.M)
rules = {r["name"]: r for g in got for r in g["rules"]}
bad = [n for n in names if n not in rules or rules[n].get("health") != "ok"]
print("  %d rules, %d loaded, not ok: %s" % (len(names), len(rules), bad))
sys.exit(1 if bad or not names else 0)
PY

# The expressions: the rules' (comparisons made `bool`) and the dashboard's (variables set).
python3 - "$rules" "$dashboard" >"$d/exprs" <<'PY'
import json, re, sys

def with_bool(expr):
    """expr with `bool` after every comparison outside label matchers and strings."""
    out, depth, quote, i = [], 0, None, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(expr[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif c == "{":
            depth += 1
            out.append(c)
        elif c == "}":
            depth -= 1
            out.append(c)
        else:
            m = re.match(r"==|!=|>=|<=|>|<", expr[i:]) if depth == 0 else None
            if m and not re.match(r"\s*bool\b", expr[i + len(m.group()):]):
                out.append(m.group() + " bool")
                i += len(m.group())
                continue
            out.append(c)
        i += 1
    return "".join(out)

text = open(sys.argv[1]).read()
import yaml  # python3-yaml comes with python3-prometheus-client's test group
for group in yaml.safe_load(text)["groups"]:
    for rule in group["rules"]:
        print("rule %s\t%s" % (rule["alert"], with_bool(" ".join(rule["expr"].split()))))
for panel in json.load(open(sys.argv[2]))["panels"]:
    for t in panel["targets"]:
        e = t["expr"].replace("$instance", ".*").replace("$__rate_interval", "10s")
        print("panel %s/%s\t%s" % (panel["title"], t["refId"], e))
PY
[[ -s $d/exprs ]] || live_fail "no expressions read from $rules and $dashboard"
n=0
while IFS=$'\t' read -r what expr; do
	n=$((n + 1))
	api query --data-urlencode "query=$expr" >"$d/q.json"
	if [[ -s $d/q.json ]] && jq -e '.status == "success" and (.data.result | length) > 0' "$d/q.json" >/dev/null; then
		live_ok "$what returns $(jq '.data.result | length' "$d/q.json") sample(s)"
	else
		live_fail "$what: no data for $expr: $(head -c 300 "$d/q.json")"
	fi
done <"$d/exprs"
((n >= 20)) || live_fail "only $n expressions"

# What the samples say.
q() { api query --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"'; }
v=$(q 'sum(smtpmon_replies_total{class="5xx"}) / sum(smtpmon_replies_total)')
python3 -c "import sys; sys.exit(0 if 0 < float('$v') < 1 else 1)" 2>/dev/null &&
	live_ok "5xx share of the replies: $v" || live_fail "5xx share of the replies: $v"
v=$(q 'sum(increase(smtpmon_replies_total{class="2xx"}[1m]))')
python3 -c "import sys; sys.exit(0 if float('$v') > 0 else 1)" 2>/dev/null &&
	live_ok "2xx replies in the last minute, as Prometheus's increase() sees them: $v" ||
	live_fail "increase of 2xx replies: $v"
v=$(q 'smtpmon_replies_by_code_total{code="554"}')
[[ $v != none && $v -ge 1 ]] && live_ok "replies_by_code 554: $v" || live_fail "replies_by_code 554: $v"
v=$(q 'process_open_fds')
[[ $v != none && $v -gt 3 ]] && live_ok "process_open_fds: $v" || live_fail "process_open_fds: $v"

live_stop
live_done
