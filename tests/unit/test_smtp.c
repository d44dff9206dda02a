// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_smtp.c - the SMTP state machine driven with byte strings through
 * smtp_deliver/smtp_gap, asserting the exact event sequence.
 *
 * Expected sequences are written by hand from the behaviour of Zeek's SMTP
 * analyzer (src/analyzer/protocol/smtp/SMTP.cc; smtpmon's deliberate
 * differences are in docs/zeek-differences.md) and, for the smtp.pcap session,
 * transcribed from Zeek's own baseline
 * tests/data/zeek/baselines/scripts.policy.misc.dump-events/smtp-events.log.
 * Every event is rendered as one text line:
 *
 *   req T EHLO [GP]                   smtp_request is_orig command [arg]
 *   rep F 250 EHLO T [msg]            smtp_reply is_orig code cmd cont_resp [msg]
 *   data T [line]                     smtp_data
 *   starttls F
 *   unx T unknown command [FOO]       smtp_unexpected is_orig msg [detail]
 *   weird NUL_in_line []              weird name [addl]
 *
 * Bytes outside printable ASCII appear as \xNN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "settings/config.h"
#include "smtp/smtp.h"

/* ---- recorder ------------------------------------------------------------ */

struct rec {
	char *text;
	size_t len, cap;
	unsigned events;
};

