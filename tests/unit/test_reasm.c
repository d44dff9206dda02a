// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_reasm.c - TCP reassembly of one direction: ordering, overlaps,
 * wrap-around, gaps, limits. The recorder checks every callback against the
 * stream position it implies, and the randomised tests compare the output
 * with the original byte stream (the oracle is the generator, not reasm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow/reasm.h"

#define MAX_OUT	 (1 << 16)
#define MAX_GAPS 64

struct gap {
	uint64_t off, len;
};

struct recorder {
	uint8_t out[MAX_OUT]; /* delivered bytes; NULL deliveries as '?' */
	size_t out_len;
	uint64_t pos;		   /* stream offset implied by the callbacks so far */
	struct gap gaps[MAX_GAPS]; /* the first ones */
	size_t ngaps;
	size_t deliveries, null_deliveries;
	const uint8_t *last_ptr;
	const uint8_t *truth; /* when set, delivered bytes must equal truth[pos...] */
	uint64_t mismatches;
};

static void rec_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct recorder *rc = ctx;

	assert_true(len > 0);
	rc->deliveries++;
	rc->last_ptr = data;
	if (!data)
		rc->null_deliveries++;
	for (size_t i = 0; data && i < len; i++) {
		if (rc->truth && data[i] != rc->truth[rc->pos + i])
			rc->mismatches++;
		if (rc->out_len < MAX_OUT)
			rc->out[rc->out_len++] = data[i];
	}
	for (size_t i = 0; !data && i < len && rc->out_len < MAX_OUT; i++)
		rc->out[rc->out_len++] = '?';
	rc->pos += len;
}

static void rec_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct recorder *rc = ctx;

	assert_int_equal(off, rc->pos); /* gaps arrive in stream order */
	assert_true(len > 0);
	if (rc->ngaps < MAX_GAPS)
		rc->gaps[rc->ngaps] = (struct gap){off, len};
	rc->ngaps++;
	rc->pos += len;
}

static const struct reasm_ops rec_ops = {.deliver = rec_deliver, .gap = rec_gap};

struct fixture {
	struct recorder rc;
	size_t total;
	struct reasm *r;
};

static struct fixture *fixture_new(size_t max_buffer)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->r = reasm_new(&rec_ops, &f->rc, max_buffer, &f->total);
	assert_non_null(f->r);
	return f;
}

static void fixture_free(struct fixture *f)
{
	reasm_free(f->r);
	assert_int_equal(f->total, 0); /* every buffered byte given back */
	free(f);
}

static void seg(struct fixture *f, uint32_t seq, const char *s)
{
	reasm_segment(f->r, seq, (const uint8_t *)s, strlen(s), false, 0);
}

static void assert_out(const struct fixture *f, const char *want)
{
	assert_int_equal(f->rc.out_len, strlen(want));
	assert_memory_equal(f->rc.out, want, f->rc.out_len);
}

static void test_in_order_zero_copy(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	const char *hello = "hello ", *world = "world";

	reasm_segment(f->r, 1000, NULL, 0, true, 0);
	reasm_segment(f->r, 1001, (const uint8_t *)hello, 6, false, 0);
	assert_ptr_equal(f->rc.last_ptr, hello); /* straight from the segment */
	reasm_segment(f->r, 1007, (const uint8_t *)world, 5, false, 0);
	assert_ptr_equal(f->rc.last_ptr, world);
	assert_out(f, "hello world");
	assert_int_equal(f->rc.deliveries, 2);
	assert_int_equal(reasm_stats(f->r)->delivered, 11);
	assert_int_equal(reasm_stream_bytes(f->r), 11);
	assert_int_equal(reasm_buffered(f->r), 0);
	fixture_free(f);
}

