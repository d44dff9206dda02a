// SPDX-License-Identifier: GPL-2.0-only
/*
 * smtpmon.bpf.c - TC (both directions) and XDP (ingress) programs that hand
 * the TCP segments of the monitored ports to user space through the ring
 * buffer "events" (record layout and contract: smtpmon.h).
 *
 * Per packet: parse headers (parse.bpf.h); leave at once unless a port is in
 * port_bits; leave pure ACKs; look up the flow's state; then emit one record
 * per piece of payload (pieces: smtpmon.h; a bpf_loop for super-packets),
 * each reserved in the smallest size class that holds it. The payload segments of
 * encrypted flows are only counted: they leave right after the flow lookup
 * (or a per-CPU cache of the last such flow), and only their SYN/FIN/RST make
 * a (length-only) record, whose sequence number tells user space how far the
 * stream went. A failed reservation is
 * counted and its bytes are added to the flow direction's lost counter, which
 * the next record of that direction carries as lost_before. The programs
 * never change a packet's fate.
 *
 * Body skipping (--bodies=skip, docs/body-skip.md): user space flags a flow
 * inside a BDAT chunk (with the chunk's end) or inside a DATA body after its
 * header block; client segments there become one header-only record flagged
 * SKIPPED instead of copies, until the segment that ends the chunk or the
 * body, which is copied.
 *
 * Encryption: user space marks a flow when its parser sees the 220 to
 * STARTTLS; this program marks it itself one step earlier (a client segment
 * ending in "STARTTLS\r\n" answered by a server segment starting with "220"),
 * so no TLS byte is copied even before user space catches up; a flow with no
 * state (begun before we started, or forgotten by the LRU) whose segment
 * starts with a TLS record header is treated as encrypted too.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "smtpmon.h"
#include "parse.bpf.h"
#include "bounds.bpf.h"
#include "smtp_marks.bpf.h"
#include "ring_wake.bpf.h"

#define REC_HDR_LEN __builtin_offsetof(struct smtpmon_rec, payload)
/* Payload capacity of the record size classes: most command and reply
 * segments fit the small one, MSS-sized body segments the large one, pieces
 * of super-packets the two largest (which they fill exactly); records that
 * copy nothing (or a skipped body's tail) take the header and 8 bytes. */
#define CLASS_T	  SMTPMON_SKIP_TAIL /* flags-only, encrypted and skipped records */
#define CLASS_S	  (256 - REC_HDR_LEN)
#define CLASS_M	  (1024 - REC_HDR_LEN)
#define CLASS_L	  SMTPMON_CHUNK_MIN
#define CLASS_XL  SMTPMON_CHUNK_MID
#define CLASS_XXL SMTPMON_CHUNK_MAX

/* Monitored ports as a bitmap in .bss, which user space maps and rewrites
 * on a reload: the test that sends every other packet away is one load, no
 * helper call. */
__u8 port_bits[65536 / 8];

/* Set by user space before load: this many bytes waiting in the ring make
 * a bulk record wake the reader (see submit). */
__u64 wakeup_bytes;

/* --bodies=skip: user space sets it before load; the kernel then starts
 * skipping a DATA body on its own SMTPMON_HEADER_ALLOWANCE bytes after the
 * 354 (which it watches for in any case: body records do not wake the
 * reader). */
bool bodies_skip;

/* --bodies=copy: user space sets it before load (three quarters of the ring;
 * 0: never). A message body that reaches the kernel while this many bytes
 * wait in the ring is skipped from there on as with --bodies=skip, so that
 * an overloaded reader loses body bytes, not the commands and replies that
 * follow them (docs/body-skip.md, "Shedding bodies"). */
__u64 shed_at;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space sets --ring-size */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SMTPMON_FLOWS_MAX);
	__type(key, struct smtpmon_flow_key);
	__type(value, struct smtpmon_flow);
} flows SEC(".maps");

/* Counters and the TLS cache of each program, per CPU (smtpmon.h).
 * The cache: a bulk TLS transfer costs a 40-byte compare per segment
 * instead of a hash lookup. Only data segments use it, and only while
 * flow_epoch, which every SYN, FIN or RST of a monitored port advances (on
 * any CPU), is what it was when the entry was made: port reuse and the
 * after-FIN rule go through the flow map. */
