// SPDX-License-Identifier: GPL-2.0-only
/*
 * capture.c - live capture (contract in capture.h): skeleton lifecycle,
 * attach, ring buffer -> struct segment -> pipeline, STARTTLS feedback into
 * the kernel's flow map, counters.
 *
 * Kernel records carry CLOCK_BOOTTIME; segments want wall-clock time. The
 * offset between the two clocks is sampled at start and at every tick
 * (settimeofday and NTP steps move it; suspend does not, both clocks count
 * it); a change of more than a second is counted as a wall-clock step.
 * Segments carry the boot time too (mono_ns): idle timeouts run on it, so a
 * step of the wall clock ends no connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/attach.h"
#include "capture/bpf_log.h"
#include "capture/capture.h"
#include "capture/kernel_check.h"
#include "capture/tls_probe.h"
#include "flow/idle_clock.h"
#include "smtpmon.skel.h"

#define REC_HDR_LEN offsetof(struct smtpmon_rec, payload)

struct capture {
	struct smtpmon_bpf *skel;
	struct ring_buffer *rb;
	struct attach_set att;
	struct pipeline *p;
	const struct config *cfg;
	size_t ring_size;
	/* The ring's consumer and producer positions, mapped read-only: the
	 * fill level without any cost on the BPF side. */
	const volatile unsigned long *ring_consumer, *ring_producer;
	size_t page_size;
	int64_t boot_to_wall_ns;
	uint64_t wall_clock_steps;
	uint64_t records, bad_records, tls_marks, tls_mark_errors;
	bool capturing; /* opened and attached: counters are worth printing */
	uint64_t skip_marks, skip_mark_errors;
	/* TLS plaintext (tls_probe.h); tc_rb reads the wire's ring alone. */
	struct tls_probe *tls;
	struct ring_buffer *tc_rb;
	uint64_t tls_records, tls_bad_records;
	/* The interfaces' counter slots (smtpmon.h): names of slots 1.. */
	char slot_iface[SMTPMON_IFACE_SLOTS][IF_NAMESIZE];
	size_t nslots;
};

_Static_assert(CAPTURE_MAX_IFACES < SMTPMON_IFACE_SLOTS, "a counter slot per interface, and 0");

const char *const capture_stat_names[SMTPMON_STAT_MAX] = {
    [SMTPMON_STAT_PACKETS] = "packets",
    [SMTPMON_STAT_MATCHED] = "matched",
    [SMTPMON_STAT_RECORDS] = "records",
    [SMTPMON_STAT_PAYLOAD_BYTES] = "payload_bytes",
    [SMTPMON_STAT_RING_DROPS] = "ring_drops",
    [SMTPMON_STAT_RING_DROP_BYTES] = "ring_drop_bytes",
    [SMTPMON_STAT_SUPPRESSED_BYTES] = "suppressed_bytes",
    [SMTPMON_STAT_FRAGMENTS] = "fragments",
    [SMTPMON_STAT_PARSE_ERRORS] = "parse_errors",
    [SMTPMON_STAT_TRUNCATED_BYTES] = "truncated_bytes",
    [SMTPMON_STAT_BIG_SEGMENTS] = "big_segments",
    [SMTPMON_STAT_SUPPRESSED_PACKETS] = "suppressed_packets",
    [SMTPMON_STAT_SKIPPED_BYTES] = "skipped_bytes",
    [SMTPMON_STAT_SKIPPED_RECORDS] = "skipped_records",
    [SMTPMON_STAT_SHED_BODIES] = "shed_bodies",
};

