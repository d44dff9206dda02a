// SPDX-License-Identifier: GPL-2.0-only
/*
 * reseg.c - segmentation-invariance driver (acceptance 5): reads pcap files
 * through the real source (pcap_source_read) and re-cuts every TCP segment
 * before the pipeline sees it. The event stream (JSON lines, all events,
 * data and credentials on) must not depend on how the bytes were cut.
 *
 *   reseg [--mode MODE] [--seed N] [--window N] FILE...
 *
 * Modes:
 *   asis     segments unchanged (must equal `smtpmon read`)
 *   bytes1   every payload cut into 1-byte segments
 *   random   cut at random sizes (1..600 bytes, seeded)
 *   shuffle  random cut, pieces of one segment delivered in random order
 *   reorder  random cut, pieces shuffled across a window of consecutive
 *            segments of one direction (no segment of anything else between
 *            them, so the interleaving of the two directions is kept)
 *   dup      random cut, pieces retransmitted and overlapping re-sends
 *   chaos    reorder and dup together
 *
 * Segments and ticks are intercepted by linking with
 * -Wl,--wrap=pipeline_segment,--wrap=pipeline_tick, so decoding, timestamps,
 * ticks and truncation handling are exactly those of smtpmon itself; only the
 * cutting differs. Every piece keeps the original
 * ts, ack, window and addresses; seq is the original one plus the piece's
 * offset (plus one after a SYN); SYN stays on the first piece, FIN/PSH/RST on
 * the last one.
 *
 * What is never moved, because moving it would change what a correct monitor
 * must report (not merely how the bytes were cut): a segment with SYN or RST,
 * the first segment of each direction of a 4-tuple (it fixes the stream's
 * start for a connection whose handshake was not seen), a segment the source
 * flagged with lost_before, and anything across a segment of the other
 * direction or of another connection (that interleaving is SMTP semantics:
 * pipelining, and ACKs declare gaps; only a bare ACK that covers none of the
 * held bytes may overtake them). RST segments are not duplicated (a
 * second RST after the end would open a new connection), and no duplicate is
 * sent after a segment's FIN piece (a retransmission after the close is a
 * different capture, not a different cut).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings/config.h"
#include "output/output.h"
#include "source/pcap_source.h"
#include "flow/pipeline.h"

void __real_pipeline_segment(struct pipeline *p, const struct segment *seg);
void __wrap_pipeline_segment(struct pipeline *p, const struct segment *seg);
void __real_pipeline_tick(struct pipeline *p, uint64_t now_ns, uint64_t mono_ns);
void __wrap_pipeline_tick(struct pipeline *p, uint64_t now_ns, uint64_t mono_ns);

#define MAX_PIECE	 600
#define WINDOW_MAX_BYTES (64u * 1024)

enum cut_mode { CUT_NONE, CUT_ONE, CUT_RANDOM };

struct mode_spec {
	const char *name;
	enum cut_mode cut;
	bool shuffle; /* pieces of one segment */
	bool window;  /* pieces across consecutive same-direction segments */
	bool dup;
};

static const struct mode_spec modes[] = {
    {"asis", CUT_NONE, false, false, false},	 {"bytes1", CUT_ONE, false, false, false},
    {"random", CUT_RANDOM, false, false, false}, {"shuffle", CUT_RANDOM, true, false, false},
    {"reorder", CUT_RANDOM, true, true, false},	 {"dup", CUT_RANDOM, false, false, true},
    {"chaos", CUT_RANDOM, true, true, true},
};

/* One original segment whose payload was copied because it is held in the
 * window past the return of the source's call. */
struct held_seg {
	struct segment seg;
	uint8_t *copy;
};

struct piece {
	size_t seg_index; /* into the held segments */
	uint32_t off, len;
	bool first, last; /* carries SYN / carries FIN, PSH, RST */
};

struct keyset {
	uint8_t (*keys)[38];
	size_t cap, used;
};

static struct {
	const struct mode_spec *mode;
	unsigned window_segs;
	uint64_t rng;
	struct pipeline *pipeline;
	struct keyset seen; /* directions already seen */
	struct held_seg *held;
	size_t nheld, held_cap;
	size_t held_bytes;
	struct piece *pieces;
	size_t npieces, pieces_cap;
	/* What was done, so a test can tell that a mode did something. */
	struct {
		uint64_t segments, pieces, multi_windows, out_of_order, acks_overtaking;
	} count;
} st;

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "reseg: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return q;
}

