// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_records.c - the smtp_transaction builder (Zeek's smtp.log life cycle,
 * rcpt_status, outcome, header fields), the queue id parser (a table of
 * real replies of each MTA) and Community ID v1 (the specification's
 * published vectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "conn_fixture.h"

#include "records/community_id.h"
#include "records/queue_id.h"
#include "records/transaction.h"

/* ---- queue ids ------------------------------------------------------------- */

struct qid_case {
	const char *msg; /* the reply text after the code */
	const char *id;	 /* NULL: none */
	const char *mta;
};

static const struct qid_case qid_cases[] = {
    {"2.0.0 Ok: queued as 4Z1bq93mK1z9sVR", "4Z1bq93mK1z9sVR", "postfix"},
    {"2.0.0 Ok: 86 bytes queued as 1E2891CA025", "1E2891CA025", "postfix"},
    {"OK id=1Mugho-0003Dg-Un", "1Mugho-0003Dg-Un", "exim"},
    {"2.6.0 <a@b.example> [InternalId=28484614258693, Hostname=EX01.contoso.com] Queued mail "
     "for delivery",
     "28484614258693", "exchange"},
    {"2.6.0 <CAF=x@mail.gmail.com> [InternalId=4831838210435, "
     "Hostname=AM0PR10MB2345.EURPRD10.PROD.OUTLOOK.COM] 10953 bytes in 0.071, 150.382 KB/sec "
     "Queued mail for delivery",
     "4831838210435", "exchange"},
    {"2.0.0 u8QFmVtb003127 Message accepted for delivery", "u8QFmVtb003127", "sendmail"},
    {"2.0.0 6c5f1a3e Message accepted for delivery", "6c5f1a3e", "sendmail"},
    {"2.0.0 OK  1700000000 a1si123456pld.123 - gsmtp", "a1si123456pld.123", "gmail"},
    {"ok 1700000000 qp 12345", "12345", "qmail"},
    /* no id */
    {"OK: message queued", NULL, NULL},
    {"Ok", NULL, NULL},
    {"Message accepted.", NULL, NULL},
    {"2.0.0 Message accepted for delivery", NULL, NULL}, /* only the status code */
    {"OK Message-id=<x@y>", NULL, NULL},		 /* not a word of its own */
    {"2.0.0 Ok: queued as ", NULL, NULL},
    {"2.0.0 Ok: queued as X!Y", NULL, NULL},
    {"2.0.0 Ok: queued as "
     "A123456789012345678901234567890123456789012345678901234567890123456789",
     NULL, NULL}, /* longer than QUEUE_ID_MAX */
};

static void test_queue_id_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(qid_cases) / sizeof(qid_cases[0]); i++) {
		const struct qid_case *c = &qid_cases[i];
		const uint8_t *id = NULL;
		size_t len = 0;
		const char *mta = NULL;
		bool found =
		    queue_id_parse((const uint8_t *)c->msg, strlen(c->msg), &id, &len, &mta);

		if (found != (c->id != NULL))
			fail_msg("'%s': found %d", c->msg, found);
		if (!c->id)
			continue;
		if (len != strlen(c->id) || memcmp(id, c->id, len))
			fail_msg("'%s': id '%.*s', want '%s'", c->msg, (int)len, id, c->id);
		assert_string_equal(mta, c->mta);
	}
}

/* ---- Community ID ------------------------------------------------------------ */

static void addr(const char *text, uint8_t out[16], uint8_t *family)
{
	memset(out, 0, 16);
	*family = strchr(text, ':') ? 6 : 4;
	assert_int_equal(inet_pton(*family == 6 ? AF_INET6 : AF_INET, text, out), 1);
}

static void check_cid(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
		      const char *want)
{
	uint8_t sa[16], da[16], fam;
	char out[COMMUNITY_ID_SIZE];

	addr(s, sa, &fam);
	addr(d, da, &fam);
	assert_true(community_id_v1(0, fam, sa, sp, da, dp, proto, out));
	assert_string_equal(out, want);
	/* either direction */
	assert_true(community_id_v1(0, fam, da, dp, sa, sp, proto, out));
	assert_string_equal(out, want);
}

