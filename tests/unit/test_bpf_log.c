// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_bpf_log - why a load failed, in a few lines: a program the verifier refuses
 * (tests/unit/rejected.bpf.c) is loaded the way capture.c loads smtpmon's, and what
 * bpf_log_print_reason() writes must be libbpf's "load failed" line and the last lines of
 * the verifier's log, the offending access among them. Also: the kept text stays bounded
 * and keeps the newest part. Loading needs root (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/libbpf.h>

#include "capture/bpf_log.h"
#include "rejected.skel.h"

/* What fn writes to stderr, NUL-terminated (caller frees). */
static char *stderr_of(size_t (*fn)(void), size_t *ret)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *text = calloc(1, 65536);

	assert_non_null(tmp);
	assert_non_null(text);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	*ret = fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	fread(text, 1, 65535, tmp);
	fclose(tmp);
	return text;
}

static void test_verifier_reason(void **state)
{
	(void)state;
	struct rejected_bpf *skel;
	size_t lines;
	char *out;

	if (geteuid() != 0)
		skip();
	bpf_log_start(false);
	skel = rejected_bpf__open();
	assert_non_null(skel);
	assert_true(rejected_bpf__load(skel) < 0);
	rejected_bpf__destroy(skel);
	assert_non_null(strstr(bpf_log_kept(), "-- END PROG LOAD LOG --"));

	out = stderr_of(bpf_log_print_reason, &lines);
	printf("%s", out);
	assert_int_equal(lines, 1 + BPF_LOG_REASON_LINES);
	assert_non_null(strstr(out, "smtpmon:   libbpf: prog 'rejected': BPF program load failed"));
	/* The verifier names the access it refused (6.1: "R1 unbounded memory access",
	 * later kernels the same or "invalid access to map value"). */
	assert_true(strstr(out, "unbounded memory access") ||
		    strstr(out, "invalid access to map value"));
	assert_null(strstr(out, "END PROG LOAD LOG"));
	free(out);
}

/* Calls the installed libbpf print function, as libbpf would. */
static void warn(libbpf_print_fn_t fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fn(LIBBPF_WARN, fmt, ap);
	va_end(ap);
}

static void test_bounded_newest_kept(void **state)
{
	(void)state;
	libbpf_print_fn_t fn;
	char *big = malloc(3 * BPF_LOG_KEEP);
	size_t lines;
	char *out;

	assert_non_null(big);
	bpf_log_start(false);
	fn = libbpf_set_print(NULL);
	libbpf_set_print(fn);
	memset(big, 'x', 3 * BPF_LOG_KEEP - 1);
	big[3 * BPF_LOG_KEEP - 1] = '\0';
	warn(fn, "libbpf: first\n");
	warn(fn, "%s\n", big);
	warn(fn, "libbpf: last warning %d\n", 42);
	assert_true(strlen(bpf_log_kept()) <= BPF_LOG_KEEP);
	assert_null(strstr(bpf_log_kept(), "first"));
	out = stderr_of(bpf_log_print_reason, &lines);
	assert_int_equal(lines, 1);
	assert_string_equal(out, "smtpmon:   libbpf: last warning 42\n");
	free(out);
	free(big);
}

static void test_nothing_said(void **state)
{
	(void)state;
	size_t lines;
	char *out;

	bpf_log_start(false);
	out = stderr_of(bpf_log_print_reason, &lines);
	assert_int_equal(lines, 0);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verifier_reason),
	    cmocka_unit_test(test_bounded_newest_kept),
	    cmocka_unit_test(test_nothing_said),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
