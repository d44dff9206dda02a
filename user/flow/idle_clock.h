// SPDX-License-Identifier: GPL-2.0-only
/*
 * idle_clock.h - the clock that idle timeouts run on.
 *
 * One job: turn the timestamps a source hands over, in the order it hands
 * them over (packet times from a pcap; live, the kernel's CLOCK_BOOTTIME of
 * each record and of each tick), into a count of nanoseconds that only moves
 * forward, and only by time that plausibly passed. A timestamp from the wrong
 * place (a clock stepped back, a packet stamped in 2106) must never make open
 * connections look idle.
 *
 * Contract, for each observation ts measured against the reference ref (the
 * previous timestamp, or where the last anomaly left it):
 *
 *   ts >= ref, ts - ref <= max_step        time: now += ts - ref, ref = ts
 *   ts <  ref, ref - ts <= IDLE_CLOCK_JITTER_NS
 *                                           reordering: nothing moves, no anomaly
 *   ts <  ref by more than the jitter       IDLE_STEP_BACKWARDS
 *   ts >  ref by more than max_step         IDLE_STEP_JUMP
 *
 *   An anomaly does not move now; ref moves to ts (the source's time goes on
 *   from there) and the clock counts it (backwards, jumps). After a step back,
 *   a step forward that reaches past the highest timestamp seen so far counts
 *   only from that highest one, so a lone timestamp from the past (T, T - 1 h,
 *   T + 1 s) adds 1 s, not an hour.
 *
 * now starts at 0 with the first observation. max_step is the caller's, per
 * observation (a reload can change the idle timeout): idle_clock_max_step()
 * gives the idle timeout, and never less than IDLE_CLOCK_MIN_JUMP_NS, so that
 * a quiet hour in a capture still counts as an hour. What this cannot tell
 * apart: a forward step of up to max_step that is wrong (a packet stamped
 * 30 minutes ahead) is taken as time, and a true gap of more than max_step
 * (a capture quiet for a day) is taken as a jump.
 */
#ifndef SMTPMON_IDLE_CLOCK_H
#define SMTPMON_IDLE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define IDLE_CLOCK_JITTER_NS   1000000000ull		 /* 1 s */
#define IDLE_CLOCK_MIN_JUMP_NS (3600ull * 1000000000ull) /* 1 h */

enum idle_step {
	IDLE_STEP_TIME = 0,  /* time passed (or reordering within the jitter) */
	IDLE_STEP_BACKWARDS, /* back by more than IDLE_CLOCK_JITTER_NS */
	IDLE_STEP_JUMP,	     /* forward by more than max_step */
};

struct idle_clock {
	uint64_t now;  /* idle-clock nanoseconds; never decreases */
	uint64_t ref;  /* the source's timestamp the next step is measured from */
	uint64_t high; /* the highest timestamp seen */
	bool started;
	uint64_t backwards, jumps; /* anomalies seen (not taken as time) */
};

void idle_clock_init(struct idle_clock *c);
/* One timestamp of the source. Returns what the step from the reference was;
 * *size (may be NULL) gets its length in nanoseconds. */
enum idle_step idle_clock_observe(struct idle_clock *c, uint64_t ts, uint64_t max_step,
				  uint64_t *size);
static inline uint64_t idle_clock_now(const struct idle_clock *c)
{
	return c->now;
}
/* max(idle_timeout_ns, IDLE_CLOCK_MIN_JUMP_NS) */
uint64_t idle_clock_max_step(uint64_t idle_timeout_ns);
/* The same classification for one step from ref to ts, without a clock (a
 * connection's own timestamps). */
enum idle_step idle_step_class(uint64_t ref, uint64_t ts, uint64_t max_step);

#endif
