// SPDX-License-Identifier: GPL-2.0-only
/*
 * ipfrag.c - IP fragment reassembly (contract in ipfrag.h, policy in
 * docs/reassembly.md, "IP fragments").
 *
 * Datagrams being reassembled are few (fragmentation is rare on SMTP paths),
 * so they sit in one list in order of creation: the head is the oldest, the
 * one to time out or to evict first, and lookup is a walk of at most
 * max_datagrams entries. Each datagram holds its payload in one buffer grown
 * to the highest byte seen and the ranges it has as a sorted list of at most
 * RANGES_MAX disjoint, non-touching ranges (a piece that touches a range
 * joins it, as Linux joins fragments that arrive in order into one run).
 */
#include <stdlib.h>
#include <string.h>

#include "source/ipfrag.h"

#define PAYLOAD_MAX  65535u
#define IPV4_HDR_MAX 60
#define IPV6_HDR_LEN 40
#define RANGES_MAX   64 /* holes per datagram: more is an attack, not a path MTU */
#define FRAG_UNIT    8	/* every fragment but the last carries a multiple of 8 bytes */

struct range {
	uint32_t off, end;
};

struct datagram {
	struct datagram *next;
	uint8_t family, proto;
	uint32_t id;
	uint8_t saddr[16], daddr[16];
	uint64_t first_ns;
	uint8_t hdr[IPV4_HDR_MAX]; /* of the fragment at offset 0 */
	size_t hdr_len;		   /* 0 until that fragment is seen */
	uint32_t total;		   /* payload length, once the last fragment is seen */
	bool have_last;
	unsigned nranges;
	struct range ranges[RANGES_MAX];
	uint8_t *buf;
	size_t cap;
};

struct ipfrag {
	size_t max_bytes, held;
	unsigned max_datagrams, ndatagrams;
	uint64_t timeout_ns;
	struct datagram *head, **tail;
	uint8_t out[IPV4_HDR_MAX + PAYLOAD_MAX];
	struct ipfrag_stats stats;
};

struct ipfrag *ipfrag_new(size_t max_bytes, unsigned max_datagrams, uint64_t timeout_ns)
{
	struct ipfrag *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max_bytes = max_bytes;
	t->max_datagrams = max_datagrams;
	t->timeout_ns = timeout_ns;
	t->tail = &t->head;
	return t;
}

static size_t cost(const struct datagram *d)
{
	return sizeof(*d) + d->cap;
}

/* Unlinks and frees the datagram *link points to. */
static void drop(struct ipfrag *t, struct datagram **link)
{
	struct datagram *d = *link;

	*link = d->next;
	if (t->tail == &d->next)
		t->tail = link;
	t->held -= cost(d);
	t->ndatagrams--;
	free(d->buf);
	free(d);
}

void ipfrag_free(struct ipfrag *t)
{
	if (!t)
		return;
	while (t->head)
		drop(t, &t->head);
	free(t);
}

static bool same_datagram(const struct datagram *d, const struct ip_fragment *f)
{
	size_t alen = f->family == 4 ? 4 : 16;

	return d->family == f->family && d->proto == f->proto && d->id == f->id &&
	       !memcmp(d->saddr, f->saddr, alen) && !memcmp(d->daddr, f->daddr, alen);
}

static struct datagram **find(struct ipfrag *t, const struct ip_fragment *f)
{
	struct datagram **link = &t->head;

	while (*link && !same_datagram(*link, f))
		link = &(*link)->next;
	return *link ? link : NULL;
}

static struct datagram **create(struct ipfrag *t, uint64_t now_ns, const struct ip_fragment *f)
{
	struct datagram *d;

