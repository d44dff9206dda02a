/*
 * out_json.c - the JSON-lines sink: one object per event, Zeek's field names.
 *
 *   {"ts":1732640000.123456,"uid":"C...","id.orig_h":"10.0.0.1","id.orig_p":40512,
 *    "id.resp_h":"10.0.0.2","id.resp_p":25,"event":"smtp_request",<fields>}
 *
 * Fields after "event":
 *   smtp_request     is_orig, command, arg
 *   smtp_reply       is_orig, code, cmd, msg, cont_resp
 *   smtp_data        is_orig, data
 *   smtp_starttls    -
 *   smtp_unexpected  is_orig, msg, detail
 *   content_gap      is_orig, seq, length
 *   weird            name, addl (only when not empty)
 *   smtp_connection  duration (s, 6 decimals), orig_bytes, resp_bytes, orig_pkts,
 *                    resp_pkts, transactions, tls, gaps, missed_bytes,
 *                    anomalies, end, partial
 *
 * Every event is built in one reused buffer and written with one fwrite; the
 * caller decides when to flush (per batch in live mode, at the end offline).
 * A failing write is reported once on stderr, then counted silently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "out_common.h"
#include "output.h"

/* The uid and address part of the last connection, already rendered:
 * events of one connection usually come in runs. */
#define ID_CACHE_MAX 256

struct json_sink {
	struct sink sink;
	FILE *out;
	struct jsonw w;
	bool write_failed;
	struct conn_id cached_id;
	size_t cached_len; /* 0: nothing cached */
	char cached_json[ID_CACHE_MAX];
};

static void key_bytes(struct jsonw *w, const char *key, struct bytes b)
{
	jsonw_key_str(w, key, b.ptr, b.len);
}

static void put_conn_id(struct json_sink *js, const struct conn_id *id)
{
	char orig[INET6_ADDRSTRLEN], resp[INET6_ADDRSTRLEN];
	struct jsonw *w = &js->w;
	size_t start = w->len, olen, rlen;

	if (js->cached_len && !memcmp(&js->cached_id, id, sizeof(*id))) {
		jsonw_raw(w, js->cached_json, js->cached_len);
		return;
	}
	olen = format_addr(id->family, id->orig_h, orig);
	rlen = format_addr(id->family, id->resp_h, resp);
	jsonw_key_str(w, "uid", (const uint8_t *)id->uid, strnlen(id->uid, sizeof(id->uid)));
	jsonw_key_str(w, "id.orig_h", (const uint8_t *)orig, olen);
	jsonw_key_u64(w, "id.orig_p", id->orig_p);
	jsonw_key_str(w, "id.resp_h", (const uint8_t *)resp, rlen);
	jsonw_key_u64(w, "id.resp_p", id->resp_p);
	js->cached_len = 0;
	if (w->len - start <= ID_CACHE_MAX) {
		memcpy(&js->cached_id, id, sizeof(*id)); /* padding too, for memcmp */
		js->cached_len = w->len - start;
		memcpy(js->cached_json, w->buf + start, js->cached_len);
	}
}

static void put_summary(struct jsonw *w, const struct conn_summary *c)
{
	jsonw_key_time(w, "duration", c->duration_ns);
	jsonw_key_u64(w, "orig_bytes", c->orig_bytes);
	jsonw_key_u64(w, "resp_bytes", c->resp_bytes);
	jsonw_key_u64(w, "orig_pkts", c->orig_segs);
	jsonw_key_u64(w, "resp_pkts", c->resp_segs);
	jsonw_key_u64(w, "transactions", c->transactions);
	jsonw_key_bool(w, "tls", c->tls);
	jsonw_key_u64(w, "gaps", c->gaps);
	jsonw_key_u64(w, "missed_bytes", c->gap_bytes);
	jsonw_key_u64(w, "anomalies", c->anomalies);
	jsonw_key_cstr(w, "end", conn_end_name(c->end));
	jsonw_key_bool(w, "partial", c->partial);
}

static void put_fields(struct jsonw *w, const struct event *ev)
{
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		jsonw_key_bool(w, "is_orig", ev->is_orig);
		key_bytes(w, "command", ev->request.command);
		key_bytes(w, "arg", ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		jsonw_key_bool(w, "is_orig", ev->is_orig);
		jsonw_key_u64(w, "code", ev->reply.code);
		key_bytes(w, "cmd", ev->reply.cmd);
		key_bytes(w, "msg", ev->reply.msg);
		jsonw_key_bool(w, "cont_resp", ev->reply.cont_resp);
		break;
	case EV_SMTP_DATA:
		jsonw_key_bool(w, "is_orig", ev->is_orig);
		key_bytes(w, "data", ev->data.data);
		break;
	case EV_SMTP_UNEXPECTED:
		jsonw_key_bool(w, "is_orig", ev->is_orig);
		key_bytes(w, "msg", ev->unexpected.msg);
		key_bytes(w, "detail", ev->unexpected.detail);
		break;
	case EV_CONTENT_GAP:
		jsonw_key_bool(w, "is_orig", ev->is_orig);
		jsonw_key_u64(w, "seq", ev->gap.seq);
		jsonw_key_u64(w, "length", ev->gap.length);
		break;
	case EV_WEIRD:
		jsonw_key_cstr(w, "name", ev->weird.name ? ev->weird.name : "");
		if (ev->weird.addl.len)
			key_bytes(w, "addl", ev->weird.addl);
		break;
	case EV_SMTP_CONNECTION:
		put_summary(w, &ev->conn);
		break;
	case EV_SMTP_STARTTLS:
	case EV_TYPE_MAX:
		break;
	}
}

static void json_emit(struct sink *sink, const struct event *ev)
{
	struct json_sink *js = (struct json_sink *)sink;
	struct jsonw *w = &js->w;

	w->len = 0;
	jsonw_begin(w);
	jsonw_key_time(w, "ts", ev->ts_ns);
	put_conn_id(js, ev->id);
	jsonw_key_cstr(w, "event", event_name(ev->type));
	put_fields(w, ev);
	jsonw_end(w);
	if (fwrite(w->buf, 1, w->len, js->out) != w->len)
		report_write_error(&js->write_failed);
}

static void json_flush(struct sink *sink)
{
	struct json_sink *js = (struct json_sink *)sink;

	if (fflush(js->out))
		report_write_error(&js->write_failed);
}

static void json_destroy(struct sink *sink)
{
	struct json_sink *js = (struct json_sink *)sink;

	json_flush(sink);
	jsonw_free(&js->w);
	free(js);
}

struct sink *sink_json_new(FILE *out)
{
	struct json_sink *js = calloc(1, sizeof(*js));

	if (!js) {
		fprintf(stderr, "smtpmon: json sink: %s\n", strerror(errno));
		return NULL;
	}
	js->sink.emit = json_emit;
	js->sink.flush = json_flush;
	js->sink.destroy = json_destroy;
	js->out = out;
	jsonw_init(&js->w);
	return &js->sink;
}