/* ifindex -> counter slot, filled by user space (smtpmon.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SMTPMON_IFINDEX_DIRECT);
	__type(key, __u32);
	__type(value, __u32);
} iface_slot_by_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMTPMON_IFACE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} iface_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMTPMON_PROG_MAX *SMTPMON_IFACE_SLOTS);
	__type(key, __u32);
	__type(value, struct smtpmon_percpu);
} percpu SEC(".maps");

__u64 flow_epoch;

/* Everything the chunk emitter needs; lives on the program's stack and is
 * passed to the bpf_loop callback. */
struct emit_ctx {
	void *ctx;		   /* struct __sk_buff or struct xdp_md */
	struct smtpmon_flow *flow; /* NULL until the flow has state */
	struct smtpmon_flow_key key __attribute__((aligned(8)));
	__u32 off;  /* packet offset of the next payload byte */
	__u32 left; /* payload bytes still to emit */
	__u32 seq;  /* sequence number of the next record */
	__u8 tcp_flags;
	bool first;
	bool to_server;
	bool encrypted;
	bool truncated;
	struct smtpmon_percpu *cpu; /* this program's counters on this CPU */
	struct smtpmon_rec hdr;	    /* per-packet header fields; last: flexible array */
};

/* stat is a constant; the verifier needs the bound spelled out. */
static __always_inline void stat_add(struct smtpmon_percpu *cpu, __u32 stat, __u64 n)
{
	if (stat < SMTPMON_STAT_MAX)
		cpu->stats[stat] += n;
}

/* The slot of an interface whose ifindex is too large for the array. A
 * function of its own: a lookup on either map from one call site could not
 * be inlined by the verifier (1 ns a packet for the array's, 20 without). */
static __noinline __u32 slot_by_hash(__u32 ifindex)
{
	__u32 *slot = bpf_map_lookup_elem(&iface_slots, &ifindex);

	return slot ? *slot : 0;
}

/* The "percpu" key of a program on an interface (smtpmon.h). A global
 * function: the verifier checks it once, on its own, and its callers see one
 * unknown key instead of a path per way of finding the slot; inlined, those
 * paths doubled the states of everything after them (6.1's verifier then
 * ran out of its million instructions on the XDP program). */
__noinline __u32 smtpmon_percpu_key(__u32 ifindex, __u32 prog)
{
	__u32 slot = 0, *direct;

	if (ifindex < SMTPMON_IFINDEX_DIRECT) {
		direct = bpf_map_lookup_elem(&iface_slot_by_index, &ifindex);
		if (direct)
			slot = *direct;
	} else {
		slot = slot_by_hash(ifindex);
	}
	return prog * SMTPMON_IFACE_SLOTS + (slot < SMTPMON_IFACE_SLOTS ? slot : 0);
}

/* The segment is of the flow whose data segments this CPU suppressed last.
 * Ports first: they tell most other segments apart before the addresses are
 * even read from the packet. */
static __always_inline bool cached_tls_segment(const struct smtpmon_tls_cache *c, void *data,
					       void *data_end, const struct pkt *p)
{
	return c->sport == p->sport && c->dport == p->dport && c->family == p->family &&
	       pkt_addresses_match(data, data_end, p, c->saddr, c->daddr);
}

static __always_inline void cache_tls_segment(struct smtpmon_tls_cache *c,
					      const struct smtpmon_rec *h, __u64 epoch)
{
	__builtin_memcpy(c->saddr, h->saddr, sizeof(c->saddr));
	__builtin_memcpy(c->daddr, h->daddr, sizeof(c->daddr));
	c->sport = h->sport;
	c->dport = h->dport;
	c->family = h->family;
	c->epoch = epoch;
}

/* The explicit bound is for the verifiers of Linux 6.1 and 6.12: a port read
 * back from the stack has lost its 16-bit range there, and without the mask
 * (which the barrier keeps clang from dropping as redundant) the index could
 * be anything. */
static __always_inline bool is_port(__u16 port)
{
	__u32 idx = port >> 3;

	barrier_var(idx);
	idx &= sizeof(port_bits) - 1;
	return port_bits[idx] & (1 << (port & 7));
}

/* When both ports are monitored, both directions must still agree on which
 * side is the server (user space applies the same rule): the lower port,
 * then the lower address. */