/* splitmix64: small, seedable, the same sequence on every platform. */
static uint64_t rng_next(void)
{
	uint64_t z = (st.rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

static void direction_key(const struct segment *seg, uint8_t key[38])
{
	key[0] = 1; /* marks a used slot */
	key[1] = seg->family;
	memcpy(key + 2, seg->saddr, 16);
	memcpy(key + 18, seg->daddr, 16);
	memcpy(key + 34, &seg->sport, 2);
	memcpy(key + 36, &seg->dport, 2);
}

static uint64_t key_hash(const uint8_t key[38])
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 38; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return h;
}

/* Inserts key; returns true if it was already there. */
static bool keyset_test_and_add(struct keyset *ks, const uint8_t key[38])
{
	if (2 * (ks->used + 1) > ks->cap) {
		struct keyset bigger = {.cap = ks->cap ? 2 * ks->cap : 64};
		bigger.keys = xrealloc(NULL, bigger.cap * sizeof(*bigger.keys));
		memset(bigger.keys, 0, bigger.cap * sizeof(*bigger.keys));
		for (size_t i = 0; i < ks->cap; i++)
			if (ks->keys[i][0])
				keyset_test_and_add(&bigger, ks->keys[i]);
		free(ks->keys);
		*ks = bigger;
	}
	size_t i = key_hash(key) & (ks->cap - 1);
	while (ks->keys[i][0]) {
		if (!memcmp(ks->keys[i], key, 38))
			return true;
		i = (i + 1) & (ks->cap - 1);
	}
	memcpy(ks->keys[i], key, 38);
	ks->used++;
	return false;
}

static bool same_direction(const struct segment *a, const struct segment *b)
{
	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->saddr, b->saddr, 16) && !memcmp(a->daddr, b->daddr, 16);
}

static void push_piece(size_t seg_index, uint32_t off, uint32_t len, bool first, bool last)
{
	if (st.npieces == st.pieces_cap) {
		st.pieces_cap = st.pieces_cap ? 2 * st.pieces_cap : 256;
		st.pieces = xrealloc(st.pieces, st.pieces_cap * sizeof(*st.pieces));
	}
	st.pieces[st.npieces++] = (struct piece){seg_index, off, len, first, last};
}

static void shuffle_pieces(size_t from)
{
	for (size_t i = st.npieces - 1; i > from; i--) {
		size_t j = from + rng_below((uint32_t)(i - from + 1));
		struct piece t = st.pieces[i];
		st.pieces[i] = st.pieces[j];
		st.pieces[j] = t;
	}
}

/* Exact retransmissions of pieces already sent, and re-sends of a random
 * range of a segment (overlapping piece boundaries, sometimes ahead of the
 * bytes in order). Duplicates carry neither SYN nor FIN, and none is sent
 * once a FIN piece went out or for an RST segment. */
static void add_duplicates(void)
{
	size_t n = st.npieces;
	struct piece *orig = xrealloc(NULL, n * sizeof(*orig));
	bool closed = false;

	memcpy(orig, st.pieces, n * sizeof(*orig));
	st.npieces = 0;
	for (size_t i = 0; i < n; i++) {
		const struct piece *pc = &orig[i];
		const struct segment *seg = &st.held[pc->seg_index].seg;
		bool eligible = !closed && !(seg->flags & SEG_RST) && seg->payload_len > 0;

		if (eligible && rng_below(3) == 0) {
			uint32_t a = rng_below(seg->payload_len);
			uint32_t room = seg->payload_len - a;
			uint32_t len = 1 + rng_below(room < 2 * MAX_PIECE ? room : 2 * MAX_PIECE);
			push_piece(pc->seg_index, a, len, false, false);
		}
		push_piece(pc->seg_index, pc->off, pc->len, pc->first, pc->last);
		if (pc->last && (seg->flags & SEG_FIN))
			closed = true;
		if (!closed && eligible && rng_below(2) == 0) {
			const struct piece *old = &orig[rng_below((uint32_t)(i + 1))];
			if (old->len > 0)
				push_piece(old->seg_index, old->off, old->len, false, false);
		}
	}
	free(orig);
}

