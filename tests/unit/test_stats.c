// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_stats.c - the event-derived counters (stats.h): hand-made events, and
 * one SMTP session through the real state machine, counted and compared with
 * numbers read off the session script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"
#include "service/stats.h"

static const struct conn_id id = {.uid = "Ctest", .family = 4, .orig_p = 40000, .resp_p = 25};

static struct bytes str(const char *s)
{
	return (struct bytes){(const uint8_t *)s, strlen(s)};
}

static void request(struct stats *st, const char *command)
{
	struct event ev = {.type = EV_SMTP_REQUEST, .id = &id, .is_orig = true};

	ev.request.command = str(command);
	ev.request.arg = str("");
	stats_sink(st)->emit(stats_sink(st), &ev);
}

static void reply(struct stats *st, uint16_t code, bool cont)
{
	struct event ev = {.type = EV_SMTP_REPLY, .id = &id};

	ev.reply.code = code;
	ev.reply.cmd = str("EHLO");
	ev.reply.msg = str("ok");
	ev.reply.cont_resp = cont;
	stats_sink(st)->emit(stats_sink(st), &ev);
}

static void unexpected(struct stats *st, const char *msg)
{
	struct event ev = {.type = EV_SMTP_UNEXPECTED, .id = &id};

	ev.unexpected.msg = str(msg);
	ev.unexpected.detail = str("x");
	stats_sink(st)->emit(stats_sink(st), &ev);
}

static void verbs(void **state)
{
	struct stats st;
	(void)state;

	stats_init(&st);
	request(&st, "EHLO");
	request(&st, "EHLO");
	request(&st, "MAIL");
	request(&st, ".");
	request(&st, "**");
	request(&st, "X-ANONYMOUSTLS");
	request(&st, "STARTTLS");
	/* smtp.c's internal words typed by a client, and the recovery request */
	request(&st, "END_OF_DATA");
	request(&st, "AUTH_ANSWER");
	request(&st, "(UNKNOWN)");
	request(&st, "EHLOX");
	assert_int_equal(st.commands[VERB_EHLO], 2);
	assert_int_equal(st.commands[VERB_MAIL], 1);
	assert_int_equal(st.commands[VERB_END_OF_DATA], 1);
	assert_int_equal(st.commands[VERB_AUTH_ANSWER], 1);
	assert_int_equal(st.commands[VERB_X_ANONYMOUSTLS], 1);
	assert_int_equal(st.commands[VERB_STARTTLS], 1);
	assert_int_equal(st.commands[VERB_OTHER], 4);
	assert_int_equal(st.events[EV_SMTP_REQUEST], 11);
	assert_string_equal(stats_verb_names[VERB_OTHER], "other");
	assert_string_equal(stats_verb_names[VERB_X_ANONYMOUSTLS], "X-ANONYMOUSTLS");
}

static void reply_classes(void **state)
{
	struct stats st;
	(void)state;

	stats_init(&st);
	reply(&st, 250, true); /* continuation lines are not replies of their own */
	reply(&st, 250, true);
	reply(&st, 250, false);
	reply(&st, 199, false);
	reply(&st, 354, false);
	reply(&st, 421, false);
	reply(&st, 599, false);
	reply(&st, 554, false);
	unexpected(&st, "reply code out of range");
	unexpected(&st, "unknown command");
	assert_int_equal(st.replies[REPLY_1XX], 1);
	assert_int_equal(st.replies[REPLY_2XX], 1);
	assert_int_equal(st.replies[REPLY_3XX], 1);
	assert_int_equal(st.replies[REPLY_4XX], 1);
	assert_int_equal(st.replies[REPLY_5XX], 2);
	assert_int_equal(st.replies[REPLY_INVALID], 1);
	assert_int_equal(st.events[EV_SMTP_REPLY], 8);
	assert_int_equal(st.unexpected.n, 2);
	assert_string_equal(st.unexpected.name[0], "reply code out of range");
	assert_string_equal(st.unexpected.name[1], "unknown command");
}

static void names_bounded(void **state)
{
	struct stats st;
	char name[32], longname[200];
	(void)state;

	stats_init(&st);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < STATS_NAMES_MAX + 4; i++) {
			snprintf(name, sizeof(name), "message %d", i);
			unexpected(&st, name);
		}
	assert_int_equal(st.unexpected.n, STATS_NAMES_MAX);
	assert_int_equal(st.unexpected.count[0], 2);
	assert_int_equal(st.unexpected.count[STATS_NAMES_MAX - 1], 2);
	assert_int_equal(st.unexpected.other, 8);

	/* a name longer than a slot is cut, and its later copies land in the
	 * same slot */
	stats_init(&st);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	unexpected(&st, longname);
	unexpected(&st, longname);
	assert_int_equal(st.unexpected.n, 1);
	assert_int_equal(strlen(st.unexpected.name[0]), STATS_NAME_MAX - 1);
	assert_int_equal(st.unexpected.count[0], 2);
}

