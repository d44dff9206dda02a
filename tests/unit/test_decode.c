// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_decode.c - decode_frame() on hand-built frames: every link type, VLAN
 * tags, IPv4 options, IPv6 extension headers, fragments, super-packets
 * (BIG TCP, jumbograms), lengths that lie, snaplen cuts and non-TCP frames.
 *
 * Frames are assembled byte by byte from the header layouts (IEEE 802.3/802.1Q,
 * libpcap's SLL/SLL2 and DLT_NULL pages, RFC 791, 8200, 2675, 9293), and every
 * expectation comes from the values written into them, never from the
 * decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "source/decode.h"

#define TS_SENTINEL 0x1122334455667788ull

static const uint8_t v4_src[4] = {192, 0, 2, 1};
static const uint8_t v4_dst[4] = {198, 51, 100, 2};
static const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2};

/* ---- frame builder ---- */

static struct {
	uint8_t b[80 * 1024];
	size_t len;
} f;

static void put(const void *p, size_t n)
{
	assert_true(f.len + n <= sizeof(f.b));
	memcpy(f.b + f.len, p, n);
	f.len += n;
}

static void put8(uint8_t v)
{
	put(&v, 1);
}

static void put16(uint16_t v)
{
	put8(v >> 8);
	put8(v & 0xff);
}

static void put32(uint32_t v)
{
	put16(v >> 16);
	put16(v & 0xffff);
}

static void fill(uint8_t byte, size_t n)
{
	assert_true(f.len + n <= sizeof(f.b));
	memset(f.b + f.len, byte, n);
	f.len += n;
}

static void patch16(size_t at, uint16_t v)
{
	f.b[at] = v >> 8;
	f.b[at + 1] = v & 0xff;
}

static void eth(uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	put(macs, sizeof(macs));
	put16(type);
}

static void vlan_tag(uint16_t vid, uint16_t next_type)
{
	put16(vid);
	put16(next_type);
}

static void sll(uint16_t proto)
{
	put16(0); /* packet type: to us */
	put16(1); /* ARPHRD_ETHER */
	put16(6);
	fill(0xaa, 8);
	put16(proto);
}

static void sll2(uint16_t proto)
{
	put16(proto);
	put16(0);
	put32(3); /* ifindex */
	put16(1); /* ARPHRD_ETHER */
	put8(4);  /* outgoing */
	put8(6);
	fill(0xbb, 8);
}

/* IPv4 header; returns its offset. Total length 0 until ipv4_end(). */
static size_t ipv4(uint8_t proto, size_t opt_len, uint16_t frag)
{
	size_t at = f.len;

	put8(0x40 | (uint8_t)((20 + opt_len) / 4));
	put8(0);
	put16(0);
	put16(0x1234);
	put16(frag);
	put8(64);
	put8(proto);
	put16(0);
	put(v4_src, 4);
	put(v4_dst, 4);
	fill(1 /* NOP option */, opt_len);
	return at;
}

static void ipv4_end(size_t at)
{
	patch16(at + 2, (uint16_t)(f.len - at));
}

/* IPv6 header; payload length 0 until ipv6_end(). */
static size_t ipv6(uint8_t next)
{
	size_t at = f.len;

	put32(0x60000000);
	put16(0);
	put8(next);
	put8(64);
	put(v6_src, 16);
	put(v6_dst, 16);
	return at;
}

static void ipv6_end(size_t at)
{
	patch16(at + 4, (uint16_t)(f.len - at - 40));
}

/* Hop-by-hop, routing or destination options: units of 8 bytes, PadN. */
static void ipv6_opts(uint8_t next, uint8_t units)
{
	put8(next);
	put8(units - 1);
	put8(1); /* PadN */
	put8(units * 8 - 4);
	fill(0, units * 8 - 4);
}

static void ipv6_frag(uint8_t next, uint16_t offset_units, bool more)
{
	put8(next);
	put8(0);
	put16((uint16_t)(offset_units << 3 | more));
	put32(0xdeadbeef);
}

static void tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		uint16_t window, size_t opt_len)
{
	put16(sport);
	put16(dport);
	put32(seq);
	put32(ack);
	put8((uint8_t)((20 + opt_len) / 4) << 4);
	put8(flags);
	put16(window);
	put16(0);
	put16(0);
	fill(1, opt_len);
}

