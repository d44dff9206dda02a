// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_report.c - the control protocol's answers (report.h) for a pipeline
 * with two open sessions, built by hand: the envelope and its errors, the
 * session view (bounded, escaped), the statistics as JSON and as Prometheus
 * text. Expected strings are written from the session script and the
 * documented formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "service/report.h"
#include "tcp_fixture.h"
#include "smtp/smtp.h"
#include "settings/version.h"

#define SEC 1000000000ull

struct conn {
	struct pipeline *p;
	struct endpoint cli, srv;
};

/* One segment that acknowledges everything the peer sent. */
static void sendseg(struct conn *c, bool from_cli, uint8_t flags, const char *data, size_t len)
{
	struct timespec now;
	struct segment seg;

	/* Wall-clock time: the sessions view reports ages against now. */
	clock_gettime(CLOCK_REALTIME, &now);
	seg = tcp_segment(from_cli ? &c->cli : &c->srv, from_cli ? &c->srv : &c->cli, flags, data,
			  len, (uint64_t)now.tv_sec * SEC + (uint64_t)now.tv_nsec);
	pipeline_segment(c->p, &seg);
}

static void say(struct conn *c, bool from_cli, const char *line)
{
	sendseg(c, from_cli, SEG_ACK | SEG_PSH, line, strlen(line));
}