static void sessions_and_gaps(void **state)
{
	struct stats st;
	struct event ev = {.id = &id};
	(void)state;

	stats_init(&st);
	ev.type = EV_SMTP_CONNECTION;
	ev.conn.end = CONN_END_FIN;
	ev.conn.tls = true;
	ev.conn.transactions = 2;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	ev.conn.end = CONN_END_EVICTED;
	ev.conn.tls = false;
	ev.conn.transactions = 1;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	memset(&ev, 0, sizeof(ev));
	ev.id = &id;
	ev.type = EV_CONTENT_GAP;
	ev.gap.length = 1000;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	ev.gap.length = 24;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	ev.type = EV_SMTP_STARTTLS;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	ev.type = EV_WEIRD;
	ev.weird.name = "NUL_in_line";
	ev.weird.addl = str("");
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	assert_int_equal(st.sessions_ended[CONN_END_FIN], 1);
	assert_int_equal(st.sessions_ended[CONN_END_EVICTED], 1);
	assert_int_equal(st.sessions_ended[CONN_END_RST], 0);
	assert_int_equal(st.sessions_tls, 1);
	assert_int_equal(st.transactions, 3);
	assert_int_equal(st.gaps, 2);
	assert_int_equal(st.gap_bytes, 1024);
	assert_int_equal(st.starttls, 1);
	assert_int_equal(st.weird.n, 1);
	assert_string_equal(st.weird.name[0], "NUL_in_line");
}

static void fill_id(void *ctx, struct event *ev)
{
	struct stats *st = ctx;

	ev->id = &id;
	stats_sink(st)->emit(stats_sink(st), ev);
}

/* A whole session through smtp.c: the counts read off the script below. */
static void through_smtp(void **state)
{
	static const char client[] = "EHLO client.example\r\n"
				     "MAIL FROM:<a@example.org>\r\n"
				     "RCPT TO:<b@example.net>\r\n"
				     "RCPT TO:<c@example.net>\r\n"
				     "DATA\r\n"
				     "Subject: x\r\n\r\nbody\r\n.\r\n"
				     "NOOP\r\n"
				     "QUIT\r\n";
	static const char server[] = "220 mx.example ESMTP\r\n"
				     "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
				     "250 2.1.0 Ok\r\n"
				     "250 2.1.5 Ok\r\n"
				     "550 5.1.1 no such user\r\n"
				     "354 go ahead\r\n"
				     "250 2.0.0 queued\r\n"
				     "250 2.0.0 Ok\r\n"
				     "221 2.0.0 Bye\r\n";
	struct config cfg;
	struct stats st;
	struct smtp *s;
	(void)state;

	config_defaults(&cfg);
	stats_init(&st);
	s = smtp_new(&cfg, false, fill_id, &st);
	assert_non_null(s);
	/* Lock-step delivery is not needed: replies are matched FIFO. */
	smtp_deliver(s, false, (const uint8_t *)server, 22);
	smtp_deliver(s, true, (const uint8_t *)client, sizeof(client) - 1);
	smtp_deliver(s, false, (const uint8_t *)server + 22, sizeof(server) - 1 - 22);
	smtp_finish(s);
	smtp_free(s);
	assert_int_equal(st.commands[VERB_EHLO], 1);
	assert_int_equal(st.commands[VERB_MAIL], 1);
	assert_int_equal(st.commands[VERB_RCPT], 2);
	assert_int_equal(st.commands[VERB_DATA], 1);
	assert_int_equal(st.commands[VERB_END_OF_DATA], 1);
	assert_int_equal(st.commands[VERB_NOOP], 1);
	assert_int_equal(st.commands[VERB_QUIT], 1);
	assert_int_equal(st.commands[VERB_OTHER], 0);
	assert_int_equal(st.replies[REPLY_2XX], 7); /* 220, 250 (3 lines), 250 x4, 221 */
	assert_int_equal(st.replies[REPLY_3XX], 1);
	assert_int_equal(st.replies[REPLY_5XX], 1);
	assert_int_equal(st.events[EV_SMTP_REPLY], 11); /* one event per line */
}

/* Transactions by outcome; refused recipients (400 or more) by code. */
static void transactions(void **state)
{
	struct txn_rcpt rcpt_status[3] = {0};
	struct smtp_transaction t = {.rcpt_status = rcpt_status};
	struct event ev = {.type = EV_SMTP_TRANSACTION, .id = &id, .transaction = &t};
	struct stats st;
	(void)state;

	stats_init(&st);
	t.nrcpt_status = 3;
	t.rcpt_status[0].code = 250;
	t.rcpt_status[1].code = 550;
	t.rcpt_status[2].code = 450;
	t.outcome = TXN_ACCEPTED;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	t.nrcpt_status = 1;
	t.rcpt_status[0].code = 550;
	t.outcome = TXN_REJECTED;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	t.nrcpt_status = 0;
	t.outcome = TXN_ABORTED_RSET;
	stats_sink(&st)->emit(stats_sink(&st), &ev);
	assert_int_equal(st.outcomes[TXN_ACCEPTED], 1);
	assert_int_equal(st.outcomes[TXN_REJECTED], 1);
	assert_int_equal(st.outcomes[TXN_ABORTED_RSET], 1);
	assert_int_equal(st.outcomes[TXN_ABORTED_END], 0);
	assert_int_equal(st.refused_rcpts.n, 2);
	assert_string_equal(st.refused_rcpts.name[0], "550");
	assert_int_equal(st.refused_rcpts.count[0], 2);
	assert_string_equal(st.refused_rcpts.name[1], "450");
	assert_int_equal(st.refused_rcpts.count[1], 1);
	assert_int_equal(st.events[EV_SMTP_TRANSACTION], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(verbs),	     cmocka_unit_test(reply_classes),
	    cmocka_unit_test(names_bounded), cmocka_unit_test(sessions_and_gaps),
	    cmocka_unit_test(through_smtp),  cmocka_unit_test(transactions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