static void test_out_of_order(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 99, NULL, 0, true, 0);
	seg(f, 107, "hij");
	seg(f, 104, "efg");
	assert_int_equal(f->rc.out_len, 0);
	assert_true(reasm_buffered(f->r) >= 6);
	assert_int_equal(f->total, reasm_buffered(f->r));
	seg(f, 100, "abcd");
	assert_out(f, "abcdefghij");
	assert_int_equal(reasm_buffered(f->r), 0);
	assert_int_equal(f->total, 0);
	assert_int_equal(f->rc.ngaps, 0);
	assert_true(reasm_stats(f->r)->buffered_peak >= 6);
	fixture_free(f);
}

static void test_retransmission_identical(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "abcdef");
	seg(f, 1, "abcdef");
	seg(f, 3, "cdefgh"); /* half old, half new */
	assert_out(f, "abcdefgh");
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 10);
	assert_int_equal(reasm_stats(f->r)->inconsistent, 0);
	fixture_free(f);
}

static void test_retransmission_inconsistent_delivered(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "MAIL FROM:<a@b>\r\n");
	seg(f, 1, "RCPT TO:<evil@x>\r\n"); /* same range, different bytes */
	assert_out(f, "MAIL FROM:<a@b>\r\n" /* first copy wins */ "\n");
	assert_int_equal(reasm_stats(f->r)->inconsistent, 1);
	fixture_free(f);
}

static void test_retransmission_inconsistent_buffered(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 6, "world");
	seg(f, 6, "WORLD");   /* same start and length: the buffered copy stays */
	seg(f, 4, "xxWOr!!"); /* starts first: its copy replaces the buffered one */
	assert_int_equal(f->rc.out_len, 0);
	seg(f, 1, "hel");
	assert_out(f, "helxxWOr!!");
	assert_int_equal(reasm_stats(f->r)->inconsistent, 2);
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 5 + 5);
	fixture_free(f);
}

/* The shapes of tests/live/test_overlap_linux.sh, with the copy a Linux
 * receiver kept there (the server's reply named it): the reassembler must
 * keep the same one and report both copies. */
struct overlap_piece {
	uint32_t off;
	const char *data;
};

struct overlap_report {
	uint64_t off;
	char kept[REASM_DIFF_MAX + 1], other[REASM_DIFF_MAX + 1];
	size_t n;
};

static void rec_inconsistent(void *ctx, uint64_t off, const uint8_t *kept, const uint8_t *other,
			     size_t len)
{
	struct overlap_report *rep = (struct overlap_report *)((struct recorder *)ctx + 1);

	assert_true(len > 0 && len <= REASM_DIFF_MAX);
	if (rep->n++ == 0) {
		rep->off = off;
		memcpy(rep->kept, kept, len);
		memcpy(rep->other, other, len);
	}
}

static const struct reasm_ops rec_overlap_ops = {
    .deliver = rec_deliver, .gap = rec_gap, .inconsistent = rec_inconsistent};

static void test_overlap_linux_shapes(void **state)
{
	(void)state;
#define G "RCPT TO:<good@lab.example>\r\n"
#define E "RCPT TO:<evil@lab.example>\r\n"
	static const struct {
		const char *name;
		struct overlap_piece pieces[3];
		const char *want;
	} shapes[] = {
	    {"ofo-then-inorder", {{1, E + 1}, {0, G}}, G},
	    {"same-start", {{1, E + 1}, {1, G + 1}, {0, "R"}}, E},
	    {"earlier-start", {{9, E + 9}, {1, G + 1}, {0, "R"}}, G},
	    {"later-start", {{1, E + 1}, {9, G + 9}, {0, "R"}}, E},
	    {"rexmit-delivered", {{0, G}, {0, E}}, G},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct {
			struct recorder rc;
			struct overlap_report rep;
		} *ctx = calloc(1, sizeof(*ctx));
		size_t total = 0;
		struct reasm *r = reasm_new(&rec_overlap_ops, ctx, 4096, &total);

		assert_non_null(r);
		reasm_segment(r, 999, NULL, 0, true, 0);
		for (size_t j = 0; j < 3 && shapes[i].pieces[j].data; j++)
			reasm_segment(r, 1000 + shapes[i].pieces[j].off,
				      (const uint8_t *)shapes[i].pieces[j].data,
				      strlen(shapes[i].pieces[j].data), false, 0);
		print_message("%s\n", shapes[i].name);
		assert_int_equal(ctx->rc.out_len, strlen(shapes[i].want));
		assert_memory_equal(ctx->rc.out, shapes[i].want, ctx->rc.out_len);
		assert_int_equal(reasm_stats(r)->inconsistent, 1);
		assert_int_equal(ctx->rep.n, 1);
		/* From the overlap's start: the difference is 16 bytes into it. */
		assert_true(ctx->rep.off <= 9);
		assert_string_equal(ctx->rep.kept, shapes[i].want + ctx->rep.off);
		assert_string_equal(ctx->rep.other,
				    (shapes[i].want[9] == 'g' ? E : G) + ctx->rep.off);
		reasm_free(r);
		assert_int_equal(total, 0);
		free(ctx);
	}
#undef G
#undef E
}