static size_t payload(size_t n)
{
	size_t at = f.len;

	for (size_t i = 0; i < n; i++)
		put8('a' + i % 26);
	return at;
}

/* ---- assertions ---- */

static struct decode_stats stats;
static struct segment seg;

static enum decode_result decode_cut(int dlt, size_t caplen, size_t wirelen)
{
	memset(&seg, 0xee, sizeof(seg));
	seg.ts_ns = TS_SENTINEL;
	return decode_frame(dlt, f.b, caplen, wirelen, &seg, NULL, &stats);
}

static enum decode_result decode(int dlt)
{
	return decode_cut(dlt, f.len, f.len);
}

struct want {
	int family;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	size_t payload_at, payload_len;
};

static void assert_segment(const struct want *w)
{
	uint8_t saddr[16] = {0}, daddr[16] = {0};

	memcpy(saddr, w->family == 4 ? v4_src : v6_src, w->family == 4 ? 4 : 16);
	memcpy(daddr, w->family == 4 ? v4_dst : v6_dst, w->family == 4 ? 4 : 16);
	assert_int_equal(seg.ts_ns, TS_SENTINEL);
	assert_int_equal(seg.family, w->family);
	assert_memory_equal(seg.saddr, saddr, 16);
	assert_memory_equal(seg.daddr, daddr, 16);
	assert_int_equal(seg.sport, w->sport);
	assert_int_equal(seg.dport, w->dport);
	assert_int_equal(seg.seq, w->seq);
	assert_int_equal(seg.ack, w->ack);
	assert_int_equal(seg.flags, w->flags);
	assert_int_equal(seg.window, w->window);
	assert_ptr_equal(seg.payload, f.b + w->payload_at);
	assert_int_equal(seg.payload_len, w->payload_len);
	assert_int_equal(seg.lost_before, 0);
}

/* The usual client segment: 1025 -> 25, payload of n bytes. */
static size_t client_tcp(size_t n)
{
	tcp(1025, 25, 1000, 2000, SEG_ACK | SEG_PSH, 512, 0);
	return payload(n);
}

static void assert_client_segment(int family, size_t payload_at, size_t n)
{
	struct want w = {family, 1025, 25, 1000, 2000, SEG_ACK | SEG_PSH, 512, payload_at, n};
	assert_segment(&w);
}

static int reset(void **state)
{
	(void)state;
	f.len = 0;
	memset(&stats, 0, sizeof(stats));
	return 0;
}

/* ---- link types ---- */

static void test_ethernet_ipv4_all_fields(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0x4000 /* DF */);
	/* Every flag bit set, including CWR/ECE/URG that are not SEG_*. */
	tcp(0xfedc, 587, 0xfffffff0, 0x80000001, 0xff, 0xabcd, 0);
	size_t at = payload(10);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	struct want w = {4,	     0xfedc,	 587,
			 0xfffffff0, 0x80000001, SEG_FIN | SEG_SYN | SEG_RST | SEG_PSH | SEG_ACK,
			 0xabcd,     at,	 10};
	assert_segment(&w);
	assert_int_equal(stats.frames, 1);
	assert_int_equal(stats.tcp, 1);
	assert_int_equal(stats.truncated, 0);
}

static void test_ethernet_ipv6(void **state)
{
	(void)state;
	eth(0x86dd);
	size_t ip = ipv6(6);
	size_t at = client_tcp(33);
	ipv6_end(ip);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 33);
}

/* Frames shorter than 60 bytes are padded on the wire; the padding is not
 * payload. */
static void test_ethernet_padding_is_not_payload(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(2);
	ipv4_end(ip);
	fill(0, 4);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 2);
	assert_int_equal(stats.truncated, 0);
}

static void test_linux_sll_v1(void **state)
{
	(void)state;
	sll(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(5);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_LINUX_SLL), DECODE_OK);
	assert_client_segment(4, at, 5);
}

static void test_linux_sll_v2(void **state)
{
	(void)state;
	sll2(0x86dd);
	size_t ip = ipv6(6);
	size_t at = client_tcp(7);
	ipv6_end(ip);

	assert_int_equal(decode(DLT_LINUX_SLL2), DECODE_OK);
	assert_client_segment(6, at, 7);
}

