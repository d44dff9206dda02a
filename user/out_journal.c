/*
 * out_journal.c - the journald sink: one native journal entry per event
 * (sd_journal_sendv), for `--format journal` and the systemd unit.
 *
 *   MESSAGE            the text sink's line for the event (no newline)
 *   MESSAGE_ID         one fixed id per event type (journal_types below)
 *   PRIORITY           6 info: smtp_request, smtp_reply, smtp_connection
 *                      5 notice: smtp_starttls
 *                      4 warning: smtp_unexpected, content_gap, weird
 *   SYSLOG_IDENTIFIER  smtpmon
 *   SMTPMON_*          the JSON sink's fields, named "SMTPMON_" + the JSON key
 *                      upper-cased without "id." (id.orig_h: SMTPMON_ORIG_H,
 *                      ts: SMTPMON_TS, missed_bytes: SMTPMON_MISSED_BYTES).
 *                      Numbers, times and booleans as their JSON text
 *                      (25, 1732640000.123456, true); strings escaped as in
 *                      the text sink (escape_bytes_text: the JSON writer's
 *                      \xNN for control bytes and invalid UTF-8, without
 *                      JSON's \", and \\ for a backslash so that "\x" in a
 *                      field is always an escape), so that every field is
 *                      UTF-8 text without a newline and `journalctl -o json`
 *                      shows it as a string.
 *
 * smtp_data events are never sent: mail bodies do not belong in the system
 * journal (size, retention, who may read it). CODE_FILE/LINE/FUNC are left
 * out; they would name this file, not anything about the event.
 *
 * A failed send is reported once on stderr, then counted; the count is
 * printed when the sink is destroyed. libsystemd drops entries silently when
 * the journal socket does not exist, so its absence is reported at start.
 * sd_journal_sendv blocks while journald is busy: a journal slower than the
 * traffic slows the capture loop, and the ring buffer's drops count it.
 * All fields of an entry are built in one reused buffer: no allocation per
 * event.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "jsonw.h"
#include "out_common.h"
#include "output.h"

/* The most any event sends is 23: MESSAGE, MESSAGE_ID, PRIORITY,
 * SYSLOG_IDENTIFIER, TS, the connection identity (5), EVENT and the 12
 * fields of a connection summary. */
#define JOURNAL_MAX_FIELDS 32
/* A buffer grown past this by one huge line is given back before the next
 * event, so a single long line does not pin memory for the process life. */
#define JOURNAL_KEEP_CAP (1u << 20)
/* Where sd_journal_sendv sends; systemd mounts a LogNamespace's socket here. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct journal_type {
	const char *message_id; /* made with `systemd-id128 new`; never change them */
	char priority;		/* syslog level as a digit; 0: not sent */
};

static const struct journal_type journal_types[EV_TYPE_MAX] = {
    [EV_SMTP_REQUEST] = {"d51fb00bd0b44eba9693a3c540b2b364", '6'},
    [EV_SMTP_REPLY] = {"2776601b33004b3387b96f1926595d5d", '6'},
    [EV_SMTP_DATA] = {NULL, 0},
    [EV_SMTP_STARTTLS] = {"8a78e66db85a4499a864eb46473cf4a4", '5'},
    [EV_SMTP_UNEXPECTED] = {"017d0be3525f476fb04d6fd254e68001", '4'},
    [EV_CONTENT_GAP] = {"fa7e2afda2174f46b64bcf72ae69d228", '4'},
    [EV_SMTP_CONNECTION] = {"97ef2b028dfb4179a45ef283e0897ff9", '6'},
    [EV_WEIRD] = {"e77448ff73344ed990d3ea3281ada07f", '4'},
};

struct journal_sink {
	struct sink sink;
	struct jsonw w; /* the fields of one entry, back to back */
	size_t field_end[JOURNAL_MAX_FIELDS];
	struct iovec iov[JOURNAL_MAX_FIELDS];
	unsigned nfields;
	uint64_t sent, failed;
	bool failure_reported;
};

/* A field is "NAME=value"; its end offset is kept, not a pointer, because
 * the buffer may move while later fields are appended. */