static void test_hole_filler_spans_buffered(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	const char *big = "0123456789ABCDEF";

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 5, "4567");
	seg(f, 11, "AB");
	reasm_segment(f->r, 1, (const uint8_t *)big, 16, false, 0);
	assert_out(f, big);
	assert_int_equal(reasm_stats(f->r)->inconsistent, 0);
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 6);
	assert_int_equal(reasm_buffered(f->r), 0);
	fixture_free(f);
}

static void test_wraparound(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	uint32_t isn = 0xfffffff8u;

	reasm_segment(f->r, isn, NULL, 0, true, 0);
	/* offsets 0..6 before 2^32, 7.. after; sent out of order */
	seg(f, isn + 1 + 12, "mnop");
	seg(f, isn + 1 + 6, "ghijkl"); /* crosses 2^32 */
	seg(f, isn + 1, "abcdef");
	assert_out(f, "abcdefghijklmnop");
	/* a peer ACK beyond the wrap is measured in stream offsets */
	reasm_peer_ack(f->r, isn + 1 + 20);
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 16);
	assert_int_equal(f->rc.gaps[0].len, 4);
	assert_int_equal(reasm_stream_bytes(f->r), 20);
	fixture_free(f);
}

static void test_long_stream_wraps_many_times(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1 << 20);
	static uint8_t chunk[1 << 16];
	uint32_t seq = 12345;

	/* 3 * 2^32 bytes of length-only data (nothing copied), in order */
	reasm_segment(f->r, seq - 1, NULL, 0, true, 0);
	for (uint64_t sent = 0; sent < 3ull << 32; sent += 1u << 30, seq += 1u << 30)
		reasm_segment(f->r, seq, NULL, 1u << 30, false, 0);
	assert_int_equal(reasm_stats(f->r)->delivered, 3ull << 32);
	/* then real data, one out of order */
	memset(chunk, 'x', sizeof(chunk));
	reasm_segment(f->r, seq + 100, chunk, 100, false, 0);
	reasm_segment(f->r, seq, chunk, 100, false, 0);
	assert_int_equal(reasm_stats(f->r)->delivered, (3ull << 32) + 200);
	assert_int_equal(f->rc.ngaps, 0);
	assert_int_equal(reasm_stream_bytes(f->r), (3ull << 32) + 200);
	fixture_free(f);
}

static void test_no_syn_start(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	seg(f, 5000, "250 ok\r\n"); /* first byte seen is offset 0 */
	seg(f, 4990, "old stuff!");
	seg(f, 4995, "xxxxx250 "); /* 5 bytes before the base, 4 duplicates */
	seg(f, 5008, "more");
	assert_out(f, "250 ok\r\nmore");
	assert_int_equal(reasm_stats(f->r)->before_base, 15);
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 4);
	assert_int_equal(f->rc.ngaps, 0);
	fixture_free(f);
}

