// SPDX-License-Identifier: GPL-2.0-only
/*
 * reasm.c - TCP reassembly of one direction (contract in reasm.h, policies in
 * docs/reassembly.md).
 *
 * A sequence number becomes a 64-bit stream offset by its signed 32-bit
 * distance from the next byte to deliver, so wrap-around needs no special
 * case. In-order bytes go straight from the caller's buffer to deliver();
 * only out-of-order pieces are copied, into a sorted list of non-overlapping
 * ranges. A piece that starts where the range before it ends extends that
 * range, so the segments behind one hole make one range however many they
 * are (a loss on a fast link leaves thousands). Each range is charged its
 * room for payload plus its node size against the limits, so a flood of
 * one-byte segments with holes between them is bounded like a few big ones.
 * Invariants: no buffered range starts at or before next (it would have been
 * drained), and next == stats.delivered + stats.gap_bytes.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "flow/reasm.h"

/* TCP windows are below 2^30; anything claiming 2^31 is garbage, and
 * accepting it would break the signed-distance conversion. */
#define SEQ_SPACE_MAX (1u << 31)
/* Delivered bytes kept to check retransmissions against (per direction). */
#define RECENT_BYTES 128
/* Buffered ranges per direction, in effect holes: touching pieces share a
 * range. The cap keeps a flood of tiny segments with holes between them
 * from making every insertion walk thousands of ranges. */
#define RANGES_MAX 1024
/* What an inconsistency report shows: bytes before the first difference,
 * and the whole excerpt (per copy). */
#define REASM_DIFF_CONTEXT 16

enum range_kind {
	RANGE_DATA,
	RANGE_LENGTH_ONLY, /* seen, but the source did not copy the bytes */
	RANGE_LOST,	   /* the source dropped these bytes: a gap when reached */
};

struct range {
	struct range *next;
	uint64_t off, len;
	uint64_t room; /* bytes allocated in data: >= len for RANGE_DATA, 0 otherwise */
	enum range_kind kind;
	uint8_t data[];
};

