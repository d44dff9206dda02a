// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_output.c - every event type through the JSON and the text sink,
 * compared with lines written by hand from the format documented in
 * out_json.c / out_text.c (the clock time from `date -u -d @1732640000`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn_fixture.h"

#include "output/output.h"

#define TS_NS 1732640000123456789ull

#define JSON_ID                                                                                    \
	"{\"ts\":1732640000.123456,\"uid\":\"CHhAvVGS1DHFjwGM9\",\"id.orig_h\":\"10.0.0.1\","      \
	"\"id.orig_p\":40512,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":25,"
#define TEXT_ID	     "2024-11-26T16:53:20.123456Z CHhAvVGS1DHFjwGM9 10.0.0.1:40512"
#define TEXT_TO_RESP TEXT_ID " -> 10.0.0.2:25 "
#define TEXT_TO_ORIG TEXT_ID " <- 10.0.0.2:25 "
#define TEXT_CONN    TEXT_ID " -- 10.0.0.2:25 "

typedef struct sink *(*sink_new_fn)(FILE *out);

/* What the sink wrote for the events, NUL-terminated; the caller frees it. */
static char *render(sink_new_fn new_sink, const struct event *evs, size_t n)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *mem = open_memstream(&text, &len);
	struct sink *sink;

	assert_non_null(mem);
	sink = new_sink(mem);
	assert_non_null(sink);
	for (i = 0; i < n; i++)
		sink->emit(sink, &evs[i]);
	sink->flush(sink);
	sink->destroy(sink);
	assert_int_equal(fclose(mem), 0);
	return text;
}

static void expect(const struct event *ev, const char *json, const char *text)
{
	char *got = render(sink_json_new, ev, 1);

	assert_string_equal(got, json);
	free(got);
	got = render(sink_text_new, ev, 1);
	assert_string_equal(got, text);
	free(got);
}

static struct event base(enum event_type type, bool is_orig)
{
	return (struct event){.type = type, .ts_ns = TS_NS, .id = &id4, .is_orig = is_orig};
}

static void test_smtp_request(void **state)
{
	struct event ev = base(EV_SMTP_REQUEST, true);

	(void)state;
	ev.request.command = BYTES_LIT("MAIL");
	ev.request.arg = BYTES_LIT("FROM:<a@example.org>");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_request\",\"is_orig\":true,\"command\":\"MAIL\","
		       "\"arg\":\"FROM:<a@example.org>\"}\n",
	       TEXT_TO_RESP "smtp_request MAIL FROM:<a@example.org>\n");

	ev.request.command = BYTES_LIT("DATA");
	ev.request.arg = BYTES_LIT("");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_request\",\"is_orig\":true,\"command\":\"DATA\","
		       "\"arg\":\"\"}\n",
	       TEXT_TO_RESP "smtp_request DATA\n");
}

static void test_smtp_reply(void **state)
{
	struct event ev = base(EV_SMTP_REPLY, false);

	(void)state;
	ev.reply.code = 250;
	ev.reply.cmd = BYTES_LIT("MAIL");
	ev.reply.msg = BYTES_LIT("2.1.0 Ok");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_reply\",\"is_orig\":false,\"code\":250,\"cmd\":\"MAIL\","
		       "\"msg\":\"2.1.0 Ok\",\"cont_resp\":false}\n",
	       TEXT_TO_ORIG "smtp_reply MAIL 250 2.1.0 Ok\n");

	ev.reply.cmd = BYTES_LIT("EHLO");
	ev.reply.msg = BYTES_LIT("PIPELINING");
	ev.reply.cont_resp = true;
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_reply\",\"is_orig\":false,\"code\":250,\"cmd\":\"EHLO\","
		       "\"msg\":\"PIPELINING\",\"cont_resp\":true}\n",
	       TEXT_TO_ORIG "smtp_reply EHLO 250-PIPELINING\n");

	ev.reply.code = 220;
	ev.reply.cmd = BYTES_LIT("");
	ev.reply.msg = BYTES_LIT("");
	ev.reply.cont_resp = false;
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_reply\",\"is_orig\":false,\"code\":220,\"cmd\":\"\","
		       "\"msg\":\"\",\"cont_resp\":false}\n",
	       TEXT_TO_ORIG "smtp_reply - 220\n");
}

static void test_smtp_data_escaping(void **state)
{
	struct event ev = base(EV_SMTP_DATA, true);

	(void)state;
	/* Subject: <ff> "hi" <tab> \x caf<e9 as UTF-8> */
	ev.data.data = BYTES_LIT("Subject: \xff\"hi\"\t\\x caf\xc3\xa9");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_data\",\"is_orig\":true,"
		       "\"data\":\"Subject: \\\\xff\\\"hi\\\"\\\\x09\\\\x caf\xc3\xa9\"}\n",
	       TEXT_TO_RESP "smtp_data Subject: \\xff\"hi\"\\x09\\\\x caf\xc3\xa9\n");
}