static void test_base_from_peer_ack(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	/* mid-connection: the peer's ACK says where this direction stands;
	 * the first segment we see comes after a lost one */
	reasm_peer_ack(f->r, 7000);
	seg(f, 7004, "efgh");
	assert_int_equal(f->rc.out_len, 0);
	seg(f, 7000, "abcd");
	assert_out(f, "abcdefgh");
	fixture_free(f);
}

static void test_one_sided_acks(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	/* only the peer is captured: its ACKs move along, never a gap */
	reasm_peer_ack(f->r, 100);
	reasm_peer_ack(f->r, 150);
	reasm_peer_ack(f->r, 120); /* old */
	reasm_peer_ack(f->r, 300);
	assert_int_equal(f->rc.ngaps, 0);
	assert_int_equal(reasm_stream_bytes(f->r), 0);
	seg(f, 300, "late");
	assert_out(f, "late");
	/* once a segment was seen, ACKs beyond it are gaps again */
	reasm_peer_ack(f->r, 310);
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 4);
	assert_int_equal(f->rc.gaps[0].len, 6);
	fixture_free(f);
}

static void test_lost_before(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "abc");
	reasm_segment(f->r, 14, (const uint8_t *)"xyz", 3, false, 10);
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 3);
	assert_int_equal(f->rc.gaps[0].len, 10);
	assert_out(f, "abcxyz");
	/* the lost bytes arriving late (impossible on the wire, but hostile
	 * input) are duplicates now */
	seg(f, 4, "0123456789");
	assert_out(f, "abcxyz");
	/* a loss after a hole that may still be filled waits for it */
	reasm_segment(f->r, 30, (const uint8_t *)"!", 1, false, 5);
	assert_int_equal(f->rc.ngaps, 1);
	seg(f, 17, "ABCDEFGH"); /* offsets 16..23, loss 24..28, "!" at 29 */
	assert_int_equal(f->rc.ngaps, 2);
	assert_int_equal(f->rc.gaps[1].off, 24);
	assert_int_equal(f->rc.gaps[1].len, 5);
	assert_out(f, "abcxyzABCDEFGH!");
	assert_int_equal(reasm_stats(f->r)->gap_bytes, 15);
	assert_int_equal(reasm_stats(f->r)->gaps, 2);
	fixture_free(f);
}

static void test_lost_before_first_segment(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 100, (const uint8_t *)"abc", 3, false, 40);
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 0);
	assert_int_equal(f->rc.gaps[0].len, 40);
	assert_out(f, "abc");
	fixture_free(f);
}

static void test_peer_ack_gap(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "abcde");
	seg(f, 11, "klmno");	 /* 5..9 missing */
	reasm_peer_ack(f->r, 6); /* acks only what we delivered: nothing */
	assert_int_equal(f->rc.ngaps, 0);
	reasm_peer_ack(f->r, 3); /* old ACK */
	assert_int_equal(f->rc.ngaps, 0);
	reasm_peer_ack(f->r, 21); /* peer got 5..9 and 15..19 we never saw */
	assert_int_equal(f->rc.ngaps, 2);
	assert_int_equal(f->rc.gaps[0].off, 5);
	assert_int_equal(f->rc.gaps[0].len, 5);
	assert_int_equal(f->rc.gaps[1].off, 15);
	assert_int_equal(f->rc.gaps[1].len, 5);
	assert_out(f, "abcdeklmno");
	/* data for the range given up on is discarded */
	seg(f, 6, "FGHIJ");
	assert_out(f, "abcdeklmno");
	seg(f, 21, "uv");
	assert_out(f, "abcdeklmnouv");
	/* an ACK one past everything seen may cover a FIN captured later */
	reasm_peer_ack(f->r, 24);
	assert_int_equal(f->rc.ngaps, 2);
	reasm_peer_ack(f->r, 25);
	assert_int_equal(f->rc.ngaps, 3);
	assert_int_equal(f->rc.gaps[2].off, 22);
	assert_int_equal(f->rc.gaps[2].len, 2);
	fixture_free(f);
}

