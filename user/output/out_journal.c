// SPDX-License-Identifier: GPL-2.0-only
/*
 * out_journal.c - the journald sink: one native journal entry per event
 * (sd_journal_sendv, from journal_writer.h's thread), for `--format journal`
 * / `--output journal` and the systemd unit.
 *
 *   MESSAGE            the text sink's line without its leading time (the
 *                      entry has its own; SMTP_TS keeps the event's), cut
 *                      after JOURNAL_MESSAGE_MAX bytes with "…" between two
 *                      characters (never inside an escape); a line for
 *                      people, the SMTP_* fields hold the values in full
 *   MESSAGE_ID         one fixed id per event type (journal_types below),
 *                      each explained in systemd/smtpmon.catalog
 *   PRIORITY           by meaning, so that `journalctl -p notice` shows what
 *                      went wrong and nothing routine:
 *                      4 warning: an smtp_reply with a 5xx code (a rejection),
 *                      smtp_unexpected, content_gap, weird, and an
 *                      smtp_connection whose end is "eviction"
 *                      5 notice: an smtp_reply with a 4xx code (a deferral)
 *                      6 info: everything else
 *   SYSLOG_IDENTIFIER  smtpmon
 *   SMTP_*             the JSON sink's fields (event_fields), named "SMTP_" +
 *                      the JSON key upper-cased without "id." (id.orig_h:
 *                      SMTP_ORIG_H, ts: SMTP_TS, missed_bytes:
 *                      SMTP_MISSED_BYTES). Numbers, times and booleans as
 *                      their JSON text (25, 1732640000.123456, true); strings
 *                      as the JSON sink's value once decoded: \xNN for
 *                      control bytes and invalid UTF-8 (as Zeek writes them),
 *                      '"' and '\' as themselves, except that the characters
 *                      the JSON sink writes as \uXXXX (C1 controls,
 *                      U+2028/U+2029, bidirectional controls, noncharacters:
 *                      jsonw.c) stay written so. A field ("NAME=value")
 *                      longer than JOURNAL_FIELD_MAX bytes has its value cut
 *                      between two characters (never inside an escape) and
 *                      ended with "…". So every
 *                      field is printable UTF-8 text without a line break,
 *                      and `journalctl -o json` shows it as a string (it
 *                      shows longer values as null, binary ones as arrays).
 *
 * smtp_transaction: SMTP_MSG_ID is SMTP_MSGID; lists (rcptto, to, cc, path,
 * fuids) are one field with the items joined by ','; each recipient of
 * rcpt_status is one SMTP_RCPT (its address) and one SMTP_RCPT_STATUS
 * ("address code text"), in order, so `journalctl SMTP_RCPT=a@b` and
 * `journalctl SMTP_QUEUE_ID=...` find the record.
 *
 * One entry per reply, not per reply line: the lines of a multi-line reply
 * (cont_resp true) are held per connection until its last line, then sent as
 * one smtp_reply entry with the last line's ts, code and cmd, and
 *   SMTP_MSG           the lines' texts joined by a space (RFC 5321 4.2.1: one
 *                      text over several lines); for a reply to EHLO the first
 *                      line alone (the server's name and greeting)
 *   SMTP_CAPABILITIES  reply to EHLO: the other lines (the extensions the
 *                      server offers) joined by ", "; MESSAGE ends with
 *                      " capabilities: " and the same list
 *   SMTP_LINES         the number of lines
 *   SMTP_CONT_RESP     false; true when the connection ended (or the sink was
 *                      closed, or JOURNAL_MAX_PENDING connections were waiting)
 *                      before the last line came, and what came is sent
 * A single-line reply is sent as it is, without SMTP_LINES. The text kept for
 * one reply is bounded (JOURNAL_REPLY_MAX bytes; further lines are counted
 * in SMTP_LINES, and the text ends with " …"). The JSON and text sinks keep
 * one event per line, as Zeek does.
 *
 * smtp_data events are never sent: mail bodies do not belong in the system
 * journal (size, retention, who may read it). CODE_FILE/LINE/FUNC are left
 * out; they would name this file, not anything about the event.
 *
 * The capture loop never waits for journald: entries go through a queue of
 * JOURNAL_WRITER_QUEUE_MAX bytes to a thread of their own. While journald
 * is stopped or slower than the traffic the queue fills, and the entries
 * that find it full are dropped and counted (sink losses: events, bytes);
 * once journald reads again, sending resumes by itself. A failed send and
 * the first dropped entry of a spell are reported once on stderr, then
 * counted; the totals are printed when the sink is destroyed, which waits
 * at most JOURNAL_DRAIN_MS for the queue (so SIGTERM ends the daemon in
 * bounded time whatever journald does). libsystemd drops entries silently
 * when the journal socket does not exist, so its absence is reported at
 * start. All fields of an entry are built in one reused buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "output/journal_writer.h"
#include "output/jsonw.h"
#include "output/out_common.h"
#include "output/output.h"
#include "records/transaction.h"

/* The most any event sends: an smtp_transaction, 10 common fields, 24 of
 * its own, and two per recipient (TXN_LIST_MAX of them). */
