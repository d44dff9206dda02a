// SPDX-License-Identifier: GPL-2.0-only
/*
 * reasm.h - TCP reassembly of one direction of one connection.
 *
 * Segments arrive in capture order; in-order bytes are handed to the deliver
 * callback exactly once, holes that can no longer be filled to the gap
 * callback. Overlap policy (Linux's, as the local MTA's stack receives; see
 * docs/reassembly.md): bytes already delivered are never delivered again
 * (first copy wins); for bytes buffered out of order the segment that starts
 * first wins, on the same start the longer one, on a tie the buffered one.
 * Wherever two copies of the same bytes differ the inconsistent callback gets
 * both (once per segment) and stats.inconsistent counts it. Sequence numbers are compared modulo
 * 2^32 relative to the initial sequence number; stream offsets are 64-bit. Out-of-order bytes are
 * buffered up to a limit; when it is hit, the hole before the buffered data
 * is declared a gap and delivery continues.
 */
#ifndef SMTPMON_REASM_H
#define SMTPMON_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reasm_ops {
	/* data == NULL: len bytes were seen but not copied by the source. */
	void (*deliver)(void *ctx, const uint8_t *data, size_t len);
	/* offset: stream offset (0 = first byte after the SYN) of the hole. */
	void (*gap)(void *ctx, uint64_t offset, uint64_t len);
	/* Optional. Two copies of [offset, offset + len) differ: kept is the
	 * copy delivered (or to be), other the one dropped; len <=
	 * REASM_DIFF_MAX, starting shortly before the first differing byte. */
	void (*inconsistent)(void *ctx, uint64_t offset, const uint8_t *kept, const uint8_t *other,
			     size_t len);
};

#define REASM_DIFF_MAX 64

struct reasm_stats {
	uint64_t delivered, gap_bytes, gaps;
	uint64_t duplicate_bytes; /* retransmitted bytes dropped */
	uint64_t inconsistent;	  /* segments whose overlapping bytes differed */
	uint64_t buffered_peak;
	uint64_t before_base; /* bytes before the stream start, ignored */
	uint64_t rejected;    /* segments claiming more than 2^31 of sequence space */
};

struct reasm;

/* total_buffered: shared counter of bytes buffered by all reassemblers,
 * so the owner can enforce a global limit. */
struct reasm *reasm_new(const struct reasm_ops *ops, void *ctx, size_t max_buffer,
			size_t *total_buffered);
void reasm_free(struct reasm *r);

/* One segment of this direction. syn: the SYN flag (seq is the ISN). */
void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, uint32_t len, bool syn,
		   uint32_t lost_before);
/* The peer acknowledged everything before ack: bytes before it that were
 * never seen are lost for good (declared as a gap, Zeek-style). */
void reasm_peer_ack(struct reasm *r, uint32_t ack);
/* Declare every hole a gap and deliver all buffered data (end of connection,
 * or memory pressure). */
void reasm_flush(struct reasm *r);
/* From now on the source hands over only some segments of this direction
 * (an encrypted flow: SYN/FIN/RST only): a hole is sequence space that passed
 * uncopied, delivered as deliver(NULL, len) as soon as a later segment, an
 * ACK or the end reveals it, never a gap. Bytes the source reports lost
 * (lost_before) stay gaps. */
void reasm_set_sparse(struct reasm *r);
/* The sequence number of stream offset off (once the direction has a base). */
uint32_t reasm_seq_at(const struct reasm *r, uint64_t off);
size_t reasm_buffered(const struct reasm *r);
uint64_t reasm_stream_bytes(const struct reasm *r); /* sequence space seen */
const struct reasm_stats *reasm_stats(const struct reasm *r);

#endif