const char *const capture_prog_names[SMTPMON_PROG_MAX] = {
    [SMTPMON_PROG_TC_INGRESS] = "tc_ingress",
    [SMTPMON_PROG_TC_EGRESS] = "tc_egress",
    [SMTPMON_PROG_XDP] = "xdp",
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Boot time read between two wall-clock reads: the midpoint pairs them. */
static int64_t sample_boot_to_wall(void)
{
	uint64_t w1 = clock_ns(CLOCK_REALTIME);
	uint64_t b = clock_ns(CLOCK_BOOTTIME);
	uint64_t w2 = clock_ns(CLOCK_REALTIME);

	return (int64_t)(w1 + (w2 - w1) / 2) - (int64_t)b;
}

static bool is_loopback(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool lo = false;

	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		lo = ifr.ifr_flags & IFF_LOOPBACK;
	close(fd);
	return lo;
}

/* What a record may copy: all of its payload, none of it, or the tail of a
 * skipped body. */
static bool copied_len_valid(const struct smtpmon_rec *r, size_t size)
{
	if (r->copied_len > size - REC_HDR_LEN)
		return false;
	if (r->rec_flags & SMTPMON_REC_SKIPPED)
		return r->copied_len <= SMTPMON_SKIP_TAIL && r->copied_len <= r->payload_len;
	return !r->copied_len || r->copied_len == r->payload_len;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct smtpmon_rec *r = data;
	struct segment seg;

	if (size < REC_HDR_LEN || !copied_len_valid(r, size) ||
	    (r->family != 4 && r->family != 6)) {
		c->bad_records++;
		return 0;
	}
	c->records++;
	memset(&seg, 0, sizeof(seg));
	seg.ts_ns = (uint64_t)((int64_t)r->ts_ns + c->boot_to_wall_ns);
	seg.mono_ns = r->ts_ns;
	seg.family = r->family;
	seg.flags = r->tcp_flags & (SEG_FIN | SEG_SYN | SEG_RST | SEG_PSH | SEG_ACK);
	if (r->rec_flags & SMTPMON_REC_ENCRYPTED)
		seg.flags |= SEG_ENCRYPTED;
	seg.window = r->window;
	memcpy(seg.saddr, r->saddr, sizeof(seg.saddr));
	memcpy(seg.daddr, r->daddr, sizeof(seg.daddr));
	seg.sport = r->sport;
	seg.dport = r->dport;
	seg.seq = r->seq;
	seg.ack = r->ack;
	seg.payload = r->copied_len ? r->payload : NULL;
	seg.payload_len = r->payload_len;
	seg.lost_before = r->lost_before;
	if ((r->rec_flags & SMTPMON_REC_SKIPPED) && r->copied_len &&
	    r->copied_len < r->payload_len) {
		/* Two segments: the skipped bytes, then the copied tail with
		 * the flags that belong to the last byte. */
		struct segment skipped = seg;

		skipped.flags &= SEG_ACK;
		skipped.payload = NULL;
		skipped.payload_len = r->payload_len - r->copied_len;
		pipeline_segment(c->p, &skipped);
		seg.seq += skipped.payload_len;
		seg.payload_len = r->copied_len;
		seg.lost_before = 0;
	}
	pipeline_segment(c->p, &seg);
	return 0;
}

static bool port_monitored(const struct config *cfg, uint16_t port)
{
	return config_is_port(cfg, port);
}

/* The kernel's key normalisation (dst_is_server in smtpmon.bpf.c) applied
 * to a packet from the originator to the responder. */
static void flow_key_of(const struct config *cfg, const struct conn_id *id,
			struct smtpmon_flow_key *key)
{
	bool resp = port_monitored(cfg, id->resp_p), orig = port_monitored(cfg, id->orig_p);
	bool resp_is_server;

	if (resp != orig)
		resp_is_server = resp;
	else if (id->resp_p != id->orig_p)
		resp_is_server = id->resp_p < id->orig_p;
	else
		resp_is_server = memcmp(id->resp_h, id->orig_h, sizeof(id->resp_h)) <= 0;

	memset(key, 0, sizeof(*key));
	key->family = id->family;
	memcpy(key->client, resp_is_server ? id->orig_h : id->resp_h, sizeof(key->client));
	memcpy(key->server, resp_is_server ? id->resp_h : id->orig_h, sizeof(key->server));
	key->client_port = resp_is_server ? id->orig_p : id->resp_p;
	key->server_port = resp_is_server ? id->resp_p : id->orig_p;
}

/* The kernel's state of id's flow; false (and *flow zeroed) if it has none.
 * The write back below races with the programs' own updates of the entry
 * (lost counters, tails): a lost_before reported late or a tail missed costs
 * a gap or a copied segment, never a wrong byte. */
static bool flow_read(struct capture *c, const struct conn_id *id, struct smtpmon_flow_key *key,
		      struct smtpmon_flow *flow)
{
	flow_key_of(c->cfg, id, key);
	if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.flows), key, flow))
		return true;
	memset(flow, 0, sizeof(*flow));
	return false;
}

