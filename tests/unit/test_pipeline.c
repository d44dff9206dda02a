// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_pipeline.c - segments in, events out: hand-made TCP sessions through
 * the flow table, reassembly and the SMTP parser into a capturing sink.
 * Expected events are written from the session script and Zeek's behaviour
 * (its SMTP analyzer; differences in docs/zeek-differences.md), not from the
 * code's output.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow/pipeline.h"
#include "tcp_fixture.h"

#define MAX_EVENTS 4096
#define MS	   1000000ull
#define SEC	   1000000000ull

struct seen {
	enum event_type type;
	uint64_t ts_ns;
	bool is_orig;
	bool in_tls;
	struct conn_id id;
	char text[160]; /* a short rendering of the fields */
	struct conn_summary conn;
};

struct capture {
	struct sink sink;
	struct seen ev[MAX_EVENTS];
	size_t n;     /* events stored */
	size_t total; /* events received */
	size_t by_type[EV_TYPE_MAX];
	size_t by_end[CONN_END_INPUT + 1];
};

static void render(char *out, size_t size, const struct event *ev)
{
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		snprintf(out, size, "request %.*s %.*s", (int)ev->request.command.len,
			 ev->request.command.ptr, (int)ev->request.arg.len, ev->request.arg.ptr);
		break;
	case EV_SMTP_REPLY:
		snprintf(out, size, "reply %u %.*s", ev->reply.code, (int)ev->reply.msg.len,
			 ev->reply.msg.ptr);
		break;
	case EV_SMTP_UNEXPECTED:
		snprintf(out, size, "unexpected %.*s", (int)ev->unexpected.msg.len,
			 ev->unexpected.msg.ptr);
		break;
	case EV_CONTENT_GAP:
		snprintf(out, size, "gap %llu %llu", (unsigned long long)ev->gap.seq,
			 (unsigned long long)ev->gap.length);
		break;
	case EV_SMTP_CONNECTION:
		snprintf(out, size, "connection %s", conn_end_names[ev->conn.end]);
		break;
	case EV_WEIRD:
		snprintf(out, size, "weird %s %.*s", ev->weird.name, (int)ev->weird.addl.len,
			 ev->weird.addl.ptr);
		break;
	default:
		snprintf(out, size, "%s", event_names[ev->type]);
	}
}

static void capture_emit(struct sink *sink, const struct event *ev)
{
	struct capture *cap = (struct capture *)sink;

	cap->total++;
	cap->by_type[ev->type]++;
	if (ev->type == EV_SMTP_CONNECTION)
		cap->by_end[ev->conn.end]++;
	if (cap->n == MAX_EVENTS)
		return;
	struct seen *s = &cap->ev[cap->n++];
	s->type = ev->type;
	s->ts_ns = ev->ts_ns;
	s->is_orig = ev->is_orig;
	s->in_tls = ev->in_tls;
	s->id = *ev->id;
	if (ev->type == EV_SMTP_CONNECTION)
		s->conn = ev->conn;
	render(s->text, sizeof(s->text), ev);
}

static void capture_nop(struct sink *sink)
{
	(void)sink;
}

static void capture_init(struct capture *cap)
{
	memset(cap, 0, sizeof(*cap));
	cap->sink.emit = capture_emit;
	cap->sink.flush = capture_nop;
	cap->sink.destroy = capture_nop;
}

/* The events of one type, in order, as text. */
static size_t texts(const struct capture *cap, enum event_type type, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cap->n && n < max; i++)
		if (cap->ev[i].type == type)
			out[n++] = cap->ev[i].text;
	return n;
}

static const struct seen *find(const struct capture *cap, const char *text)
{
	for (size_t i = 0; i < cap->n; i++)
		if (!strcmp(cap->ev[i].text, text))
			return &cap->ev[i];
	return NULL;
}

static const struct seen *last_conn(const struct capture *cap)
{
	for (size_t i = cap->n; i-- > 0;)
		if (cap->ev[i].type == EV_SMTP_CONNECTION)
			return &cap->ev[i];
	return NULL;
}

/* ---- a scripted TCP connection ----------------------------------------- */

struct session {
	struct pipeline *p;
	uint64_t ts;
	struct endpoint cli, srv;
};

static void session_init(struct session *s, struct pipeline *p, uint32_t cli_ip, uint16_t cli_port)
{
	memset(s, 0, sizeof(*s));
	s->p = p;
	s->ts = 1700000000ull * SEC;
	memcpy(s->cli.addr, &cli_ip, 4);
	s->cli.port = cli_port;
	s->cli.seq = 0xfffffff0u; /* the client wraps around 2^32 */
	s->srv.addr[0] = 192;
	s->srv.addr[1] = 0;
	s->srv.addr[2] = 2;
	s->srv.addr[3] = 25;
	s->srv.port = 25;
	s->srv.seq = 7000;
}

/* Sends one segment and advances the sender's sequence number; every
 * segment but the first SYN acknowledges everything the peer sent. */
static struct segment make(struct session *s, bool from_cli, uint8_t flags, const char *data)
{
	struct segment seg = tcp_segment(from_cli ? &s->cli : &s->srv, from_cli ? &s->srv : &s->cli,
					 flags, data, data ? strlen(data) : 0, s->ts);

	s->ts += MS;
	return seg;
}

static void send(struct session *s, bool from_cli, uint8_t flags, const char *data)
{
	struct segment seg = make(s, from_cli, flags, data);

	pipeline_segment(s->p, &seg);
}

#define CLI true
#define SRV false

static void handshake(struct session *s)
{
	send(s, CLI, SEG_SYN, NULL);
	send(s, SRV, SEG_SYN | SEG_ACK, NULL);
	send(s, CLI, SEG_ACK, NULL);
}

static void close_both(struct session *s)
{
	send(s, SRV, SEG_FIN | SEG_ACK, NULL);
	send(s, CLI, SEG_FIN | SEG_ACK, NULL);
	send(s, SRV, SEG_ACK, NULL);
}

static const char *const client_lines[] = {
    "EHLO client.example\r\n",		"MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",	"DATA\r\n",
    "Subject: hi\r\n\r\nbody\r\n.\r\n", "QUIT\r\n",
};
static const char *const server_lines[] = {
    "250 mx.example\r\n",      "250 2.1.0 Ok\r\n",	   "250 2.1.5 Ok\r\n",
    "354 End data with .\r\n", "250 2.0.0 Ok: queued\r\n", "221 2.0.0 Bye\r\n",
};

static void mail_dialogue(struct session *s)
{
	send(s, SRV, SEG_ACK | SEG_PSH, "220 mx.example ESMTP\r\n");
	for (size_t i = 0; i < sizeof(client_lines) / sizeof(client_lines[0]); i++) {
		send(s, CLI, SEG_ACK | SEG_PSH, client_lines[i]);
		send(s, SRV, SEG_ACK | SEG_PSH, server_lines[i]);
	}
}

static size_t total_len(const char *const *lines, size_t n)
{
	size_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += strlen(lines[i]);
	return sum;
}

static struct config test_config(void)
{
	struct config cfg;

	config_defaults(&cfg);
	cfg.emit_data = true;
	return cfg;
}

static struct capture cap;

/* ---- tests ------------------------------------------------------------- */

