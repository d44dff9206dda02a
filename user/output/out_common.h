// SPDX-License-Identifier: GPL-2.0-only
/*
 * out_common.h - what the JSON, text and journal sinks share: the one list of
 * an event's fields (event_fields), names that are safe to print for any enum
 * value, address formatting, the text form of escaping, and the FILE-stream
 * sink that the JSON and text sinks are made of.
 */
#ifndef SMTPMON_OUT_COMMON_H
#define SMTPMON_OUT_COMMON_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "output/event.h"
#include "output/jsonw.h"

/* Zeek's name, or "unknown" for a value outside the enum. */
const char *event_name(enum event_type type);
const char *conn_end_name(enum conn_end end);
/* family 6 (struct segment's convention) or AF_INET6: IPv6 in the
 * compressed form Zeek prints; anything else: IPv4 from the first 4 bytes. */
/* Returns the length of the NUL-terminated text in out. */
size_t format_addr(uint8_t family, const uint8_t addr[16], char out[INET6_ADDRSTRLEN]);
bool family_is_ipv6(uint8_t family);
/* escape_bytes() for text: '"' as is, "\\" for a backslash, \xNN for control
 * bytes and invalid UTF-8, \uXXXX for the characters JSON escapes so.
 * Implemented in jsonw.c. */
void escape_bytes_text(struct jsonw *w, const uint8_t *s, size_t len);
/* Appends the text sink's line for ev, without the newline (out_text.c);
 * the journal sink's MESSAGE. */
void text_format_event(struct jsonw *w, const struct event *ev);

struct txn_rcpt;

/* One typed callback per kind of value; key is the JSON sink's field name
 * ("ts", "uid", "id.orig_h", "command", ...). */
struct field_visitor {
	void (*bytes)(void *ctx, const char *key, const uint8_t *s, size_t len);
	void (*cstr)(void *ctx, const char *key, const char *s);
	void (*u64)(void *ctx, const char *key, uint64_t v);
	void (*boolean)(void *ctx, const char *key, bool v);
	void (*time)(void *ctx, const char *key,
		     uint64_t ns); /* ns since the epoch, or a duration */
	/* A list (Zeek's set or vector); never called for an unset one. */
	void (*list)(void *ctx, const char *key, const struct bytes *items, size_t n);
	/* smtp_transaction's rcpt_status (records/transaction.h) */
	void (*rcpts)(void *ctx, const char *key, const struct txn_rcpt *r, size_t n);
	/* NULL: the identity comes as its five fields (conn_id_fields); a sink
	 * that caches the rendered identity handles it whole. */
	void (*conn_id)(void *ctx, const struct conn_id *id);
};

/* Writes each field as JSON into the struct jsonw given as ctx (the JSON
 * and Zeek sinks; conn_id NULL). */
extern const struct field_visitor jsonw_fields;

/* Every field of ev in output order: ts, the connection identity, event,
 * then the fields of its type (listed in out_json.c's header). */
void event_fields(const struct event *ev, const struct field_visitor *v, void *ctx);
/* smtp_transaction's fields after "event": Zeek's smtp.log fields from
 * trans_depth on (unset ones left out), then, unless zeek_only, ours
 * (subject_decoded, rcpt_status, queue_id, outcome, outcome_code, body_bytes,
 * community_id). */
void transaction_fields(const struct event *ev, const struct field_visitor *v, void *ctx,
			bool zeek_only);
/* uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p */
void conn_id_fields(const struct conn_id *id, const struct field_visitor *v, void *ctx);

/* A sink that renders each event into one reused buffer and writes it to a
 * FILE with one fwrite; the caller decides when to flush. A failing write
 * is reported once on stderr (a closed pipe gives one message, not one per
 * event), then ignored. The one exception: when the FILE is stdout and the
 * write fails with EPIPE (SIGPIPE ignored), its reader is gone: nothing is
 * printed, the sink writes nothing more, and stream_sink_stdout_closed()
 * says so, for the caller to stop (exit_status.h).
 * A regular file is written with write(2) instead, STREAM_FILE_CHUNK bytes
 * of whole lines at a time (and at each flush): after a failed or short
 * write (a full disk) the part of a line that went out is cut off again
 * (ftruncate), the events that did not make it are counted (sink losses),
 * and the next write starts on a fresh line. */
#define STREAM_FILE_CHUNK (64 * 1024)

struct stream_sink {
	struct sink sink;
	FILE *out;
	const char *name; /* "json", "text": for messages */
	struct jsonw w;
	bool write_failed;
	bool stdout_closed;
	int fd;		      /* a regular file: written here with write(2); else -1 */
	struct jsonw pending; /* its whole lines not written yet */
	uint64_t pending_events;
	uint64_t lost_events, lost_bytes;
	/* appends the event's line, newline included, to ss->w */
	void (*format)(struct stream_sink *ss, const struct event *ev);
};

/* Allocates size bytes (a struct that starts with struct stream_sink),
 * zeroed; name is the sink's name in the allocation error. */
struct sink *stream_sink_new(size_t size, const char *name, FILE *out,
			     void (*format)(struct stream_sink *ss, const struct event *ev));
/* sink must come from stream_sink_new(). */
bool stream_sink_stdout_closed(const struct sink *sink);

#endif