static void cut_segment(size_t seg_index)
{
	const struct segment *seg = &st.held[seg_index].seg;
	uint32_t len = seg->payload_len, off = 0;

	if (len == 0 || st.mode->cut == CUT_NONE) {
		push_piece(seg_index, 0, len, true, true);
		return;
	}
	while (off < len) {
		uint32_t n = st.mode->cut == CUT_ONE ? 1 : 1 + rng_below(MAX_PIECE);
		if (n > len - off)
			n = len - off;
		push_piece(seg_index, off, n, off == 0, off + n == len);
		off += n;
	}
}

static void feed_piece(const struct piece *pc)
{
	const struct held_seg *h = &st.held[pc->seg_index];
	struct segment s = h->seg;
	bool syn = h->seg.flags & SEG_SYN;

	s.flags &= ~(SEG_SYN | SEG_FIN | SEG_PSH | SEG_RST);
	if (pc->first)
		s.flags |= h->seg.flags & SEG_SYN;
	if (pc->last)
		s.flags |= h->seg.flags & (SEG_FIN | SEG_PSH | SEG_RST);
	/* seq names the SYN when the piece carries it, else its first byte. */
	s.seq = h->seg.seq + pc->off + (syn && !(s.flags & SEG_SYN) ? 1 : 0);
	s.payload = h->copy ? h->copy + pc->off : NULL;
	s.payload_len = pc->len;
	s.lost_before = pc->first ? h->seg.lost_before : 0;
	__real_pipeline_segment(st.pipeline, &s);
}

static void flush_window(void)
{
	if (st.nheld == 0)
		return;
	if (st.mode->window && st.npieces > 1)
		shuffle_pieces(0);
	if (st.mode->dup)
		add_duplicates();
	st.count.multi_windows += st.nheld > 1;
	st.count.pieces += st.npieces;
	for (size_t i = 0; i < st.npieces; i++) {
		const struct piece *prev = i ? &st.pieces[i - 1] : NULL;
		st.count.out_of_order +=
		    prev &&
		    (st.pieces[i].seg_index < prev->seg_index ||
		     (st.pieces[i].seg_index == prev->seg_index && st.pieces[i].off < prev->off));
		feed_piece(&st.pieces[i]);
	}
	for (size_t i = 0; i < st.nheld; i++)
		free(st.held[i].copy);
	st.nheld = st.npieces = st.held_bytes = 0;
}

static size_t hold(const struct segment *seg)
{
	if (st.nheld == st.held_cap) {
		st.held_cap = st.held_cap ? 2 * st.held_cap : 16;
		st.held = xrealloc(st.held, st.held_cap * sizeof(*st.held));
	}
	struct held_seg *h = &st.held[st.nheld];
	h->seg = *seg;
	h->copy = NULL;
	if (seg->payload && seg->payload_len) {
		h->copy = xrealloc(NULL, seg->payload_len);
		memcpy(h->copy, seg->payload, seg->payload_len);
	}
	st.held_bytes += seg->payload_len;
	return st.nheld++;
}

/* May this segment's pieces be moved relative to other segments? */
static bool movable(const struct segment *seg, bool first_of_direction)
{
	return !first_of_direction && !(seg->flags & (SEG_SYN | SEG_RST)) && !seg->lost_before &&
	       seg->payload_len > 0;
}

/* Sequence ranges compared modulo 2^32 (held segments never carry SYN). */
static bool overlaps(const struct segment *a, const struct segment *b)
{
	return (int32_t)(b->seq - (a->seq + a->payload_len)) < 0 &&
	       (int32_t)(a->seq - (b->seq + b->payload_len)) < 0;
}

/* A retransmission is never moved against the copy it repeats: when the
 * copies differ (an inconsistent retransmission, as in some corpus traces),
 * which one comes first decides which bytes count, so their order is part
 * of the capture, not of the cut. */
static bool extends_window(const struct segment *seg)
{
	if (!st.mode->window || st.nheld == 0 || st.nheld >= st.window_segs ||
	    !same_direction(&st.held[0].seg, seg) ||
	    st.held_bytes + seg->payload_len > WINDOW_MAX_BYTES)
		return false;
	for (size_t i = 0; i < st.nheld; i++)
		if (overlaps(&st.held[i].seg, seg))
			return false;
	return true;
}

static bool reverse_direction(const struct segment *a, const struct segment *b)
{
	return a->family == b->family && a->sport == b->dport && a->dport == b->sport &&
	       !memcmp(a->saddr, b->daddr, 16) && !memcmp(a->daddr, b->saddr, 16);
}

