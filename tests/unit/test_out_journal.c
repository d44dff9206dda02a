// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_out_journal.c - the journal sink's entries, field by field, compared
 * with entries written by hand from the contract in out_journal.c. This file
 * defines sd_journal_sendv, so the executable's definition is the one the
 * sink calls (libsystemd is a shared library): each entry is recorded here
 * instead of being sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "conn_fixture.h"

#include "output/output.h"
#include "records/transaction.h"

#define TS_NS	   1732640000123456789ull
#define TEXT_ID	   "CHhAvVGS1DHFjwGM9 10.0.0.1:40512"
#define MAX_FIELDS 64

/* The fields of every entry sent, "NAME=value", in order. */
static char *sent[16][MAX_FIELDS];
static size_t sent_len[16][MAX_FIELDS];
static int nsent, sent_fields[16];

int sd_journal_sendv(const struct iovec *iov, int n);

int sd_journal_sendv(const struct iovec *iov, int n)
{
	int i;

	assert_true(nsent < 16);
	assert_true(n <= MAX_FIELDS);
	for (i = 0; i < n; i++) {
		sent[nsent][i] = malloc(iov[i].iov_len + 1);
		assert_non_null(sent[nsent][i]);
		memcpy(sent[nsent][i], iov[i].iov_base, iov[i].iov_len);
		sent[nsent][i][iov[i].iov_len] = '\0';
		sent_len[nsent][i] = iov[i].iov_len;
	}
	sent_fields[nsent++] = n;
	return 0;
}

static void forget_sent(void)
{
	int e, i;

	for (e = 0; e < nsent; e++)
		for (i = 0; i < sent_fields[e]; i++)
			free(sent[e][i]);
	nsent = 0;
}

static struct event base(enum event_type type, bool is_orig)
{
	return (struct event){.type = type, .ts_ns = TS_NS, .id = &id4, .is_orig = is_orig};
}

static void emit_all(const struct event *evs, size_t n)
{
	struct sink *sink = sink_journal_new();
	size_t i;

	assert_non_null(sink);
	forget_sent();
	for (i = 0; i < n; i++)
		sink->emit(sink, &evs[i]);
	sink->flush(sink);
	sink->destroy(sink);
}

/* The one entry sent equals want, a NULL-terminated list of fields. */
static void expect_entry(const struct event *ev, const char *const *want)
{
	int i;

	emit_all(ev, 1);
	assert_int_equal(nsent, 1);
	for (i = 0; want[i]; i++) {
		assert_true(i < sent_fields[0]);
		assert_string_equal(sent[0][i], want[i]);
		assert_int_equal(sent_len[0][i], strlen(want[i])); /* no NUL inside */
	}
	assert_int_equal(sent_fields[0], i);
	forget_sent();
}

#define COMMON(priority, id)                                                                       \
	"MESSAGE_ID=" id, "PRIORITY=" priority, "SYSLOG_IDENTIFIER=smtpmon",                       \
	    "SMTP_TS=1732640000.123456", "SMTP_UID=CHhAvVGS1DHFjwGM9", "SMTP_ORIG_H=10.0.0.1",     \
	    "SMTP_ORIG_P=40512", "SMTP_RESP_H=10.0.0.2", "SMTP_RESP_P=25"

static void test_request_value_is_the_decoded_json_value(void **state)
{
	struct event ev = base(EV_SMTP_REQUEST, true);
	/* JSON: "a\\b\"c\\x01\\xff\\x0a\\x0d é" decodes to a\b"c\x01\xff\x0a\x0d é */
	const char *const want[] = {
	    "MESSAGE=" TEXT_ID " -> 10.0.0.2:25 smtp_request EHLO a\\\\b\"c\\x01\\xff\\x0a\\x0d "
	    "\xc3\xa9",
	    COMMON("6", "d51fb00bd0b44eba9693a3c540b2b364"),
	    "SMTP_EVENT=smtp_request",
	    "SMTP_IS_ORIG=true",
	    "SMTP_COMMAND=EHLO",
	    "SMTP_ARG=a\\b\"c\\x01\\xff\\x0a\\x0d \xc3\xa9",
	    NULL,
	};

	(void)state;
	ev.request.command = BYTES_LIT("EHLO");
	ev.request.arg = BYTES_LIT("a\\b\"c\x01\xff\n\r \xc3\xa9");
	expect_entry(&ev, want);
}