struct reasm {
	const struct reasm_ops *ops;
	void *ctx;
	size_t max_buffer;
	size_t *total_buffered;
	size_t private_total; /* total_buffered when the owner has none */
	size_t buffered;
	size_t nranges;
	bool have_base;
	bool seen_segment; /* a segment of this direction, not just ACKs of it */
	bool sparse;	   /* holes are uncopied bytes, not losses (reasm_set_sparse) */
	uint32_t base_seq; /* sequence number of stream offset 0 */
	uint64_t next;	   /* stream offset of the next byte to deliver */
	uint64_t seen_end; /* highest stream offset seen (exclusive) */
	struct range *head, *tail;
	/* The last recent_len delivered bytes, [next - recent_len, next),
	 * byte at offset o stored at recent[o % RECENT_BYTES]. */
	uint8_t recent[RECENT_BYTES];
	uint32_t recent_len;
	struct reasm_stats stats;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t range_end(const struct range *rg)
{
	return rg->off + rg->len;
}

static size_t range_cost(enum range_kind kind, uint64_t room)
{
	return sizeof(struct range) + (kind == RANGE_DATA ? room : 0);
}

struct reasm *reasm_new(const struct reasm_ops *ops, void *ctx, size_t max_buffer,
			size_t *total_buffered)
{
	struct reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ops = ops;
	r->ctx = ctx;
	r->max_buffer = max_buffer;
	r->total_buffered = total_buffered ? total_buffered : &r->private_total;
	return r;
}

static void release(struct reasm *r, struct range *rg)
{
	size_t cost = range_cost(rg->kind, rg->room);

	r->buffered -= cost;
	*r->total_buffered -= cost;
	r->nranges--;
	free(rg);
}

void reasm_free(struct reasm *r)
{
	if (!r)
		return;
	while (r->head) {
		struct range *rg = r->head;
		r->head = rg->next;
		release(r, rg);
	}
	free(r);
}

static void remember(struct reasm *r, const uint8_t *data, uint64_t len)
{
	uint64_t off = r->next;

	if (len > RECENT_BYTES) {
		data += len - RECENT_BYTES;
		off += len - RECENT_BYTES;
		len = RECENT_BYTES;
	}
	size_t pos = off % RECENT_BYTES;
	size_t first = min_u64(len, RECENT_BYTES - pos);
	memcpy(r->recent + pos, data, first);
	memcpy(r->recent, data + first, len - first);
	r->recent_len = min_u64(RECENT_BYTES, r->recent_len + len);
}

static void declare_gap(struct reasm *r, uint64_t len)
{
	uint64_t off = r->next;

	r->stats.gaps++;
	r->stats.gap_bytes += len;
	r->next += len;
	r->recent_len = 0;
	r->ops->gap(r->ctx, off, len);
}

/* Hands over the piece starting at next. */
static void emit(struct reasm *r, enum range_kind kind, const uint8_t *data, uint64_t len)
{
	if (kind == RANGE_LOST) {
		declare_gap(r, len);
		return;
	}
	if (kind == RANGE_DATA)
		remember(r, data, len);
	else
		r->recent_len = 0;
	r->next += len;
	r->stats.delivered += len;
	r->ops->deliver(r->ctx, kind == RANGE_DATA ? data : NULL, len);
}

/* Delivers the buffered ranges that have become contiguous with next. */
static void drain(struct reasm *r)
{
	while (r->head && r->head->off <= r->next) {
		struct range *rg = r->head;
		r->head = rg->next;
		if (!r->head)
			r->tail = NULL;
		if (range_end(rg) > r->next) {
			uint64_t skip = r->next - rg->off;
			emit(r, rg->kind, rg->data + (rg->kind == RANGE_DATA ? skip : 0),
			     rg->len - skip);
		}
		release(r, rg);
	}
}

/* Gives up on every hole before target: gaps for the holes (in a sparse
 * direction: bytes that passed uncopied), buffered data in between
 * delivered. */
static void skip_to(struct reasm *r, uint64_t target)
{
	while (r->next < target) {
		uint64_t hole_end = r->head && r->head->off < target ? r->head->off : target;
		if (hole_end > r->next && r->sparse)
			emit(r, RANGE_LENGTH_ONLY, NULL, hole_end - r->next);
		else if (hole_end > r->next)
			declare_gap(r, hole_end - r->next);
		drain(r);
	}
}

static bool bytes_fit(const struct reasm *r, size_t cost)
{
	return r->buffered + cost <= r->max_buffer;
}

/* Room for one more range of this cost. */
static bool fits(const struct reasm *r, size_t cost)
{
	return bytes_fit(r, cost) && r->nranges < RANGES_MAX;
}

static void charge(struct reasm *r, size_t cost)
{
	r->buffered += cost;
	*r->total_buffered += cost;
	if (r->buffered > r->stats.buffered_peak)
		r->stats.buffered_peak = r->buffered;
}

/* Appends len bytes at the end of rg: in place while there is room, else
 * with room for a quarter more (as the limit allows), so that a range grown a
 * segment at a time is moved only now and then; *moved tells when it was. */
static bool extend(struct reasm *r, struct range *rg, const uint8_t *data, uint64_t len,
		   bool *moved)
{
	uint64_t need = rg->len + len, room = need + need / 4;

	if (rg->kind == RANGE_DATA && need > rg->room) {
		struct range **link = &r->head;

		if (!bytes_fit(r, room - rg->room))
			room = need;
		if (!bytes_fit(r, room - rg->room))
			return false;
		while (*link != rg)
			link = &(*link)->next;
		struct range *grown = realloc(rg, sizeof(*rg) + room);
		if (!grown)
			return false;
		charge(r, room - grown->room);
		grown->room = room;
		*moved = grown != rg;
		*link = rg = grown;
		if (!grown->next)
			r->tail = grown;
	}
	if (rg->kind == RANGE_DATA)
		memcpy(rg->data + rg->len, data, len);
	rg->len = need;
	return true;
}

/* Buffers [off, off + len) at *link, which points at the first range after
 * it: appended to the range before it when they touch, else a range of its
 * own. false when the limits or memory do not allow it; *moved when the
 * range before moved (link, its next field, is stale then). */
static bool insert(struct reasm *r, struct range **link, uint64_t off, enum range_kind kind,
		   const uint8_t *data, uint64_t len, bool *moved)
{
	if (link != &r->head) {
		/* link is the next field of the range before. */
		struct range *before =
		    (struct range *)((char *)link - offsetof(struct range, next));

		if (before->kind == kind && range_end(before) == off)
			return extend(r, before, data, len, moved);
	}

	size_t cost = range_cost(kind, len);
	if (!fits(r, cost))
		return false;
	struct range *rg = malloc(sizeof(*rg) + (kind == RANGE_DATA ? len : 0));
	if (!rg)
		return false;
	rg->off = off;
	rg->len = len;
	rg->room = kind == RANGE_DATA ? len : 0;
	rg->kind = kind;
	if (kind == RANGE_DATA)
		memcpy(rg->data, data, len);
	rg->next = *link;
	*link = rg;
	if (!rg->next)
		r->tail = rg;
	charge(r, cost);
	r->nranges++;
	return true;
}

/* A piece at or after next that overlaps nothing buffered: delivered if in
 * order, buffered otherwise. When the buffer is full, holes before the piece
 * are given up on, earliest first. Returns false if the list was modified
 * before *link (the caller's link is stale). */
static bool place(struct reasm *r, struct range **link, uint64_t off, enum range_kind kind,
		  const uint8_t *data, uint64_t len)
{
	if (off > r->next) {
		size_t cost = range_cost(kind, len);
		bool moved = false;

		if (insert(r, link, off, kind, data, len, &moved))
			return !moved;
		while (!fits(r, cost) && r->head && r->head->off < off)
			skip_to(r, r->head->off);
		if (off > r->next) {
			struct range **at = &r->head;
			while (*at && (*at)->off < off)
				at = &(*at)->next;
			if (insert(r, at, off, kind, data, len, &moved))
				return false;
		}
		if (off > r->next)
			declare_gap(r, off - r->next);
	}
	emit(r, kind, data, len);
	drain(r);
	return false;
}

/* Reports the first difference between the copy kept and the other copy of
 * [off, off + len): up to REASM_DIFF_CONTEXT bytes before the first byte that
 * differs, REASM_DIFF_MAX bytes in all. Once per segment (*reported). */
static void report(struct reasm *r, uint64_t off, const uint8_t *kept, const uint8_t *other,
		   uint64_t len, bool *reported)
{
	uint64_t first = 0;

	while (first < len && kept[first] == other[first])
		first++;
	if (first == len)
		return;
	if (*reported)
		return;
	*reported = true;
	uint64_t from = first > REASM_DIFF_CONTEXT ? first - REASM_DIFF_CONTEXT : 0;
	if (r->ops->inconsistent)
		r->ops->inconsistent(r->ctx, off + from, kept + from, other + from,
				     min_u64(len - from, REASM_DIFF_MAX));
}

/* Bytes before next: the receiver has them already, so the delivered copy
 * wins (compared with the last RECENT_BYTES delivered bytes). */
static void check_redelivery(struct reasm *r, uint64_t off, const uint8_t *data, uint64_t len,
			     bool *reported)
{
	uint64_t from = off > r->next - r->recent_len ? off : r->next - r->recent_len;
	uint8_t kept[RECENT_BYTES];

	if (from >= off + len)
		return;
	for (uint64_t o = from; o < off + len; o++)
		kept[o - from] = r->recent[o % RECENT_BYTES];
	report(r, from, kept, data + (from - off), off + len - from, reported);
}

/* Linux's choice between a buffered out-of-order copy and a new segment
 * [seg_off, seg_end) (tcp_data_queue_ofo(), measured in
 * tests/live/test_overlap_linux.sh): the segment that starts first wins; on
 * the same start the longer one, and on a tie the one already queued. The
 * bytes of every buffered range the new segment wins over are overwritten
 * before the segment is placed, so delivery and draining stay as they are. */
static void overwrite_losers(struct reasm *r, uint64_t seg_off, const uint8_t *data,
			     uint64_t seg_end, bool *reported)
{
	for (struct range *rg = r->head; rg && rg->off < seg_end; rg = rg->next) {
		if (range_end(rg) <= seg_off || rg->kind != RANGE_DATA)
			continue;
		if (!(seg_off < rg->off || (seg_off == rg->off && seg_end > range_end(rg))))
			continue;
		uint64_t from = rg->off > seg_off ? rg->off : seg_off;
		uint64_t to = min_u64(range_end(rg), seg_end);
		uint8_t *old = rg->data + (from - rg->off);
		const uint8_t *new = data + (from - seg_off);

		report(r, from, new, old, to - from, reported);
		memcpy(old, new, to - from);
	}
}

/* Adds [off, off + len): bytes before next or already buffered are
 * duplicates (compared where possible), the rest is placed. */
static void add(struct reasm *r, uint64_t off, enum range_kind kind, const uint8_t *data,
		uint64_t len)
{
	uint64_t end = off + len;
	bool reported = false;
	struct range **link = r->tail && range_end(r->tail) <= off ? &r->tail->next : &r->head;

	/* Appending after everything buffered (the common case) overlaps nothing. */
	if (kind == RANGE_DATA && r->tail && range_end(r->tail) > off)
		overwrite_losers(r, off, data, end, &reported);
	while (off < end) {
		uint64_t stop;
		if (off < r->next) {
			stop = min_u64(end, r->next);
			if (kind != RANGE_LOST)
				r->stats.duplicate_bytes += stop - off;
			if (kind == RANGE_DATA)
				check_redelivery(r, off, data, stop - off, &reported);
		} else {
			while (*link && range_end(*link) <= off)
				link = &(*link)->next;
			struct range *rg = *link;
			if (rg && rg->off <= off) {
				stop = min_u64(end, range_end(rg));
				if (kind != RANGE_LOST)
					r->stats.duplicate_bytes += stop - off;
				if (kind == RANGE_DATA && rg->kind == RANGE_DATA)
					report(r, off, rg->data + (off - rg->off), data, stop - off,
					       &reported);
			} else {
				stop = rg && rg->off < end ? rg->off : end;
				if (!place(r, link, off, kind, data, stop - off))
					link = &r->head;
			}
		}
		if (kind == RANGE_DATA)
			data += stop - off;
		off = stop;
	}
	if (reported)
		r->stats.inconsistent++;
}

/* Stream offset of seq, negative when it lies before the base. */
static int64_t offset_of(const struct reasm *r, uint32_t seq)
{
	uint32_t next_seq = r->base_seq + (uint32_t)r->next;

	return (int64_t)r->next + (int32_t)(seq - next_seq);
}

void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, uint32_t len, bool syn,
		   uint32_t lost_before)
{
	if (len > SEQ_SPACE_MAX || lost_before > SEQ_SPACE_MAX) {
		r->stats.rejected++;
		return;
	}
	if (syn) {
		seq++; /* the SYN takes one sequence number before the data */
		lost_before = 0;
	}
	if (!r->have_base) {
		r->have_base = true;
		r->base_seq = seq - lost_before;
	}
	r->seen_segment = true;

	int64_t off = offset_of(r, seq);
	if (off < 0) {
		uint64_t before = min_u64(len, (uint64_t)-off);
		r->stats.before_base += before;
		if (before == len)
			return;
		if (data)
			data += before;
		len -= before;
		off = 0;
		lost_before = 0;
	}
	if ((uint64_t)off + len > r->seen_end)
		r->seen_end = off + len;
	uint64_t lost_off = (uint64_t)off > lost_before ? off - lost_before : 0;
	if (r->sparse)
		skip_to(r, lost_off);
	if (lost_before)
		add(r, lost_off, RANGE_LOST, NULL, off - lost_off);
	add(r, off, data ? RANGE_DATA : RANGE_LENGTH_ONLY, data, len);
}