static void rec_put(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		r->text = realloc(r->text, r->cap);
		assert_non_null(r->text);
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void rec_printf(struct rec *r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	rec_put(r, buf, (size_t)n);
}

static void rec_bytes(struct rec *r, struct bytes b)
{
	rec_put(r, "[", 1);
	for (size_t i = 0; i < b.len; i++) {
		uint8_t c = b.ptr[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			rec_put(r, (const char *)&c, 1);
		else
			rec_printf(r, "\\x%02x", c);
	}
	rec_put(r, "]", 1);
}

static const char *tf(bool b)
{
	return b ? "T" : "F";
}

static void on_event(void *ctx, struct event *ev)
{
	struct rec *r = ctx;

	r->events++;
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		rec_printf(r, "req %s %.*s ", tf(ev->is_orig), (int)ev->request.command.len,
			   (const char *)ev->request.command.ptr);
		rec_bytes(r, ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		rec_printf(r, "rep %s %u %.*s %s ", tf(ev->is_orig), ev->reply.code,
			   (int)ev->reply.cmd.len, (const char *)ev->reply.cmd.ptr,
			   tf(ev->reply.cont_resp));
		rec_bytes(r, ev->reply.msg);
		break;
	case EV_SMTP_DATA:
		rec_printf(r, "data %s ", tf(ev->is_orig));
		rec_bytes(r, ev->data.data);
		break;
	case EV_SMTP_STARTTLS:
		rec_printf(r, "starttls %s", tf(ev->is_orig));
		break;
	case EV_SMTP_UNEXPECTED:
		rec_printf(r, "unx %s %.*s ", tf(ev->is_orig), (int)ev->unexpected.msg.len,
			   (const char *)ev->unexpected.msg.ptr);
		rec_bytes(r, ev->unexpected.detail);
		break;
	case EV_WEIRD:
		rec_printf(r, "weird %s ", ev->weird.name);
		rec_bytes(r, ev->weird.addl);
		break;
	default:
		fail_msg("unexpected event type %d", ev->type);
	}
	rec_put(r, "\n", 1);
}

/* ---- sessions and scripts ------------------------------------------------ */

struct session {
	struct conn_id id;
	struct config cfg;
	struct rec rec;
	struct smtp *smtp;
};

static void session_open(struct session *t, bool partial)
{
	t->smtp = smtp_new(&t->cfg, partial, on_event, &t->rec);
	assert_non_null(t->smtp);
}

static struct session *session_new(void)
{
	struct session *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	config_defaults(&t->cfg);
	return t;
}

static void session_free(struct session *t)
{
	smtp_free(t->smtp);
	free(t->rec.text);
	free(t);
}

static void client(struct session *t, const char *s)
{
	smtp_deliver(t->smtp, true, (const uint8_t *)s, strlen(s));
}

static void server(struct session *t, const char *s)
{
	smtp_deliver(t->smtp, false, (const uint8_t *)s, strlen(s));
}

static void clear(struct session *t)
{
	t->rec.len = 0;
	if (t->rec.text)
		t->rec.text[0] = '\0';
}

/* Takes what was recorded so far and compares it with the expected text. */
static void expect(struct session *t, const char *want)
{
	assert_string_equal(t->rec.text ? t->rec.text : "", want);
	clear(t);
}

/* Greeting and EHLO, answered "250 <ehlo_reply>", checked; events cleared;
 * state READY. */
static void greeted(struct session *t, const char *ehlo_reply)
{
	char reply[128], want[256];

	snprintf(reply, sizeof(reply), "250 %s\r\n", ehlo_reply);
	snprintf(want, sizeof(want), "rep F 220 > F [hi]\nreq T EHLO [x]\nrep F 250 EHLO F [%s]\n",
		 ehlo_reply);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\n");
	server(t, reply);
	expect(t, want);
}

/* Greeting, EHLO, MAIL, RCPT done; events cleared; state RCPT_OK. */
static void to_rcpt(struct session *t)
{
	server(t, "220 mx ESMTP\r\n");
	client(t, "EHLO client\r\n");
	server(t, "250-mx\r\n250 CHUNKING\r\n");
	client(t, "MAIL FROM:<a@example.com>\r\n");
	server(t, "250 ok\r\n");
	client(t, "RCPT TO:<b@example.com>\r\n");
	server(t, "250 ok\r\n");
	expect(t, "rep F 220 > F [mx ESMTP]\n"
		  "req T EHLO [client]\n"
		  "rep F 250 EHLO T [mx]\n"
		  "rep F 250 EHLO F [CHUNKING]\n"
		  "req T MAIL [FROM:<a@example.com>]\n"
		  "rep F 250 MAIL F [ok]\n"
		  "req T RCPT [TO:<b@example.com>]\n"
		  "rep F 250 RCPT F [ok]\n");
}

/* The client's DATA and the server's 354: the body comes next. */
static void open_body(struct session *t)
{
	client(t, "DATA\r\n");
	server(t, "354 go\r\n");
}

/* ---- smtp.pcap session A, as in Zeek's dump-events baseline -------------- */

static const char *const session_a[] = {
    "S",
    "220-xc90.websitewelcome.com ESMTP Exim 4.69 #1 Mon, 05 Oct 2009 01:05:54 -0500 \r\n"
    "220-We do not authorize the use of this system to transport unsolicited, \r\n"
    "220 and/or bulk e-mail.\r\n",
    "C",
    "EHLO GP\r\n",
    "S",
    "250-xc90.websitewelcome.com Hello GP [122.162.143.157]\r\n250-SIZE 52428800\r\n"
    "250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250 HELP\r\n",
    "C",
    "AUTH LOGIN\r\n",
    "S",
    "334 VXNlcm5hbWU6\r\n",
    "C",
    "Z3VycGFydGFwQHBhdHJpb3RzLmlu\r\n",
    "S",
    "334 UGFzc3dvcmQ6\r\n",
    "C",
    "cHVuamFiQDEyMw==\r\n",
    "S",
    "235 Authentication succeeded\r\n",
    "C",
    "MAIL FROM: <gurpartap@patriots.in>\r\n",
    "S",
    "250 OK\r\n",
    "C",
    "RCPT TO: <raj_deol2002in@yahoo.co.in>\r\n",
    "S",
    "250 Accepted\r\n",
    "C",
    "DATA\r\n",
    "S",
    "354 Enter message, ending with \".\" on a line by itself\r\n",
    "C",
    "From: a\r\n\r\n..dot line\r\n.\r\n",
    "S",
    "250 OK id=1Mugho-0003Dg-Un\r\n",
    "C",
    "QUIT\r\n",
    "S",
    "221 xc90.websitewelcome.com closing connection\r\n",
    NULL,
};

static void play(struct session *t, const char *const *script)
{
	for (; script[0]; script += 2)
		(script[0][0] == 'C' ? client : server)(t, script[1]);
}

static const char session_a_events_head[] =
    "rep F 220 > T [xc90.websitewelcome.com ESMTP Exim 4.69 #1 Mon, 05 Oct 2009 01:05:54 "
    "-0500 ]\n"
    "rep F 220 > T [We do not authorize the use of this system to transport unsolicited, ]\n"
    "rep F 220 > F [and/or bulk e-mail.]\n"
    "req T EHLO [GP]\n"
    "rep F 250 EHLO T [xc90.websitewelcome.com Hello GP [122.162.143.157]]\n"
    "rep F 250 EHLO T [SIZE 52428800]\n"
    "rep F 250 EHLO T [PIPELINING]\n"
    "rep F 250 EHLO T [AUTH PLAIN LOGIN]\n"
    "rep F 250 EHLO T [STARTTLS]\n"
    "rep F 250 EHLO F [HELP]\n"
    "req T AUTH [LOGIN]\n"
    "rep F 334 AUTH F [VXNlcm5hbWU6]\n";

/* Difference 1: after 235 the state is READY, so MAIL raises nothing (Zeek
 * adds "unexpected command [MAIL reply = 0 state = 1]" after the request). */
static const char session_a_events_tail[] =
    "rep F 235 AUTH_ANSWER F [Authentication succeeded]\n"
    "req T MAIL [FROM: <gurpartap@patriots.in>]\n"
    "rep F 250 MAIL F [OK]\n"
    "req T RCPT [TO: <raj_deol2002in@yahoo.co.in>]\n"
    "rep F 250 RCPT F [Accepted]\n"
    "req T DATA []\n"
    "rep F 354 DATA F [Enter message, ending with \".\" on a line by itself]\n"
    "data T [From: a]\n"
    "data T []\n"
    "data T [.dot line]\n"
    "req T . [.]\n"
    "rep F 250 . F [OK id=1Mugho-0003Dg-Un]\n"
    "req T QUIT []\n"
    "rep F 221 QUIT F [xc90.websitewelcome.com closing connection]\n";

static void test_zeek_session_kept_credentials(void **state)
{
	struct session *t = session_new();
	char want[4096];

	(void)state;
	t->cfg.keep_credentials = true;
	t->cfg.emit_data = true;
	session_open(t, false);
	play(t, session_a);
	snprintf(want, sizeof(want), "%s%s%s", session_a_events_head,
		 "req T ** [Z3VycGFydGFwQHBhdHJpb3RzLmlu]\n"
		 "rep F 334 AUTH_ANSWER F [UGFzc3dvcmQ6]\n"
		 "req T ** [cHVuamFiQDEyMw==]\n",
		 session_a_events_tail);
	expect(t, want);
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 0);
	assert_false(smtp_stats(t->smtp)->tls);
	session_free(t);
}

static void test_zeek_session_redacted(void **state)
{
	struct session *t = session_new();
	char want[4096];

	(void)state;
	t->cfg.emit_data = true;
	session_open(t, false);
	play(t, session_a);
	snprintf(want, sizeof(want), "%s%s%s", session_a_events_head,
		 "req T ** [[redacted]]\n"
		 "rep F 334 AUTH_ANSWER F [UGFzc3dvcmQ6]\n"
		 "req T ** [[redacted]]\n",
		 session_a_events_tail);
	expect(t, want);
	session_free(t);
}

/* smtp_data is off by default: the same session gives no data events. */
static void test_data_events_off_by_default(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	play(t, session_a);
	assert_null(strstr(t->rec.text, "data "));
	assert_non_null(strstr(t->rec.text, "req T . [.]\n"));
	session_free(t);
}

/* ---- pipelining ------------------------------------------------------------ */

static void test_pipelining(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "ok");

	client(t, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n");
	expect(t, "req T MAIL [FROM:<a@b>]\n"
		  "req T RCPT [TO:<c@d>]\n"
		  "req T RCPT [TO:<e@f>]\n"
		  "req T DATA []\n");
	server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n");
	expect(t, "rep F 250 MAIL F [2.1.0 Ok]\n"
		  "rep F 250 RCPT F [2.1.5 Ok]\n"
		  "rep F 550 RCPT F [5.1.1 no such user]\n"
		  "rep F 354 DATA F [go ahead]\n");
	client(t, "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
	expect(t, "req T . [.]\nreq T QUIT []\n");
	server(t, "250 queued\r\n221 bye\r\n");
	expect(t, "rep F 250 . F [queued]\nrep F 221 QUIT F [bye]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 0);
	session_free(t);
}

/* smtpmonctl sessions' view: addresses without FROM:/TO:, each recipient's reply
 * code in order (pipelined), counts past the kept three, a new transaction resets. */
static void test_session_view(void **state)
{
	struct session *t = session_new();
	struct smtp_view view;
	const struct smtp_view *v = &view;

	(void)state;
	session_open(t, false);
	greeted(t, "ok");
	client(t, "MAIL from: <a@b> SIZE=10\r\nRCPT TO:<c@d>\r\nRCPT to:<e@f>\r\n"
		  "RCPT TO:<g@h>\r\nRCPT TO:<i@j>\r\nRCPT <bare@x>\r\n");
	server(t, "250 Ok\r\n250 Ok\r\n550 5.1.1 no such user\r\n");
	smtp_view(t->smtp, &view);
	assert_int_equal(v->mail_from.len, strlen("<a@b> SIZE=10"));
	assert_memory_equal(v->mail_from.bytes, "<a@b> SIZE=10", v->mail_from.len);
	assert_int_equal(v->nrcpts, 5);
	assert_memory_equal(v->rcpts[0].bytes, "<c@d>", 5);
	assert_memory_equal(v->rcpts[1].bytes, "<e@f>", 5);
	assert_int_equal(v->rcpt_code[0], 250);
	assert_int_equal(v->rcpt_code[1], 550);
	assert_int_equal(v->rcpt_code[2], 0); /* no reply yet */
	assert_int_equal(v->rcpts_replied, 2);
	assert_int_equal(v->rcpts_accepted, 1);
	server(t, "251 forwarded\r\n452 too many\r\n501 syntax\r\n");
	smtp_view(t->smtp, &view);
	assert_int_equal(v->rcpt_code[2], 251);
	assert_int_equal(v->rcpts_replied, 5);
	assert_int_equal(v->rcpts_accepted, 2);
	client(t, "RSET\r\n");
	server(t, "250 Ok\r\n");
	smtp_view(t->smtp, &view);
	assert_int_equal(v->nrcpts, 0);
	assert_int_equal(v->rcpts_replied, 0);
	assert_int_equal(v->mail_from.len, 0);
	session_free(t);
}

/* A pipelined DATA rejected after the fact: text before the rejection was
 * mail data, text after it is parsed as commands (mail-transactions-invalid). */
static void test_data_rejected_after_pipelining(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "DATA\r\nearly text\r\n");
	server(t, "554 no valid recipients\r\n");
	client(t, "Subject: late\r\n");
	server(t, "500 unrecognized\r\n");
	expect(t, "req T DATA []\n"
		  "rep F 554 DATA F [no valid recipients]\n"
		  "unx T unknown command [Subject:]\n"
		  "rep F 500 (UNKNOWN) F [unrecognized]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 0);
	session_free(t);
}

/* Zeek's queue holds 1000 commands behind the oldest one, then clears. */
static void test_queue_limit(void **state)
{
	struct session *t = session_new();
	const char *tail;

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	expect(t, "rep F 220 > F [hi]\n");
	for (int i = 0; i < 1001; i++)
		client(t, "NOOP\r\n");
	assert_int_equal(t->rec.events, 1 + 1001);
	assert_null(strstr(t->rec.text, "weird"));
	clear(t);
	client(t, "NOOP\r\n");
	expect(t, "weird smtp_excessive_pending_cmds []\nreq T NOOP []\n");
	server(t, "250 a\r\n250 b\r\n250 c\r\n");
	tail = "rep F 250 NOOP F [a]\nrep F 250 NOOP F [b]\nrep F 250 (UNKNOWN) F [c]\n";
	expect(t, tail);
	session_free(t);
}

/* More pipelined commands than the inline queue holds, with the ring
 * wrapped when it grows: replies are still attributed in order. */
static void test_pipelining_queue_grows(void **state)
{
	static const char *const verbs[] = {"NOOP", "RSET", "HELP", "VRFY"};
	struct session *t = session_new();
	char want[4096] = "", line[64];
	int n = 0;

	(void)state;
	session_open(t, false);
	greeted(t, "ok");
	for (int i = 0; i < 10; i++)
		client(t, "NOOP\r\n");
	for (int i = 0; i < 7; i++)
		server(t, "250 early\r\n");
	clear(t);
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "%s\r\n", verbs[i % 4]);
		client(t, line);
	}
	clear(t);
	for (int i = 0; i < 3 + 40; i++) {
		snprintf(line, sizeof(line), "250 r%d\r\n", i);
		server(t, line);
		n += snprintf(want + n, sizeof(want) - (size_t)n, "rep F 250 %s F [r%d]\n",
			      i < 3 ? "NOOP" : verbs[(i - 3) % 4], i);
	}
	expect(t, want);
	session_free(t);
}

/* ---- DATA and the end marker ---------------------------------------------- */

/* first: weirds after the first line; dot: before the "." request; quit:
 * between it and QUIT (docs/smuggling.md). */
static void data_with_ending(const char *eol, const char *first, const char *dot, const char *quit)
{
	struct session *t = session_new();
	char buf[256], want[512];

	t->cfg.emit_data = true;
	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	expect(t, "req T DATA []\nrep F 354 DATA F [go]\n");
	snprintf(buf, sizeof(buf), "line1%s..x%s.y%s. %s.%sQUIT%s", eol, eol, eol, eol, eol, eol);
	client(t, buf);
	snprintf(want, sizeof(want),
		 "data T [line1]\n%s"
		 "data T [.x]\n"
		 "data T [y]\n"
		 "data T [ ]\n"
		 "%sreq T . [.]\n"
		 "%sreq T QUIT []\n",
		 first, dot, quit);
	expect(t, want);
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	session_free(t);
}

static void test_data_crlf(void **state)
{
	(void)state;
	data_with_ending("\r\n", "", "", "");
}

/* A bare LF ends a line, and the message: a marker MTAs disagree on. */
static void test_data_bare_lf(void **state)
{
	(void)state;
	data_with_ending("\n", "", "weird smtp_ambiguous_end_of_data [<LF>.<LF>]\n",
			 "weird smtp_smuggled_command [QUIT]\n");
}

/* A bare CR ends a line too; Zeek flags it once per connection. Whether an
 * LF follows the dot's CR is known only at the next line. */
static void test_data_bare_cr(void **state)
{
	(void)state;
	data_with_ending("\r", "weird line_terminated_with_single_CR []\n", "",
			 "weird smtp_ambiguous_end_of_data [<CR>.<CR>]\n"
			 "weird smtp_smuggled_command [QUIT]\n");
}

/* "\n.\r\n" (the smuggling shape) ends DATA as well. */
static void test_data_mixed_end_marker(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	client(t, "body\n.\r\nMAIL FROM:<smuggled@x>\r\n");
	expect(t, "req T DATA []\nrep F 354 DATA F [go]\n"
		  "weird smtp_ambiguous_end_of_data [<LF>.<CR><LF>]\n"
		  "req T . [.]\n"
		  "weird smtp_smuggled_command [MAIL FROM:<smuggled@x>]\n"
		  "req T MAIL [FROM:<smuggled@x>]\n"
		  "unx T unexpected command [MAIL reply = 0 state = 7]\n");
	/* The server's answer ends the suspicion: later commands are its own. */
	server(t, "250 ok\r\n250 ok\r\n");
	client(t, "RCPT TO:<x@y>\r\n");
	expect(t, "rep F 250 . F [ok]\n"
		  "rep F 250 MAIL F [ok]\n"
		  "req T RCPT [TO:<x@y>]\n"
		  "unx T unexpected command [RCPT reply = 0 state = 3]\n");
	session_free(t);
}

/* The end marker split over deliveries; a CR ending one delivery and an LF
 * starting the next are one terminator, not an empty line. */
static void test_end_marker_split(void **state)
{
	static const char *const splits[][3] = {
	    {"body\r\n.", "\r\nQUIT\r\n", NULL},
	    {"body\r\n.\r", "\nQUIT\r\n", NULL},
	    {"body\r", "\n.\r", "\nQUIT\r\n"},
	    {"body\r\n", ".", "\r\nQUIT\r\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		struct session *t = session_new();

		t->cfg.emit_data = true;
		session_open(t, false);
		to_rcpt(t);
		open_body(t);
		expect(t, "req T DATA []\nrep F 354 DATA F [go]\n");
		for (int j = 0; j < 3 && splits[i][j]; j++)
			client(t, splits[i][j]);
		expect(t, "data T [body]\nreq T . [.]\nreq T QUIT []\n");
		session_free(t);
	}
}

/* The end-of-data shapes of the SMTP smuggling research (docs/smuggling.md):
 * each is named with the bytes seen, and the command after it is flagged,
 * however the bytes are cut into deliveries and whether the body's lines
 * are wanted (smtp_data) or skipped whole (the plain-body fast path); the
 * standard <CR><LF>.<CR><LF> is never flagged. */
static void test_smuggling_shapes(void **state)
{
	static const struct {
		const char *marker, *want;
	} shapes[] = {
	    {"\r\n.\r\n", NULL},	  {"\n.\n", "<LF>.<LF>"}, {"\n.\r\n", "<LF>.<CR><LF>"},
	    {"\r\n.\n", "<CR><LF>.<LF>"}, {"\r.\r", "<CR>.<CR>"}, {"\r\n.\r", "<CR><LF>.<CR>"},
	    {"\r.\r\n", "<CR>.<CR><LF>"}, {"\n.\r", "<LF>.<CR>"}, {"\r.\n", "<CR>.<LF>"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char msg[256], weird_eod[64];

		snprintf(msg, sizeof(msg), "Subject: s\r\n\r\nbody\r\nbody%sMAIL FROM:<s@x>\r\n",
			 shapes[i].marker);
		snprintf(weird_eod, sizeof(weird_eod), "weird smtp_ambiguous_end_of_data [%s]\n",
			 shapes[i].want ? shapes[i].want : "");
		for (int data = 0; data < 2; data++)
			for (size_t cut = 0; cut <= strlen(msg); cut++) {
				struct session *t = session_new();

				t->cfg.emit_data = data;
				session_open(t, false);
				to_rcpt(t);
				open_body(t);
				smtp_deliver(t->smtp, true, (const uint8_t *)msg, cut);
				client(t, msg + cut);
				const char *text = t->rec.text ? t->rec.text : "";
				bool ok = shapes[i].want
					      ? strstr(text, weird_eod) &&
						    strstr(text, "weird smtp_smuggled_command "
								 "[MAIL FROM:<s@x>]\n")
					      : !strstr(text, "smtp_ambiguous") &&
						    !strstr(text, "smtp_smuggled");
				if (!ok)
					fail_msg("shape %zu, smtp_data %d, cut at %zu:\n%s", i,
						 data, cut, text);
				session_free(t);
			}
	}
}

/* ---- AUTH ----------------------------------------------------------------- */

static void auth_plain(bool keep, const char *want_arg)
{
	struct session *t = session_new();
	char want[256];

	t->cfg.keep_credentials = keep;
	session_open(t, false);
	greeted(t, "ok");
	client(t, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
	server(t, "235 2.7.0 Authentication successful\r\n");
	client(t, "MAIL FROM:<a@b>\r\n");
	snprintf(want, sizeof(want),
		 "req T AUTH [%s]\n"
		 "rep F 235 AUTH F [2.7.0 Authentication successful]\n"
		 "req T MAIL [FROM:<a@b>]\n",
		 want_arg);
	expect(t, want);
	session_free(t);
}

static void test_auth_plain_redacted(void **state)
{
	(void)state;
	auth_plain(false, "PLAIN [redacted]");
}

static void test_auth_plain_kept(void **state)
{
	(void)state;
	auth_plain(true, "PLAIN AHVzZXIAc2VjcmV0");
}

/* What stays of odd AUTH arguments when redacting. */
static void test_auth_redaction_shapes(void **state)
{
	static const char *const cases[][2] = {
	    {"AUTH LOGIN\r\n", "req T AUTH [LOGIN]\n"},
	    {"AUTH login   \r\n", "req T AUTH [login   ]\n"},
	    {"AUTH CRAM-MD5 x\r\n", "req T AUTH [CRAM-MD5 [redacted]]\n"},
	    {"AUTH dXNlcjpwYXNzd29yZA==\r\n", "req T AUTH [[redacted]]\n"},
	    {"AUTH ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n", "req T AUTH [[redacted]]\n"},
	    {"AUTH\r\n", "req T AUTH []\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct session *t = session_new();

		session_open(t, false);
		greeted(t, "ok");
		client(t, cases[i][0]);
		expect(t, cases[i][1]);
		session_free(t);
	}
}

/* A failed AUTH keeps Zeek's behaviour: back to INITIATED. */
static void test_auth_failure_state(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "ok");
	client(t, "AUTH LOGIN\r\n");
	server(t, "334 VXNlcm5hbWU6\r\n");
	client(t, "*\r\n");
	server(t, "501 cancelled\r\n");
	client(t, "MAIL FROM:<a@b>\r\n");
	expect(t, "req T AUTH [LOGIN]\n"
		  "rep F 334 AUTH F [VXNlcm5hbWU6]\n"
		  "req T ** [[redacted]]\n"
		  "rep F 501 AUTH_ANSWER F [cancelled]\n"
		  "req T MAIL [FROM:<a@b>]\n"
		  "unx T unexpected command [MAIL reply = 0 state = 1]\n");
	session_free(t);
}

/* SASL answers pipelined behind AUTH, before its 334, are "unknown commands":
 * their word is a credential and must not show in the detail. */
static void sasl_ahead_of_334(bool keep, const char *want)
{
	struct session *t = session_new();

	t->cfg.keep_credentials = keep;
	session_open(t, false);
	greeted(t, "ok");
	client(t, "AUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\n");
	expect(t, want);
	server(t, "334 VXNlcm5hbWU6\r\n");
	client(t, "FOO\r\n");
	expect(t, keep ? "rep F 334 AUTH F [VXNlcm5hbWU6]\nreq T ** [FOO]\n"
		       : "rep F 334 AUTH F [VXNlcm5hbWU6]\nreq T ** [[redacted]]\n");
	session_free(t);
}

static void test_sasl_answer_ahead_of_334(void **state)
{
	(void)state;
	sasl_ahead_of_334(false, "req T AUTH [LOGIN]\n"
				 "unx T unknown command [[redacted]]\n"
				 "unx T unknown command [[redacted]]\n");
	sasl_ahead_of_334(true, "req T AUTH [LOGIN]\n"
				"unx T unknown command [dXNlcg==]\n"
				"unx T unknown command [c2VjcmV0]\n");
}

/* ---- STARTTLS ------------------------------------------------------------- */

static void test_starttls_accepted(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "STARTTLS");
	client(t, "STARTTLS\r\n");
	assert_false(smtp_is_tls(t->smtp));
	server(t, "220 2.0.0 Ready to start TLS\r\n250 not parsed\r\n");
	expect(t, "req T STARTTLS []\n"
		  "starttls F\n"
		  "rep F 220 STARTTLS F [2.0.0 Ready to start TLS]\n");
	assert_true(smtp_is_tls(t->smtp));
	client(t, "\x16\x03\x01\x02\x00\x01\r\nMAIL FROM:<x@y>\r\n");
	server(t, "\x16\x03\x03garbage\r\n600 bad\r\n");
	smtp_gap(t->smtp, true, 100, 10);
	smtp_end_of_direction(t->smtp, true);
	smtp_finish(t->smtp);
	expect(t, "");
	assert_true(smtp_stats(t->smtp)->tls);
	session_free(t);
}

static void test_x_anonymoustls(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "STARTTLS");
	client(t, "x-anonymoustls\r\n");
	server(t, "220 go\r\n");
	expect(t, "req T X-ANONYMOUSTLS []\n"
		  "starttls F\n"
		  "rep F 220 X_ANONYMOUSTLS F [go]\n");
	assert_true(smtp_is_tls(t->smtp));
	session_free(t);
}

static void test_starttls_refused(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "STARTTLS");
	client(t, "STARTTLS\r\n");
	server(t, "454 4.7.0 TLS not available\r\n");
	client(t, "MAIL FROM:<a@b>\r\n");
	expect(t, "req T STARTTLS []\n"
		  "rep F 454 STARTTLS F [4.7.0 TLS not available]\n"
		  "req T MAIL [FROM:<a@b>]\n");
	assert_false(smtp_is_tls(t->smtp));
	assert_false(smtp_stats(t->smtp)->tls);
	session_free(t);
}

/* Commands sent after STARTTLS but before the 220 are still plaintext. */
static void test_starttls_injection(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	greeted(t, "STARTTLS");
	client(t, "STARTTLS\r\nRSET\r\n");
	server(t, "220 go ahead\r\n");
	expect(t, "req T STARTTLS []\n"
		  "req T RSET []\n"
		  "starttls F\n"
		  "rep F 220 STARTTLS F [go ahead]\n");
	session_free(t);
}

/* ---- body skipping (docs/body-skip.md) ----------------------------------- */

/* What may be skipped: nothing before the header block ends, then the body;
 * skipped body bytes break the current line and the copied tail resyncs at a
 * line end, so the "." line still ends the mail; no smtp_data for them. */
static void test_skip_data_body(void **state)
{
	(void)state;
	struct session *t = session_new();
	uint64_t len;

	t->cfg.emit_data = true;
	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	client(t, "Subject: s\r\n");
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_NONE);
	client(t, "\r\nfirst");
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_BODY);
	assert_int_equal(smtp_skippable(t->smtp, false, &len), SMTP_SKIP_NONE);
	smtp_skipped(t->smtp, true, 100, 5000);
	client(t, "ab\r\n"); /* the tail: end of a broken line */
	client(t, "last\r\n.\r\n");
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_NONE);
	server(t, "250 queued\r\n");
	expect(t, "req T DATA []\nrep F 354 DATA F [go]\ndata T [Subject: s]\ndata T []\n"
		  "data T [last]\nreq T . [.]\nrep F 250 . F [queued]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	assert_int_equal(smtp_stats(t->smtp)->skipped_bytes, 5000);
	assert_int_equal(smtp_stats(t->smtp)->skip_fallbacks, 0);
	session_free(t);
}