static void test_linux_sll_v2_vlan(void **state)
{
	(void)state;
	sll2(0x8100);
	vlan_tag(42, 0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(3);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_LINUX_SLL2), DECODE_OK);
	assert_client_segment(4, at, 3);
}

static void test_raw_ip_link_types(void **state)
{
	(void)state;
	size_t ip = ipv4(6, 0, 0);
	size_t at4 = client_tcp(4);
	ipv4_end(ip);
	size_t len4 = f.len;

	assert_int_equal(decode_cut(DLT_RAW, len4, len4), DECODE_OK);
	assert_client_segment(4, at4, 4);
	assert_int_equal(decode_cut(101 /* LINKTYPE_RAW */, len4, len4), DECODE_OK);
	assert_client_segment(4, at4, 4);
	assert_int_equal(decode_cut(DLT_IPV4, len4, len4), DECODE_OK);
	assert_client_segment(4, at4, 4);
	assert_int_equal(decode_cut(DLT_IPV6, len4, len4), DECODE_MALFORMED);

	f.len = 0;
	ip = ipv6(6);
	size_t at6 = client_tcp(6);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_RAW), DECODE_OK);
	assert_client_segment(6, at6, 6);
	assert_int_equal(decode(101), DECODE_OK);
	assert_client_segment(6, at6, 6);
	assert_int_equal(decode(DLT_IPV6), DECODE_OK);
	assert_client_segment(6, at6, 6);
	assert_int_equal(decode(DLT_IPV4), DECODE_MALFORMED);
	assert_int_equal(stats.tcp, 6);
	assert_int_equal(stats.malformed, 2);
}

/* DLT_NULL: the family in the byte order of the machine that wrote it;
 * DLT_LOOP: network order. AF_INET6 is 24, 28 or 30 depending on the BSD. */
static void null_frame(int dlt, uint32_t family_be, int ip_version)
{
	f.len = 0;
	put32(family_be);
	size_t ip = ip_version == 4 ? ipv4(6, 0, 0) : ipv6(6);
	size_t at = client_tcp(9);
	if (ip_version == 4)
		ipv4_end(ip);
	else
		ipv6_end(ip);
	assert_int_equal(decode(dlt), DECODE_OK);
	assert_client_segment(ip_version, at, 9);
}

static void test_bsd_null_and_loop(void **state)
{
	(void)state;
	null_frame(DLT_NULL, 0x02000000, 4); /* little-endian writer */
	null_frame(DLT_NULL, 0x00000002, 4); /* big-endian writer */
	null_frame(DLT_NULL, 0x18000000, 6);
	null_frame(DLT_NULL, 0x1c000000, 6);
	null_frame(DLT_NULL, 0x1e000000, 6);
	null_frame(DLT_LOOP, 2, 4);
	null_frame(DLT_LOOP, 24, 6);
	null_frame(DLT_LOOP, 28, 6);
	null_frame(DLT_LOOP, 30, 6);

	f.len = 0;
	put32(0x07000000); /* AF_IPX or whatever: not IP */
	fill(0x45, 40);
	assert_int_equal(decode(DLT_NULL), DECODE_NOT_TCP);
}

static void test_unknown_link_type(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	client_tcp(1);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_IEEE802_11), DECODE_UNSUPPORTED);
	assert_int_equal(stats.unsupported, 1);
	assert_false(decode_link_supported(DLT_IEEE802_11));
	assert_false(decode_link_supported(DLT_PPP));
	int known[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101,
		       DLT_IPV4,   DLT_IPV6,	  DLT_NULL,	  DLT_LOOP};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_true(decode_link_supported(known[i]));
}

/* ---- VLAN ---- */

static void test_vlan_single_and_double(void **state)
{
	(void)state;
	eth(0x8100);
	vlan_tag(100, 0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(11);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 11);

	f.len = 0;
	eth(0x88a8);
	vlan_tag(100, 0x8100);
	vlan_tag(200, 0x86dd);
	ip = ipv6(6);
	at = client_tcp(12);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 12);
}

static void test_vlan_three_tags_unsupported(void **state)
{
	(void)state;
	eth(0x88a8);
	vlan_tag(1, 0x8100);
	vlan_tag(2, 0x8100);
	vlan_tag(3, 0x0800);
	size_t ip = ipv4(6, 0, 0);
	client_tcp(1);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_UNSUPPORTED);
}

