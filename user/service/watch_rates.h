// SPDX-License-Identifier: GPL-2.0-only
/*
 * watch_rates.h - `smtpmonctl stats --watch`: each counter row of the stats
 * table with its rate per second since the previous table.
 *
 * The table (report.c) is rows "NAME [LABEL=VALUE]  NUMBER", each starting
 * with its family's name; which families are counters comes from the
 * Prometheus exposition of the same daemon ("# TYPE smtpmon_NAME_total
 * counter"). A row is known by everything before its number. A counter row
 * that was not in the previous table was 0 there (the table leaves out
 * labelled rows that are 0). Gauges, and every row of the first table, get
 * no rate; a counter that went down (the daemon restarted) neither.
 */
#ifndef SMTPMON_WATCH_RATES_H
#define SMTPMON_WATCH_RATES_H

#include <stdbool.h>
#include <stdio.h>

struct watch_rates;

/* NULL with a message on stderr when out of memory. */
struct watch_rates *watch_rates_new(void);
void watch_rates_free(struct watch_rates *wr);
/* Learns the counter families from an exposition; false: out of memory. */
bool watch_rates_counters(struct watch_rates *wr, const char *exposition);
/* Writes table to out, each counter row followed by its rate ("  12.5/s"),
 * now_s being the time (any monotonic clock, seconds) the table was taken;
 * remembers the table's values for the next call. false: out of memory. */
bool watch_rates_print(struct watch_rates *wr, const char *table, double now_s, FILE *out);

#endif
