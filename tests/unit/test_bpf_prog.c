// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_bpf_prog - the BPF programs on hand-built frames (BPF_PROG_TEST_RUN), no network:
 * what reaches the ring buffer for VLAN/QinQ, IPv4 options, IPv6 extension headers,
 * fragments, Ethernet padding, pure ACKs, other ports, multi-record segments (TC and XDP
 * with fragments), encrypted flows (only SYN/FIN/RST and what follows a FIN make records),
 * TLS sniffing, the STARTTLS cut-off, ring-full loss reported as lost_before, body skipping
 * (BDAT chunks, DATA bodies), and the verdicts (always pass). Needs root (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "smtpmon.h"
#include "smtpmon.skel.h"

#define MAX_RECS  64
#define FRAME_MAX (64 * 1024)

/* A record as it was in the ring: header, then payload at h.payload. */
struct rec {
	union {
		struct smtpmon_rec h;
		uint8_t raw[offsetof(struct smtpmon_rec, payload) + SMTPMON_CHUNK_MAX];
	};
};

struct fixture {
	struct smtpmon_bpf *skel;
	struct ring_buffer *rb;
	struct rec recs[MAX_RECS];
	size_t nrecs;
};

/* What to put in a test frame. */
struct spec {
	int family;	       /* 4 or 6 */
	uint16_t vlans[2];     /* TPIDs of VLAN tags, 0 = none */
	int ip_opt_words;      /* IPv4 options, 32-bit words */
	const uint8_t *v6_ext; /* IPv6 extension header types, in order */
	int n_v6_ext;
	bool fragment;	   /* IPv4 MF set */
	bool tot_len_zero; /* BIG TCP style */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const void *payload;
	size_t payload_len;
	size_t pad_to; /* Ethernet padding up to this frame length */
};

static const uint8_t cli4[4] = {10, 0, 0, 2}, srv4[4] = {10, 0, 0, 1};
static const uint8_t cli6[16] = {0xfd, 0, [15] = 2}, srv6[16] = {0xfd, 0, [15] = 1};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static bool to_server(const struct spec *s)
{
	return s->dport == 25 || s->dport == 587;
}

static size_t build(uint8_t *f, const struct spec *s)
{
	size_t off = 12, ip_off, l4_off, len;

	memset(f, 0, FRAME_MAX);
	for (int i = 0; i < 2 && s->vlans[i]; i++, off += 4) {
		put16(f + off, s->vlans[i]);
		put16(f + off + 2, 100 + i); /* TCI */
	}
	put16(f + off, s->family == 4 ? 0x0800 : 0x86dd);
	ip_off = off + 2;
	if (s->family == 4) {
		size_t ihl = 20 + 4 * s->ip_opt_words;
		f[ip_off] = 0x40 | (ihl / 4);
		put16(f + ip_off + 6, s->fragment ? 0x2000 : 0x4000);
		f[ip_off + 8] = 64;
		f[ip_off + 9] = 6;
		memcpy(f + ip_off + 12, to_server(s) ? cli4 : srv4, 4);
		memcpy(f + ip_off + 16, to_server(s) ? srv4 : cli4, 4);
		for (int i = 0; i < 4 * s->ip_opt_words; i++)
			f[ip_off + 20 + i] = 1; /* NOP */
		l4_off = ip_off + ihl;
	} else {
		f[ip_off] = 0x60;
		f[ip_off + 7] = 64;
		memcpy(f + ip_off + 8, to_server(s) ? cli6 : srv6, 16);
		memcpy(f + ip_off + 24, to_server(s) ? srv6 : cli6, 16);
		l4_off = ip_off + 40;
		uint8_t *next = f + ip_off + 6;
		for (int i = 0; i < s->n_v6_ext; i++) {
			*next = s->v6_ext[i];
			next = f + l4_off;
			l4_off += 8; /* length field 0: 8 bytes */
		}
		*next = 6;
	}
	put16(f + l4_off, s->sport);
	put16(f + l4_off + 2, s->dport);
	put32(f + l4_off + 4, s->seq);
	put32(f + l4_off + 8, s->ack);
	f[l4_off + 12] = 5 << 4;
	f[l4_off + 13] = s->flags;
	put16(f + l4_off + 14, 1000);
	if (s->payload_len)
		memcpy(f + l4_off + 20, s->payload, s->payload_len);
	len = l4_off + 20 + s->payload_len;
	if (s->family == 4)
		put16(f + ip_off + 2, s->tot_len_zero ? 0 : (uint16_t)(len - ip_off));
	else
		put16(f + ip_off + 4, (uint16_t)(len - ip_off - 40));
	return len > s->pad_to ? len : s->pad_to;
}

static int on_rec(void *ctx, void *data, size_t size)
{
	struct fixture *fx = ctx;
	const struct smtpmon_rec *r = data;

	assert_true(size >= offsetof(struct smtpmon_rec, payload) + r->copied_len);
	if (fx->nrecs == MAX_RECS)
		return -1;
	memcpy(&fx->recs[fx->nrecs], r, offsetof(struct smtpmon_rec, payload) + r->copied_len);
	fx->nrecs++;
	return 0;
}

/* Loading verifies every program, by far the slowest step (a quarter of a second here, minutes
 * under QEMU without KVM for the kernel matrix): each ring size is loaded once per run, and
 * every test starts from the state a fresh load has. */
static struct fixture *loaded[2];

static struct fixture *load(size_t ring_size)
{
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->skel = smtpmon_bpf__open();
	assert_non_null(fx->skel);
	assert_int_equal(bpf_map__set_max_entries(fx->skel->maps.events, ring_size), 0);
	assert_int_equal(smtpmon_bpf__load(fx->skel), 0);
	fx->rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.events), on_rec, fx, NULL);
	assert_non_null(fx->rb);
	return fx;
}

