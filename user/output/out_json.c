// SPDX-License-Identifier: GPL-2.0-only
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
 * The fields and their order come from event_fields (out_common.c), shared
 * with the journal sink. Every event is built in one reused buffer and
 * written with one fwrite (a stream_sink); the caller decides when to flush
 * (per batch in live mode, at the end offline).
 */
#include <string.h>

#include "output/jsonw.h"
#include "output/out_common.h"
#include "output/output.h"

/* The uid and address part of the last connection, already rendered:
 * events of one connection usually come in runs. */
#define ID_CACHE_MAX 256

struct json_sink {
	struct stream_sink stream;
	struct conn_id cached_id;
	size_t cached_len; /* 0: nothing cached */
	char cached_json[ID_CACHE_MAX];
};

/* The visitor's context is the json_sink; its writer is stream.w. */
static void json_bytes(void *ctx, const char *key, const uint8_t *s, size_t len)
{
	jsonw_key_str(&((struct json_sink *)ctx)->stream.w, key, s, len);
}

static void json_cstr(void *ctx, const char *key, const char *s)
{
	jsonw_key_cstr(&((struct json_sink *)ctx)->stream.w, key, s);
}

static void json_u64(void *ctx, const char *key, uint64_t v)
{
	jsonw_key_u64(&((struct json_sink *)ctx)->stream.w, key, v);
}

static void json_bool(void *ctx, const char *key, bool v)
{
	jsonw_key_bool(&((struct json_sink *)ctx)->stream.w, key, v);
}

static void json_time(void *ctx, const char *key, uint64_t ns)
{
	jsonw_key_time(&((struct json_sink *)ctx)->stream.w, key, ns);
}

static void json_conn_id(void *ctx, const struct conn_id *id);

static const struct field_visitor json_fields = {
    .bytes = json_bytes,
    .cstr = json_cstr,
    .u64 = json_u64,
    .boolean = json_bool,
    .time = json_time,
    .conn_id = json_conn_id,
};

static void json_conn_id(void *ctx, const struct conn_id *id)
{
	struct json_sink *js = ctx;
	struct jsonw *w = &js->stream.w;
	size_t start = w->len;

	if (js->cached_len && !memcmp(&js->cached_id, id, sizeof(*id))) {
		jsonw_raw(w, js->cached_json, js->cached_len);
		return;
	}
	conn_id_fields(id, &json_fields, js);
	js->cached_len = 0;
	if (w->len - start <= ID_CACHE_MAX) {
		memcpy(&js->cached_id, id, sizeof(*id)); /* padding too, for memcmp */
		js->cached_len = w->len - start;
		memcpy(js->cached_json, w->buf + start, js->cached_len);
	}
}

static void json_format(struct stream_sink *ss, const struct event *ev)
{
	jsonw_begin(&ss->w);
	event_fields(ev, &json_fields, ss);
	jsonw_end(&ss->w);
}

struct sink *sink_json_new(FILE *out)
{
	return stream_sink_new(sizeof(struct json_sink), "json", out, json_format);
}
