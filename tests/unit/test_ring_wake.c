// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ring_wake.c - when a record wakes the ring buffer's reader
 * (bpf/ring_wake.bpf.h), compiled here as plain C. Any record that crosses a
 * multiple of wakeup_bytes forces a wake-up (small records too: behind unread
 * body records they used not to wake a sleeping reader, and a 4 KB ring
 * overflowed); otherwise a body record does not wake it and any other keeps
 * the kernel's default (never a forced wake-up per record: an interrupt each).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "ring_wake.bpf.h"

#define QUARTER (8u << 20) /* of the default 32 MB ring */

/* A 100-byte record takes 112 bytes of the ring (8-byte header, rounded). */
static void test_small_record(void **state)
{
	(void)state;
	assert_int_equal(ring_wake_flags(112, 100, false, QUARTER), 0);	 /* caught up */
	assert_int_equal(ring_wake_flags(5000, 100, false, QUARTER), 0); /* behind: default */
	assert_int_equal(ring_wake_flags(QUARTER + 50, 100, false, QUARTER), BPF_RB_FORCE_WAKEUP);
	assert_int_equal(ring_wake_flags(QUARTER + 112, 100, false, QUARTER), 0);
}

static void test_bulk_record(void **state)
{
	(void)state;
	/* 16 KB + a 64-byte header: 16456 bytes of the ring. */
	assert_int_equal(ring_wake_flags(16456, 16448, true, QUARTER), BPF_RB_NO_WAKEUP);
	assert_int_equal(ring_wake_flags(QUARTER - 1, 16448, true, QUARTER), BPF_RB_NO_WAKEUP);
	assert_int_equal(ring_wake_flags(QUARTER, 16448, true, QUARTER), BPF_RB_FORCE_WAKEUP);
	assert_int_equal(ring_wake_flags(QUARTER + 16455, 16448, true, QUARTER),
			 BPF_RB_FORCE_WAKEUP);
	assert_int_equal(ring_wake_flags(QUARTER + 16456, 16448, true, QUARTER), BPF_RB_NO_WAKEUP);
	assert_int_equal(ring_wake_flags(3 * QUARTER + 5, 16448, true, QUARTER),
			 BPF_RB_FORCE_WAKEUP);
}

/* Without wakeup_bytes (a test harness that drains by hand): the default. */
static void test_no_wakeup_bytes(void **state)
{
	(void)state;
	assert_int_equal(ring_wake_flags(16456, 16448, true, 0), 0);
	assert_int_equal(ring_wake_flags(40000, 100, false, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_record),
	    cmocka_unit_test(test_bulk_record),
	    cmocka_unit_test(test_no_wakeup_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
