// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfbench.c - per-packet cost of smtpmon's TC and XDP programs, measured
 * with BPF_PROG_TEST_RUN (make bench, part 3).
 *
 *   build/tools/bpfbench [-n REPEAT] [-t TRIALS]      (root)
 *
 * Loads build/smtpmon.bpf.o through its skeleton (port 25 monitored, 32 MB
 * ring as smtpmon run uses by default) and runs each program on six
 * packets, REPEAT times per trial (default 1000000), TRIALS trials (default
 * 5): a non-SMTP TCP segment with 1448 payload bytes, a pure ACK to port 25,
 * a FIN without payload (it makes a record), an SMTP segment with 1448 payload bytes, a 64000-byte
 * GSO super-packet to port 25 (REPEAT / 44 times: the same bytes) and a 1448-byte segment of a flow
 * that the flows map marks encrypted (TLS after STARTTLS). An empty program of each type
 * ("return TC_NEXT" / "return XDP_PASS") on the non-SMTP packet measures the kernel's own loop
 * around the program (context set-up, timer), which the kernel's figure includes.
 *
 * Every trial runs every case once, one after the other, in the opposite order every other
 * trial; cases that are compared run next to each other (the empty program and the non-SMTP
 * packet; the pure ACK and the encrypted flow's segment), so a comparison is made within each
 * trial and drift on a shared machine, which moves whole trials, cancels out. A trial is split
 * into at least BATCHES_MIN batches, small enough for the ring, which is drained after each
 * batch, so no record is lost.
 *
 * Prints:
 *   PROG empty ns NS
 *   PROG CASE ns NS runs RUNS records_per_run R drops D net NET
 *   PROG CASE_A minus CASE_B ns DIFF
 * NS is the median over trials of the kernel's own average (whole ns, the kernel truncates);
 * NET the median over trials of the case's figure minus the empty program's in the same trial
 * (what smtpmon's program itself costs); DIFF the median over trials of the difference of two
 * cases in the same trial; R the records drained per run; D the ring drops of that case (must
 * be 0). A case the kernel cannot run (a TC test run is limited to one page of packet data)
 * prints "unsupported" and the reason. Exit status 1 if any run failed or any record was
 * dropped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "smtpmon.h"
#include "smtpmon.skel.h"

/* The TC programs return TCX_NEXT (-1, TC_ACT_UNSPEC); Debian 12's uapi
 * headers predate the name. */
#define TC_RETVAL_NEXT (-1)
#define RING_BYTES     (32u << 20)
#define SMTP_PORT      25
#define CLIENT_PORT    40000
#define MSS_PAYLOAD    1448
#define GSO_PAYLOAD    64000
#define ETH_HLEN       14
#define IP_HLEN	       20
#define TCP_HLEN       20
#define HDRS_LEN       (ETH_HLEN + IP_HLEN + TCP_HLEN)
#define MAX_TRIALS     1000
#define BATCHES_MIN    10 /* per trial */

enum payload_kind { PAYLOAD_TEXT, PAYLOAD_TLS };

/* Each case is its own flow (client port CLIENT_PORT + index), so the
 * programs' flow state (the flows map, the last-encrypted-flow cache) of
 * one case cannot change another's path. */
struct bench_case {
	const char *name;
	uint16_t dport;
	uint8_t tcp_flags;
	uint32_t payload_len;
	enum payload_kind kind;
	bool encrypted_flow; /* insert the flow into `flows` as encrypted first */
	bool empty_program;  /* run the empty program of the type instead of smtpmon's */
};

/* In trial order (see the top). */
static const struct bench_case cases[] = {
    {"empty", 5201, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH, MSS_PAYLOAD, PAYLOAD_TEXT, false, true},
    {"non_smtp", 5201, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH, MSS_PAYLOAD, PAYLOAD_TEXT, false, false},
    {"smtp_ack", SMTP_PORT, SMTPMON_TCP_ACK, 0, PAYLOAD_TEXT, false, false},
    {"tls_suppressed", SMTP_PORT, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH, MSS_PAYLOAD, PAYLOAD_TLS, true,
     false},
    {"smtp_fin", SMTP_PORT, SMTPMON_TCP_ACK | SMTPMON_TCP_FIN, 0, PAYLOAD_TEXT, false, false},
    {"smtp_1448", SMTP_PORT, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH, MSS_PAYLOAD, PAYLOAD_TEXT, false,
     false},
    {"smtp_gso_64k", SMTP_PORT, SMTPMON_TCP_ACK | SMTPMON_TCP_PSH, GSO_PAYLOAD, PAYLOAD_TEXT, false,
     false},
};

/* Differences printed as "PROG A minus B": the goal that a segment of an encrypted flow
 * costs no more than an SMTP segment without payload, in its two readings. */
static const char *const compared[][2] = {
    {"tls_suppressed", "smtp_ack"},
    {"tls_suppressed", "smtp_fin"},
};

static const uint8_t client_ip[4] = {10, 0, 0, 1};
static const uint8_t server_ip[4] = {10, 0, 0, 2};

struct drained {
	uint64_t records;
	uint64_t bytes;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct drained *d = ctx;

	(void)data;
	d->records++;
	d->bytes += size;
	return 0;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + TCP, client to server; returns the frame length. */
static uint16_t client_port(const struct bench_case *c)
{
	return (uint16_t)(CLIENT_PORT + (c - cases));
}

static size_t build_packet(const struct bench_case *c, uint8_t *pkt)
{
	uint8_t *ip = pkt + ETH_HLEN, *tcp = ip + IP_HLEN, *payload = tcp + TCP_HLEN;
	uint16_t tot_len = (uint16_t)(IP_HLEN + TCP_HLEN + c->payload_len);
	uint32_t sum = 0;

	memset(pkt, 0, HDRS_LEN);
	memcpy(pkt, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", ETH_HLEN);
	ip[0] = 0x45;
	ip[2] = tot_len >> 8;
	ip[3] = tot_len & 0xff;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, client_ip, 4);
	memcpy(ip + 16, server_ip, 4);
	for (int i = 0; i < IP_HLEN; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	uint16_t ip_csum = csum_fold(sum);
	ip[10] = ip_csum >> 8;
	ip[11] = ip_csum & 0xff;

	tcp[0] = client_port(c) >> 8;
	tcp[1] = client_port(c) & 0xff;
	tcp[2] = c->dport >> 8;
	tcp[3] = c->dport & 0xff;
	memcpy(tcp + 4, "\x10\x00\x00\x00", 4); /* seq */
	memcpy(tcp + 8, "\x20\x00\x00\x00", 4); /* ack */
	tcp[12] = 5 << 4;
	tcp[13] = c->tcp_flags;
	tcp[14] = 0xff;
	tcp[15] = 0xff;

	if (c->kind == PAYLOAD_TLS) {
		/* TLS application data records, as after STARTTLS. */
		for (uint32_t i = 0; i < c->payload_len; i++)
			payload[i] = (uint8_t)(i * 131 + 7);
		if (c->payload_len >= 5)
			memcpy(payload, "\x17\x03\x03\x05\xa3", 5);
	} else {
		static const char line[] =
		    "Lorem ipsum dolor sit amet, a line of a message body.\r\n";
		for (uint32_t i = 0; i < c->payload_len; i++)
			payload[i] = (uint8_t)line[i % (sizeof(line) - 1)];
	}
	return HDRS_LEN + c->payload_len;
}

static int mark_flow_encrypted(struct smtpmon_bpf *skel, const struct bench_case *c)
{
	struct smtpmon_flow_key key = {0};
	struct smtpmon_flow flow = {.flags = SMTPMON_FLOW_ENCRYPTED};

	memcpy(key.client, client_ip, 4);
	memcpy(key.server, server_ip, 4);
	key.client_port = client_port(c);
	key.server_port = c->dport;
	key.family = 4;
	if (bpf_map__update_elem(skel->maps.flows, &key, sizeof(key), &flow, sizeof(flow),
				 BPF_ANY)) {
		fprintf(stderr, "bpfbench: insert encrypted flow: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Sum over CPUs of one program's counter. */
static int read_stat(struct smtpmon_bpf *skel, enum smtpmon_prog prog, enum smtpmon_stat stat,
		     uint64_t *out)
{
	uint64_t all[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX];
	int err = capture_kernel_counters(skel->maps.percpu, all, NULL);

	if (err) {
		fprintf(stderr, "bpfbench: read counters: %s\n", strerror(-err));
		return -1;
	}
	*out = all[prog][stat];
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct prog_under_test {
	const char *name;
	int fd, empty_fd; /* smtpmon's program; the empty one of the same type */
	enum smtpmon_prog stat_prog;
	int want_retval;
};

/* One test run of `repeat` repetitions; the ring is drained afterwards.
 * Returns 0, or -errno of the syscall. */
static int run_batch(const struct prog_under_test *p, int fd, void *pkt, size_t len,
		     uint32_t repeat, struct ring_buffer *rb, double *kernel_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .repeat = repeat);
	if (bpf_prog_test_run_opts(fd, &opts))
		return -errno;
	*kernel_ns += (double)opts.duration * repeat;
	if ((int)opts.retval != p->want_retval) {
		fprintf(stderr, "bpfbench: %s returned %d, not %d\n", p->name, (int)opts.retval,
			p->want_retval);
		return -EINVAL;
	}
	if (ring_buffer__consume(rb) < 0)
		return -EIO;
	return 0;
}

/* One program on one packet, measured trial by trial, interleaved with the
 * others (drift on a shared machine then hits every case alike). */
struct measurement {
	const struct prog_under_test *p;
	const struct bench_case *c;
	int fd;
	uint8_t *pkt;
	size_t len;
	uint32_t repeat, batch;
	uint64_t records_per_run, records, drops, seen; /* this case's own */
	bool supported;
	double ns[MAX_TRIALS];
};

/* The program's packet and ring-drop counters moved by this case alone:
 * read around each of its runs, as the cases take turns. */
static int count_around(struct measurement *m, struct smtpmon_bpf *skel, bool after)
{
	uint64_t seen, drops;

	if (m->c->empty_program)
		return 0;
	if (read_stat(skel, m->p->stat_prog, SMTPMON_STAT_RING_DROPS, &drops) ||
	    read_stat(skel, m->p->stat_prog, SMTPMON_STAT_PACKETS, &seen))
		return -1;
	m->seen += after ? seen : -seen;
	m->drops += after ? drops : -drops;
	return 0;
}

/* The flow state the case needs, one run to size the batches. 0, or -1
 * after a message; an unsupported case is not an error. */
static int measure_prepare(struct measurement *m, struct smtpmon_bpf *skel, struct ring_buffer *rb,
			   struct drained *d, uint32_t repeat)
{
	double k = 0;
	int err;

	m->pkt = malloc(HDRS_LEN + GSO_PAYLOAD);
	if (!m->pkt) {
		fprintf(stderr, "bpfbench: out of memory\n");
		return -1;
	}
	m->len = build_packet(m->c, m->pkt);
	m->fd = m->c->empty_program ? m->p->empty_fd : m->p->fd;
	/* Super-packets get fewer runs: the same bytes as REPEAT MSS segments. */
	m->repeat = m->c->payload_len > MSS_PAYLOAD ? repeat / (m->c->payload_len / MSS_PAYLOAD) + 1
						    : repeat;
	if (m->c->encrypted_flow && mark_flow_encrypted(skel, m->c))
		return -1;
	if (count_around(m, skel, false))
		return -1;
	*d = (struct drained){0};
	err = run_batch(m->p, m->fd, m->pkt, m->len, 1, rb, &k);
	if (count_around(m, skel, true))
		return -1;
	if (err) {
		printf("%s %s unsupported (%zu-byte packet: %s)\n", m->p->name, m->c->name, m->len,
		       strerror(-err));
		return 0;
	}
	m->supported = true;
	m->records_per_run = m->records = d->records;
	/* One run tells how many ring bytes a run takes, hence the batch size. */
	m->batch = d->bytes ? (uint32_t)(RING_BYTES / 2 / (d->bytes + 64)) : m->repeat;
	/* The kernel truncates each batch's average to whole ns; noise makes that
	 * rounding differ from batch to batch, so several batches per trial give
	 * the trial's figure a finer resolution. */
	if (m->batch > m->repeat / BATCHES_MIN)
		m->batch = m->repeat / BATCHES_MIN;
	if (m->batch == 0)
		m->batch = 1;
	return 0;
}

static int measure_trial(struct measurement *m, int t, struct smtpmon_bpf *skel,
			 struct ring_buffer *rb, struct drained *d)
{
	double k = 0;

	if (count_around(m, skel, false))
		return -1;
	*d = (struct drained){0};
	for (uint32_t done = 0; done < m->repeat;) {
		uint32_t n = m->repeat - done < m->batch ? m->repeat - done : m->batch;
		int err = run_batch(m->p, m->fd, m->pkt, m->len, n, rb, &k);

		if (err) {
			fprintf(stderr, "bpfbench: %s %s: test run: %s\n", m->p->name, m->c->name,
				strerror(-err));
			return -1;
		}
		done += n;
	}
	m->ns[t] = k / m->repeat;
	m->records += d->records;
	return count_around(m, skel, true);
}

/* Checks that every run was counted and drained and nothing dropped. */
static int measure_check(const struct measurement *m, int trials)
{
	uint64_t runs = 1 + (uint64_t)m->repeat * (uint64_t)trials;

	if (!m->c->empty_program && m->seen != runs) {
		fprintf(stderr, "bpfbench: %s %s: the program counted %llu packets, not %llu\n",
			m->p->name, m->c->name, (unsigned long long)m->seen,
			(unsigned long long)runs);
		return -1;
	}
	if (m->records != m->records_per_run * runs) {
		fprintf(stderr, "bpfbench: %s %s: %llu records drained, not %llu\n", m->p->name,
			m->c->name, (unsigned long long)m->records,
			(unsigned long long)(m->records_per_run * runs));
		return -1;
	}
	return m->drops ? -1 : 0;
}

/* Median over trials of a's figure minus b's in the same trial (b NULL: of a's figure). */
static double median_minus(const struct measurement *a, const struct measurement *b, int trials)
{
	double v[MAX_TRIALS];

	for (int t = 0; t < trials; t++)
		v[t] = a->ns[t] - (b ? b->ns[t] : 0);
	qsort(v, (size_t)trials, sizeof(double), cmp_double);
	return v[trials / 2];
}

static const struct measurement *find(const struct measurement *m, size_t n,
				      const struct prog_under_test *p, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].p == p && m[i].supported && !strcmp(m[i].c->name, name))
			return &m[i];
	return NULL;
}

static void print_results(const struct measurement *m, size_t n, const struct prog_under_test *p,
			  int trials)
{
	const struct measurement *empty = find(m, n, p, "empty");

	for (size_t i = 0; i < n; i++) {
		if (m[i].p != p || !m[i].supported)
			continue;
		if (m[i].c->empty_program) {
			printf("%s empty ns %.1f\n", p->name, median_minus(&m[i], NULL, trials));
			continue;
		}
		printf("%s %s ns %.1f runs %llu records_per_run %llu drops %llu net %.1f\n",
		       p->name, m[i].c->name, median_minus(&m[i], NULL, trials),
		       (unsigned long long)(1 + (uint64_t)m[i].repeat * (uint64_t)trials),
		       (unsigned long long)m[i].records_per_run, (unsigned long long)m[i].drops,
		       empty ? median_minus(&m[i], empty, trials) : 0.0);
	}
	for (size_t k = 0; k < sizeof(compared) / sizeof(compared[0]); k++) {
		const struct measurement *a = find(m, n, p, compared[k][0]),
					 *b = find(m, n, p, compared[k][1]);
		if (a && b)
			printf("%s %s minus %s ns %.1f\n", p->name, a->c->name, b->c->name,
			       median_minus(a, b, trials));
	}
}

/* The empty program of a type: what the kernel's test-run loop costs. An fd, or -1. */
static int load_empty(const char *name, enum bpf_prog_type type, int retval)
{
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = retval},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(type, "smtpmon_empty", "GPL", insns, 2, NULL);

	if (fd < 0)
		fprintf(stderr, "bpfbench: load empty %s program: %s\n", name, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	uint32_t repeat = 1000000;
	int trials = 5, opt, status = 0;
	struct drained drained;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		switch (opt) {
		case 'n':
			repeat = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			trials = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: bpfbench [-n REPEAT] [-t TRIALS]\n");
			return 2;
		}
	}
	if (repeat == 0 || trials <= 0 || trials > MAX_TRIALS) {
		fprintf(stderr, "bpfbench: REPEAT and TRIALS must be positive (TRIALS <= %d)\n",
			MAX_TRIALS);
		return 2;
	}

	struct smtpmon_bpf *skel = smtpmon_bpf__open();
	if (!skel) {
		fprintf(stderr, "bpfbench: open BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->bss->port_bits[SMTP_PORT >> 3] |= 1 << (SMTP_PORT & 7);
	skel->bss->wakeup_bytes = RING_BYTES / 4; /* as smtpmon run sets it */
	int err = bpf_map__set_max_entries(skel->maps.events, RING_BYTES);
	if (!err)
		err = smtpmon_bpf__load(skel);
	if (err) {
		fprintf(stderr, "bpfbench: load BPF programs: %s\n", strerror(-err));
		smtpmon_bpf__destroy(skel);
		return 1;
	}
	struct ring_buffer *rb =
	    ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &drained, NULL);
	if (!rb) {
		fprintf(stderr, "bpfbench: ring buffer: %s\n", strerror(errno));
		smtpmon_bpf__destroy(skel);
		return 1;
	}
	struct prog_under_test progs[] = {
	    {"tc", bpf_program__fd(skel->progs.smtpmon_tc_ingress),
	     load_empty("tc", BPF_PROG_TYPE_SCHED_CLS, TC_RETVAL_NEXT), SMTPMON_PROG_TC_INGRESS,
	     TC_RETVAL_NEXT},
	    {"xdp", bpf_program__fd(skel->progs.smtpmon_xdp),
	     load_empty("xdp", BPF_PROG_TYPE_XDP, XDP_PASS), SMTPMON_PROG_XDP, XDP_PASS},
	};
	enum {
		NPROGS = sizeof(progs) / sizeof(progs[0]),
		NCASES = sizeof(cases) / sizeof(cases[0]),
		N = NPROGS * NCASES
	};
	static struct measurement m[N];
	for (size_t i = 0; i < NPROGS; i++)
		if (progs[i].empty_fd < 0)
			status = 1;
	for (size_t i = 0; i < N && !status; i++) {
		m[i].p = &progs[i / NCASES];
		m[i].c = &cases[i % NCASES];
		if (measure_prepare(&m[i], skel, rb, &drained, repeat))
			status = 1;
	}
	/* Every other trial in reverse: neither of two neighbours always runs first. */
	for (int t = 0; t < trials && !status; t++)
		for (size_t k = 0; k < N; k++) {
			size_t i = t % 2 ? N - 1 - k : k;

			if (m[i].supported && measure_trial(&m[i], t, skel, rb, &drained))
				status = 1;
		}
	for (size_t i = 0; i < N && !status; i++)
		if (m[i].supported && measure_check(&m[i], trials))
			status = 1;
	for (size_t i = 0; i < NPROGS && !status; i++)
		print_results(m, N, &progs[i], trials);
	for (size_t i = 0; i < N; i++)
		free(m[i].pkt);
	for (size_t i = 0; i < NPROGS; i++)
		if (progs[i].empty_fd >= 0)
			close(progs[i].empty_fd);
	ring_buffer__free(rb);
	smtpmon_bpf__destroy(skel);
	return status;
}