static void test_vlan_tag_cut(void **state)
{
	(void)state;
	eth(0x8100);
	put16(100);
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	assert_int_equal(stats.malformed, 1);
}

/* ---- IPv4 ---- */

static void test_ipv4_options(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 12, 0);
	tcp(1025, 25, 1000, 2000, SEG_ACK | SEG_PSH, 512, 12); /* timestamps-sized */
	size_t at = payload(20);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 20);
}

static void test_ipv4_fragments(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0x2000); /* first: MF, offset 0 */
	client_tcp(100);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_FRAGMENT);

	f.len = 0;
	eth(0x0800);
	ip = ipv4(6, 0, 185); /* last: offset 1480, no MF */
	payload(100);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_FRAGMENT);

	assert_int_equal(stats.fragments, 2);
	assert_int_equal(stats.tcp, 0);
}

static void test_ipv4_big_tcp_total_length_zero(void **state)
{
	(void)state;
	eth(0x0800);
	ipv4(6, 0, 0); /* total length stays 0 */
	size_t at = client_tcp(70000 - 14 - 20 - 20);
	assert_int_equal(f.len, 70000);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 70000 - 54);
	assert_int_equal(stats.truncated, 0);
}

/* A GRO super-packet with a real total length still fits 16 bits. */
static void test_ipv4_gro_64k(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(65535 - 40);
	ipv4_end(ip);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 65535 - 40);
}

static void test_ipv4_total_length_beyond_frame(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(30);
	patch16(ip + 2, 1500);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(4, at, 30);
	assert_int_equal(stats.truncated, 1);
}

static void test_ipv4_bad_header_lengths(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	/* An ack whose top byte would pass for a valid data offset if a 16-byte
	 * IPv4 header were believed: only the IHL check stops it. */
	tcp(1025, 25, 1000, 0x50000000, SEG_ACK, 512, 0);
	payload(10);
	ipv4_end(ip);

	f.b[ip] = 0x44; /* IHL 4: 16 bytes, below the minimum */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	f.b[ip] = 0x4f; /* IHL 15: 60 bytes in a 50-byte packet */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	f.b[ip] = 0x45;
	patch16(ip + 2, 19); /* total length shorter than the header */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	patch16(ip + 2, 50);
	f.b[ip] = 0x65; /* version 6 behind an IPv4 ethertype */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	assert_int_equal(stats.malformed, 4);
}

/* ---- IPv6 ---- */

static void test_ipv6_hop_by_hop_and_dest_options(void **state)
{
	(void)state;
	eth(0x86dd);
	size_t ip = ipv6(0);
	ipv6_opts(60, 1);
	ipv6_opts(43, 2);
	ipv6_opts(6, 1); /* routing header, same layout */
	size_t at = client_tcp(14);
	ipv6_end(ip);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 14);
}

static void test_ipv6_fragments(void **state)
{
	(void)state;
	eth(0x86dd);
	size_t ip = ipv6(44);
	ipv6_frag(6, 0, true);
	client_tcp(50);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_FRAGMENT);

	f.len = 0;
	eth(0x86dd);
	ip = ipv6(0);
	ipv6_opts(44, 1);
	ipv6_frag(6, 100, false);
	payload(50);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_FRAGMENT);
	assert_int_equal(stats.fragments, 2);

	/* Atomic fragment: offset 0, no more fragments - a whole packet. */
	f.len = 0;
	eth(0x86dd);
	ip = ipv6(44);
	ipv6_frag(6, 0, false);
	size_t at = client_tcp(8);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 8);
}

static void test_ipv6_ah_then_tcp_esp_not_tcp(void **state)
{
	(void)state;
	eth(0x86dd);
	size_t ip = ipv6(51);
	put8(6);
	put8(4); /* AH: (4 + 2) * 4 = 24 bytes */
	fill(0, 22);
	size_t at = client_tcp(3);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 3);

	f.len = 0;
	eth(0x86dd);
	ip = ipv6(50);
	fill(0x77, 40);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_NOT_TCP);
}

static void test_ipv6_extension_chain_bounded(void **state)
{
	(void)state;
	eth(0x86dd);
	size_t ip = ipv6(60);
	for (int i = 0; i < 9; i++)
		ipv6_opts(i < 8 ? 60 : 6, 1);
	client_tcp(3);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);

	/* An extension header longer than the packet. */
	f.len = 0;
	eth(0x86dd);
	ip = ipv6(60);
	put8(6);
	put8(200);
	fill(0, 30);
	ipv6_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
}