static void test_reply(void **state)
{
	struct event ev = base(EV_SMTP_REPLY, false);
	const char *const want[] = {
	    "MESSAGE=" TEXT_ID " <- 10.0.0.2:25 smtp_reply RCPT 550 5.1.1 no\\x00body",
	    COMMON("4", "2776601b33004b3387b96f1926595d5d"),
	    "SMTP_EVENT=smtp_reply",
	    "SMTP_IS_ORIG=false",
	    "SMTP_CODE=550",
	    "SMTP_CMD=RCPT",
	    "SMTP_MSG=5.1.1 no\\x00body",
	    "SMTP_CONT_RESP=false",
	    NULL,
	};

	(void)state;
	ev.reply.code = 550;
	ev.reply.cmd = BYTES_LIT("RCPT");
	ev.reply.msg = BYTES_LIT("5.1.1 no\0body");
	expect_entry(&ev, want);
}

/* A file: its own MESSAGE_ID, files.log fields as SMTP_*, digests in hex. */
static void test_file(void **state)
{
	static const uint8_t md5[16] = {0x58, 0xaf, 0xf3, 0xaf, 0x22, 0x80, 0x7b, 0xc5,
					0xf4, 0xb6, 0x35, 0x7e, 0xa0, 0x03, 0x82, 0x56};
	struct event ev = base(EV_FILE, true);
	const char *const want[] = {
	    "MESSAGE=" TEXT_ID " -- 10.0.0.2:25 file FmFp351N5nhsMmAfQg depth=3 text/plain "
	    "\"NEWS.txt\" seen_bytes=77 missing_bytes=0 md5=58aff3af22807bc5f4b6357ea0038256",
	    COMMON("6", "8bb921fd34494e898b2e9e47db4c9169"),
	    "SMTP_EVENT=file",
	    "SMTP_FUID=FmFp351N5nhsMmAfQg",
	    "SMTP_SOURCE=SMTP",
	    "SMTP_DEPTH=3",
	    "SMTP_TRANS_DEPTH=2",
	    "SMTP_MIME_TYPE=text/plain",
	    "SMTP_FILENAME=NEWS.txt",
	    "SMTP_DURATION=0.000000",
	    "SMTP_IS_ORIG=true",
	    "SMTP_SEEN_BYTES=77",
	    "SMTP_MISSING_BYTES=0",
	    "SMTP_TIMEDOUT=false",
	    "SMTP_MD5=58aff3af22807bc5f4b6357ea0038256",
	    NULL,
	};

	(void)state;
	strcpy(ev.file.fuid, "FmFp351N5nhsMmAfQg");
	ev.file.depth = 3;
	ev.file.trans_depth = 2;
	ev.file.mime_type = BYTES_LIT("text/plain");
	ev.file.filename = BYTES_LIT("NEWS.txt");
	ev.file.seen_bytes = 77;
	ev.file.content_seen = true;
	ev.file.md5 = md5;
	expect_entry(&ev, want);
}

/* PRIORITY by meaning: 5xx warning, 4xx notice, the rest info. */
static void test_reply_priority_by_code(void **state)
{
	static const struct {
		uint16_t code;
		const char *priority;
	} cases[] = {{220, "PRIORITY=6"}, {250, "PRIORITY=6"}, {354, "PRIORITY=6"},
		     {421, "PRIORITY=5"}, {451, "PRIORITY=5"}, {499, "PRIORITY=5"},
		     {500, "PRIORITY=4"}, {554, "PRIORITY=4"}, {0, "PRIORITY=6"}};
	struct event ev = base(EV_SMTP_REPLY, false);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev.reply.code = cases[i].code;
		emit_all(&ev, 1);
		assert_int_equal(nsent, 1);
		assert_string_equal(sent[0][2], cases[i].priority);
		forget_sent();
	}
}

/* A multi-line reply is one entry; a reply to EHLO has its capabilities in one field; lines
 * of another connection in between are not mixed in. */