static __always_inline bool dst_is_server(const struct smtpmon_rec *h)
{
	bool dst = is_port(h->dport), src = is_port(h->sport);

	if (dst != src)
		return dst;
	if (h->dport != h->sport)
		return h->dport < h->sport;
	for (int i = 0; i < 16; i++)
		if (h->daddr[i] != h->saddr[i])
			return h->daddr[i] < h->saddr[i];
	return true;
}

/* Helpers refuse a size that may be 0. The verifiers of Linux 6.1 and 6.12
 * learn nothing from "len != 0" (later ones do), but do from a signed
 * "len > 0", which the barrier keeps clang from turning back into the first. */
static __always_inline long load_bytes(void *ctx, __u32 off, void *to, __u32 len, const bool xdp)
{
	barrier_var(len);
	if ((__s32)len <= 0)
		return -1;
	return xdp ? bpf_xdp_load_bytes(ctx, off, to, len) : bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline struct smtpmon_flow *flow_create(const struct smtpmon_flow_key *key,
							__u32 flags)
{
	struct smtpmon_flow init = {.flags = flags};

	/* NOEXIST: a concurrent creator (the other direction on another
	 * CPU) wins, and we use its entry. */
	bpf_map_update_elem(&flows, key, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&flows, key);
}

static __always_inline void flow_add_lost(struct emit_ctx *e, __u32 bytes)
{
	struct smtpmon_flow *f = e->flow;

	if (!bytes)
		return;
	if (!f) {
		f = flow_create(&e->key, 0);
		e->flow = f;
		if (!f)
			return;
	}
	__sync_fetch_and_add(e->to_server ? &f->lost_to_server : &f->lost_to_client, bytes);
}

static __always_inline struct smtpmon_rec *reserve(__u32 copy)
{
	if (copy <= CLASS_T)
		return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_T, 0);
	if (copy <= CLASS_S)
		return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_S, 0);
	if (copy <= CLASS_M)
		return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_M, 0);
	if (copy <= CLASS_L)
		return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_L, 0);
	if (copy <= CLASS_XL)
		return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_XL, 0);
	return bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_XXL, 0);
}

/* The next piece of a segment with left bytes still to go (smtpmon.h). */
static __always_inline __u32 piece_len(__u32 left)
{
	if (left >= CLASS_XXL)
		return CLASS_XXL;
	if (left >= CLASS_XL)
		return CLASS_XL;
	if (left > CLASS_L)
		return CLASS_L;
	return left;
}

/* The header of a record about to be submitted; the payload is the caller's. */
static __always_inline void fill_header(struct emit_ctx *e, struct smtpmon_rec *r, __u32 len,
					__u32 copy, __u8 tcp_flags, __u8 rec_flags)
{
	__builtin_memcpy(r, &e->hdr, REC_HDR_LEN);
	r->seq = e->seq;
	r->tcp_flags = tcp_flags;
	r->payload_len = len;
	r->copied_len = copy;
	r->rec_flags = rec_flags;
	r->lost_before = 0;
	if (e->flow)
		r->lost_before = __sync_lock_test_and_set(
		    e->to_server ? &e->flow->lost_to_server : &e->flow->lost_to_client, 0);
}

static __always_inline void count_ring_drop(struct emit_ctx *e, __u32 len)
{
	stat_add(e->cpu, SMTPMON_STAT_RING_DROPS, 1);
	stat_add(e->cpu, SMTPMON_STAT_RING_DROP_BYTES, len);
	flow_add_lost(e, len);
}

/* A client segment inside a message body, as far as the kernel knows: after
 * a 354 (until the server speaks again), or in a body or chunk user space
 * marked. */
static __always_inline bool in_body(const struct emit_ctx *e)
{
	return e->to_server && e->flow &&
	       (e->flow->flags &
		(SMTPMON_FLOW_BODY_AUTO | SMTPMON_FLOW_SKIP_BODY | SMTPMON_FLOW_SKIP_CHUNK));
}

/* Submits a record of `size` bytes; bulk: message body chunks and skipped
 * body segments (ring_wake.bpf.h). The reader's poll timeout drains the ring
 * anyway (capture_poll). */
static __always_inline void submit(struct smtpmon_rec *r, __u32 size, bool bulk)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(r, ring_wake_flags(avail, size, bulk, wakeup_bytes));
}

