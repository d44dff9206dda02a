// SPDX-License-Identifier: GPL-2.0-only
/*
 * decode.h - one captured frame (pcap link types) -> struct segment.
 *
 * Link types: Ethernet, Linux cooked v1/v2, raw IP (IPv4/IPv6), BSD
 * loopback/null. Up to two VLAN tags (802.1Q, 802.1ad). IPv4 with options,
 * IPv6 with a bounded extension-header chain. IP fragments are counted and
 * skipped. Lengths come from what was captured: an IPv4 total length of 0
 * (BIG TCP, TSO captures) or one larger than the frame is not trusted.
 */
#ifndef SMTPMON_DECODE_H
#define SMTPMON_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/segment.h"

enum decode_result {
	DECODE_OK = 0,	    /* seg filled */
	DECODE_NOT_TCP,	    /* other protocol, silently skipped */
	DECODE_FRAGMENT,    /* IP fragment: counted and skipped */
	DECODE_MALFORMED,   /* truncated or inconsistent headers */
	DECODE_UNSUPPORTED, /* unknown link type or ethertype */
};

struct decode_stats {
	uint64_t frames, tcp, not_tcp, fragments, malformed, unsupported;
	uint64_t truncated; /* frames cut by snaplen: payload shorter than the IP length */
};

/* dlt: pcap link type (DLT_*). frame/caplen: the captured bytes; wirelen: the
 * original length. seg->ts_ns is left to the caller. */
enum decode_result decode_frame(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
				struct segment *seg, struct decode_stats *stats);

/* Whether decode_frame() knows the link type dlt (checked once per file). */
bool decode_link_supported(int dlt);

#endif