static void test_full_session(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	assert_non_null(p);
	session_init(&s, p, 0x0a00000a, 40001);
	uint64_t t0 = s.ts;
	handshake(&s);
	mail_dialogue(&s);
	close_both(&s);

	const char *req[16], *rep[16];
	size_t nreq = texts(&cap, EV_SMTP_REQUEST, req, 16);
	size_t nrep = texts(&cap, EV_SMTP_REPLY, rep, 16);
	static const char *const want_req[] = {
	    "request EHLO client.example",
	    "request MAIL FROM:<alice@example.org>",
	    "request RCPT TO:<bob@example.net>",
	    "request DATA ",
	    "request . .",
	    "request QUIT ",
	};
	static const char *const want_rep[] = {
	    "reply 220 mx.example ESMTP", "reply 250 mx.example",      "reply 250 2.1.0 Ok",
	    "reply 250 2.1.5 Ok",	  "reply 354 End data with .", "reply 250 2.0.0 Ok: queued",
	    "reply 221 2.0.0 Bye",
	};
	assert_int_equal(nreq, 6);
	for (size_t i = 0; i < nreq; i++)
		assert_string_equal(req[i], want_req[i]);
	assert_int_equal(nrep, 7);
	for (size_t i = 0; i < nrep; i++)
		assert_string_equal(rep[i], want_rep[i]);
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	assert_int_equal(cap.by_type[EV_SMTP_UNEXPECTED], 0);

	/* arrival order: EHLO's request comes right after the greeting's reply,
	 * with the timestamp of its segment (4th segment: t0 + 4 ms) */
	const struct seen *ehlo = find(&cap, "request EHLO client.example");
	assert_non_null(ehlo);
	assert_string_equal((ehlo - 1)->text, "reply 220 mx.example ESMTP");
	assert_string_equal((ehlo + 1)->text, "reply 250 mx.example");
	assert_int_equal(ehlo->ts_ns, t0 + 4 * MS);
	assert_true(ehlo->is_orig);
	assert_false((ehlo + 1)->is_orig);

	/* the connection ended with the second FIN (segment 18 of 19) */
	const struct seen *c = last_conn(&cap);
	assert_non_null(c);
	assert_ptr_equal(c, &cap.ev[cap.n - 1]);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(c->conn.end, CONN_END_FIN);
	assert_false(c->conn.partial);
	assert_int_equal(c->ts_ns, t0); /* the start, as Zeek's conn.log */
	assert_int_equal(c->conn.start_ns, t0);
	assert_int_equal(c->conn.duration_ns, 17 * MS);
	assert_int_equal(c->conn.transactions, 1);
	assert_int_equal(c->conn.orig_bytes, total_len(client_lines, 6));
	assert_int_equal(c->conn.resp_bytes,
			 total_len(server_lines, 6) + strlen("220 mx.example ESMTP\r\n"));
	assert_int_equal(c->conn.orig_segs, 1 + 1 + 6 + 1);
	assert_int_equal(c->conn.resp_segs, 1 + 7 + 1);
	assert_int_equal(c->conn.gaps, 0);
	assert_int_equal(c->conn.anomalies, 0);

	/* one identity for everything, oriented client -> server */
	for (size_t i = 0; i < cap.n; i++) {
		assert_string_equal(cap.ev[i].id.uid, c->id.uid);
		assert_int_equal(cap.ev[i].id.orig_p, 40001);
		assert_int_equal(cap.ev[i].id.resp_p, 25);
		assert_memory_equal(cap.ev[i].id.orig_h, s.cli.addr, 4);
		assert_memory_equal(cap.ev[i].id.resp_h, s.srv.addr, 4);
	}

	/* the last ACK belongs to the closed connection: no new one */
	const struct pipeline_stats *st = pipeline_stats(p);
	assert_int_equal(st->conns_total, 1);
	assert_int_equal(st->conns_active, 0);
	assert_int_equal(st->segments, 19);
	assert_int_equal(st->events[EV_SMTP_REQUEST], 6);
	assert_int_equal(st->events[EV_SMTP_CONNECTION], 1);
	pipeline_finish(p);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	pipeline_free(p);
}

static void test_data_event_and_fin_flush(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a00000b, 40002);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	send(&s, CLI, SEG_ACK, "HELO x\r\n");
	send(&s, SRV, SEG_ACK, "250 ok\r\n");
	/* the last line has no terminator: the FIN delivers it */
	send(&s, CLI, SEG_ACK | SEG_FIN, "QUIT");
	assert_non_null(find(&cap, "request QUIT "));
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	send(&s, SRV, SEG_ACK | SEG_FIN, "221 bye");
	assert_non_null(find(&cap, "reply 221 bye"));
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_FIN);
	pipeline_free(p);
}

static void test_orientation_server_first(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a00000c, 40003);
	/* capture starts mid-session with a server segment */
	send(&s, SRV, SEG_ACK, "250 2.1.0 Ok\r\n");
	send(&s, CLI, SEG_ACK, "RCPT TO:<bob@example.net>\r\n");
	send(&s, SRV, SEG_ACK, "250 2.1.5 Ok\r\n");
	pipeline_finish(p);

	const struct seen *c = last_conn(&cap);
	assert_non_null(c);
	assert_true(c->conn.partial);
	assert_int_equal(c->conn.end, CONN_END_INPUT);
	assert_int_equal(c->id.orig_p, 40003);
	assert_int_equal(c->id.resp_p, 25);
	assert_memory_equal(c->id.orig_h, s.cli.addr, 4);
	assert_int_equal(c->conn.orig_segs, 1);
	assert_int_equal(c->conn.resp_segs, 2);
	/* after a mid-session start the parser trusts commands again from the
	 * next reply on */
	assert_non_null(find(&cap, "request RCPT TO:<bob@example.net>"));
	assert_int_equal(c->ts_ns, c->conn.start_ns); /* the start, as Zeek's conn.log */
	pipeline_free(p);
}

static void test_orientation_synack_first(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a00000d, 40004);
	s.cli.seq++; /* the SYN was sent, we missed it */
	send(&s, SRV, SEG_SYN | SEG_ACK, NULL);
	send(&s, CLI, SEG_ACK, NULL);
	mail_dialogue(&s);
	pipeline_finish(p);
	const struct seen *c = last_conn(&cap);
	assert_false(c->conn.partial);
	assert_int_equal(c->id.orig_p, 40004);
	assert_int_equal(c->conn.transactions, 1);
	assert_non_null(find(&cap, "request EHLO client.example"));
	pipeline_free(p);
}

static void test_one_sided_capture(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000061, 40061);
	/* only the client's packets were captured; its ACKs cover server
	 * bytes we never see */
	send(&s, CLI, SEG_SYN, NULL);
	s.srv.seq += 1 + 40;
	send(&s, CLI, SEG_ACK, NULL);
	send(&s, CLI, SEG_ACK, "EHLO one.side\r\n");
	s.srv.seq += 100;
	send(&s, CLI, SEG_ACK, "MAIL FROM:<a@b>\r\n");
	send(&s, CLI, SEG_ACK | SEG_FIN, NULL);
	s.srv.seq += 1;
	send(&s, CLI, SEG_ACK, NULL); /* after our FIN, acking theirs */
	pipeline_finish(p);
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	assert_non_null(find(&cap, "request EHLO one.side"));
	const struct seen *c = last_conn(&cap);
	assert_int_equal(c->conn.gaps, 0);
	assert_int_equal(c->conn.resp_bytes, 0);
	assert_int_equal(c->conn.orig_bytes, strlen("EHLO one.side\r\nMAIL FROM:<a@b>\r\n"));
	pipeline_free(p);
}

static void test_ignored_ports(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a00000e, 40005);
	s.srv.port = 80;
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 not smtp\r\n");
	pipeline_finish(p);
	assert_int_equal(pipeline_stats(p)->ignored, 4);
	assert_int_equal(pipeline_stats(p)->conns_total, 0);
	assert_int_equal(cap.total, 0);
	pipeline_free(p);
}

/* The uids of a fixed multi-connection input. */
static void run_uids(char uids[][20], size_t n)
{
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	for (size_t i = 0; i < n; i++) {
		/* same client port for all: every connection reuses the tuple */
		session_init(&s, p, 0x0a000010, 40010);
		s.ts += i * SEC;
		handshake(&s);
		close_both(&s);
	}
	pipeline_finish(p);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], n);
	for (size_t i = 0, k = 0; i < cap.n; i++)
		if (cap.ev[i].type == EV_SMTP_CONNECTION)
			memcpy(uids[k++], cap.ev[i].id.uid, 20);
	pipeline_free(p);
}