static void open_conn(struct conn *c, struct pipeline *p, uint16_t cli_port)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	memcpy(c->cli.addr, (uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(c->srv.addr, (uint8_t[]){10, 0, 0, 2}, 4);
	c->cli.port = cli_port;
	c->srv.port = 25;
	c->cli.seq = 1000;
	c->srv.seq = 9000;
	sendseg(c, true, SEG_SYN, NULL, 0);
	sendseg(c, false, SEG_SYN | SEG_ACK, NULL, 0);
	sendseg(c, true, SEG_ACK, NULL, 0);
	say(c, false, "220 mx.example ESMTP\r\n");
}

struct fixture {
	struct config cfg;
	struct stats st;
	struct pipeline *p;
	struct report_sources src;
	struct jsonw out;
	char long_helo[101];
};

static int setup(void **state)
{
	static struct fixture f;
	struct conn a, b;
	char line[160];

	memset(&f, 0, sizeof(f));
	config_defaults(&f.cfg);
	stats_init(&f.st);
	f.p = pipeline_new(&f.cfg, stats_sink(&f.st));
	assert_non_null(f.p);
	f.src = (struct report_sources){.pipeline = f.p, .stats = &f.st};
	jsonw_init(&f.out);

	/* a: a control byte in HELO, four recipients (three are kept), the second refused */
	open_conn(&a, f.p, 40001);
	say(&a, true, "EHLO bad\x01helo\r\n");
	say(&a, false, "250 mx.example\r\n");
	say(&a, true, "MAIL FROM:<a@x>\r\n");
	say(&a, false, "250 Ok\r\n");
	for (int i = 1; i <= 4; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<r%d@x>\r\n", i);
		say(&a, true, line);
		say(&a, false, i == 2 ? "550 5.1.1 no\r\n" : "250 Ok\r\n");
	}
	/* b, the most recent: a HELO longer than the view keeps */
	memset(f.long_helo, 'h', 100);
	open_conn(&b, f.p, 40002);
	snprintf(line, sizeof(line), "EHLO %s\r\n", f.long_helo);
	say(&b, true, line);
	say(&b, false, "250 mx.example\r\n");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pipeline_free(f->p);
	jsonw_free(&f->out);
	return 0;
}

/* The answer to request, NUL-terminated. */
static const char *answer(struct fixture *f, const char *request)
{
	f->out.len = 0;
	report_answer(&f->src, request, &f->out);
	jsonw_raw(&f->out, "", 1);
	return f->out.buf;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("missing %s\nin %s", needle, haystack);
}

/* One line: nothing below 0x20 but the final newline. */
static void assert_one_line(const char *s)
{
	size_t len = strlen(s);

	assert_true(len > 0 && s[len - 1] == '\n');
	for (size_t i = 0; i + 1 < len; i++)
		if ((unsigned char)s[i] < 0x20)
			fail_msg("control byte 0x%02x at %zu in %s", s[i], i, s);
}

static void envelope_errors(void **state)
{
	struct fixture *f = *state;
	char want[128];

	assert_string_equal(answer(f, "{\"cmd\":\"stats\"}"),
			    "{\"version\":2,\"ok\":false,\"error\":\"protocol version mismatch: "
			    "smtpmon speaks version 2\"}\n");
	assert_string_equal(answer(f, "{\"version\":1,\"cmd\":\"stats\"}"),
			    "{\"version\":2,\"ok\":false,\"error\":\"protocol version mismatch: "
			    "smtpmon speaks version 2\"}\n");
	assert_string_equal(answer(f, "{\"version\":2,\"cmd\":\"reboot\"}"),
			    "{\"version\":2,\"ok\":false,\"error\":\"unknown command (ping, stats, "
			    "sessions, metrics)\"}\n");
	assert_string_equal(answer(f, "{\"version\":2,\"cmd\":\"stats\",\"format\":\"xml\"}"),
			    "{\"version\":2,\"ok\":false,\"error\":\"unknown format (json, "
			    "text)\"}\n");
	/* spaces around the members are fine; ping names the version */
	snprintf(want, sizeof(want), "{\"version\":2,\"ok\":true,\"data\":{\"smtpmon\":\"%s\",",
		 smtpmon_version);
	assert_contains(answer(f, "{ \"version\" : 2, \"cmd\" : \"ping\" }"), want);
}

static void sessions_json(void **state)
{
	struct fixture *f = *state;
	char want[200];
	const char *a = answer(f, "{\"version\":2,\"cmd\":\"sessions\"}");

	assert_one_line(a);
	assert_contains(a, "{\"version\":2,\"ok\":true,\"data\":{\"open\":2,\"sessions\":[{");
	assert_contains(a, "\"listed\":2}}\n");
	/* keys as the events': id.orig_h ..., Zeek's mailfrom and rcptto; no FROM:/TO: */
	assert_contains(a,
			"\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40001,\"id.resp_h\":\"10.0.0.2\","
			"\"id.resp_p\":25,\"state\":\"RCPT_OK\",\"helo\":\"bad\\\\x01helo\","
			"\"mailfrom\":\"<a@x>\",\"rcpt_count\":4,\"rcpt_accepted\":3,"
			"\"rcpt_rejected\":1,\"rcptto\":[\"<r1@x>\",\"<r2@x>\",\"<r3@x>\"],"
			"\"rcpt_codes\":[250,550,250],");
	assert_contains(a, "\"ts\":");
	assert_contains(a, "\"tls\":false,\"partial\":false}");
	/* the most recent first; its HELO cut to SMTP_VIEW_VALUE_MAX bytes */
	snprintf(want, sizeof(want), "\"sessions\":[{\"uid\":\"");
	assert_contains(a, want);
	snprintf(want, sizeof(want),
		 "\"id.orig_p\":40002,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":25,"
		 "\"state\":\"READY\",\"helo\":\"%.*s\",\"mailfrom\":\"\"",
		 SMTP_VIEW_VALUE_MAX, f->long_helo);
	assert_contains(a, want);
	assert_true(strstr(a, "40002") < strstr(a, "40001"));
}

static void sessions_text(void **state)
{
	struct fixture *f = *state;
	const char *a = answer(f, "{\"version\":2,\"cmd\":\"sessions\",\"format\":\"text\"}");

	assert_one_line(a);
	assert_contains(a, "{\"version\":2,\"ok\":true,\"text\":\"UID ");
	/* the text escapes the control byte as the text sink does; JSON then
	 * escapes its backslash */
	assert_contains(a, "    helo bad\\\\x01helo  from <a@x>  rcpt 4 (3 accepted, 1 refused): "
			   "<r1@x> 250, <r2@x> 550, <r3@x> 250, ...\\n");
	assert_contains(a, " RCPT_OK ");
	assert_contains(a, "10.0.0.1:40001");
	assert_contains(a, "2 listed, 2 open\\n\"}\n");
}

static void stats_json(void **state)
{
	struct fixture *f = *state;
	const char *a = answer(f, "{\"version\":2,\"cmd\":\"stats\",\"format\":\"json\"}");

	assert_one_line(a);
	assert_contains(a, "{\"version\":2,\"ok\":true,\"data\":{\"uptime_seconds\":");
	assert_contains(a, "\"connections_open\":2,\"connections\":2,");
	/* every state, 0 included */
	assert_contains(a, "\"sessions_open\":{\"CONNECTED\":0,\"INITIATED\":0,\"NOT_AVAILABLE\":0,"
			   "\"READY\":1,\"MAIL_OK\":0,\"RCPT_OK\":1,\"IN_DATA\":0,");
	/* replies by code: each code of the bounded set, 0 included */
	assert_contains(a, "\"replies_by_code\":{\"211\":0,\"214\":0,\"220\":2,\"221\":0,"
			   "\"235\":0,\"250\":6,");
	assert_contains(a, "\"550\":1,\"551\":0,\"552\":0,\"553\":0,\"554\":0,\"555\":0,"
			   "\"556\":0,\"other\":0}");
	assert_contains(a, "\"commands\":{\"EHLO\":2,\"HELO\":0,\"MAIL\":1,\"RCPT\":4,\"DATA\":0,");
	assert_contains(a, "\"replies\":{\"1xx\":0,\"2xx\":8,\"3xx\":0,\"4xx\":0,\"5xx\":1,"
			   "\"invalid\":0}");
	assert_contains(a, "\"sessions_ended\":{\"FIN\":0,\"RST\":0,\"timeout\":0,\"eviction\":0,"
			   "\"end_of_input\":0}");
	assert_contains(a, "\"output_events_written\":{},\"output_events_suppressed\":{}");
	assert_null(strstr(a, "kernel_")); /* no capture: no kernel counters */
	assert_contains(a, "}}\n");
}

static void stats_table(void **state)
{
	struct fixture *f = *state;
	const char *a = answer(f, "{\"version\":2,\"cmd\":\"stats\",\"format\":\"text\"}");

	assert_one_line(a);
	/* labelled rows: the family's name on each (grep finds them), zero rows left out */
	assert_contains(a, "\\ncommands                       verb=EHLO                     2\\n"
			   "commands                       verb=MAIL                     1\\n"
			   "commands                       verb=RCPT                     4\\n"
			   "replies ");
	/* a labelled family without any non-zero row: one 0 */
	assert_contains(a, "\\nsessions_ended                                               0\\n");
}

/* Every sample line follows its family's # HELP and # TYPE lines, and only
 * counters end in _total. */
static void check_exposition(const char *text)
{
	char family[128] = "", line[512];
	const char *p = text;
	bool counter = false;

	while (*p) {
		size_t n = strcspn(p, "\n");
		assert_true(n < sizeof(line) && p[n] == '\n');
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			size_t k = strcspn(line + 7, " ");
			memcpy(family, line + 7, k);
			family[k] = '\0';
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			size_t k = strlen(family);
			assert_memory_equal(line + 7, family, k);
			counter = !strcmp(line + 7 + k, " counter");
			assert_true(counter || !strcmp(line + 7 + k, " gauge"));
			k = strlen(family);
			assert_int_equal(counter, k > 6 && !strcmp(family + k - 6, "_total"));
			continue;
		}
		size_t k = strcspn(line, "{ ");
		if (k != strlen(family) || strncmp(line, family, k))
			fail_msg("sample '%s' outside its family '%s'", line, family);
	}
}

