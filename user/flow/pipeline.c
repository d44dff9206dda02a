// SPDX-License-Identifier: GPL-2.0-only
/*
 * pipeline.c - the flow table and everything per connection (contract in
 * pipeline.h, policies in docs/reassembly.md).
 *
 * Connections live in a hash table keyed by the unordered 4-tuple and on one
 * of two LRU lists: active ones (two reassemblers and an SMTP session each),
 * and closed ones, which only remember that a FIN/RST ended the tuple so that
 * stragglers do not start a new connection; they hold no buffers. Both lists
 * are ordered by last activity, so idle timeouts and eviction look at the
 * tail only. Everything a segment causes (deliveries, gaps, events, the end of
 * its connection) happens before pipeline_segment() returns, so events come
 * out in segment arrival order.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "flow/idle_clock.h"
#include "flow/pipeline.h"
#include "flow/reasm.h"
#include "records/community_id.h"
#include "records/transaction.h"
#include "mime/mime.h"
#include "smtp/smtp.h"

/* How long a closed tuple absorbs stragglers (retransmitted FINs, the last
 * ACK, a second RST) before it is forgotten; capped by the idle timeout. */
#define CLOSED_LINGER_NS  (30ull * 1000000000ull)
#define TABLE_MIN_BUCKETS 1024
/* How long a connection with TLS plaintext outlives its FIN or RST, for the
 * plaintext of its last lines, which comes through another ring buffer. */
#define PLAIN_END_WAIT_NS (500ull * 1000000ull)
/* Bytes of each direction's start compared between the two ends. */
#define PLAIN_HEAD 16

struct list {
	struct list *prev, *next;
};

struct conn;

struct direction {
	struct conn *conn;
	bool is_orig;
	struct reasm *reasm;
	uint64_t pos; /* stream offset reached by deliveries and gaps */
	uint64_t segs;
	bool fin;	  /* a FIN was seen */
	bool fin_done;	  /* ... and every byte before it was delivered or lost */
	uint32_t fin_seq; /* sequence number of the FIN */
	uint64_t fin_end; /* stream offset of the FIN */
	/* The skip last asked for (SMTP_SKIP_*), and for a chunk its end
	 * offset, so that the hook is called once per body or chunk. */
	enum smtp_skip skip_asked;
	uint64_t skip_asked_end;
};

/* A connection's TLS plaintext (pipeline_plaintext), apart from struct
 * conn so that the connections without (the idle ones of a flood among
 * them) do not carry it. */
struct conn_plain {
	/* Which end's library feeds the session (the other end's view of the
	 * same bytes is left out), and how far each direction went. */
	uint8_t view;
	uint64_t pos[2];
	/* The TLS object of each end's library (enum plaintext_view) once a
	 * record of it came: where --bodies=skip is asked for. */
	struct plaintext_object obj[2];
	bool obj_known[2];
	/* Each end's first bytes of each direction ([view][from_client]), as
	 * its library counted them from 0: the two ends count from the same
	 * byte only when they agree. The other end's probes may have come
	 * later than the session's first calls (a process probed some ms
	 * after its connect), and a skip mark in offsets it does not share
	 * would cancel the skip its kernel side started itself. */
	uint8_t head[2][2][PLAIN_HEAD];
	uint8_t head_len[2][2];
};

struct conn {
	struct conn *hnext;
	struct list lru;
	struct pipeline *p;
	struct conn_id id;
	struct direction dir[2]; /* indexed by is_orig */
	struct smtp *smtp;
	/* the smtp_transaction records; made at the first event that needs one */
	struct txn_builder *txn;
	/* the session's messages (files, top-level headers); made at its first message */
	struct mime *mime;
	uint64_t start_ns;
	/* The source's time of the latest segment (reordering within
	 * IDLE_CLOCK_JITTER_NS does not move it back; a time anomaly does). */
	uint64_t last_ns;
	uint64_t elapsed_ns;	 /* its own time, anomalies left out: the duration */
	uint64_t last_idle;	 /* the idle clock at its latest segment */
	uint32_t time_anomalies; /* time_went_backwards, time_jumped_forward */
	bool partial;
	bool closed;	/* ended by FIN/RST; lingering without buffers */
	bool encrypted; /* the source hands over only SYN/FIN/RST (SEG_ENCRYPTED) */
	/* The wire carries TLS from here on (the 220 to STARTTLS, or an
	 * implicit-TLS port): its bytes are only counted. */
	bool wire_tls;
	bool implicit_tls;
	/* TLS plaintext (pipeline_plaintext); NULL until its first record. */
	struct conn_plain *plain;
	/* Ended by FIN/RST while plaintext flows: the last lines the library
	 * passed before the close may still be on their way (another ring);
	 * the end waits until end_at. */
	bool end_pending;
	enum conn_end pending_end;
	uint64_t end_at; /* on the idle clock */
	uint64_t end_ts; /* the time of the FIN or RST, for the summary */
};

struct pipeline {
	const struct config *cfg;
	struct sink *sink;
	struct digest_worker *digester; /* the files' digests, beside the parsing */
	pipeline_tls_fn tls_fn;
	void *tls_ctx;
	pipeline_skip_fn skip_fn;
	void *skip_ctx;
	struct conn **buckets;
	size_t nbuckets; /* power of two */
	size_t nconns;	 /* active + closed */
	struct list active, closed;
	uint64_t hash_seed;
	struct idle_clock clock; /* what idle timeouts run on (idle_clock.h) */
	/* The source's latest time (reordering within IDLE_CLOCK_JITTER_NS
	 * does not move it back): end_of_input's timestamp. */
	uint64_t now_ns;
	uint64_t event_ns; /* timestamp of the events being produced */
	uint64_t conn_counter;
	size_t pending_ends;   /* connections with end_pending */
	bool expect_plaintext; /* pipeline_expect_plaintext() */
	uint32_t uid_key;      /* from the first timestamp: uids depend on the input only */
	size_t total_buffered;
	bool oom_reported;
	bool community_id_reported;
	struct pipeline_stats stats;
};