/* Bytes given up on or never copied are not "delivered content": a late
 * copy of them is a duplicate, never an inconsistency. */
static void test_late_copy_of_unseen_bytes(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "abcde");
	reasm_peer_ack(f->r, 11); /* gap 5..9 */
	seg(f, 6, "FGHIJ");
	reasm_segment(f->r, 11, NULL, 4, false, 0); /* 10..13 length-only */
	seg(f, 11, "KLMN");
	assert_out(f, "abcde????");
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 9);
	assert_int_equal(reasm_stats(f->r)->inconsistent, 0);
	fixture_free(f);
}

static void test_buffer_limit(void **state)
{
	(void)state;
	uint8_t stream[1000];
	struct fixture *f = fixture_new(300);

	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 7 + 3);
	f->rc.truth = stream;
	reasm_segment(f->r, 0, NULL, 0, true, 0);
	/* bytes 0..99 never arrive; the rest comes in order behind the hole */
	for (uint32_t off = 100; off < sizeof(stream); off += 100) {
		reasm_segment(f->r, 1 + off, stream + off, 100, false, 0);
		assert_true(reasm_buffered(f->r) <= 300);
	}
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 0);
	assert_int_equal(f->rc.gaps[0].len, 100);
	assert_int_equal(f->rc.mismatches, 0);
	reasm_flush(f->r);
	assert_int_equal(f->rc.pos, sizeof(stream));
	assert_int_equal(f->rc.out_len, 900);
	assert_int_equal(f->rc.mismatches, 0);
	fixture_free(f);
}

static void test_buffer_limit_zero(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 11, "later");
	/* nothing can be buffered: the hole is given up on at once */
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].len, 10);
	assert_out(f, "later");
	fixture_free(f);
}

static void test_range_count_limit(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1 << 30);
	static uint8_t stream[5000];

	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 13);
	f->rc.truth = stream;
	reasm_segment(f->r, 0, NULL, 0, true, 0);
	/* 2000 one-byte ranges with holes between them, room for the bytes:
	 * the number of ranges is capped, the earliest holes given up on */
	for (uint32_t i = 0; i < 2000; i++)
		reasm_segment(f->r, 1 + 1 + 2 * i, stream + 1 + 2 * i, 1, false, 0);
	assert_true(f->rc.ngaps > 0);
	assert_true(f->rc.ngaps < 2000);
	assert_int_equal(f->rc.mismatches, 0);
	assert_true(reasm_buffered(f->r) < 1024 * 64);
	reasm_flush(f->r);
	assert_int_equal(f->rc.ngaps, 2000);
	assert_int_equal(f->rc.out_len, 2000);
	assert_int_equal(f->rc.mismatches, 0);
	fixture_free(f);
}

/* One hole, then 20000 one-byte segments behind it (a 64 KB super-packet cut
 * small): they touch, so they make one range, not 20000; nothing is lost when
 * the hole is filled. */
static void test_touching_pieces_make_one_range(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1 << 20);
	static uint8_t stream[20001];

	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 7 + i / 251);
	f->rc.truth = stream;
	reasm_segment(f->r, 0, NULL, 0, true, 0);
	for (uint32_t i = 1; i < sizeof(stream); i++)
		reasm_segment(f->r, 1 + i, stream + i, 1, false, 0);
	assert_int_equal(f->rc.out_len, 0);
	assert_true(reasm_buffered(f->r) >= 20000);
	assert_true(reasm_buffered(f->r) < 20000 + 20000 / 4 + 1024); /* room, not nodes */
	reasm_segment(f->r, 1, stream, 1, false, 0);
	assert_int_equal(f->rc.ngaps, 0);
	assert_int_equal(f->rc.out_len, sizeof(stream));
	assert_int_equal(f->rc.mismatches, 0);
	assert_int_equal(reasm_buffered(f->r), 0);
	fixture_free(f);
}