#define JOURNAL_MAX_FIELDS (40 + 2 * TXN_LIST_MAX)
/* A buffer grown past this by one huge line is given back before the next
 * event, so a single long line does not pin memory for the process life. */
#define JOURNAL_KEEP_CAP (1u << 20)
/* MESSAGE is for people; a 16 KB command belongs in SMTP_ARG only. */
#define JOURNAL_MESSAGE_MAX 256
/* Bytes of a whole "NAME=value": journalctl -o json prints a field of 4096
 * or more as null (its JSON_THRESHOLD). */
#define JOURNAL_FIELD_MAX 4095
/* Where sd_journal_sendv sends; systemd mounts a LogNamespace's socket here. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"
/* Text kept of one multi-line reply; a hostile server's endless 250- lines
 * cost no more than this. */
#define JOURNAL_REPLY_MAX (64u * 1024)
/* Connections with a multi-line reply under way at the same moment. */
#define JOURNAL_MAX_PENDING 256
/* How long the sink, when it is destroyed, waits for journald to take the
 * queue: the part of the shutdown journald can delay. */
#define JOURNAL_DRAIN_MS 2000

struct journal_type {
	/* made with `systemd-id128 new`; never change them: the catalog,
	 * and the operators' filters, know them */
	const char *message_id;
	char priority; /* syslog level as a digit; 0: not sent */
};

/* syslog levels, as journald's PRIORITY digits */
#define PRIORITY_WARNING '4'
#define PRIORITY_NOTICE	 '5'
#define PRIORITY_INFO	 '6'

static const struct journal_type journal_types[EV_TYPE_MAX] = {
    [EV_SMTP_REQUEST] = {"d51fb00bd0b44eba9693a3c540b2b364", PRIORITY_INFO},
    [EV_SMTP_REPLY] = {"2776601b33004b3387b96f1926595d5d", PRIORITY_INFO},
    [EV_SMTP_DATA] = {NULL, 0},
    [EV_SMTP_STARTTLS] = {"8a78e66db85a4499a864eb46473cf4a4", PRIORITY_INFO},
    [EV_SMTP_UNEXPECTED] = {"017d0be3525f476fb04d6fd254e68001", PRIORITY_WARNING},
    [EV_CONTENT_GAP] = {"fa7e2afda2174f46b64bcf72ae69d228", PRIORITY_WARNING},
    [EV_SMTP_CONNECTION] = {"97ef2b028dfb4179a45ef283e0897ff9", PRIORITY_INFO},
    [EV_WEIRD] = {"e77448ff73344ed990d3ea3281ada07f", PRIORITY_WARNING},
    [EV_SMTP_TRANSACTION] = {"c5848e0952c641d0b35e051fa428341c", PRIORITY_INFO},
    [EV_FILE] = {"8bb921fd34494e898b2e9e47db4c9169", PRIORITY_INFO},
};

/* A multi-line reply whose last line has not come yet; its bytes are raw
 * (escaped when sent). */
struct pending_reply {
	struct conn_id id;
	uint64_t ts_ns;
	uint16_t code;
	bool is_orig, in_tls, cut;
	struct jsonw cmd;
	struct jsonw text; /* the lines' texts, joined */
	size_t first_len;  /* the first line's bytes in text */
	unsigned lines;
};