static void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static void list_remove(struct list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	list_init(e);
}

static void list_push_front(struct list *l, struct list *e)
{
	e->next = l->next;
	e->prev = l;
	l->next->prev = e;
	l->next = e;
}

static struct conn *list_oldest(struct list *l)
{
	return l->prev == l ? NULL : (struct conn *)((char *)l->prev - offsetof(struct conn, lru));
}

/* splitmix64's finaliser */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A bijection on 32 bits (lowbias32), so distinct counters give distinct
 * values. */
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	return x ^ (x >> 16);
}

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static uint64_t endpoint_hash(uint64_t seed, uint8_t family, const uint8_t *addr, uint16_t port)
{
	uint64_t w[2] = {0, 0};

	memcpy(w, addr, addr_len(family));
	return mix64(mix64(mix64(seed ^ w[0]) ^ w[1]) ^ ((uint64_t)family << 16 | port));
}

/* The same for both directions of a connection. */
static uint64_t tuple_hash(const struct pipeline *p, const struct segment *seg)
{
	return mix64(endpoint_hash(p->hash_seed, seg->family, seg->saddr, seg->sport) +
		     endpoint_hash(p->hash_seed, seg->family, seg->daddr, seg->dport));
}

static bool endpoint_eq(uint8_t family, const uint8_t *a, uint16_t ap, const uint8_t *b,
			uint16_t bp)
{
	return ap == bp && !memcmp(a, b, addr_len(family));
}

static bool sent_by_orig(const struct conn *c, const struct segment *seg)
{
	return endpoint_eq(seg->family, seg->saddr, seg->sport, c->id.orig_h, c->id.orig_p) &&
	       endpoint_eq(seg->family, seg->daddr, seg->dport, c->id.resp_h, c->id.resp_p);
}

static bool conn_matches(const struct conn *c, const struct segment *seg)
{
	if (c->id.family != seg->family)
		return false;
	return sent_by_orig(c, seg) ||
	       (endpoint_eq(seg->family, seg->daddr, seg->dport, c->id.orig_h, c->id.orig_p) &&
		endpoint_eq(seg->family, seg->saddr, seg->sport, c->id.resp_h, c->id.resp_p));
}

static struct conn **bucket_of(struct pipeline *p, uint64_t hash)
{
	return &p->buckets[hash & (p->nbuckets - 1)];
}

static uint64_t conn_hash(const struct pipeline *p, const struct conn *c)
{
	struct segment key = {.family = c->id.family, .sport = c->id.orig_p, .dport = c->id.resp_p};

	memcpy(key.saddr, c->id.orig_h, sizeof(key.saddr));
	memcpy(key.daddr, c->id.resp_h, sizeof(key.daddr));
	return tuple_hash(p, &key);
}

static struct conn *lookup(struct pipeline *p, const struct segment *seg)
{
	for (struct conn *c = *bucket_of(p, tuple_hash(p, seg)); c; c = c->hnext)
		if (conn_matches(c, seg))
			return c;
	return NULL;
}

/* Doubles the table when it is fuller than one entry per bucket; a failed
 * allocation only makes chains longer. */
static void table_grow(struct pipeline *p)
{
	size_t n = p->nbuckets * 2;
	struct conn **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (size_t i = 0; i < p->nbuckets; i++) {
		while (p->buckets[i]) {
			struct conn *c = p->buckets[i];
			p->buckets[i] = c->hnext;
			struct conn **b = &nb[conn_hash(p, c) & (n - 1)];
			c->hnext = *b;
			*b = c;
		}
	}
	free(p->buckets);
	p->buckets = nb;
	p->nbuckets = n;
}

static void table_insert(struct pipeline *p, struct conn *c)
{
	if (p->nconns >= p->nbuckets)
		table_grow(p);
	struct conn **b = bucket_of(p, conn_hash(p, c));
	c->hnext = *b;
	*b = c;
	p->nconns++;
}

static void table_remove(struct pipeline *p, struct conn *c)
{
	for (struct conn **link = bucket_of(p, conn_hash(p, c)); *link; link = &(*link)->hnext)
		if (*link == c) {
			*link = c->hnext;
			p->nconns--;
			return;
		}
}

static void emit_at(struct conn *c, struct event *ev, uint64_t ts_ns);
static void report_oom(struct pipeline *p);

static void on_transaction(void *ctx, struct event *ev)
{
	emit_at(ctx, ev, ev->ts_ns);
}

/* Every event of the connection also feeds its transaction record, whatever
 * the outputs select (the record is built from them). */
static void observe_transaction(struct conn *c, const struct event *ev)
{
	if (ev->type == EV_SMTP_TRANSACTION || ev->type == EV_SMTP_CONNECTION)
		return;
	if (!c->txn && (ev->type == EV_SMTP_REQUEST || ev->type == EV_SMTP_REPLY)) {
		c->txn = txn_builder_new(&c->id, on_transaction, c);
		if (!c->txn) {
			report_oom(c->p);
			return;
		}
	}
	if (c->txn)
		txn_observe(c->txn, ev);
}