static void test_uids(void **state)
{
	(void)state;
	enum { N = 60 };
	char a[N][20], b[N][20];
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	run_uids(a, N);
	run_uids(b, N);
	for (size_t i = 0; i < N; i++) {
		assert_string_equal(a[i], b[i]); /* same input, same uids */
		assert_int_equal(strlen(a[i]), 18);
		assert_int_equal(a[i][0], 'C');
		assert_int_equal(strspn(a[i] + 1, alphabet), 17);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(a[i], a[j]);
	}
}

static int compare_uids(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_uids_unique_same_tuple_same_time(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct config cfg = test_config();
	static char uids[N][20];
	struct session s;

	cfg.max_conns = 10;
	cfg.events_mask = EV_MASK(EV_SMTP_CONNECTION);
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	for (size_t i = 0; i < N; i++) {
		/* identical timestamp and tuple: only the counter differs */
		session_init(&s, p, 0x0a000011, 40011);
		send(&s, CLI, SEG_SYN, NULL);
		send(&s, CLI, SEG_RST, NULL);
	}
	assert_int_equal(cap.n, N);
	for (size_t i = 0; i < N; i++)
		memcpy(uids[i], cap.ev[i].id.uid, 20);
	pipeline_free(p);
	qsort(uids, N, sizeof(uids[0]), compare_uids);
	for (size_t i = 1; i < N; i++)
		assert_string_not_equal(uids[i - 1], uids[i]);
}

static void test_port_reuse(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000012, 40012);
	handshake(&s);
	mail_dialogue(&s);
	close_both(&s);
	/* a retransmitted FIN after the end is a straggler */
	s.srv.seq--;
	send(&s, SRV, SEG_FIN | SEG_ACK, NULL);
	assert_int_equal(pipeline_stats(p)->conns_total, 1);

	/* same tuple, new SYN: a new connection */
	s.cli.seq += 100000;
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 again\r\n");
	/* half-closed, then reused again */
	send(&s, CLI, SEG_FIN | SEG_ACK, NULL);
	s.cli.seq += 100000;
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 third\r\n");
	pipeline_finish(p);

	assert_int_equal(pipeline_stats(p)->conns_total, 3);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 3);
	const struct seen *conns[3];
	for (size_t i = 0, k = 0; i < cap.n; i++)
		if (cap.ev[i].type == EV_SMTP_CONNECTION)
			conns[k++] = &cap.ev[i];
	assert_int_equal(conns[0]->conn.end, CONN_END_FIN);
	assert_int_equal(conns[1]->conn.end, CONN_END_FIN);
	assert_int_equal(conns[2]->conn.end, CONN_END_INPUT);
	assert_string_not_equal(conns[0]->id.uid, conns[1]->id.uid);
	assert_string_not_equal(conns[1]->id.uid, conns[2]->id.uid);
	assert_string_equal(find(&cap, "reply 220 again")->id.uid, conns[1]->id.uid);
	assert_string_equal(find(&cap, "reply 220 third")->id.uid, conns[2]->id.uid);
	pipeline_free(p);
}

static void test_rst_flushes(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000013, 40013);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	/* the client's next segment is lost, the one after it is buffered */
	struct segment lost = make(&s, CLI, SEG_ACK, "HELO a\r\n");
	(void)lost;
	send(&s, CLI, SEG_ACK, "NOOP\r\n");
	assert_int_equal(cap.by_type[EV_SMTP_REQUEST], 0);
	send(&s, CLI, SEG_RST, NULL);

	const struct seen *gap = find(&cap, "gap 0 8");
	assert_non_null(gap);
	assert_true(gap->is_orig);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_RST);
	assert_int_equal(last_conn(&cap)->conn.gaps, 1);
	assert_int_equal(last_conn(&cap)->conn.gap_bytes, 8);
	assert_int_equal(pipeline_stats(p)->gaps, 1);
	assert_int_equal(pipeline_stats(p)->gap_bytes, 8);
	/* the gap comes before the connection summary, which comes last */
	assert_true(gap < last_conn(&cap));
	/* the peer's RST and a late ACK do not start a new connection */
	send(&s, SRV, SEG_RST | SEG_ACK, NULL);
	send(&s, CLI, SEG_ACK, NULL);
	assert_int_equal(pipeline_stats(p)->conns_total, 1);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	pipeline_free(p);
}

static void test_peer_ack_gap_event(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000014, 40014);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	send(&s, CLI, SEG_ACK, "EHLO a\r\n");
	(void)make(&s, SRV, SEG_ACK, "250-first\r\n"); /* never seen */
	send(&s, SRV, SEG_ACK, "250 last\r\n");
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	/* the client acknowledges both: 11 server bytes are lost for good */
	send(&s, CLI, SEG_ACK, "MAIL FROM:<a@b>\r\n");
	const struct seen *gap = find(&cap, "gap 8 11");
	assert_non_null(gap);
	assert_false(gap->is_orig);
	assert_string_equal((gap + 1)->text, "unexpected content gap");
	/* the ACK is taken before the data of its own segment: the gap, the
	 * server data it releases, then the client's command */
	const struct seen *reply = find(&cap, "reply 250 last");
	const struct seen *mail = find(&cap, "request MAIL FROM:<a@b>");
	assert_non_null(reply);
	assert_non_null(mail);
	assert_true(gap < reply && reply < mail);
	pipeline_finish(p);
	assert_int_equal(last_conn(&cap)->conn.gap_bytes, 11);
	assert_int_equal(last_conn(&cap)->conn.anomalies,
			 cap.by_type[EV_SMTP_UNEXPECTED] + cap.by_type[EV_WEIRD]);
	pipeline_free(p);
}

static void test_inconsistent_retransmission(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000071, 40071);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	uint32_t at = s.cli.seq;
	send(&s, CLI, SEG_ACK, "HELO good\r\n");
	/* two retransmissions with other bytes: the first copy stands, and
	 * each is a weird with both copies */
	s.cli.seq = at;
	send(&s, CLI, SEG_ACK, "HELO evil\r\n");
	s.cli.seq = at;
	send(&s, CLI, SEG_ACK, "HELO \x1b\"\\L\r\n");
	pipeline_finish(p);
	assert_non_null(find(&cap, "request HELO good"));
	assert_null(find(&cap, "request HELO evil"));
	assert_non_null(find(&cap,
			     "weird rexmit_inconsistency offset=0 kept=\"HELO good\\x0d\\x0a\" "
			     "dropped=\"HELO evil\\x0d\\x0a\""));
	assert_non_null(find(&cap,
			     "weird rexmit_inconsistency offset=0 kept=\"HELO good\\x0d\\x0a\" "
			     "dropped=\"HELO \\x1b\\x22\\x5cL\\x0d\\x0a\""));
	/* The summary counts the direction once, however the sender cut it. */
	const struct seen *c = last_conn(&cap);
	assert_int_equal(c->conn.anomalies,
			 1 + cap.by_type[EV_SMTP_UNEXPECTED] + cap.by_type[EV_WEIRD] - 2);
	assert_int_equal(c->conn.orig_bytes, strlen("HELO good\r\n"));
	pipeline_free(p);
}

