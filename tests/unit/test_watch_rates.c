// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_watch_rates.c - `smtpmonctl stats --watch`'s rates: counters learnt from the
 * exposition, a rate per second on each counter row from the second table on, none on
 * gauges, a labelled row absent before counted from 0, none after a counter went down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/watch_rates.h"

static const char exposition[] =
    "# HELP smtpmon_uptime_seconds Seconds since the daemon started\n"
    "# TYPE smtpmon_uptime_seconds gauge\n"
    "smtpmon_uptime_seconds 3\n"
    "# HELP smtpmon_segments_total TCP segments handed to the pipeline\n"
    "# TYPE smtpmon_segments_total counter\n"
    "smtpmon_segments_total 10\n"
    "# TYPE smtpmon_commands_total counter\n"
    "# TYPE smtpmon_connections_open gauge\n";

/* The table printed for one round, as a string. */
static char *round_of(struct watch_rates *wr, const char *table, double now)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_non_null(mem);
	assert_true(watch_rates_print(wr, table, now, mem));
	assert_int_equal(fclose(mem), 0);
	return text;
}

static void test_rates(void **state)
{
	struct watch_rates *wr = watch_rates_new();
	char *out, want[512];

	(void)state;
	assert_non_null(wr);
	assert_true(watch_rates_counters(wr, exposition));
	out = round_of(wr,
		       "uptime_seconds   3\n"
		       "segments   100\n"
		       "commands verb=EHLO   4\n"
		       "connections_open   2\n",
		       10.0);
	/* the first table: as it is */
	assert_string_equal(out, "uptime_seconds   3\n"
				 "segments   100\n"
				 "commands verb=EHLO   4\n"
				 "connections_open   2\n");
	free(out);
	out = round_of(wr,
		       "uptime_seconds   5\n"
		       "segments   300\n"
		       "commands verb=EHLO   5\n"
		       "commands verb=MAIL   3\n"
		       "connections_open   7\n",
		       12.0);
	/* rates after column 76; MAIL was 0 (left out) before */
	snprintf(want, sizeof(want),
		 "uptime_seconds   5\n%-76s %12s/s\n%-76s %12s/s\n%-76s %12s/s\n"
		 "connections_open   7\n",
		 "segments   300", "100.0", "commands verb=EHLO   5", "0.5",
		 "commands verb=MAIL   3", "1.5");
	assert_string_equal(out, want);
	free(out);
	/* the daemon restarted: a counter that went down has no rate */
	out = round_of(wr, "segments   7\n", 13.0);
	assert_string_equal(out, "segments   7\n");
	free(out);
	watch_rates_free(wr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