/* RFC 2675: payload length 0, the real length in a hop-by-hop option. */
static void test_ipv6_jumbogram(void **state)
{
	(void)state;
	sll2(0x86dd);
	size_t ip = ipv6(0);
	put8(6);
	put8(0);
	put8(0xc2);
	put8(4);
	size_t jumbo_at = f.len;
	put32(0);
	size_t at = client_tcp(70000);
	uint32_t jumbo = (uint32_t)(f.len - ip - 40);
	f.b[jumbo_at] = jumbo >> 24;
	f.b[jumbo_at + 1] = jumbo >> 16 & 0xff;
	f.b[jumbo_at + 2] = jumbo >> 8 & 0xff;
	f.b[jumbo_at + 3] = jumbo & 0xff;
	fill(0x99, 16); /* trailing bytes past the jumbo length are not payload */

	assert_int_equal(decode(DLT_LINUX_SLL2), DECODE_OK);
	assert_client_segment(6, at, 70000);
	assert_int_equal(stats.truncated, 0);
}

/* Linux BIG TCP for IPv6 drops the jumbo option: payload length 0 alone. */
static void test_ipv6_payload_length_zero_without_jumbo(void **state)
{
	(void)state;
	eth(0x86dd);
	ipv6(6);
	size_t at = client_tcp(68000);

	assert_int_equal(decode(DLT_EN10MB), DECODE_OK);
	assert_client_segment(6, at, 68000);
}

/* ---- TCP ---- */

static void test_tcp_data_offset_lies(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t th = f.len;
	client_tcp(8);
	ipv4_end(ip);

	f.b[th + 12] = 15 << 4; /* 60-byte header in a 28-byte segment */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	f.b[th + 12] = 4 << 4; /* below the minimum */
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
	assert_int_equal(stats.malformed, 2);
	assert_int_equal(stats.tcp, 0);
}

static void test_tcp_header_cut(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	put16(1025);
	put16(25);
	put32(1);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_MALFORMED);
}

/* ---- snaplen ---- */

static void test_snaplen_cut_in_payload(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	size_t at = client_tcp(1000);
	ipv4_end(ip);

	assert_int_equal(decode_cut(DLT_EN10MB, 96, f.len), DECODE_OK);
	assert_client_segment(4, at, 96 - 54);
	assert_int_equal(stats.truncated, 1);
}

/* tcpdump -s 68 with TCP timestamps: the options are cut too. The segment
 * still carries its flags and sequence number, without payload. */
static void test_snaplen_cut_in_tcp_options(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(6, 0, 0);
	tcp(1025, 25, 1000, 2000, SEG_ACK | SEG_FIN, 512, 40);
	payload(100);
	ipv4_end(ip);

	assert_int_equal(decode_cut(DLT_EN10MB, 68, f.len), DECODE_OK);
	struct want w = {4, 1025, 25, 1000, 2000, SEG_ACK | SEG_FIN, 512, 68, 0};
	assert_segment(&w);
	assert_int_equal(stats.truncated, 1);
}

/* Every prefix of a frame with options everywhere: either malformed (headers
 * cut) or OK with exactly the captured payload - and nothing read past the
 * captured bytes (ASan/UBSan builds check that). */
static void test_every_snaplen(void **state)
{
	(void)state;
	eth(0x8100);
	vlan_tag(7, 0x0800);
	size_t ip = ipv4(6, 8, 0);
	tcp(1025, 25, 1000, 2000, SEG_ACK | SEG_PSH, 512, 12);
	size_t at = payload(64);
	ipv4_end(ip);
	size_t tcp_fixed_end = at - 12; /* the options may be cut */

	for (size_t cap = 0; cap <= f.len; cap++) {
		/* A buffer of exactly the captured length, so ASan sees overreads. */
		uint8_t *copy = malloc(cap ? cap : 1);
		assert_non_null(copy);
		memcpy(copy, f.b, cap);
		memset(&seg, 0, sizeof(seg));
		enum decode_result r =
		    decode_frame(DLT_EN10MB, copy, cap, f.len, &seg, NULL, &stats);
		free(copy);
		if (cap < tcp_fixed_end) {
			assert_int_equal(r, DECODE_MALFORMED);
			continue;
		}
		assert_int_equal(r, DECODE_OK);
		assert_int_equal(seg.payload_len, cap > at ? cap - at : 0);
		assert_int_equal(seg.seq, 1000);
	}
	/* Every OK prefix but the whole frame lost bytes. */
	assert_int_equal(stats.truncated, f.len - tcp_fixed_end);
	assert_int_equal(stats.tcp, f.len - tcp_fixed_end + 1);
}