/* The end hidden in skipped bytes: the server's reply reveals it; the
 * skipped bytes become a gap for the parser, which recovers. */
static void test_skip_missed_end(void **state)
{
	(void)state;
	struct session *t = session_new();

	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	client(t, "Subject: s\r\n\r\n");
	smtp_skipped(t->smtp, true, 50, 700);
	clear(t);
	server(t, "250 queued\r\n");
	expect(t, "unx T content gap [seq = 50, len = 700]\nreq T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [queued]\n");
	assert_int_equal(smtp_stats(t->smtp)->skip_fallbacks, 1);
	/* skipped bytes where nothing may be skipped: a gap at once */
	smtp_skipped(t->smtp, true, 800, 10);
	expect(t, "unx T content gap [seq = 800, len = 10]\n");
	assert_int_equal(smtp_stats(t->smtp)->skip_fallbacks, 2);
	session_free(t);
}

/* A BDAT chunk skipped in pieces completes like a copied one. */
static void test_skip_bdat_chunk(void **state)
{
	(void)state;
	struct session *t = session_new();
	uint64_t len;

	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 3000 LAST\r\nabc");
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_CHUNK);
	assert_int_equal(len, 2997);
	smtp_skipped(t->smtp, true, 0, 2000);
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_CHUNK);
	assert_int_equal(len, 997);
	smtp_skipped(t->smtp, true, 0, 997);
	assert_int_equal(smtp_skippable(t->smtp, true, &len), SMTP_SKIP_NONE);
	server(t, "250 2.0.0 queued\r\n");
	client(t, "QUIT\r\n");
	expect(t, "req T BDAT [3000 LAST]\nrep F 250 BDAT F [2.0.0 queued]\nreq T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	session_free(t);
}