/* The vectors the specification publishes (corelight/community-id-spec). */
static void test_community_id_vectors(void **state)
{
	(void)state;
	check_cid("128.232.110.120", 34855, "66.35.250.204", 80, 6,
		  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	check_cid("192.168.1.52", 54585, "8.8.8.8", 53, 17, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
	check_cid("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 6,
		  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
}

/* ---- the builder ------------------------------------------------------------- */

#define MAX_RECS 8

/* What a test looks at of an emitted record (the record itself lives only
 * during the callback). */
struct rec {
	uint32_t depth;
	char helo[64], mailfrom[64], rcptto[256], to[256], path[256], queue_id[64];
	char subject[64], msg_id[64], last_reply[128], rcpts[256], x_ip[64], first_rcvd[128];
	char second_rcvd[128], subject_decoded[64];
	const char *outcome;
	uint16_t code;
	bool tls;
	uint64_t body;
};

static struct rec recs[MAX_RECS];
static int nrecs;
static uint64_t now;

static void cpy(char *dst, size_t n, struct bytes b)
{
	snprintf(dst, n, "%.*s", b.ptr ? (int)b.len : 1, b.ptr ? (const char *)b.ptr : "-");
}

static void join(char *dst, size_t n, const struct txn_list *l)
{
	dst[0] = '\0';
	for (uint32_t i = 0; i < l->n; i++)
		snprintf(dst + strlen(dst), n - strlen(dst), "%s%.*s", i ? "|" : "",
			 (int)l->item[i].len, (const char *)l->item[i].ptr);
}

static void on_record(void *ctx, struct event *ev)
{
	const struct smtp_transaction *t = ev->transaction;
	struct rec *r = &recs[nrecs++];

	(void)ctx;
	assert_true(nrecs <= MAX_RECS);
	assert_int_equal(ev->type, EV_SMTP_TRANSACTION);
	assert_int_equal(ev->ts_ns, t->ts_ns);
	r->depth = t->trans_depth;
	cpy(r->helo, sizeof(r->helo), t->helo);
	cpy(r->mailfrom, sizeof(r->mailfrom), t->mailfrom);
	join(r->rcptto, sizeof(r->rcptto), &t->rcptto);
	join(r->to, sizeof(r->to), &t->to);
	join(r->path, sizeof(r->path), &t->path);
	cpy(r->queue_id, sizeof(r->queue_id), t->queue_id);
	cpy(r->subject, sizeof(r->subject), t->subject);
	cpy(r->msg_id, sizeof(r->msg_id), t->msg_id);
	cpy(r->subject_decoded, sizeof(r->subject_decoded), t->subject_decoded);
	cpy(r->last_reply, sizeof(r->last_reply), t->last_reply);
	cpy(r->x_ip, sizeof(r->x_ip), t->x_originating_ip);
	cpy(r->first_rcvd, sizeof(r->first_rcvd), t->first_received);
	cpy(r->second_rcvd, sizeof(r->second_rcvd), t->second_received);
	r->rcpts[0] = '\0';
	for (uint32_t i = 0; i < t->nrcpt_status; i++)
		snprintf(r->rcpts + strlen(r->rcpts), sizeof(r->rcpts) - strlen(r->rcpts),
			 "%s%.*s:%u:%.*s", i ? "|" : "", (int)t->rcpt_status[i].addr.len,
			 (const char *)t->rcpt_status[i].addr.ptr, t->rcpt_status[i].code,
			 (int)t->rcpt_status[i].text.len, (const char *)t->rcpt_status[i].text.ptr);
	r->outcome = txn_outcome_names[t->outcome];
	r->code = t->outcome_code;
	r->tls = t->tls;
	r->body = t->body_bytes;
}

static struct txn_builder *start(void)
{
	struct txn_builder *b = txn_builder_new(&id4, on_record, NULL);

	assert_non_null(b);
	nrecs = 0;
	memset(recs, 0, sizeof(recs));
	now = 1000;
	return b;
}

static struct bytes B(const char *s) {
	return (struct bytes){(const uint8_t *)s, strlen(s)};
}

static void
req(struct txn_builder *b, const char *cmd, const char *arg)
{
	struct event ev = {.type = EV_SMTP_REQUEST, .ts_ns = ++now, .id = &id4, .is_orig = true};

	ev.request.command = B(cmd);
	ev.request.arg = B(arg);
	txn_observe(b, &ev);
}

static void rep_cont(struct txn_builder *b, unsigned code, const char *cmd, const char *msg,
		     bool cont)
{
	struct event ev = {.type = EV_SMTP_REPLY, .ts_ns = ++now, .id = &id4};

	ev.reply.code = (uint16_t)code;
	ev.reply.cmd = B(cmd);
	ev.reply.msg = B(msg);
	ev.reply.cont_resp = cont;
	txn_observe(b, &ev);
}

static void rep(struct txn_builder *b, unsigned code, const char *cmd, const char *msg)
{
	rep_cont(b, code, cmd, msg, false);
}

static void hdr(struct txn_builder *b, const char *name, const char *value)
{
	txn_header(b, B(name), B(value));
}

static void test_accepted_with_refused_recipient(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	rep(b, 220, ">", "mx ESMTP");
	req(b, "EHLO", "client.example");
	rep(b, 250, "EHLO", "mx");
	req(b, "MAIL", "FROM:<alice@example.com> SIZE=100");
	rep(b, 250, "MAIL", "2.1.0 Ok");
	req(b, "RCPT", "TO:<bob@example.net>");
	req(b, "RCPT", "TO:<nobody@example.net>"); /* pipelined */
	rep(b, 250, "RCPT", "2.1.5 Ok");
	rep(b, 550, "RCPT", "5.1.1 <nobody@example.net>: Recipient address rejected");
	req(b, "DATA", "");
	rep(b, 354, "DATA", "go ahead");
	txn_message_begin(b);
	hdr(b, "Subject", "hello");
	hdr(b, "message-id", "<m1@example.com>");
	txn_body_bytes(b, 40);
	req(b, ".", ".");
	rep(b, 250, ".", "2.0.0 Ok: queued as ABC123");
	assert_int_equal(nrecs, 1); /* written at the reply to "." */
	req(b, "QUIT", "");
	rep(b, 221, "QUIT", "Bye");
	txn_finish(b);
	assert_int_equal(nrecs, 1); /* the fresh record has no client activity */
	assert_int_equal(recs[0].depth, 1);
	assert_string_equal(recs[0].helo, "client.example");
	assert_string_equal(recs[0].mailfrom, "alice@example.com");
	assert_string_equal(recs[0].rcptto, "bob@example.net|nobody@example.net");
	assert_string_equal(recs[0].rcpts,
			    "bob@example.net:250:2.1.5 Ok|nobody@example.net:550:5.1.1 "
			    "<nobody@example.net>: Recipient address rejected");
	assert_string_equal(recs[0].queue_id, "ABC123");
	assert_string_equal(recs[0].outcome, "accepted");
	assert_int_equal(recs[0].code, 0);
	assert_string_equal(recs[0].subject, "hello");
	assert_string_equal(recs[0].msg_id, "<m1@example.com>");
	assert_string_equal(recs[0].last_reply, "250 2.0.0 Ok: queued as ABC123");
	assert_string_equal(recs[0].path, "10.0.0.2|10.0.0.1");
	assert_int_equal(recs[0].body, 40);
	txn_builder_free(b);
}

static void test_no_client_activity_no_record(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	rep(b, 220, ">", "mx ESMTP");
	req(b, "EHLO", "c");
	rep(b, 250, "EHLO", "mx");
	req(b, "MAIL", "TO:<x@y>"); /* not FROM: no activity */
	req(b, "QUIT", "");
	rep(b, 221, "QUIT", "Bye");
	txn_finish(b);
	assert_int_equal(nrecs, 0);
	txn_builder_free(b);
}

/* RSET aborts; the next MAIL FROM: writes the record without counting a
 * message, so both records have trans_depth 1 (Zeek: one-side baseline). */
static void test_rset_then_new_mail(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "RCPT", "TO:<b@y>");
	req(b, "RSET", "");
	rep(b, 250, "RSET", "Ok");
	req(b, "MAIL", "FROM:<c@x>");
	assert_int_equal(nrecs, 1);
	req(b, "RCPT", "TO:<d@y>");
	rep(b, 250, "RCPT", "Ok");
	req(b, "DATA", "");
	rep(b, 354, "DATA", "go");
	req(b, ".", ".");
	rep(b, 250, ".", "OK id=1abc-000001-XY");
	txn_finish(b);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[0].outcome, "aborted_rset");
	assert_int_equal(recs[0].depth, 1);
	assert_string_equal(recs[0].rcpts, "b@y:0:"); /* RCPT without a reply seen */
	assert_string_equal(recs[1].outcome, "accepted");
	assert_int_equal(recs[1].depth, 1);
	assert_string_equal(recs[1].mailfrom, "c@x");
	assert_string_equal(recs[1].queue_id, "1abc-000001-XY");
	txn_builder_free(b);
}

/* Each line of a multi-line reply to "." counts a message (Zeek's script). */
static void test_multiline_reply_to_dot(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "RCPT", "TO:<b@y>");
	req(b, "DATA", "");
	req(b, ".", ".");
	rep_cont(b, 250, ".", "first", true);
	rep(b, 250, ".", "second");
	req(b, "MAIL", "FROM:<a@x>");
	txn_finish(b);
	assert_int_equal(nrecs, 2);
	assert_int_equal(recs[0].depth, 1);
	assert_string_equal(recs[0].last_reply, "250 first");
	assert_int_equal(recs[1].depth, 3);
	assert_string_equal(recs[1].outcome, "aborted_end");
	txn_builder_free(b);
}

