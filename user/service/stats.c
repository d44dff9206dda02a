// SPDX-License-Identifier: GPL-2.0-only
/* stats.c - see stats.h. */
#include <stdio.h>
#include <string.h>

#include "service/stats.h"

const char *const stats_verb_names[VERB_MAX] = {
    [VERB_EHLO] = "EHLO",
    [VERB_HELO] = "HELO",
    [VERB_MAIL] = "MAIL",
    [VERB_RCPT] = "RCPT",
    [VERB_DATA] = "DATA",
    [VERB_END_OF_DATA] = "END_OF_DATA",
    [VERB_BDAT] = "BDAT",
    [VERB_RSET] = "RSET",
    [VERB_QUIT] = "QUIT",
    [VERB_NOOP] = "NOOP",
    [VERB_VRFY] = "VRFY",
    [VERB_EXPN] = "EXPN",
    [VERB_HELP] = "HELP",
    [VERB_STARTTLS] = "STARTTLS",
    [VERB_X_ANONYMOUSTLS] = "X-ANONYMOUSTLS",
    [VERB_AUTH] = "AUTH",
    [VERB_AUTH_ANSWER] = "AUTH_ANSWER",
    [VERB_ETRN] = "ETRN",
    [VERB_TURN] = "TURN",
    [VERB_SEND] = "SEND",
    [VERB_SOML] = "SOML",
    [VERB_SAML] = "SAML",
    [VERB_OTHER] = "other",
};

const char *const stats_reply_class_names[REPLY_CLASS_MAX] = {
    [REPLY_1XX] = "1xx", [REPLY_2XX] = "2xx", [REPLY_3XX] = "3xx",
    [REPLY_4XX] = "4xx", [REPLY_5XX] = "5xx", [REPLY_INVALID] = "invalid",
};

/* smtp.c's message for a server line without a valid code. */
const char *const stats_reply_code_names[STATS_REPLY_CODES] = {
    "211", "214", "220", "221", "235", "250", "251", "252", "334", "354", "421",  "432",
    "450", "451", "452", "454", "455", "500", "501", "502", "503", "504", "521",  "530",
    "534", "535", "538", "550", "551", "552", "553", "554", "555", "556", "other"};

/* The codes of stats_reply_code_names, in the same order, but "other". */
static const uint16_t reply_code_values[STATS_REPLY_CODES - 1] = {
    211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454, 455,
    500, 501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556};

/* The index of code's label in stats_reply_code_names. */
static unsigned reply_code_index(uint16_t code)
{
	unsigned i;

	for (i = 0; i < STATS_REPLY_CODES - 1; i++)
		if (reply_code_values[i] == code)
			return i;
	return STATS_REPLY_CODES - 1;
}

static const char invalid_reply_msg[] = "reply code out of range";

static bool bytes_are(struct bytes b, const char *s)
{
	size_t n = strlen(s);

	return b.len == n && (n == 0 || !memcmp(b.ptr, s, n));
}

/* Requests carry smtp.c's spelling; the two internal ones are renamed. */
static enum stats_verb verb_of(struct bytes command)
{
	if (bytes_are(command, "."))
		return VERB_END_OF_DATA;
	if (bytes_are(command, "**"))
		return VERB_AUTH_ANSWER;
	for (int v = 0; v < VERB_OTHER; v++)
		if (v != VERB_END_OF_DATA && v != VERB_AUTH_ANSWER &&
		    bytes_are(command, stats_verb_names[v]))
			return v;
	return VERB_OTHER;
}

static void count_name(struct stats_names *t, struct bytes name)
{
	size_t len = name.len < STATS_NAME_MAX - 1 ? name.len : STATS_NAME_MAX - 1;

	for (unsigned i = 0; i < t->n; i++)
		if (strlen(t->name[i]) == len && !memcmp(t->name[i], name.ptr, len)) {
			t->count[i]++;
			return;
		}
	if (t->n == STATS_NAMES_MAX) {
		t->other++;
		return;
	}
	if (len)
		memcpy(t->name[t->n], name.ptr, len);
	t->name[t->n][len] = '\0';
	t->count[t->n++] = 1;
}

static void count_transaction(struct stats *st, const struct smtp_transaction *t)
{
	char code[8];

	if ((unsigned)t->outcome < TXN_OUTCOME_MAX)
		st->outcomes[t->outcome]++;
	for (uint32_t i = 0; i < t->nrcpt_status; i++)
		if (t->rcpt_status[i].code >= 400) {
			int n = snprintf(code, sizeof(code), "%u", t->rcpt_status[i].code);
			count_name(&st->refused_rcpts,
				   (struct bytes){(const uint8_t *)code, (size_t)n});
		}
}

static void stats_emit(struct sink *sink, const struct event *ev)
{
	struct stats *st = (struct stats *)sink;

	st->events[ev->type]++;
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		st->commands[verb_of(ev->request.command)]++;
		break;
	case EV_SMTP_REPLY:
		if (!ev->reply.cont_resp && ev->reply.code >= 100 && ev->reply.code <= 599) {
			st->replies[REPLY_1XX + ev->reply.code / 100 - 1]++;
			st->reply_codes[reply_code_index(ev->reply.code)]++;
		}
		break;
	case EV_SMTP_STARTTLS:
		st->starttls++;
		break;
	case EV_SMTP_UNEXPECTED:
		count_name(&st->unexpected, ev->unexpected.msg);
		if (bytes_are(ev->unexpected.msg, invalid_reply_msg))
			st->replies[REPLY_INVALID]++;
		break;
	case EV_CONTENT_GAP:
		st->gaps++;
		st->gap_bytes += ev->gap.length;
		break;
	case EV_WEIRD:
		count_name(&st->weird, (struct bytes){(const uint8_t *)ev->weird.name,
						      ev->weird.name ? strlen(ev->weird.name) : 0});
		break;
	case EV_SMTP_TRANSACTION:
		count_transaction(st, ev->transaction);
		break;
	case EV_SMTP_CONNECTION:
		if ((unsigned)ev->conn.end < STATS_CONN_ENDS)
			st->sessions_ended[ev->conn.end]++;
		st->sessions_tls += ev->conn.tls;
		st->transactions += ev->conn.transactions;
		break;
	default:
		break;
	}
}

static void stats_nothing(struct sink *sink)
{
	(void)sink;
}

void stats_init(struct stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sink.emit = stats_emit;
	st->sink.flush = stats_nothing;
	st->sink.destroy = stats_nothing;
}