/* Empty flow map, zeroed per-CPU counters and caches, drained ring, the globals as loaded
 * with ports 25 and 587. */
static void reset(struct fixture *fx)
{
	int flows = bpf_map__fd(fx->skel->maps.flows), percpu = bpf_map__fd(fx->skel->maps.percpu);
	int ncpus = libbpf_num_possible_cpus();
	struct smtpmon_flow_key key;
	void *zeros;

	while (!bpf_map_get_next_key(flows, NULL, &key))
		assert_int_equal(bpf_map_delete_elem(flows, &key), 0);
	assert_true(ncpus > 0);
	zeros = calloc((size_t)ncpus, (sizeof(struct smtpmon_percpu) + 7) & ~(size_t)7);
	assert_non_null(zeros);
	for (uint32_t i = 0; i < SMTPMON_PROG_MAX * SMTPMON_IFACE_SLOTS; i++)
		assert_int_equal(bpf_map_update_elem(percpu, &i, zeros, BPF_ANY), 0);
	free(zeros);
	ring_buffer__consume(fx->rb);
	fx->nrecs = 0;
	memset(fx->skel->bss->port_bits, 0, sizeof(fx->skel->bss->port_bits));
	fx->skel->bss->port_bits[25 >> 3] |= 1 << (25 & 7);
	fx->skel->bss->port_bits[587 >> 3] |= 1 << (587 & 7);
	fx->skel->bss->bodies_skip = false;
	fx->skel->bss->wakeup_bytes = 0;
	fx->skel->bss->shed_at = 0;
}

static int setup_ring(void **state, int which, size_t ring_size)
{
	if (!loaded[which])
		loaded[which] = load(ring_size);
	reset(loaded[which]);
	*state = loaded[which];
	return 0;
}

static int setup(void **state)
{
	return setup_ring(state, 0, 1 << 20);
}

static int setup_tiny_ring(void **state)
{
	return setup_ring(state, 1, 4096);
}

static int teardown_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		if (!loaded[i])
			continue;
		ring_buffer__free(loaded[i]->rb);
		smtpmon_bpf__destroy(loaded[i]->skel);
		free(loaded[i]);
		loaded[i] = NULL;
	}
	return 0;
}

/* Runs the frame through a program; returns the records it produced. */
static size_t run_prog(struct fixture *fx, struct bpf_program *prog, const struct spec *s,
		       int want_retval)
{
	static uint8_t frame[FRAME_MAX];
	size_t len = build(frame, s);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = 1);

	fx->nrecs = 0;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	assert_int_equal((int)opts.retval, want_retval);
	ring_buffer__consume(fx->rb);
	return fx->nrecs;
}

static size_t run_tc(struct fixture *fx, const struct spec *s)
{
	return run_prog(fx, fx->skel->progs.smtpmon_tc_ingress, s, -1 /* TCX_NEXT */);
}

/* Runs the frame through the TC program `times` times, leaving its records
 * in the ring. */
static void run_tc_unread(struct fixture *fx, const struct spec *s, int times)
{
	static uint8_t frame[FRAME_MAX];
	size_t len = build(frame, s);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = 1);

	for (int i = 0; i < times; i++)
		assert_int_equal(bpf_prog_test_run_opts(
				     bpf_program__fd(fx->skel->progs.smtpmon_tc_ingress), &opts),
				 0);
}

static uint64_t stat(struct fixture *fx, enum smtpmon_stat k)
{
	uint64_t all[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX];

	assert_int_equal(capture_kernel_counters(fx->skel->maps.percpu, all, NULL), 0);
	return all[SMTPMON_PROG_TC_INGRESS][k];
}

static const char ehlo[] = "EHLO client.example\r\n";

static struct spec client_segment(const void *payload, size_t len)
{
	return (struct spec){.family = 4,
			     .sport = 40000,
			     .dport = 25,
			     .seq = 1000,
			     .ack = 77,
			     .flags = SMTPMON_TCP_ACK | SMTPMON_TCP_PSH,
			     .payload = payload,
			     .payload_len = len};
}

/* The server's answer in the same connection, from its sequence number seq,
 * acknowledging the client up to ack. */
static struct spec server_segment(const void *payload, size_t len, uint32_t seq, uint32_t ack)
{
	return (struct spec){.family = 4,
			     .sport = 25,
			     .dport = 40000,
			     .seq = seq,
			     .ack = ack,
			     .flags = SMTPMON_TCP_ACK,
			     .payload = payload,
			     .payload_len = len};
}