static void test_multiline_reply_is_one_entry(void **state)
{
	static const char *const lines[] = {"mx.example Hello", "PIPELINING", "SIZE 1000",
					    "AUTH PLAIN LOGIN", "STARTTLS"};
	struct conn_id other = id4;
	struct event evs[8], *ev;
	size_t i, n = 0;

	(void)state;
	memcpy(other.uid, "Cother", 7);
	for (i = 0; i < 5; i++) {
		ev = &evs[n++];
		*ev = base(EV_SMTP_REPLY, false);
		ev->reply.code = 250;
		ev->reply.cmd = BYTES_LIT("EHLO");
		ev->reply.msg = (struct bytes){(const uint8_t *)lines[i], strlen(lines[i])};
		ev->reply.cont_resp = i < 4;
		if (i == 1) { /* another connection's 2-line 550 in between */
			ev = &evs[n++];
			*ev = base(EV_SMTP_REPLY, false);
			ev->id = &other;
			ev->reply.code = 550;
			ev->reply.cmd = BYTES_LIT("RCPT");
			ev->reply.msg = BYTES_LIT("5.7.1 first");
			ev->reply.cont_resp = true;
			evs[n] = *ev;
			evs[n].reply.msg = BYTES_LIT("5.7.1 second");
			evs[n++].reply.cont_resp = false;
		}
	}
	emit_all(evs, n);
	assert_int_equal(nsent, 2);
	assert_string_equal(sent[0][0],
			    "MESSAGE=Cother 10.0.0.1:40512 <- 10.0.0.2:25 smtp_reply RCPT "
			    "550 5.7.1 first 5.7.1 second");
	assert_string_equal(sent[0][2], "PRIORITY=4");
	assert_string_equal(sent[0][14], "SMTP_MSG=5.7.1 first 5.7.1 second");
	assert_string_equal(sent[0][15], "SMTP_CONT_RESP=false");
	assert_string_equal(sent[0][16], "SMTP_LINES=2");
	assert_int_equal(sent_fields[0], 17);
	assert_string_equal(sent[1][0], "MESSAGE=" TEXT_ID " <- 10.0.0.2:25 smtp_reply EHLO 250 "
					"mx.example Hello capabilities: PIPELINING, SIZE 1000, "
					"AUTH PLAIN LOGIN, STARTTLS");
	assert_string_equal(sent[1][2], "PRIORITY=6");
	assert_string_equal(sent[1][14], "SMTP_MSG=mx.example Hello");
	assert_string_equal(sent[1][15], "SMTP_CONT_RESP=false");
	assert_string_equal(sent[1][16],
			    "SMTP_CAPABILITIES=PIPELINING, SIZE 1000, AUTH PLAIN LOGIN, STARTTLS");
	assert_string_equal(sent[1][17], "SMTP_LINES=5");
	assert_int_equal(sent_fields[1], 18);
	forget_sent();
}

/* A connection that ends inside a multi-line reply: what came is sent first, cont_resp
 * true; so is a reply still open when the sink is closed. */
static void test_unfinished_reply(void **state)
{
	struct event evs[3] = {base(EV_SMTP_REPLY, false), base(EV_SMTP_CONNECTION, false),
			       base(EV_SMTP_REPLY, false)};

	(void)state;
	evs[0].reply.code = 421;
	evs[0].reply.cmd = BYTES_LIT("MAIL");
	evs[0].reply.msg = BYTES_LIT("4.3.2 going down");
	evs[0].reply.cont_resp = true;
	evs[2] = evs[0];
	emit_all(evs, 3);
	assert_int_equal(nsent, 3);
	assert_string_equal(sent[0][10], "SMTP_EVENT=smtp_reply");
	assert_string_equal(sent[0][2], "PRIORITY=5");
	assert_string_equal(sent[0][15], "SMTP_CONT_RESP=true");
	assert_int_equal(sent_fields[0], 16); /* one line: no SMTP_LINES */
	assert_string_equal(sent[1][10], "SMTP_EVENT=smtp_connection");
	assert_string_equal(sent[2][15], "SMTP_CONT_RESP=true");
	forget_sent();
}

