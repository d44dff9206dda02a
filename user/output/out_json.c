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
 *   smtp_connection  duration (s, 6 decimals), orig_bytes, resp_bytes, orig_segs,
 *                    resp_segs, transactions, tls, gaps, missed_bytes,
 *                    anomalies, end, partial, community_id; its ts is the
 *                    connection's start (as Zeek's conn.log)
 *   smtp_transaction Zeek's smtp.log fields (trans_depth ... fuids; sets and
 *                    vectors as arrays, unset ones left out), then
 *                    subject_decoded, rcpt_status [{addr, code, text}], queue_id, outcome,
 *                    outcome_code, body_bytes, community_id
 *                    (records/transaction.h); its ts is the record's
 *                    creation, as Zeek's smtp.log
 *
 * The fields and their order come from event_fields (out_common.c), shared
 * with the journal sink. Every event is built in one reused buffer and
 * written with one fwrite (a stream_sink); the caller decides when to flush
 * (per batch in live mode, at the end offline).
 */
#include <stddef.h>
#include <string.h>

#include "output/jsonw.h"
#include "output/out_common.h"
#include "output/output.h"
#include "records/transaction.h"

/* The uid and address part of the last connection, already rendered:
 * events of one connection usually come in runs. */
#define ID_CACHE_MAX 256

struct json_sink {
	struct stream_sink stream;
	struct conn_id cached_id;
	size_t cached_len; /* 0: nothing cached */
	char cached_json[ID_CACHE_MAX];
};

/* The visitor's context is the writer (struct jsonw); the JSON sink's
 * writer is its stream.w, which is how json_conn_id finds the sink. */
static void json_bytes(void *ctx, const char *key, const uint8_t *s, size_t len)
{
	jsonw_key_str(ctx, key, s, len);
}

static void json_cstr(void *ctx, const char *key, const char *s)
{
	jsonw_key_cstr(ctx, key, s);
}

static void json_u64(void *ctx, const char *key, uint64_t v)
{
	jsonw_key_u64(ctx, key, v);
}

static void json_bool(void *ctx, const char *key, bool v)
{
	jsonw_key_bool(ctx, key, v);
}

static void json_time(void *ctx, const char *key, uint64_t ns)
{
	jsonw_key_time(ctx, key, ns);
}

static void json_list(void *ctx, const char *key, const struct bytes *items, size_t n)
{
	struct jsonw *w = ctx;

	jsonw_key_array_begin(w, key);
	for (size_t i = 0; i < n; i++)
		jsonw_str(w, items[i].ptr, items[i].len);
	jsonw_array_end(w);
}

/* [{"addr":"a@b","code":250,"text":"2.1.5 Ok"}, ...]; code and text left
 * out when no reply was seen */
static void json_rcpts(void *ctx, const char *key, const struct txn_rcpt *r, size_t n)
{
	struct jsonw *w = ctx;

	jsonw_key_array_begin(w, key);
	for (size_t i = 0; i < n; i++) {
		jsonw_object_begin(w);
		jsonw_key_str(w, "addr", r[i].addr.ptr, r[i].addr.len);
		if (r[i].code) {
			jsonw_key_u64(w, "code", r[i].code);
			jsonw_key_str(w, "text", r[i].text.ptr, r[i].text.len);
		}
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

const struct field_visitor jsonw_fields = {
    .bytes = json_bytes,
    .cstr = json_cstr,
    .u64 = json_u64,
    .boolean = json_bool,
    .time = json_time,
    .list = json_list,
    .rcpts = json_rcpts,
};

static void json_conn_id(void *ctx, const struct conn_id *id);

static const struct field_visitor json_fields = {
    .bytes = json_bytes,
    .cstr = json_cstr,
    .u64 = json_u64,
    .boolean = json_bool,
    .time = json_time,
    .list = json_list,
    .rcpts = json_rcpts,
    .conn_id = json_conn_id,
};

static void json_conn_id(void *ctx, const struct conn_id *id)
{
	struct jsonw *w = ctx;
	struct json_sink *js =
	    (struct json_sink *)((char *)w - offsetof(struct json_sink, stream.w));
	size_t start = w->len;

	if (js->cached_len && !memcmp(&js->cached_id, id, sizeof(*id))) {
		jsonw_raw(w, js->cached_json, js->cached_len);
		return;
	}
	conn_id_fields(id, &json_fields, w);
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
	event_fields(ev, &json_fields, &ss->w);
	jsonw_end(&ss->w);
}

struct sink *sink_json_new(FILE *out)
{
	return stream_sink_new(sizeof(struct json_sink), "json", out, json_format);
}