static void test_rejected_and_aborted(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	/* every recipient refused, then DATA refused: rejected with DATA's code */
	req(b, "MAIL", "FROM:<a@x>");
	rep(b, 250, "MAIL", "Ok");
	req(b, "RCPT", "TO:<b@y>");
	rep(b, 550, "RCPT", "no such user");
	req(b, "DATA", "");
	rep(b, 554, "DATA", "5.5.1 Error: no valid recipients");
	/* a message refused at its end */
	req(b, "MAIL", "FROM:<c@x>");
	req(b, "RCPT", "TO:<d@y>");
	req(b, "DATA", "");
	req(b, ".", ".");
	rep(b, 552, ".", "5.3.4 Message too big");
	/* cut by a gap, then by QUIT (the gap came first) */
	req(b, "MAIL", "FROM:<e@x>");
	req(b, "RCPT", "TO:<f@y>");
	req(b, "DATA", "");
	txn_observe(b, &(struct event){.type = EV_CONTENT_GAP, .ts_ns = ++now, .id = &id4});
	req(b, "QUIT", "");
	txn_finish(b);
	assert_int_equal(nrecs, 3);
	assert_string_equal(recs[0].outcome, "rejected");
	assert_int_equal(recs[0].code, 554);
	assert_string_equal(recs[1].outcome, "rejected");
	assert_int_equal(recs[1].code, 552);
	assert_string_equal(recs[1].queue_id, "-");
	assert_string_equal(recs[2].outcome, "aborted_gap");
	assert_int_equal(recs[2].depth, 2);
	txn_builder_free(b);
}