struct journal_sink {
	struct sink sink;
	struct pending_reply pending[JOURNAL_MAX_PENDING];
	unsigned npending; /* in arrival order */
	struct jsonw w;	   /* the fields of one entry, back to back */
	size_t field_end[JOURNAL_MAX_FIELDS];
	struct iovec iov[JOURNAL_MAX_FIELDS];
	unsigned nfields;
	size_t field_start, value_start; /* of the field being appended */
	struct journal_writer *writer;
	bool dropping; /* the last entry found the queue full */
};

/* A field is "NAME=value"; its end offset is kept, not a pointer, because
 * the buffer may move while later fields are appended. */
static void field_begin(struct journal_sink *js, const char *name)
{
	js->field_start = js->w.len;
	jsonw_raw(&js->w, name, strlen(name));
	jsonw_raw(&js->w, "=", 1);
	js->value_start = js->w.len;
}

static bool hex_digits_at(const char *s, size_t len, size_t i, size_t n)
{
	if (len - i < n)
		return false;
	for (size_t k = i; k < i + n; k++)
		if (!isxdigit((unsigned char)s[k]))
			return false;
	return true;
}

/* Bytes of the character or escape that starts the text at s[i]: \xNN,
 * \uXXXX, two backslashes (the text form of one), or one character of the
 * well-formed UTF-8 text (a literal backslash of the journal form too). */