static void emit_at(struct conn *c, struct event *ev, uint64_t ts_ns)
{
	struct pipeline *p = c->p;

	ev->ts_ns = ts_ns;
	ev->id = &c->id;
	observe_transaction(c, ev);
	p->stats.events[ev->type]++;
	if (p->cfg->events_mask & EV_MASK(ev->type))
		p->sink->emit(p->sink, ev);
}

static void emit(struct conn *c, struct event *ev)
{
	emit_at(c, ev, c->p->event_ns);
}

/* The SMTP session's and the MIME parser's events; a file comes with its
 * own ts (its first byte), the others take the current time. */
static void on_smtp_event(void *ctx, struct event *ev)
{
	struct conn *c = ctx;

	emit_at(c, ev, ev->ts_ns ? ev->ts_ns : c->p->event_ns);
}

static void on_header(void *ctx, const struct mime_header *h);

/* The session's message lines (smtp.h content hook) go to its MIME parser,
 * made at the first message (an idle connection stays small: make bench),
 * and their size to the transaction record. */
static void on_content(void *ctx, const struct smtp_content *content)
{
	struct conn *c = ctx;

	if (!c->mime) {
		c->mime = mime_new(c->p->cfg, c->p->digester, on_smtp_event, c);
		if (!c->mime) {
			report_oom(c->p);
			return;
		}
		mime_set_header_hook(c->mime, on_header, c);
	}
	if (c->txn) {
		if (content->kind == SMTP_CONTENT_BEGIN)
			txn_message_begin(c->txn);
		else if (content->kind == SMTP_CONTENT_LINE)
			txn_body_bytes(c->txn, content->line.len + 2); /* and its CR LF */
		else if (content->kind == SMTP_CONTENT_SKIPPED)
			txn_body_bytes(c->txn, content->len);
	}
	mime_content(c->mime, content, c->p->event_ns);
}

/* The message's top-level headers fill the transaction record's fields. */
static void on_header(void *ctx, const struct mime_header *h)
{
	struct conn *c = ctx;

	if (c->txn)
		txn_header(c->txn, h->name, h->value);
}

/* BDAT chunks smaller than this are not worth a map update. */
#define SKIP_CHUNK_MIN 1024

/* True once per body or chunk that is worth a mark: kind, with len bytes
 * left up to stream offset end, is news for d. */
static bool skip_is_news(struct direction *d, enum smtp_skip kind, uint64_t len, uint64_t end)
{
	if (kind == d->skip_asked && (kind != SMTP_SKIP_CHUNK || end == d->skip_asked_end))
		return false;
	d->skip_asked = kind;
	d->skip_asked_end = end;
	return kind != SMTP_SKIP_NONE && (kind != SMTP_SKIP_CHUNK || len >= SKIP_CHUNK_MIN);
}

/* Tells the source, once per body or chunk, what it may stop copying. */
static void offer_skip(struct conn *c, struct direction *d)
{
	struct direction *peer = &c->dir[!d->is_orig];
	struct pipeline_skip skip = {0};
	uint64_t len;
	enum smtp_skip kind = smtp_skippable(c->smtp, d->is_orig, &len);
	uint64_t end = d->pos + len;

	if (!skip_is_news(d, kind, len, end))
		return;
	skip.chunk = kind == SMTP_SKIP_CHUNK;
	skip.end_seq = reasm_seq_at(d->reasm, end);
	skip.server_next = reasm_seq_at(peer->reasm, peer->pos);
	c->p->skip_fn(c->p->skip_ctx, &c->id, &skip);
}

static void wire_turns_tls(struct conn *c)
{
	c->wire_tls = true;
	if (c->p->tls_fn)
		c->p->tls_fn(c->p->tls_ctx, &c->id);
}

static void on_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct direction *d = ctx;
	struct conn *c = d->conn;
	uint64_t off = d->pos;

	d->pos += len;
	if (c->wire_tls || c->encrypted)
		return;
	if (data) {
		smtp_deliver(c->smtp, d->is_orig, data, len);
		if (c->p->skip_fn && d->is_orig)
			offer_skip(c, d);
	} else {
		c->p->stats.skipped_bytes += len;
		smtp_skipped(c->smtp, d->is_orig, off, len);
	}
	/* Watching the state rather than smtp_starttls events works whatever
	 * the event mask. */
	if (smtp_is_tls(c->smtp))
		wire_turns_tls(c);
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct direction *d = ctx;
	struct conn *c = d->conn;
	struct event ev = {.type = EV_CONTENT_GAP, .is_orig = d->is_orig};

	d->pos = off + len;
	c->p->stats.gaps++;
	c->p->stats.gap_bytes += len;
	ev.gap.seq = off;
	ev.gap.length = len;
	emit(c, &ev);
	if (!c->wire_tls)
		smtp_gap(c->smtp, d->is_orig, off, len);
}

/* Appends data to out as printable ASCII: '"', '\\' and anything outside
 * 0x20-0x7e as \xHH, so both copies of an overlap read unambiguously. */
static size_t quote_bytes(char *out, const uint8_t *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '"' && data[i] != '\\') {
			out[n++] = (char)data[i];
			continue;
		}
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[data[i] >> 4];
		out[n++] = hex[data[i] & 15];
	}
	out[n++] = '"';
	return n;
}

/* Two copies of the same stream bytes differed: the weird
 * "rexmit_inconsistency" (Zeek's name for it), addl
 * 'offset=N kept="..." dropped="..."' (docs/reassembly.md). */