/* Only upper-case " LAST" ends a BDAT message for Zeek's script; STARTTLS is
 * client activity and marks the record. */
static void test_bdat_last_and_starttls(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "RCPT", "TO:<b@y>");
	req(b, "BDAT", "10 last");
	rep(b, 250, "BDAT", "Ok");
	assert_int_equal(nrecs, 0);
	req(b, "BDAT", "0 LAST");
	rep(b, 250, "BDAT", "2.0.0 Ok: 10 bytes queued as Q1");
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].queue_id, "Q1");
	req(b, "STARTTLS", "");
	rep(b, 220, "STARTTLS", "Ready to start TLS");
	txn_observe(b, &(struct event){.type = EV_SMTP_STARTTLS, .ts_ns = ++now, .id = &id4});
	txn_finish(b);
	assert_int_equal(nrecs, 2);
	assert_true(recs[1].tls);
	assert_int_equal(recs[1].depth, 2);
	assert_string_equal(recs[1].outcome, "aborted_tls");
	assert_string_equal(recs[1].mailfrom, "-");
	txn_builder_free(b);
}

static void test_addresses(void **state)
{
	static const struct {
		const char *arg, *want;
	} cases[] = {
	    {"FROM:<a@b>", "a@b"},
	    {"FROM:<>", NULL},
	    {"FROM:sender@localhost", "sender@localhost"},
	    {"FROM:<a@b> BODY=8BITMIME SIZE=4333", "a@b"},
	    {"FROM: <a@b>", "a@b"},
	    {"FROM:<@relay:a@b>", "a@b"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bytes a;
		size_t from = 0;
		bool found = txn_first_addr(B(cases[i].arg), &from, &a);

		if (found != (cases[i].want != NULL))
			fail_msg("'%s': found %d", cases[i].arg, found);
		if (found &&
		    (a.len != strlen(cases[i].want) || memcmp(a.ptr, cases[i].want, a.len)))
			fail_msg("'%s': '%.*s'", cases[i].arg, (int)a.len, (const char *)a.ptr);
	}
}

static void test_rcptto_orcpt_and_set(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "RCPT", "TO:<b@y> ORCPT=rfc822;b@y");
	req(b, "RCPT", "TO:<b@y>");
	txn_finish(b);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].rcptto, "b@y");
	assert_string_equal(recs[0].rcpts, "b@y:0:|b@y:0:"); /* every RCPT, in order */
	txn_builder_free(b);
}