static void test_smtp_starttls(void **state)
{
	struct event ev = base(EV_SMTP_STARTTLS, false);

	(void)state;
	expect(&ev, JSON_ID "\"event\":\"smtp_starttls\"}\n", TEXT_CONN "smtp_starttls\n");
}

static void test_smtp_unexpected(void **state)
{
	struct event ev = base(EV_SMTP_UNEXPECTED, true);

	(void)state;
	ev.unexpected.msg = BYTES_LIT("unknown command");
	ev.unexpected.detail = BYTES_LIT("XYZZY\0");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_unexpected\",\"is_orig\":true,"
		       "\"msg\":\"unknown command\",\"detail\":\"XYZZY\\\\x00\"}\n",
	       TEXT_TO_RESP "smtp_unexpected unknown command: XYZZY\\x00\n");

	ev.unexpected.detail = BYTES_LIT("");
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_unexpected\",\"is_orig\":true,"
		       "\"msg\":\"unknown command\",\"detail\":\"\"}\n",
	       TEXT_TO_RESP "smtp_unexpected unknown command\n");
}

static void test_content_gap(void **state)
{
	struct event ev = base(EV_CONTENT_GAP, false);

	(void)state;
	ev.gap.seq = 1234;
	ev.gap.length = 5678;
	expect(&ev,
	       JSON_ID "\"event\":\"content_gap\",\"is_orig\":false,\"seq\":1234,"
		       "\"length\":5678}\n",
	       TEXT_TO_ORIG "content_gap seq=1234 length=5678\n");
}

static void test_weird(void **state)
{
	struct event ev = base(EV_WEIRD, true);

	(void)state;
	ev.weird.name = "smtp_invalid_bdat_command";
	ev.weird.addl = BYTES_LIT("BDAT x\r");
	expect(&ev,
	       JSON_ID "\"event\":\"weird\",\"name\":\"smtp_invalid_bdat_command\","
		       "\"addl\":\"BDAT x\\\\x0d\"}\n",
	       TEXT_CONN "weird smtp_invalid_bdat_command BDAT x\\x0d\n");

	ev.weird.name = "line_terminated_with_single_CR";
	ev.weird.addl = BYTES_LIT("");
	expect(&ev, JSON_ID "\"event\":\"weird\",\"name\":\"line_terminated_with_single_CR\"}\n",
	       TEXT_CONN "weird line_terminated_with_single_CR\n");
}

/* The file event: Zeek's files.log fields, ours, unset strings and digests
 * left out; not seen: no sizes or digests. */
static void test_file(void **state)
{
	static const uint8_t sha1[20] = {0xc3, 0x9d, 0xc8, 0xcd, 0x0f, 0x8d, 0x1f,
					 0x7f, 0xc8, 0xb3, 0x62, 0xc1, 0x00, 0x38,
					 0x25, 0x6c, 0x9b, 0xf6, 0x68, 0x9a};
	struct event ev = base(EV_FILE, true);

	(void)state;
	strcpy(ev.file.fuid, "FmFp351N5nhsMmAfQg");
	ev.file.depth = 5;
	ev.file.trans_depth = 1;
	ev.file.mime_type = BYTES_LIT("text/plain");
	ev.file.declared_type = BYTES_LIT("text/plain");
	ev.file.filename = BYTES_LIT("r\xc3\xa9sum\xc3\xa9 \"1\".txt");
	ev.file.duration_ns = 1165512000;
	ev.file.seen_bytes = 10809;
	ev.file.content_seen = true;
	ev.file.sha1 = sha1;
	expect(&ev,
	       JSON_ID
	       "\"event\":\"file\",\"fuid\":\"FmFp351N5nhsMmAfQg\",\"source\":\"SMTP\","
	       "\"depth\":5,\"trans_depth\":1,\"mime_type\":\"text/plain\","
	       "\"declared_type\":\"text/plain\",\"filename\":\"r\xc3\xa9sum\xc3\xa9 "
	       "\\\"1\\\".txt\",\"duration\":1.165512,\"is_orig\":true,\"seen_bytes\":10809,"
	       "\"missing_bytes\":0,\"timedout\":false,"
	       "\"sha1\":\"c39dc8cd0f8d1f7fc8b362c10038256c9bf6689a\"}\n",
	       TEXT_CONN
	       "file FmFp351N5nhsMmAfQg depth=5 text/plain \"r\xc3\xa9sum\xc3\xa9 \"1\".txt\" "
	       "seen_bytes=10809 missing_bytes=0 sha1=c39dc8cd0f8d1f7fc8b362c10038256c9bf6689a\n");

	ev.file.content_seen = false;
	ev.file.seen_bytes = 0;
	ev.file.sha1 = NULL;
	ev.file.mime_type = (struct bytes){NULL, 0};
	ev.file.filename = (struct bytes){NULL, 0};
	ev.file.declared_type = (struct bytes){NULL, 0};
	ev.file.duration_ns = 0;
	expect(&ev,
	       JSON_ID "\"event\":\"file\",\"fuid\":\"FmFp351N5nhsMmAfQg\",\"source\":\"SMTP\","
		       "\"depth\":5,\"trans_depth\":1,\"duration\":0.000000,\"is_orig\":true,"
		       "\"content_seen\":false}\n",
	       TEXT_CONN "file FmFp351N5nhsMmAfQg depth=5 not-seen\n");
}