static void flow_write(struct capture *c, const struct smtpmon_flow_key *key,
		       const struct smtpmon_flow *flow, uint64_t *done, uint64_t *failed)
{
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.flows), key, flow, BPF_ANY))
		(*failed)++;
	else
		(*done)++;
}

static void mark_encrypted(void *ctx, const struct conn_id *id)
{
	struct capture *c = ctx;
	struct smtpmon_flow_key key;
	struct smtpmon_flow flow;

	if (flow_read(c, id, &key, &flow) && (flow.flags & SMTPMON_FLOW_ENCRYPTED))
		return; /* the kernel saw the 220 first */
	flow.flags |= SMTPMON_FLOW_ENCRYPTED;
	flow_write(c, &key, &flow, &c->tls_marks, &c->tls_mark_errors);
}

/* --bodies=skip: the client's next bytes are a BDAT chunk or a DATA body. */
static void mark_skip(void *ctx, const struct conn_id *id, const struct pipeline_skip *skip)
{
	struct capture *c = ctx;
	struct smtpmon_flow_key key;
	struct smtpmon_flow flow;

	if (skip->tls) {
		for (size_t i = 0; i < skip->nobjects && c->tls; i++) {
			if (tls_probe_skip(c->tls, skip->objects[i].tgid, skip->objects[i].object,
					   skip->chunk ? skip->end_off : 0, skip->server_off))
				c->skip_marks++;
			else
				c->skip_mark_errors++;
		}
		return;
	}
	/* A flow the kernel has no state for (older than us, or forgotten)
	 * starts where user space stands. */
	if (!flow_read(c, id, &key, &flow))
		flow.server_next = skip->server_next;
	if (flow.flags & SMTPMON_FLOW_ENCRYPTED)
		return;
	/* The kernel, ahead of us, found this chunk or a later one itself. */
	if (skip->chunk && (flow.flags & SMTPMON_FLOW_SKIP_CHUNK) &&
	    (int32_t)(flow.skip_end - skip->end_seq) >= 0)
		return;
	if (skip->chunk) {
		flow.flags |= SMTPMON_FLOW_SKIP_CHUNK;
		flow.skip_end = skip->end_seq;
	} else {
		flow.flags |= SMTPMON_FLOW_SKIP_BODY;
		flow.skip_server_next = skip->server_next;
	}
	flow_write(c, &key, &flow, &c->skip_marks, &c->skip_mark_errors);
}

static void write_port_bits(struct smtpmon_bpf *skel, const struct config *cfg)
{
	uint8_t bits[sizeof(skel->bss->port_bits)];

	config_port_bits(cfg, bits);
	/* Byte by byte into the live map: a packet racing the update sees
	 * either the old or the new bit of its port, never garbage. */
	for (size_t i = 0; i < sizeof(bits); i++)
		skel->bss->port_bits[i] = bits[i];
}