static void test_headers(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "DATA", "");
	txn_message_begin(b);
	hdr(b, "To", "\"Doe, John\" <j@x.org>, nobody, b@y.org ");
	hdr(b, "TO", "c@z.org");
	hdr(b, "Received", "from a (a [192.0.2.1]) by b (b [192.0.2.2])");
	hdr(b, "Received", "from c ([IPv6:2001:db8::1]) by d");
	hdr(b, "Received", "from e (e [198.51.100.7]) by f");
	hdr(b, "X-Originating-IP", "[203.0.113.9]");
	hdr(b, "Subject", "first");
	hdr(b, "Subject", "=?utf-8?B?w6l0w6k=?= =?iso-8859-1?Q?caf=E9?="); /* last wins */
	txn_finish(b);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].to, "\"Doe, John\" <j@x.org>|b@y.org|c@z.org");
	assert_string_equal(recs[0].path, "10.0.0.2|10.0.0.1|192.0.2.2|198.51.100.7");
	assert_string_equal(recs[0].first_rcvd, "from e (e [198.51.100.7]) by f");
	assert_string_equal(recs[0].second_rcvd, "from c ([IPv6:2001:db8::1]) by d");
	assert_string_equal(recs[0].x_ip, "203.0.113.9");
	assert_string_equal(recs[0].subject, "=?utf-8?B?w6l0w6k=?= =?iso-8859-1?Q?caf=E9?=");
	assert_string_equal(recs[0].subject_decoded, "\xc3\xa9t\xc3\xa9"
						     "caf\xc3\xa9");
	txn_builder_free(b);
}

/* A second message within one record is a second entity: its headers do not
 * count (Zeek: bdat-gap baseline). */
static void test_second_message_headers_ignored(void **state)
{
	struct txn_builder *b = start();

	(void)state;
	req(b, "MAIL", "FROM:<a@x>");
	req(b, "BDAT", "200");
	txn_message_begin(b);
	req(b, "DATA", "");
	txn_message_begin(b);
	hdr(b, "Subject", "late");
	txn_finish(b);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].subject, "-");
	txn_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_queue_id_table),
	    cmocka_unit_test(test_community_id_vectors),
	    cmocka_unit_test(test_accepted_with_refused_recipient),
	    cmocka_unit_test(test_no_client_activity_no_record),
	    cmocka_unit_test(test_rset_then_new_mail),
	    cmocka_unit_test(test_multiline_reply_to_dot),
	    cmocka_unit_test(test_rejected_and_aborted),
	    cmocka_unit_test(test_bdat_last_and_starttls),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_rcptto_orcpt_and_set),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_second_message_headers_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
