/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * parse.bpf.h - header parsing shared by the TC and XDP programs.
 *
 * Contract: parse_packet() walks Ethernet, up to SMTPMON_VLAN_MAX VLAN tags,
 * IPv4 (options skipped) or IPv6 (up to SMTPMON_IPV6_EXT_MAX extension
 * headers) and the fixed TCP header, using direct packet access on the linear
 * part only. It fills struct pkt: family, ports, sequence number, flags and
 * the packet offsets of the IP header, the TCP header and the payload; that is
 * all the port test needs, so a packet of another port costs nothing more.
 * For the segments that stay, pkt_addresses_match() compares the addresses
 * with a record header's and pkt_fill_header() copies addresses, ports, ack
 * and window into one. Nothing from the wire is trusted: every offset is
 * bounds-checked against data_end, and the IP length fields are only used as
 * an upper bound on the payload.
 */
#ifndef SMTPMON_PARSE_BPF_H
#define SMTPMON_PARSE_BPF_H

#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define ETH_P_8021Q   0x8100
#define ETH_P_8021AD  0x88A8
#define IP_MF	      0x2000
#define IP_OFFSET     0x1FFF
#define NEXTHDR_HOP   0
#define NEXTHDR_TCP   6
#define NEXTHDR_ROUTE 43
#define NEXTHDR_FRAG  44
#define NEXTHDR_AUTH  51
#define NEXTHDR_DEST  60

#define SMTPMON_VLAN_MAX     2
#define SMTPMON_IPV6_EXT_MAX 6
/* Headers further into the packet than this are treated as malformed; it also
 * keeps the verifier's offset ranges small. */
#define SMTPMON_HDR_OFF_MAX 512

enum parse_result {
	PARSE_TCP = 0,	 /* struct pkt filled */
	PARSE_OTHER,	 /* not TCP over IP: not ours */
	PARSE_FRAGMENT,	 /* IP fragment: counted, skipped */
	PARSE_MALFORMED, /* truncated or inconsistent headers */
};

struct pkt {
	__u32 l3_off;	   /* IP header */
	__u32 tcp_off;	   /* TCP header */
	__u32 payload_off; /* first TCP payload byte */
	__u32 ip_end;	   /* end of the IP datagram per its length field, 0 if unknown */
	__u32 seq;
	__u16 sport, dport; /* host byte order */
	__u8 tcp_flags;
	__u8 family; /* 4 or 6 */
};

/* Wire formats, declared here rather than taken from vmlinux.h: they never
 * change, so they need no CO-RE relocations, and plain byte fields avoid
 * bitfield accesses. */
struct wire_eth {
	__u8 dst[6], src[6];
	__be16 proto;
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct wire_ipv4 {
	__u8 version_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__u8 saddr[4], daddr[4];
};

struct wire_ipv6 {
	__u8 version_class[4];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16], daddr[16];
};

struct wire_tcp {
	__be16 source, dest;
	__be32 seq, ack_seq;
	__u8 doff_res; /* data offset in 32-bit words, high nibble */
	__u8 flags;
	__be16 window, check, urg_ptr;
};

struct ip6_ext {
	__u8 nexthdr;
	__u8 len;
};

static __always_inline enum parse_result parse_tcp(void *data, void *data_end, __u32 off,
						   struct pkt *p)
{
	struct wire_tcp *tcp;

	if (off > SMTPMON_HDR_OFF_MAX)
		return PARSE_MALFORMED;
	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return PARSE_MALFORMED;
	__u32 doff = (tcp->doff_res >> 4) * 4;
	if (doff < sizeof(*tcp))
		return PARSE_MALFORMED;
	p->sport = bpf_ntohs(tcp->source);
	p->dport = bpf_ntohs(tcp->dest);
	p->seq = bpf_ntohl(tcp->seq);
	p->tcp_flags = tcp->flags;
	p->tcp_off = off;
	p->payload_off = off + doff;
	/* Keep clang from sinking these loads past the bounds check into code
	 * where the verifier no longer knows the pointer's range. */
	asm volatile("" ::: "memory");
	return PARSE_TCP;
}

static __always_inline enum parse_result parse_ipv4(void *data, void *data_end, __u32 off,
						    struct pkt *p)
{
	struct wire_ipv4 *ip = data + off;

	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	__u32 ihl = (ip->version_ihl & 0x0f) * 4;
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip))
		return PARSE_MALFORMED;
	if (ip->protocol != NEXTHDR_TCP)
		return PARSE_OTHER;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_FRAGMENT;
	p->family = 4;
	/* tot_len is 0 for BIG TCP super-packets: no bound then. */
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	p->ip_end = tot_len ? off + tot_len : 0;
	return parse_tcp(data, data_end, off + ihl, p);
}

static __always_inline enum parse_result parse_ipv6(void *data, void *data_end, __u32 off,
						    struct pkt *p)
{
	struct wire_ipv6 *ip6 = data + off;