static void test_idle_timeout(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session a, b;

	cfg.idle_timeout_ns = 60 * SEC;
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&a, p, 0x0a000015, 40015);
	handshake(&a);
	send(&a, SRV, SEG_ACK, "220 a\r\n");
	uint64_t a_last = a.ts - MS;

	/* live: the clock ticks */
	pipeline_tick(p, a_last + 60 * SEC, 0);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	pipeline_tick(p, a_last + 61 * SEC, 0);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_TIMEOUT);
	assert_int_equal(last_conn(&cap)->ts_ns, last_conn(&cap)->conn.start_ns);
	assert_int_equal(pipeline_stats(p)->conns_timed_out, 1);
	assert_int_equal(pipeline_stats(p)->conns_active, 0);

	/* offline: another connection's segments carry the clock */
	session_init(&b, p, 0x0a000016, 40016);
	b.ts = a_last + 100 * SEC;
	handshake(&b);
	session_init(&a, p, 0x0a000017, 40017);
	a.ts = b.ts;
	handshake(&a);
	b.ts += 30 * SEC;
	send(&b, SRV, SEG_ACK, "220 b\r\n");
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	b.ts += 40 * SEC; /* a idle for 70 s, b for 40 s */
	send(&b, CLI, SEG_ACK, "EHLO b\r\n");
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 2);
	assert_int_equal(last_conn(&cap)->id.orig_p, 40017);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_TIMEOUT);
	assert_int_equal(pipeline_stats(p)->conns_timed_out, 2);
	pipeline_finish(p);
	assert_int_equal(last_conn(&cap)->id.orig_p, 40016);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_INPUT);
	pipeline_free(p);
}

/* The events of the connection whose client port is port, with text starting
 * with prefix. */
static size_t count_conn(const struct capture *c, uint16_t port, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += c->ev[i].id.orig_p == port && !strncmp(c->ev[i].text, prefix, strlen(prefix));
	return n;
}

/* Every event of the connection whose client port is port has one uid. */
static void assert_one_uid(const struct capture *c, uint16_t port)
{
	const char *uid = NULL;

	for (size_t i = 0; i < c->n; i++) {
		if (c->ev[i].id.orig_p != port)
			continue;
		if (!uid)
			uid = c->ev[i].id.uid;
		assert_string_equal(c->ev[i].id.uid, uid);
	}
	assert_non_null(uid);
}

/* Time from the wrong place in a capture (issue 14, case 9): the clock steps
 * back an hour while a is open, b opens after the step, then one of a's
 * packets is stamped 0xfffffff0 s. Nothing times out, each connection keeps
 * its uid and its parser state (MAIL is answered as MAIL), a has a weird per
 * step, and the pipeline counts the steps. */
static void test_time_steps(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session a, b;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&a, p, 0x0a000031, 40031);
	session_init(&b, p, 0x0a000032, 40032);
	handshake(&a);
	send(&a, SRV, SEG_ACK | SEG_PSH, "220 a\r\n");
	send(&a, CLI, SEG_ACK | SEG_PSH, "EHLO a\r\n");
	uint64_t a_before = a.ts - MS;
	a.ts -= 3600 * SEC; /* the capture's clock steps back an hour */
	send(&a, SRV, SEG_ACK | SEG_PSH, "250 a\r\n");
	b.ts = a.ts;
	handshake(&b);
	send(&b, SRV, SEG_ACK | SEG_PSH, "220 b\r\n");
	pipeline_tick(p, b.ts, 0);
	send(&b, CLI, SEG_ACK | SEG_PSH, "EHLO b\r\n");
	send(&b, SRV, SEG_ACK | SEG_PSH, "250 b\r\n");
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	assert_int_equal(pipeline_stats(p)->time_backwards, 1);

	a.ts = b.ts;
	send(&a, CLI, SEG_ACK | SEG_PSH, "MAIL FROM:<x@a>\r\n");
	uint64_t a_resume = a.ts;
	a.ts = 0xfffffff0ull * SEC; /* one packet from 2106 */
	send(&a, SRV, SEG_ACK | SEG_PSH, "250 2.1.0 Ok\r\n");
	a.ts = a_resume + MS;
	b.ts = a.ts;
	send(&b, CLI, SEG_ACK | SEG_PSH, "MAIL FROM:<x@b>\r\n");
	send(&b, SRV, SEG_ACK | SEG_PSH, "250 2.1.0 Ok\r\n");
	a.ts = b.ts;
	send(&a, CLI, SEG_ACK | SEG_PSH, "QUIT\r\n");
	send(&a, SRV, SEG_ACK | SEG_PSH, "221 a\r\n");
	close_both(&a);
	b.ts = a.ts;
	close_both(&b);
	pipeline_finish(p);

	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 2);
	assert_int_equal(cap.by_end[CONN_END_FIN], 2);
	assert_int_equal(cap.by_type[EV_SMTP_UNEXPECTED], 0);
	assert_one_uid(&cap, 40031);
	assert_one_uid(&cap, 40032);
	assert_int_equal(count_conn(&cap, 40031, "reply 250 2.1.0 Ok"), 1);
	assert_int_equal(count_conn(&cap, 40032, "reply 250 2.1.0 Ok"), 1);
	/* a: back an hour (3600 s less the 1 ms between its two packets), to
	 * 2106 and back from there; b saw none of it */
	assert_non_null(find(&cap, "weird time_went_backwards 3599.999000 s"));
	assert_int_equal(count_conn(&cap, 40031, "weird time_went_backwards"), 2);
	assert_int_equal(count_conn(&cap, 40031, "weird time_jumped_forward"), 1);
	assert_int_equal(count_conn(&cap, 40032, "weird"), 0);
	assert_int_equal(pipeline_stats(p)->time_backwards, 2);
	assert_int_equal(pipeline_stats(p)->time_jumps, 1);
	for (size_t i = 0; i < cap.n; i++) {
		const struct seen *e = &cap.ev[i];
		if (e->type != EV_SMTP_CONNECTION)
			continue;
		if (e->id.orig_p == 40031) {
			assert_int_equal(e->conn.anomalies, 3);
			/* its own time without the steps: well under a minute */
			assert_true(e->conn.duration_ns < 60 * SEC);
			assert_true(e->ts_ns < a_before);
		} else {
			assert_int_equal(e->conn.anomalies, 0);
		}
	}
	pipeline_free(p);
}

/* Live: segments carry the boot clock (mono_ns) besides the wall clock. A
 * wall clock stepped back an hour, then ahead two, ends no connection (the
 * idle clock runs on boot time; the connection gets its weirds, the
 * pipeline's counters stay 0); idleness on boot time still ends it. */
static void test_wall_clock_steps(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session a;
	uint64_t boot = 1000 * SEC;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&a, p, 0x0a000033, 40033);
	struct segment seg = make(&a, CLI, SEG_SYN, NULL);
	seg.mono_ns = boot;
	pipeline_segment(p, &seg);
	pipeline_tick(p, a.ts, boot += SEC);
	a.ts -= 3600 * SEC; /* settimeofday an hour back */
	pipeline_tick(p, a.ts, boot += SEC);
	seg = make(&a, SRV, SEG_SYN | SEG_ACK, NULL);
	seg.mono_ns = boot += MS;
	pipeline_segment(p, &seg);
	a.ts += 7200 * SEC; /* and two hours ahead */
	pipeline_tick(p, a.ts, boot += SEC);
	seg = make(&a, CLI, SEG_ACK, NULL);
	seg.mono_ns = boot += MS;
	pipeline_segment(p, &seg);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	assert_int_equal(count_conn(&cap, 40033, "weird time_went_backwards"), 1);
	assert_int_equal(count_conn(&cap, 40033, "weird time_jumped_forward"), 1);
	assert_int_equal(pipeline_stats(p)->time_backwards, 0);
	assert_int_equal(pipeline_stats(p)->time_jumps, 0);

	/* 301 s of boot time without a segment: idle */
	for (int i = 0; i < 301; i++)
		pipeline_tick(p, a.ts + (uint64_t)i * SEC, boot += SEC);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_TIMEOUT);
	assert_int_equal(last_conn(&cap)->conn.anomalies, 2);
	pipeline_finish(p);
	pipeline_free(p);
}

