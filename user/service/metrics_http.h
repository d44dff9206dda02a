// SPDX-License-Identifier: GPL-2.0-only
/*
 * metrics_http.h - `smtpmon run --metrics-listen ADDR:PORT`: the Prometheus
 * exposition (report.h) on HTTP GET /metrics, served by libmicrohttpd's own
 * thread. The exposition is built in the capture loop's thread, which calls
 * metrics_http_serve() after every ring poll (as control_serve()).
 *
 * ADDR:PORT is numeric: "127.0.0.1:9465", "[::1]:9465", "0.0.0.0:9465".
 * At most 64 connections; each has 2 s for its whole request (not per
 * read) and 5 s more for its answer, and answers close the connection. When
 * 32 are still sending their requests, a new one cuts off the oldest of
 * them, so clients that trickle bytes or stay silent never keep a scrape
 * out. Anything but GET /metrics is 404/405.
 */
#ifndef SMTPMON_METRICS_HTTP_H
#define SMTPMON_METRICS_HTTP_H

#include "service/handoff.h"

struct metrics_http;

/* NULL after "smtpmon: metrics listener ADDR:PORT: reason" on stderr. */
struct metrics_http *metrics_http_start(const char *addr_port);
/* The capture loop: answers a waiting scrape with fn (report_answer). */
void metrics_http_serve(struct metrics_http *m, handoff_fn fn, void *ctx);
/* NULL is fine. */
void metrics_http_stop(struct metrics_http *m);

#endif