/* ---- content hook ---------------------------------------------------------- */

/* Content callbacks go into the same record, so their order against the
 * events shows: "content BEGIN 1 T D", "content LINE [..]", "content GAP 5",
 * "content END T" (complete). */
static void on_content(void *ctx, const struct smtp_content *c)
{
	static const char *const kinds[] = {"BEGIN", "LINE", "GAP", "SKIPPED", "END"};
	struct session *t = ctx;
	struct rec *r = &t->rec;

	assert_ptr_equal(c->id, &t->id);
	rec_printf(r, "content %s", kinds[c->kind]);
	switch (c->kind) {
	case SMTP_CONTENT_BEGIN:
		rec_printf(r, " %u %s %s", c->trans_depth, tf(c->is_orig), c->bdat ? "B" : "D");
		break;
	case SMTP_CONTENT_LINE:
		rec_put(r, " ", 1);
		rec_bytes(r, c->line);
		break;
	case SMTP_CONTENT_GAP:
	case SMTP_CONTENT_SKIPPED:
		rec_printf(r, " %llu", (unsigned long long)c->len);
		break;
	case SMTP_CONTENT_END:
		rec_printf(r, " %u %s", c->trans_depth, tf(c->complete));
		break;
	}
	rec_put(r, "\n", 1);
}

static struct session *content_session(void)
{
	struct session *t = session_new();

	session_open(t, false);
	smtp_set_content_hook(t->smtp, &t->id, on_content, t);
	to_rcpt(t);
	return t;
}

/* DATA: lines dot-unstuffed without terminators, every line ending; the end
 * comes before the "." request; the next message is trans_depth 2. */
