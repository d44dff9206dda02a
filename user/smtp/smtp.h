// SPDX-License-Identifier: GPL-2.0-only
/*
 * smtp.h - SMTP state machine: reassembled bytes in, Zeek's SMTP events out.
 *
 * One struct smtp per connection. The caller feeds each direction's in-order
 * byte stream (smtp_deliver), reports holes (smtp_gap) and the end of a
 * direction or of the connection. Events go to the emit callback with type
 * and fields filled; the caller adds ts and connection identity. The parser
 * follows Zeek's SMTP analyzer (src/analyzer/protocol/smtp/ of Zeek 9.1.0-dev);
 * deliberate differences are listed in docs/zeek-differences.md. Memory per
 * session is bounded by cfg->max_line per direction plus a bounded command
 * queue.
 */
#ifndef SMTPMON_SMTP_H
#define SMTPMON_SMTP_H

#include "settings/config.h"
#include "output/event.h"

struct smtp;

/* ev->ts_ns and ev->id are left for the callback to fill. */
typedef void (*smtp_emit_fn)(void *ctx, struct event *ev);

struct smtp_stats {
	uint64_t
	    transactions;   /* mails whose end was seen: the "." line or a completed LAST chunk */
	uint64_t anomalies; /* smtp_unexpected and weird events raised */
	bool tls;	    /* STARTTLS / X-ANONYMOUSTLS accepted */
	uint64_t skipped_bytes;	 /* message body bytes the source did not copy */
	uint64_t skip_fallbacks; /* skipped bytes that hid the end of a body: taken as a gap */
};

/* What smtpmonctl sessions shows of a session: the client's own words, raw
 * (escaped by whoever prints them) and cut to SMTP_VIEW_VALUE_MAX bytes, so
 * a session's view costs a few hundred bytes whatever the client sends (and
 * only its HELO before the first MAIL or RCPT: idle sessions stay small). */
#define SMTP_VIEW_VALUE_MAX 64
#define SMTP_VIEW_RCPTS	    3

struct smtp_value {
	uint8_t len;
	uint8_t bytes[SMTP_VIEW_VALUE_MAX];
};

/* MAIL's and RCPT's arguments are kept without their "FROM:" / "TO:" (the
 * path and its parameters); each recipient has the code of its reply. */
struct smtp_view {
	struct smtp_value helo;			  /* argument of the last HELO/EHLO */
	struct smtp_value mail_from;		  /* argument of the transaction's MAIL */
	struct smtp_value rcpts[SMTP_VIEW_RCPTS]; /* its first recipients */
	uint16_t rcpt_code[SMTP_VIEW_RCPTS];	  /* their replies' codes; 0: none yet */
	uint32_t nrcpts;			  /* RCPT commands since MAIL */
	uint32_t rcpts_replied;			  /* of those, replied to (in order) */
	uint32_t rcpts_accepted;		  /* of those, with a 2xx reply */
};

/* partial: the connection's start was not seen; the parser then waits for a
 * server reply before it trusts client lines (see docs/zeek-differences.md). */
struct smtp *smtp_new(const struct config *cfg, bool partial, smtp_emit_fn emit, void *ctx);
void smtp_free(struct smtp *s);

/* In-order bytes of one direction (is_orig: from the TCP originator). */
void smtp_deliver(struct smtp *s, bool is_orig, const uint8_t *data, size_t len);
/* len bytes of the direction are missing, starting at stream offset seq. */
void smtp_gap(struct smtp *s, bool is_orig, uint64_t seq, uint64_t len);
/* The direction closed (FIN): an unterminated last line is delivered. */
void smtp_end_of_direction(struct smtp *s, bool is_orig);
/* The connection ends: open mail closed, pending state flushed. */
void smtp_finish(struct smtp *s);

/* Body skipping (--bodies=skip, docs/body-skip.md): what the sending side
 * (is_orig) may stop copying from the current position on. */
enum smtp_skip {
	SMTP_SKIP_NONE = 0,
	SMTP_SKIP_BODY,	 /* a DATA body past its header block, up to its end marker */
	SMTP_SKIP_CHUNK, /* the *len remaining bytes of a BDAT chunk */
};
enum smtp_skip smtp_skippable(const struct smtp *s, bool is_orig, uint64_t *len);
/* len bytes at stream offset off passed uncopied, as smtp_skippable allowed:
 * BDAT chunk bytes are counted off the chunk; DATA body bytes break the
 * current line (the next copied bytes are resynchronised at a line end). A
 * server reply while body bytes are skipped means the end of the body was
 * among them: the skipped bytes become a gap (skip_fallbacks). Skipped bytes
 * anywhere else are a gap at once. No smtp_data for skipped bytes. */