static void assert_ehlo_record(const struct rec *r, int family)
{
	assert_int_equal(r->h.family, family);
	assert_int_equal(r->h.sport, 40000);
	assert_int_equal(r->h.dport, 25);
	assert_int_equal(r->h.seq, 1000);
	assert_int_equal(r->h.ack, 77);
	assert_int_equal(r->h.window, 1000);
	assert_int_equal(r->h.tcp_flags, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH);
	assert_int_equal(r->h.payload_len, sizeof(ehlo) - 1);
	assert_int_equal(r->h.copied_len, sizeof(ehlo) - 1);
	assert_int_equal(r->h.lost_before, 0);
	assert_int_equal(r->h.rec_flags, 0);
	assert_memory_equal(r->h.payload, ehlo, sizeof(ehlo) - 1);
	assert_memory_equal(r->h.saddr, family == 4 ? cli4 : cli6, family == 4 ? 4 : 16);
	assert_memory_equal(r->h.daddr, family == 4 ? srv4 : srv6, family == 4 ? 4 : 16);
}

static void test_plain_ipv4(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(ehlo, sizeof(ehlo) - 1);

	assert_int_equal(run_tc(fx, &s), 1);
	assert_ehlo_record(&fx->recs[0], 4);
	assert_int_equal(fx->recs[0].h.dir, SMTPMON_DIR_INGRESS);
	assert_int_equal(fx->recs[0].h.hook, SMTPMON_HOOK_TC);
	assert_int_equal(stat(fx, SMTPMON_STAT_PAYLOAD_BYTES), sizeof(ehlo) - 1);
}

/* A packet is counted in the slot user space gave its interface (test runs
 * come in on lo, ifindex 1), and in slot 0 when it has none. */
static void test_interface_slots(void **state)
{
	static uint64_t slots[SMTPMON_IFACE_SLOTS][SMTPMON_PROG_MAX][SMTPMON_STAT_MAX];
	struct fixture *fx = *state;
	struct spec s = client_segment(ehlo, sizeof(ehlo) - 1);
	uint64_t all[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX];
	uint32_t lo = 1, slot = 3;
	const int in = SMTPMON_PROG_TC_INGRESS;

	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(bpf_map__update_elem(fx->skel->maps.iface_slot_by_index, &lo, sizeof(lo),
					      &slot, sizeof(slot), BPF_ANY),
			 0);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(run_tc(fx, &s), 1);
	slot = 0;
	assert_int_equal(bpf_map__update_elem(fx->skel->maps.iface_slot_by_index, &lo, sizeof(lo),
					      &slot, sizeof(slot), BPF_ANY),
			 0);
	assert_int_equal(capture_kernel_counters(fx->skel->maps.percpu, all, slots), 0);
	assert_int_equal(slots[0][in][SMTPMON_STAT_PACKETS], 1);
	assert_int_equal(slots[3][in][SMTPMON_STAT_PACKETS], 2);
	assert_int_equal(slots[3][in][SMTPMON_STAT_PAYLOAD_BYTES], 2 * (sizeof(ehlo) - 1));
	assert_int_equal(slots[1][in][SMTPMON_STAT_PACKETS], 0);
	assert_int_equal(all[in][SMTPMON_STAT_PACKETS], 3);
}

static void test_headers_variants(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(ehlo, sizeof(ehlo) - 1);
	static const uint8_t exts[] = {0 /* hop-by-hop */, 60 /* dest opts */, 43 /* routing */};

	s.vlans[0] = 0x88a8;
	s.vlans[1] = 0x8100;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_ehlo_record(&fx->recs[0], 4);

	s = client_segment(ehlo, sizeof(ehlo) - 1);
	s.ip_opt_words = 10; /* the largest IPv4 header */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_ehlo_record(&fx->recs[0], 4);

	s = client_segment(ehlo, sizeof(ehlo) - 1);
	s.family = 6;
	s.v6_ext = exts;
	s.n_v6_ext = 3;
	s.vlans[0] = 0x8100;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_ehlo_record(&fx->recs[0], 6);
	assert_int_equal(stat(fx, SMTPMON_STAT_PARSE_ERRORS), 0);
}

static void test_skipped(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(ehlo, sizeof(ehlo) - 1);
	static const uint8_t frag_ext[] = {44};

	s.dport = 80; /* not monitored */
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_MATCHED), 0);

	s = client_segment(NULL, 0); /* pure ACK, padded to the Ethernet minimum */
	s.flags = SMTPMON_TCP_ACK;
	s.pad_to = 60;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_MATCHED), 1);

	s = client_segment(ehlo, sizeof(ehlo) - 1);
	s.fragment = true;
	assert_int_equal(run_tc(fx, &s), 0);
	s = client_segment(ehlo, sizeof(ehlo) - 1);
	s.family = 6;
	s.v6_ext = frag_ext;
	s.n_v6_ext = 1;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_FRAGMENTS), 2);

	/* A 6-byte payload padded to 60 bytes keeps its 6 bytes. */
	s = client_segment("QUIT\r\n", 6);
	s.pad_to = 60;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.payload_len, 6);
	assert_int_equal(stat(fx, SMTPMON_STAT_PACKETS), 5);
}

