// SPDX-License-Identifier: GPL-2.0-only
/*
 * ipfrag.h - IPv4 and IPv6 fragment reassembly for packet sources, as a Linux
 * receiver does it (policy and limits in docs/reassembly.md, "IP fragments").
 *
 * Fragments (struct ip_fragment from decode_frame) are keyed by family,
 * addresses, protocol and identification. A datagram is handed back whole,
 * as an IP packet for decode_ip_packet(), once its last fragment (no MF) and
 * every byte before it are there. Overlaps follow Linux (RFC 5722 for both
 * families): a fragment wholly inside bytes already held is a duplicate and
 * dropped (the first copy stays); one that overlaps them partly discards the
 * whole datagram. Where overlapping bytes differ, the result says so. Memory
 * is bounded: at most max_bytes of payload held and max_datagrams datagrams
 * (the oldest is dropped to make room), none longer than 65535 bytes of
 * payload, and a datagram incomplete after timeout_ns (Linux: 30 s) is
 * dropped. Time comes from the caller (packet times).
 */
#ifndef SMTPMON_IPFRAG_H
#define SMTPMON_IPFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/decode.h"

struct ipfrag_stats {
	uint64_t fragments;    /* handed in */
	uint64_t datagrams;    /* reassembled and handed back */
	uint64_t overlaps;     /* datagrams discarded for a partial overlap */
	uint64_t duplicates;   /* fragments dropped: their bytes were held already */
	uint64_t inconsistent; /* fragments whose overlapping bytes differed */
	uint64_t timeouts;     /* datagrams dropped incomplete after the timeout */
	uint64_t evicted;      /* datagrams dropped to respect the limits */
	/* Fragments cut by the capture, empty, beyond 65535 bytes, not a
	 * multiple of 8 bytes with more to come, or moving the datagram's end
	 * (the datagram is discarded then, as Linux does). */
	uint64_t invalid;
};

enum ipfrag_verdict {
	IPFRAG_HELD = 0,  /* kept (or dropped as a duplicate): nothing to hand on yet */
	IPFRAG_COMPLETE,  /* *packet, *len: the whole datagram */
	IPFRAG_DISCARDED, /* the datagram is gone (overlap) or the fragment unusable */
};

/* What a fragment revealed besides the verdict. */
struct ipfrag_note {
	bool inconsistent; /* its bytes differed from the copy held */
	bool ports_known;  /* the datagram's first 4 bytes were seen (TCP/UDP ports) */
	uint16_t sport, dport;
};

struct ipfrag;

struct ipfrag *ipfrag_new(size_t max_bytes, unsigned max_datagrams, uint64_t timeout_ns);
void ipfrag_free(struct ipfrag *t);
/* *packet is valid until the next call. */
enum ipfrag_verdict ipfrag_add(struct ipfrag *t, uint64_t now_ns, const struct ip_fragment *f,
			       const uint8_t **packet, size_t *len, struct ipfrag_note *note);
const struct ipfrag_stats *ipfrag_stats(const struct ipfrag *t);
size_t ipfrag_held_bytes(const struct ipfrag *t);
unsigned ipfrag_held_datagrams(const struct ipfrag *t);

#endif