void reasm_peer_ack(struct reasm *r, uint32_t ack)
{
	if (!r->seen_segment) {
		/* Nothing of this direction seen yet (or ever: a one-sided
		 * capture): its ACKs only say where the visible stream will
		 * start, they do not reveal lost data. */
		if (!r->have_base || (int32_t)(ack - r->base_seq) > 0) {
			r->have_base = true;
			r->base_seq = ack;
		}
		return;
	}
	int64_t off = offset_of(r, ack);
	/* One past everything seen may acknowledge a FIN that the capture
	 * delivers after its ACK, not a lost byte. */
	if ((uint64_t)off == r->seen_end + 1)
		off--;
	if (off <= (int64_t)r->next)
		return;
	if ((uint64_t)off > r->seen_end)
		r->seen_end = off;
	skip_to(r, off);
}

void reasm_flush(struct reasm *r)
{
	uint64_t end = r->seen_end;

	if (r->tail && range_end(r->tail) > end)
		end = range_end(r->tail);
	skip_to(r, end);
}

void reasm_set_sparse(struct reasm *r)
{
	r->sparse = true;
}

uint32_t reasm_seq_at(const struct reasm *r, uint64_t off)
{
	return r->base_seq + (uint32_t)off;
}

size_t reasm_buffered(const struct reasm *r)
{
	return r->buffered;
}

uint64_t reasm_stream_bytes(const struct reasm *r)
{
	return r->seen_end;
}

const struct reasm_stats *reasm_stats(const struct reasm *r)
{
	return &r->stats;
}