static void test_starttls_unexpected_gap_weird(void **state)
{
	struct event tls = base(EV_SMTP_STARTTLS, false),
		     unexpected = base(EV_SMTP_UNEXPECTED, true), gap = base(EV_CONTENT_GAP, true),
		     weird = base(EV_WEIRD, true);
	const char *const want_tls[] = {
	    "MESSAGE=" TEXT_ID " -- 10.0.0.2:25 smtp_starttls",
	    COMMON("6", "8a78e66db85a4499a864eb46473cf4a4"),
	    "SMTP_EVENT=smtp_starttls",
	    NULL,
	};
	const char *const want_unexpected[] = {
	    "MESSAGE=" TEXT_ID " -> 10.0.0.2:25 smtp_unexpected unknown command: XYZZY",
	    COMMON("4", "017d0be3525f476fb04d6fd254e68001"),
	    "SMTP_EVENT=smtp_unexpected",
	    "SMTP_IS_ORIG=true",
	    "SMTP_MSG=unknown command",
	    "SMTP_DETAIL=XYZZY",
	    NULL,
	};
	const char *const want_gap[] = {
	    "MESSAGE=" TEXT_ID " -> 10.0.0.2:25 content_gap seq=7 length=1400",
	    COMMON("4", "fa7e2afda2174f46b64bcf72ae69d228"),
	    "SMTP_EVENT=content_gap",
	    "SMTP_IS_ORIG=true",
	    "SMTP_SEQ=7",
	    "SMTP_LENGTH=1400",
	    NULL,
	};
	const char *const want_weird[] = {
	    "MESSAGE=" TEXT_ID " -- 10.0.0.2:25 weird NUL_in_line",
	    COMMON("4", "e77448ff73344ed990d3ea3281ada07f"),
	    "SMTP_EVENT=weird",
	    "SMTP_NAME=NUL_in_line",
	    NULL,
	};

	(void)state;
	expect_entry(&tls, want_tls);
	unexpected.unexpected.msg = BYTES_LIT("unknown command");
	unexpected.unexpected.detail = BYTES_LIT("XYZZY");
	expect_entry(&unexpected, want_unexpected);
	gap.gap.seq = 7;
	gap.gap.length = 1400;
	expect_entry(&gap, want_gap);
	weird.weird.name = "NUL_in_line";
	expect_entry(&weird, want_weird);
}

static void test_connection_priority_by_end(void **state)
{
	struct event ev = base(EV_SMTP_CONNECTION, false);
	const char *const want[] = {
	    "MESSAGE=" TEXT_ID " -- 10.0.0.2:25 smtp_connection duration=1.500000 orig_bytes=10 "
	    "resp_bytes=20 orig_segs=3 resp_segs=4 transactions=1 tls=F gaps=0 missed_bytes=0 "
	    "anomalies=2 end=eviction partial=T",
	    COMMON("4", "97ef2b028dfb4179a45ef283e0897ff9"),
	    "SMTP_EVENT=smtp_connection",
	    "SMTP_DURATION=1.500000",
	    "SMTP_ORIG_BYTES=10",
	    "SMTP_RESP_BYTES=20",
	    "SMTP_ORIG_SEGS=3",
	    "SMTP_RESP_SEGS=4",
	    "SMTP_TRANSACTIONS=1",
	    "SMTP_TLS=false",
	    "SMTP_GAPS=0",
	    "SMTP_MISSED_BYTES=0",
	    "SMTP_ANOMALIES=2",
	    "SMTP_END=eviction",
	    "SMTP_PARTIAL=true",
	    NULL,
	};
	enum conn_end end;

	(void)state;
	ev.conn = (struct conn_summary){
	    .duration_ns = 1500000000,
	    .orig_bytes = 10,
	    .resp_bytes = 20,
	    .orig_segs = 3,
	    .resp_segs = 4,
	    .transactions = 1,
	    .anomalies = 2,
	    .end = CONN_END_EVICTED,
	    .partial = true,
	};
	expect_entry(&ev, want);
	/* every other end is routine */
	for (end = CONN_END_FIN; end <= CONN_END_INPUT; end++) {
		if (end == CONN_END_EVICTED)
			continue;
		ev.conn.end = end;
		emit_all(&ev, 1);
		assert_int_equal(nsent, 1);
		assert_string_equal(sent[0][2], "PRIORITY=6");
		forget_sent();
	}
}

static void test_data_never_sent(void **state)
{
	struct event evs[2] = {base(EV_SMTP_DATA, true), base(EV_SMTP_STARTTLS, false)};

	(void)state;
	evs[0].data.data = BYTES_LIT("Subject: secret");
	emit_all(evs, 2);
	assert_int_equal(nsent, 1);
	assert_string_equal(sent[0][3], "SYSLOG_IDENTIFIER=smtpmon");
	assert_string_equal(sent[0][10], "SMTP_EVENT=smtp_starttls");
	forget_sent();
}

/* A long line: MESSAGE is cut after at most 256 bytes of the line, between two escapes,
 * and says so with "…"; the field keeps everything. */