static void test_content_data(void **state)
{
	(void)state;
	struct session *t = content_session();

	open_body(t);
	client(t, "Subject: s\r\n\r\n..dot\nbare lf\r\n.\r\n");
	server(t, "250 queued\r\n");
	expect(t, "req T DATA []\ncontent BEGIN 1 T D\nrep F 354 DATA F [go]\n"
		  "content LINE [Subject: s]\ncontent LINE []\ncontent LINE [.dot]\n"
		  "content LINE [bare lf]\ncontent END 1 T\nreq T . [.]\n"
		  "rep F 250 . F [queued]\n");
	client(t, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	server(t, "250 ok\r\n250 ok\r\n354 go\r\n");
	clear(t);
	client(t, "x\r\n");
	smtp_finish(t->smtp);
	expect(t, "content LINE [x]\ncontent END 2 F\n");
	session_free(t);
}

/* BDAT: chunk bytes become the same lines as DATA would give, whatever the
 * chunk boundaries (a line and a CR LF split across chunks); a bare LF ends
 * a line, a lone CR stays in it, an over-long line is cut. */
static void test_content_bdat(void **state)
{
	(void)state;
	struct session *t = content_session();
	char big[SMTP_BDAT_LINE_MAX + 20], cmd[64], want[SMTP_BDAT_LINE_MAX + 200];

	client(t, "BDAT 9\r\nSubject: ");
	client(t, "BDAT 9\r\ns\r\n\r\na\rb\r");
	client(t, "BDAT 5 LAST\r\n\nlf\nz");
	expect(t, "req T BDAT [9]\ncontent BEGIN 1 T B\nreq T BDAT [9]\n"
		  "content LINE [Subject: s]\ncontent LINE []\nreq T BDAT [5 LAST]\n"
		  "content LINE [a\\x0db]\ncontent LINE [lf]\ncontent LINE [z]\n"
		  "content END 1 T\n");
	server(t, "250 ok\r\n250 ok\r\n250 ok\r\n");
	client(t, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
	server(t, "250 ok\r\n250 ok\r\n");
	clear(t);
	memset(big, 'y', sizeof(big));
	snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", sizeof(big));
	client(t, cmd);
	smtp_deliver(t->smtp, true, (const uint8_t *)big, 10);
	smtp_deliver(t->smtp, true, (const uint8_t *)big, sizeof(big) - 10);
	snprintf(want, sizeof(want), "req T BDAT [%zu LAST]\ncontent BEGIN 2 T B\ncontent LINE [",
		 sizeof(big));
	memset(want + strlen(want), 'y', SMTP_BDAT_LINE_MAX);
	snprintf(want + strlen(want), 100,
		 "]\ncontent LINE [yyyyyyyyyyyyyyyyyyyy]\ncontent END 2 T\n");
	expect(t, want);
	session_free(t);
}

/* Each content line followed by its terminator (smtp_content.term): what
 * the whole-message file is made of. */
struct raw_message {
	uint8_t buf[2 * SMTP_BDAT_LINE_MAX];
	size_t len;
};

static void on_raw(void *ctx, const struct smtp_content *c)
{
	struct raw_message *m = ctx;

	if (c->kind != SMTP_CONTENT_LINE)
		return;
	assert_true(m->len + c->line.len + c->term.len <= sizeof(m->buf));
	if (c->line.len)
		memcpy(m->buf + m->len, c->line.ptr, c->line.len);
	m->len += c->line.len;
	if (c->term.len)
		memcpy(m->buf + m->len, c->term.ptr, c->term.len);
	m->len += c->term.len;
}

/* BDAT: the lines with their terminators give back the chunk bytes exactly
 * as sent, whatever the chunk and delivery boundaries (a CR LF split across
 * chunks, a bare LF, a lone CR, a line cut for its length, no line end at
 * the end). DATA: each line after dot removal with a CR LF, as Zeek. */
static void test_content_terminators(void **state)
{
	(void)state;
	struct session *t = session_new();
	struct raw_message m = {0};
	static uint8_t body[SMTP_BDAT_LINE_MAX + 64];
	const char *head = "Subject: s\r\n\r\na\rb\r\n\nlf\n";
	size_t n = strlen(head), cuts[] = {11, 12, 30, SMTP_BDAT_LINE_MAX + 40}, at = 0;
	char cmd[64];

	memcpy(body, head, n);
	memset(body + n, 'y', SMTP_BDAT_LINE_MAX + 20);
	n += SMTP_BDAT_LINE_MAX + 20;
	memcpy(body + n, "\r\nend\r", 7);
	n += 7;
	session_open(t, false);
	smtp_set_content_hook(t->smtp, &t->id, on_raw, &m);
	to_rcpt(t);
	for (size_t i = 0; i <= sizeof(cuts) / sizeof(cuts[0]); i++) {
		size_t end = i < sizeof(cuts) / sizeof(cuts[0]) ? cuts[i] : n;

		snprintf(cmd, sizeof(cmd), "BDAT %zu%s\r\n", end - at, end == n ? " LAST" : "");
		client(t, cmd);
		/* the chunk in two deliveries */
		smtp_deliver(t->smtp, true, body + at, (end - at) / 2);
		smtp_deliver(t->smtp, true, body + at + (end - at) / 2, end - at - (end - at) / 2);
		server(t, "250 ok\r\n");
		at = end;
	}
	assert_int_equal(m.len, n);
	assert_memory_equal(m.buf, body, n);

	m.len = 0;
	client(t, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	server(t, "250 ok\r\n250 ok\r\n354 go\r\n");
	client(t, "Subject: s\r\n\r\n..dot\nbare lf\r\n.\r\n");
	assert_int_equal(m.len, strlen("Subject: s\r\n\r\n.dot\r\nbare lf\r\n"));
	assert_memory_equal(m.buf, "Subject: s\r\n\r\n.dot\r\nbare lf\r\n", m.len);
	session_free(t);
}

/* A gap in the message: GAP then an incomplete END; skipped body bytes:
 * SKIPPED, and the message still completes at its "." line. */
static void test_content_gap_and_skip(void **state)
{
	(void)state;
	struct session *t = content_session();

	open_body(t);
	client(t, "Subject: s\r\n\r\nbody");
	clear(t);
	smtp_gap(t->smtp, true, 100, 5);
	expect(t, "unx T content gap [seq = 100, len = 5]\ncontent GAP 5\ncontent END 1 F\n");
	session_free(t);

	t = content_session();
	open_body(t);
	client(t, "Subject: s\r\n\r\nfirst");
	clear(t);
	smtp_skipped(t->smtp, true, 100, 5000);
	client(t, "ab\r\nlast\r\n.\r\n");
	expect(t, "content SKIPPED 5000\ncontent LINE [last]\ncontent END 1 T\nreq T . [.]\n");
	session_free(t);

	t = content_session();
	client(t, "BDAT 3000 LAST\r\nabc");
	clear(t);
	smtp_skipped(t->smtp, true, 0, 2997);
	expect(t, "content LINE [abc]\ncontent SKIPPED 2997\ncontent END 1 T\n");
	session_free(t);
}

/* ---- BDAT ----------------------------------------------------------------- */

static void test_bdat_grammar(void **state)
{
	static const char *const cases[][2] = {
	    {"BDAT\r\n", "req T BDAT []\n"
			 "weird smtp_invalid_bdat_command [BDAT argument bad length]\n"},
	    {"BDAT -1 LAST\r\n",
	     "req T BDAT [-1 LAST]\n"
	     "weird smtp_invalid_bdat_command [BDAT not followed by a valid chunk-size]\n"},
	    {"BDAT SCRAMBLE\r\n",
	     "req T BDAT [SCRAMBLE]\n"
	     "weird smtp_invalid_bdat_command [BDAT not followed by a valid chunk-size]\n"},
	    {"BDAT 86LAST\r\n", "req T BDAT [86LAST]\n"
				"weird smtp_invalid_bdat_command [BDAT chunk-size not valid]\n"},
	    {"BDAT 184467440737095516150\r\n",
	     "req T BDAT [184467440737095516150]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size too large]\n"},
	    {"BDAT 18446744073709551616 LAST\r\n",
	     "req T BDAT [18446744073709551616 LAST]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size too large]\n"},
	    {"BDAT 184467440737095516150 LAST\r\n",
	     "req T BDAT [184467440737095516150 LAST]\n"
	     "weird smtp_invalid_bdat_command [BDAT argument bad length]\n"},
	    {"BDAT 1234 SCRAMBLE\r\n",
	     "req T BDAT [1234 SCRAMBLE]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size followed by junk]\n"},
	    {"BDAT 86 LASTX\r\n",
	     "req T BDAT [86 LASTX]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size followed by junk]\n"},
	    {"BDAT 86 \r\n",
	     "req T BDAT [86 ]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size followed by junk]\n"},
	    {"BDAT 86 LAS\r\n",
	     "req T BDAT [86 LAS]\n"
	     "weird smtp_invalid_bdat_command [BDAT chunk-size followed by junk]\n"},
	    {"BDAT 15555555557777777777 LAST\r\n",
	     "req T BDAT [15555555557777777777 LAST]\n"
	     "weird smtp_huge_bdat_chunk [15555555557777777777]\n"},
	    {"BDAT 18446744073709551615 LAST\r\n",
	     "req T BDAT [18446744073709551615 LAST]\n"
	     "weird smtp_huge_bdat_chunk [18446744073709551615]\n"},
	    {"BDAT 9223372036854775808\r\n", "req T BDAT [9223372036854775808]\n"
					     "weird smtp_huge_bdat_chunk [9223372036854775808]\n"},
	};
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	/* Invalid BDATs are queued and change nothing: DATA still fits. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client(t, cases[i][0]);
		expect(t, cases[i][1]);
	}
	server(t, "521 5.5.4 Syntax: BDAT count [LAST]\r\n");
	expect(t, "unx T unexpected reply [521 state = 5, last command = BDAT]\n"
		  "rep F 521 BDAT F [5.5.4 Syntax: BDAT count [LAST]]\n");
	client(t, "DATA\r\n");
	expect(t, "req T DATA []\n");
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 15);
	session_free(t);
}

/* Chunk bytes are never lines: a "MAIL FROM" inside a chunk is data. */
static void test_bdat_chunks_are_not_commands(void **state)
{
	struct session *t = session_new();

	(void)state;
	t->cfg.emit_data = true;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 20\r\nMAIL FROM:<evil@x>\r\nBDAT 6 last\r\nRCPT\r\nQUIT\r\n");
	expect(t, "req T BDAT [20]\nreq T BDAT [6 last]\nreq T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	server(t, "250 2.0.0 20 octets\r\n250 2.0.0 queued\r\n221 bye\r\n");
	expect(t, "rep F 250 BDAT F [2.0.0 20 octets]\n"
		  "rep F 250 BDAT F [2.0.0 queued]\n"
		  "rep F 221 QUIT F [bye]\n");
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 0);
	session_free(t);
}

/* Difference 2: after the reply to BDAT ... LAST a new MAIL is expected. */
static void test_bdat_last_then_next_mail(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 5 LAST\r");
	client(t, "\nabc");
	client(t, "de");
	server(t, "250 ok\r\n");
	client(t, "MAIL FROM:<c@d>\r\n");
	expect(t, "req T BDAT [5 LAST]\n"
		  "rep F 250 BDAT F [ok]\n"
		  "req T MAIL [FROM:<c@d>]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 0);
	session_free(t);
}

static void test_bdat_zero_last(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 0 LAST\r\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	server(t, "250 ok\r\n");
	client(t, "QUIT\r\n");
	expect(t, "req T BDAT [0 LAST]\nrep F 250 BDAT F [ok]\nreq T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 0);
	session_free(t);
}

static void test_bdat_missing_last(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 3\r\nabcRSET\r\n");
	expect(t, "req T BDAT [3]\n"
		  "req T RSET []\n"
		  "weird smtp_missing_bdat_last_chunk []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 0);
	session_free(t);
}

/* A valid but enormous chunk swallows everything the client sends. */
static void test_bdat_large_chunk(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 9223372036854775807 LAST\r\nQUIT\r\n");
	smtp_end_of_direction(t->smtp, true);
	smtp_finish(t->smtp);
	expect(t, "req T BDAT [9223372036854775807 LAST]\n"
		  "weird smtp_bdat_remaining_at_end_data []\n");
	session_free(t);
}

/* ---- gaps ----------------------------------------------------------------- */

static void test_gap_in_data(void **state)
{
	struct session *t = session_new();

	(void)state;
	t->cfg.emit_data = true;
	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	client(t, "line\r\npart of a li");
	smtp_gap(t->smtp, true, 4000, 1448);
	client(t, "ne\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<evil@y>\r\n.\r\n");
	expect(t, "req T DATA []\n"
		  "rep F 354 DATA F [go]\n"
		  "data T [line]\n"
		  "unx T content gap [seq = 4000, len = 1448]\n");
	server(t, "250 queued\r\n");
	client(t, "QUIT\r\n");
	expect(t, "req T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [queued]\n"
		  "req T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 0);
	session_free(t);
}

/* The first reply after a gap being 354 restarts a mail. */
static void test_gap_recovery_354(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	smtp_gap(t->smtp, false, 900, 20);
	open_body(t);
	client(t, "QUIT\r\n.\r\n");
	expect(t, "unx F content gap [seq = 900, len = 20]\n"
		  "req T (UNKNOWN) []\n"
		  "rep F 354 (UNKNOWN) F [go]\n"
		  "req T . [.]\n");
	session_free(t);
}

/* A gap took the end of a mail and the next pipelined MAIL (make bench's
 * copy mode with ring drops): the replies meet the wrong commands, "250" to
 * DATA. Zeek ends the mail there and parses the body as commands (a body line
 * "mail ..." became a MAIL request, thousands of events per mail); here DATA
 * waits for its 354 and the body stays data (difference 7b). */
static void test_gap_took_pipelined_mail(void **state)
{
	struct session *t = session_new();

	(void)state;
	t->cfg.emit_data = true;
	session_open(t, false);
	to_rcpt(t);
	open_body(t);
	client(t, "line\r\n");
	smtp_gap(t->smtp, true, 4000, 1448);
	server(t, "250 queued\r\n");
	client(t, "RCPT TO:<b@example.com>\r\nDATA\r\n");
	server(t, "250 ok\r\n250 ok\r\n354 go\r\n");
	client(t, "mail transfer queue\r\n.\r\n");
	server(t, "250 queued 2\r\n");
	client(t, "QUIT\r\n");
	expect(t, "req T DATA []\n"
		  "rep F 354 DATA F [go]\n"
		  "data T [line]\n"
		  "unx T content gap [seq = 4000, len = 1448]\n"
		  "req T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [queued]\n"
		  "req T RCPT [TO:<b@example.com>]\n"
		  "unx T unexpected command [RCPT reply = 0 state = 12]\n"
		  "req T DATA []\n"
		  "rep F 250 RCPT F [ok]\n"
		  "unx T unexpected reply [250 state = 6, last command = DATA]\n"
		  "rep F 250 DATA F [ok]\n"
		  "rep F 354 DATA F [go]\n"
		  "data T [mail transfer queue]\n"
		  "req T . [.]\n"
		  "rep F 250 . F [queued 2]\n"
		  "req T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	session_free(t);
}

/* A gap inside a BDAT chunk: the mail is closed; the chunk bytes whose count
 * is known are still skipped, even after the server has answered. */
static void test_gap_in_bdat(void **state)
{
	struct session *t = session_new();
	char chunk_rest[51];

	(void)state;
	session_open(t, false);
	to_rcpt(t);
	client(t, "BDAT 100 LAST\r\n0123456789012345678901234567890123456789");
	smtp_gap(t->smtp, true, 500, 10);
	server(t, "250 ok\r\n");
	memset(chunk_rest, 'x', 50);
	memcpy(chunk_rest, "\r\nMAIL FROM:<evil@x>\r\nNOOP\r\n", 28);
	chunk_rest[50] = '\0';
	client(t, chunk_rest);
	client(t, "QUIT\r\n");
	expect(t, "req T BDAT [100 LAST]\n"
		  "unx T content gap [seq = 500, len = 10]\n"
		  "weird smtp_bdat_remaining_at_end_data []\n"
		  "req T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [ok]\n"
		  "req T QUIT []\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 0);
	session_free(t);
}

/* smtp/smtp-bdat-gap.pcap with the gap delivered where Zeek declares it (the
 * server's ACK of the missing bytes, before its 250). The requests are those
 * of Zeek's baseline bdat-gap/out: BDAT 200, (UNKNOWN), DATA, ., QUIT; the
 * weird is in its weird.log. */
static void test_zeek_bdat_gap_timing(void **state)
{
	struct session *t = session_new();
	char chunk_head[101];

	(void)state;
	session_open(t, false);
	server(t, "220 mail.example.com ESMTP\r\n");
	client(t, "EHLO sender.example.com\r\n");
	server(t, "250-mail.example.com Hello\r\n250-CHUNKING\r\n250 OK\r\n");
	client(t, "MAIL FROM:<sender@example.com>\r\n");
	server(t, "250 OK\r\n");
	client(t, "RCPT TO:<recipient@example.com>\r\n");
	server(t, "250 OK\r\n");
	client(t, "BDAT 200\r\n");
	server(t, "250 OK\r\n");
	memset(chunk_head, 'A', 100);
	chunk_head[100] = '\0';
	client(t, chunk_head);
	smtp_gap(t->smtp, true, 200, 1000);
	server(t, "250 OK\r\n");
	client(t, "DATA\r\n");
	server(t, "354 End data with <CR><LF>.<CR><LF>\r\n");
	client(t, "From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: Test\r\n\r\n"
		  "Hello!\r\n.\r\n");
	server(t, "250 OK: message queued\r\n");
	client(t, "QUIT\r\n");
	server(t, "221 Bye\r\n");
	expect(t, "rep F 220 > F [mail.example.com ESMTP]\n"
		  "req T EHLO [sender.example.com]\n"
		  "rep F 250 EHLO T [mail.example.com Hello]\n"
		  "rep F 250 EHLO T [CHUNKING]\n"
		  "rep F 250 EHLO F [OK]\n"
		  "req T MAIL [FROM:<sender@example.com>]\n"
		  "rep F 250 MAIL F [OK]\n"
		  "req T RCPT [TO:<recipient@example.com>]\n"
		  "rep F 250 RCPT F [OK]\n"
		  "req T BDAT [200]\n"
		  "rep F 250 BDAT F [OK]\n"
		  "unx T content gap [seq = 200, len = 1000]\n"
		  "weird smtp_bdat_remaining_at_end_data []\n"
		  "req T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [OK]\n"
		  "req T DATA []\n"
		  "unx T unexpected command [DATA reply = 0 state = 12]\n"
		  "rep F 354 DATA F [End data with <CR><LF>.<CR><LF>]\n"
		  "req T . [.]\n"
		  "rep F 250 . F [OK: message queued]\n"
		  "req T QUIT []\n"
		  "rep F 221 QUIT F [Bye]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 1);
	session_free(t);
}

/* A gap in a server line: the broken line is dropped, not glued. The open
 * multi-line reply survives the gap (as in Zeek), so the next line continues
 * it: no recovery request, attributed to nothing. */
static void test_gap_mid_reply(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\n");
	server(t, "250-first\r\n250-sec");
	smtp_gap(t->smtp, false, 30, 5);
	server(t, "nd\r\n250 last\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "rep F 250 EHLO T [first]\n"
		  "unx F content gap [seq = 30, len = 5]\n"
		  "rep F 250 (UNKNOWN) F [last]\n");
	server(t, "221 bye\r\n");
	expect(t, "req T (UNKNOWN) []\nrep F 221 (UNKNOWN) F [bye]\n");
	session_free(t);
}

/* Attached to an open session: like after a gap. */
static void test_partial_session(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, true);
	client(t, "rest of a mail\r\nRCPT TO:<x@y>\r\n.\r\n");
	server(t, "250 ok\r\n");
	client(t, "QUIT\r\n");
	expect(t, "req T (UNKNOWN) []\n"
		  "rep F 250 (UNKNOWN) F [ok]\n"
		  "req T QUIT []\n");
	session_free(t);
}

/* ---- replies -------------------------------------------------------------- */

static void test_reply_parsing(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220\r\n");
	client(t, "EHLO x\r\n");
	server(t, "250-\t spaced  \r\n250x\r\n");
	expect(t, "rep F 220 > F []\n"
		  "req T EHLO [x]\n"
		  "rep F 250 EHLO T [spaced  ]\n"
		  "rep F 250 EHLO F [x]\n");
	session_free(t);
}

static void test_reply_code_out_of_range(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "600 nope\r\nhello\r\n25\r\n099 low\r\n220 hi\r\n");
	expect(t, "unx F reply code out of range [600 nope]\n"
		  "unx F reply code out of range [hello]\n"
		  "unx F reply code out of range [25]\n"
		  "unx F reply code out of range [099 low]\n"
		  "rep F 220 > F [hi]\n");
	assert_int_equal(smtp_stats(t->smtp)->anomalies, 4);
	session_free(t);
}

static void test_continuation_mismatch(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\n");
	server(t, "250-a\r\n251 b\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "rep F 250 EHLO T [a]\n"
		  "unx F reply code does not match the continuing reply [251 b]\n"
		  "rep F 251 (UNKNOWN) F [b]\n");
	session_free(t);
}

static void test_unexpected_reply_and_quit_state(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "QUIT\r\n");
	server(t, "250 ok\r\n");
	client(t, "NOOP\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T QUIT []\n"
		  "unx T unexpected reply [250 state = 10, last command = QUIT]\n"
		  "rep F 250 QUIT F [ok]\n"
		  "req T NOOP []\n"
		  "unx T unexpected command [NOOP reply = 0 state = 10]\n");
	session_free(t);
}

static void test_greeting_unavailable(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "554 go away\r\n");
	client(t, "EHLO x\r\n");
	expect(t, "rep F 554 > F [go away]\n"
		  "req T EHLO [x]\n"
		  "unx T unexpected command [EHLO reply = 0 state = 2]\n");
	session_free(t);
}

/* ---- commands ------------------------------------------------------------- */

static void test_unknown_command(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "FOO bar\r\n\r\n   \r\nX-ANONYMOUSTLSX\r\nehlo\tlower case \r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "unx T unknown command [FOO]\n"
		  "unx T unknown command []\n"
		  "unx T unknown command []\n"
		  "unx T unknown command [X-ANONYMOUSTLSX]\n"
		  "req T EHLO [lower case ]\n");
	server(t, "250 ok\r\n");
	expect(t, "rep F 250 EHLO F [ok]\n");
	session_free(t);
}

/* A rejected EHLO arriving after a pipelined DATA leaves the mail open
 * outside IN_DATA; the next DATA opens a second one. */
static void test_nested_mail(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	server(t, "501 bad ehlo\r\n");
	client(t, "DATA\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "req T MAIL [FROM:<a@b>]\n"
		  "req T RCPT [TO:<c@d>]\n"
		  "req T DATA []\n"
		  "rep F 501 EHLO F [bad ehlo]\n"
		  "req T DATA []\n"
		  "unx T unexpected command [DATA reply = 0 state = 1]\n"
		  "weird smtp_nested_mail_transaction []\n");
	session_free(t);
}

/* Zeek recognises its internal command names when a client sends them; an
 * end of data without a mail is Zeek's smtp_unmatched_end_of_data. */
static void test_internal_command_names(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\nend_of_data now\r\n");
	server(t, "250 ok\r\n500 what\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "unx T unexpected command [END_OF_DATA reply = 0 state = 3]\n"
		  "weird smtp_unmatched_end_of_data []\n"
		  "req T END_OF_DATA [now]\n"
		  "rep F 250 EHLO F [ok]\n"
		  "unx T unexpected reply [500 state = 7, last command = END_OF_DATA]\n"
		  "rep F 500 . F [what]\n");
	assert_int_equal(smtp_stats(t->smtp)->transactions, 0);
	session_free(t);
}

static void test_turn(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "EHLO x\r\n");
	server(t, "250 ok\r\n");
	client(t, "TURN\r\n");
	server(t, "250 roles swapped\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "rep F 250 EHLO F [ok]\n"
		  "req T TURN []\n"
		  "rep F 250 TURN F [roles swapped]\n");
	/* The responder now sends commands, the originator replies. */
	server(t, "EHLO other\r\n");
	client(t, "250 hello\r\n");
	expect(t, "req F EHLO [other]\n"
		  "unx F unexpected command [EHLO reply = 0 state = 0]\n"
		  "rep T 250 EHLO F [hello]\n");
	session_free(t);
}

/* ---- line splitting ------------------------------------------------------- */

static void test_over_long_line(void **state)
{
	struct session *t = session_new();

	(void)state;
	t->cfg.max_line = 16;
	session_open(t, false);
	server(t, "220 hi\r\n");
	expect(t, "rep F 220 > F [hi]\n");
	/* Cut in one delivery; the tail is dropped, not parsed. */
	client(t, "NOOP aaaaaaaaaaaaaaaa MAIL FROM:<x>\r\nHELP\r\n");
	expect(t, "weird contentline_size_exceeded []\n"
		  "req T NOOP [aaaaaaaaaaa]\n"
		  "req T HELP []\n");
	/* Cut across deliveries, the tail ending in a bare CR. */
	client(t, "NOOP bbbbb");
	client(t, "bbbbbbbbbbbbbb RSET");
	client(t, "\r");
	client(t, "\nHELP\r\n");
	expect(t, "weird contentline_size_exceeded []\n"
		  "req T NOOP [bbbbbbbbbbb]\n"
		  "req T HELP []\n");
	/* Exactly max_line bytes is fine, also when the terminator comes late. */
	client(t, "NOOP 12345678901\r\n");
	client(t, "NOOP 12345678901");
	client(t, "\r\n");
	expect(t, "req T NOOP [12345678901]\nreq T NOOP [12345678901]\n");
	session_free(t);
}

static void test_nul_handling(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	smtp_deliver(t->smtp, false,
		     (const uint8_t *)"2\0"
				      "20 hi\r\n",
		     9);
	smtp_deliver(t->smtp, true, (const uint8_t *)"EH\0LO x\r\nNOOP\0 y\r\n", 18);
	/* The first NUL of each direction is removed, the weird comes once per
	 * connection, later NULs stay (and end the command word). */
	expect(t, "weird NUL_in_line []\n"
		  "rep F 220 > F [hi]\n"
		  "req T EHLO [x]\n"
		  "req T NOOP [\\x00 y]\n");
	session_free(t);
}

/* A bare CR ends a line; the weird comes once per connection. */
static void test_bare_cr(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n");
	client(t, "NOOP\rNOOP\r\r\nHELP\rHELP\r\n");
	expect(t, "rep F 220 > F [hi]\n"
		  "req T NOOP []\n"
		  "weird line_terminated_with_single_CR []\n"
		  "req T NOOP []\n"
		  "unx T unknown command []\n"
		  "req T HELP []\n"
		  "req T HELP []\n");
	session_free(t);
}

static void test_unterminated_last_line(void **state)
{
	struct session *t = session_new();

	(void)state;
	session_open(t, false);
	server(t, "220 hi\r\n221 bye");
	client(t, "QUIT");
	smtp_end_of_direction(t->smtp, true);
	smtp_end_of_direction(t->smtp, false);
	smtp_finish(t->smtp);
	expect(t, "rep F 220 > F [hi]\nreq T QUIT []\nrep F 221 QUIT F [bye]\n");
	session_free(t);
}

/* ---- segmentation invariance ---------------------------------------------- */

/* A session touching most paths, as (direction, bytes) steps; 'G' is a gap. */
static const char *const mixed_script[] = {
    "S",  "220-mx.example ESMTP\r\n220 ready\r\n",
    "C",  "EHLO client.example\r\n",
    "S",  "250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 AUTH PLAIN LOGIN\r\n",
    "C",  "AUTH LOGIN\r\n",
    "S",  "334 VXNlcm5hbWU6\r\n",
    "C",  "dXNlcg==\r\n",
    "S",  "334 UGFzc3dvcmQ6\r\n",
    "C",  "cGFzcw==\r\n",
    "S",  "235 ok\r\n",
    "C",  "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
    "S",  "250 ok\r\n250 ok\r\n354 go\r\n",
    "C",  "Subject: hi\r\n\r\n..leading dot\nbare lf\rbare cr\r\n.\r\n",
    "S",  "250 queued\r\n",
    "C",  "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 30\r\nMAIL FROM:<in@chunk>\r\nQUIT\r\nxx",
    "C",  "BDAT 12 LAST\r\nRCPT TO:<>\r\n",
    "S",  "250 ok\r\n250 ok\r\n250 30\r\n250 done\r\n",
    "C",  "FOO\r\nVRFY x\r\n",
    "S",  "502 no\r\n252 maybe\r\n",
    "C",  "RSET\r\nMAIL FROM:<z@z>\r\nRCPT TO:<y@y>\r\nDATA\r\n",
    "S",  "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "C",  "part one\r\n",
    "G",  "",
    "C",  "lost\r\nQUIT\r\n",
    "S",  "250 ok\r\n",
    "C",  "STARTTLS\r\nNOOP\r\n",
    "S",  "220 go\r\n",
    "C",  "\x16\x03\x01 tls bytes\r\n",
    NULL,
};

enum split { SPLIT_NONE, SPLIT_BYTES, SPLIT_PSEUDORANDOM };

static char *run_mixed(enum split split)
{
	struct session *t = session_new();
	uint64_t seq[2] = {0, 0};
	unsigned rnd = 12345;
	char *out;

	t->cfg.emit_data = true;
	session_open(t, false);
	for (const char *const *step = mixed_script; step[0]; step += 2) {
		bool orig = step[0][0] != 'S';
		const uint8_t *p = (const uint8_t *)step[1];
		size_t len = strlen(step[1]);

		if (step[0][0] == 'G') {
			smtp_gap(t->smtp, true, seq[1], 100);
			seq[1] += 100;
			continue;
		}
		seq[orig] += len;
		while (len > 0) {
			size_t n = len;

			if (split == SPLIT_BYTES)
				n = 1;
			else if (split == SPLIT_PSEUDORANDOM) {
				rnd = rnd * 1103515245u + 12345u;
				n = 1 + (rnd >> 16) % 7;
				if (n > len)
					n = len;
			}
			smtp_deliver(t->smtp, orig, p, n);
			p += n;
			len -= n;
		}
	}
	smtp_finish(t->smtp);
	out = strdup(t->rec.text);
	assert_non_null(out);
	session_free(t);
	return out;
}

/* Like assert_string_equal, but reports the first line that differs (the
 * texts are too long for cmocka's message). */
static void assert_same_lines(const char *a, const char *b)
{
	size_t line = 1;

	while (*a && *a == *b) {
		line += *a == '\n';
		a++;
		b++;
	}
	if (*a == *b)
		return;
	while (line > 1 && a[-1] != '\n') {
		a--;
		b--;
	}
	fail_msg("line %zu differs:\n  %.*s\n  %.*s", line, (int)strcspn(a, "\n"), a,
		 (int)strcspn(b, "\n"), b);
}

static void test_segmentation_invariance(void **state)
{
	char *whole = run_mixed(SPLIT_NONE);
	char *bytes = run_mixed(SPLIT_BYTES);
	char *random = run_mixed(SPLIT_PSEUDORANDOM);

	(void)state;
	/* Spot checks that the script reached the paths it is meant to. */
	assert_non_null(strstr(whole, "data T [.leading dot]\ndata T [bare lf]\n"));
	assert_non_null(strstr(whole, "req T BDAT [12 LAST]\nrep F 250 MAIL F [ok]\n"));
	assert_null(strstr(whole, "in@chunk"));
	assert_non_null(strstr(whole, "req T (UNKNOWN) []\n"));
	assert_non_null(strstr(whole, "starttls F\n"));
	assert_same_lines(whole, bytes);
	assert_same_lines(whole, random);
	free(whole);
	free(bytes);
	free(random);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zeek_session_kept_credentials),
	    cmocka_unit_test(test_zeek_session_redacted),
	    cmocka_unit_test(test_data_events_off_by_default),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_session_view),
	    cmocka_unit_test(test_pipelining_queue_grows),
	    cmocka_unit_test(test_data_rejected_after_pipelining),
	    cmocka_unit_test(test_queue_limit),
	    cmocka_unit_test(test_data_crlf),
	    cmocka_unit_test(test_data_bare_lf),
	    cmocka_unit_test(test_data_bare_cr),
	    cmocka_unit_test(test_data_mixed_end_marker),
	    cmocka_unit_test(test_end_marker_split),
	    cmocka_unit_test(test_smuggling_shapes),
	    cmocka_unit_test(test_auth_plain_redacted),
	    cmocka_unit_test(test_auth_plain_kept),
	    cmocka_unit_test(test_auth_redaction_shapes),
	    cmocka_unit_test(test_auth_failure_state),
	    cmocka_unit_test(test_sasl_answer_ahead_of_334),
	    cmocka_unit_test(test_starttls_accepted),
	    cmocka_unit_test(test_x_anonymoustls),
	    cmocka_unit_test(test_starttls_refused),
	    cmocka_unit_test(test_starttls_injection),
	    cmocka_unit_test(test_bdat_grammar),
	    cmocka_unit_test(test_bdat_chunks_are_not_commands),
	    cmocka_unit_test(test_bdat_last_then_next_mail),
	    cmocka_unit_test(test_bdat_zero_last),
	    cmocka_unit_test(test_bdat_missing_last),
	    cmocka_unit_test(test_bdat_large_chunk),
	    cmocka_unit_test(test_gap_in_data),
	    cmocka_unit_test(test_gap_recovery_354),
	    cmocka_unit_test(test_gap_took_pipelined_mail),
	    cmocka_unit_test(test_gap_in_bdat),
	    cmocka_unit_test(test_zeek_bdat_gap_timing),
	    cmocka_unit_test(test_gap_mid_reply),
	    cmocka_unit_test(test_partial_session),
	    cmocka_unit_test(test_reply_parsing),
	    cmocka_unit_test(test_reply_code_out_of_range),
	    cmocka_unit_test(test_continuation_mismatch),
	    cmocka_unit_test(test_unexpected_reply_and_quit_state),
	    cmocka_unit_test(test_greeting_unavailable),
	    cmocka_unit_test(test_unknown_command),
	    cmocka_unit_test(test_nested_mail),
	    cmocka_unit_test(test_internal_command_names),
	    cmocka_unit_test(test_turn),
	    cmocka_unit_test(test_over_long_line),
	    cmocka_unit_test(test_nul_handling),
	    cmocka_unit_test(test_bare_cr),
	    cmocka_unit_test(test_unterminated_last_line),
	    cmocka_unit_test(test_segmentation_invariance),
	    cmocka_unit_test(test_skip_data_body),
	    cmocka_unit_test(test_skip_missed_end),
	    cmocka_unit_test(test_skip_bdat_chunk),
	    cmocka_unit_test(test_content_data),
	    cmocka_unit_test(test_content_bdat),
	    cmocka_unit_test(test_content_terminators),
	    cmocka_unit_test(test_content_gap_and_skip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
