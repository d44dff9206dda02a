// SPDX-License-Identifier: GPL-2.0-only
/*
 * segment.h - the one interface between packet sources and the pipeline.
 *
 * Both sources (pcap files, user/pcap_source.c; the BPF ring buffer,
 * user/capture.c) turn what they see into struct segment and hand it to
 * pipeline_segment(). A segment is one TCP segment (or one piece of it) of
 * one direction. Nothing in it is trusted: lengths are what the source could
 * actually read, never a length field from the wire.
 */
#ifndef SMTPMON_SEGMENT_H
#define SMTPMON_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#define SEG_FIN 0x01
#define SEG_SYN 0x02
#define SEG_RST 0x04
#define SEG_PSH 0x08
#define SEG_ACK 0x10
/* Not a TCP flag: the source hands over only the SYN/FIN/RST of this
 * encrypted flow, so a sequence jump is encrypted bytes, not a loss. */
#define SEG_ENCRYPTED 0x80

struct segment {
	uint64_t ts_ns; /* wall clock, nanoseconds since the epoch */
	/* The source's steady clock (live: the kernel's CLOCK_BOOTTIME), which
	 * idle timeouts run on, so that a step of the wall clock ends no
	 * connection; 0: the source has none, ts_ns is used (pcap files). */
	uint64_t mono_ns;
	uint8_t family; /* 4 or 6 */
	uint8_t flags;	/* SEG_* (TCP flags) */
	uint16_t window;
	uint8_t saddr[16]; /* IPv4: first 4 bytes */
	uint8_t daddr[16];
	uint16_t sport;
	uint16_t dport;
	uint32_t seq; /* sequence number of the first payload byte (of the SYN if SYN) */
	uint32_t ack; /* valid when SEG_ACK */
	/* payload_len bytes of sequence space are covered; payload points to
	 * them, or is NULL when the source did not copy them (encrypted flow:
	 * lengths only; otherwise message body skipped on request,
	 * docs/body-skip.md). */
	const uint8_t *payload;
	uint32_t payload_len;
	/* The source itself lost this many bytes of this direction just before
	 * this segment (ring buffer full, snaplen cut): a known gap. */
	uint32_t lost_before;
};

#endif
