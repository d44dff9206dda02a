// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcp_fixture.h - hand-made TCP segments for the tests that feed the
 * pipeline directly: one side of a connection, and a segment from it that
 * acknowledges everything the other side sent.
 */
#ifndef SMTPMON_TEST_TCP_FIXTURE_H
#define SMTPMON_TEST_TCP_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "source/segment.h"

struct endpoint {
	uint8_t addr[16];
	uint16_t port;
	uint32_t seq; /* next sequence number to send */
};

/* A segment from src to dst at ts_ns; src's sequence number moves past
 * its payload, SYN and FIN. */
static inline struct segment tcp_segment(struct endpoint *src, const struct endpoint *dst,
					 uint8_t flags, const char *data, size_t len,
					 uint64_t ts_ns)
{
	struct segment seg = {
	    .ts_ns = ts_ns,
	    .family = 4,
	    .flags = flags,
	    .sport = src->port,
	    .dport = dst->port,
	    .seq = src->seq,
	    .ack = dst->seq,
	    .payload = (const uint8_t *)data,
	    .payload_len = (uint32_t)len,
	};

	memcpy(seg.saddr, src->addr, 16);
	memcpy(seg.daddr, dst->addr, 16);
	src->seq += (uint32_t)len + !!(flags & SEG_SYN) + !!(flags & SEG_FIN);
	return seg;
}

#endif
