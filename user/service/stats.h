// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats.h - counters derived from the event stream, exact by construction:
 * the outputs' fan-out hands every event to stats_sink() before any output's
 * selection, so they count what the pipeline produced, whatever is written.
 *
 * Every table is bounded: commands by the SMTP verbs smtp.c knows (anything
 * else, including "(UNKNOWN)" after a gap, is "other"); replies by class,
 * one per reply (a multi-line reply counts once, on its last line; "invalid"
 * counts the "reply code out of range" smtp_unexpected events, the lines that
 * never became a reply); smtp_unexpected messages and weird names by the
 * first STATS_NAMES_MAX distinct ones seen, the rest as "other"; refused
 * recipients by reply code the same way.
 */
#ifndef SMTPMON_STATS_H
#define SMTPMON_STATS_H

#include <stdint.h>

#include "output/event.h"
#include "records/transaction.h"

enum stats_verb {
	VERB_EHLO = 0,
	VERB_HELO,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_END_OF_DATA, /* the "." line: Zeek's request "." */
	VERB_BDAT,
	VERB_RSET,
	VERB_QUIT,
	VERB_NOOP,
	VERB_VRFY,
	VERB_EXPN,
	VERB_HELP,
	VERB_STARTTLS,
	VERB_X_ANONYMOUSTLS,
	VERB_AUTH,
	VERB_AUTH_ANSWER, /* a SASL answer line: Zeek's request "**" */
	VERB_ETRN,
	VERB_TURN,
	VERB_SEND,
	VERB_SOML,
	VERB_SAML,
	VERB_OTHER,
	VERB_MAX,
};

enum stats_reply_class {
	REPLY_1XX = 0,
	REPLY_2XX,
	REPLY_3XX,
	REPLY_4XX,
	REPLY_5XX,
	REPLY_INVALID,
	REPLY_CLASS_MAX,
};

/* Replies by code: one label per code that RFC 5321, 3207, 4954, 3030 and 6531 define,
 * the last one "other" for any other code from 100 to 599: a bounded label set. */
#define STATS_REPLY_CODES 35

#define STATS_CONN_ENDS (CONN_END_INPUT + 1)
#define STATS_NAMES_MAX 16
#define STATS_NAME_MAX	64 /* longer names are cut */

extern const char *const stats_verb_names[VERB_MAX];		    /* "EHLO", ..., "other" */
extern const char *const stats_reply_class_names[REPLY_CLASS_MAX];  /* "1xx", ..., "invalid" */
extern const char *const stats_reply_code_names[STATS_REPLY_CODES]; /* "211", ..., "other" */

/* Counts by name, for names that come from smtp.c's constants. */
struct stats_names {
	unsigned n;
	char name[STATS_NAMES_MAX][STATS_NAME_MAX];
	uint64_t count[STATS_NAMES_MAX];
	uint64_t other; /* names beyond the first STATS_NAMES_MAX */
};

struct stats {
	struct sink sink; /* emit counts; flush and destroy do nothing */
	uint64_t events[EV_TYPE_MAX];
	uint64_t commands[VERB_MAX];
	uint64_t replies[REPLY_CLASS_MAX];
	uint64_t reply_codes[STATS_REPLY_CODES]; /* one per reply, as replies */
	uint64_t starttls;
	uint64_t gaps, gap_bytes;
	struct stats_names unexpected, weird;
	uint64_t sessions_ended[STATS_CONN_ENDS];
	uint64_t sessions_tls; /* ended sessions that had turned TLS */
	uint64_t transactions; /* mails ended, summed over ended sessions */
	/* smtp_transaction records by outcome, and their refused recipients
	 * (a reply of 400 or more to RCPT) by reply code */
	uint64_t outcomes[TXN_OUTCOME_MAX];
	struct stats_names refused_rcpts;
};

void stats_init(struct stats *st);
static inline struct sink *stats_sink(struct stats *st)
{
	return &st->sink;
}

#endif