/* One record: the next piece_len(left) payload bytes (all of them,
 * uncopied, for the SYN/FIN/RST of an encrypted flow). Returns 1 when
 * nothing is left, which also ends a bpf_loop. */
static __always_inline long emit_chunk(struct emit_ctx *e, const bool xdp)
{
	__u32 len = e->left, copy;
	__u8 flags = e->tcp_flags;
	struct smtpmon_rec *r;

	if (!e->encrypted)
		len = piece_len(len);
	copy = e->encrypted ? 0 : len;
	if (!e->first)
		flags &= ~SMTPMON_TCP_SYN;
	if (len != e->left)
		flags &= ~(SMTPMON_TCP_FIN | SMTPMON_TCP_RST | SMTPMON_TCP_PSH);

	r = reserve(copy);
	if (!r) {
		count_ring_drop(e, len);
	} else if (copy && load_bytes(e->ctx, e->off, r->payload, copy, xdp) < 0) {
		bpf_ringbuf_discard(r, 0);
		stat_add(e->cpu, SMTPMON_STAT_PARSE_ERRORS, 1);
		flow_add_lost(e, len);
	} else {
		__u8 rec_flags = e->encrypted ? SMTPMON_REC_ENCRYPTED : 0;

		if (e->truncated && len == e->left)
			rec_flags |= SMTPMON_REC_TRUNCATED;
		fill_header(e, r, len, copy, flags, rec_flags);
		submit(r, REC_HDR_LEN + copy, copy > CLASS_M && in_body(e));
		stat_add(e->cpu, SMTPMON_STAT_RECORDS, 1);
		stat_add(e->cpu, SMTPMON_STAT_PAYLOAD_BYTES, copy);
	}
	e->seq += len + (flags & SMTPMON_TCP_SYN ? 1 : 0);
	e->off += len;
	e->left -= len;
	e->first = false;
	return e->left ? 0 : 1;
}

static long emit_chunk_skb(__u32 i __attribute__((unused)), void *e)
{
	return emit_chunk(e, false);
}

static long emit_chunk_xdp(__u32 i __attribute__((unused)), void *e)
{
	return emit_chunk(e, true);
}

static __always_inline bool starts_tls_record(void *ctx, __u32 off, const bool xdp)
{
	__u8 b[3];

	if (load_bytes(ctx, off, b, sizeof(b), xdp) < 0)
		return false;
	return b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 3 && b[2] <= 4;
}

static __always_inline bool ends_with_starttls(void *ctx, __u32 end, const bool xdp)
{
	static const char want[] = "starttls";
	__u8 b[10];

	if (load_bytes(ctx, end - sizeof(b), b, sizeof(b), xdp) < 0)
		return false;
	for (int i = 0; i < 8; i++)
		if ((b[i] | 0x20) != want[i])
			return false;
	return b[8] == '\r' && b[9] == '\n';
}

/* The whole segment as one SKIPPED record carrying its last ntail bytes,
 * which are the low bytes of window, first byte highest. */
static __always_inline void emit_skipped(struct emit_ctx *e, __u32 len, __u64 window, __u32 ntail)
{
	struct smtpmon_rec *r = bpf_ringbuf_reserve(&events, REC_HDR_LEN + CLASS_T, 0);

	if (!r) {
		count_ring_drop(e, len);
		return;
	}
	fill_header(e, r, len, ntail, e->tcp_flags, SMTPMON_REC_SKIPPED);
	for (__u32 i = 0; i < CLASS_T; i++)
		if (i < ntail)
			r->payload[i] = (__u8)(window >> (8 * (ntail - 1 - i)));
	submit(r, REC_HDR_LEN + CLASS_T, true);
	stat_add(e->cpu, SMTPMON_STAT_RECORDS, 1);
	stat_add(e->cpu, SMTPMON_STAT_PAYLOAD_BYTES, ntail);
	stat_add(e->cpu, SMTPMON_STAT_SKIPPED_RECORDS, 1);
	stat_add(e->cpu, SMTPMON_STAT_SKIPPED_BYTES, len - ntail);
}

enum body_scan {
	BODY_GOES_ON, /* the client stream does not end in CRLF.CRLF */
	BODY_ENDS,    /* it does: the end-of-data marker */
	BODY_UNSURE,  /* a short segment not contiguous with the carried tail */
};