static void test_eviction_lru(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s1, s2, s3;

	cfg.max_conns = 2;
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s1, p, 0x0a000021, 40021);
	session_init(&s2, p, 0x0a000022, 40022);
	session_init(&s3, p, 0x0a000023, 40023);
	handshake(&s1);
	handshake(&s2);
	send(&s1, SRV, SEG_ACK, "220 one\r\n"); /* s2 is now the least recent */
	handshake(&s3);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	const struct seen *c = last_conn(&cap);
	assert_int_equal(c->conn.end, CONN_END_EVICTED);
	assert_int_equal(c->id.orig_p, 40022);
	assert_int_equal(pipeline_stats(p)->conns_evicted, 1);
	assert_int_equal(pipeline_stats(p)->conns_active, 2);
	/* s1 is still tracked: its dialogue goes on in the same connection */
	send(&s1, CLI, SEG_ACK, "EHLO one\r\n");
	assert_string_equal(find(&cap, "request EHLO one")->id.uid,
			    find(&cap, "reply 220 one")->id.uid);
	pipeline_free(p);
}

static void test_total_buffer_eviction(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s1, s2;
	static char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	cfg.max_total_buffer = 4000;
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s1, p, 0x0a000031, 40031);
	session_init(&s2, p, 0x0a000032, 40032);
	handshake(&s1);
	handshake(&s2);
	(void)make(&s1, SRV, SEG_ACK, "220 x\r\n"); /* lost: the rest waits */
	send(&s1, SRV, SEG_ACK, big);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	assert_true(pipeline_stats(p)->buffered_bytes >= sizeof(big) - 1);
	(void)make(&s2, SRV, SEG_ACK, "220 y\r\n");
	send(&s2, SRV, SEG_ACK, big); /* 6000 buffered: s1 has to go */
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(last_conn(&cap)->id.orig_p, 40031);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_EVICTED);
	assert_true(pipeline_stats(p)->buffer_limit_hits >= 1);
	assert_true(pipeline_stats(p)->buffered_bytes <= 4000);
	/* alone over the limit: the current connection is flushed instead */
	send(&s2, SRV, SEG_ACK, big);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_true(pipeline_stats(p)->buffered_bytes <= 4000);
	pipeline_free(p);
}

static void test_event_mask(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	cfg.events_mask = EV_MASK(EV_SMTP_CONNECTION) | EV_MASK(EV_SMTP_REPLY);
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000041, 40041);
	handshake(&s);
	mail_dialogue(&s);
	(void)make(&s, CLI, SEG_ACK, "lost\r\n");
	send(&s, CLI, SEG_ACK | SEG_FIN, NULL);
	pipeline_finish(p);
	assert_int_equal(cap.by_type[EV_SMTP_REQUEST], 0);
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	assert_int_equal(cap.by_type[EV_SMTP_REPLY], 7);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(cap.total, 8);
	/* counted even though not written */
	assert_int_equal(pipeline_stats(p)->events[EV_CONTENT_GAP], 1);
	assert_int_equal(last_conn(&cap)->conn.gaps, 1);
	pipeline_free(p);
}

struct tls_hook_log {
	int calls;
	struct conn_id id;
};

static void tls_hook(void *ctx, const struct conn_id *id)
{
	struct tls_hook_log *log = ctx;

	log->calls++;
	log->id = *id;
}

static void test_tls_hook(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct tls_hook_log log = {0};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	pipeline_set_tls_hook(p, tls_hook, &log);
	session_init(&s, p, 0x0a000051, 40051);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	send(&s, CLI, SEG_ACK, "EHLO a\r\n");
	send(&s, SRV, SEG_ACK, "250 STARTTLS\r\n");
	send(&s, CLI, SEG_ACK, "STARTTLS\r\n");
	assert_int_equal(log.calls, 0);
	send(&s, SRV, SEG_ACK, "220 go ahead\r\n");
	assert_int_equal(log.calls, 1);
	assert_int_equal(cap.by_type[EV_SMTP_STARTTLS], 1);
	assert_int_equal(log.id.orig_p, 40051);
	assert_string_equal(log.id.uid, find(&cap, "smtp_starttls")->id.uid);
	size_t before = cap.total;
	/* encrypted bytes: counted, never parsed; then length-only segments */
	send(&s, CLI, SEG_ACK, "\x16\x03\x01 MAIL FROM:<not@parsed>\r\n");
	send(&s, SRV, SEG_ACK, "\x16\x03\x03 250 not a reply\r\n");
	struct segment enc = make(&s, CLI, SEG_ACK, "0123456789");
	enc.payload = NULL;
	pipeline_segment(p, &enc);
	assert_int_equal(cap.total, before);
	assert_int_equal(log.calls, 1);
	pipeline_finish(p);
	const struct seen *c = last_conn(&cap);
	assert_true(c->conn.tls);
	assert_int_equal(c->conn.orig_bytes, strlen("EHLO a\r\nSTARTTLS\r\n") +
						 strlen("\x16\x03\x01 MAIL FROM:<not@parsed>\r\n") +
						 10);
	assert_int_equal(c->conn.anomalies, 0);
	pipeline_free(p);
}

static void test_tls_hook_with_masked_starttls(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct tls_hook_log log = {0};
	struct session s;

	cfg.events_mask = EV_MASK(EV_SMTP_CONNECTION);
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	pipeline_set_tls_hook(p, tls_hook, &log);
	session_init(&s, p, 0x0a000052, 40052);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	send(&s, CLI, SEG_ACK, "STARTTLS\r\n");
	send(&s, SRV, SEG_ACK, "220 go ahead\r\n");
	assert_int_equal(log.calls, 1);
	pipeline_free(p);
}

static void test_null_payload_before_tls_is_gap(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000053, 40053);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	struct segment seg = make(&s, CLI, SEG_ACK, "EHLO a\r\n");
	seg.payload = NULL;
	pipeline_segment(p, &seg);
	assert_non_null(find(&cap, "unexpected content gap"));
	assert_int_equal(cap.by_type[EV_SMTP_REQUEST], 0);
	pipeline_free(p);
}

/* A live source stops handing over an encrypted flow's data: only its FINs
 * come, flagged SEG_ENCRYPTED; their sequence numbers and ACKs account for
 * every byte, and nothing is a gap. */
static void test_encrypted_flow_sparse(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000054, 40054);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 hi\r\n");
	send(&s, CLI, SEG_ACK, "EHLO a\r\n");
	send(&s, SRV, SEG_ACK, "250 STARTTLS\r\n");
	send(&s, CLI, SEG_ACK, "STARTTLS\r\n");
	send(&s, SRV, SEG_ACK, "220 go ahead\r\n");
	s.cli.seq += 3000; /* suppressed by the source */
	s.srv.seq += 70000;
	struct segment fin = make(&s, SRV, SEG_FIN | SEG_ACK, NULL);
	fin.flags |= SEG_ENCRYPTED;
	pipeline_segment(p, &fin);
	s.cli.seq += 24; /* after the server's FIN: the source would report it */
	fin = make(&s, CLI, SEG_FIN | SEG_ACK, NULL);
	fin.flags |= SEG_ENCRYPTED;
	pipeline_segment(p, &fin);
	const struct seen *c = last_conn(&cap);
	assert_non_null(c);
	assert_int_equal(c->conn.end, CONN_END_FIN);
	assert_true(c->conn.tls);
	assert_int_equal(c->conn.orig_bytes, strlen("EHLO a\r\nSTARTTLS\r\n") + 3000 + 24);
	assert_int_equal(c->conn.resp_bytes,
			 strlen("220 hi\r\n250 STARTTLS\r\n220 go ahead\r\n") + 70000);
	assert_int_equal(c->conn.gaps, 0);
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	assert_int_equal(c->conn.anomalies, 0);
	pipeline_free(p);
}

/* ---- body skipping (docs/body-skip.md) ---------------------------------- */

struct skip_log {
	int calls;
	struct pipeline_skip last[4];
};

static void skip_hook(void *ctx, const struct conn_id *id, const struct pipeline_skip *skip)
{
	struct skip_log *log = ctx;

	(void)id;
	if (log->calls < 4)
		log->last[log->calls] = *skip;
	log->calls++;
}

