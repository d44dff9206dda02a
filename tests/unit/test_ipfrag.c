// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ipfrag.c - IP fragment reassembly (user/source/ipfrag.c): order, the
 * packet handed back, Linux's overlap rules, and the bounds (memory, number
 * of datagrams, holes, time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source/ipfrag.h"

#define SEC 1000000000ull

static uint8_t hdr4[20] = {0x45, 0, 0, 0, 0, 7, 0x20, 0, 64, 6, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1};
static uint8_t payload[4096];

static struct ip_fragment frag4(uint32_t id, uint32_t off, size_t len, bool more)
{
	struct ip_fragment f = {.family = 4, .proto = 6, .id = id, .offset = off, .more = more};

	memcpy(f.saddr, hdr4 + 12, 4);
	memcpy(f.daddr, hdr4 + 16, 4);
	f.ip_hdr = hdr4;
	f.ip_hdr_len = sizeof(hdr4);
	f.data = payload + off;
	f.len = len;
	return f;
}

static enum ipfrag_verdict add(struct ipfrag *t, uint64_t now, struct ip_fragment f,
			       const uint8_t **pkt, size_t *len, struct ipfrag_note *note)
{
	return ipfrag_add(t, now, &f, pkt, len, note);
}

static void setup_payload(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
}

static void test_out_of_order_v4(void **state)
{
	(void)state;
	struct ipfrag *t = ipfrag_new(1 << 20, 16, 30 * SEC);
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;

	setup_payload();
	assert_int_equal(add(t, 1, frag4(7, 1000, 500, false), &pkt, &len, &note), IPFRAG_HELD);
	assert_int_equal(add(t, 2, frag4(7, 8, 992, true), &pkt, &len, &note), IPFRAG_HELD);
	assert_false(note.ports_known);
	assert_int_equal(add(t, 3, frag4(7, 0, 8, true), &pkt, &len, &note), IPFRAG_COMPLETE);
	assert_true(note.ports_known);
	assert_int_equal(note.sport, payload[0] << 8 | payload[1]);
	assert_int_equal(len, 20 + 1500);
	assert_int_equal(pkt[2] << 8 | pkt[3], 1520); /* total length */
	assert_int_equal(pkt[6] | pkt[7], 0);	      /* no longer a fragment */
	assert_memory_equal(pkt + 20, payload, 1500);
	assert_int_equal(ipfrag_stats(t)->datagrams, 1);
	assert_int_equal(ipfrag_held_datagrams(t), 0);
	assert_int_equal(ipfrag_held_bytes(t), 0);
	ipfrag_free(t);
}

static void test_ipv6_packet(void **state)
{
	(void)state;
	uint8_t hdr6[40] = {0x60, 0, 0, 0, 0, 0, 44, 64};
	struct ipfrag *t = ipfrag_new(1 << 20, 16, 30 * SEC);
	struct ip_fragment f = {.family = 6,
				.proto = 6,
				.id = 0x12345678,
				.ip_hdr = hdr6,
				.ip_hdr_len = 40,
				.data = payload,
				.len = 16,
				.more = true};
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;

	setup_payload();
	hdr6[8] = 0xfd;
	memcpy(f.saddr, hdr6 + 8, 16);
	assert_int_equal(ipfrag_add(t, 1, &f, &pkt, &len, &note), IPFRAG_HELD);
	f.offset = 16;
	f.data = payload + 16;
	f.len = 5;
	f.more = false;
	assert_int_equal(ipfrag_add(t, 2, &f, &pkt, &len, &note), IPFRAG_COMPLETE);
	assert_int_equal(len, 40 + 21);
	assert_int_equal(pkt[4] << 8 | pkt[5], 21); /* payload length */
	assert_int_equal(pkt[6], 6);		    /* next header: TCP, no fragment header */
	assert_memory_equal(pkt + 40, payload, 21);
	ipfrag_free(t);
}

/* Linux (RFC 5722): a fragment inside bytes held is a duplicate (first copy
 * stays); a partial overlap discards the datagram; differing bytes are
 * noted either way. */