static void on_inconsistent(void *ctx, uint64_t off, const uint8_t *kept, const uint8_t *other,
			    size_t len)
{
	struct direction *d = ctx;
	struct event ev = {.type = EV_WEIRD, .is_orig = d->is_orig};
	char addl[64 + 2 * (2 + 4 * REASM_DIFF_MAX)];
	size_t n = (size_t)snprintf(addl, sizeof(addl), "offset=%" PRIu64 " kept=", off);

	n += quote_bytes(addl + n, kept, len);
	memcpy(addl + n, " dropped=", 9);
	n += 9;
	n += quote_bytes(addl + n, other, len);
	ev.weird.name = "rexmit_inconsistency";
	ev.weird.addl = (struct bytes){(const uint8_t *)addl, n};
	emit(d->conn, &ev);
}

static const struct reasm_ops reasm_ops = {
    .deliver = on_deliver, .gap = on_gap, .inconsistent = on_inconsistent};

static void base62(char *out, uint64_t v, int digits)
{
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	for (int i = digits - 1; i >= 0; i--) {
		out[i] = alphabet[v % 62];
		v /= 62;
	}
}

/* "C" + 11 base62 digits of a hash of (first timestamp, 4-tuple, counter) +
 * 6 digits of a bijection of the counter: the same input gives the same
 * uids, and no two connections of a run share one. */
static void make_uid(struct pipeline *p, struct conn *c)
{
	uint64_t counter = p->conn_counter++;
	uint64_t w[2];
	uint64_t h = mix64(c->start_ns ^ 0x5a3c9e1f0d7b2468ull);

	for (size_t i = 0; i < addr_len(c->id.family); i += 8) {
		size_t n = addr_len(c->id.family) - i < 8 ? addr_len(c->id.family) - i : 8;
		memset(w, 0, sizeof(w));
		memcpy(w, c->id.orig_h + i, n);
		memcpy(w + 1, c->id.resp_h + i, n);
		h = mix64(mix64(h ^ w[0]) ^ w[1]);
	}
	h = mix64(h ^ ((uint64_t)c->id.orig_p << 32 | (uint64_t)c->id.resp_p << 16 | c->id.family));
	h = mix64(h ^ counter);
	c->id.uid[0] = 'C';
	base62(c->id.uid + 1, h, 11);
	base62(c->id.uid + 12, mix32((uint32_t)counter + p->uid_key), 6); /* 62^6 > 2^32 */
	c->id.uid[18] = '\0';
}

static void fill_summary(const struct conn *c, enum conn_end end, struct conn_summary *s)
{
	const struct direction *o = &c->dir[1], *r = &c->dir[0];
	const struct reasm_stats *os = reasm_stats(o->reasm), *rs = reasm_stats(r->reasm);
	const struct smtp_stats *ss = smtp_stats(c->smtp);

	s->start_ns = c->start_ns;
	s->duration_ns = c->elapsed_ns;
	s->orig_bytes = reasm_stream_bytes(o->reasm);
	s->resp_bytes = reasm_stream_bytes(r->reasm);
	s->orig_segs = o->segs;
	s->resp_segs = r->segs;
	s->transactions = ss->transactions;
	/* On an implicit-TLS port the session is TLS from the first byte,
	 * with or without its plaintext. */
	s->tls = ss->tls || c->implicit_tls;
	s->gaps = os->gaps + rs->gaps;
	s->gap_bytes = os->gap_bytes + rs->gap_bytes;
	/* A direction with inconsistent retransmissions counts once: how many
	 * segments showed it depends on how the sender cut them. */
	s->anomalies = ss->anomalies + (os->inconsistent > 0) + (rs->inconsistent > 0) +
		       os->rejected + rs->rejected + c->time_anomalies;
	s->end = end;
	s->partial = c->partial;
}

static void conn_release(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		reasm_free(c->dir[i].reasm);
		c->dir[i].reasm = NULL;
	}
	if (c->smtp) {
		c->p->stats.skip_fallbacks += smtp_stats(c->smtp)->skip_fallbacks;
		smtp_free(c->smtp);
	}
	c->smtp = NULL;
	txn_builder_free(c->txn);
	c->txn = NULL;
	mime_free(c->mime);
	c->mime = NULL;
	free(c->plain);
	c->plain = NULL;
	c->p->stats.buffered_bytes = c->p->total_buffered;
}

static void conn_delete(struct pipeline *p, struct conn *c)
{
	table_remove(p, c);
	list_remove(&c->lru);
	if (!c->closed) {
		conn_release(c);
		p->stats.conns_active--;
	}
	free(c);
}

static void check_fin(struct conn *c, struct direction *d)
{
	if (d->fin && !d->fin_done && d->pos >= d->fin_end) {
		d->fin_done = true;
		smtp_end_of_direction(c->smtp, d->is_orig);
	}
}

/* Flushes, finishes the session, emits the summary. FIN/RST ends leave the
 * tuple lingering as closed; other ends forget it. */