static void test_flags_only(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(NULL, 0);

	s.flags = SMTPMON_TCP_SYN;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.tcp_flags, SMTPMON_TCP_SYN);
	assert_int_equal(fx->recs[0].h.payload_len, 0);
	s.flags = SMTPMON_TCP_FIN | SMTPMON_TCP_ACK;
	assert_int_equal(run_tc(fx, &s), 1);
	s.flags = SMTPMON_TCP_RST;
	assert_int_equal(run_tc(fx, &s), 1);
}

static uint8_t big[40000];

/* The length of the record that starts a segment's rest of left bytes, as
 * smtpmon.h states the cutting rule. */
static size_t want_piece(size_t left)
{
	static const size_t pieces[] = {SMTPMON_CHUNK_MAX, SMTPMON_CHUNK_MID, SMTPMON_CHUNK_MIN};

	if (left <= SMTPMON_CHUNK_MIN)
		return left;
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		if (left >= pieces[i])
			return pieces[i];
	fail_msg("unreachable: %zu", left);
	return 0;
}

static void check_chunks(struct fixture *fx, size_t len, uint8_t hook, size_t want_records)
{
	size_t off = 0;

	assert_int_equal(fx->nrecs, want_records);
	for (size_t i = 0; i < fx->nrecs; i++) {
		const struct rec *r = &fx->recs[i];
		size_t want = want_piece(len - off);
		bool last = i + 1 == fx->nrecs;

		assert_int_equal(r->h.hook, hook);
		assert_int_equal(r->h.seq, 1000 + off);
		assert_int_equal(r->h.payload_len, want);
		assert_int_equal(r->h.copied_len, want);
		assert_memory_equal(r->h.payload, big + off, want);
		/* FIN and PSH belong to the segment's last byte only. */
		assert_int_equal(r->h.tcp_flags & SMTPMON_TCP_FIN, last ? SMTPMON_TCP_FIN : 0);
		assert_int_equal(r->h.tcp_flags & SMTPMON_TCP_PSH, last ? SMTPMON_TCP_PSH : 0);
		off += want;
	}
	assert_int_equal(off, len);
}

static void test_split_tc(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(big, 3000);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	s.flags |= SMTPMON_TCP_FIN;
	s.tot_len_zero = true; /* BIG TCP: the length comes from the skb */
	run_tc(fx, &s);
	check_chunks(fx, 3000, SMTPMON_HOOK_TC, 2); /* 2048 + 952 */
	assert_int_equal(stat(fx, SMTPMON_STAT_PAYLOAD_BYTES), 3000);
}

static void test_split_xdp_frags(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(big, sizeof(big));

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + i / 509);
	s.flags |= SMTPMON_TCP_FIN;
	/* 40 KB: test_run builds a multi-buffer frame; the copy crosses fragments. */
	run_prog(fx, fx->skel->progs.smtpmon_xdp, &s, 2 /* XDP_PASS */);
	check_chunks(fx, sizeof(big), SMTPMON_HOOK_XDP, 5); /* 32768 + 3 * 2048 + 1088 */
	s.payload_len = 20000;
	run_prog(fx, fx->skel->progs.smtpmon_xdp, &s, 2 /* XDP_PASS */);
	check_chunks(fx, 20000, SMTPMON_HOOK_XDP, 4); /* 2 * 8192 + 2048 + 1568 */
}

static struct smtpmon_flow_key test_flow_key(void)
{
	struct smtpmon_flow_key key = {.client_port = 40000, .server_port = 25, .family = 4};

	memcpy(key.client, cli4, 4);
	memcpy(key.server, srv4, 4);
	return key;
}

static void set_flow(struct fixture *fx, const struct smtpmon_flow *flow)
{
	struct smtpmon_flow_key key = test_flow_key();

	assert_int_equal(bpf_map__update_elem(fx->skel->maps.flows, &key, sizeof(key), flow,
					      sizeof(*flow), BPF_ANY),
			 0);
}

static struct smtpmon_flow get_flow(struct fixture *fx)
{
	struct smtpmon_flow_key key = test_flow_key();
	struct smtpmon_flow flow;

	assert_int_equal(
	    bpf_map__lookup_elem(fx->skel->maps.flows, &key, sizeof(key), &flow, sizeof(flow), 0),
	    0);
	return flow;
}

static void set_flow_flags(struct fixture *fx, uint32_t flags)
{
	set_flow(fx, &(struct smtpmon_flow){.flags = flags});
}