static void test_overlaps(void **state)
{
	(void)state;
	struct ipfrag *t = ipfrag_new(1 << 20, 16, 30 * SEC);
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;
	uint8_t other[64];
	struct ip_fragment f;

	setup_payload();
	memset(other, 'x', sizeof(other));
	add(t, 1, frag4(1, 0, 48, true), &pkt, &len, &note);
	assert_int_equal(add(t, 2, frag4(1, 8, 16, true), &pkt, &len, &note), IPFRAG_HELD);
	assert_false(note.inconsistent); /* same bytes */
	f = frag4(1, 8, 16, true);
	f.data = other;
	assert_int_equal(ipfrag_add(t, 3, &f, &pkt, &len, &note), IPFRAG_HELD);
	assert_true(note.inconsistent);
	assert_int_equal(add(t, 4, frag4(1, 48, 8, false), &pkt, &len, &note), IPFRAG_COMPLETE);
	assert_memory_equal(pkt + 20, payload, 56); /* the first copy */
	assert_int_equal(ipfrag_stats(t)->duplicates, 2);

	add(t, 5, frag4(2, 0, 48, true), &pkt, &len, &note);
	assert_int_equal(add(t, 6, frag4(2, 40, 16, false), &pkt, &len, &note), IPFRAG_DISCARDED);
	assert_false(note.inconsistent);
	assert_int_equal(ipfrag_stats(t)->overlaps, 1);
	assert_int_equal(ipfrag_held_datagrams(t), 0);
	/* What comes after the discard starts a new datagram. */
	assert_int_equal(add(t, 7, frag4(2, 48, 8, false), &pkt, &len, &note), IPFRAG_HELD);
	assert_int_equal(ipfrag_held_datagrams(t), 1);
	ipfrag_free(t);
}

static void test_invalid(void **state)
{
	(void)state;
	struct ipfrag *t = ipfrag_new(1 << 20, 16, 30 * SEC);
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;
	struct ip_fragment f = frag4(3, 0, 16, true);

	setup_payload();
	assert_int_equal(add(t, 1, frag4(3, 0, 12, true), &pkt, &len, &note), IPFRAG_DISCARDED);
	assert_int_equal(add(t, 1, frag4(3, 65528, 16, false), &pkt, &len, &note),
			 IPFRAG_DISCARDED);
	f.cut = true;
	assert_int_equal(ipfrag_add(t, 1, &f, &pkt, &len, &note), IPFRAG_DISCARDED);
	/* The end must not move: a second "last" fragment elsewhere. */
	add(t, 1, frag4(4, 32, 8, false), &pkt, &len, &note);
	assert_int_equal(add(t, 2, frag4(4, 40, 8, false), &pkt, &len, &note), IPFRAG_DISCARDED);
	assert_int_equal(ipfrag_stats(t)->invalid, 4);
	assert_int_equal(ipfrag_held_datagrams(t), 0);
	ipfrag_free(t);
}

static void test_timeout(void **state)
{
	(void)state;
	struct ipfrag *t = ipfrag_new(1 << 20, 16, 30 * SEC);
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;

	setup_payload();
	add(t, 100 * SEC, frag4(5, 0, 8, true), &pkt, &len, &note);
	add(t, 129 * SEC, frag4(6, 0, 8, true), &pkt, &len, &note);
	assert_int_equal(ipfrag_held_datagrams(t), 2);
	/* 31 s after the first: it times out, its last fragment starts anew. */
	assert_int_equal(add(t, 131 * SEC, frag4(5, 8, 8, false), &pkt, &len, &note), IPFRAG_HELD);
	assert_int_equal(ipfrag_stats(t)->timeouts, 1);
	assert_int_equal(ipfrag_held_datagrams(t), 2);
	ipfrag_free(t);
}

/* A flood of datagrams that never complete, each with many holes, stays
 * inside the limits: the oldest go first. */
static void test_flood_bounded(void **state)
{
	(void)state;
	const size_t max_bytes = 256 << 10;
	struct ipfrag *t = ipfrag_new(max_bytes, 64, 30 * SEC);
	const uint8_t *pkt;
	size_t len;
	struct ipfrag_note note;

	setup_payload();
	for (uint32_t i = 0; i < 20000; i++) {
		struct ip_fragment f = frag4(i % 5000, (i / 5000) * 1024 + 512, 8, true);

		add(t, SEC + i, f, &pkt, &len, &note);
		assert_true(ipfrag_held_bytes(t) <= max_bytes);
		assert_true(ipfrag_held_datagrams(t) <= 64);
	}
	assert_true(ipfrag_stats(t)->evicted >= 20000 - 64);
	/* 65 holes in one datagram: more than it may hold, so it goes (the
	 * 64 first ranges are held, the 65th drops it, and it is not back). */
	ipfrag_free(t);
	t = ipfrag_new(max_bytes, 64, 30 * SEC);
	for (uint32_t h = 0; h < 65; h++)
		add(t, 2 * SEC, frag4(9999, h * 16, 8, true), &pkt, &len, &note);
	assert_int_equal(ipfrag_stats(t)->evicted, 1);
	assert_int_equal(ipfrag_held_datagrams(t), 0);
	ipfrag_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_out_of_order_v4), cmocka_unit_test(test_ipv6_packet),
	    cmocka_unit_test(test_overlaps),	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_timeout),	    cmocka_unit_test(test_flood_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
