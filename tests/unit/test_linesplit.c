// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_linesplit.c - the line splitter against hand-written cases and against
 * a byte-at-a-time model written directly from the rules of Zeek's
 * ContentLine analyzer as user/smtp/linesplit.h states them (plus smtpmon's
 * cut-and-drop rule for over-long lines), on pseudo-random inputs cut into
 * pseudo-random deliveries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/linesplit.h"

/* Output of a run: each line as "[bytes]" preceded by the flags raised since
 * the previous line ("N" NUL removed, "C" single CR, "X" cut), one per text
 * line; flags after the last line end the text. */
struct out {
	char text[1 << 16];
	size_t len;
	unsigned pending;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	assert_true(o->len + n < sizeof(o->text));
	memcpy(o->text + o->len, s, n);
	o->len += n;
	o->text[o->len] = '\0';
}

static void out_flags(struct out *o)
{
	if (o->pending & LS_NUL_REMOVED)
		out_put(o, "N", 1);
	if (o->pending & LS_SINGLE_CR)
		out_put(o, "C", 1);
	if (o->pending & LS_SIZE_EXCEEDED)
		out_put(o, "X", 1);
	o->pending = 0;
}

static void out_line(struct out *o, const uint8_t *p, size_t n)
{
	out_flags(o);
	out_put(o, "[", 1);
	for (size_t i = 0; i < n; i++) {
		char buf[8];

		if (p[i] >= 0x20 && p[i] < 0x7f)
			out_put(o, (const char *)&p[i], 1);
		else
			out_put(o, buf, (size_t)snprintf(buf, sizeof(buf), "\\x%02x", p[i]));
	}
	out_put(o, "]\n", 2);
}

/* ---- the real splitter ---------------------------------------------------- */

/* Splits data delivered in pieces of the given sizes (0-terminated list,
 * the last piece takes the rest), then flushes. */
/* The lines of a run linesplit_plain_run() vouched for, cut here by hand:
 * each ends in LF, a CR before it belongs to the terminator. */
static void out_plain_run(struct out *o, const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *lf = memchr(p, '\n', n);
		size_t len;

		assert_non_null(lf); /* a run is whole lines */
		len = (size_t)(lf - p);
		out_line(o, p, len && p[len - 1] == '\r' ? len - 1 : len);
		n -= len + 1;
		p = lf + 1;
	}
}

/* Splits data delivered in pieces of the given sizes (0-terminated list,
 * the last piece takes the rest), then flushes. With plain_runs, runs of
 * plain lines are taken by linesplit_plain_run() first, as smtp.c does in
 * a message body. */
static void run_split(struct out *o, size_t max, const uint8_t *data, size_t len,
		      const size_t *pieces, bool plain_runs)
{
	struct linesplit ls;
	struct bytes line;

	linesplit_init(&ls, max);
	while (len > 0) {
		size_t n = *pieces ? *pieces++ : len;
		const uint8_t *p = data;
		size_t left = n > len ? len : n;

		data += left;
		len -= left;
		while (left > 0) {
			unsigned flags = 0;
			bool got;

			if (plain_runs) {
				size_t run = linesplit_plain_run(&ls, p, left);

				out_plain_run(o, p, run);
				p += run;
				left -= run;
				if (!left)
					break;
			}
			got = linesplit_next(&ls, &p, &left, &line, &flags);

			o->pending |= flags;
			if (got)
				out_line(o, line.ptr, line.len);
		}
	}
	if (linesplit_flush(&ls, &line))
		out_line(o, line.ptr, line.len);
	out_flags(o);
	linesplit_free(&ls);
}

static void run_real(struct out *o, size_t max, const uint8_t *data, size_t len,
		     const size_t *pieces)
{
	run_split(o, max, data, len, pieces, false);
}

/* ---- the model: one byte at a time, straight from the rules --------------- */

static void run_model(struct out *o, size_t max, const uint8_t *data, size_t len)
{
	uint8_t *cur = malloc(max + 1);
	size_t n = 0;
	bool after_cr = false, discarding = false, nul_seen = false;

	assert_non_null(cur);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];

		if (after_cr) {
			after_cr = false;
			if (c == '\n')
				continue; /* second half of CR LF */
			if (c != '\r')
				o->pending |= LS_SINGLE_CR;
		}
		if (c == '\r' || c == '\n') {
			if (!discarding)
				out_line(o, cur, n);
			discarding = false;
			n = 0;
			after_cr = c == '\r';
			continue;
		}
		if (discarding)
			continue;
		if (c == '\0' && !nul_seen) {
			nul_seen = true;
			o->pending |= LS_NUL_REMOVED;
			continue;
		}
		if (n == max) {
			o->pending |= LS_SIZE_EXCEEDED;
			out_line(o, cur, n);
			n = 0;
			discarding = true;
			continue;
		}
		cur[n++] = c;
	}
	if (n > 0 && !discarding)
		out_line(o, cur, n);
	out_flags(o);
	free(cur);
}

/* ---- hand-written cases --------------------------------------------------- */