static int load(struct capture *c, const struct capture_opts *opts)
{
	struct smtpmon_bpf *skel;
	int err;

	bpf_log_start(opts->verbose);
	skel = smtpmon_bpf__open();
	if (!skel) {
		fprintf(stderr, "smtpmon: open BPF object: %s\n", strerror(errno));
		return -1;
	}
	c->skel = skel;
	write_port_bits(skel, c->cfg);
	skel->bss->bodies_skip = opts->bodies_skip;
	/* Copy mode: bodies are shed once the ring is three quarters full. */
	skel->bss->shed_at = opts->bodies_skip ? 0 : opts->ring_size / 4 * 3;
	/* A quarter full: the reader is woken even by bulk records. */
	skel->bss->wakeup_bytes = opts->ring_size / 4;
	err = bpf_map__set_max_entries(skel->maps.events, (uint32_t)opts->ring_size);
	if (!err)
		err = bpf_program__set_autoload(skel->progs.smtpmon_xdp,
						opts->ingress == INGRESS_XDP);
	if (!err)
		err = bpf_program__set_autoload(skel->progs.smtpmon_tc_ingress,
						opts->ingress == INGRESS_TC);
	if (err) {
		fprintf(stderr, "smtpmon: configure BPF object: %s\n", strerror(-err));
		return -1;
	}
	err = smtpmon_bpf__load(skel);
	if (err) {
		if (err == -EPERM)
			fprintf(stderr,
				"smtpmon: load BPF programs: %s (needs root, or CAP_BPF "
				"and CAP_NET_ADMIN; check kernel.unprivileged_bpf_disabled "
				"and lockdown)\n",
				strerror(-err));
		else if (opts->verbose)
			fprintf(stderr, "smtpmon: load BPF programs: rejected by the kernel (%s)\n",
				strerror(-err));
		else {
			fprintf(stderr,
				"smtpmon: load BPF programs: rejected by the kernel (%s):\n",
				strerror(-err));
			bpf_log_print_reason();
			fprintf(stderr, "smtpmon: run with --verbose for the whole verifier log\n");
		}
		return -1;
	}
	c->ring_size = opts->ring_size;
	return 0;
}

static int map_ring_positions(struct capture *c)
{
	int fd = bpf_map__fd(c->skel->maps.events);
	void *cons, *prod;

	c->page_size = (size_t)sysconf(_SC_PAGESIZE);
	cons = mmap(NULL, c->page_size, PROT_READ, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return -1;
	prod = mmap(NULL, c->page_size, PROT_READ, MAP_SHARED, fd, (off_t)c->page_size);
	if (prod == MAP_FAILED) {
		munmap(cons, c->page_size);
		return -1;
	}
	c->ring_consumer = cons;
	c->ring_producer = prod;
	return 0;
}

static int attach_all(struct capture *c, const struct capture_opts *opts)
{
	int in_tc = bpf_program__fd(c->skel->progs.smtpmon_tc_ingress);
	int out_tc = bpf_program__fd(c->skel->progs.smtpmon_tc_egress);
	char desc[96];

	c->att.tc_attach = opts->tc_attach;
	c->att.xdp_mode = opts->xdp_mode;
	snprintf(c->slot_iface[0], IF_NAMESIZE, "other");
	c->nslots = 1;
	for (size_t i = 0; i < opts->nifaces; i++) {
		const char *ifname = opts->ifaces[i];
		uint32_t ifindex = if_nametoindex(ifname), slot = (uint32_t)c->nslots;
		int err;

		/* Before the hooks: every packet they see is counted here. */
		struct bpf_map *slots = ifindex < SMTPMON_IFINDEX_DIRECT
					    ? c->skel->maps.iface_slot_by_index
					    : c->skel->maps.iface_slots;
		if (ifindex && bpf_map__update_elem(slots, &ifindex, sizeof(ifindex), &slot,
						    sizeof(slot), BPF_ANY)) {
			fprintf(stderr, "smtpmon: %s: counter slot: %s\n", ifname, strerror(errno));
			return -1;
		}
		snprintf(c->slot_iface[c->nslots++], IF_NAMESIZE, "%s", ifname);
		if (opts->ingress == INGRESS_XDP)
			err = attach_xdp(&c->att, ifname,
					 bpf_program__fd(c->skel->progs.smtpmon_xdp));
		else
			err = attach_tc(&c->att, ifname, true, in_tc);
		/* Every packet on lo passes egress, then ingress: one hook sees
		 * both directions exactly once. */
		if (!err && !is_loopback(ifname))
			err = attach_tc(&c->att, ifname, false, out_tc);
		if (err)
			return -1;
	}
	/* Always said: it is also how tests and operators know we are live. */
	for (size_t i = 0; i < c->att.n; i++)
		fprintf(stderr, "smtpmon: attached %s\n",
			attach_describe(&c->att.a[i], desc, sizeof(desc)));
	if (c->tls)
		tls_probe_report(c->tls);
	return 0;
}

/* An address as the pipeline keys it: IPv4 in 4 bytes, also when an IPv6
 * socket carries it (::ffff:a.b.c.d). */
static uint8_t pipeline_address(uint8_t af, const uint8_t *in, uint8_t out[16])
{
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};

	memset(out, 0, 16);
	if (af == AF_INET6 && memcmp(in, v4_mapped, sizeof(v4_mapped))) {
		memcpy(out, in, 16);
		return 6;
	}
	memcpy(out, af == AF_INET6 ? in + 12 : in, 4);
	return 4;
}