static void test_smtp_connection(void **state)
{
	struct event ev = base(EV_SMTP_CONNECTION, false);

	(void)state;
	ev.conn = (struct conn_summary){
	    .start_ns = TS_NS,
	    .duration_ns = 2500000,
	    .orig_bytes = 100,
	    .resp_bytes = 200,
	    .orig_segs = 3,
	    .resp_segs = 4,
	    .transactions = 1,
	    .tls = true,
	    .gaps = 2,
	    .gap_bytes = 300,
	    .anomalies = 5,
	    .end = CONN_END_RST,
	    .partial = true,
	};
	expect(&ev,
	       JSON_ID "\"event\":\"smtp_connection\",\"duration\":0.002500,\"orig_bytes\":100,"
		       "\"resp_bytes\":200,\"orig_segs\":3,\"resp_segs\":4,\"transactions\":1,"
		       "\"tls\":true,\"gaps\":2,\"missed_bytes\":300,\"anomalies\":5,"
		       "\"end\":\"RST\",\"partial\":true}\n",
	       TEXT_CONN "smtp_connection duration=0.002500 orig_bytes=100 resp_bytes=200 "
			 "orig_segs=3 resp_segs=4 transactions=1 tls=T gaps=2 missed_bytes=300 "
			 "anomalies=5 end=RST partial=T\n");
}

static void test_every_end_name(void **state)
{
	static const char *const want[] = {"FIN", "RST", "timeout", "eviction", "end_of_input"};
	struct event ev = base(EV_SMTP_CONNECTION, false);
	char needle[64];
	unsigned e;

	(void)state;
	for (e = CONN_END_FIN; e <= CONN_END_INPUT; e++) {
		char *got;

		ev.conn.end = (enum conn_end)e;
		got = render(sink_json_new, &ev, 1);
		snprintf(needle, sizeof(needle), ",\"end\":\"%s\",\"partial\":false}\n", want[e]);
		assert_non_null(strstr(got, needle));
		free(got);
		got = render(sink_text_new, &ev, 1);
		snprintf(needle, sizeof(needle), " end=%s partial=F\n", want[e]);
		assert_non_null(strstr(got, needle));
		free(got);
	}
}

static void test_ipv6_addresses(void **state)
{
	/* 2001:db8::1 and 2001:db8:0:0:1:0:0:1 (RFC 5952: the first of two
	 * equal zero runs is compressed), with either family convention */
	struct conn_id id6 = {
	    .uid = "C6",
	    .orig_h = {0x20, 0x01, 0x0d, 0xb8, [15] = 1},
	    .resp_h = {0x20, 0x01, 0x0d, 0xb8, [9] = 1, [15] = 1},
	    .orig_p = 50000,
	    .resp_p = 587,
	};
	struct event ev = {.type = EV_SMTP_STARTTLS, .ts_ns = 0, .id = &id6};
	const uint8_t families[] = {6, AF_INET6};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(families); i++) {
		id6.family = families[i];
		expect(&ev,
		       "{\"ts\":0.000000,\"uid\":\"C6\",\"id.orig_h\":\"2001:db8::1\","
		       "\"id.orig_p\":50000,\"id.resp_h\":\"2001:db8::1:0:0:1\",\"id.resp_p\":587,"
		       "\"event\":\"smtp_starttls\"}\n",
		       "1970-01-01T00:00:00.000000Z C6 [2001:db8::1]:50000 -- "
		       "[2001:db8::1:0:0:1]:587 smtp_starttls\n");
	}
}