static void conn_finish(struct pipeline *p, struct conn *c, enum conn_end end)
{
	struct event ev = {.type = EV_SMTP_CONNECTION};

	if (c->end_pending) {
		c->end_pending = false;
		p->pending_ends--;
	}
	for (int i = 1; i >= 0; i--) {
		reasm_flush(c->dir[i].reasm);
		check_fin(c, &c->dir[i]);
	}
	smtp_finish(c->smtp);
	if (c->txn)
		txn_finish(c->txn);
	if (c->wire_tls && !c->plain)
		p->stats.tls_unseen++;
	fill_summary(c, end, &ev.conn);
	emit_at(c, &ev, c->start_ns); /* Zeek's conn.log: ts is the start */
	if (end != CONN_END_FIN && end != CONN_END_RST) {
		conn_delete(p, c);
		return;
	}
	conn_release(c);
	c->closed = true;
	p->stats.conns_active--;
	list_remove(&c->lru);
	list_push_front(&p->closed, &c->lru);
}

/* conn_finish(), but a FIN or RST of a connection with TLS plaintext, or
 * in TLS on the wire while plaintext is expected, waits PLAIN_END_WAIT_NS
 * for its last plaintext (expire() ends it then). */
static void conn_end(struct pipeline *p, struct conn *c, enum conn_end end)
{
	bool plaintext = c->plain || (c->wire_tls && p->expect_plaintext);

	if (plaintext && (end == CONN_END_FIN || end == CONN_END_RST)) {
		if (!c->end_pending) {
			c->end_pending = true;
			c->pending_end = end;
			c->end_at = idle_clock_now(&p->clock) + PLAIN_END_WAIT_NS;
			c->end_ts = p->event_ns;
			p->pending_ends++;
		}
		return;
	}
	conn_finish(p, c, end);
}

static void evict(struct pipeline *p, struct conn *c)
{
	p->stats.conns_evicted++;
	conn_end(p, c, CONN_END_EVICTED);
}

/* On the idle clock, so that no timestamp from the wrong place (a step back,
 * a jump ahead) ends a connection that was not idle. Idle-clock stamps grow
 * in activity order: the tails of the lists are the oldest. */
static void expire(struct pipeline *p)
{
	uint64_t now = idle_clock_now(&p->clock);
	uint64_t timeout = p->cfg->idle_timeout_ns;
	uint64_t linger = timeout < CLOSED_LINGER_NS ? timeout : CLOSED_LINGER_NS;
	struct conn *c;

	/* Few connections wait for their plaintext at a time: a walk is fine. */
	for (struct list *e = p->active.next; p->pending_ends && e != &p->active;) {
		c = (struct conn *)((char *)e - offsetof(struct conn, lru));
		e = e->next;
		if (c->end_pending && now >= c->end_at) {
			p->event_ns = c->end_ts;
			conn_finish(p, c, c->pending_end);
		}
	}
	while ((c = list_oldest(&p->active)) && now - c->last_idle > timeout) {
		p->event_ns = c->last_ns + timeout;
		p->stats.conns_timed_out++;
		conn_end(p, c, CONN_END_TIMEOUT);
	}
	while ((c = list_oldest(&p->closed)) && now - c->last_idle > linger)
		conn_delete(p, c);
}

/* A timestamp of the source: the idle clock (on mono_ns when the source has a
 * steady clock) and the time of end_of_input. */
static void observe_time(struct pipeline *p, uint64_t ts_ns, uint64_t mono_ns)
{
	idle_clock_observe(&p->clock, mono_ns ? mono_ns : ts_ns,
			   idle_clock_max_step(p->cfg->idle_timeout_ns), NULL);
	p->stats.time_backwards = p->clock.backwards;
	p->stats.time_jumps = p->clock.jumps;
	if (ts_ns > p->now_ns || p->now_ns - ts_ns > IDLE_CLOCK_JITTER_NS)
		p->now_ns = ts_ns;
}

/* Room for one more connection: forget the oldest closed tuple, or evict the
 * least recently active connection. */
static void make_room(struct pipeline *p)
{
	while (p->nconns >= p->cfg->max_conns) {
		struct conn *c = list_oldest(&p->closed);
		if (c) {
			conn_delete(p, c);
			continue;
		}
		c = list_oldest(&p->active);
		if (!c)
			return;
		evict(p, c);
	}
}

static void report_oom(struct pipeline *p)
{
	if (!p->oom_reported)
		fprintf(stderr, "smtpmon: out of memory for a new connection; dropping its "
				"segments\n");
	p->oom_reported = true;
}

static void report_community_id_failure(struct pipeline *p)
{
	if (!p->community_id_reported)
		fprintf(stderr, "smtpmon: community_id: SHA1 from libcrypto failed; the field is "
				"left empty\n");
	p->community_id_reported = true;
}

static struct conn *conn_new(struct pipeline *p, const struct segment *seg)
{
	bool syn = seg->flags & SEG_SYN, ack = seg->flags & SEG_ACK;
	bool sender_is_orig;