static size_t text_char_len(const char *s, size_t len, size_t i)
{
	uint8_t c = (uint8_t)s[i];

	if (c == '\\' && i + 1 < len) {
		if (s[i + 1] == 'x' && hex_digits_at(s, len, i + 2, 2))
			return 4;
		if (s[i + 1] == 'u' && hex_digits_at(s, len, i + 2, 4))
			return 6;
		if (s[i + 1] == '\\')
			return 2;
	}
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* Text from start on longer than max bytes: cut between two characters or
 * escapes at max bytes or fewer, then "…". */
static void cut_text(struct jsonw *w, size_t start, size_t max)
{
	size_t end = start + max, i, n;

	if (w->len - start <= max)
		return;
	for (i = start; i < end; i += n) {
		n = text_char_len(w->buf, w->len, i);
		if (n > end - i)
			break;
	}
	w->len = i;
	jsonw_raw(w, "\xe2\x80\xa6", 3); /* … */
}

static void field_end(struct journal_sink *js)
{
	cut_text(&js->w, js->value_start,
		 JOURNAL_FIELD_MAX - (js->value_start - js->field_start) - 3);
	if (js->nfields == JOURNAL_MAX_FIELDS) {
		/* a programming error (JOURNAL_MAX_FIELDS too small), not input */
		fprintf(stderr, "smtpmon: journal: more than %d fields in one entry\n",
			JOURNAL_MAX_FIELDS);
		abort();
	}
	js->field_end[js->nfields++] = js->w.len;
}

static void field_bytes(struct journal_sink *js, const char *name, const uint8_t *s, size_t len)
{
	field_begin(js, name);
	escape_bytes_decoded(&js->w, s, len);
	field_end(js);
}

static void field_cstr(struct journal_sink *js, const char *name, const char *s)
{
	field_bytes(js, name, (const uint8_t *)s, strlen(s));
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

/* "SMTP_" + the JSON key upper-cased without "id.": id.orig_h is
 * SMTP_ORIG_H. Keys are our own short constants. */
static const char *journal_name(const char *key, char name[64])
{
	size_t i;

	if (!strncmp(key, "id.", 3))
		key += 3;
	if (!strcmp(key, "msg_id"))
		key = "msgid"; /* SMTP_MSGID, next to the MTA's own field names */
	memcpy(name, "SMTP_", 5);
	for (i = 5; *key && i < 63; key++)
		name[i++] = *key >= 'a' && *key <= 'z' ? (char)(*key - 'a' + 'A') : *key;
	name[i] = '\0';
	return name;
}

/* The field_visitor: the context is the journal_sink, keys become names. */
static void journal_bytes(void *ctx, const char *key, const uint8_t *s, size_t len)
{
	char name[64];

	field_bytes(ctx, journal_name(key, name), s, len);
}

static void journal_cstr(void *ctx, const char *key, const char *s)
{
	journal_bytes(ctx, key, (const uint8_t *)s, strlen(s));
}

static void journal_u64(void *ctx, const char *key, uint64_t v)
{
	char name[64];

	field_fmt(ctx, journal_name(key, name), "%llu", (unsigned long long)v);
}

static void journal_bool(void *ctx, const char *key, bool v)
{
	journal_cstr(ctx, key, v ? "true" : "false");
}

/* Seconds with 6 decimals, truncated, as the JSON sink writes times. */
static void journal_time(void *ctx, const char *key, uint64_t ns)
{
	char name[64];

	field_fmt(ctx, journal_name(key, name), "%llu.%06u", (unsigned long long)(ns / 1000000000u),
		  (unsigned)(ns % 1000000000u / 1000u));
}

/* A list as one field, its items joined by ',' (as Zeek's TSV logs write
 * them); recipients have their own fields (journal_rcpts). */
static void journal_list(void *ctx, const char *key, const struct bytes *items, size_t n)
{
	struct journal_sink *js = ctx;
	char name[64];

	if (!n)
		return; /* an empty list (fuids) says nothing worth a field */
	field_begin(js, journal_name(key, name));
	for (size_t i = 0; i < n; i++) {
		if (i)
			jsonw_raw(&js->w, ",", 1);
		escape_bytes_decoded(&js->w, items[i].ptr, items[i].len);
	}
	field_end(js);
}

/* One SMTP_RCPT (the address, to filter on) and one SMTP_RCPT_STATUS
 * ("address code text") per recipient, in order. */
static void journal_rcpts(void *ctx, const char *key, const struct txn_rcpt *r, size_t n)
{
	struct journal_sink *js = ctx;
	char code[8];

	(void)key;
	for (size_t i = 0; i < n; i++) {
		field_bytes(js, "SMTP_RCPT", r[i].addr.ptr, r[i].addr.len);
		field_begin(js, "SMTP_RCPT_STATUS");
		escape_bytes_decoded(&js->w, r[i].addr.ptr, r[i].addr.len);
		if (r[i].code) {
			int len = snprintf(code, sizeof(code), " %u ", r[i].code);
			jsonw_raw(&js->w, code, (size_t)len);
			escape_bytes_decoded(&js->w, r[i].text.ptr, r[i].text.len);
		}
		field_end(js);
	}
}

static const struct field_visitor journal_fields = {
    .list = journal_list,
    .rcpts = journal_rcpts,
    .bytes = journal_bytes,
    .cstr = journal_cstr,
    .u64 = journal_u64,
    .boolean = journal_bool,
    .time = journal_time,
};

/*
 * MESSAGE: the text sink's line from after its time, for a joined reply to
 * EHLO followed by " capabilities: " and the list; at most
 * JOURNAL_MESSAGE_MAX bytes of it, then "…" if it was cut.
 */
static void put_message(struct journal_sink *js, const struct event *ev, struct bytes capabilities)
{
	struct jsonw *w = &js->w;
	size_t start = w->len, n;
	char *space;

	text_format_event(w, ev);
	space = memchr(w->buf + start, ' ', w->len - start);
	if (space) {
		n = (size_t)(space + 1 - (w->buf + start));
		memmove(w->buf + start, space + 1, w->len - start - n);
		w->len -= n;
	}
	if (capabilities.len) {
		jsonw_raw(w, " capabilities: ", 15);
		escape_bytes_text(w, capabilities.ptr, capabilities.len);
	}
	cut_text(w, start, JOURNAL_MESSAGE_MAX);
}

static char journal_priority(const struct event *ev)
{
	if (ev->type == EV_SMTP_CONNECTION && ev->conn.end == CONN_END_EVICTED)
		return PRIORITY_WARNING; /* a limit was hit: state and events were lost */
	if (ev->type == EV_SMTP_REPLY && ev->reply.code >= 500 && ev->reply.code <= 599)
		return PRIORITY_WARNING; /* a rejection */
	if (ev->type == EV_SMTP_REPLY && ev->reply.code >= 400 && ev->reply.code <= 499)
		return PRIORITY_NOTICE; /* a deferral */
	return journal_types[ev->type].priority;
}

/* The joined reply's extra fields; NULL for a single event. */
struct joined_reply {
	const struct pending_reply *p;
	struct bytes capabilities; /* len 0: not a reply to EHLO */
};

static void journal_send(struct journal_sink *js, const struct event *ev,
			 const struct joined_reply *joined)
{
	const struct journal_type *t = &journal_types[ev->type];
	size_t start = 0;
	unsigned i;

	if (js->w.cap > JOURNAL_KEEP_CAP)
		jsonw_free(&js->w);
	js->w.len = 0;
	js->nfields = 0;

	field_begin(js, "MESSAGE");
	put_message(js, ev, joined ? joined->capabilities : (struct bytes){NULL, 0});
	field_end(js);
	field_cstr(js, "MESSAGE_ID", t->message_id);
	field_fmt(js, "PRIORITY", "%c", journal_priority(ev));
	field_cstr(js, "SYSLOG_IDENTIFIER", "smtpmon");
	event_fields(ev, &journal_fields, js);
	if (joined) {
		if (joined->capabilities.len)
			field_bytes(js, "SMTP_CAPABILITIES", joined->capabilities.ptr,
				    joined->capabilities.len);
		field_fmt(js, "SMTP_LINES", "%u", joined->p->lines);
	}

	for (i = 0; i < js->nfields; i++) {
		js->iov[i].iov_base = js->w.buf + start;
		js->iov[i].iov_len = js->field_end[i] - start;
		start = js->field_end[i];
	}
	if (js->writer && journal_writer_queue(js->writer, js->iov, js->nfields)) {
		js->dropping = false;
		return;
	}
	if (!js->dropping) {
		js->dropping = true;
		fprintf(stderr,
			"smtpmon: journal: journald does not keep up (%u MB queued): events are "
			"dropped and counted until it does\n",
			JOURNAL_WRITER_QUEUE_MAX >> 20);
	}
}

static struct pending_reply *pending_find(struct journal_sink *js, const struct conn_id *id)
{
	for (unsigned i = 0; i < js->npending; i++)
		if (!strcmp(js->pending[i].id.uid, id->uid))
			return &js->pending[i];
	return NULL;
}

static void pending_append(struct pending_reply *p, const uint8_t *s, size_t len)
{
	if (p->cut)
		return;
	if (p->text.len + len > JOURNAL_REPLY_MAX) {
		len = JOURNAL_REPLY_MAX - p->text.len;
		p->cut = true;
	}
	jsonw_raw(&p->text, (const char *)s, len);
}

/* Adds one line of a reply to p (new when lines is 0). */
static void pending_add_line(struct pending_reply *p, const struct event *ev)
{
	bool ehlo = p->cmd.len == 4 && !strncasecmp(p->cmd.buf, "EHLO", 4);

	if (!p->lines) {
		p->text.len = p->cmd.len = 0;
		p->cut = false;
		p->id = *ev->id;
		p->is_orig = ev->is_orig;
		jsonw_raw(&p->cmd, (const char *)ev->reply.cmd.ptr, ev->reply.cmd.len);
	} else {
		pending_append(p, (const uint8_t *)(ehlo && p->lines > 1 ? ", " : " "),
			       ehlo && p->lines > 1 ? 2 : 1);
	}
	pending_append(p, ev->reply.msg.ptr, ev->reply.msg.len);
	if (++p->lines == 1)
		p->first_len = p->text.len;
	p->ts_ns = ev->ts_ns;
	p->code = ev->reply.code;
	p->in_tls = ev->in_tls;
}

/* Sends p as one smtp_reply entry and forgets it; cont_resp: its last line
 * never came. */
static void pending_send(struct journal_sink *js, struct pending_reply *p, bool cont_resp)
{
	bool ehlo = p->cmd.len == 4 && !strncasecmp(p->cmd.buf, "EHLO", 4);
	struct event ev = {.type = EV_SMTP_REPLY,
			   .ts_ns = p->ts_ns,
			   .id = &p->id,
			   .is_orig = p->is_orig,
			   .in_tls = p->in_tls};
	struct joined_reply joined = {.p = p};
	size_t i = (size_t)(p - js->pending);

	if (p->cut)
		jsonw_raw(&p->text, " \xe2\x80\xa6", 4);
	ev.reply.code = p->code;
	ev.reply.cmd = (struct bytes){(const uint8_t *)p->cmd.buf, p->cmd.len};
	ev.reply.msg = (struct bytes){(const uint8_t *)p->text.buf, p->text.len};
	ev.reply.cont_resp = cont_resp;
	if (ehlo && p->lines > 1 && p->text.len > p->first_len + 1) {
		ev.reply.msg.len = p->first_len;
		/* after the first line and the space that follows it */
		joined.capabilities =
		    (struct bytes){(const uint8_t *)p->text.buf + p->first_len + 1,
				   p->text.len - p->first_len - 1};
	}
	journal_send(js, &ev, p->lines > 1 ? &joined : NULL);
	/* Out of the list, its buffers kept for the next one (no allocation per
	 * reply), unless one huge reply grew them. */
	struct pending_reply done = *p;
	memmove(p, p + 1, (js->npending - i - 1) * sizeof(*p));
	js->npending--;
	done.lines = 0;
	if (done.text.cap > JOURNAL_KEEP_CAP)
		jsonw_free(&done.text);
	js->pending[js->npending] = done;
}

static void journal_reply(struct journal_sink *js, const struct event *ev)
{
	struct pending_reply *p = pending_find(js, ev->id);

	if (!p && !ev->reply.cont_resp) {
		journal_send(js, ev, NULL); /* a single-line reply: as it is */
		return;
	}
	if (!p) {
		if (js->npending == JOURNAL_MAX_PENDING)
			pending_send(js, &js->pending[0], true); /* the oldest */
		p = &js->pending[js->npending++];
	}
	pending_add_line(p, ev);
	if (!ev->reply.cont_resp)
		pending_send(js, p, false);
}

static void journal_emit(struct sink *sink, const struct event *ev)
{
	struct journal_sink *js = (struct journal_sink *)sink;
	struct pending_reply *p;

	if ((unsigned)ev->type >= EV_TYPE_MAX || !journal_types[ev->type].priority)
		return; /* smtp_data: never to the journal */
	if (ev->type == EV_SMTP_REPLY) {
		journal_reply(js, ev);
		return;
	}
	/* A connection that ends inside a multi-line reply: what came of it first. */
	if (ev->type == EV_SMTP_CONNECTION && (p = pending_find(js, ev->id)))
		pending_send(js, p, true);
	journal_send(js, ev, NULL);
}

/* Every entry is one datagram, already sent. */
static void journal_flush(struct sink *sink)
{
	(void)sink;
}

static void journal_destroy(struct sink *sink)
{
	struct journal_sink *js = (struct journal_sink *)sink;

	while (js->npending)
		pending_send(js, &js->pending[0], true);
	for (unsigned i = 0; i < JOURNAL_MAX_PENDING; i++) {
		jsonw_free(&js->pending[i].text);
		jsonw_free(&js->pending[i].cmd);
	}
	if (js->writer) {
		struct journal_writer_counts c;
		uint64_t unsent, lost;

		journal_writer_close(js->writer, JOURNAL_DRAIN_MS, &c, &unsent);
		lost = c.failed + c.dropped + unsent;
		if (lost)
			fprintf(stderr,
				"smtpmon: journal: %" PRIu64 " of %" PRIu64 " events not sent\n",
				lost, lost + c.sent);
	}
	jsonw_free(&js->w);
	free(js);
}

static void journal_losses(const struct sink *sink, uint64_t *events, uint64_t *bytes)
{
	const struct journal_sink *js = (const struct journal_sink *)sink;
	struct journal_writer_counts c = {0};

	if (js->writer)
		journal_writer_get(js->writer, &c);
	*events = c.failed + c.dropped;
	*bytes = c.lost_bytes;
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
	js->sink.losses = journal_losses;
	jsonw_init(&js->w);
	js->writer = journal_writer_new(JOURNAL_MAX_FIELDS);
	if (!js->writer)
		fprintf(stderr, "smtpmon: journal: writer thread: %s; events will be lost\n",
			strerror(errno));
	if (access(JOURNAL_SOCKET, W_OK) < 0)
		fprintf(stderr, "smtpmon: journal: %s: %s; events will be lost\n", JOURNAL_SOCKET,
			strerror(errno));
	return &js->sink;
}