static void test_encrypted_flow(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(big, 3000);

	set_flow_flags(fx, SMTPMON_FLOW_ENCRYPTED);
	/* Data segments are only counted. */
	assert_int_equal(run_tc(fx, &s), 0);
	s.seq += 3000;
	s.payload_len = 100;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_BYTES), 3100);
	assert_int_equal(stat(fx, SMTPMON_STAT_MATCHED), 2);
	/* The second went by the per-CPU cache, which skips the port test: a
	 * reload that drops the port advances the epoch, and the segment is
	 * then not ours at all. */
	fx->skel->bss->port_bits[25 >> 3] &= (uint8_t) ~(1 << (25 & 7));
	fx->skel->bss->flow_epoch++;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_MATCHED), 2);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
	fx->skel->bss->port_bits[25 >> 3] |= 1 << (25 & 7);
	/* The FIN makes one length-only record, even above SMTPMON_CHUNK_MAX:
	 * its sequence number says how far the stream went. */
	s.seq += 100;
	s.payload_len = 2500;
	s.flags |= SMTPMON_TCP_FIN;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.seq, 4100);
	assert_int_equal(fx->recs[0].h.payload_len, 2500);
	assert_int_equal(fx->recs[0].h.copied_len, 0);
	assert_int_equal(fx->recs[0].h.tcp_flags & SMTPMON_TCP_FIN, SMTPMON_TCP_FIN);
	assert_int_equal(fx->recs[0].h.rec_flags, SMTPMON_REC_ENCRYPTED);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_BYTES), 5600);
	assert_int_equal(stat(fx, SMTPMON_STAT_PAYLOAD_BYTES), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_RECORDS), 1);
	/* A pure ACK leaves before the flow lookup, as for any flow. */
	s.flags = SMTPMON_TCP_ACK;
	s.payload_len = 0;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
	/* After the client's FIN the server's data makes records: no later
	 * record of the server may come to say how far it went. */
	struct spec srv = server_segment(big, 24, 9000, 6601);
	srv.flags = SMTPMON_TCP_ACK | SMTPMON_TCP_PSH;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_int_equal(fx->recs[0].h.seq, 9000);
	assert_int_equal(fx->recs[0].h.payload_len, 24);
	assert_int_equal(fx->recs[0].h.copied_len, 0);
	assert_int_equal(fx->recs[0].h.rec_flags, SMTPMON_REC_ENCRYPTED);
	/* ... but not the client's, whose peer has not closed. */
	s.flags = SMTPMON_TCP_ACK | SMTPMON_TCP_PSH;
	s.payload_len = 10;
	assert_int_equal(run_tc(fx, &s), 0);
	/* A pure ACK padded to the Ethernet minimum, while the per-CPU cache
	 * holds this flow: the padding is no payload, nothing is suppressed. */
	uint64_t suppressed = stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS);
	s.flags = SMTPMON_TCP_ACK;
	s.payload_len = 0;
	s.pad_to = 60;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), suppressed);
	s.payload_len = 10;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), suppressed + 1);
}

/* Port reuse: the new connection's SYN empties the per-CPU cache of the
 * suppressed flow and its state, so its data is copied again. */
static void test_encrypted_then_port_reuse(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(ehlo, sizeof(ehlo) - 1);
	struct spec syn = client_segment(NULL, 0);

	set_flow_flags(fx, SMTPMON_FLOW_ENCRYPTED);
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(run_tc(fx, &s), 0); /* from the cache */
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
	syn.flags = SMTPMON_TCP_SYN;
	assert_int_equal(run_tc(fx, &syn), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_ehlo_record(&fx->recs[0], 4);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 2);
}

static const uint8_t tls_record[] = {0x17, 0x03, 0x03, 0x00, 0x20, 0xaa, 0xbb};

static void test_tls_sniffing(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(tls_record, sizeof(tls_record));

	/* A flow seen from its SYN is not sniffed: its state says plaintext. */
	struct spec syn = client_segment(NULL, 0);
	syn.flags = SMTPMON_TCP_SYN;
	run_tc(fx, &syn);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(tls_record));

	/* A flow without state (forgotten, or older than us) that shows TLS is
	 * treated as encrypted. */
	s.sport = 40001;
	assert_int_equal(run_tc(fx, &s), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_BYTES), sizeof(tls_record));
}

static void test_starttls_cutoff(void **state)
{
	struct fixture *fx = *state;
	static const char starttls[] = "starttls\r\n", ready[] = "220 2.0.0 Ready to start TLS\r\n";
	static const char nope[] = "454 4.7.0 TLS not available\r\n";
	struct spec c = client_segment(starttls, sizeof(starttls) - 1);
	struct spec srv = server_segment(nope, sizeof(nope) - 1, 5000, 1010);
	struct spec hello = client_segment(tls_record, sizeof(tls_record));

	/* Refused: the flow stays plaintext. */
	run_tc(fx, &c);
	run_tc(fx, &srv);
	assert_int_equal(run_tc(fx, &hello), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(tls_record));

	/* Accepted: the 220 itself is copied, what follows is not. */
	run_tc(fx, &c);
	srv.payload = ready;
	srv.payload_len = sizeof(ready) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(ready) - 1);
	assert_int_equal(run_tc(fx, &hello), 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SUPPRESSED_PACKETS), 1);
}

/* ---- body skipping (docs/body-skip.md) ---- */

static void assert_skipped(const struct rec *r, uint32_t seq, uint32_t len, const char *tail)
{
	assert_int_equal(r->h.rec_flags, SMTPMON_REC_SKIPPED);
	assert_int_equal(r->h.seq, seq);
	assert_int_equal(r->h.payload_len, len);
	assert_int_equal(r->h.copied_len, strlen(tail));
	assert_memory_equal(r->h.payload, tail, strlen(tail));
}