static int on_tls_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct smtpmon_tls_rec *r = data;
	bool server_end;
	struct plaintext pt;

	/* A skipped body copies no more than its tail. */
	bool skipped = size >= sizeof(*r) && (r->flags & SMTPMON_TLS_REC_SKIPPED);

	if (size < sizeof(*r) || r->copied_len > size - sizeof(*r) ||
	    (skipped ? r->copied_len > SMTPMON_SKIP_TAIL || r->copied_len > r->payload_len
		     : r->copied_len != r->payload_len) ||
	    r->op > SMTPMON_TLS_WRITE || r->role > SMTPMON_TLS_CLIENT ||
	    (r->family != AF_INET && r->family != AF_INET6)) {
		c->tls_bad_records++;
		return 0;
	}
	/* What the wire showed before this plaintext existed (the 220 to
	 * STARTTLS, the SYN on 465) must reach the pipeline first. */
	ring_buffer__consume(c->tc_rb);
	c->tls_records++;
	server_end = r->role == SMTPMON_TLS_SERVER;
	pt = (struct plaintext){
	    .ts_ns = r->ts_ns + (uint64_t)c->boot_to_wall_ns,
	    .mono_ns = r->ts_ns,
	    .client_port = server_end ? r->rport : r->lport,
	    .server_port = server_end ? r->lport : r->rport,
	    .from_client = server_end == (r->op == SMTPMON_TLS_READ),
	    .view = server_end ? PLAINTEXT_SERVER_END : PLAINTEXT_CLIENT_END,
	    .object = {.tgid = r->tgid, .object = r->object},
	    .offset = r->offset,
	    .skipped = r->payload_len - r->copied_len,
	    .data = r->payload,
	    .len = r->copied_len,
	};
	pt.family = pipeline_address(r->family, server_end ? r->raddr : r->laddr, pt.client);
	if (pipeline_address(r->family, server_end ? r->laddr : r->raddr, pt.server) != pt.family) {
		c->tls_bad_records++;
		return 0;
	}
	pipeline_plaintext(c->p, &pt);
	return 0;
}

/* The probes on the TLS libraries: their ring joins the wire's in c->rb.
 * Without them capture goes on (tls_probe_open said why). */
static void open_tls(struct capture *c, const struct capture_opts *opts)
{
	struct tls_probe_opts tls = opts->tls;

	/* The plaintext of a session is no more than its wire bytes: the
	 * same room. */
	tls.ring_size = opts->ring_size;
	tls.bodies_skip = opts->bodies_skip;
	c->tls = tls_probe_open(&tls, c->cfg);
	if (!c->tls)
		return;
	c->tc_rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_record, c, NULL);
	if (!c->tc_rb || ring_buffer__add(c->rb, tls_probe_ring_fd(c->tls), on_tls_record, c) ||
	    !tls_probe_watch(c->tls, c->rb)) {
		fprintf(stderr, "smtpmon: TLS plaintext: ring buffer: %s\n", strerror(errno));
		ring_buffer__free(c->tc_rb);
		c->tc_rb = NULL;
		tls_probe_close(c->tls);
		c->tls = NULL;
	}
}