/* With as many holes as a direction may hold, a piece touching the last
 * range still joins it: no hole is given up for it. */
static void test_touching_piece_at_the_range_cap(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1 << 30);
	static uint8_t stream[2 * 1024 + 2];

	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 13);
	f->rc.truth = stream;
	reasm_segment(f->r, 0, NULL, 0, true, 0);
	for (uint32_t i = 1; i <= 1024; i++) /* bytes 2, 4, ..., 2048: holes before each */
		reasm_segment(f->r, 1 + 2 * i, stream + 2 * i, 1, false, 0);
	assert_int_equal(f->rc.ngaps, 0);
	reasm_segment(f->r, 1 + 2049, stream + 2049, 1, false, 0);
	assert_int_equal(f->rc.ngaps, 0);
	assert_int_equal(f->rc.out_len, 0);
	fixture_free(f);
}

static void test_flush(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "ab");
	seg(f, 11, "kl");
	seg(f, 21, "uv");
	reasm_segment(f->r, 31, NULL, 0, false, 0); /* e.g. a FIN at offset 30 */
	assert_out(f, "ab");
	reasm_flush(f->r);
	assert_out(f, "abkluv");
	assert_int_equal(f->rc.ngaps, 3);
	assert_int_equal(f->rc.gaps[0].off, 2);
	assert_int_equal(f->rc.gaps[0].len, 8);
	assert_int_equal(f->rc.gaps[1].off, 12);
	assert_int_equal(f->rc.gaps[2].off, 22);
	assert_int_equal(f->rc.gaps[2].len, 8);
	assert_int_equal(reasm_buffered(f->r), 0);
	reasm_flush(f->r); /* idempotent */
	assert_int_equal(f->rc.ngaps, 3);
	fixture_free(f);
}

static void test_null_payload(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "ok");
	reasm_segment(f->r, 3, NULL, 1000, false, 0);
	assert_null(f->rc.last_ptr);
	reasm_segment(f->r, 2003, NULL, 500, false, 0); /* out of order */
	reasm_segment(f->r, 1003, NULL, 1000, false, 0);
	assert_int_equal(f->rc.null_deliveries, 3);
	assert_int_equal(reasm_stats(f->r)->delivered, 2502);
	assert_int_equal(reasm_buffered(f->r), 0);
	/* a copy of bytes already counted is a duplicate, nothing to compare */
	seg(f, 3, "zz");
	assert_int_equal(reasm_stats(f->r)->inconsistent, 0);
	assert_int_equal(reasm_stats(f->r)->duplicate_bytes, 2);
	fixture_free(f);
}

/* An encrypted flow: the source hands over only the FIN, whose sequence
 * number says how far the stream went; the peer's ACK and the end do the
 * same. Holes are bytes that passed, lost bytes stay gaps. */
static void test_sparse(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	seg(f, 1, "220 go\r\n");
	reasm_set_sparse(f->r);
	assert_int_equal(reasm_seq_at(f->r, 8), 9);
	reasm_segment(f->r, 5009, NULL, 0, false, 0); /* a FIN 5000 bytes later */
	assert_int_equal(f->rc.ngaps, 0);
	assert_int_equal(f->rc.null_deliveries, 1);
	assert_int_equal(f->rc.pos, 5008);
	assert_int_equal(reasm_stream_bytes(f->r), 5008);
	reasm_peer_ack(f->r, 7009); /* acknowledged: passed too */
	assert_int_equal(f->rc.pos, 7008);
	reasm_segment(f->r, 7109, NULL, 10, false, 40); /* 100 passed, 40 of them lost */
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(f->rc.gaps[0].off, 7068);
	assert_int_equal(f->rc.gaps[0].len, 40);
	assert_int_equal(f->rc.pos, 7118);
	/* a copied segment further on: the bytes before it passed */
	seg(f, 7200, "x");
	assert_int_equal(reasm_buffered(f->r), 0);
	assert_int_equal(f->rc.pos, 7200);
	assert_int_equal(f->rc.out[f->rc.out_len - 1], 'x');
	reasm_flush(f->r);
	assert_int_equal(f->rc.ngaps, 1);
	assert_int_equal(reasm_stats(f->r)->gap_bytes, 40);
	fixture_free(f);
}