	while (t->head &&
	       (t->ndatagrams >= t->max_datagrams || t->held + sizeof(*d) > t->max_bytes)) {
		t->stats.evicted++;
		drop(t, &t->head);
	}
	if (t->ndatagrams >= t->max_datagrams || t->held + sizeof(*d) > t->max_bytes)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->family = f->family;
	d->proto = f->proto;
	d->id = f->id;
	memcpy(d->saddr, f->saddr, sizeof(d->saddr));
	memcpy(d->daddr, f->daddr, sizeof(d->daddr));
	d->first_ns = now_ns;
	struct datagram **link = t->tail;
	*link = d;
	t->tail = &d->next;
	t->ndatagrams++;
	t->held += sizeof(*d);
	return link;
}

static void expire(struct ipfrag *t, uint64_t now_ns)
{
	while (t->head && now_ns > t->head->first_ns &&
	       now_ns - t->head->first_ns > t->timeout_ns) {
		t->stats.timeouts++;
		drop(t, &t->head);
	}
}

static void note_ports(const struct datagram *d, struct ipfrag_note *note)
{
	if (d->nranges && d->ranges[0].off == 0 && d->ranges[0].end >= 4) {
		note->ports_known = true;
		note->sport = (uint16_t)(d->buf[0] << 8 | d->buf[1]);
		note->dport = (uint16_t)(d->buf[2] << 8 | d->buf[3]);
	}
}

/* Whether the bytes held in [off, end) (inside r) differ from data. */
static bool differs(const struct datagram *d, const struct range *r, uint32_t off, uint32_t end,
		    const uint8_t *data, uint32_t data_off)
{
	uint32_t from = off > r->off ? off : r->off, to = end < r->end ? end : r->end;

	return from < to && memcmp(d->buf + from, data + (from - data_off), to - from);
}

/* Room for payload up to end, evicting the oldest other datagrams as
 * needed; false when even then the limits do not allow it. */
static bool grow(struct ipfrag *t, struct datagram *d, uint32_t end)
{
	if (end <= d->cap)
		return true;
	size_t cap = d->cap ? d->cap : 2048;
	while (cap < end)
		cap *= 2;
	if (cap > PAYLOAD_MAX)
		cap = PAYLOAD_MAX;
	while (t->held + (cap - d->cap) > t->max_bytes && t->head != d) {
		t->stats.evicted++;
		drop(t, &t->head);
	}
	if (t->held + (cap - d->cap) > t->max_bytes)
		return false;
	uint8_t *b = realloc(d->buf, cap);
	if (!b)
		return false;
	t->held += cap - d->cap;
	d->buf = b;
	d->cap = cap;
	return true;
}

/* Adds [off, end) to the sorted ranges (it overlaps none), joining touching
 * neighbours. false when a new range would pass RANGES_MAX. */
static bool add_range(struct datagram *d, uint32_t off, uint32_t end)
{
	unsigned i = 0;

	while (i < d->nranges && d->ranges[i].end < off)
		i++;
	bool joins_before = i < d->nranges && d->ranges[i].end == off;
	unsigned after = joins_before ? i + 1 : i;
	bool joins_after = after < d->nranges && d->ranges[after].off == end;

	if (joins_before && joins_after) {
		d->ranges[i].end = d->ranges[after].end;
		memmove(d->ranges + after, d->ranges + after + 1,
			(d->nranges - after - 1) * sizeof(d->ranges[0]));
		d->nranges--;
	} else if (joins_before) {
		d->ranges[i].end = end;
	} else if (joins_after) {
		d->ranges[after].off = off;
	} else {
		if (d->nranges == RANGES_MAX)
			return false;
		memmove(d->ranges + i + 1, d->ranges + i, (d->nranges - i) * sizeof(d->ranges[0]));
		d->ranges[i] = (struct range){off, end};
		d->nranges++;
	}
	return true;
}

/* The datagram as one IP packet in t->out: the first fragment's header, no
 * longer a fragment, then the payload. IPv6 keeps only the fixed header
 * (extension headers before the fragment header matter to no TCP parser). */