void smtp_skipped(struct smtp *s, bool is_orig, uint64_t off, uint64_t len);

/*
 * Content hook: the lines of every message, for consumers of the message
 * itself (MIME and files, transaction records). Per message, in order:
 *
 *   BEGIN      the message starts: the DATA command, the first valid BDAT,
 *              or data lines met without a DATA (Zeek opens a mail then too)
 *   LINE       one line of it, dot-unstuffed, without its terminator. For
 *              BDAT the chunk bytes are cut into lines as Zeek's BDAT line
 *              splitter does: CR LF or a bare LF ends a line, a lone CR
 *              stays in it, a line longer than SMTP_BDAT_LINE_MAX is cut;
 *              chunk boundaries are invisible.
 *   GAP        len bytes of the message are missing (TCP gap); END follows.
 *   SKIPPED    len bytes of the message were not copied (--bodies skip); the
 *              lines after it (if any) are not contiguous with those before.
 *   END        the message ends. complete: its end (the "." line, the last
 *              byte of the LAST chunk) was seen; otherwise it was cut by a
 *              rejected DATA, a gap, a new DATA, a missing LAST chunk, TLS
 *              or the connection's end. END of a complete DATA message comes
 *              before the smtp_request "." as Zeek orders mime_end_entity.
 *
 * trans_depth numbers the messages begun on the connection, from 1; it is
 * the same for every callback of one message (for the usual one transaction
 * per message it equals Zeek's smtp.log trans_depth). id is the pointer given
 * to smtp_set_content_hook. Everything pointed to is valid only during the
 * call. Without a hook nothing is prepared (no cost).
 */
enum smtp_content_kind {
	SMTP_CONTENT_BEGIN = 0,
	SMTP_CONTENT_LINE,
	SMTP_CONTENT_GAP,
	SMTP_CONTENT_SKIPPED,
	SMTP_CONTENT_END,
};

#define SMTP_BDAT_LINE_MAX 4096 /* Zeek's SMTP::bdat_max_line_length */

struct smtp_content {
	enum smtp_content_kind kind;
	const struct conn_id *id;
	bool is_orig;  /* direction of the message (the client, unless TURN) */
	bool in_tls;   /* the message is TLS plaintext */
	bool bdat;     /* sent with BDAT (else DATA) */
	bool complete; /* END: the end of the message was seen */
	uint32_t trans_depth;
	struct bytes line; /* LINE */
	/* LINE: what follows it in the message as sent, as Zeek's whole-message
	 * file has it: CR LF after a DATA line (whatever ended it on the wire);
	 * after a BDAT line the bytes that ended it in the chunk (CR LF or LF),
	 * none when it was cut or the chunk data ended. */
	struct bytes term;
	uint64_t len; /* GAP, SKIPPED: bytes */
};

typedef void (*smtp_content_fn)(void *ctx, const struct smtp_content *c);
/* One hook per session (a later call replaces it; fn NULL removes it). */
void smtp_set_content_hook(struct smtp *s, const struct conn_id *id, smtp_content_fn fn, void *ctx);

/* True once the stream is encrypted (the 220 to STARTTLS) and until
 * smtp_resume_in_tls(): bytes are only counted then. */
bool smtp_is_tls(const struct smtp *s);
/* From now on the session is fed the plaintext inside TLS (the TLS library's
 * read and write calls, not the wire), and its events carry in_tls. After
 * STARTTLS the session starts over as RFC 3207 says (EHLO, a new
 * transaction); otherwise it goes on where it is: from the greeting when the
 * whole session is inside TLS (port 465), or recovering like after a gap when
 * it was joined midway. */
void smtp_resume_in_tls(struct smtp *s);
const struct smtp_stats *smtp_stats(const struct smtp *s);
/* Copies the session's view into out (no MAIL or recipients before the
 * first MAIL or RCPT, or when there was no memory for them). */
void smtp_view(const struct smtp *s, struct smtp_view *out);
/* Zeek's name of the session's state: "READY", "RCPT_OK", "IN_TLS", ... */
const char *smtp_state_name(const struct smtp *s);
/* Every state's name in turn, i from 0; NULL past the last (for counters
 * that list each state, 0 included). */
const char *smtp_state_name_at(unsigned i);

#endif
