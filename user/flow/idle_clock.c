// SPDX-License-Identifier: GPL-2.0-only
/* idle_clock.c - the clock idle timeouts run on (contract in idle_clock.h). */
#include <string.h>

#include "flow/idle_clock.h"

void idle_clock_init(struct idle_clock *c)
{
	memset(c, 0, sizeof(*c));
}

uint64_t idle_clock_max_step(uint64_t idle_timeout_ns)
{
	return idle_timeout_ns > IDLE_CLOCK_MIN_JUMP_NS ? idle_timeout_ns : IDLE_CLOCK_MIN_JUMP_NS;
}

enum idle_step idle_step_class(uint64_t ref, uint64_t ts, uint64_t max_step)
{
	if (ts >= ref)
		return ts - ref > max_step ? IDLE_STEP_JUMP : IDLE_STEP_TIME;
	return ref - ts > IDLE_CLOCK_JITTER_NS ? IDLE_STEP_BACKWARDS : IDLE_STEP_TIME;
}

enum idle_step idle_clock_observe(struct idle_clock *c, uint64_t ts, uint64_t max_step,
				  uint64_t *size)
{
	enum idle_step kind = IDLE_STEP_TIME;

	if (!c->started) {
		c->started = true;
		c->ref = c->high = ts;
	}
	if (size)
		*size = ts >= c->ref ? ts - c->ref : c->ref - ts;
	kind = idle_step_class(c->ref, ts, max_step);
	switch (kind) {
	case IDLE_STEP_TIME:
		if (ts > c->ref) {
			/* Back on (or past) the timeline left by a step back:
			 * the time up to its highest point was counted then. */
			uint64_t from = ts > c->high && c->high > c->ref ? c->high : c->ref;
			c->now += ts - from;
			c->ref = ts;
		}
		break;
	case IDLE_STEP_BACKWARDS:
		c->backwards++;
		c->ref = ts;
		break;
	case IDLE_STEP_JUMP:
		c->jumps++;
		c->ref = ts;
		break;
	}
	if (ts > c->high)
		c->high = ts;
	return kind;
}
