// SPDX-License-Identifier: GPL-2.0-only
/*
 * decode.c - one captured frame -> struct segment (contract in decode.h).
 *
 * The frame is walked layer by layer as a span: the bytes captured from here
 * on and the bytes the frame had on the wire from here on. A length field
 * from the wire may shrink a span but never grow it, so no read goes past
 * what was captured. When the IP layer says there is more than was captured
 * (snaplen cut, or a lying length) the segment keeps what is there and the
 * frame is counted as truncated; the reassembler sees the rest as a hole.
 */
#include <pcap/dlt.h>
#include <stdbool.h>
#include <string.h>

#include "source/decode.h"

/* libpcap hands this file link type to callers as DLT_RAW, but callers that
 * read the pcap header themselves pass it as is. */
#define LINKTYPE_RAW 101

#define ETHERTYPE_IPV4	    0x0800
#define ETHERTYPE_IPV6	    0x86dd
#define ETHERTYPE_VLAN	    0x8100
#define ETHERTYPE_QINQ	    0x88a8
#define ETHERTYPE_QINQ_OLD  0x9100
#define ETHERTYPE_MPLS	    0x8847
#define ETHERTYPE_MPLS_MC   0x8848
#define ETHERTYPE_PPPOE_SES 0x8864

#define MAX_VLAN_TAGS	     2
#define MAX_IPV6_EXT_HEADERS 8

#define ETH_HDR_LEN    14
#define SLL_HDR_LEN    16
#define SLL2_HDR_LEN   20
#define NULL_HDR_LEN   4
#define VLAN_TAG_LEN   4
#define IPV4_HDR_LEN   20
#define IPV6_HDR_LEN   40
#define IPV6_FRAG_LEN  8
#define TCP_HDR_LEN    20
#define IPPROTO_TCP_NR 6

/* BSD AF_INET6 differs by OS: NetBSD/OpenBSD, FreeBSD, Darwin. */
#define BSD_AF_INET	   2
#define BSD_AF_INET6_NET   24
#define BSD_AF_INET6_FREE  28
#define BSD_AF_INET6_APPLE 30

enum ipv6_next {
	IPV6_HOP_BY_HOP = 0,
	IPV6_ROUTING = 43,
	IPV6_FRAGMENT = 44,
	IPV6_ESP = 50,
	IPV6_AH = 51,
	IPV6_NO_NEXT = 59,
	IPV6_DEST_OPTS = 60,
};

#define IPV6_OPT_PAD1	   0
#define IPV6_OPT_JUMBO	   0xc2
#define IPV6_OPT_JUMBO_LEN 4

struct span {
	const uint8_t *p;
	size_t cap;  /* captured bytes from p on */
	size_t wire; /* bytes the frame had on the wire from p on; >= cap */
};

/* What decoding learns besides the segment itself. */
struct frame_state {
	struct segment *seg;
	struct ip_fragment *frag; /* NULL: fragments are only counted */
	bool cut;		  /* the IP layer claims more bytes than were captured */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Caller has checked n <= s->cap. */
static void span_skip(struct span *s, size_t n)
{
	s->p += n;
	s->cap -= n;
	s->wire -= n;
}

/* Limit the span to the IP packet: claimed is its length from the IP header,
 * 0 when the header does not say (BIG TCP, TSO, jumbogram without option). */
static void span_bound_ip(struct span *s, size_t claimed, struct frame_state *st)
{
	if (claimed == 0)
		claimed = s->wire;
	s->wire = min_size(claimed, s->wire);
	s->cap = min_size(s->cap, s->wire);
	st->cut = s->cap < claimed;
}

static enum decode_result decode_tcp(struct span s, struct frame_state *st)
{
	struct segment *seg = st->seg;

	if (s.cap < TCP_HDR_LEN)
		return DECODE_MALFORMED;
	size_t hdr_len = (size_t)(s.p[12] >> 4) * 4;
	if (hdr_len < TCP_HDR_LEN || hdr_len > s.wire)
		return DECODE_MALFORMED;