	make_room(p);
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		report_oom(p);
		return NULL;
	}
	if (syn)
		sender_is_orig = !ack; /* SYN: client; SYN-ACK: server */
	else
		sender_is_orig = config_is_port(p->cfg, seg->dport);
	c->partial = !syn;
	c->p = p;
	c->start_ns = c->last_ns = seg->ts_ns;
	c->last_idle = idle_clock_now(&p->clock);
	c->id.family = seg->family;
	memcpy(c->id.orig_h, sender_is_orig ? seg->saddr : seg->daddr, sizeof(c->id.orig_h));
	memcpy(c->id.resp_h, sender_is_orig ? seg->daddr : seg->saddr, sizeof(c->id.resp_h));
	c->id.orig_p = sender_is_orig ? seg->sport : seg->dport;
	c->id.resp_p = sender_is_orig ? seg->dport : seg->sport;
	if (p->conn_counter == 0)
		p->uid_key = (uint32_t)mix64(seg->ts_ns);
	make_uid(p, c);
	if (!community_id_v1(0, c->id.family, c->id.orig_h, c->id.orig_p, c->id.resp_h,
			     c->id.resp_p, IPPROTO_TCP, c->id.community_id))
		report_community_id_failure(p);
	for (int i = 0; i < 2; i++) {
		c->dir[i].conn = c;
		c->dir[i].is_orig = i;
		c->dir[i].reasm =
		    reasm_new(&reasm_ops, &c->dir[i], p->cfg->max_conn_buffer, &p->total_buffered);
	}
	c->smtp = smtp_new(p->cfg, c->partial, on_smtp_event, c);
	if (c->smtp)
		smtp_set_content_hook(c->smtp, &c->id, on_content, c);
	if (!c->dir[0].reasm || !c->dir[1].reasm || !c->smtp) {
		conn_release(c);
		free(c);
		report_oom(p);
		return NULL;
	}
	table_insert(p, c);
	list_push_front(&p->active, &c->lru);
	p->stats.conns_total++;
	p->stats.conns_active++;
	if (config_is_implicit_tls_port(p->cfg, c->id.resp_p)) {
		c->implicit_tls = true;
		wire_turns_tls(c);
	}
	return c;
}

/* The connection's own time: a step back or a jump ahead between two of its
 * segments is a weird (before the segment's own events), and left out of its
 * duration. */
static void conn_time(struct pipeline *p, struct conn *c, uint64_t ts)
{
	uint64_t step = ts >= c->last_ns ? ts - c->last_ns : c->last_ns - ts;
	enum idle_step kind =
	    idle_step_class(c->last_ns, ts, idle_clock_max_step(p->cfg->idle_timeout_ns));
	struct event ev = {.type = EV_WEIRD};
	char addl[32];

	if (kind == IDLE_STEP_TIME) {
		if (ts > c->last_ns) {
			c->elapsed_ns += step;
			c->last_ns = ts;
		}
		return;
	}
	c->last_ns = ts;
	c->time_anomalies++;
	ev.weird.name = kind == IDLE_STEP_BACKWARDS ? "time_went_backwards" : "time_jumped_forward";
	int n = snprintf(addl, sizeof(addl), "%" PRIu64 ".%06" PRIu64 " s", step / 1000000000u,
			 step % 1000000000u / 1000u);
	ev.weird.addl = (struct bytes){(const uint8_t *)addl, (size_t)n};
	emit(c, &ev);
}

static void conn_segment(struct pipeline *p, struct conn *c, const struct segment *seg)
{
	bool is_orig = sent_by_orig(c, seg);
	struct direction *d = &c->dir[is_orig], *peer = &c->dir[!is_orig];
	bool syn = seg->flags & SEG_SYN;

	conn_time(p, c, seg->ts_ns);
	c->last_idle = idle_clock_now(&p->clock);
	list_remove(&c->lru);
	list_push_front(&p->active, &c->lru);
	d->segs++;
	if ((seg->flags & SEG_ENCRYPTED) && !c->encrypted) {
		c->encrypted = true;
		reasm_set_sparse(c->dir[0].reasm);
		reasm_set_sparse(c->dir[1].reasm);
	}
	/* The ACK first: it covers what the peer sent before this segment, so
	 * its gaps come before this segment's data (as in Zeek), however the
	 * sender cut its data into segments. */
	if (seg->flags & SEG_ACK)
		reasm_peer_ack(peer->reasm, seg->ack);
	/* After its FIN a side sends nothing but ACKs, whose sequence number
	 * is one past the data (the FIN's own): not a missing byte. */
	if (!d->fin || (int32_t)(seg->seq - d->fin_seq) <= 0)
		reasm_segment(d->reasm, seg->seq, seg->payload, seg->payload_len, syn,
			      seg->lost_before);
	if ((seg->flags & SEG_FIN) && !d->fin) {
		d->fin = true;
		d->fin_seq = seg->seq + syn + seg->payload_len;
		d->fin_end = reasm_stream_bytes(d->reasm);
	}
	check_fin(c, d);
	check_fin(c, peer);
	if (seg->flags & SEG_RST)
		conn_end(p, c, CONN_END_RST);
	else if (d->fin_done && peer->fin_done)
		conn_end(p, c, CONN_END_FIN);
}

/* The connection-wide buffer limit: the least recently active connections
 * go first; the current one is flushed rather than evicted. */
static void enforce_total_buffer(struct pipeline *p, struct conn *current)
{
	while (p->total_buffered > p->cfg->max_total_buffer) {
		struct conn *c = list_oldest(&p->active);
		p->stats.buffer_limit_hits++;
		if (!c)
			break;
		if (c == current) {
			reasm_flush(c->dir[0].reasm);
			reasm_flush(c->dir[1].reasm);
			break;
		}
		evict(p, c);
	}
	p->stats.buffered_bytes = p->total_buffered;
}

void pipeline_segment(struct pipeline *p, const struct segment *seg)
{
	p->stats.segments++;
	if (!config_is_port(p->cfg, seg->sport) && !config_is_port(p->cfg, seg->dport)) {
		p->stats.ignored++;
		return;
	}
	observe_time(p, seg->ts_ns, seg->mono_ns);
	expire(p);
	p->event_ns = seg->ts_ns;

	bool new_syn = (seg->flags & (SEG_SYN | SEG_ACK)) == SEG_SYN;
	struct conn *c = lookup(p, seg);
	if (c && new_syn && (c->closed || c->dir[0].fin || c->dir[1].fin)) {
		/* port reuse */
		if (!c->closed)
			conn_finish(p, c, CONN_END_FIN);
		if (c->closed)
			conn_delete(p, c);
		c = NULL;
	}
	if (c && c->closed)
		return; /* a straggler of a connection that ended */
	if (!c) {
		if (seg->flags & SEG_RST)
			return; /* nothing to end, nothing to learn */
		c = conn_new(p, seg);
		if (!c)
			return;
	}
	conn_segment(p, c, seg);
	enforce_total_buffer(p, c->closed ? NULL : c);
}