/* A client segment as a live source hands it over in skip mode: the
 * skipped bytes (NULL), then the copied tail (the last 4 bytes) -- or, for a
 * BDAT chunk (tail 0), the whole segment uncopied. */
static void send_skipped(struct session *s, const char *data, size_t tail)
{
	size_t len = strlen(data);
	struct segment seg = make(s, CLI, SEG_ACK | SEG_PSH, data);
	struct segment skipped = seg;

	skipped.flags = SEG_ACK;
	skipped.payload = NULL;
	skipped.payload_len = len - tail;
	pipeline_segment(s->p, &skipped);
	if (!tail)
		return;
	seg.seq += len - tail;
	seg.payload += len - tail;
	seg.payload_len = tail;
	pipeline_segment(s->p, &seg);
}

static char chunk[3000]; /* 2999 bytes and a NUL */

/* One DATA mail with a body and one BDAT mail, cut the same way in both
 * modes; skip: the body and chunk segments arrive as in skip mode. */
static void skip_session(struct session *s, bool skip)
{
	static const char *const body[] = {"aaaa\r\nbbbb\r\n", "cc.\r\n..dd\r\n", "eeee\r\n"};
	static const char bdat[] = "BDAT 2999 LAST\r\n";

	handshake(s);
	send(s, SRV, SEG_ACK, "220 mx\r\n");
	send(s, CLI, SEG_ACK, "EHLO c\r\n");
	send(s, SRV, SEG_ACK, "250-mx\r\n250 CHUNKING\r\n");
	send(s, CLI, SEG_ACK, "MAIL FROM:<a@x>\r\n");
	send(s, SRV, SEG_ACK, "250 ok\r\n");
	send(s, CLI, SEG_ACK, "RCPT TO:<b@y>\r\n");
	send(s, SRV, SEG_ACK, "250 ok\r\n");
	send(s, CLI, SEG_ACK, "DATA\r\n");
	send(s, SRV, SEG_ACK, "354 go\r\n");
	send(s, CLI, SEG_ACK, "Subject: x\r\n\r\n");
	for (size_t i = 0; i < 3; i++) {
		if (skip)
			send_skipped(s, body[i], 4);
		else
			send(s, CLI, SEG_ACK, body[i]);
	}
	send(s, CLI, SEG_ACK, ".\r\n");
	send(s, SRV, SEG_ACK, "250 queued\r\n");
	send(s, CLI, SEG_ACK, "MAIL FROM:<a@x>\r\n");
	send(s, SRV, SEG_ACK, "250 ok\r\n");
	send(s, CLI, SEG_ACK, "RCPT TO:<b@y>\r\n");
	send(s, SRV, SEG_ACK, "250 ok\r\n");
	send(s, CLI, SEG_ACK, bdat);
	memset(chunk, 'z', sizeof(chunk) - 1);
	chunk[1448] = '\0';
	if (skip)
		send_skipped(s, chunk, 0);
	else
		send(s, CLI, SEG_ACK, chunk);
	chunk[1448] = 'z';
	if (skip)
		send_skipped(s, chunk + 1448, 0);
	else
		send(s, CLI, SEG_ACK, chunk + 1448);
	send(s, SRV, SEG_ACK, "250 queued too\r\n");
	send(s, CLI, SEG_ACK, "QUIT\r\n");
	send(s, SRV, SEG_ACK, "221 bye\r\n");
	close_both(s);
}