	if ((void *)(ip6 + 1) > data_end)
		return PARSE_MALFORMED;
	if ((ip6->version_class[0] >> 4) != 6)
		return PARSE_MALFORMED;
	p->family = 6;
	__u32 plen = bpf_ntohs(ip6->payload_len);
	p->ip_end = plen ? off + sizeof(*ip6) + plen : 0;

	__u8 nexthdr = ip6->nexthdr;
	off += sizeof(*ip6);
	for (int i = 0; i <= SMTPMON_IPV6_EXT_MAX; i++) {
		struct ip6_ext *ext;

		if (nexthdr == NEXTHDR_TCP)
			return parse_tcp(data, data_end, off, p);
		if (nexthdr == NEXTHDR_FRAG)
			return PARSE_FRAGMENT;
		if (nexthdr != NEXTHDR_HOP && nexthdr != NEXTHDR_ROUTE && nexthdr != NEXTHDR_DEST &&
		    nexthdr != NEXTHDR_AUTH)
			return PARSE_OTHER;
		if (off > SMTPMON_HDR_OFF_MAX)
			return PARSE_MALFORMED;
		ext = data + off;
		if ((void *)(ext + 1) > data_end)
			return PARSE_MALFORMED;
		/* AH counts 4-byte units minus 2, the others 8-byte units minus 1. */
		off += nexthdr == NEXTHDR_AUTH ? (ext->len + 2) * 4 : (ext->len + 1) * 8;
		nexthdr = ext->nexthdr;
	}
	return PARSE_MALFORMED;
}

static __always_inline enum parse_result parse_packet(void *data, void *data_end, struct pkt *p)
{
	struct wire_eth *eth = data;
	__u32 off = sizeof(*eth);

	if ((void *)(eth + 1) > data_end)
		return PARSE_MALFORMED;
	__be16 proto = eth->proto;
	for (int i = 0; i < SMTPMON_VLAN_MAX; i++) {
		struct vlan_tag *tag = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return PARSE_MALFORMED;
		proto = tag->proto;
		off += sizeof(*tag);
	}
	p->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(data, data_end, off, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(data, data_end, off, p);
	return PARSE_OTHER;
}

/* The source and destination addresses of a parsed packet: 4 or 16 bytes
 * each, back to back (IPv4 and IPv6 both put them at the end of the fixed
 * header). NULL cannot happen once parse_packet() said PARSE_TCP, but the
 * verifier needs the bounds checked again. */
static __always_inline void *pkt_addresses(void *data, void *data_end, const struct pkt *p)
{
	void *a;

	if (p->l3_off > SMTPMON_HDR_OFF_MAX)
		return NULL;
	if (p->family == 4) {
		a = data + p->l3_off + __builtin_offsetof(struct wire_ipv4, saddr);
		return a + 8 > data_end ? NULL : a;
	}
	a = data + p->l3_off + __builtin_offsetof(struct wire_ipv6, saddr);
	return a + 32 > data_end ? NULL : a;
}

/* The packet's addresses are saddr and daddr, 16 bytes each as in a record
 * header (an IPv4 address in the first 4; the caller compares families). */
static __always_inline bool pkt_addresses_match(void *data, void *data_end, const struct pkt *p,
						const __u8 *saddr, const __u8 *daddr)
{
	const __u32 *a = pkt_addresses(data, data_end, p);
	const __u32 *s = (const void *)saddr, *d = (const void *)daddr;

	if (!a)
		return false;
	if (p->family == 4)
		return s[0] == a[0] && d[0] == a[1];
	return s[0] == a[0] && s[1] == a[1] && s[2] == a[2] && s[3] == a[3] && d[0] == a[4] &&
	       d[1] == a[5] && d[2] == a[6] && d[3] == a[7];
}

/* Addresses, ports, ack and window into h, which the caller zeroed and
 * whose other fields it fills; false cannot happen once parse_packet() said
 * PARSE_TCP. */
static __always_inline bool pkt_fill_header(void *data, void *data_end, const struct pkt *p,
					    struct smtpmon_rec *h)
{
	const __u8 *a = pkt_addresses(data, data_end, p);
	struct wire_tcp *tcp;

	if (!a || p->tcp_off > SMTPMON_HDR_OFF_MAX)
		return false;
	tcp = data + p->tcp_off;
	if ((void *)(tcp + 1) > data_end)
		return false;
	if (p->family == 4) {
		__builtin_memcpy(h->saddr, a, 4);
		__builtin_memcpy(h->daddr, a + 4, 4);
	} else {
		__builtin_memcpy(h->saddr, a, 16);
		__builtin_memcpy(h->daddr, a + 16, 16);
	}
	h->family = p->family;
	h->sport = p->sport;
	h->dport = p->dport;
	h->ack = bpf_ntohl(tcp->ack_seq);
	h->window = bpf_ntohs(tcp->window);
	return true;
}

#endif