/* A 1448-byte body segment of a client whose flow user space flagged
 * SKIP_BODY: one header-only record with the last 4 bytes; the segment that
 * ends in CRLF.CRLF is copied whole and ends the mode. */
static void test_body_skip(void **state)
{
	struct fixture *fx = *state;
	static char body[1448], last[600];
	struct spec s = client_segment(body, sizeof(body));

	memset(body, 'b', sizeof(body));
	memcpy(body + sizeof(body) - 4, "xyz\r", 4);
	set_flow(fx, &(struct smtpmon_flow){.flags = SMTPMON_FLOW_SKIP_BODY,
					    .server_next = 777,
					    .skip_server_next = 777});
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1000, sizeof(body), "xyz\r");
	assert_int_equal(stat(fx, SMTPMON_STAT_SKIPPED_RECORDS), 1);
	assert_int_equal(stat(fx, SMTPMON_STAT_SKIPPED_BYTES), sizeof(body) - 4);
	assert_int_equal(stat(fx, SMTPMON_STAT_PAYLOAD_BYTES), 4);

	memset(last, 'c', sizeof(last));
	memcpy(last + sizeof(last) - 5, "\r\n.\r\n", 5);
	s = client_segment(last, sizeof(last));
	s.seq = 1000 + sizeof(body);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(last));
	assert_memory_equal(fx->recs[0].h.payload, last, sizeof(last));
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_BODY, 0);
	/* the next command is copied */
	s = client_segment("QUIT\r\n", 6);
	s.seq = 1000 + sizeof(body) + sizeof(last);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, 6);
	assert_int_equal(stat(fx, SMTPMON_STAT_SKIPPED_RECORDS), 1);
}

/* --bodies=skip without user space's mark: after a 354 the kernel copies
 * SMTPMON_HEADER_ALLOWANCE bytes of body, then skips on its own; any other
 * server reply in between calls it off. */
static void test_body_auto_skip(void **state)
{
	struct fixture *fx = *state;
	static char body[1448];
	static const char go[] = "354 End data with <CR><LF>.<CR><LF>\r\n", no[] = "250 Ok\r\n";
	struct spec srv = server_segment(go, sizeof(go) - 1, 5000, 1000);
	struct spec s = client_segment(body, sizeof(body));

	memset(body, 'b', sizeof(body));
	memcpy(body + sizeof(body) - 4, "xyz\r", 4);
	set_flow(fx, &(struct smtpmon_flow){.flags = 0});

	/* Off unless --bodies=skip. */
	assert_int_equal(run_tc(fx, &srv), 1);
	s.seq = 1000 + SMTPMON_HEADER_ALLOWANCE;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(body));

	fx->skel->bss->bodies_skip = true;
	srv.seq += sizeof(go) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_true(get_flow(fx).flags & SMTPMON_FLOW_BODY_AUTO);
	s.seq = 1000; /* the header block: copied */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(body));
	s.seq = 1000 + SMTPMON_HEADER_ALLOWANCE - 1; /* starts inside the allowance */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(body));
	s.seq = 1000 + SMTPMON_HEADER_ALLOWANCE;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], s.seq, sizeof(body), "xyz\r");
	assert_false(get_flow(fx).flags & SMTPMON_FLOW_BODY_AUTO);

	/* A 354, then a reply that is not one: no body comes, nothing skipped. */
	set_flow(fx, &(struct smtpmon_flow){.flags = 0});
	srv.seq += sizeof(go) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	srv.seq += sizeof(go) - 1;
	srv.payload = no;
	srv.payload_len = sizeof(no) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_false(get_flow(fx).flags & SMTPMON_FLOW_BODY_AUTO);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(body));

	/* Pipelined replies in one segment: the 354 is the last line. */
	static const char batched[] = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
			  not_last[] = "354 go ahead\r\n250 2.0.0 Ok\r\n";
	srv.seq += sizeof(no) - 1;
	srv.payload = not_last;
	srv.payload_len = sizeof(not_last) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_false(get_flow(fx).flags & SMTPMON_FLOW_BODY_AUTO);
	srv.seq += sizeof(not_last) - 1;
	srv.payload = batched;
	srv.payload_len = sizeof(batched) - 1;
	assert_int_equal(run_tc(fx, &srv), 1);
	assert_true(get_flow(fx).flags & SMTPMON_FLOW_BODY_AUTO);
	assert_int_equal(get_flow(fx).body_auto_seq, 1000 + SMTPMON_HEADER_ALLOWANCE);
}

/* The end-of-data marker split over segments: "...\r\n." then ".\r\n"
 * is not an end (a dot-stuffed line), "...\r\n" then ".\r\n" is, found
 * with the tail the flow carries. */
static void test_body_skip_marker_across_segments(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment("line one\r\n.", 11);

	set_flow_flags(fx, SMTPMON_FLOW_SKIP_BODY);
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1000, 11, "e\r\n.");
	s = client_segment(".\r\n", 3); /* "\r\n..\r\n": a line "." stuffed */
	s.seq = 1011;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1011, 3, ".\r\n");
	s = client_segment("two\r\n", 5);
	s.seq = 1014;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1014, 5, "wo\r\n");
	s = client_segment(".\r\n", 3);
	s.seq = 1019;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(fx->recs[0].h.copied_len, 3);
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_BODY, 0);
}