static void check(size_t max, const char *input, size_t len, const size_t *pieces, const char *want)
{
	struct out *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	run_real(o, max, (const uint8_t *)input, len, pieces);
	assert_string_equal(o->text, want);
	free(o);
}

#define CHECK(max, lit, pieces, want) check(max, lit, sizeof(lit) - 1, pieces, want)

static const size_t whole[] = {0};
static const size_t ones[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};

static void test_terminators(void **state)
{
	(void)state;
	CHECK(64, "a\r\nb\nc\rd", whole, "[a]\n[b]\n[c]\nC[d]\n");
	CHECK(64, "a\r\nb\nc\rd", ones, "[a]\n[b]\n[c]\nC[d]\n");
	/* CR CR LF: a line, then an empty line; no single-CR weird. */
	CHECK(64, "x\r\r\ny\r\n", whole, "[x]\n[]\n[y]\n");
	/* Ends of data with a bare LF or CR (LF.LF, CR.CRLF, LF.CRLF) each give a "." line. */
	CHECK(64, "m\n.\nn\r.\r\nk\n.\r\n", whole, "[m]\n[.]\n[n]\nC[.]\n[k]\n[.]\n");
}

static void test_cr_lf_across_deliveries(void **state)
{
	static const size_t split_after_cr[] = {2, 0};

	(void)state;
	CHECK(64, "a\r\nb\r\n", split_after_cr, "[a]\n[b]\n");
	CHECK(64, "a\r\r\n", split_after_cr, "[a]\n[]\n");
}

static void test_nul(void **state)
{
	(void)state;
	CHECK(64, "a\0b\0c\r\n\0d\r\n", whole, "N[ab\\x00c]\n[\\x00d]\n");
}

static void test_cut(void **state)
{
	static const size_t split[] = {3, 4, 0};

	(void)state;
	CHECK(4, "abcdefg\r\nhi\r\n", whole, "X[abcd]\n[hi]\n");
	CHECK(4, "abcdefg\r\nhi\r\n", split, "X[abcd]\n[hi]\n");
	CHECK(4, "abcd\r\nabcd", ones, "[abcd]\n[abcd]\n");
	/* The tail of a cut line ends at a bare CR; its LF comes later. */
	CHECK(4, "abcdef\r\nxy\r\n", ones, "X[abcd]\n[xy]\n");
}

static void test_flush_and_gap(void **state)
{
	struct linesplit ls;
	const uint8_t *p = (const uint8_t *)"partial";
	size_t len = 7;
	struct bytes line;
	unsigned flags = 0;

	(void)state;
	linesplit_init(&ls, 64);
	assert_false(linesplit_next(&ls, &p, &len, &line, &flags));
	linesplit_gap(&ls);
	p = (const uint8_t *)"tail\r\nnext\r\nopen";
	len = 16;
	/* The broken line is dropped up to its end. */
	assert_true(linesplit_next(&ls, &p, &len, &line, &flags));
	assert_int_equal(line.len, 4);
	assert_memory_equal(line.ptr, "next", 4);
	assert_false(linesplit_next(&ls, &p, &len, &line, &flags));
	assert_true(linesplit_flush(&ls, &line));
	assert_int_equal(line.len, 4);
	assert_memory_equal(line.ptr, "open", 4);
	assert_false(linesplit_flush(&ls, &line));
	assert_int_equal(flags, 0);
	linesplit_free(&ls);
}

static void test_begin_raw(void **state)
{
	struct linesplit ls;
	const uint8_t *p = (const uint8_t *)"BDAT 3\r";
	size_t len = 7;
	struct bytes line;
	unsigned flags = 0;

	(void)state;
	linesplit_init(&ls, 64);
	assert_true(linesplit_next(&ls, &p, &len, &line, &flags));
	assert_int_equal(linesplit_begin_raw(&ls, (const uint8_t *)"\nabc", 4), 1);
	assert_int_equal(linesplit_begin_raw(&ls, (const uint8_t *)"\nabc", 4), 0);
	assert_int_equal(flags, 0);
	linesplit_free(&ls);
}

/* ---- model comparison ----------------------------------------------------- */

static unsigned rnd_state = 2463534242u;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state % n;
}

static size_t plain_run(size_t max, const char *s, bool carry)
{
	struct linesplit ls;
	const uint8_t *p = (const uint8_t *)"partial";
	size_t left = 7, run;
	struct bytes line;
	unsigned flags = 0;

	linesplit_init(&ls, max);
	if (carry)
		assert_false(linesplit_next(&ls, &p, &left, &line, &flags));
	run = linesplit_plain_run(&ls, (const uint8_t *)s, strlen(s));
	linesplit_free(&ls);
	return run;
}