static void metrics(void **state)
{
	struct fixture *f = *state;
	struct event ev = {.type = EV_SMTP_UNEXPECTED};
	struct conn_id id = {.uid = "Cx"};
	static const char msg[] = "a\"b\\c\nd\x01";
	char want[256];
	const char *a;

	/* a message with every character the format escapes, and one more */
	ev.id = &id;
	ev.unexpected.msg = (struct bytes){(const uint8_t *)msg, sizeof(msg) - 1};
	stats_sink(&f->st)->emit(stats_sink(&f->st), &ev);

	a = answer(f, "{\"cmd\":\"metrics\",\"format\":\"raw\"}");
	assert_true(!strncmp(a, "# HELP smtpmon_uptime_seconds ", 30));
	assert_contains(a, "# TYPE smtpmon_commands_total counter\n"
			   "smtpmon_commands_total{verb=\"EHLO\"} 2\n");
	assert_contains(a, "# TYPE smtpmon_sessions_open gauge\n"
			   "smtpmon_sessions_open{state=\"CONNECTED\"} 0\n");
	assert_contains(a, "smtpmon_sessions_open{state=\"READY\"} 1\n"
			   "smtpmon_sessions_open{state=\"MAIL_OK\"} 0\n"
			   "smtpmon_sessions_open{state=\"RCPT_OK\"} 1\n");
	assert_contains(a, "smtpmon_replies_by_code_total{code=\"550\"} 1\n");
	assert_contains(a, "smtpmon_replies_by_code_total{code=\"other\"} 0\n");
	/* the process_* families under their standard names */
	assert_contains(a, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ");
	assert_contains(a, "# TYPE process_resident_memory_bytes gauge\n"
			   "process_resident_memory_bytes ");
	assert_contains(a, "# TYPE process_open_fds gauge\nprocess_open_fds ");
	assert_contains(a, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ");
	assert_null(strstr(a, "process_open_fds 0\n"));
	assert_null(strstr(a, "process_resident_memory_bytes 0\n"));
	assert_null(strstr(a, "smtpmon_process"));
	assert_contains(a, "smtpmon_unexpected_total{message=\"a\\\"b\\\\c\\nd\\\\x01\"} 1\n");
	/* the info metric: the version of this build as its label, always 1 */
	snprintf(want, sizeof(want),
		 "# HELP smtpmon_build_info The running smtpmon's version\n"
		 "# TYPE smtpmon_build_info gauge\n"
		 "smtpmon_build_info{version=\"%s\"} 1\n",
		 smtpmon_version);
	assert_true(smtpmon_version[0] != '\0');
	assert_contains(a, want);
	check_exposition(a);

	/* the same exposition inside the envelope for smtpmonctl */
	a = answer(f, "{\"version\":2,\"cmd\":\"metrics\"}");
	assert_one_line(a);
	assert_contains(a, "{\"version\":2,\"ok\":true,\"text\":\"# HELP smtpmon_uptime_seconds ");
	assert_contains(a, "smtpmon_commands_total{verb=\\\"EHLO\\\"} 2\\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(envelope_errors), cmocka_unit_test(sessions_json),
	    cmocka_unit_test(sessions_text),   cmocka_unit_test(stats_json),
	    cmocka_unit_test(stats_table),     cmocka_unit_test(metrics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
