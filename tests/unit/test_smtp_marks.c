// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_smtp_marks.c - the landmarks the kernel reads to skip bodies on its own
 * (bpf/smtp_marks.bpf.h), compiled here as plain C: which BDAT commands it
 * takes and with which size and length, and which server bytes end in a 354.
 * A miss only costs copying; taking a wrong size would skip commands, so
 * every form the parser is not sure of must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "smtp_marks.bpf.h"

/* As the probes do: at most BDAT_SCAN bytes copied, the rest zero. */
static bool bdat(const char *s, __u64 *size, __u32 *cmd_len)
{
	char buf[BDAT_SCAN] = {0};
	size_t n = strlen(s) < BDAT_SCAN ? strlen(s) : BDAT_SCAN;

	memcpy(buf, s, n);
	return parse_bdat(buf, (__u32)n, size, cmd_len);
}

static void test_bdat_taken(void **state)
{
	__u64 size = 0;
	__u32 len = 0;

	(void)state;
	assert_true(bdat("BDAT 1000000\r\nchunk bytes", &size, &len));
	assert_int_equal(size, 1000000);
	assert_int_equal(len, 14);
	assert_true(bdat("bdat 500000 last\r\n", &size, &len));
	assert_int_equal(size, 500000);
	assert_int_equal(len, 18);
	assert_true(bdat("BdAt 0 LAST\r\n", &size, &len));
	assert_int_equal(size, 0);
	assert_int_equal(len, 13);
	assert_true(bdat("BDAT 9999999999 LAST\r\n", &size, &len));
	assert_int_equal(size, 9999999999ull);
	assert_int_equal(len, 22);
}

static void test_bdat_refused(void **state)
{
	static const char *const forms[] = {
	    "BDAT\r\n",		       /* no size */
	    "BDAT 12",		       /* no line end yet */
	    "BDAT 12\r",	       /* half a line end */
	    "BDAT 12\n",	       /* a bare LF: user space decides */
	    "BDAT  12\r\n",	       /* two spaces */
	    "BDAT 12 \r\n",	       /* a space before the line end */
	    "BDAT 12x\r\n",	       /* junk after the digits */
	    "BDAT 12 LASTX\r\n",       /* another word */
	    "BDAT 12 LAS\r\n",	       /* a cut LAST */
	    "BDAT 99999999999\r\n",    /* 11 digits */
	    "BDAT -1\r\n",	       /* a sign */
	    "BDATA 12\r\n",	       /* another verb */
	    "DATA\r\n",		       /* DATA */
	    " BDAT 12\r\n",	       /* not at the start */
	    "MAIL FROM:<a@b>\r\nBDAT", /* pipelined before it */
	};
	__u64 size = 7;
	__u32 len = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (bdat(forms[i], &size, &len))
			fail_msg("taken: \"%s\"", forms[i]);
		assert_int_equal(size, 7);
		assert_int_equal(len, 7);
	}
}

/* The last n bytes (at most GO_AHEAD_SCAN) of what the server sent. */
static bool go_ahead(const char *s)
{
	char buf[GO_AHEAD_SCAN] = {0};
	size_t len = strlen(s), n = len < GO_AHEAD_SCAN ? len : GO_AHEAD_SCAN;

	memcpy(buf, s + len - n, n);
	return is_go_ahead(buf, (__u32)n, n == len);
}

static void test_go_ahead(void **state)
{
	(void)state;
	assert_true(go_ahead("354 End data with <CR><LF>.<CR><LF>\r\n"));
	assert_true(go_ahead("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"));
	assert_true(go_ahead("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
			     "354 Start mail input; end with <CRLF>.<CRLF>\r\n"));
	assert_false(go_ahead("354 go ahead\r\n250 2.0.0 Ok\r\n"));
	assert_false(go_ahead("250 2.0.0 Ok: queued as 4Xk9\r\n"));
	assert_false(go_ahead("2354 no\r\n"));
	/* A last line longer than the window: its start is not seen. */
	assert_false(go_ahead("354 a very long go-ahead text, longer than the sixty-four bytes "
			      "the kernel reads back\r\n"));
	assert_false(go_ahead("354\r\n")); /* shorter than a reply the kernel reads */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bdat_taken),
	    cmocka_unit_test(test_bdat_refused),
	    cmocka_unit_test(test_go_ahead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