/* Shifts the segment's last bytes (at most 5) into a window that starts
 * with the flow's carried tail, and carries the new tail. Segments of 5 bytes
 * or more do not need the old tail. */
static __always_inline enum body_scan scan_body(struct emit_ctx *e, __u32 off, __u32 len,
						__u64 *window, const bool xdp)
{
	struct smtpmon_flow *f = e->flow;
	__u32 n = min_len(len, 5);
	__u8 b[5];
	__u64 w;

	if (n < 5 && f->tail_seq != e->seq)
		return BODY_UNSURE;
	if (load_bytes(e->ctx, off + len - n, b, n, xdp) < 0)
		return BODY_UNSURE;
	w = f->tail;
	for (__u32 i = 0; i < 5; i++)
		if (i < n)
			w = w << 8 | b[i];
	f->tail = (__u32)w;
	f->tail_seq = e->seq + len;
	*window = w;
	return (w & 0xffffffffffull) == END_OF_DATA ? BODY_ENDS : BODY_GOES_ON;
}

/* A client payload segment of a flow with a skip flag: true if it went out
 * as a SKIPPED record, false if it is to be copied (the flag that no longer
 * applies is cleared). */
/* Does the server segment's last line start with "354"? */
static __always_inline bool ends_with_go_ahead(void *ctx, __u32 off, __u32 len, const bool xdp)
{
	char buf[GO_AHEAD_SCAN];
	__u32 n = min_len(len, GO_AHEAD_SCAN);

	if (n < 6 || load_bytes(ctx, off + len - n, buf, n, xdp) < 0)
		return false;
	return is_go_ahead(buf, n, n == len);
}

/* A server segment: a 354 opens a DATA body the kernel may skip on its own
 * (its ACK is where the body starts); anything else the server says means
 * that no body is being sent. */
static __always_inline void watch_go_ahead(struct emit_ctx *e, __u32 off, __u32 len, const bool xdp)
{
	struct smtpmon_flow *f = e->flow;

	if (ends_with_go_ahead(e->ctx, off, len, xdp)) {
		f->body_auto_seq = e->hdr.ack + SMTPMON_HEADER_ALLOWANCE;
		__sync_fetch_and_or(&f->flags, SMTPMON_FLOW_BODY_AUTO);
	} else if (f->flags & SMTPMON_FLOW_BODY_AUTO) {
		__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_BODY_AUTO);
	}
}

/* A client segment past the allowance after a 354: skip from here as if
 * user space had marked the body (it may have done so already). */
static __always_inline void start_auto_skip(struct emit_ctx *e)
{
	struct smtpmon_flow *f = e->flow;

	if (!(f->flags & SMTPMON_FLOW_BODY_AUTO) || (__s32)(e->seq - f->body_auto_seq) < 0)
		return;
	if (!(f->flags & SMTPMON_FLOW_SKIP_BODY))
		f->skip_server_next = f->server_next;
	__sync_fetch_and_or(&f->flags, SMTPMON_FLOW_SKIP_BODY);
	__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_BODY_AUTO);
}

/* Copy mode, a client segment: is the ring crowded enough to shed bodies? */
static __always_inline bool ring_crowded(void)
{
	return shed_at && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= shed_at;
}

/* Copy mode: a client segment past the allowance after a 354, with the ring
 * crowded, starts skipping the rest of the body (counted once per body). */
static __always_inline bool shed_body(struct emit_ctx *e)
{
	struct smtpmon_flow *f = e->flow;

	if (!(f->flags & SMTPMON_FLOW_BODY_AUTO) || (__s32)(e->seq - f->body_auto_seq) < 0 ||
	    !ring_crowded())
		return false;
	stat_add(e->cpu, SMTPMON_STAT_SHED_BODIES, 1);
	return true;
}

/* --bodies=skip: a client segment with a BDAT command at its start, or where
 * the chunk before ended: the segments after it that lie inside the chunk
 * are skipped (SKIP_CHUNK) without waiting for user space, which follows
 * one ring round trip behind. The segment itself is copied. */