struct capture *capture_open(const struct capture_opts *opts, const struct config *cfg,
			     struct pipeline *p)
{
	struct capture *c;

	if (!kernel_check(opts->ingress == INGRESS_XDP))
		return NULL;
	for (size_t i = 0; i < opts->nifaces; i++)
		if (!if_nametoindex(opts->ifaces[i])) {
			fprintf(stderr, "smtpmon: unknown interface '%s'\n", opts->ifaces[i]);
			return NULL;
		}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "smtpmon: capture: out of memory\n");
		return NULL;
	}
	c->p = p;
	c->cfg = cfg;
	if (load(c, opts))
		goto fail;
	if (map_ring_positions(c)) {
		fprintf(stderr, "smtpmon: map ring buffer positions: %s\n", strerror(errno));
		goto fail;
	}
	c->boot_to_wall_ns = sample_boot_to_wall();
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_record, c, NULL);
	if (!c->rb) {
		fprintf(stderr, "smtpmon: ring buffer: %s\n", strerror(errno));
		goto fail;
	}
	pipeline_set_tls_hook(p, mark_encrypted, c);
	if (opts->bodies_skip)
		pipeline_set_skip_hook(p, mark_skip, c);
	/* Before the wire's hooks, whose "attached" lines say we are live. */
	if (opts->tls_plaintext)
		open_tls(c, opts);
	pipeline_expect_plaintext(p, c->tls != NULL);
	if (attach_all(c, opts))
		goto fail;
	c->capturing = true;
	return c;
fail:
	capture_close(c);
	return NULL;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	/* Bulk records do not wake us (smtpmon.bpf.c, submit): after a
	 * timeout, take what they left. */
	if (n == 0)
		n = ring_buffer__consume(c->rb);
	return n == -EINTR ? 0 : n;
}

void capture_tick(struct capture *c)
{
	int64_t now = sample_boot_to_wall(), step = now - c->boot_to_wall_ns;

	if (step > (int64_t)IDLE_CLOCK_JITTER_NS || step < -(int64_t)IDLE_CLOCK_JITTER_NS)
		c->wall_clock_steps++;
	c->boot_to_wall_ns = now;
	if (c->tls)
		tls_probe_tick(c->tls);
}

void capture_set_ports(struct capture *c, const struct config *cfg)
{
	c->cfg = cfg;
	write_port_bits(c->skel, cfg);
	if (c->tls)
		tls_probe_set_ports(c->tls, cfg);
	/* The per-CPU TLS caches skip the port test: make them stale. */
	__sync_fetch_and_add(&c->skel->bss->flow_epoch, 1);
}

int capture_kernel_counters(
    const struct bpf_map *percpu_map, uint64_t out[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX],
    uint64_t per_slot[SMTPMON_IFACE_SLOTS][SMTPMON_PROG_MAX][SMTPMON_STAT_MAX])
{
	int ncpus = libbpf_num_possible_cpus();
	struct smtpmon_percpu *vals =
	    ncpus > 0 ? calloc((size_t)ncpus, sizeof(struct smtpmon_percpu)) : NULL;

	if (!vals)
		return -ENOMEM;
	memset(out, 0, sizeof(uint64_t) * SMTPMON_PROG_MAX * SMTPMON_STAT_MAX);
	if (per_slot)
		memset(per_slot, 0,
		       sizeof(uint64_t) * SMTPMON_IFACE_SLOTS * SMTPMON_PROG_MAX *
			   SMTPMON_STAT_MAX);
	for (uint32_t prog = 0; prog < SMTPMON_PROG_MAX; prog++)
		for (uint32_t slot = 0; slot < SMTPMON_IFACE_SLOTS; slot++) {
			uint32_t key = prog * SMTPMON_IFACE_SLOTS + slot;
			int err = bpf_map__lookup_elem(percpu_map, &key, sizeof(key), vals,
						       (size_t)ncpus * sizeof(*vals), 0);
			if (err) {
				free(vals);
				return err;
			}
			for (int cpu = 0; cpu < ncpus; cpu++)
				for (int stat = 0; stat < SMTPMON_STAT_MAX; stat++) {
					out[prog][stat] += vals[cpu].stats[stat];
					if (per_slot)
						per_slot[slot][prog][stat] += vals[cpu].stats[stat];
				}
		}
	free(vals);
	return 0;
}