static void test_body_skip_same_commands_and_replies(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct skip_log log = {0};
	struct session s;
	static struct capture copied;
	const char *req[2][32], *rep[2][32];
	size_t nreq[2], nrep[2];

	for (int skip = 0; skip < 2; skip++) {
		struct capture *c = skip ? &cap : &copied;

		capture_init(c);
		struct pipeline *p = pipeline_new(&cfg, &c->sink);
		if (skip)
			pipeline_set_skip_hook(p, skip_hook, &log);
		session_init(&s, p, 0x0a000060, 40060);
		skip_session(&s, skip);
		nreq[skip] = texts(c, EV_SMTP_REQUEST, req[skip], 32);
		nrep[skip] = texts(c, EV_SMTP_REPLY, rep[skip], 32);
		assert_int_equal(c->by_type[EV_CONTENT_GAP], 0);
		assert_int_equal(c->by_type[EV_SMTP_UNEXPECTED], 0);
		const struct seen *conn = last_conn(c);
		assert_non_null(conn);
		assert_int_equal(conn->conn.transactions, 2);
		assert_int_equal(conn->conn.anomalies, 0);
		if (skip) {
			const struct pipeline_stats *ps = pipeline_stats(p);
			/* the three body segments less their tails, the chunk */
			assert_int_equal(ps->skipped_bytes, 8 + 7 + 2 + 2999);
			assert_int_equal(ps->skip_fallbacks, 0);
			/* data lines only where whole lines were copied */
			assert_true(c->by_type[EV_SMTP_DATA] < copied.by_type[EV_SMTP_DATA]);
		}
		pipeline_free(p);
	}
	assert_int_equal(nreq[0], 9);
	assert_int_equal(nreq[0], nreq[1]);
	assert_int_equal(nrep[0], nrep[1]);
	for (size_t i = 0; i < nreq[0]; i++)
		assert_string_equal(req[0][i], req[1][i]);
	for (size_t i = 0; i < nrep[0]; i++)
		assert_string_equal(rep[0][i], rep[1][i]);

	/* the hook: once for the body (the server stood at its next byte),
	 * once for the chunk (its end) */
	assert_int_equal(log.calls, 2);
	assert_false(log.last[0].chunk);
	uint32_t srv_isn = 7000, cli_isn = 0xfffffff0u;
	uint32_t srv_before_body = srv_isn + 1 +
				   strlen("220 mx\r\n250-mx\r\n250 CHUNKING\r\n"
					  "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(log.last[0].server_next, srv_before_body);
	assert_true(log.last[1].chunk);
	uint32_t cli_chunk_start =
	    cli_isn + 1 +
	    strlen("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nSubject: x\r\n\r\n"
		   "aaaa\r\nbbbb\r\ncc.\r\n..dd\r\neeee\r\n.\r\nMAIL FROM:<a@x>\r\n"
		   "RCPT TO:<b@y>\r\nBDAT 2999 LAST\r\n");
	assert_int_equal(log.last[1].end_seq, cli_chunk_start + 2999);
}

/* "." pipelined with the next command inside a skipped segment: the end is
 * missed; the server's reply reveals it, the skipped bytes become a gap for
 * the parser, which recovers as after any gap. */
static void test_body_skip_missed_end_falls_back(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct skip_log log = {0};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	pipeline_set_skip_hook(p, skip_hook, &log);
	session_init(&s, p, 0x0a000061, 40061);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 mx\r\n");
	send(&s, CLI, SEG_ACK, "EHLO c\r\n");
	send(&s, SRV, SEG_ACK, "250 mx\r\n");
	send(&s, CLI, SEG_ACK, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	send(&s, SRV, SEG_ACK, "250 ok\r\n250 ok\r\n354 go\r\n");
	send(&s, CLI, SEG_ACK, "Subject: x\r\n\r\n");
	assert_int_equal(log.calls, 1);
	send_skipped(&s, "body\r\n.\r\nQUIT\r\n", 4);
	assert_int_equal(cap.by_type[EV_SMTP_UNEXPECTED], 0);
	send(&s, SRV, SEG_ACK, "250 queued\r\n221 bye\r\n");
	assert_non_null(find(&cap, "unexpected content gap"));
	assert_int_equal(pipeline_stats(p)->skipped_bytes, 11);
	close_both(&s);
	assert_int_equal(pipeline_stats(p)->skip_fallbacks, 1);
	assert_int_equal(cap.by_type[EV_CONTENT_GAP], 0);
	assert_non_null(find(&cap, "request (UNKNOWN) "));
	pipeline_free(p);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- TLS plaintext (pipeline_plaintext) ---------------------------------- */

/* Plaintext of s's connection as one end's library passed it; offsets are
 * kept per end and direction, as the kernel counts them. */
struct plain_end {
	enum plaintext_view view;
	uint64_t off[2]; /* by from_client */
	struct plaintext_object object;
};

static void plain(struct session *s, struct plain_end *e, bool from_cli, const char *text)
{
	struct plaintext pt = {
	    .ts_ns = s->ts,
	    .family = 4,
	    .client_port = s->cli.port,
	    .server_port = s->srv.port,
	    .from_client = from_cli,
	    .view = e->view,
	    .object = e->object,
	    .offset = e->off[from_cli],
	    .data = (const uint8_t *)text,
	    .len = (uint32_t)strlen(text),
	};

	memcpy(pt.client, s->cli.addr, sizeof(pt.client));
	memcpy(pt.server, s->srv.addr, sizeof(pt.server));
	e->off[from_cli] += pt.len;
	s->ts += MS;
	pipeline_plaintext(s->p, &pt);
}

static void starttls_on_the_wire(struct session *s)
{
	handshake(s);
	send(s, SRV, SEG_ACK, "220 mx ESMTP\r\n");
	send(s, CLI, SEG_ACK, "EHLO a\r\n");
	send(s, SRV, SEG_ACK, "250 STARTTLS\r\n");
	send(s, CLI, SEG_ACK, "STARTTLS\r\n");
	send(s, SRV, SEG_ACK, "220 go ahead\r\n");
	send(s, CLI, SEG_ACK, "\x16\x03\x01 client hello, not parsed\r\n");
}

static size_t count_in_tls(const struct capture *c, enum event_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += c->ev[i].type == type && c->ev[i].in_tls;
	return n;
}

static void test_plaintext_after_starttls(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct plain_end client = {.view = PLAINTEXT_CLIENT_END},
			 server = {.view = PLAINTEXT_SERVER_END};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000061, 40061);
	starttls_on_the_wire(&s);
	/* The client's library speaks first: it feeds the session; the
	 * server's copy of the same bytes is left out. */
	plain(&s, &client, CLI, "EHLO b\r\n");
	plain(&s, &server, CLI, "EHLO b\r\n");
	plain(&s, &server, SRV, "250 mx\r\n");
	plain(&s, &client, SRV, "250 mx\r\n");
	plain(&s, &client, CLI, "MAIL FROM:<a@b>\r\n");
	plain(&s, &client, SRV, "250 ok\r\n");
	plain(&s, &client, CLI, "DATA\r\n");
	plain(&s, &client, SRV, "354 go\r\n");
	plain(&s, &client, CLI, "Subject: inside\r\n\r\nbody\r\n.\r\n");
	plain(&s, &client, SRV, "250 queued\r\n");
	plain(&s, &client, CLI, "MAIL FROM:<a@b>\r\n");
	/* Twice the same bytes (no loss, no double line), then a hole. */
	client.off[CLI] -= strlen("MAIL FROM:<a@b>\r\n");
	plain(&s, &client, CLI, "MAIL FROM:<a@b>\r\n");
	plain(&s, &client, SRV, "250 ok\r\n");
	client.off[CLI] += 100;
	plain(&s, &client, CLI, "QUIT\r\n");
	assert_int_equal(pipeline_stats(p)->plain_other_view, 2);
	assert_int_equal(pipeline_stats(p)->plain_overlap_bytes, strlen("MAIL FROM:<a@b>\r\n"));
	assert_non_null(find(&cap, "request EHLO b"));
	assert_true(find(&cap, "request EHLO b")->in_tls);
	assert_false(find(&cap, "request EHLO a")->in_tls);
	assert_true(find(&cap, "request MAIL FROM:<a@b>")->in_tls);
	/* EHLO, MAIL, DATA, ".", MAIL; QUIT came after the hole, where client
	 * lines wait for the server (as after any gap). */
	assert_int_equal(count_in_tls(&cap, EV_SMTP_REQUEST), 5);
	assert_int_equal(count_in_tls(&cap, EV_SMTP_DATA), 3); /* the message's lines, too */
	const struct seen *gap = find(&cap, "gap 76 100");
	assert_non_null(gap);
	assert_true(gap->in_tls && gap->is_orig);
	/* The wire closes before the library's last line arrives: the
	 * connection waits for it. */
	close_both(&s);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	plain(&s, &client, SRV, "221 bye\r\n");
	assert_true(find(&cap, "reply 221 bye")->in_tls);
	pipeline_tick(p, s.ts + SEC, 0);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_FIN);
	assert_true(last_conn(&cap)->conn.tls);
	assert_false(last_conn(&cap)->in_tls); /* the summary has its own "tls" */
	pipeline_free(p);
}

/* The wire's FIN before the first plaintext of a session in TLS (the
 * plaintext's ring behind the wire's): with a plaintext source the
 * connection waits for it; without one it ends at once and the late
 * plaintext joins nothing. */
static struct config closed_cfg;

/* A session that turned to TLS on the wire and closed, into a new pipeline
 * that expects plaintext or not. */
static struct pipeline *closed_tls_session(struct session *s, bool expect)
{
	closed_cfg = test_config();
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&closed_cfg, &cap.sink);
	pipeline_expect_plaintext(p, expect);
	session_init(s, p, 0x0a000061, 40061);
	starttls_on_the_wire(s);
	close_both(s);
	return p;
}

static void run_fin_before_plaintext(bool expect, size_t *requests_in_tls, uint64_t *unmatched)
{
	struct plain_end client = {.view = PLAINTEXT_CLIENT_END};
	struct session s;
	struct pipeline *p = closed_tls_session(&s, expect);

	plain(&s, &client, CLI, "EHLO b\r\n");
	plain(&s, &client, SRV, "250 mx\r\n");
	pipeline_tick(p, s.ts + SEC, 0);
	*requests_in_tls = count_in_tls(&cap, EV_SMTP_REQUEST);
	*unmatched = pipeline_stats(p)->plain_unmatched;
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	pipeline_free(p);
}

static void test_plaintext_after_the_wires_fin(void **state)
{
	(void)state;
	size_t requests;
	uint64_t unmatched;

	run_fin_before_plaintext(true, &requests, &unmatched);
	assert_int_equal(requests, 1);
	assert_int_equal(unmatched, 0);
	assert_true(last_conn(&cap)->conn.tls);
	run_fin_before_plaintext(false, &requests, &unmatched);
	assert_int_equal(requests, 0);
	assert_int_equal(unmatched, 2);
}

/* The input ends while a connection waits for its plaintext: it ends as its
 * FIN said, counted unseen (no plaintext came). */
static void test_finish_while_waiting_for_plaintext(void **state)
{
	(void)state;
	struct session s;
	struct pipeline *p = closed_tls_session(&s, true);

	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 0);
	pipeline_finish(p);
	assert_int_equal(cap.by_type[EV_SMTP_CONNECTION], 1);
	assert_int_equal(last_conn(&cap)->conn.end, CONN_END_FIN);
	assert_int_equal(pipeline_stats(p)->tls_unseen, 1);
	pipeline_free(p);
}

/* --bodies=skip inside TLS: a mark goes to each end's TLS object in offsets
 * of the end that feeds the session, so only to an end whose library counts
 * from the same byte. The client's probes came after its first line (a
 * process probed some ms after its connect): its offsets are 8 bytes short
 * in its direction, and a mark in the server's offsets would cancel the skip
 * its kernel side starts itself. */
