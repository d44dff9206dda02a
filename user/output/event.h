// SPDX-License-Identifier: GPL-2.0-only
/*
 * event.h - the events smtpmon emits, and the sink interface that writes them.
 *
 * Events follow Zeek's SMTP events and parameters (Zeek's
 * src/analyzer/protocol/smtp/events.bif; where smtpmon differs:
 * docs/zeek-differences.md): smtp_request, smtp_reply, smtp_data,
 * smtp_starttls, smtp_unexpected; plus content_gap, weird (Zeek's weird
 * names) and a per-connection smtp_connection summary. String fields are raw bytes (struct bytes,
 * not NUL-terminated, may contain anything); sinks are responsible for escaping. An event and
 * everything it points to is valid only during emit().
 */
#ifndef SMTPMON_EVENT_H
#define SMTPMON_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bytes {
	const uint8_t *ptr;
	size_t len;
};

#define BYTES_LIT(s) ((struct bytes){(const uint8_t *)(s), sizeof(s) - 1})

enum event_type {
	EV_SMTP_REQUEST = 0,
	EV_SMTP_REPLY,
	EV_SMTP_DATA,
	EV_SMTP_STARTTLS,
	EV_SMTP_UNEXPECTED,
	EV_CONTENT_GAP,
	EV_SMTP_CONNECTION,
	EV_WEIRD,	     /* Zeek's weird: a protocol anomaly that is not an smtp_unexpected */
	EV_SMTP_TRANSACTION, /* one mail transaction: Zeek's smtp.log record, plus ours */
	EV_FILE,	     /* one MIME entity's content: Zeek's files.log record */
	EV_TYPE_MAX,
};

#define EV_MASK(t)  (1u << (t))
#define EV_MASK_ALL ((1u << EV_TYPE_MAX) - 1)

/* Zeek's event names, indexed by enum event_type. */
extern const char *const event_names[EV_TYPE_MAX];
/* "smtp_request,smtp_reply" -> mask; returns false on an unknown name. */
bool event_mask_parse(const char *list, unsigned *mask);

/* Identity of a connection, oriented as Zeek does: orig = the client. */
struct conn_id {
	char uid[20];	/* "C" + base62, NUL-terminated */
	uint8_t family; /* 4 or 6, as in struct segment */
	uint8_t orig_h[16];
	uint8_t resp_h[16];
	uint16_t orig_p;
	uint16_t resp_p;
	/* Community ID v1 of the connection ("1:..." base64, NUL-terminated;
	 * records/community_id.h), written on smtp_connection and
	 * smtp_transaction */
	char community_id[32];
};

enum conn_end {
	CONN_END_FIN = 0, /* both sides closed */
	CONN_END_RST,	  /* reset by either side */
	CONN_END_TIMEOUT, /* idle longer than the timeout */
	CONN_END_EVICTED, /* dropped to stay inside a memory or table limit */
	CONN_END_INPUT,	  /* end of input (pcap end, capture stopped) */
};

extern const char *const conn_end_names[]; /* "FIN", "RST", "timeout", "eviction", "end_of_input" */

struct conn_summary {
	uint64_t start_ns; /* also the event's ts (Zeek's conn.log ts) */
	uint64_t duration_ns;
	uint64_t orig_bytes, resp_bytes; /* payload bytes in sequence space */
	uint64_t orig_segs, resp_segs;
	uint64_t transactions; /* mails ended (reply to "." or BDAT LAST) */
	bool tls;	       /* STARTTLS accepted */
	uint64_t gaps, gap_bytes;
	uint64_t anomalies; /* smtp_unexpected events plus reassembly anomalies */
	enum conn_end end;
	bool partial; /* the handshake was not seen */
};

/* A MIME entity that yielded content (Zeek's files.log record, fields with
 * Zeek's names and meaning; zeek-smtp reference c.3). Set by the MIME stage
 * (user/mime/) when the entity ends; ev->ts_ns is the time its first byte was
 * seen. Strings: ptr NULL = unset. */
#define FILE_ID_SIZE 24
struct file_info {
	char fuid[FILE_ID_SIZE];	/* "F" + base62, NUL-terminated */
	char parent_fuid[FILE_ID_SIZE]; /* "" = none */
	uint64_t duration_ns;		/* first to last byte */
	uint32_t depth;			/* Zeek: MIME entities begun on the connection so far */
	uint32_t trans_depth;		/* ours: the transaction (smtp_transaction.trans_depth) */
	struct bytes mime_type;		/* sniffed from the content; unset when unknown */
	struct bytes declared_type;	/* ours: Content-Type as the entity declared it */
	struct bytes filename;		/* RFC 2231/2047 decoded, UTF-8 */
	uint64_t seen_bytes;		/* decoded bytes */
	uint64_t missing_bytes;		/* bytes lost to gaps */
	bool content_seen; /* false: body not copied (--bodies skip): sizes and hashes unknown */
	bool timedout;
	bool whole_message; /* ours: the file of the whole message (--message-files) */
	const uint8_t *md5, *sha1,
	    *sha256; /* digests of the decoded content; NULL = not computed */
};

/* smtp_transaction's record is defined by its producer
 * (records/transaction.h). */
struct smtp_transaction;

struct event {
	enum event_type type;
	uint64_t ts_ns;
	const struct conn_id *id;
	bool is_orig;
	bool in_tls; /* a line from inside TLS (the TLS library's plaintext) */
	union {
		struct {
			struct bytes command, arg;
		} request;
		struct {
			uint16_t code;
			struct bytes cmd, msg;
			bool cont_resp;
		} reply;
		struct {
			struct bytes data;
		} data;
		struct {
			struct bytes msg, detail;
		} unexpected;
		struct {
			uint64_t seq, length;
		} gap;
		struct {
			const char *name; /* Zeek's weird name, e.g. "smtp_invalid_bdat_command" */
			struct bytes addl;
		} weird;
		struct conn_summary conn;
		const struct smtp_transaction *transaction;
		struct file_info file;
	};
};

/* An output. emit() must not keep pointers into the event. losses, NULL
 * for a sink that never drops anything, says how many events (and bytes of
 * them) it could not deliver so far. */
struct sink {
	void (*emit)(struct sink *sink, const struct event *ev);
	void (*flush)(struct sink *sink);
	void (*destroy)(struct sink *sink);
	void (*losses)(const struct sink *sink, uint64_t *events, uint64_t *bytes);
};

#endif
