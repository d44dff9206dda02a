// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_idle_clock.c - the clock idle timeouts run on (idle_clock.h): time
 * that passes is counted, reordering within a second is not an anomaly, a
 * step back or a jump ahead moves nothing and is counted, a lone timestamp
 * from the future or the past costs nothing, and on any input the clock never
 * goes back and never counts more than the input's forward steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flow/idle_clock.h"

#define MS  1000000ull
#define SEC 1000000000ull
#define T0  (1700000000ull * SEC)
/* the top of a classic pcap's unsigned 32-bit seconds */
#define TS_MAX	 (0xfffffff0ull * SEC)
#define MAX_STEP IDLE_CLOCK_MIN_JUMP_NS

static enum idle_step see(struct idle_clock *c, uint64_t ts)
{
	return idle_clock_observe(c, ts, MAX_STEP, NULL);
}

static void starts_at_zero_and_counts_time(void **state)
{
	struct idle_clock c;
	(void)state;

	idle_clock_init(&c);
	assert_int_equal(see(&c, T0), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 0);
	assert_int_equal(see(&c, T0 + 10 * MS), IDLE_STEP_TIME);
	assert_int_equal(see(&c, T0 + 300 * SEC), IDLE_STEP_TIME);
	assert_int_equal(see(&c, T0 + 300 * SEC), IDLE_STEP_TIME); /* the same again */
	assert_int_equal(idle_clock_now(&c), 300 * SEC);
	assert_int_equal(c.backwards + c.jumps, 0);
}

static void reordering_within_jitter(void **state)
{
	struct idle_clock c;
	(void)state;

	idle_clock_init(&c);
	see(&c, T0 + 100 * SEC);
	/* two CPUs' records, interleaved a little out of order */
	assert_int_equal(see(&c, T0 + 99 * SEC + 500 * MS), IDLE_STEP_TIME);
	assert_int_equal(see(&c, T0 + 100 * SEC - IDLE_CLOCK_JITTER_NS), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 0);
	/* measured from the highest, not from the late one: 1 s, not 1.5 s */
	assert_int_equal(see(&c, T0 + 101 * SEC), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 1 * SEC);
	assert_int_equal(c.backwards + c.jumps, 0);
}

static void step_back_moves_nothing(void **state)
{
	struct idle_clock c;
	uint64_t size = 0;
	(void)state;

	idle_clock_init(&c);
	see(&c, T0);
	see(&c, T0 + 10 * SEC);
	assert_int_equal(
	    idle_clock_observe(&c, T0 + 10 * SEC - IDLE_CLOCK_JITTER_NS - 1, MAX_STEP, &size),
	    IDLE_STEP_BACKWARDS);
	assert_int_equal(size, IDLE_CLOCK_JITTER_NS + 1);
	assert_int_equal(idle_clock_now(&c), 10 * SEC);
	/* a clock stepped back an hour: time goes on from there */
	assert_int_equal(idle_clock_observe(&c, T0 - 3600 * SEC, MAX_STEP, &size),
			 IDLE_STEP_BACKWARDS);
	assert_int_equal(size, 3600 * SEC + 10 * SEC - IDLE_CLOCK_JITTER_NS - 1);
	assert_int_equal(idle_clock_now(&c), 10 * SEC);
	see(&c, T0 - 3600 * SEC + 200 * SEC);
	assert_int_equal(idle_clock_now(&c), 210 * SEC);
	assert_int_equal(c.backwards, 2);
	assert_int_equal(c.jumps, 0);
}

static void jump_ahead_moves_nothing(void **state)
{
	struct idle_clock c;
	uint64_t size = 0;
	(void)state;

	idle_clock_init(&c);
	see(&c, T0);
	/* max_step exactly is time; a nanosecond more is a jump */
	assert_int_equal(see(&c, T0 + MAX_STEP), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), MAX_STEP);
	assert_int_equal(idle_clock_observe(&c, T0 + 2 * MAX_STEP + 1, MAX_STEP, &size),
			 IDLE_STEP_JUMP);
	assert_int_equal(size, MAX_STEP + 1);
	assert_int_equal(idle_clock_now(&c), MAX_STEP);
	/* the source's time goes on from the jump */
	assert_int_equal(see(&c, T0 + 2 * MAX_STEP + 1 + 5 * SEC), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), MAX_STEP + 5 * SEC);
	assert_int_equal(c.jumps, 1);
	assert_int_equal(c.backwards, 0);
}

/* One packet stamped 0xfffffff0 s in the middle of 2023's traffic. */
static void spike_costs_nothing(void **state)
{
	struct idle_clock c;
	(void)state;

	idle_clock_init(&c);
	see(&c, T0);
	see(&c, T0 + 10 * MS);
	assert_int_equal(see(&c, TS_MAX), IDLE_STEP_JUMP);
	assert_int_equal(see(&c, T0 + 20 * MS), IDLE_STEP_BACKWARDS);
	assert_int_equal(see(&c, T0 + 30 * MS), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 20 * MS);
	assert_int_equal(c.jumps, 1);
	assert_int_equal(c.backwards, 1);
}

/* One packet stamped half an hour early: T, T - 30 min, T + 1 s adds 1 s
 * (the step back to T is shorter than max_step: time, but only from T). */
