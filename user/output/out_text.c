// SPDX-License-Identifier: GPL-2.0-only
/*
 * out_text.c - the human-readable sink: one line per event.
 *
 *   TIME UID ORIG DIR RESP EVENT DETAILS
 *
 *   TIME  UTC, ISO 8601 with microseconds: 2024-11-26T16:53:20.123456Z
 *   ORIG, RESP  Zeek's orientation (orig = client): 10.0.0.1:40512, IPv6 as
 *         [2001:db8::1]:25
 *   DIR   "->" bytes sent by the originator, "<-" by the responder, "--" for
 *         events of the whole connection (starttls, weird, smtp_connection)
 *
 *   DETAILS by event. Strings are escaped like the JSON sink's, minus the
 *   JSON quoting: \xNN for control bytes and invalid UTF-8, \\ for a
 *   backslash, '"' as is; so no line can break and "\x" is always an escape.
 *   An empty cmd is written "-".
 *   smtp_request     COMMAND ARG
 *   smtp_reply       CMD CODE MSG, with '-' instead of the space after CODE
 *                    when more lines follow (cont_resp), as on the wire
 *   smtp_data        DATA-LINE
 *   smtp_starttls    (nothing)
 *   smtp_unexpected  MSG: DETAIL
 *   content_gap      seq=N length=N
 *   weird            NAME ADDL
 *   smtp_transaction depth=N from=ADDR rcpt=ADDR:CODE,... outcome=O[:CODE]
 *                    [queue_id=ID] [msg_id=ID] [subject=S] (S decoded)
 *   smtp_connection  duration=S.UUUUUU orig_bytes=N resp_bytes=N orig_segs=N
 *                    resp_segs=N transactions=N tls=T|F gaps=N missed_bytes=N
 *                    anomalies=N end=FIN|RST|timeout|eviction|end_of_input
 *                    partial=T|F
 *
 * Optional parts (ARG, MSG, ": DETAIL", ADDL) are left out with their
 * separating space when empty. Like the JSON sink, a stream_sink: one reused
 * buffer, one fwrite per event, flush decided by the caller. The journal sink uses the
 * same line, without its newline, as MESSAGE (text_format_event).
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "output/jsonw.h"
#include "output/out_common.h"
#include "output/output.h"
#include "records/transaction.h"

/* Only numbers and our own constants go through here: 128 bytes suffice. */
__attribute__((format(printf, 2, 3))) static void put_fmt(struct jsonw *w, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	jsonw_raw(w, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_bytes(struct jsonw *w, struct bytes b)
{
	escape_bytes_text(w, b.ptr, b.len);
}

/* " " + b, or nothing when b is empty. */
static void put_optional(struct jsonw *w, struct bytes b)
{
	if (!b.len)
		return;
	jsonw_raw(w, " ", 1);
	put_bytes(w, b);
}

static void put_time(struct jsonw *w, uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	unsigned usec = (unsigned)(ns % 1000000000u / 1000u);
	struct tm tm;

	if (!gmtime_r(&sec, &tm)) {
		put_fmt(w, "%llu.%06u", (unsigned long long)sec, usec);
		return;
	}
	put_fmt(w, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

static void put_endpoint(struct jsonw *w, uint8_t family, const uint8_t addr[16], uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	format_addr(family, addr, a);
	if (family_is_ipv6(family))
		put_fmt(w, "[%s]:%u", a, port);
	else
		put_fmt(w, "%s:%u", a, port);
}

static bool has_direction(enum event_type type)
{
	return type == EV_SMTP_REQUEST || type == EV_SMTP_REPLY || type == EV_SMTP_DATA ||
	       type == EV_SMTP_UNEXPECTED || type == EV_CONTENT_GAP;
}

static const char *tf(bool v)
{
	return v ? "T" : "F";
}

static void put_summary(struct jsonw *w, const struct conn_summary *c)
{
	put_fmt(w, " duration=%llu.%06u", (unsigned long long)(c->duration_ns / 1000000000u),
		(unsigned)(c->duration_ns % 1000000000u / 1000u));
	put_fmt(w, " orig_bytes=%llu resp_bytes=%llu orig_segs=%llu resp_segs=%llu",
		(unsigned long long)c->orig_bytes, (unsigned long long)c->resp_bytes,
		(unsigned long long)c->orig_segs, (unsigned long long)c->resp_segs);
	put_fmt(w, " transactions=%llu tls=%s gaps=%llu missed_bytes=%llu anomalies=%llu",
		(unsigned long long)c->transactions, tf(c->tls), (unsigned long long)c->gaps,
		(unsigned long long)c->gap_bytes, (unsigned long long)c->anomalies);
	put_fmt(w, " end=%s partial=%s", conn_end_name(c->end), tf(c->partial));
}

/* depth=N from=ADDR rcpt=ADDR:CODE,... outcome=O[:CODE] [queue_id=ID]
 * [msg_id=ID] [subject=S]: who, to whom, and what became of it; the JSON
 * sink has every field. */
static void put_transaction(struct jsonw *w, const struct smtp_transaction *t)
{
	put_fmt(w, " depth=%u from=", t->trans_depth);
	if (t->mailfrom.ptr)
		put_bytes(w, t->mailfrom);
	else
		jsonw_raw(w, "-", 1);
	jsonw_raw(w, " rcpt=", 6);
	for (uint32_t i = 0; i < t->nrcpt_status; i++) {
		if (i)
			jsonw_raw(w, ",", 1);
		put_bytes(w, t->rcpt_status[i].addr);
		put_fmt(w, ":%u", t->rcpt_status[i].code);
	}
	if (!t->nrcpt_status)
		jsonw_raw(w, "-", 1);
	put_fmt(w, " outcome=%s", txn_outcome_names[t->outcome]);
	if (t->outcome_code)
		put_fmt(w, ":%u", t->outcome_code);
	if (t->queue_id.ptr) {
		jsonw_raw(w, " queue_id=", 10);
		put_bytes(w, t->queue_id);
	}
	if (t->msg_id.ptr) {
		jsonw_raw(w, " msg_id=", 8);
		put_bytes(w, t->msg_id);
	}
	if (t->subject_decoded.ptr) { /* for people: decoded */
		jsonw_raw(w, " subject=", 9);
		put_bytes(w, t->subject_decoded);
	}
}

/* fuid depth=N [mime_type] ["filename"] seen_bytes=N missing_bytes=N [sha1=...] */
static void put_file(struct jsonw *w, const struct file_info *f)
{
	put_fmt(w, " %s depth=%u", f->fuid, f->depth);
	if (f->mime_type.ptr)
		put_optional(w, f->mime_type);
	if (f->filename.ptr) {
		jsonw_raw(w, " \"", 2);
		put_bytes(w, f->filename);
		jsonw_raw(w, "\"", 1);
	}
	if (!f->content_seen) {
		jsonw_raw(w, " not-seen", 9);
		return;
	}
	put_fmt(w, " seen_bytes=%llu missing_bytes=%llu", (unsigned long long)f->seen_bytes,
		(unsigned long long)f->missing_bytes);
	if (f->sha256 || f->sha1 || f->md5) {
		const uint8_t *d = f->sha256 ? f->sha256 : f->sha1 ? f->sha1 : f->md5;
		size_t n = f->sha256 ? 32 : f->sha1 ? 20 : 16;

		jsonw_raw(w,
			  f->sha256 ? " sha256="
			  : f->sha1 ? " sha1="
				    : " md5=",
			  f->sha256 ? 8
			  : f->sha1 ? 6
				    : 5);
		for (size_t i = 0; i < n; i++)
			put_fmt(w, "%02x", d[i]);
	}
}

static void put_details(struct jsonw *w, const struct event *ev)
{
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		put_optional(w, ev->request.command);
		put_optional(w, ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		jsonw_raw(w, " ", 1);
		if (ev->reply.cmd.len)
			put_bytes(w, ev->reply.cmd);
		else
			jsonw_raw(w, "-", 1);
		put_fmt(w, " %u", ev->reply.code);
		if (ev->reply.cont_resp)
			jsonw_raw(w, "-", 1);
		else if (ev->reply.msg.len)
			jsonw_raw(w, " ", 1);
		put_bytes(w, ev->reply.msg);
		break;
	case EV_SMTP_DATA:
		put_optional(w, ev->data.data);
		break;
	case EV_SMTP_UNEXPECTED:
		put_optional(w, ev->unexpected.msg);
		if (ev->unexpected.detail.len) {
			jsonw_raw(w, ":", 1);
			put_optional(w, ev->unexpected.detail);
		}
		break;
	case EV_CONTENT_GAP:
		put_fmt(w, " seq=%llu length=%llu", (unsigned long long)ev->gap.seq,
			(unsigned long long)ev->gap.length);
		break;
	case EV_WEIRD:
		if (ev->weird.name)
			put_optional(w, (struct bytes){(const uint8_t *)ev->weird.name,
						       strlen(ev->weird.name)});
		put_optional(w, ev->weird.addl);
		break;
	case EV_SMTP_CONNECTION:
		put_summary(w, &ev->conn);
		break;
	case EV_SMTP_TRANSACTION:
		put_transaction(w, ev->transaction);
		break;
	case EV_FILE:
		put_file(w, &ev->file);
		break;
	case EV_SMTP_STARTTLS:
	case EV_TYPE_MAX:
		break;
	}
}

void text_format_event(struct jsonw *w, const struct event *ev)
{
	const struct conn_id *id = ev->id;
	const char *dir = !has_direction(ev->type) ? " -- " : ev->is_orig ? " -> " : " <- ";

	put_time(w, ev->ts_ns);
	jsonw_raw(w, " ", 1);
	escape_bytes_text(w, (const uint8_t *)id->uid, strnlen(id->uid, sizeof(id->uid)));
	jsonw_raw(w, " ", 1);
	put_endpoint(w, id->family, id->orig_h, id->orig_p);
	jsonw_raw(w, dir, 4);
	put_endpoint(w, id->family, id->resp_h, id->resp_p);
	jsonw_raw(w, " ", 1);
	jsonw_raw(w, event_name(ev->type), strlen(event_name(ev->type)));
	put_details(w, ev);
}

static void text_format(struct stream_sink *ss, const struct event *ev)
{
	text_format_event(&ss->w, ev);
	jsonw_raw(&ss->w, "\n", 1);
}

struct sink *sink_text_new(FILE *out)
{
	return stream_sink_new(sizeof(struct stream_sink), "text", out, text_format);
}