static void run_skip_marks(bool client_from_start, struct skip_log *log)
{
	struct config cfg = test_config();
	struct plain_end client = {.view = PLAINTEXT_CLIENT_END,
				   .object = {.tgid = 7, .object = 70}},
			 server = {.view = PLAINTEXT_SERVER_END,
				   .object = {.tgid = 9, .object = 90}};
	static const char *const lines[][2] = {
	    {"EHLO b\r\n", "250 mx\r\n"},
	    {"MAIL FROM:<a@b>\r\n", "250 ok\r\n"},
	    {"RCPT TO:<c@d>\r\n", "250 ok\r\n"},
	};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	pipeline_set_skip_hook(p, skip_hook, log);
	session_init(&s, p, 0x0a000061, 40061);
	starttls_on_the_wire(&s);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		plain(&s, &server, CLI, lines[i][0]);
		if (i > 0 || client_from_start)
			plain(&s, &client, CLI, lines[i][0]);
		plain(&s, &server, SRV, lines[i][1]);
		plain(&s, &client, SRV, lines[i][1]);
	}
	plain(&s, &server, CLI, "BDAT 2000 LAST\r\n");
	pipeline_free(p);
}

static void test_plaintext_skip_marks_ends_that_agree(void **state)
{
	(void)state;
	struct skip_log both = {0}, late = {0};

	run_skip_marks(true, &both);
	assert_int_equal(both.calls, 1);
	assert_true(both.last[0].tls && both.last[0].chunk);
	assert_int_equal(both.last[0].nobjects, 2);
	run_skip_marks(false, &late);
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.last[0].nobjects, 1);
	assert_int_equal(late.last[0].objects[0].object, 90); /* the server's, which feeds */
}

static void test_plaintext_implicit_tls(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct plain_end server = {.view = PLAINTEXT_SERVER_END};
	struct session s;
	bool hooked = false;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	struct tls_hook_log log = {0};
	pipeline_set_tls_hook(p, tls_hook, &log);
	session_init(&s, p, 0x0a000062, 40062);
	s.srv.port = 465;
	handshake(&s);
	hooked = log.calls == 1;
	assert_true(hooked); /* the kernel may stop copying at once */
	/* TLS records on the wire are never SMTP. */
	send(&s, CLI, SEG_ACK, "\x16\x03\x01 EHLO looks like a line\r\n");
	send(&s, SRV, SEG_ACK, "220 this too\r\n");
	assert_int_equal(cap.by_type[EV_SMTP_REQUEST] + cap.by_type[EV_SMTP_REPLY], 0);
	assert_int_equal(cap.by_type[EV_SMTP_UNEXPECTED] + cap.by_type[EV_WEIRD], 0);
	plain(&s, &server, SRV, "220 mx ESMTP\r\n");
	plain(&s, &server, CLI, "EHLO c\r\n");
	plain(&s, &server, SRV, "250 mx\r\n");
	assert_true(find(&cap, "reply 220 mx ESMTP")->in_tls);
	assert_true(find(&cap, "request EHLO c")->in_tls);
	assert_int_equal(cap.by_type[EV_SMTP_UNEXPECTED] + cap.by_type[EV_WEIRD], 0);
	pipeline_free(p);
}

static void test_plaintext_clear_connection_not_joined(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct plain_end server = {.view = PLAINTEXT_SERVER_END};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000063, 40063);
	handshake(&s);
	send(&s, SRV, SEG_ACK, "220 mx ESMTP\r\n");
	size_t before = cap.total;
	plain(&s, &server, CLI, "MAIL FROM:<guessed@nowhere>\r\n");
	assert_int_equal(cap.total, before);
	assert_int_equal(pipeline_stats(p)->plain_unmatched, 1);
	pipeline_free(p);
}

static void test_plaintext_of_an_unseen_session(void **state)
{
	(void)state;
	struct config cfg = test_config();
	struct plain_end client = {.view = PLAINTEXT_CLIENT_END};
	struct session s;

	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	session_init(&s, p, 0x0a000064, 40064);
	/* Begun before we started: the library names the ends. */
	plain(&s, &client, CLI, "MAIL FROM:<late@b>\r\n");
	plain(&s, &client, SRV, "250 ok\r\n");
	plain(&s, &client, CLI, "QUIT\r\n");
	plain(&s, &client, SRV, "221 bye\r\n");
	assert_non_null(find(&cap, "reply 250 ok"));
	assert_true(find(&cap, "reply 221 bye")->in_tls);
	pipeline_finish(p);
	const struct seen *c = last_conn(&cap);
	assert_true(c->conn.partial);
	assert_int_equal(c->id.orig_p, 40064);
	assert_int_equal(c->id.resp_p, 25);
	pipeline_free(p);
}

static void test_syn_flood_bounded(void **state)
{
	(void)state;
	struct config cfg = test_config();
	size_t heap_at_10k = 0;

	cfg.max_conns = 1000;
	capture_init(&cap);
	struct pipeline *p = pipeline_new(&cfg, &cap.sink);
	for (uint32_t i = 0; i < 100000; i++) {
		struct segment seg = {
		    .ts_ns = 1700000000ull * SEC + i * 1000ull,
		    .family = 4,
		    .flags = SEG_SYN,
		    .sport = (uint16_t)(1024 + i % 60000),
		    .dport = 25,
		    .seq = i * 2654435761u,
		};
		uint32_t src = 0x0b000000 + i;
		memcpy(seg.saddr, &src, 4);
		memcpy(seg.daddr, "\xc0\x00\x02\x19", 4);
		pipeline_segment(p, &seg);
		assert_true(pipeline_stats(p)->conns_active <= 1000);
		if (i == 10000)
			heap_at_10k = heap_in_use();
	}
	size_t heap_at_100k = heap_in_use();
	const struct pipeline_stats *st = pipeline_stats(p);
	assert_int_equal(st->conns_total, 100000);
	assert_int_equal(st->conns_evicted, 99000);
	assert_int_equal(st->conns_active, 1000);
	assert_int_equal(cap.by_end[CONN_END_EVICTED], 99000);
	/* 90k more connections came and went: the heap did not grow (allow
	 * allocator noise) */
	assert_true(heap_at_100k < heap_at_10k + 256 * 1024);
	pipeline_finish(p);
	assert_int_equal(cap.by_end[CONN_END_INPUT], 1000);
	assert_int_equal(pipeline_stats(p)->conns_active, 0);
	pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_session),
	    cmocka_unit_test(test_data_event_and_fin_flush),
	    cmocka_unit_test(test_orientation_server_first),
	    cmocka_unit_test(test_orientation_synack_first),
	    cmocka_unit_test(test_one_sided_capture),
	    cmocka_unit_test(test_ignored_ports),
	    cmocka_unit_test(test_uids),
	    cmocka_unit_test(test_uids_unique_same_tuple_same_time),
	    cmocka_unit_test(test_port_reuse),
	    cmocka_unit_test(test_rst_flushes),
	    cmocka_unit_test(test_peer_ack_gap_event),
	    cmocka_unit_test(test_inconsistent_retransmission),
	    cmocka_unit_test(test_idle_timeout),
	    cmocka_unit_test(test_time_steps),
	    cmocka_unit_test(test_wall_clock_steps),
	    cmocka_unit_test(test_eviction_lru),
	    cmocka_unit_test(test_total_buffer_eviction),
	    cmocka_unit_test(test_event_mask),
	    cmocka_unit_test(test_tls_hook),
	    cmocka_unit_test(test_plaintext_after_starttls),
	    cmocka_unit_test(test_plaintext_skip_marks_ends_that_agree),
	    cmocka_unit_test(test_plaintext_after_the_wires_fin),
	    cmocka_unit_test(test_finish_while_waiting_for_plaintext),
	    cmocka_unit_test(test_plaintext_implicit_tls),
	    cmocka_unit_test(test_plaintext_clear_connection_not_joined),
	    cmocka_unit_test(test_plaintext_of_an_unseen_session),
	    cmocka_unit_test(test_tls_hook_with_masked_starttls),
	    cmocka_unit_test(test_null_payload_before_tls_is_gap),
	    cmocka_unit_test(test_encrypted_flow_sparse),
	    cmocka_unit_test(test_body_skip_same_commands_and_replies),
	    cmocka_unit_test(test_body_skip_missed_end_falls_back),
	    cmocka_unit_test(test_syn_flood_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
