// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ring_wake.c - when a record wakes the ring buffer's reader
 * (bpf/ring_wake.bpf.h), compiled here as plain C. A body record wakes it
 * only when the fill level crosses a multiple of wakeup_bytes; any other
 * record forces a wake-up when unread records wait before it (the kernel's
 * default would not wake a reader that is behind: the lines after a skipped
 * body waited for the poll timeout, and a 4 KB ring overflowed meanwhile),
 * and keeps the default when the reader has read everything before it.
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
	assert_int_equal(ring_wake_flags(112, 100, false, QUARTER), 0); /* caught up: default */
	assert_int_equal(ring_wake_flags(113, 100, false, QUARTER), BPF_RB_FORCE_WAKEUP);
	assert_int_equal(ring_wake_flags(5000, 100, false, QUARTER), BPF_RB_FORCE_WAKEUP);
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

/* Without wakeup_bytes (a test harness that drains by hand) bulk records
 * are woken like the others. */
static void test_no_wakeup_bytes(void **state)
{
	(void)state;
	assert_int_equal(ring_wake_flags(16456, 16448, true, 0), 0);
	assert_int_equal(ring_wake_flags(40000, 16448, true, 0), BPF_RB_FORCE_WAKEUP);
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