static void test_one_line_per_event(void **state)
{
	struct event evs[3] = {base(EV_SMTP_STARTTLS, true), base(EV_SMTP_DATA, true),
			       base(EV_CONTENT_GAP, true)};
	char *got;

	(void)state;
	evs[1].data.data = BYTES_LIT("a\nb\r\nc");
	got = render(sink_json_new, evs, 3);
	assert_string_equal(got, JSON_ID "\"event\":\"smtp_starttls\"}\n" JSON_ID
					 "\"event\":\"smtp_data\",\"is_orig\":true,"
					 "\"data\":\"a\\\\x0ab\\\\x0d\\\\x0ac\"}\n" JSON_ID
					 "\"event\":\"content_gap\",\"is_orig\":true,\"seq\":0,"
					 "\"length\":0}\n");
	free(got);
}

/* The sink keeps the rendered identity of the last connection: a changed
 * identity behind the same pointer must not reuse it. */
static void test_identity_changes_behind_one_pointer(void **state)
{
	struct conn_id id = id4;
	struct event evs[3] = {base(EV_SMTP_STARTTLS, true), base(EV_SMTP_STARTTLS, true),
			       base(EV_SMTP_STARTTLS, true)};
	char *got;
	FILE *mem;
	size_t len = 0;
	struct sink *sink;
	int i;

	(void)state;
	got = NULL;
	mem = open_memstream(&got, &len);
	assert_non_null(mem);
	sink = sink_json_new(mem);
	for (i = 0; i < 3; i++) {
		evs[i].id = &id;
		sink->emit(sink, &evs[i]);
		id.uid[1] = 'X';     /* a new connection reusing the struct */
		id.resp_p = 587 + i; /* and a new port */
	}
	sink->destroy(sink);
	assert_int_equal(fclose(mem), 0);
	assert_string_equal(got, JSON_ID "\"event\":\"smtp_starttls\"}\n"
					 "{\"ts\":1732640000.123456,\"uid\":\"CXhAvVGS1DHFjwGM9\","
					 "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40512,"
					 "\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":587,"
					 "\"event\":\"smtp_starttls\"}\n"
					 "{\"ts\":1732640000.123456,\"uid\":\"CXhAvVGS1DHFjwGM9\","
					 "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40512,"
					 "\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":588,"
					 "\"event\":\"smtp_starttls\"}\n");
	free(got);
}

static void test_ipv4_edge_addresses(void **state)
{
	struct conn_id id = id4;
	struct event ev = base(EV_SMTP_STARTTLS, true);
	char *got;

	(void)state;
	memcpy(id.orig_h, (uint8_t[]){0, 9, 10, 99}, 4);
	memcpy(id.resp_h, (uint8_t[]){100, 199, 200, 255}, 4);
	ev.id = &id;
	got = render(sink_json_new, &ev, 1);
	assert_non_null(strstr(got, "\"id.orig_h\":\"0.9.10.99\",\"id.orig_p\":40512,"
				    "\"id.resp_h\":\"100.199.200.255\","));
	free(got);
	got = render(sink_text_new, &ev, 1);
	assert_non_null(strstr(got, " 0.9.10.99:40512 -- 100.199.200.255:25 "));
	free(got);
}

static void test_write_error_reported_once(void **state)
{
	FILE *full = fopen("/dev/full", "w");
	FILE *log = tmpfile();
	struct event ev = base(EV_SMTP_STARTTLS, true);
	struct sink *sink;
	char line[256];
	int saved, i, reports = 0;

	(void)state;
	assert_true(full && log);
	setvbuf(full, NULL, _IONBF, 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(log), STDERR_FILENO) >= 0);
	sink = sink_json_new(full);
	for (i = 0; i < 5; i++)
		sink->emit(sink, &ev);
	sink->flush(sink);
	sink->destroy(sink);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	fclose(full);
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		assert_non_null(strstr(line, "smtpmon: writing events: No space left on device"));
		reports++;
	}
	fclose(log);
	assert_int_equal(reports, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smtp_request),
	    cmocka_unit_test(test_smtp_reply),
	    cmocka_unit_test(test_smtp_data_escaping),
	    cmocka_unit_test(test_smtp_starttls),
	    cmocka_unit_test(test_smtp_unexpected),
	    cmocka_unit_test(test_content_gap),
	    cmocka_unit_test(test_weird),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_smtp_connection),
	    cmocka_unit_test(test_every_end_name),
	    cmocka_unit_test(test_ipv6_addresses),
	    cmocka_unit_test(test_one_line_per_event),
	    cmocka_unit_test(test_identity_changes_behind_one_pointer),
	    cmocka_unit_test(test_ipv4_edge_addresses),
	    cmocka_unit_test(test_write_error_reported_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