static __always_inline void watch_bdat(struct emit_ctx *e, __u32 off, __u32 len, const bool xdp)
{
	struct smtpmon_flow *f = e->flow;
	char buf[BDAT_SCAN] = {};
	__u32 at = 0, cmd_len, n;
	__s32 end = (__s32)(f->skip_end - e->seq);
	__u64 size;

	if (f->flags & (SMTPMON_FLOW_SKIP_CHUNK | SMTPMON_FLOW_SKIP_BODY))
		return;
	if (end > 0 && (__u32)end < len)
		at = (__u32)end; /* the chunk before ended inside this segment */
	n = min_len(len - at, BDAT_SCAN);
	if (n < 8 || load_bytes(e->ctx, off + at, buf, n, xdp) < 0 ||
	    !parse_bdat(buf, n, &size, &cmd_len) || size >= (1u << 30))
		return;
	f->skip_end = e->seq + at + cmd_len + (__u32)size;
	__sync_fetch_and_or(&f->flags, SMTPMON_FLOW_SKIP_CHUNK);
	if (!bodies_skip)
		stat_add(e->cpu, SMTPMON_STAT_SHED_BODIES, 1);
}

static __always_inline bool skip_client_segment(struct emit_ctx *e, __u32 off, __u32 len,
						const bool xdp)
{
	struct smtpmon_flow *f = e->flow;
	__u64 window;

	if (f->flags & SMTPMON_FLOW_SKIP_CHUNK) {
		/* Wholly inside the chunk (or a retransmission from before
		 * it): skip; one that reaches past the end: copy. */
		if ((__s32)(e->seq + len - f->skip_end) <= 0) {
			emit_skipped(e, len, 0, 0);
			return true;
		}
		__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_SKIP_CHUNK);
		return false;
	}
	/* The server only speaks after the end of the body: if it did since
	 * user space set the flag, the end passed unseen. */
	if (f->server_next != f->skip_server_next) {
		__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_SKIP_BODY);
		return false;
	}
	switch (scan_body(e, off, len, &window, xdp)) {
	case BODY_GOES_ON:
		emit_skipped(e, len, window, len < CLASS_T ? len : CLASS_T);
		return true;
	case BODY_ENDS:
		__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_SKIP_BODY);
		return false;
	default:
		return false;
	}
}

/* Runs after the segment's records went out, so the 220 itself is copied. */
static __always_inline void track_starttls(struct emit_ctx *e, __u32 payload_off, __u32 payload_len,
					   const bool xdp)
{
	struct smtpmon_flow *f = e->flow;
	__u8 code[3];

	if (e->to_server) {
		if (payload_len < 10 || !ends_with_starttls(e->ctx, payload_off + payload_len, xdp))
			return;
		if (!f)
			f = flow_create(&e->key, 0);
		if (f)
			__sync_fetch_and_or(&f->flags, SMTPMON_FLOW_STARTTLS);
		return;
	}
	if (!f || !(f->flags & SMTPMON_FLOW_STARTTLS) || payload_len < 3 ||
	    load_bytes(e->ctx, payload_off, code, sizeof(code), xdp) < 0)
		return;
	if (code[0] == '2' && code[1] == '2' && code[2] == '0')
		__sync_fetch_and_or(&f->flags, SMTPMON_FLOW_ENCRYPTED);
	__sync_fetch_and_and(&f->flags, ~SMTPMON_FLOW_STARTTLS);
}

/* Where the TCP payload ends: where the IP datagram ends when its length
 * field says so and that much is in the linear part (Ethernet padding is not
 * payload); otherwise the packet's length (all fragments of an XDP frame: a
 * helper call, hence asked only when needed), bounded by the IP length unless
 * that is 0 (BIG TCP) or larger than what is there. */
static __always_inline __u32 payload_end(void *ctx, void *data, void *data_end, const struct pkt *p,
					 const bool xdp)
{
	if (p->ip_end && data + p->ip_end <= data_end)
		return p->ip_end;

	__u32 end = xdp ? (__u32)bpf_xdp_get_buff_len(ctx) : ((struct __sk_buff *)ctx)->len;

	return p->ip_end && p->ip_end < end ? p->ip_end : end;
}