/* Short segments not contiguous with the carried tail cannot be judged:
 * copied. A server that speaks after user space set the mode means the
 * end passed unseen: the mode is dropped. */
static void test_body_skip_unsure_and_stale(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment("ab", 2);

	set_flow_flags(fx, SMTPMON_FLOW_SKIP_BODY);
	s.seq = 5000; /* the flow's tail is for 0 */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(fx->recs[0].h.copied_len, 2);
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_BODY, SMTPMON_FLOW_SKIP_BODY);

	struct spec reply = server_segment("250 ok\r\n", 8, 300, 5002);
	assert_int_equal(run_tc(fx, &reply), 1);
	assert_int_equal(get_flow(fx).server_next, 308);
	s = client_segment(big, 1000);
	s.seq = 5002;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, 1000);
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_BODY, 0);
	assert_int_equal(stat(fx, SMTPMON_STAT_SKIPPED_RECORDS), 0);
}

/* BDAT: told the chunk ends at 1000 + 3000, the kernel skips the segments
 * wholly inside it, without a tail, and copies the one reaching past it. */
static void test_bdat_chunk_skip(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(big, 1448);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	set_flow(fx, &(struct smtpmon_flow){.flags = SMTPMON_FLOW_SKIP_CHUNK, .skip_end = 4000});
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1000, 1448, "");
	s.seq = 2448;
	s.payload_len = 1552; /* ends exactly at the chunk's end: inside */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 2448, 1552, "");
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, SMTPMON_FLOW_SKIP_CHUNK);
	s.seq = 1500; /* a retransmission from inside the chunk */
	s.payload_len = 100;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1500, 100, "");
	assert_int_equal(stat(fx, SMTPMON_STAT_SKIPPED_BYTES), 3100);
	assert_int_equal(stat(fx, SMTPMON_STAT_PAYLOAD_BYTES), 0);
	/* straddling the end: copied whole, the mode ends */
	s.seq = 3990;
	s.payload_len = 30;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(fx->recs[0].h.copied_len, 30);
	assert_memory_equal(fx->recs[0].h.payload, big, 30);
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, 0);
	s.seq = 1000; /* the mode is over: even old bytes are copied */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, 30);
}

/* --bodies=skip without user space's mark: a segment that starts with a BDAT
 * command is copied and the chunk after it skipped; a segment that reaches
 * past the chunk and holds the next command there starts the next chunk. Only
 * the plain form is taken. */
static void test_bdat_auto_skip(void **state)
{
	struct fixture *fx = *state;
	static char first[100], cross[40];
	static const char next[] = "BDAT 10 LAST\r\n";
	struct spec s = client_segment(first, sizeof(first));

	memset(first, 'c', sizeof(first));
	memcpy(first, "BDAT 3000\r\n", 11);
	set_flow(fx, &(struct smtpmon_flow){.flags = 0});
	/* Off unless --bodies=skip. */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, 0);

	fx->skel->bss->bodies_skip = true;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, 0);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(first));
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, SMTPMON_FLOW_SKIP_CHUNK);
	assert_int_equal(get_flow(fx).skip_end, 1000 + 11 + 3000);
	s = client_segment(big, 1448);
	s.seq = 1100;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_skipped(&fx->recs[0], 1100, 1448, "");
	/* 4 bytes of the chunk, then the next command and its chunk's start */
	memset(cross, 'd', sizeof(cross));
	memcpy(cross + 4, next, sizeof(next) - 1);
	s = client_segment(cross, sizeof(cross));
	s.seq = 1011 + 3000 - 4;
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(cross));
	assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, SMTPMON_FLOW_SKIP_CHUNK);
	assert_int_equal(get_flow(fx).skip_end, 1011 + 3000 + sizeof(next) - 1 + 10);

	/* Forms user space's parser must judge: not taken. */
	static const char *const odd[] = {"BDAT  3000\r\n", "BDAT 3000x\r\n", "BDAT 3000\n...",
					  "XBDAT 3000\r\n"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		set_flow(fx, &(struct smtpmon_flow){.flags = 0});
		s = client_segment(odd[i], strlen(odd[i]));
		assert_int_equal(run_tc(fx, &s), 1);
		assert_int_equal(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK, 0);
	}
}

/* --bodies=copy: once the ring holds shed_at bytes, a body past the header
 * allowance after a 354 is skipped from there on, as are BDAT chunks that
 * start then; counted once per body or chunk. An uncrowded ring, or a segment
 * inside the allowance, is copied. */
