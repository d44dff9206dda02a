// SPDX-License-Identifier: GPL-2.0-only
/* out_common.c - helpers shared by the output sinks (see out_common.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/out_common.h"
#include "records/transaction.h"

const char *event_name(enum event_type type)
{
	return (unsigned)type < EV_TYPE_MAX ? event_names[type] : "unknown";
}

const char *conn_end_name(enum conn_end end)
{
	return (unsigned)end <= CONN_END_INPUT ? conn_end_names[end] : "unknown";
}

bool family_is_ipv6(uint8_t family)
{
	return family == 6 || family == AF_INET6;
}

/* inet_ntop formats IPv4 through sprintf, which was a third of the JSON
 * sink's time per event. */
static size_t format_ipv4(const uint8_t addr[4], char *out)
{
	char *p = out;
	int i;

	for (i = 0; i < 4; i++) {
		uint8_t b = addr[i];

		if (i)
			*p++ = '.';
		if (b >= 100)
			*p++ = (char)('0' + b / 100);
		if (b >= 10)
			*p++ = (char)('0' + b / 10 % 10);
		*p++ = (char)('0' + b % 10);
	}
	*p = '\0';
	return (size_t)(p - out);
}

size_t format_addr(uint8_t family, const uint8_t addr[16], char out[INET6_ADDRSTRLEN])
{
	if (!family_is_ipv6(family))
		return format_ipv4(addr, out);
	/* cannot fail: known family, buffer of the maximal size */
	if (!inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
	return strlen(out);
}

void conn_id_fields(const struct conn_id *id, const struct field_visitor *v, void *ctx)
{
	char addr[INET6_ADDRSTRLEN];
	size_t len;

	v->bytes(ctx, "uid", (const uint8_t *)id->uid, strnlen(id->uid, sizeof(id->uid)));
	len = format_addr(id->family, id->orig_h, addr);
	v->bytes(ctx, "id.orig_h", (const uint8_t *)addr, len);
	v->u64(ctx, "id.orig_p", id->orig_p);
	len = format_addr(id->family, id->resp_h, addr);
	v->bytes(ctx, "id.resp_h", (const uint8_t *)addr, len);
	v->u64(ctx, "id.resp_p", id->resp_p);
}

static void field_bytes(const struct field_visitor *v, void *ctx, const char *key, struct bytes b)
{
	v->bytes(ctx, key, b.ptr, b.len);
}

static void summary_fields(const struct conn_summary *c, const struct field_visitor *v, void *ctx)
{
	v->time(ctx, "duration", c->duration_ns);
	v->u64(ctx, "orig_bytes", c->orig_bytes);
	v->u64(ctx, "resp_bytes", c->resp_bytes);
	v->u64(ctx, "orig_segs", c->orig_segs);
	v->u64(ctx, "resp_segs", c->resp_segs);
	v->u64(ctx, "transactions", c->transactions);
	v->boolean(ctx, "tls", c->tls);
	v->u64(ctx, "gaps", c->gaps);
	v->u64(ctx, "missed_bytes", c->gap_bytes);
	v->u64(ctx, "anomalies", c->anomalies);
	v->cstr(ctx, "end", conn_end_name(c->end));
	v->boolean(ctx, "partial", c->partial);
}

static void opt_bytes(const struct field_visitor *v, void *ctx, const char *key, struct bytes b)
{
	if (b.ptr)
		v->bytes(ctx, key, b.ptr, b.len);
}

/* always: a vector with a default (path, fuids); else unset when empty */
static void opt_list(const struct field_visitor *v, void *ctx, const char *key,
		     const struct txn_list *l, bool always)
{
	if (l->n || always)
		v->list(ctx, key, l->item, l->n);
}

void transaction_fields(const struct event *ev, const struct field_visitor *v, void *ctx,
			bool zeek_only)
{
	const struct smtp_transaction *t = ev->transaction;

	v->u64(ctx, "trans_depth", t->trans_depth);
	opt_bytes(v, ctx, "helo", t->helo);
	opt_bytes(v, ctx, "mailfrom", t->mailfrom);
	opt_list(v, ctx, "rcptto", &t->rcptto, false);
	opt_bytes(v, ctx, "date", t->date);
	opt_bytes(v, ctx, "from", t->from);
	opt_list(v, ctx, "to", &t->to, false);
	opt_list(v, ctx, "cc", &t->cc, false);
	opt_bytes(v, ctx, "reply_to", t->reply_to);
	opt_bytes(v, ctx, "msg_id", t->msg_id);
	opt_bytes(v, ctx, "in_reply_to", t->in_reply_to);
	opt_bytes(v, ctx, "subject", t->subject);
	opt_bytes(v, ctx, "x_originating_ip", t->x_originating_ip);
	opt_bytes(v, ctx, "first_received", t->first_received);
	opt_bytes(v, ctx, "second_received", t->second_received);
	opt_bytes(v, ctx, "last_reply", t->last_reply);
	opt_list(v, ctx, "path", &t->path, true);
	opt_bytes(v, ctx, "user_agent", t->user_agent);
	v->boolean(ctx, "tls", t->tls);
	opt_list(v, ctx, "fuids", &t->fuids, true);
	if (zeek_only)
		return;
	opt_bytes(v, ctx, "subject_decoded", t->subject_decoded);
	v->rcpts(ctx, "rcpt_status", t->rcpt_status, t->nrcpt_status);
	opt_bytes(v, ctx, "queue_id", t->queue_id);
	v->cstr(ctx, "outcome",
		(unsigned)t->outcome < TXN_OUTCOME_MAX ? txn_outcome_names[t->outcome] : "unknown");
	if (t->outcome_code)
		v->u64(ctx, "outcome_code", t->outcome_code);
	if (t->body_counted)
		v->u64(ctx, "body_bytes", t->body_bytes);
	if (ev->id->community_id[0])
		v->cstr(ctx, "community_id", ev->id->community_id);
}

static void hex_field(const struct field_visitor *v, void *ctx, const char *key, const uint8_t *d,
		      size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char hex[2 * 32 + 1];

	if (!d || n > 32)
		return;
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
	v->cstr(ctx, key, hex);
}

/* Zeek's files.log fields (source is always SMTP here), unset strings left
 * out; ours: trans_depth, declared_type, and content_seen only when false
 * (--bodies skip), when sizes and digests are unknown and left out too. */
static void file_fields(const struct file_info *f, bool is_orig, const struct field_visitor *v,
			void *ctx)
{
	v->cstr(ctx, "fuid", f->fuid);
	v->cstr(ctx, "source", "SMTP");
	v->u64(ctx, "depth", f->depth);
	v->u64(ctx, "trans_depth", f->trans_depth);
	if (f->mime_type.ptr)
		field_bytes(v, ctx, "mime_type", f->mime_type);
	if (f->declared_type.ptr)
		field_bytes(v, ctx, "declared_type", f->declared_type);
	if (f->filename.ptr)
		field_bytes(v, ctx, "filename", f->filename);
	v->time(ctx, "duration", f->duration_ns);
	v->boolean(ctx, "is_orig", is_orig);
	if (f->content_seen) {
		v->u64(ctx, "seen_bytes", f->seen_bytes);
		v->u64(ctx, "missing_bytes", f->missing_bytes);
		v->boolean(ctx, "timedout", f->timedout);
	} else {
		v->boolean(ctx, "content_seen", false);
	}
	/* the whole message's file, seen or not */
	if (f->parent_fuid[0])
		v->cstr(ctx, "parent_fuid", f->parent_fuid);
	if (!f->content_seen)
		return;
	hex_field(v, ctx, "md5", f->md5, 16);
	hex_field(v, ctx, "sha1", f->sha1, 20);
	hex_field(v, ctx, "sha256", f->sha256, 32);
}

void event_fields(const struct event *ev, const struct field_visitor *v, void *ctx)
{
	v->time(ctx, "ts", ev->ts_ns);
	if (v->conn_id)
		v->conn_id(ctx, ev->id);
	else
		conn_id_fields(ev->id, v, ctx);
	v->cstr(ctx, "event", event_name(ev->type));
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		v->boolean(ctx, "is_orig", ev->is_orig);
		field_bytes(v, ctx, "command", ev->request.command);
		field_bytes(v, ctx, "arg", ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		v->boolean(ctx, "is_orig", ev->is_orig);
		v->u64(ctx, "code", ev->reply.code);
		field_bytes(v, ctx, "cmd", ev->reply.cmd);
		field_bytes(v, ctx, "msg", ev->reply.msg);
		v->boolean(ctx, "cont_resp", ev->reply.cont_resp);
		break;
	case EV_SMTP_DATA:
		v->boolean(ctx, "is_orig", ev->is_orig);
		field_bytes(v, ctx, "data", ev->data.data);
		break;
	case EV_SMTP_UNEXPECTED:
		v->boolean(ctx, "is_orig", ev->is_orig);
		field_bytes(v, ctx, "msg", ev->unexpected.msg);
		field_bytes(v, ctx, "detail", ev->unexpected.detail);
		break;
	case EV_CONTENT_GAP:
		v->boolean(ctx, "is_orig", ev->is_orig);
		v->u64(ctx, "seq", ev->gap.seq);
		v->u64(ctx, "length", ev->gap.length);
		break;
	case EV_WEIRD:
		v->cstr(ctx, "name", ev->weird.name ? ev->weird.name : "");
		if (ev->weird.addl.len)
			field_bytes(v, ctx, "addl", ev->weird.addl);
		break;
	case EV_SMTP_CONNECTION:
		summary_fields(&ev->conn, v, ctx);
		if (ev->id->community_id[0])
			v->cstr(ctx, "community_id", ev->id->community_id);
		break;
	case EV_SMTP_TRANSACTION:
		transaction_fields(ev, v, ctx, false);
		break;
	case EV_FILE:
		file_fields(&ev->file, ev->is_orig, v, ctx);
		break;
	case EV_SMTP_STARTTLS:
	case EV_TYPE_MAX:
		break;
	}
	/* Our own field: only where it is true, so that the events outside TLS
	 * keep Zeek's field set (smtp_connection has its own "tls"). */
	if (ev->in_tls && ev->type != EV_SMTP_CONNECTION && ev->type != EV_SMTP_TRANSACTION)
		v->boolean(ctx, "tls", true);
}

static void report_write_error(bool *reported)
{
	if (*reported)
		return;
	*reported = true;
	fprintf(stderr, "smtpmon: writing events: %s\n", strerror(errno));
}

/* EPIPE on stdout is not an error to report: its reader is gone, and the
 * caller stops (stream_sink_stdout_closed). A FIFO given as a file path is
 * not stdout: its EPIPE is an ordinary write error. */
static void write_failed(struct stream_sink *ss)
{
	if (errno == EPIPE && ss->out == stdout)
		ss->stdout_closed = true;
	else
		report_write_error(&ss->write_failed);
}

/* A regular file: the lines waiting in ss->pending go out with write(2).
 * What a failed or short write leaves of a line is cut off again, so the
 * file only ever holds whole lines, and the events that did not make it are
 * counted as lost. The next call tries again: a disk with room again takes
 * the next events. */
static void file_write(struct stream_sink *ss)
{
	const char *buf = ss->pending.buf;
	size_t len = ss->pending.len, done = 0, kept;
	off_t start = lseek(ss->fd, 0, SEEK_END); /* where O_APPEND puts them */
	uint64_t lines = 0;

	while (done < len) {
		ssize_t n = write(ss->fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			break;
		}
		done += (size_t)n;
	}
	if (done < len) {
		int err = errno;

		for (kept = done; kept > 0 && buf[kept - 1] != '\n'; kept--)
			;
		if (kept < done && start >= 0 && ftruncate(ss->fd, start + (off_t)kept))
			fprintf(stderr, "smtpmon: %s output: cutting a partial line: %s\n",
				ss->name, strerror(errno));
		for (size_t i = 0; i < kept; i++)
			lines += buf[i] == '\n';
		ss->lost_events += ss->pending_events - lines;
		ss->lost_bytes += len - kept;
		errno = err;
		report_write_error(&ss->write_failed);
	}
	ss->pending.len = 0;
	ss->pending_events = 0;
}

static void stream_emit(struct sink *sink, const struct event *ev)
{
	struct stream_sink *ss = (struct stream_sink *)sink;

	if (ss->stdout_closed)
		return;
	ss->w.len = 0;
	ss->format(ss, ev);
	if (ss->fd >= 0) {
		jsonw_raw(&ss->pending, ss->w.buf, ss->w.len);
		ss->pending_events++;
		if (ss->pending.len >= STREAM_FILE_CHUNK)
			file_write(ss);
		return;
	}
	if (fwrite(ss->w.buf, 1, ss->w.len, ss->out) != ss->w.len)
		write_failed(ss);
}

static void stream_flush(struct sink *sink)
{
	struct stream_sink *ss = (struct stream_sink *)sink;

	if (ss->fd >= 0) {
		if (ss->pending.len)
			file_write(ss);
		return;
	}
	if (!ss->stdout_closed && fflush(ss->out))
		write_failed(ss);
}

static void stream_losses(const struct sink *sink, uint64_t *events, uint64_t *bytes)
{
	const struct stream_sink *ss = (const struct stream_sink *)sink;

	*events = ss->lost_events;
	*bytes = ss->lost_bytes;
}

bool stream_sink_stdout_closed(const struct sink *sink)
{
	return ((const struct stream_sink *)sink)->stdout_closed;
}

static void stream_destroy(struct sink *sink)
{
	struct stream_sink *ss = (struct stream_sink *)sink;

	stream_flush(sink);
	if (ss->lost_events)
		fprintf(stderr,
			"smtpmon: %s output: %" PRIu64 " events (%" PRIu64
			" bytes) not written, cut off at a line's start\n",
			ss->name, ss->lost_events, ss->lost_bytes);
	jsonw_free(&ss->w);
	jsonw_free(&ss->pending);
	free(ss);
}

struct sink *stream_sink_new(size_t size, const char *name, FILE *out,
			     void (*format)(struct stream_sink *ss, const struct event *ev))
{
	struct stream_sink *ss = calloc(1, size);

	if (!ss) {
		fprintf(stderr, "smtpmon: %s sink: %s\n", name, strerror(errno));
		return NULL;
	}
	struct stat st;

	ss->sink.emit = stream_emit;
	ss->sink.flush = stream_flush;
	ss->sink.destroy = stream_destroy;
	ss->sink.losses = stream_losses;
	ss->out = out;
	ss->name = name;
	ss->format = format;
	ss->fd = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode) ? fileno(out) : -1;
	jsonw_init(&ss->w);
	jsonw_init(&ss->pending);
	return &ss->sink;
}