static void test_absurd_lengths(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);

	reasm_segment(f->r, 0, NULL, 0, true, 0);
	reasm_segment(f->r, 1, NULL, 0x80000001u, false, 0);
	reasm_segment(f->r, 1, NULL, 0xffffffffu, false, 0);
	reasm_segment(f->r, 1, (const uint8_t *)"a", 1, false, 0xfffffff0u);
	assert_int_equal(reasm_stats(f->r)->rejected, 3);
	assert_int_equal(f->rc.deliveries + f->rc.ngaps, 0);
	assert_int_equal(reasm_stream_bytes(f->r), 0);
	seg(f, 1, "fine");
	assert_out(f, "fine");
	fixture_free(f);
}

static void test_shared_total(void **state)
{
	(void)state;
	struct recorder rc1 = {0}, rc2 = {0};
	size_t total = 0;
	struct reasm *a = reasm_new(&rec_ops, &rc1, 4096, &total);
	struct reasm *b = reasm_new(&rec_ops, &rc2, 4096, &total);

	assert_non_null(a);
	assert_non_null(b);
	reasm_segment(a, 0, NULL, 0, true, 0);
	reasm_segment(b, 0, NULL, 0, true, 0);
	reasm_segment(a, 10, (const uint8_t *)"0123456789", 10, false, 0);
	reasm_segment(b, 10, (const uint8_t *)"01234", 5, false, 0);
	assert_int_equal(total, reasm_buffered(a) + reasm_buffered(b));
	assert_true(reasm_buffered(a) >= 10);
	reasm_free(a);
	assert_int_equal(total, reasm_buffered(b));
	reasm_free(b);
	assert_int_equal(total, 0);
}

/* Deterministic PRNG so a failure reproduces. */
static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* A random stream cut into random segments, sent shuffled with
 * retransmissions: with room enough, the output is exactly the stream. */
static void test_random_shuffle(void **state)
{
	(void)state;
	enum { N = 20000, MAXSEG = 600 };
	static uint8_t stream[N];
	static struct {
		uint32_t off, len;
	} segs[3 * N];
	uint64_t s = 42;

	for (int round = 0; round < 20; round++) {
		struct fixture *f = fixture_new(1 << 20);
		uint32_t isn = rnd(&s) | (round & 1 ? 0xffff0000u : 0); /* wrap often */
		size_t n = 0;

		for (size_t i = 0; i < N; i++)
			stream[i] = (uint8_t)rnd(&s);
		f->rc.truth = stream;
		for (uint32_t off = 0; off < N;) {
			uint32_t len = 1 + rnd(&s) % MAXSEG;
			if (off + len > N)
				len = N - off;
			segs[n].off = off;
			segs[n++].len = len;
			if (rnd(&s) % 4 == 0) { /* retransmission, shifted */
				uint32_t o = off > 50 ? off - rnd(&s) % 50 : 0;
				segs[n].off = o;
				segs[n++].len = (off + len - o) + (rnd(&s) % 2 && off + len < N);
			}
			off += len;
		}
		/* local shuffle: reordering within a window, as networks do */
		for (size_t i = 0; i + 1 < n; i++) {
			size_t j = i + rnd(&s) % (n - i < 8 ? n - i : 8);
			__typeof__(segs[0]) t = segs[i];
			segs[i] = segs[j];
			segs[j] = t;
		}
		reasm_segment(f->r, isn, NULL, 0, true, 0);
		for (size_t i = 0; i < n; i++)
			reasm_segment(f->r, isn + 1 + segs[i].off, stream + segs[i].off,
				      segs[i].len, false, 0);
		assert_int_equal(f->rc.ngaps, 0);
		assert_int_equal(f->rc.pos, N);
		assert_int_equal(f->rc.mismatches, 0);
		assert_memory_equal(f->rc.out, stream, N);
		assert_int_equal(reasm_stats(f->r)->inconsistent, 0);
		fixture_free(f);
	}
}