static void test_body_shed(void **state)
{
	struct fixture *fx = *state;
	static const char go[] = "354 go ahead\r\n";
	struct spec srv = server_segment(go, sizeof(go) - 1, 5000, 1000);
	static char body[1448];
	struct spec s = client_segment(body, sizeof(body));
	struct smtpmon_flow f;

	memset(body, 'b', sizeof(body));
	memcpy(body + sizeof(body) - 4, "xyz\r", 4);
	fx->skel->bss->shed_at = 4096;
	set_flow(fx, &(struct smtpmon_flow){.flags = 0});
	assert_int_equal(run_tc(fx, &srv), 1);
	s.seq = 1000 + SMTPMON_HEADER_ALLOWANCE;
	assert_int_equal(run_tc(fx, &s), 1); /* the ring is empty: copied */
	assert_int_equal(fx->recs[0].h.copied_len, sizeof(body));

	s.seq = 1000; /* inside the allowance: copied however crowded */
	run_tc_unread(fx, &s, 4);
	assert_int_equal(stat(fx, SMTPMON_STAT_SHED_BODIES), 0);
	s.seq = 1000 + SMTPMON_HEADER_ALLOWANCE;
	assert_int_equal(run_tc(fx, &s), 5);
	assert_int_equal(fx->recs[3].h.copied_len, sizeof(body));
	assert_skipped(&fx->recs[4], s.seq, sizeof(body), "xyz\r");
	f = get_flow(fx);
	assert_true(f.flags & SMTPMON_FLOW_SKIP_BODY);
	assert_false(f.flags & SMTPMON_FLOW_BODY_AUTO);
	s.seq += 1448; /* the ring is empty again, the body still skipped */
	assert_int_equal(run_tc(fx, &s), 1);
	assert_int_equal(fx->recs[0].h.rec_flags, SMTPMON_REC_SKIPPED);
	assert_int_equal(stat(fx, SMTPMON_STAT_SHED_BODIES), 1);

	/* A BDAT chunk that starts while the ring is crowded. */
	static char bdat[100];

	memset(bdat, 'c', sizeof(bdat));
	memcpy(bdat, "BDAT 3000\r\n", 11);
	set_flow(fx, &(struct smtpmon_flow){.flags = 0});
	s = client_segment(bdat, sizeof(bdat));
	assert_int_equal(run_tc(fx, &s), 1);
	assert_false(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK);
	struct spec filler = client_segment(big, 1448);

	run_tc_unread(fx, &filler, 3);
	assert_int_equal(run_tc(fx, &s), 4);
	assert_int_equal(fx->recs[3].h.copied_len, sizeof(bdat));
	assert_true(get_flow(fx).flags & SMTPMON_FLOW_SKIP_CHUNK);
	assert_int_equal(stat(fx, SMTPMON_STAT_SHED_BODIES), 2);
}

static void test_ring_full_lost_before(void **state)
{
	struct fixture *fx = *state;
	struct spec s = client_segment(big, 1500);
	uint64_t dropped_bytes;
	size_t n;

	run_tc_unread(fx, &s, 8); /* fills the 4 KB ring */
	assert_true(stat(fx, SMTPMON_STAT_RING_DROPS) > 0);
	dropped_bytes = stat(fx, SMTPMON_STAT_RING_DROP_BYTES);
	assert_int_equal(dropped_bytes, 1500 * stat(fx, SMTPMON_STAT_RING_DROPS));
	ring_buffer__consume(fx->rb);
	fx->nrecs = 0;

	/* The next record of that direction carries the loss; the other
	 * direction's next record does not. */
	struct spec reply = server_segment("250 ok\r\n", 8, 1, 2);
	n = run_tc(fx, &reply);
	assert_int_equal(n, 1);
	assert_int_equal(fx->recs[0].h.lost_before, 0);
	n = run_tc(fx, &s);
	assert_int_equal(n, 1);
	assert_int_equal(fx->recs[0].h.lost_before, dropped_bytes);
	n = run_tc(fx, &s);
	assert_int_equal(fx->recs[0].h.lost_before, 0);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skip: test_bpf_prog loads BPF programs and needs root\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_plain_ipv4, setup),
	    cmocka_unit_test_setup(test_interface_slots, setup),
	    cmocka_unit_test_setup(test_headers_variants, setup),
	    cmocka_unit_test_setup(test_skipped, setup),
	    cmocka_unit_test_setup(test_flags_only, setup),
	    cmocka_unit_test_setup(test_split_tc, setup),
	    cmocka_unit_test_setup(test_split_xdp_frags, setup),
	    cmocka_unit_test_setup(test_encrypted_flow, setup),
	    cmocka_unit_test_setup(test_encrypted_then_port_reuse, setup),
	    cmocka_unit_test_setup(test_tls_sniffing, setup),
	    cmocka_unit_test_setup(test_starttls_cutoff, setup),
	    cmocka_unit_test_setup(test_body_skip, setup),
	    cmocka_unit_test_setup(test_body_auto_skip, setup),
	    cmocka_unit_test_setup(test_bdat_auto_skip, setup),
	    cmocka_unit_test_setup(test_body_skip_marker_across_segments, setup),
	    cmocka_unit_test_setup(test_body_skip_unsure_and_stale, setup),
	    cmocka_unit_test_setup(test_bdat_chunk_skip, setup),
	    cmocka_unit_test_setup(test_body_shed, setup),
	    cmocka_unit_test_setup(test_ring_full_lost_before, setup_tiny_ring),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