static void dip_costs_nothing(void **state)
{
	struct idle_clock c;
	(void)state;

	idle_clock_init(&c);
	see(&c, T0);
	see(&c, T0 + 5 * SEC);
	assert_int_equal(see(&c, T0 + 5 * SEC - 1800 * SEC), IDLE_STEP_BACKWARDS);
	assert_int_equal(see(&c, T0 + 6 * SEC), IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 6 * SEC);
	see(&c, T0 + 7 * SEC);
	assert_int_equal(idle_clock_now(&c), 7 * SEC);
	assert_int_equal(c.backwards, 1);
	assert_int_equal(c.jumps, 0);

	/* Two hours early: the way back is longer than max_step, a jump. */
	idle_clock_init(&c);
	see(&c, T0);
	see(&c, T0 + 5 * SEC);
	assert_int_equal(see(&c, T0 + 5 * SEC - 7200 * SEC), IDLE_STEP_BACKWARDS);
	assert_int_equal(see(&c, T0 + 6 * SEC), IDLE_STEP_JUMP);
	see(&c, T0 + 7 * SEC);
	assert_int_equal(idle_clock_now(&c), 6 * SEC);
	assert_int_equal(c.backwards, 1);
	assert_int_equal(c.jumps, 1);
}

static void max_step_follows_timeout(void **state)
{
	(void)state;
	assert_int_equal(idle_clock_max_step(300 * SEC), IDLE_CLOCK_MIN_JUMP_NS);
	assert_int_equal(idle_clock_max_step(IDLE_CLOCK_MIN_JUMP_NS), IDLE_CLOCK_MIN_JUMP_NS);
	assert_int_equal(idle_clock_max_step(100000 * SEC), 100000 * SEC);
	/* a longer timeout lets a longer quiet period count */
	struct idle_clock c;
	idle_clock_init(&c);
	idle_clock_observe(&c, T0, idle_clock_max_step(100000 * SEC), NULL);
	assert_int_equal(
	    idle_clock_observe(&c, T0 + 90000 * SEC, idle_clock_max_step(100000 * SEC), NULL),
	    IDLE_STEP_TIME);
	assert_int_equal(idle_clock_now(&c), 90000 * SEC);
}

static void step_class(void **state)
{
	(void)state;
	assert_int_equal(idle_step_class(T0, T0, MAX_STEP), IDLE_STEP_TIME);
	assert_int_equal(idle_step_class(T0, T0 + MAX_STEP, MAX_STEP), IDLE_STEP_TIME);
	assert_int_equal(idle_step_class(T0, T0 + MAX_STEP + 1, MAX_STEP), IDLE_STEP_JUMP);
	assert_int_equal(idle_step_class(T0, T0 - IDLE_CLOCK_JITTER_NS, MAX_STEP), IDLE_STEP_TIME);
	assert_int_equal(idle_step_class(T0, T0 - IDLE_CLOCK_JITTER_NS - 1, MAX_STEP),
			 IDLE_STEP_BACKWARDS);
	assert_int_equal(idle_step_class(TS_MAX, 0, MAX_STEP), IDLE_STEP_BACKWARDS);
	assert_int_equal(idle_step_class(0, UINT64_MAX, MAX_STEP), IDLE_STEP_JUMP);
}

/* Any sequence: now never decreases, never gains more than one step's
 * forward distance, and every anomaly is counted once. Sorted input with
 * small steps: now is exactly last - first. */
static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static void properties(void **state)
{
	(void)state;
	uint64_t seed = 42;

	for (int round = 0; round < 200; round++) {
		struct idle_clock c;
		uint64_t ts = T0, prev_now = 0, prev_ts = T0, anomalies = 0;
		idle_clock_init(&c);
		see(&c, ts);
		for (int i = 0; i < 500; i++) {
			uint64_t r = lcg(&seed);
			switch (r % 8) {
			case 0: /* far back */
				ts -= r % (1000 * SEC) + 2 * SEC;
				break;
			case 1: /* far ahead */
				ts += MAX_STEP + r % (1000000 * SEC) + 1;
				break;
			case 2: /* a little back */
				ts -= r % IDLE_CLOCK_JITTER_NS;
				break;
			default:
				ts += r % (10 * SEC);
			}
			enum idle_step k = see(&c, ts);
			assert_true(idle_clock_now(&c) >= prev_now);
			assert_true(idle_clock_now(&c) - prev_now <=
				    (ts > prev_ts ? ts - prev_ts : 0));
			assert_true(idle_clock_now(&c) - prev_now <= MAX_STEP);
			anomalies += k != IDLE_STEP_TIME;
			prev_now = idle_clock_now(&c);
			prev_ts = ts;
		}
		assert_int_equal(c.backwards + c.jumps, anomalies);
	}
	struct idle_clock c;
	idle_clock_init(&c);
	uint64_t ts = T0;
	see(&c, ts);
	for (int i = 0; i < 10000; i++)
		see(&c, ts += lcg(&seed) % (60 * SEC));
	assert_int_equal(idle_clock_now(&c), ts - T0);
	assert_int_equal(c.backwards + c.jumps, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(starts_at_zero_and_counts_time),
	    cmocka_unit_test(reordering_within_jitter),
	    cmocka_unit_test(step_back_moves_nothing),
	    cmocka_unit_test(jump_ahead_moves_nothing),
	    cmocka_unit_test(spike_costs_nothing),
	    cmocka_unit_test(dip_costs_nothing),
	    cmocka_unit_test(max_step_follows_timeout),
	    cmocka_unit_test(step_class),
	    cmocka_unit_test(properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