static void field_begin(struct journal_sink *js, const char *name)
{
	jsonw_raw(&js->w, name, strlen(name));
	jsonw_raw(&js->w, "=", 1);
}

static void field_end(struct journal_sink *js)
{
	if (js->nfields == JOURNAL_MAX_FIELDS) {
		/* a programming error (JOURNAL_MAX_FIELDS too small), not input */
		fprintf(stderr, "smtpmon: journal: more than %d fields in one entry\n",
			JOURNAL_MAX_FIELDS);
		abort();
	}
	js->field_end[js->nfields++] = js->w.len;
}

static void field_bytes(struct journal_sink *js, const char *name, struct bytes b)
{
	field_begin(js, name);
	escape_bytes_text(&js->w, b.ptr, b.len);
	field_end(js);
}

static void field_cstr(struct journal_sink *js, const char *name, const char *s)
{
	field_bytes(js, name, (struct bytes){(const uint8_t *)s, strlen(s)});
}

/* Only numbers and our own constants go through here: 64 bytes suffice. */
__attribute__((format(printf, 3, 4))) static void field_fmt(struct journal_sink *js,
							    const char *name, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	field_begin(js, name);
	if (n > 0)
		jsonw_raw(&js->w, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	field_end(js);
}

static void field_u64(struct journal_sink *js, const char *name, uint64_t v)
{
	field_fmt(js, name, "%llu", (unsigned long long)v);
}

static void field_bool(struct journal_sink *js, const char *name, bool v)
{
	field_cstr(js, name, v ? "true" : "false");
}

/* Seconds with 6 decimals, truncated, as the JSON sink writes times. */
static void field_time(struct journal_sink *js, const char *name, uint64_t ns)
{
	field_fmt(js, name, "%llu.%06u", (unsigned long long)(ns / 1000000000u),
		  (unsigned)(ns % 1000000000u / 1000u));
}

static void put_conn_id(struct journal_sink *js, const struct conn_id *id)
{
	char addr[INET6_ADDRSTRLEN];
	size_t len;

	field_bytes(js, "SMTPMON_UID",
		    (struct bytes){(const uint8_t *)id->uid, strnlen(id->uid, sizeof(id->uid))});
	len = format_addr(id->family, id->orig_h, addr);
	field_bytes(js, "SMTPMON_ORIG_H", (struct bytes){(const uint8_t *)addr, len});
	field_u64(js, "SMTPMON_ORIG_P", id->orig_p);
	len = format_addr(id->family, id->resp_h, addr);
	field_bytes(js, "SMTPMON_RESP_H", (struct bytes){(const uint8_t *)addr, len});
	field_u64(js, "SMTPMON_RESP_P", id->resp_p);
}

static void put_summary(struct journal_sink *js, const struct conn_summary *c)
{
	field_time(js, "SMTPMON_DURATION", c->duration_ns);
	field_u64(js, "SMTPMON_ORIG_BYTES", c->orig_bytes);
	field_u64(js, "SMTPMON_RESP_BYTES", c->resp_bytes);
	field_u64(js, "SMTPMON_ORIG_PKTS", c->orig_segs);
	field_u64(js, "SMTPMON_RESP_PKTS", c->resp_segs);
	field_u64(js, "SMTPMON_TRANSACTIONS", c->transactions);
	field_bool(js, "SMTPMON_TLS", c->tls);
	field_u64(js, "SMTPMON_GAPS", c->gaps);
	field_u64(js, "SMTPMON_MISSED_BYTES", c->gap_bytes);
	field_u64(js, "SMTPMON_ANOMALIES", c->anomalies);
	field_cstr(js, "SMTPMON_END", conn_end_name(c->end));
	field_bool(js, "SMTPMON_PARTIAL", c->partial);
}

/* The same fields, in the same cases, as out_json.c's put_fields. */
static void put_fields(struct journal_sink *js, const struct event *ev)
{
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		field_bool(js, "SMTPMON_IS_ORIG", ev->is_orig);
		field_bytes(js, "SMTPMON_COMMAND", ev->request.command);
		field_bytes(js, "SMTPMON_ARG", ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		field_bool(js, "SMTPMON_IS_ORIG", ev->is_orig);
		field_u64(js, "SMTPMON_CODE", ev->reply.code);
		field_bytes(js, "SMTPMON_CMD", ev->reply.cmd);
		field_bytes(js, "SMTPMON_MSG", ev->reply.msg);
		field_bool(js, "SMTPMON_CONT_RESP", ev->reply.cont_resp);
		break;
	case EV_SMTP_UNEXPECTED:
		field_bool(js, "SMTPMON_IS_ORIG", ev->is_orig);
		field_bytes(js, "SMTPMON_MSG", ev->unexpected.msg);
		field_bytes(js, "SMTPMON_DETAIL", ev->unexpected.detail);
		break;
	case EV_CONTENT_GAP:
		field_bool(js, "SMTPMON_IS_ORIG", ev->is_orig);
		field_u64(js, "SMTPMON_SEQ", ev->gap.seq);
		field_u64(js, "SMTPMON_LENGTH", ev->gap.length);
		break;
	case EV_WEIRD:
		field_cstr(js, "SMTPMON_NAME", ev->weird.name ? ev->weird.name : "");
		if (ev->weird.addl.len)
			field_bytes(js, "SMTPMON_ADDL", ev->weird.addl);
		break;
	case EV_SMTP_CONNECTION:
		put_summary(js, &ev->conn);
		break;
	case EV_SMTP_DATA:
	case EV_SMTP_STARTTLS:
	case EV_TYPE_MAX:
		break;
	}
}

static void journal_emit(struct sink *sink, const struct event *ev)
{
	struct journal_sink *js = (struct journal_sink *)sink;
	const struct journal_type *t;
	size_t start = 0;
	unsigned i;
	int r;

	if ((unsigned)ev->type >= EV_TYPE_MAX || !journal_types[ev->type].priority)
		return; /* smtp_data: never to the journal */
	t = &journal_types[ev->type];
	if (js->w.cap > JOURNAL_KEEP_CAP)
		jsonw_free(&js->w);
	js->w.len = 0;
	js->nfields = 0;

	field_begin(js, "MESSAGE");
	text_format_event(&js->w, ev);
	field_end(js);
	field_cstr(js, "MESSAGE_ID", t->message_id);
	field_fmt(js, "PRIORITY", "%c", t->priority);
	field_cstr(js, "SYSLOG_IDENTIFIER", "smtpmon");
	field_time(js, "SMTPMON_TS", ev->ts_ns);
	put_conn_id(js, ev->id);
	field_cstr(js, "SMTPMON_EVENT", event_name(ev->type));
	put_fields(js, ev);

	for (i = 0; i < js->nfields; i++) {
		js->iov[i].iov_base = js->w.buf + start;
		js->iov[i].iov_len = js->field_end[i] - start;
		start = js->field_end[i];
	}
	r = sd_journal_sendv(js->iov, (int)js->nfields);
	if (r >= 0) {
		js->sent++;
		return;
	}
	js->failed++;
	if (!js->failure_reported) {
		js->failure_reported = true;
		fprintf(stderr,
			"smtpmon: journal: sending an event: %s (further failures counted)\n",
			strerror(-r));
	}
}

/* Every entry is one datagram, already sent. */
static void journal_flush(struct sink *sink)
{
	(void)sink;
}

static void journal_destroy(struct sink *sink)
{
	struct journal_sink *js = (struct journal_sink *)sink;

	if (js->failed)
		fprintf(stderr, "smtpmon: journal: %llu of %llu events not sent\n",
			(unsigned long long)js->failed,
			(unsigned long long)(js->failed + js->sent));
	jsonw_free(&js->w);
	free(js);
}

struct sink *sink_journal_new(void)
{
	struct journal_sink *js = calloc(1, sizeof(*js));

	if (!js) {
		fprintf(stderr, "smtpmon: journal sink: %s\n", strerror(errno));
		return NULL;
	}
	js->sink.emit = journal_emit;
	js->sink.flush = journal_flush;
	js->sink.destroy = journal_destroy;
	jsonw_init(&js->w);
	if (access(JOURNAL_SOCKET, W_OK) < 0)
		fprintf(stderr, "smtpmon: journal: %s: %s; events will be lost\n", JOURNAL_SOCKET,
			strerror(errno));
	return &js->sink;
}