bool pipeline_weird(struct pipeline *p, const struct segment *seg, const char *name,
		    struct bytes addl)
{
	struct conn *c = lookup(p, seg);
	struct event ev = {.type = EV_WEIRD};

	if (!c || c->closed)
		return false;
	p->event_ns = seg->ts_ns;
	ev.is_orig = sent_by_orig(c, seg);
	ev.weird.name = name;
	ev.weird.addl = addl;
	emit(c, &ev);
	return true;
}

/* Whether both ends' libraries count both directions from the same byte
 * (struct conn_plain's head). */
static bool plain_ends_agree(const struct conn_plain *cp)
{
	for (int d = 0; d < 2; d++) {
		size_t n = cp->head_len[0][d] < cp->head_len[1][d] ? cp->head_len[0][d]
								   : cp->head_len[1][d];

		if (!n || memcmp(cp->head[0][d], cp->head[1][d], n))
			return false;
	}
	return true;
}

/* --bodies=skip inside TLS: tells the source, once per body or chunk, what
 * the libraries' probes may stop copying. No word when it is over: the
 * kernel, ahead of us, sees the end first, and a late word could end the
 * next body's skip, which the kernel may have begun itself. */
static void offer_plain_skip(struct conn *c)
{
	struct direction *d = &c->dir[true];
	struct conn_plain *cp = c->plain;
	struct pipeline_skip skip = {.tls = true};
	uint64_t len;
	enum smtp_skip kind = smtp_skippable(c->smtp, true, &len);
	uint64_t end = cp->pos[true] + len;

	if (!skip_is_news(d, kind, len, end))
		return;
	skip.chunk = kind == SMTP_SKIP_CHUNK;
	skip.end_off = end;
	skip.server_off = cp->pos[false];
	for (int v = 0; v < 2; v++)
		if (cp->obj_known[v] && (v == cp->view || plain_ends_agree(cp)))
			skip.objects[skip.nobjects++] = cp->obj[v];
	c->p->skip_fn(c->p->skip_ctx, &c->id, &skip);
}

/* The part of [*off, *off + *len) of one direction's plaintext that is new:
 * what was seen already is cut off, a hole before it is a gap. False when
 * nothing is new. */
static bool plain_advance(struct conn *c, bool is_orig, uint64_t *off, uint64_t *len)
{
	uint64_t pos = c->plain->pos[is_orig];

	if (*off + *len <= pos) {
		c->p->stats.plain_overlap_bytes += *len;
		return false;
	}
	if (*off < pos) {
		c->p->stats.plain_overlap_bytes += pos - *off;
		*len -= pos - *off;
		*off = pos;
	}
	if (*off > pos) {
		struct event ev = {.type = EV_CONTENT_GAP, .is_orig = is_orig, .in_tls = true};

		ev.gap.seq = pos;
		ev.gap.length = *off - pos;
		c->p->stats.gaps++;
		c->p->stats.gap_bytes += ev.gap.length;
		emit(c, &ev);
		smtp_gap(c->smtp, is_orig, pos, *off - pos);
	}
	c->plain->pos[is_orig] = *off + *len;
	return true;
}

/* A piece of one direction's plaintext at stream offset off: skipped body
 * bytes (--bodies=skip), then data. */
static void plain_deliver(struct conn *c, bool is_orig, const struct plaintext *pt)
{
	uint64_t off = pt->offset, len = pt->skipped;

	if (len && plain_advance(c, is_orig, &off, &len)) {
		c->p->stats.skipped_bytes += len;
		smtp_skipped(c->smtp, is_orig, off, len);
	}
	off = pt->offset + pt->skipped;
	len = pt->len;
	if (len && plain_advance(c, is_orig, &off, &len)) {
		c->p->stats.plain_bytes += len;
		smtp_deliver(c->smtp, is_orig, pt->data + (off - pt->offset - pt->skipped), len);
	}
	if (c->p->skip_fn)
		offer_plain_skip(c);
}

/* The first bytes of a direction, from the record that starts it (offset
 * 0); a direction whose first record was lost stays unknown. */
static void plain_note_head(struct conn_plain *cp, const struct plaintext *pt)
{
	uint8_t *len = &cp->head_len[pt->view & 1][pt->from_client];

	if (*len || pt->offset || pt->skipped || !pt->len)
		return;
	*len = pt->len < PLAIN_HEAD ? (uint8_t)pt->len : PLAIN_HEAD;
	memcpy(cp->head[pt->view & 1][pt->from_client], pt->data, *len);
}

