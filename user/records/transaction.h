// SPDX-License-Identifier: GPL-2.0-only
/*
 * transaction.h - the per-transaction record (smtp_transaction): Zeek's
 * smtp.log record, built from the events of one connection, plus our own
 * fields.
 *
 * Life cycle, as Zeek's base/protocols/smtp/main.zeek (reference: Zeek
 * 9.1.0-dev): a record is created at the connection's first smtp_request or
 * smtp_reply (ts = that time, trans_depth = 1 + messages finished so far,
 * helo = the connection's latest HELO/EHLO argument, path = [resp, orig]).
 * It becomes worth writing with "client activity": a MAIL whose argument
 * starts with FROM:, a RCPT whose argument starts with TO: (case-insensitive)
 * or an accepted STARTTLS. It is written (if worth it) and replaced by a
 * fresh one:
 *   - on every smtp_reply line to "." (each one also counts a finished
 *     message, so a two-line reply advances trans_depth by two);
 *   - on the final reply to BDAT once a BDAT whose argument ends in " LAST"
 *     (upper case, as Zeek's script) was seen (a finished message too);
 *   - on a MAIL FROM: (the previous transaction was not finished; not
 *     counted);
 *   - when the connection ends (txn_finish).
 * Where smtpmon differs from Zeek's smtp.log: docs/zeek-differences.md.
 *
 * Our own fields:
 *   rcpt_status  every RCPT TO: in order (refused ones included): the address
 *                (Zeek's extraction; the raw argument when it has none), the
 *                code and text of its final reply line (code 0: no reply seen)
 *   queue_id     the MTA's id from the reply that accepted the message
 *                (queue_id.h); unset when unknown
 *   outcome      accepted (2xx to "." or BDAT LAST), rejected (4xx/5xx to
 *                "."/BDAT LAST, DATA, BDAT or MAIL; outcome_code says which),
 *                or aborted before the end of the message: aborted_rset,
 *                aborted_quit, aborted_gap (TCP data lost), aborted_tls
 *                (STARTTLS restarts the session), aborted_mail (a new MAIL
 *                FROM: came first), aborted_end (the connection ended)
 *   subject_decoded  the subject with its RFC 2047 encoded words decoded to
 *                UTF-8 (mime/encoded_words.h; any charset iconv knows); set
 *                whenever subject is
 *   body_bytes   bytes of the message as the client sent it after DATA /
 *                in its BDAT chunks (dot-unstuffed lines, CR LF counted)
 *   community_id the connection's Community ID v1
 *
 * Memory: strings are cut at TXN_STR_MAX bytes and lists at TXN_LIST_MAX
 * entries (Zeek's log writer limits, so the written smtp.log is what Zeek
 * would write); a record costs at most a few hundred KB, whatever the client
 * sends.
 */
#ifndef SMTPMON_TRANSACTION_H
#define SMTPMON_TRANSACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "output/event.h"

#define TXN_STR_MAX  4096 /* Zeek's Log::max_field_string_bytes */
#define TXN_LIST_MAX 100  /* Zeek's Log::max_field_container_elements */

enum txn_outcome {
	TXN_ACCEPTED = 0,
	TXN_REJECTED,
	TXN_ABORTED_RSET,
	TXN_ABORTED_QUIT,
	TXN_ABORTED_GAP,
	TXN_ABORTED_TLS,
	TXN_ABORTED_MAIL,
	TXN_ABORTED_END,
	TXN_OUTCOME_MAX,
};

extern const char *const txn_outcome_names[TXN_OUTCOME_MAX];

struct txn_rcpt {
	struct bytes addr;
	uint16_t code; /* 0: no reply seen */
	struct bytes text;
};

/* Lists grow as items come, up to TXN_LIST_MAX: a session that has only
 * said hello costs no room for a hundred of each. */
struct txn_list {
	struct bytes *item; /* n of them, room for cap */
	uint32_t n, cap;
};

/* Strings: ptr NULL = unset (Zeek's "-"). */
struct smtp_transaction {
	uint64_t ts_ns;
	uint32_t trans_depth;
	struct bytes helo, mailfrom;
	struct txn_list rcptto; /* a set: no duplicates, in order of arrival */
	struct bytes date, from;
	struct txn_list to, cc;
	struct bytes reply_to, msg_id, in_reply_to, subject, x_originating_ip;
	struct bytes first_received, second_received, last_reply;
	struct txn_list path; /* addresses as text, Zeek's form */
	struct bytes user_agent;
	bool tls;
	struct txn_list fuids;
	/* ours */
	struct txn_rcpt *rcpt_status; /* nrcpt_status of them, room for rcpt_cap */
	uint32_t nrcpt_status, rcpt_cap;
	struct bytes subject_decoded;
	struct bytes queue_id;
	const char *queue_id_mta; /* the format that matched, NULL when unset */
	enum txn_outcome outcome;
	uint16_t outcome_code; /* rejected: the reply code; else 0 */
	uint64_t body_bytes;
	bool body_counted; /* body_bytes is known (txn_body_bytes was called) */
};

struct txn_builder;

/* ev: type EV_SMTP_TRANSACTION, ts_ns = the record's ts, transaction set;
 * the callback adds the connection identity. */
typedef void (*txn_emit_fn)(void *ctx, struct event *ev);

/* resp and orig: the connection's addresses (path's first two entries). */
struct txn_builder *txn_builder_new(const struct conn_id *id, txn_emit_fn emit, void *ctx);
void txn_builder_free(struct txn_builder *b);
/* Every event of the connection, in order, ts_ns set: smtp_request,
 * smtp_reply, smtp_starttls, content_gap and file drive the record; others
 * are ignored. */
void txn_observe(struct txn_builder *b, const struct event *ev);
/* A header of the message's top-level entity, unfolded (folding line breaks
 * removed, the continuation's white space kept), value without the white
 * space after the colon. */
void txn_header(struct txn_builder *b, struct bytes name, struct bytes value);
/* A message begins (DATA, BDAT; the content hook's BEGIN). Headers count
 * only for the first message of a record, as Zeek's "top-level entity" rule
 * (a second message in one record, e.g. DATA after a BDAT cut by a gap, is a
 * second entity). */
void txn_message_begin(struct txn_builder *b);
/* len bytes of the message body went by (body_bytes). */
void txn_body_bytes(struct txn_builder *b, uint64_t len);
/* The connection ends: the open record is written if worth it. */
void txn_finish(struct txn_builder *b);

/* Zeek's address extraction (reference b.2): the first address in s;
 * false when none. Exposed for the unit tests. */
bool txn_first_addr(struct bytes s, size_t *from, struct bytes *addr);

#endif