bool capture_counters(const struct capture *c, struct capture_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (capture_kernel_counters(c->skel->maps.percpu, out->kernel, out->iface_kernel))
		return false;
	memcpy(out->iface, c->slot_iface, sizeof(out->iface));
	out->niface_slots = c->nslots;
	out->prog_loaded[SMTPMON_PROG_TC_INGRESS] =
	    bpf_program__fd(c->skel->progs.smtpmon_tc_ingress) >= 0;
	out->prog_loaded[SMTPMON_PROG_TC_EGRESS] =
	    bpf_program__fd(c->skel->progs.smtpmon_tc_egress) >= 0;
	out->prog_loaded[SMTPMON_PROG_XDP] = bpf_program__fd(c->skel->progs.smtpmon_xdp) >= 0;
	out->ring_size = c->ring_size;
	if (c->ring_consumer)
		out->ring_used = *c->ring_producer - *c->ring_consumer;
	out->records = c->records;
	out->bad_records = c->bad_records;
	out->tls_marks = c->tls_marks;
	out->tls_mark_errors = c->tls_mark_errors;
	out->skip_marks = c->skip_marks;
	out->skip_mark_errors = c->skip_mark_errors;
	out->tls_probes = c->tls && tls_probe_counters(c->tls, out->tls);
	out->tls_per_process =
	    out->tls_probes && tls_probe_process_counters(c->tls, out->tls_procs);
	out->tls_records = c->tls_records;
	out->tls_bad_records = c->tls_bad_records;
	out->wall_clock_steps = c->wall_clock_steps;
	return true;
}

bool capture_needs_net_admin(const struct capture *c)
{
	for (size_t i = 0; i < c->att.n; i++)
		if (c->att.a[i].kind == ATTACH_TC_LEGACY)
			return true;
	return false;
}

static void print_tls_counters(const struct capture *c, const struct pipeline_stats *ps)
{
	uint64_t tc[SMTPMON_TLS_LIB_MAX][SMTPMON_TLS_STAT_MAX], procs[TLS_ATTACH_STAT_MAX];

	if (!tls_probe_counters(c->tls, tc))
		return;
	if (tls_probe_process_counters(c->tls, procs)) {
		fprintf(stderr, "smtpmon: tls processes:");
		for (int k = 0; k < TLS_ATTACH_STAT_MAX; k++)
			fprintf(stderr, " %s %" PRIu64 "%s", tls_attach_stat_names[k], procs[k],
				k + 1 < TLS_ATTACH_STAT_MAX ? "," : "\n");
	}
	for (int lib = 0; lib < SMTPMON_TLS_LIB_MAX; lib++) {
		fprintf(stderr, "smtpmon: tls %s:", tls_probe_lib_names[lib]);
		for (int k = 0; k < SMTPMON_TLS_STAT_MAX; k++)
			fprintf(stderr, " %s %" PRIu64 "%s", tls_probe_stat_names[k], tc[lib][k],
				k + 1 < SMTPMON_TLS_STAT_MAX ? "," : "\n");
	}
	fprintf(stderr,
		"smtpmon: user tls: records %" PRIu64 ", bad_records %" PRIu64
		", delivered_bytes %" PRIu64 ", unmatched %" PRIu64 ", other_end %" PRIu64
		", overlap_bytes %" PRIu64 ", sessions_unseen %" PRIu64 "\n",
		c->tls_records, c->tls_bad_records, ps->plain_bytes, ps->plain_unmatched,
		ps->plain_other_view, ps->plain_overlap_bytes, ps->tls_unseen);
}