/* Drops, small buffer and random peer ACKs: every delivered byte is still
 * the stream's byte at its offset, and gaps plus data cover the stream. */
static void test_random_lossy(void **state)
{
	(void)state;
	enum { N = 20000 };
	static uint8_t stream[N];
	uint64_t s = 7;

	for (int round = 0; round < 50; round++) {
		size_t max_buffer = 200 + rnd(&s) % 3000;
		struct fixture *f = fixture_new(max_buffer);
		uint32_t isn = rnd(&s);
		uint32_t off = 0;

		for (size_t i = 0; i < N; i++)
			stream[i] = (uint8_t)rnd(&s);
		f->rc.truth = stream;
		reasm_segment(f->r, isn, NULL, 0, true, 0);
		while (off < N) {
			uint32_t len = 1 + rnd(&s) % 300;
			uint32_t at = off + rnd(&s) % 900; /* ahead: holes */
			if (at >= N)
				at = off;
			if (at + len > N)
				len = N - at;
			if (rnd(&s) % 3) /* most segments arrive */
				reasm_segment(f->r, isn + 1 + at, stream + at, len, false, 0);
			if (rnd(&s) % 10 == 0)
				reasm_peer_ack(f->r, isn + 1 + off);
			assert_true(reasm_buffered(f->r) <= max_buffer);
			off += rnd(&s) % 200;
		}
		reasm_segment(f->r, isn + 1 + N, NULL, 0, false, 0);
		reasm_flush(f->r);
		assert_int_equal(f->rc.pos, N);
		assert_int_equal(f->rc.mismatches, 0);
		assert_int_equal(reasm_buffered(f->r), 0);
		assert_int_equal(reasm_stats(f->r)->delivered + reasm_stats(f->r)->gap_bytes, N);
		fixture_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order_zero_copy),
	    cmocka_unit_test(test_out_of_order),
	    cmocka_unit_test(test_retransmission_identical),
	    cmocka_unit_test(test_retransmission_inconsistent_delivered),
	    cmocka_unit_test(test_retransmission_inconsistent_buffered),
	    cmocka_unit_test(test_overlap_linux_shapes),
	    cmocka_unit_test(test_hole_filler_spans_buffered),
	    cmocka_unit_test(test_wraparound),
	    cmocka_unit_test(test_long_stream_wraps_many_times),
	    cmocka_unit_test(test_no_syn_start),
	    cmocka_unit_test(test_base_from_peer_ack),
	    cmocka_unit_test(test_one_sided_acks),
	    cmocka_unit_test(test_lost_before),
	    cmocka_unit_test(test_lost_before_first_segment),
	    cmocka_unit_test(test_peer_ack_gap),
	    cmocka_unit_test(test_late_copy_of_unseen_bytes),
	    cmocka_unit_test(test_sparse),
	    cmocka_unit_test(test_buffer_limit),
	    cmocka_unit_test(test_buffer_limit_zero),
	    cmocka_unit_test(test_range_count_limit),
	    cmocka_unit_test(test_touching_pieces_make_one_range),
	    cmocka_unit_test(test_touching_piece_at_the_range_cap),
	    cmocka_unit_test(test_flush),
	    cmocka_unit_test(test_null_payload),
	    cmocka_unit_test(test_absurd_lengths),
	    cmocka_unit_test(test_shared_total),
	    cmocka_unit_test(test_random_shuffle),
	    cmocka_unit_test(test_random_lossy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