	seg->sport = rd16(s.p);
	seg->dport = rd16(s.p + 2);
	seg->seq = rd32(s.p + 4);
	seg->ack = rd32(s.p + 8);
	/* SEG_* are the TCP header's own bits. */
	seg->flags = s.p[13] & (SEG_FIN | SEG_SYN | SEG_RST | SEG_PSH | SEG_ACK);
	seg->window = rd16(s.p + 14);
	/* Options cut by snaplen leave a segment without payload: still worth
	 * its flags and sequence number. */
	size_t skip = min_size(hdr_len, s.cap);
	span_skip(&s, skip);
	seg->payload = s.p;
	seg->payload_len = (uint32_t)s.cap;
	return DECODE_OK;
}

static enum decode_result decode_ipv4(struct span s, struct frame_state *st)
{
	if (s.cap < IPV4_HDR_LEN || s.p[0] >> 4 != 4)
		return DECODE_MALFORMED;
	size_t hdr_len = (size_t)(s.p[0] & 0x0f) * 4;
	size_t total_len = rd16(s.p + 2);
	if (hdr_len < IPV4_HDR_LEN || hdr_len > s.cap || (total_len && total_len < hdr_len))
		return DECODE_MALFORMED;
	if (rd16(s.p + 6) & 0x3fff) { /* MF or a fragment offset */
		if (st->frag) {
			struct ip_fragment *f = st->frag;
			const uint8_t *hdr = s.p;

			memset(f, 0, sizeof(*f));
			f->family = 4;
			f->proto = s.p[9];
			f->id = rd16(s.p + 4);
			memcpy(f->saddr, s.p + 12, 4);
			memcpy(f->daddr, s.p + 16, 4);
			f->offset = (uint32_t)(rd16(s.p + 6) & 0x1fff) * 8;
			f->more = rd16(s.p + 6) & 0x2000;
			span_bound_ip(&s, total_len, st);
			f->cut = st->cut || total_len == 0;
			f->ip_hdr = hdr;
			f->ip_hdr_len = hdr_len;
			span_skip(&s, hdr_len);
			f->data = s.p;
			f->len = s.cap;
		}
		return DECODE_FRAGMENT;
	}
	if (s.p[9] != IPPROTO_TCP_NR)
		return DECODE_NOT_TCP;

	st->seg->family = 4;
	memcpy(st->seg->saddr, s.p + 12, 4);
	memcpy(st->seg->daddr, s.p + 16, 4);
	span_bound_ip(&s, total_len, st);
	span_skip(&s, hdr_len);
	return decode_tcp(s, st);
}

/* The jumbo payload length from a hop-by-hop header, 0 if it has none. */
static uint32_t ipv6_jumbo_len(const uint8_t *hdr, size_t hdr_len)
{
	size_t off = 2;

	while (off < hdr_len) {
		if (hdr[off] == IPV6_OPT_PAD1) {
			off++;
			continue;
		}
		if (off + 2 > hdr_len)
			break;
		size_t opt_len = hdr[off + 1];
		if (hdr[off] == IPV6_OPT_JUMBO && opt_len == IPV6_OPT_JUMBO_LEN &&
		    off + 2 + opt_len <= hdr_len)
			return rd32(hdr + off + 2);
		off += 2 + opt_len;
	}
	return 0;
}

static enum decode_result decode_ipv6(struct span s, struct frame_state *st)
{
	if (s.cap < IPV6_HDR_LEN || s.p[0] >> 4 != 6)
		return DECODE_MALFORMED;
	size_t payload_len = rd16(s.p + 4);
	uint8_t next = s.p[6];
	struct span packet = s;