/* The IP fragments skipped, per interface (docs/reassembly.md, "IP
 * fragments"): one line, only when there were any. */
static void print_fragment_counters(const struct capture_counters *cc)
{
	bool any = false;

	for (size_t slot = 0; slot < cc->niface_slots; slot++) {
		uint64_t n = 0;

		for (int prog = 0; prog < SMTPMON_PROG_MAX; prog++)
			n += cc->iface_kernel[slot][prog][SMTPMON_STAT_FRAGMENTS];
		if (!n)
			continue;
		fprintf(stderr, "%s %s %" PRIu64,
			any ? "," : "smtpmon: fragments skipped:", cc->iface[slot], n);
		any = true;
	}
	if (any)
		fprintf(stderr, "\n");
}

static void print_counters(const struct capture *c)
{
	struct capture_counters cc;

	if (!capture_counters(c, &cc)) {
		fprintf(stderr, "smtpmon: read kernel counters: out of memory\n");
		return;
	}
	fprintf(stderr, "smtpmon: kernel:");
	for (int k = 0; k < SMTPMON_STAT_MAX; k++) {
		uint64_t sum = 0;
		for (int prog = 0; prog < SMTPMON_PROG_MAX; prog++)
			sum += cc.kernel[prog][k];
		fprintf(stderr, " %s %" PRIu64 "%s", capture_stat_names[k], sum,
			k + 1 < SMTPMON_STAT_MAX ? "," : "\n");
	}
	const struct pipeline_stats *ps = pipeline_stats(c->p);
	fprintf(stderr,
		"smtpmon: user: records %" PRIu64 ", bad_records %" PRIu64 ", tls_marks %" PRIu64
		" (failed %" PRIu64 "), connections %" PRIu64 " (evicted %" PRIu64
		"), gaps %" PRIu64 " (%" PRIu64 " bytes), skip_marks %" PRIu64 " (failed %" PRIu64
		"), skipped_bytes %" PRIu64 ", skip_fallbacks %" PRIu64 ", time_backwards %" PRIu64
		", time_jumps %" PRIu64 ", wall_clock_steps %" PRIu64 "\n",
		c->records, c->bad_records, c->tls_marks, c->tls_mark_errors, ps->conns_total,
		ps->conns_evicted, ps->gaps, ps->gap_bytes, c->skip_marks, c->skip_mark_errors,
		ps->skipped_bytes, ps->skip_fallbacks, ps->time_backwards, ps->time_jumps,
		c->wall_clock_steps);
	if (c->tls)
		print_tls_counters(c, ps);
	print_fragment_counters(&cc);
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	/* Detach first, so that the drain ends. */
	attach_detach_all(&c->att);
	/* After a failed open the one-line error stands alone. */
	if (c->capturing) {
		ring_buffer__consume(c->rb);
		/* The connections waiting for their last plaintext have it
		 * now: ended before the counters (sessions_unseen) are told. */
		pipeline_finish(c->p);
		print_counters(c);
	}
	tls_probe_close(c->tls);
	pipeline_set_tls_hook(c->p, NULL, NULL);
	pipeline_set_skip_hook(c->p, NULL, NULL);
	pipeline_expect_plaintext(c->p, false);
	ring_buffer__free(c->rb);
	ring_buffer__free(c->tc_rb);
	if (c->ring_consumer)
		munmap((void *)c->ring_consumer, c->page_size);
	if (c->ring_producer)
		munmap((void *)c->ring_producer, c->page_size);
	smtpmon_bpf__destroy(c->skel);
	free(c);
}
