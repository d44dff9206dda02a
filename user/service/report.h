// SPDX-License-Identifier: GPL-2.0-only
/*
 * report.h - the answers to smtpmonctl and to the HTTP /metrics endpoint,
 * built in the capture loop's thread from what the daemon owns.
 *
 * Protocol (framing and version in control.h; CONTROL_PROTOCOL_VERSION
 * changes whenever a request's or an answer's shape does):
 *
 *   request  {"version":2,"cmd":"stats","format":"json"}
 *            cmd:    ping | stats | sessions | metrics
 *            format: json (default: the "data" object)
 *                    text (a readable table in "text"; metrics: the
 *                    Prometheus exposition in "text")
 *   answer   {"version":2,"ok":true,"data":{...}}
 *            {"version":2,"ok":true,"text":"..."}
 *            {"version":2,"ok":false,"error":"..."}
 *
 * A request without the daemon's version is answered with an error naming
 * the version it speaks. {"cmd":"metrics","format":"raw"} answers with the
 * bare exposition, not a JSON line (for metrics_http.c).
 *
 * Statistics are metric families with at most one label each, rendered
 * three ways from one walk: JSON ("kernel_packets":{"tc_ingress":12},
 * "uptime_seconds":3), a table, and Prometheus text format 0.0.4
 * (smtpmon_NAME, counters smtpmon_NAME_total, # HELP and # TYPE for each).
 * Values from the wire never become label values.
 */
#ifndef SMTPMON_REPORT_H
#define SMTPMON_REPORT_H

#include <stdint.h>

#include "capture/capture.h"
#include "service/control.h"
#include "output/jsonw.h"
#include "output/outputs.h"
#include "flow/pipeline.h"
#include "service/stats.h"

/* Open connections listed by "sessions" (the most recently active ones);
 * the answer also says how many are open. */
#define REPORT_SESSIONS_MAX 1000

struct report_sources {
	const struct capture *capture;	 /* NULL: no live capture */
	const struct pipeline *pipeline; /* required */
	const struct outputs *outputs;	 /* NULL: none */
	const struct stats *stats;	 /* required */
	uint64_t start_ns;		 /* CLOCK_MONOTONIC when the daemon started */
};

/* A handoff_fn: sources is a struct report_sources. */
void report_answer(void *sources, const char *request, struct jsonw *out);

#endif