static void test_long_message_cut_between_escapes(void **state)
{
	struct event ev = base(EV_SMTP_REQUEST, true);
	const char *prefix = "MESSAGE=" TEXT_ID " -> 10.0.0.2:25 smtp_request X ";
	uint8_t arg[1000];
	char *msg;
	size_t len, body, i;

	(void)state;
	memset(arg, 0x01, sizeof(arg));
	arg[0] = 'y'; /* shifts the escapes by one byte against the limit */
	ev.request.command = BYTES_LIT("X");
	ev.request.arg = (struct bytes){arg, sizeof(arg)};
	emit_all(&ev, 1);
	assert_int_equal(nsent, 1);
	msg = sent[0][0];
	len = strlen(msg);
	assert_memory_equal(msg, prefix, strlen(prefix));
	assert_string_equal(msg + len - 3, "\xe2\x80\xa6");
	assert_true(len - 3 - strlen("MESSAGE=") <= 256);
	assert_true(len - 3 - strlen("MESSAGE=") > 256 - 4);
	assert_int_equal(msg[strlen(prefix)], 'y');
	body = len - 3 - strlen(prefix) - 1;
	assert_int_equal(body % 4, 0); /* whole \x01 escapes only */
	for (i = 0; i < body; i += 4)
		assert_memory_equal(msg + strlen(prefix) + 1 + i, "\\x01", 4);
	assert_int_equal(sent_len[0][13], strlen("SMTP_ARG=y") + 4 * (sizeof(arg) - 1));
	forget_sent();
}

/* One entry per transaction: the fields to filter on, one SMTP_RCPT and one
 * SMTP_RCPT_STATUS per recipient, lists joined by ','. */
static void test_transaction(void **state)
{
	struct smtp_transaction t = {.trans_depth = 1, .outcome = TXN_ACCEPTED};
	struct event ev = base(EV_SMTP_TRANSACTION, false);
	const char *const want[] = {
	    "MESSAGE=" TEXT_ID " -- 10.0.0.2:25 smtp_transaction depth=1 from=a@x "
	    "rcpt=b@y:250,c@z:550 outcome=accepted queue_id=Q1 msg_id=<m@x>",
	    COMMON("6", "c5848e0952c641d0b35e051fa428341c"),
	    "SMTP_EVENT=smtp_transaction",
	    "SMTP_TRANS_DEPTH=1",
	    "SMTP_MAILFROM=a@x",
	    "SMTP_RCPTTO=b@y,c@z",
	    "SMTP_MSGID=<m@x>",
	    "SMTP_LAST_REPLY=250 ok",
	    "SMTP_PATH=10.0.0.2,10.0.0.1",
	    "SMTP_TLS=false",
	    "SMTP_RCPT=b@y",
	    "SMTP_RCPT_STATUS=b@y 250 2.1.5 Ok",
	    "SMTP_RCPT=c@z",
	    "SMTP_RCPT_STATUS=c@z 550 no",
	    "SMTP_QUEUE_ID=Q1",
	    "SMTP_OUTCOME=accepted",
	    NULL,
	};

	struct bytes rcptto[] = {BYTES_LIT("b@y"), BYTES_LIT("c@z")};
	struct bytes path[] = {BYTES_LIT("10.0.0.2"), BYTES_LIT("10.0.0.1")};
	struct txn_rcpt rcpt_status[] = {{BYTES_LIT("b@y"), 250, BYTES_LIT("2.1.5 Ok")},
					 {BYTES_LIT("c@z"), 550, BYTES_LIT("no")}};

	(void)state;
	t.mailfrom = BYTES_LIT("a@x");
	t.rcptto = (struct txn_list){rcptto, 2, 2};
	t.msg_id = BYTES_LIT("<m@x>");
	t.last_reply = BYTES_LIT("250 ok");
	t.path = (struct txn_list){path, 2, 2};
	t.rcpt_status = rcpt_status;
	t.nrcpt_status = 2;
	t.queue_id = BYTES_LIT("Q1");
	ev.transaction = &t;
	expect_entry(&ev, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_value_is_the_decoded_json_value),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_reply_priority_by_code),
	    cmocka_unit_test(test_multiline_reply_is_one_entry),
	    cmocka_unit_test(test_unfinished_reply),
	    cmocka_unit_test(test_starttls_unexpected_gap_weird),
	    cmocka_unit_test(test_connection_priority_by_end),
	    cmocka_unit_test(test_data_never_sent),
	    cmocka_unit_test(test_transaction),
	    cmocka_unit_test(test_long_message_cut_between_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
