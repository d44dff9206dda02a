// SPDX-License-Identifier: GPL-2.0-only
/*
 * decode.h - one captured frame (pcap link types) -> struct segment.
 *
 * Link types: Ethernet, Linux cooked v1/v2, raw IP (IPv4/IPv6), BSD
 * loopback/null. Up to two VLAN tags (802.1Q, 802.1ad). IPv4 with options,
 * IPv6 with a bounded extension-header chain. An IP fragment is counted and
 * described (struct ip_fragment) for the reassembler (source/ipfrag.h), which
 * hands a whole datagram back to decode_ip_packet(). Lengths come from what was captured: an IPv4
 * total length of 0 (BIG TCP, TSO captures) or one larger than the frame is not trusted.
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
	DECODE_FRAGMENT,    /* IP fragment: counted, *frag filled */
	DECODE_MALFORMED,   /* truncated or inconsistent headers */
	DECODE_UNSUPPORTED, /* unknown link type or ethertype */
};

struct decode_stats {
	uint64_t frames, tcp, not_tcp, fragments, malformed, unsupported;
	uint64_t truncated; /* frames cut by snaplen: payload shorter than the IP length */
	/* Set by the source from its reassembler (source/ipfrag.h): datagrams
	 * reassembled, discarded for overlaps, fragments whose overlapping
	 * bytes differed, and datagrams or fragments dropped otherwise
	 * (timeout, limits, unusable, incomplete at the end). */
	uint64_t frag_datagrams, frag_overlaps, frag_inconsistent, frag_dropped;
};

/* One IP fragment, pointing into the frame. */
struct ip_fragment {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* the datagram's transport protocol (IPv6: the fragment header's) */
	uint32_t id;	/* IPv4: 16 bits */
	uint8_t saddr[16], daddr[16];
	uint32_t offset; /* bytes */
	bool more;	 /* MF: more fragments follow */
	bool cut;	 /* fewer bytes captured than the fragment has: unusable */
	/* IPv4: the header with its options; IPv6: the fixed 40-byte header. */
	const uint8_t *ip_hdr;
	size_t ip_hdr_len;
	const uint8_t *data; /* the fragment's payload */
	size_t len;
};

/* dlt: pcap link type (DLT_*). frame/caplen: the captured bytes; wirelen: the
 * original length. seg->ts_ns is left to the caller. frag: filled for
 * DECODE_FRAGMENT when not NULL. */
enum decode_result decode_frame(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
				struct segment *seg, struct ip_fragment *frag,
				struct decode_stats *stats);

/* A whole IP packet (a reassembled datagram): decoded as a raw-IP frame but
 * counted by the caller, not in decode_stats. */
enum decode_result decode_ip_packet(const uint8_t *packet, size_t len, struct segment *seg);

/* Whether decode_frame() knows the link type dlt (checked once per file). */
bool decode_link_supported(int dlt);

#endif