void pipeline_plaintext(struct pipeline *p, const struct plaintext *pt)
{
	struct segment key = {.ts_ns = pt->ts_ns,
			      .family = pt->family,
			      .sport = pt->client_port,
			      .dport = pt->server_port};
	struct conn *c;
	bool is_orig;

	p->stats.plain_records++;
	memcpy(key.saddr, pt->client, sizeof(key.saddr));
	memcpy(key.daddr, pt->server, sizeof(key.daddr));
	observe_time(p, pt->ts_ns, pt->mono_ns);
	expire(p);
	c = lookup(p, &key);
	if (!c) {
		/* A session the wire has not shown yet: begun before we started
		 * (the kernel then suppresses its encrypted segments without a
		 * word until FIN), or on an interface not attached. Its ends are
		 * known from the library: a partial connection. */
		c = conn_new(p, &key);
		if (!c)
			return;
		c->encrypted = true;
		reasm_set_sparse(c->dir[0].reasm);
		reasm_set_sparse(c->dir[1].reasm);
		if (!c->wire_tls)
			wire_turns_tls(c);
	}
	/* Otherwise the wire must have shown the connection turn to TLS:
	 * plaintext for a connection the wire shows in clear is not guessed
	 * into it. */
	if (c->closed || !(c->wire_tls || c->encrypted)) {
		p->stats.plain_unmatched++;
		return;
	}
	if (!c->plain) {
		c->plain = calloc(1, sizeof(*c->plain));
		if (!c->plain) {
			report_oom(p);
			return;
		}
		c->plain->view = pt->view;
		smtp_resume_in_tls(c->smtp);
	}
	c->plain->obj[pt->view] = pt->object;
	c->plain->obj_known[pt->view] = true;
	plain_note_head(c->plain, pt);
	if (pt->view != c->plain->view) {
		/* Both ends on this host: the other end's library passes the
		 * same bytes. */
		p->stats.plain_other_view++;
		return;
	}
	p->event_ns = pt->ts_ns;
	if (pt->ts_ns > c->last_ns)
		c->last_ns = pt->ts_ns;
	c->last_idle = idle_clock_now(&p->clock);
	list_remove(&c->lru);
	list_push_front(&p->active, &c->lru);
	/* key runs from the client to the server */
	is_orig = sent_by_orig(c, &key) == pt->from_client;
	plain_deliver(c, is_orig, pt);
}

void pipeline_tick(struct pipeline *p, uint64_t now_ns, uint64_t mono_ns)
{
	observe_time(p, now_ns, mono_ns);
	expire(p);
	p->stats.buffered_bytes = p->total_buffered;
}

void pipeline_finish(struct pipeline *p)
{
	struct conn *c;

	while ((c = list_oldest(&p->active))) {
		p->event_ns = c->end_pending ? c->end_ts : p->now_ns;
		/* One that waited for its plaintext ended as the wire said. */
		conn_finish(p, c, c->end_pending ? c->pending_end : CONN_END_INPUT);
	}
	while ((c = list_oldest(&p->closed)))
		conn_delete(p, c);
	p->stats.buffered_bytes = p->total_buffered;
}

struct pipeline *pipeline_new(const struct config *cfg, struct sink *sink)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->buckets = calloc(TABLE_MIN_BUCKETS, sizeof(*p->buckets));
	if (!p->buckets) {
		free(p);
		return NULL;
	}
	p->nbuckets = TABLE_MIN_BUCKETS;
	/* Without it (no memory) the files are hashed in this thread. */
	p->digester = digest_worker_new();
	p->cfg = cfg;
	p->sink = sink;
	list_init(&p->active);
	list_init(&p->closed);
	idle_clock_init(&p->clock);
	/* A secret seed keeps crafted tuples from piling into one bucket;
	 * nothing visible depends on it. */
	if (getrandom(&p->hash_seed, sizeof(p->hash_seed), GRND_NONBLOCK) != sizeof(p->hash_seed))
		p->hash_seed = mix64((uint64_t)(uintptr_t)p);
	return p;
}

void pipeline_set_tls_hook(struct pipeline *p, pipeline_tls_fn fn, void *ctx)
{
	p->tls_fn = fn;
	p->tls_ctx = ctx;
}

void pipeline_expect_plaintext(struct pipeline *p, bool on)
{
	p->expect_plaintext = on;
}

void pipeline_set_skip_hook(struct pipeline *p, pipeline_skip_fn fn, void *ctx)
{
	p->skip_fn = fn;
	p->skip_ctx = ctx;
}

void pipeline_flush(struct pipeline *p)
{
	p->sink->flush(p->sink);
}

const struct pipeline_stats *pipeline_stats(const struct pipeline *p)
{
	return &p->stats;
}

void pipeline_foreach_conn(const struct pipeline *p, pipeline_conn_fn fn, void *ctx)
{
	for (const struct list *e = p->active.next; e != &p->active; e = e->next) {
		const struct conn *c =
		    (const struct conn *)((const char *)e - offsetof(struct conn, lru));
		struct smtp_view sv;

		smtp_view(c->smtp, &sv);
		struct pipeline_conn_view v = {
		    .id = &c->id,
		    .state = smtp_state_name(c->smtp),
		    .smtp = &sv,
		    .start_ns = c->start_ns,
		    .last_ns = c->last_ns,
		    .orig_bytes = reasm_stream_bytes(c->dir[1].reasm),
		    .resp_bytes = reasm_stream_bytes(c->dir[0].reasm),
		    .tls = c->wire_tls,
		    .partial = c->partial,
		};
		fn(ctx, &v);
	}
}

void pipeline_free(struct pipeline *p)
{
	struct conn *c;

	if (!p)
		return;
	while ((c = list_oldest(&p->active)))
		conn_delete(p, c);
	while ((c = list_oldest(&p->closed)))
		conn_delete(p, c);
	digest_worker_free(p->digester);
	free(p->buckets);
	free(p);
}