static __always_inline void handle_packet(void *ctx, void *data, void *data_end, __u32 ifindex,
					  __u8 dir, const bool xdp)
{
	const __u8 prog = xdp			       ? SMTPMON_PROG_XDP
			  : dir == SMTPMON_DIR_INGRESS ? SMTPMON_PROG_TC_INGRESS
						       : SMTPMON_PROG_TC_EGRESS;
	__u32 key = smtpmon_percpu_key(ifindex, prog);
	struct smtpmon_percpu *cpu = bpf_map_lookup_elem(&percpu, &key);
	struct emit_ctx e;
	struct pkt p;

	if (!cpu)
		return; /* cannot happen: the key is below max_entries */
	stat_add(cpu, SMTPMON_STAT_PACKETS, 1);
	switch (parse_packet(data, data_end, &p)) {
	case PARSE_TCP:
		break;
	case PARSE_FRAGMENT:
		stat_add(cpu, SMTPMON_STAT_FRAGMENTS, 1);
		return;
	case PARSE_MALFORMED:
		stat_add(cpu, SMTPMON_STAT_PARSE_ERRORS, 1);
		return;
	default:
		return;
	}
	const bool data_only =
	    !(p.tcp_flags & (SMTPMON_TCP_SYN | SMTPMON_TCP_FIN | SMTPMON_TCP_RST));
	struct smtpmon_tls_cache *cached = &cpu->tls;
	/* Read before the flow lookup: a FIN racing it makes the entry made
	 * below stale at once. A data segment of the encrypted flow this CPU
	 * suppressed last leaves here, before even the port test (a reload
	 * that changes the ports advances the epoch). */
	__u64 epoch = flow_epoch;
	/* Bytes after the TCP header in the linear part (on XDP, a frame whose
	 * payload is all in fragments takes the long way, to the same result);
	 * Ethernet padding after a pure ACK is no payload. */
	if (data_only && data + p.payload_off < data_end && cached->epoch == epoch &&
	    cached_tls_segment(cached, data, data_end, &p)) {
		__u32 end = payload_end(ctx, data, data_end, &p, xdp);

		if (end > p.payload_off) {
			stat_add(cpu, SMTPMON_STAT_MATCHED, 1);
			stat_add(cpu, SMTPMON_STAT_SUPPRESSED_BYTES, end - p.payload_off);
			stat_add(cpu, SMTPMON_STAT_SUPPRESSED_PACKETS, 1);
			return;
		}
	}
	if (!is_port(p.dport) && !is_port(p.sport))
		return;
	stat_add(cpu, SMTPMON_STAT_MATCHED, 1);
	__u32 end = payload_end(ctx, data, data_end, &p, xdp);
	if (p.payload_off > end) {
		stat_add(cpu, SMTPMON_STAT_PARSE_ERRORS, 1);
		return;
	}
	__u32 payload_len = end - p.payload_off;
	if (!payload_len && data_only)
		return;
	/* The rest of e only for segments that get this far. */
	__builtin_memset(&e.hdr, 0, sizeof(e.hdr));
	if (!pkt_fill_header(data, data_end, &p, &e.hdr)) {
		stat_add(cpu, SMTPMON_STAT_PARSE_ERRORS, 1);
		return;
	}
	__builtin_memset(&e, 0, __builtin_offsetof(struct emit_ctx, hdr));

	e.ctx = ctx;
	e.cpu = cpu;
	e.to_server = dst_is_server(&e.hdr);
	if (e.to_server) {
		__builtin_memcpy(e.key.client, e.hdr.saddr, 16);
		__builtin_memcpy(e.key.server, e.hdr.daddr, 16);
		e.key.client_port = e.hdr.sport;
		e.key.server_port = e.hdr.dport;
	} else {
		__builtin_memcpy(e.key.client, e.hdr.daddr, 16);
		__builtin_memcpy(e.key.server, e.hdr.saddr, 16);
		e.key.client_port = e.hdr.dport;
		e.key.server_port = e.hdr.sport;
	}
	e.key.family = e.hdr.family;

	if (!data_only)
		__sync_fetch_and_add(&flow_epoch, 1);

	/* A connection starts afresh: what an earlier one on the same tuple
	 * left (encrypted, skip flags) must not carry over. */
	if ((p.tcp_flags & (SMTPMON_TCP_SYN | SMTPMON_TCP_ACK)) == SMTPMON_TCP_SYN)
		bpf_map_delete_elem(&flows, &e.key);
	e.flow = bpf_map_lookup_elem(&flows, &e.key);
	if (!e.flow) {
		if (p.tcp_flags & SMTPMON_TCP_SYN)
			e.flow = flow_create(&e.key, 0);
		else if (payload_len >= 3 && starts_tls_record(ctx, p.payload_off, xdp))
			e.flow = flow_create(&e.key, SMTPMON_FLOW_ENCRYPTED);
	}
	if (e.flow && (e.flow->flags & SMTPMON_FLOW_ENCRYPTED)) {
		__u32 peer_fin = e.to_server ? SMTPMON_FLOW_SERVER_FIN : SMTPMON_FLOW_CLIENT_FIN;

		stat_add(cpu, SMTPMON_STAT_SUPPRESSED_BYTES, payload_len);
		if (data_only && !(e.flow->flags & peer_fin)) {
			cache_tls_segment(cached, &e.hdr, epoch);
			stat_add(cpu, SMTPMON_STAT_SUPPRESSED_PACKETS, 1);
			return;
		}
		if (p.tcp_flags & SMTPMON_TCP_FIN)
			__sync_fetch_and_or(&e.flow->flags, e.to_server ? SMTPMON_FLOW_CLIENT_FIN
									: SMTPMON_FLOW_SERVER_FIN);
		e.encrypted = true;
	}

	e.hdr.ts_ns = bpf_ktime_get_boot_ns();
	e.hdr.ifindex = ifindex;
	e.hdr.dir = dir;
	e.hdr.hook = xdp ? SMTPMON_HOOK_XDP : SMTPMON_HOOK_TC;
	e.off = p.payload_off;
	e.seq = p.seq;
	e.tcp_flags = p.tcp_flags;
	e.first = true;
	e.left = payload_len;

	if (e.flow && payload_len && !e.encrypted) {
		if (!e.to_server) {
			e.flow->server_next = p.seq + payload_len;
			watch_go_ahead(&e, p.payload_off, payload_len, xdp);
		} else {
			if (bodies_skip || shed_body(&e))
				start_auto_skip(&e);
			if ((e.flow->flags & (SMTPMON_FLOW_SKIP_CHUNK | SMTPMON_FLOW_SKIP_BODY)) &&
			    skip_client_segment(&e, p.payload_off, payload_len, xdp))
				return;
			if (bodies_skip || ring_crowded())
				watch_bdat(&e, p.payload_off, payload_len, xdp);
		}
	}

	__u32 nchunks = 1;
	if (!e.encrypted) {
		if (payload_len > 0xffff)
			stat_add(cpu, SMTPMON_STAT_BIG_SEGMENTS, 1);
		if (payload_len > SMTPMON_SKB_MAX) {
			e.left = SMTPMON_SKB_MAX;
			e.truncated = true;
			stat_add(cpu, SMTPMON_STAT_TRUNCATED_BYTES, payload_len - SMTPMON_SKB_MAX);
		}
		/* An upper bound: emit_chunk ends the loop after the last piece. */
		if (e.left)
			nchunks = (e.left + CLASS_L - 1) / CLASS_L;
	}
	if (nchunks == 1)
		emit_chunk(&e, xdp);
	else
		bpf_loop(nchunks, xdp ? emit_chunk_xdp : emit_chunk_skb, &e, 0);
	/* The cut-off tail is a known hole: report it like a ring drop. */
	if (e.truncated)
		flow_add_lost(&e, payload_len - SMTPMON_SKB_MAX);
	if (!e.encrypted && payload_len)
		track_starttls(&e, p.payload_off, payload_len, xdp);
}

SEC("tc")
int smtpmon_tc_ingress(struct __sk_buff *skb)
{
	handle_packet(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex,
		      SMTPMON_DIR_INGRESS, false);
	return TCX_NEXT;
}

SEC("tc")
int smtpmon_tc_egress(struct __sk_buff *skb)
{
	handle_packet(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex,
		      SMTPMON_DIR_EGRESS, false);
	return TCX_NEXT;
}

/* xdp.frags: multi-buffer frames (jumbo, GRO'd generic XDP) are accepted;
 * bpf_xdp_load_bytes reads across fragments. */
SEC("xdp.frags")
int smtpmon_xdp(struct xdp_md *ctx)
{
	handle_packet(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end,
		      ctx->ingress_ifindex, SMTPMON_DIR_INGRESS, true);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