static size_t build(struct ipfrag *t, const struct datagram *d)
{
	uint8_t *p = t->out;

	memcpy(p, d->hdr, d->hdr_len);
	if (d->family == 4) {
		uint32_t total = (uint32_t)d->hdr_len + d->total;
		p[2] = (uint8_t)(total >> 8);
		p[3] = (uint8_t)total;
		p[6] = p[7] = 0; /* no MF, offset 0 */
		p[10] = p[11] = 0;
	} else {
		p[4] = (uint8_t)(d->total >> 8);
		p[5] = (uint8_t)d->total;
		p[6] = d->proto;
	}
	memcpy(p + d->hdr_len, d->buf, d->total);
	return d->hdr_len + d->total;
}

enum ipfrag_verdict ipfrag_add(struct ipfrag *t, uint64_t now_ns, const struct ip_fragment *f,
			       const uint8_t **packet, size_t *len, struct ipfrag_note *note)
{
	uint32_t off = f->offset, end = f->offset + (uint32_t)f->len;
	struct datagram **link, *d;

	memset(note, 0, sizeof(*note));
	t->stats.fragments++;
	expire(t, now_ns);
	/* Unusable: cut by the capture, empty, beyond the largest datagram, or
	 * not a multiple of 8 bytes where more follow (Linux drops those). */
	if (f->cut || f->len == 0 || f->len > PAYLOAD_MAX || end > PAYLOAD_MAX ||
	    (f->more && f->len % FRAG_UNIT) || (f->offset == 0 && f->ip_hdr_len > IPV4_HDR_MAX)) {
		t->stats.invalid++;
		return IPFRAG_DISCARDED;
	}
	link = find(t, f);
	if (!link)
		link = create(t, now_ns, f);
	if (!link)
		return IPFRAG_DISCARDED;
	d = *link;

	/* The end of the datagram must not move (Linux: discard). */
	bool bad_end = f->more ? d->have_last && end > d->total
			       : (d->have_last && end != d->total) ||
				     (d->nranges && d->ranges[d->nranges - 1].end > end);
	for (unsigned i = 0; !bad_end && i < d->nranges; i++) {
		const struct range *r = &d->ranges[i];

		if (off >= r->end || end <= r->off)
			continue;
		note->inconsistent = differs(d, r, off, end, f->data, off);
		for (unsigned j = i + 1; !note->inconsistent && j < d->nranges; j++)
			note->inconsistent = differs(d, &d->ranges[j], off, end, f->data, off);
		t->stats.inconsistent += note->inconsistent;
		note_ports(d, note);
		if (off >= r->off && end <= r->end) {
			t->stats.duplicates++;
			return IPFRAG_HELD;
		}
		t->stats.overlaps++;
		drop(t, link);
		return IPFRAG_DISCARDED;
	}
	bool room = !bad_end && grow(t, d, end);
	link = find(t, f); /* growing may have dropped the datagram before d */
	if (!room || !add_range(d, off, end)) {
		if (bad_end)
			t->stats.invalid++;
		else
			t->stats.evicted++;
		note_ports(d, note);
		drop(t, link);
		return IPFRAG_DISCARDED;
	}
	memcpy(d->buf + off, f->data, f->len);
	if (off == 0) {
		d->hdr_len = f->family == 4 ? f->ip_hdr_len : IPV6_HDR_LEN;
		memcpy(d->hdr, f->ip_hdr, d->hdr_len);
	}
	if (!f->more) {
		d->have_last = true;
		d->total = end;
	}
	note_ports(d, note);
	if (!d->have_last || !d->hdr_len || d->nranges != 1 || d->ranges[0].off ||
	    d->ranges[0].end != d->total)
		return IPFRAG_HELD;
	*len = build(t, d);
	*packet = t->out;
	t->stats.datagrams++;
	drop(t, link);
	return IPFRAG_COMPLETE;
}

const struct ipfrag_stats *ipfrag_stats(const struct ipfrag *t)
{
	return &t->stats;
}

size_t ipfrag_held_bytes(const struct ipfrag *t)
{
	return t->held;
}

unsigned ipfrag_held_datagrams(const struct ipfrag *t)
{
	return t->ndatagrams;
}