static void test_plain_run(void **state)
{
	(void)state;
	assert_int_equal(plain_run(100, "ab\r\ncd\nef", false), 7);    /* not the open line */
	assert_int_equal(plain_run(100, "ab\r\n.\r\n", false), 4);     /* the end of DATA */
	assert_int_equal(plain_run(100, "ab\r\n..x\r\n", false), 4);   /* dot-stuffed */
	assert_int_equal(plain_run(100, "ab\r\nc\rd\r\n", false), 4);  /* bare CR */
	assert_int_equal(plain_run(100, "ab\r\ncd\r", false), 4);      /* CR at the end */
	assert_int_equal(plain_run(4, "abcd\r\nabcde\r\n", false), 6); /* over max */
	assert_int_equal(plain_run(100, "ab\r\n", true), 0);	       /* a line carried over */
}

/* 20000 pseudo-random inputs over alphabet (at most 96 bytes), cut into
 * pieces of up to max_piece bytes, split for real (with or without the
 * plain-run fast path) and by the model: the outputs must be equal. */
static void against_model(const uint8_t *alphabet, size_t nalpha, size_t max_len,
			  unsigned max_piece, unsigned max_line, bool plain_runs)
{
	struct out *real = malloc(sizeof(*real)), *model = malloc(sizeof(*model));

	assert_non_null(real);
	assert_non_null(model);
	assert_true(max_len <= 96);
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t data[96];
		size_t pieces[97], np = 0, len = rnd((unsigned)max_len + 1),
				   max = 1 + rnd(max_line);

		for (size_t i = 0; i < len; i++)
			data[i] = alphabet[rnd((unsigned)nalpha)];
		for (size_t left = len; left > 0;) {
			size_t n = 1 + rnd(left < max_piece ? (unsigned)left : max_piece);

			pieces[np++] = n;
			left -= n;
		}
		pieces[np] = 0;
		memset(real, 0, sizeof(*real));
		memset(model, 0, sizeof(*model));
		run_split(real, max, data, len, pieces, plain_runs);
		run_model(model, max, data, len);
		if (strcmp(real->text, model->text)) {
			print_error("iteration %d, max %zu, input:", iter, max);
			for (size_t i = 0; i < len; i++)
				print_error(" %02x", data[i]);
			print_error("\n");
			assert_string_equal(real->text, model->text);
		}
	}
	free(real);
	free(model);
}

static void test_against_model(void **state)
{
	static const uint8_t alphabet[] = {'a', 'b', '.', ' ', '\r', '\n', '\0'};

	(void)state;
	against_model(alphabet, sizeof(alphabet), 64, 10, 8, false);
}

/* Longer lines and pieces, so that runs of plain lines occur. */
static void test_plain_run_against_model(void **state)
{
	static const uint8_t alphabet[] = {'a', 'b', '.', ' ', '\r', '\n', '\n', '\0'};

	(void)state;
	against_model(alphabet, sizeof(alphabet), 96, 30, 12, true);
}

/* linesplit_plain_run() straight from its contract, a line at a time. */
static size_t model_plain_run(size_t max, const uint8_t *data, size_t len)
{
	size_t line = 0;

	while (line < len && data[line] != '.') {
		size_t lf = line, text;

		while (lf < len && data[lf] != '\n' && data[lf] != '\0' &&
		       (data[lf] != '\r' || (lf + 1 < len && data[lf + 1] == '\n')))
			lf++;
		if (lf == len || data[lf] != '\n')
			break;
		text = lf - line - (lf > line && data[lf - 1] == '\r');
		if (text > max)
			break;
		line = lf + 1;
	}
	return line;
}

/* The block scan against the model on inputs that cross many 16-byte blocks: mostly plain
 * lines of random length, with now and then a byte that ends the run. */
static void test_plain_run_blocks_against_model(void **state)
{
	static const uint8_t rare[] = {'.', '\r', '\0', '\n'};
	uint8_t data[300];

	(void)state;
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = rnd(sizeof(data) + 1), max = 1 + rnd(40), got, want;
		struct linesplit ls;

		for (size_t i = 0; i < len; i++) {
			unsigned r = rnd(100);

			data[i] = r < 6	   ? '\n'
				  : r < 9  ? '\r'
				  : r < 10 ? rare[rnd(sizeof(rare))]
					   : 'a';
			if (data[i] == '\n' && i > 0 && rnd(2))
				data[i - 1] = '\r';
		}
		linesplit_init(&ls, max);
		got = linesplit_plain_run(&ls, data, len);
		linesplit_free(&ls);
		want = model_plain_run(max, data, len);
		if (got != want) {
			print_error("iteration %d, max %zu, len %zu:", iter, max, len);
			for (size_t i = 0; i < len; i++)
				print_error(" %02x", data[i]);
			print_error("\n");
			assert_int_equal(got, want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_terminators),
	    cmocka_unit_test(test_cr_lf_across_deliveries),
	    cmocka_unit_test(test_nul),
	    cmocka_unit_test(test_cut),
	    cmocka_unit_test(test_flush_and_gap),
	    cmocka_unit_test(test_begin_raw),
	    cmocka_unit_test(test_against_model),
	    cmocka_unit_test(test_plain_run),
	    cmocka_unit_test(test_plain_run_against_model),
	    cmocka_unit_test(test_plain_run_blocks_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