/* A bare ACK of the other direction may overtake the window when it
 * acknowledges none of the held bytes: it carries no data and, covering only
 * bytes before the window, declares nothing about them. (An ACK that covers
 * held bytes would make them look lost, so it ends the window instead.)
 * Without this, a data flight answered by ACKs would never form a window. */
static bool ack_may_overtake(const struct segment *seg)
{
	if (st.nheld == 0 || seg->payload_len || (seg->flags & (SEG_SYN | SEG_FIN | SEG_RST)) ||
	    !reverse_direction(&st.held[0].seg, seg))
		return false;
	if (!(seg->flags & SEG_ACK))
		return true;
	for (size_t i = 0; i < st.nheld; i++)
		if ((int32_t)(seg->ack - st.held[i].seg.seq) > 0)
			return false;
	return true;
}

void __wrap_pipeline_segment(struct pipeline *p, const struct segment *seg)
{
	uint8_t key[38];
	direction_key(seg, key);
	bool first_of_direction = !keyset_test_and_add(&st.seen, key);
	bool can_move = movable(seg, first_of_direction);

	st.pipeline = p;
	st.count.segments++;
	if (st.mode->window && !first_of_direction && ack_may_overtake(seg)) {
		st.count.acks_overtaking++;
		__real_pipeline_segment(p, seg);
		return;
	}
	if (!(can_move && extends_window(seg)))
		flush_window();
	size_t from = st.npieces;
	cut_segment(hold(seg));
	if (!can_move) {
		/* Cut and perhaps duplicated, but in order and alone. */
		flush_window();
		return;
	}
	if (st.mode->shuffle && !st.mode->window)
		shuffle_pieces(from);
	if (!st.mode->window)
		flush_window();
}

/* Time passing may end idle connections: a window never spans a tick, so
 * every segment reaches the pipeline on the same side of it as without
 * re-cutting. */
void __wrap_pipeline_tick(struct pipeline *p, uint64_t now_ns, uint64_t mono_ns)
{
	flush_window();
	__real_pipeline_tick(p, now_ns, mono_ns);
}

static const char usage[] = "usage: reseg [--mode asis|bytes1|random|shuffle|reorder|dup|chaos] "
			    "[--seed N] [--window SEGMENTS] FILE...\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 's'},
	    {"window", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *mode_name = "asis";
	unsigned long long seed = 1, window = 4;
	char *end;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			mode_name = optarg;
			break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "reseg: bad seed '%s'\n%s", optarg, usage);
				return 2;
			}
			break;
		case 'w':
			errno = 0;
			window = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || window < 1 || window > 1024) {
				fprintf(stderr, "reseg: window wants 1..1024, got '%s'\n%s", optarg,
					usage);
				return 2;
			}
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, mode_name))
			st.mode = &modes[i];
	if (!st.mode || optind >= argc) {
		fprintf(stderr, "reseg: %s\n%s", st.mode ? "no input file" : "unknown mode", usage);
		return 2;
	}
	st.rng = seed;
	st.window_segs = (unsigned)window;

	struct config cfg;
	config_defaults(&cfg);
	cfg.events_mask = EV_MASK_ALL;
	cfg.emit_data = true;
	cfg.keep_credentials = true;
	struct sink *sink = sink_json_new(stdout);
	struct pipeline *p = sink ? pipeline_new(&cfg, sink) : NULL;
	if (!p) {
		fprintf(stderr, "reseg: out of memory\n");
		return 1;
	}
	struct decode_stats ds = {0};
	for (int i = optind; i < argc && rc == 0; i++) {
		if (pcap_source_read(argv[i], p, &ds, NULL, NULL) < 0)
			rc = 2;
		flush_window();
	}
	pipeline_finish(p);
	sink->flush(sink);
	fprintf(stderr,
		"reseg: %s: %llu segments in, %llu pieces out, %llu multi-segment windows, "
		"%llu pieces out of order, %llu ACKs overtaking a window\n",
		st.mode->name, (unsigned long long)st.count.segments,
		(unsigned long long)st.count.pieces, (unsigned long long)st.count.multi_windows,
		(unsigned long long)st.count.out_of_order,
		(unsigned long long)st.count.acks_overtaking);
	pipeline_free(p);
	sink->destroy(sink);
	for (size_t i = 0; i < st.nheld; i++)
		free(st.held[i].copy);
	free(st.held);
	free(st.pieces);
	free(st.seen.keys);
	return rc;
}