	st->seg->family = 6;
	memcpy(st->seg->saddr, s.p + 8, 16);
	memcpy(st->seg->daddr, s.p + 24, 16);
	span_bound_ip(&s, payload_len ? IPV6_HDR_LEN + payload_len : 0, st);
	span_skip(&s, IPV6_HDR_LEN);

	for (int n = 0; next != IPPROTO_TCP_NR; n++) {
		size_t hdr_len;

		switch (next) {
		case IPV6_HOP_BY_HOP:
		case IPV6_ROUTING:
		case IPV6_DEST_OPTS:
			if (s.cap < 2)
				return DECODE_MALFORMED;
			hdr_len = ((size_t)s.p[1] + 1) * 8;
			break;
		case IPV6_AH:
			if (s.cap < 2)
				return DECODE_MALFORMED;
			hdr_len = ((size_t)s.p[1] + 2) * 4;
			break;
		case IPV6_FRAGMENT:
			hdr_len = IPV6_FRAG_LEN;
			break;
		default: /* ESP, no next header, another transport */
			return DECODE_NOT_TCP;
		}
		if (n == MAX_IPV6_EXT_HEADERS || hdr_len > s.cap)
			return DECODE_MALFORMED;
		/* An atomic fragment (offset 0, no MF) is a whole packet (RFC 6946). */
		if (next == IPV6_FRAGMENT && rd16(s.p + 2) & 0xfff9) {
			if (st->frag) {
				struct ip_fragment *f = st->frag;

				memset(f, 0, sizeof(*f));
				f->family = 6;
				f->proto = s.p[0];
				f->id = rd32(s.p + 4);
				memcpy(f->saddr, packet.p + 8, 16);
				memcpy(f->daddr, packet.p + 24, 16);
				f->offset = rd16(s.p + 2) & 0xfff8;
				f->more = s.p[3] & 1;
				f->cut = st->cut || payload_len == 0;
				f->ip_hdr = packet.p;
				f->ip_hdr_len = IPV6_HDR_LEN;
				span_skip(&s, hdr_len);
				f->data = s.p;
				f->len = s.cap;
			}
			return DECODE_FRAGMENT;
		}
		if (next == IPV6_HOP_BY_HOP && payload_len == 0) {
			uint32_t jumbo = ipv6_jumbo_len(s.p, hdr_len);
			if (jumbo) {
				size_t offset = (size_t)(s.p - packet.p);
				s = packet;
				span_bound_ip(&s, IPV6_HDR_LEN + (size_t)jumbo, st);
				if (offset + hdr_len > s.cap)
					return DECODE_MALFORMED;
				span_skip(&s, offset);
			}
		}
		next = s.p[0];
		span_skip(&s, hdr_len);
	}
	return decode_tcp(s, st);
}

/* Raw IP links: the version nibble says which. */
static enum decode_result decode_ip_any(struct span s, struct frame_state *st)
{
	if (s.cap < 1)
		return DECODE_MALFORMED;
	switch (s.p[0] >> 4) {
	case 4:
		return decode_ipv4(s, st);
	case 6:
		return decode_ipv6(s, st);
	default:
		return DECODE_MALFORMED;
	}
}

static bool is_vlan_ethertype(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

static enum decode_result decode_ethertype(uint16_t type, struct span s, struct frame_state *st)
{
	for (int tags = 0; is_vlan_ethertype(type); tags++) {
		if (tags == MAX_VLAN_TAGS)
			return DECODE_UNSUPPORTED;
		if (s.cap < VLAN_TAG_LEN)
			return DECODE_MALFORMED;
		type = rd16(s.p + 2);
		span_skip(&s, VLAN_TAG_LEN);
	}
	switch (type) {
	case ETHERTYPE_IPV4:
		return decode_ipv4(s, st);
	case ETHERTYPE_IPV6:
		return decode_ipv6(s, st);
	/* Encapsulations that may hide IP we do not look into. */
	case ETHERTYPE_MPLS:
	case ETHERTYPE_MPLS_MC:
	case ETHERTYPE_PPPOE_SES:
		return DECODE_UNSUPPORTED;
	default: /* ARP, LLDP, 802.3 length fields, ... */
		return DECODE_NOT_TCP;
	}
}

/* DLT_NULL stores the family in the writer's byte order, DLT_LOOP in
 * network order; the values are small, so the order shows. */
static enum decode_result decode_bsd_null(struct span s, struct frame_state *st)
{
	if (s.cap < NULL_HDR_LEN)
		return DECODE_MALFORMED;
	uint32_t family = rd32(s.p);
	if (family > 0xffff)
		family = __builtin_bswap32(family);
	span_skip(&s, NULL_HDR_LEN);
	switch (family) {
	case BSD_AF_INET:
		return decode_ipv4(s, st);
	case BSD_AF_INET6_NET:
	case BSD_AF_INET6_FREE:
	case BSD_AF_INET6_APPLE:
		return decode_ipv6(s, st);
	default:
		return DECODE_NOT_TCP;
	}
}

/* The protocol field of a link header at proto_off, then the rest. */
static enum decode_result decode_link_header(struct span s, size_t hdr_len, size_t proto_off,
					     struct frame_state *st)
{
	if (s.cap < hdr_len)
		return DECODE_MALFORMED;
	uint16_t type = rd16(s.p + proto_off);
	span_skip(&s, hdr_len);
	return decode_ethertype(type, s, st);
}

static enum decode_result decode_link(int dlt, struct span s, struct frame_state *st)
{
	switch (dlt) {
	case DLT_EN10MB:
		return decode_link_header(s, ETH_HDR_LEN, 12, st);
	case DLT_LINUX_SLL:
		return decode_link_header(s, SLL_HDR_LEN, 14, st);
	case DLT_LINUX_SLL2:
		return decode_link_header(s, SLL2_HDR_LEN, 0, st);
	case DLT_RAW:
	case LINKTYPE_RAW:
		return decode_ip_any(s, st);
	case DLT_IPV4:
		return decode_ipv4(s, st);
	case DLT_IPV6:
		return decode_ipv6(s, st);
	case DLT_NULL:
	case DLT_LOOP:
		return decode_bsd_null(s, st);
	default:
		return DECODE_UNSUPPORTED;
	}
}

bool decode_link_supported(int dlt)
{
	struct segment seg;
	struct frame_state st = {.seg = &seg};

	/* An empty frame is malformed on every link type we know. */
	return decode_link(dlt, (struct span){0}, &st) != DECODE_UNSUPPORTED;
}

enum decode_result decode_ip_packet(const uint8_t *packet, size_t len, struct segment *seg)
{
	struct segment out = {.ts_ns = seg->ts_ns};
	struct frame_state st = {.seg = &out};
	enum decode_result r = decode_ip_any((struct span){packet, len, len}, &st);

	if (r == DECODE_OK)
		*seg = out;
	return r;
}

enum decode_result decode_frame(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
				struct segment *seg, struct ip_fragment *frag,
				struct decode_stats *stats)
{
	struct segment out = {.ts_ns = seg->ts_ns};
	struct frame_state st = {.seg = &out, .frag = frag};
	struct span s = {.p = frame, .cap = caplen, .wire = wirelen < caplen ? caplen : wirelen};

	stats->frames++;
	enum decode_result r = decode_link(dlt, s, &st);
	switch (r) {
	case DECODE_OK:
		*seg = out;
		stats->tcp++;
		stats->truncated += st.cut;
		break;
	case DECODE_NOT_TCP:
		stats->not_tcp++;
		break;
	case DECODE_FRAGMENT:
		stats->fragments++;
		break;
	case DECODE_MALFORMED:
		stats->malformed++;
		break;
	case DECODE_UNSUPPORTED:
		stats->unsupported++;
		break;
	}
	return r;
}