/* ---- not TCP ---- */

static void test_udp_and_arp(void **state)
{
	(void)state;
	eth(0x0800);
	size_t ip = ipv4(17, 0, 0);
	put16(53);
	put16(25);
	put16(12);
	put16(0);
	payload(4);
	ipv4_end(ip);
	assert_int_equal(decode(DLT_EN10MB), DECODE_NOT_TCP);

	f.len = 0;
	eth(0x0806);
	put16(1);
	put16(0x0800);
	put8(6);
	put8(4);
	put16(1);
	fill(0, 20);
	assert_int_equal(decode(DLT_EN10MB), DECODE_NOT_TCP);

	f.len = 0;
	eth(0x8847); /* MPLS: may carry IP we do not look into */
	fill(0, 40);
	assert_int_equal(decode(DLT_EN10MB), DECODE_UNSUPPORTED);

	assert_int_equal(stats.frames, 3);
	assert_int_equal(stats.not_tcp, 2);
	assert_int_equal(stats.unsupported, 1);
}

static void test_short_link_headers(void **state)
{
	(void)state;
	fill(0, 3);
	int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL, DLT_LOOP};
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
		assert_int_equal(decode(dlts[i]), DECODE_MALFORMED);
	assert_int_equal(stats.malformed, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_ethernet_ipv4_all_fields, reset),
	    cmocka_unit_test_setup(test_ethernet_ipv6, reset),
	    cmocka_unit_test_setup(test_ethernet_padding_is_not_payload, reset),
	    cmocka_unit_test_setup(test_linux_sll_v1, reset),
	    cmocka_unit_test_setup(test_linux_sll_v2, reset),
	    cmocka_unit_test_setup(test_linux_sll_v2_vlan, reset),
	    cmocka_unit_test_setup(test_raw_ip_link_types, reset),
	    cmocka_unit_test_setup(test_bsd_null_and_loop, reset),
	    cmocka_unit_test_setup(test_unknown_link_type, reset),
	    cmocka_unit_test_setup(test_vlan_single_and_double, reset),
	    cmocka_unit_test_setup(test_vlan_three_tags_unsupported, reset),
	    cmocka_unit_test_setup(test_vlan_tag_cut, reset),
	    cmocka_unit_test_setup(test_ipv4_options, reset),
	    cmocka_unit_test_setup(test_ipv4_fragments, reset),
	    cmocka_unit_test_setup(test_ipv4_big_tcp_total_length_zero, reset),
	    cmocka_unit_test_setup(test_ipv4_gro_64k, reset),
	    cmocka_unit_test_setup(test_ipv4_total_length_beyond_frame, reset),
	    cmocka_unit_test_setup(test_ipv4_bad_header_lengths, reset),
	    cmocka_unit_test_setup(test_ipv6_hop_by_hop_and_dest_options, reset),
	    cmocka_unit_test_setup(test_ipv6_fragments, reset),
	    cmocka_unit_test_setup(test_ipv6_ah_then_tcp_esp_not_tcp, reset),
	    cmocka_unit_test_setup(test_ipv6_extension_chain_bounded, reset),
	    cmocka_unit_test_setup(test_ipv6_jumbogram, reset),
	    cmocka_unit_test_setup(test_ipv6_payload_length_zero_without_jumbo, reset),
	    cmocka_unit_test_setup(test_tcp_data_offset_lies, reset),
	    cmocka_unit_test_setup(test_tcp_header_cut, reset),
	    cmocka_unit_test_setup(test_snaplen_cut_in_payload, reset),
	    cmocka_unit_test_setup(test_snaplen_cut_in_tcp_options, reset),
	    cmocka_unit_test_setup(test_every_snaplen, reset),
	    cmocka_unit_test_setup(test_udp_and_arp, reset),
	    cmocka_unit_test_setup(test_short_link_headers, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
