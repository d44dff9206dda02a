// SPDX-License-Identifier: GPL-2.0-only
/*
 * smtp.c - Zeek's SMTP analyzer as a per-connection state machine (contract
 * in smtp.h; behaviour: SMTP_Analyzer in Zeek 9.1.0-dev's
 * src/analyzer/protocol/smtp/SMTP.cc and BDAT.cc).
 *
 * Each direction is cut into lines (linesplit.c) unless a BDAT chunk is being
 * received, in which case its bytes are skipped raw. Client lines become
 * commands, DATA lines or SASL answers; server lines become replies matched
 * FIFO to the queued commands. The state advances optimistically on commands
 * and is corrected by replies, exactly as Zeek does; the places where we
 * deliberately differ are marked "Difference N:" and listed in
 * docs/zeek-differences.md. We do no MIME parsing, so a "mail" here is only
 * the open/closed flag that drives Zeek's weirds and our transaction count.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/linesplit.h"
#include "smtp/smtp.h"

/* Zeek's state numbers; they appear in "state = N" details. */
enum smtp_state {
	ST_CONNECTED = 0,
	ST_INITIATED = 1,
	ST_NOT_AVAILABLE = 2,
	ST_READY = 3,
	ST_MAIL_OK = 4,
	ST_RCPT_OK = 5,
	ST_IN_DATA = 6,
	ST_AFTER_DATA = 7,
	ST_IN_AUTH = 8,
	ST_IN_TLS = 9,
	ST_QUIT = 10,
	ST_AFTER_GAP = 11,
	ST_GAP_RECOVERY = 12,
	ST_IN_BDAT = 13,
};

enum smtp_cmd {
	CMD_EHLO,
	CMD_HELO,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_QUIT,
	CMD_RSET,
	CMD_VRFY,
	CMD_EXPN,
	CMD_HELP,
	CMD_NOOP,
	CMD_STARTTLS,
	CMD_X_ANONYMOUSTLS,
	CMD_CONN_ESTABLISHMENT,
	CMD_END_OF_DATA,
	CMD_SEND,
	CMD_SOML,
	CMD_SAML,
	CMD_TURN,
	CMD_BDAT,
	CMD_ETRN,
	CMD_AUTH,
	CMD_AUTH_ANSWER,
	CMD_COUNT,
	CMD_NONE = 0x7f, /* no command pending: "(UNKNOWN)" */
};

/* A queued command is one byte: the command plus this flag on a valid
 * "BDAT <n> LAST", whose final reply ends the transaction (difference 2). */
#define CMD_MASK       0x7f
#define CMD_LAST_CHUNK 0x80

/* Zeek's internal names, used in reply attribution and in details. Zeek
 * recognises every one of them as a client command word, internal ones
 * included; X-ANONYMOUSTLS is recognised as the hyphenated alias. */
static const char *const cmd_words[CMD_COUNT] = {
    [CMD_EHLO] = "EHLO",
    [CMD_HELO] = "HELO",
    [CMD_MAIL] = "MAIL",
    [CMD_RCPT] = "RCPT",
    [CMD_DATA] = "DATA",
    [CMD_QUIT] = "QUIT",
    [CMD_RSET] = "RSET",
    [CMD_VRFY] = "VRFY",
    [CMD_EXPN] = "EXPN",
    [CMD_HELP] = "HELP",
    [CMD_NOOP] = "NOOP",
    [CMD_STARTTLS] = "STARTTLS",
    [CMD_X_ANONYMOUSTLS] = "X_ANONYMOUSTLS",
    [CMD_CONN_ESTABLISHMENT] = "CONN_ESTABLISHMENT",
    [CMD_END_OF_DATA] = "END_OF_DATA",
    [CMD_SEND] = "SEND",
    [CMD_SOML] = "SOML",
    [CMD_SAML] = "SAML",
    [CMD_TURN] = "TURN",
    [CMD_BDAT] = "BDAT",
    [CMD_ETRN] = "ETRN",
    [CMD_AUTH] = "AUTH",
    [CMD_AUTH_ANSWER] = "AUTH_ANSWER",
};

static const char x_anonymoustls_alias[] = "X-ANONYMOUSTLS";

#define QUEUE_MAX     1000 /* Zeek's pending command limit */
#define QUEUE_INLINE  16   /* pipelined commands held without an allocation */
#define BDAT_MAX_ARG  25   /* strlen("18446744073709551615 LAST") */
#define SASL_MECH_MAX 20   /* RFC 4422 mechanism name length */
#define REDACTED      "[redacted]"

struct direction {
	struct linesplit lines;
	uint64_t raw_remaining; /* BDAT chunk bytes still to skip */
	uint64_t skip_off;	/* DATA body bytes skipped since the last line: where from */
	uint64_t skip_len;	/* ... and how many */
};

struct smtp {
	const struct config *cfg;
	smtp_emit_fn emit;
	void *ctx;
	struct direction dir[2]; /* indexed by is_orig */
	uint8_t state;
	bool orig_is_sender; /* false after an accepted TURN */
	uint8_t first_cmd;   /* oldest unanswered command */
	uint8_t last_replied;
	uint16_t pending_reply; /* code of an open multi-line reply */
	bool mail_open;
	bool in_body;	 /* DATA: the header block ended (blank line) */
	bool bdat_open;	 /* a BDAT transfer is in progress */
	bool chunk_last; /* the current chunk is the LAST one */
	bool chunk_orig; /* direction carrying the chunk */
	bool nul_reported, single_cr_reported;
	bool inside_tls; /* the bytes are TLS plaintext: events say so */
	/* End-of-data shapes (docs/smuggling.md): a "." line ended by a CR that
	 * ended its delivery waits for the next byte (eod_prev: the terminator
	 * before it); after an ambiguous end, commands up to the server's next
	 * reply may be smuggled. */
	bool eod_pending, eod_orig, after_ambiguous_eod;
	uint8_t eod_prev;
	/* Commands after first_cmd, a ring of queue_cap: in queue_inline
	 * until a client pipelines more, then on the heap (an idle
	 * connection must stay small: make bench, 2 KB per connection). */
	uint16_t queue_head, queue_len, queue_cap;
	uint8_t *queue;
	uint8_t queue_inline[QUEUE_INLINE];
	struct smtp_stats stats;
	struct smtp_value view_helo;
	struct smtp_view *view; /* the rest of the view: made at the first MAIL or RCPT */
	/* Content hook (smtp_set_content_hook) and the message it follows. */
	smtp_content_fn content_fn;
	void *content_ctx;
	const struct conn_id *content_id;
	uint32_t messages; /* begun on the connection: the trans_depth */
	bool msg_bdat, msg_orig;
	/* A gap may have taken commands, so that replies meet the wrong ones in
	 * the queue: set by a gap, cleared by the reply that ends a mail or
	 * answers RSET (difference 7b). */
	bool replies_uncertain; /* in a padding hole: an idle connection stays under 2 KB */
	uint8_t *bdat_line;	/* a BDAT line spanning deliveries, SMTP_BDAT_LINE_MAX */
	size_t bdat_len;
};

/* ---- event emission ---------------------------------------------------- */

static bool wanted(const struct smtp *s, enum event_type type)
{
	return s->cfg->events_mask & EV_MASK(type);
}

static void emit(struct smtp *s, struct event *ev)
{
	ev->in_tls = s->inside_tls;
	if (wanted(s, ev->type))
		s->emit(s->ctx, ev);
}

static struct bytes str_bytes(const char *str)
{
	return (struct bytes){(const uint8_t *)str, strlen(str)};
}

/* Zeek reports from the sender's point of view and flips after TURN. */
static void unexpected(struct smtp *s, bool is_sender, const char *msg, struct bytes detail)
{
	struct event ev = {.type = EV_SMTP_UNEXPECTED};

	s->stats.anomalies++;
	ev.is_orig = s->orig_is_sender ? is_sender : !is_sender;
	ev.unexpected.msg = str_bytes(msg);
	ev.unexpected.detail = detail;
	emit(s, &ev);
}

static void weird_bytes(struct smtp *s, bool is_orig, const char *name, struct bytes addl)
{
	struct event ev = {.type = EV_WEIRD, .is_orig = is_orig};

	s->stats.anomalies++;
	ev.weird.name = name;
	ev.weird.addl = addl;
	emit(s, &ev);
}

static void weird(struct smtp *s, bool is_orig, const char *name, const char *addl)
{
	weird_bytes(s, is_orig, name, str_bytes(addl ? addl : ""));
}

static void request(struct smtp *s, const char *command, struct bytes arg)
{
	struct event ev = {.type = EV_SMTP_REQUEST, .is_orig = s->orig_is_sender};

	ev.request.command = str_bytes(command);
	ev.request.arg = arg;
	emit(s, &ev);
}

static const char *cmd_word(unsigned cmd)
{
	cmd &= CMD_MASK;
	return cmd < CMD_COUNT ? cmd_words[cmd] : "(UNKNOWN)";
}

static const char *reply_cmd_name(unsigned cmd)
{
	switch (cmd & CMD_MASK) {
	case CMD_CONN_ESTABLISHMENT:
		return ">";
	case CMD_END_OF_DATA:
		return ".";
	default:
		return cmd_word(cmd);
	}
}

static void unexpected_command(struct smtp *s, unsigned cmd, int reply)
{
	char buf[96];
	int n =
	    snprintf(buf, sizeof(buf), "%s reply = %d state = %d", cmd_word(cmd), reply, s->state);

	unexpected(s, true, "unexpected command", (struct bytes){(uint8_t *)buf, (size_t)n});
}

static void unexpected_reply(struct smtp *s, unsigned cmd, int reply)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%d state = %d, last command = %s", reply, s->state,
			 cmd_word(cmd));

	unexpected(s, true, "unexpected reply", (struct bytes){(uint8_t *)buf, (size_t)n});
}

/* ---- content hook (smtp.h) ---------------------------------------------- */

static const struct bytes TERM_CRLF = {(const uint8_t *)"\r\n", 2},
			  TERM_LF = {(const uint8_t *)"\n", 1}, TERM_NONE = {NULL, 0};

static void content(struct smtp *s, enum smtp_content_kind kind, struct bytes line,
		    struct bytes term, uint64_t len, bool complete)
{
	struct smtp_content c = {
	    .kind = kind,
	    .id = s->content_id,
	    .is_orig = s->msg_orig,
	    .in_tls = s->inside_tls,
	    .bdat = s->msg_bdat,
	    .complete = complete,
	    .trans_depth = s->messages,
	    .line = line,
	    .term = term,
	    .len = len,
	};

	s->content_fn(s->content_ctx, &c);
}

static void content_line(struct smtp *s, const uint8_t *line, size_t len, struct bytes term)
{
	content(s, SMTP_CONTENT_LINE, (struct bytes){line, len}, term, 0, false);
}

/* The buffered BDAT line goes out as it is (cut, chunk skipped, mail end). */
static void bdat_line_flush(struct smtp *s)
{
	if (s->bdat_len > 0)
		content_line(s, s->bdat_line, s->bdat_len, TERM_NONE);
	s->bdat_len = 0;
}

/* Chunk bytes of the open BDAT message, cut into lines (smtp.h). A line
 * lying in one delivery is passed in place; only one that spans deliveries
 * is copied, into a buffer of SMTP_BDAT_LINE_MAX allocated once per session. */
static void bdat_content(struct smtp *s, const uint8_t *p, size_t n)
{
	if (!s->bdat_line && !(s->bdat_line = malloc(SMTP_BDAT_LINE_MAX))) {
		/* Without the buffer the bytes cannot be passed on: lost. */
		content(s, SMTP_CONTENT_GAP, TERM_NONE, TERM_NONE, n, false);
		return;
	}
	while (n > 0) {
		const uint8_t *lf = memchr(p, '\n', n);
		size_t take = lf ? (size_t)(lf - p) : n, room, c;

		if (s->bdat_len == 0 && lf && take <= SMTP_BDAT_LINE_MAX) {
			bool cr = take > 0 && p[take - 1] == '\r';

			content_line(s, p, cr ? take - 1 : take, cr ? TERM_CRLF : TERM_LF);
			p += take + 1;
			n -= take + 1;
			continue;
		}
		room = SMTP_BDAT_LINE_MAX - s->bdat_len;
		c = take < room ? take : room;
		memcpy(s->bdat_line + s->bdat_len, p, c);
		s->bdat_len += c;
		p += c;
		n -= c;
		if (c < take) { /* longer than SMTP_BDAT_LINE_MAX: cut */
			bdat_line_flush(s);
			continue;
		}
		if (!lf)
			break;
		p++;
		n--;
		bool cr = s->bdat_len > 0 && s->bdat_line[s->bdat_len - 1] == '\r';

		content_line(s, s->bdat_line, cr ? s->bdat_len - 1 : s->bdat_len,
			     cr ? TERM_CRLF : TERM_LF);
		s->bdat_len = 0;
	}
}

static void content_end(struct smtp *s, bool complete)
{
	if (!s->content_fn)
		return;
	if (s->msg_bdat)
		bdat_line_flush(s);
	content(s, SMTP_CONTENT_END, TERM_NONE, TERM_NONE, 0, complete);
}

void smtp_set_content_hook(struct smtp *s, const struct conn_id *id, smtp_content_fn fn, void *ctx)
{
	s->content_fn = fn;
	s->content_ctx = ctx;
	s->content_id = id;
}

/* ---- mail life cycle ----------------------------------------------------- */

static void begin_data(struct smtp *s, bool orig, enum smtp_state state)
{
	s->state = state;
	if (s->mail_open) {
		weird(s, orig, "smtp_nested_mail_transaction", NULL);
		content_end(s, false);
	}
	s->mail_open = true;
	s->in_body = false;
	s->messages++;
	s->msg_orig = orig;
	s->msg_bdat = state == ST_IN_BDAT;
	s->bdat_len = 0;
	if (s->content_fn)
		content(s, SMTP_CONTENT_BEGIN, TERM_NONE, TERM_NONE, 0, false);
}

/* complete: the end of the message was seen ("." or the LAST chunk). */
static void end_data(struct smtp *s, bool orig, bool complete)
{
	s->in_body = false;
	s->dir[0].skip_len = s->dir[1].skip_len = 0;
	if (!s->mail_open) {
		weird(s, orig, "smtp_unmatched_end_of_data", NULL);
		return;
	}
	content_end(s, complete);
	s->mail_open = false;
	if (s->bdat_open) {
		struct direction *d = &s->dir[s->chunk_orig];

		if (d->raw_remaining > 0)
			weird(s, orig, "smtp_bdat_remaining_at_end_data", NULL);
		d->raw_remaining = 0;
		s->bdat_open = false;
	}
}

static void start_tls(struct smtp *s, bool orig)
{
	struct event ev = {.type = EV_SMTP_STARTTLS, .is_orig = orig};

	s->state = ST_IN_TLS;
	s->stats.tls = true;
	emit(s, &ev);
}

/* ---- the state table (Zeek: SMTP_Analyzer::UpdateState) ------------------
 * reply == 0: the command was just seen; otherwise the reply to it. */

/* A command seen where it is not expected is reported; the session moves to
 * next all the same, as in Zeek. */
static void command_moves(struct smtp *s, unsigned cmd, bool expected, int next)
{
	if (!expected)
		unexpected_command(s, cmd, 0);
	s->state = next;
}

static void keep_pending(struct smtp *s, unsigned qcmd);

static void update_state(struct smtp *s, unsigned qcmd, int reply, bool orig)
{
	const int st = s->state;
	const unsigned cmd = qcmd & CMD_MASK;

	if (st == ST_QUIT && reply == 0)
		unexpected_command(s, cmd, reply);

	switch (cmd) {
	case CMD_CONN_ESTABLISHMENT:
		switch (reply) {
		case 0:
			command_moves(s, cmd, st == ST_CONNECTED, ST_INITIATED);
			break;
		case 220:
			break;
		case 421:
		case 554:
			s->state = ST_NOT_AVAILABLE;
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_EHLO:
	case CMD_HELO:
		switch (reply) {
		case 0:
			command_moves(s, cmd, st == ST_INITIATED, ST_READY);
			break;
		case 250:
			break;
		case 421:
		case 500:
		case 501:
		case 504:
		case 550:
			s->state = ST_INITIATED;
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_MAIL:
	case CMD_SEND:
	case CMD_SOML:
	case CMD_SAML:
		switch (reply) {
		case 0:
			command_moves(s, cmd, st == ST_READY, ST_MAIL_OK);
			break;
		case 250:
			break;
		case 421:
		case 451:
		case 452:
		case 500:
		case 501:
		case 503:
		case 550:
		case 552:
		case 553:
			if (s->state != ST_IN_DATA)
				s->state = ST_READY;
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_RCPT:
		switch (reply) {
		case 0:
			command_moves(s, cmd, st == ST_MAIL_OK || st == ST_RCPT_OK, ST_RCPT_OK);
			break;
		case 250:
		case 251:
		case 421:
		case 450:
		case 451:
		case 452:
		case 500:
		case 501:
		case 503:
		case 550:
		case 551:
		case 552:
		case 553:
		case 554:
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_DATA:
		switch (reply) {
		case 0:
			if (s->state != ST_RCPT_OK)
				unexpected_command(s, cmd, reply);
			begin_data(s, orig, ST_IN_DATA);
			break;
		case 354:
			break;
		case 421:
			if (s->state == ST_IN_DATA)
				end_data(s, orig, false);
			s->state = ST_QUIT;
			break;
		case 451:
		case 500:
		case 501:
		case 503:
		case 554:
			if (s->state == ST_IN_DATA)
				end_data(s, orig, false);
			s->state = ST_READY;
			break;
		default:
			unexpected_reply(s, cmd, reply);
			if (s->replies_uncertain && st == ST_IN_DATA && reply / 100 == 2) {
				/* It answers a command the gap took (a pipelined
				 * MAIL or RCPT): DATA still waits for its 354 and
				 * the body goes on. */
				keep_pending(s, qcmd);
				break;
			}
			if (s->state == ST_IN_DATA)
				end_data(s, orig, false);
			s->state = ST_READY;
		}
		break;

	case CMD_BDAT:
		switch (reply) {
		case 0:
			/* The command's state check is done in bdat_command(). */
			s->state = ST_IN_BDAT;
			break;
		case 250:
		case 421:
		case 451:
		case 500:
		case 501:
		case 503:
		case 554:
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		/* Difference 2: the reply to a completed "BDAT ... LAST" ends the
		 * transaction like the reply to "." does (Zeek stays AFTER_DATA). */
		if (reply > 0 && (qcmd & CMD_LAST_CHUNK) && s->state == ST_AFTER_DATA)
			s->state = ST_READY;
		break;

	case CMD_END_OF_DATA:
		switch (reply) {
		case 0:
			if (st != ST_IN_DATA && st != ST_IN_BDAT)
				unexpected_command(s, cmd, reply);
			s->stats.transactions += s->mail_open;
			end_data(s, orig, true);
			s->state = ST_AFTER_DATA;
			break;
		case 250:
		case 421:
		case 451:
		case 452:
		case 552:
		case 554:
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		if (reply > 0) {
			s->state = ST_READY;
			s->replies_uncertain = false;
		}
		break;

	case CMD_RSET:
		switch (reply) {
		case 0:
			s->state = ST_READY;
			break;
		case 250:
			s->replies_uncertain = false;
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_QUIT:
		switch (reply) {
		case 0:
			s->state = ST_QUIT;
			break;
		case 221:
			break;
		default:
			unexpected_reply(s, cmd, reply);
		}
		break;

	case CMD_AUTH:
	case CMD_AUTH_ANSWER:
		if (st != (cmd == CMD_AUTH ? ST_READY : ST_IN_AUTH))
			unexpected_command(s, cmd, reply);
		switch (reply) {
		case 0:
			break;
		case 334:
			s->state = ST_IN_AUTH;
			break;
		case 235:
			/* Difference 1: authenticated, the session goes on where it
			 * was (Zeek falls back to INITIATED). */
			s->state = ST_READY;
			break;
		default:
			s->state = ST_INITIATED;
		}
		break;

	case CMD_TURN:
		if (st != ST_READY)
			unexpected_command(s, cmd, reply);
		if (reply == 250) {
			s->orig_is_sender = !s->orig_is_sender;
			s->state = ST_CONNECTED;
		}
		break;

	case CMD_STARTTLS:
	case CMD_X_ANONYMOUSTLS:
		if (st != ST_READY)
			unexpected_command(s, cmd, reply);
		if (reply == 220)
			start_tls(s, orig);
		break;

	default: /* VRFY, EXPN, HELP, NOOP, ETRN, nothing pending */
		if (st == ST_GAP_RECOVERY && reply == 354)
			begin_data(s, orig, ST_IN_DATA);
	}
}

/* ---- command queue (Zeek: pending_cmd_q in NewCmd, NewReply) ------------- */

static void queue_clear(struct smtp *s)
{
	s->queue_head = s->queue_len = 0;
}

/* Doubles the ring, oldest command first; false without memory. */
static bool queue_grow(struct smtp *s)
{
	uint16_t cap = s->queue_cap * 2 < QUEUE_MAX ? s->queue_cap * 2 : QUEUE_MAX;
	uint8_t *q = malloc(cap);

	if (!q)
		return false;
	for (uint16_t i = 0; i < s->queue_len; i++)
		q[i] = s->queue[(s->queue_head + i) % s->queue_cap];
	if (s->queue != s->queue_inline)
		free(s->queue);
	s->queue = q;
	s->queue_cap = cap;
	s->queue_head = 0;
	return true;
}

/* Puts the command a reply was matched with back at the head of the queue:
 * the reply was not its own. There is room: the reply took one. */
static void keep_pending(struct smtp *s, unsigned qcmd)
{
	if (s->first_cmd != CMD_NONE) {
		s->queue_head = (uint16_t)((s->queue_head + s->queue_cap - 1) % s->queue_cap);
		s->queue[s->queue_head] = s->first_cmd;
		s->queue_len++;
	}
	s->first_cmd = (uint8_t)qcmd;
}

static void new_cmd(struct smtp *s, unsigned qcmd, bool orig)
{
	if (s->first_cmd == CMD_NONE) {
		s->first_cmd = (uint8_t)qcmd;
		return;
	}
	if (s->queue_len == s->queue_cap && (s->queue_cap == QUEUE_MAX || !queue_grow(s))) {
		weird(s, orig, "smtp_excessive_pending_cmds", NULL);
		queue_clear(s);
	}
	s->queue[(s->queue_head + s->queue_len++) % s->queue_cap] = (uint8_t)qcmd;
}

static void view_reply(struct smtp *s, unsigned cmd, int code);

static void new_reply(struct smtp *s, int code, bool orig)
{
	unsigned cmd = s->first_cmd;

	if (s->state == ST_AFTER_GAP) {
		s->state = ST_GAP_RECOVERY;
		request(s, "(UNKNOWN)", (struct bytes){NULL, 0});
	}
	s->last_replied = (uint8_t)cmd;
	s->first_cmd = CMD_NONE;
	if (s->queue_len > 0) {
		s->first_cmd = s->queue[s->queue_head];
		s->queue_head = (s->queue_head + 1) % s->queue_cap;
		s->queue_len--;
	}
	view_reply(s, cmd, code);
	update_state(s, cmd, code, orig);
}

/* A client that pipelines its SASL answer behind AUTH sends it before the 334
 * arrives, so it is parsed as an (unknown) command: its word is a credential.
 * The most recent command still waiting for a reply tells. */
static bool sasl_answer_ahead_of_334(const struct smtp *s)
{
	unsigned last = s->queue_len ? s->queue[(s->queue_head + s->queue_len - 1) % s->queue_cap]
				     : s->first_cmd;

	return !s->cfg->keep_credentials && (last == CMD_AUTH || last == CMD_AUTH_ANSWER);
}

/* ---- session view (smtp_view) ------------------------------------------- */

static void view_set(struct smtp_value *v, struct bytes arg)
{
	v->len = (uint8_t)(arg.len < sizeof(v->bytes) ? arg.len : sizeof(v->bytes));
	if (v->len)
		memcpy(v->bytes, arg.ptr, v->len);
}

/* arg without a leading prefix ("FROM:", "TO:", any case) and the blanks
 * after it; arg itself when it does not start with prefix. */
static struct bytes view_path(struct bytes arg, const char *prefix)
{
	size_t n = strlen(prefix);

	if (arg.len < n || strncasecmp((const char *)arg.ptr, prefix, n))
		return arg;
	while (n < arg.len && (arg.ptr[n] == ' ' || arg.ptr[n] == '\t'))
		n++;
	return (struct bytes){arg.ptr + n, arg.len - n};
}

static void view_new_transaction(struct smtp_view *v)
{
	v->nrcpts = v->rcpts_replied = v->rcpts_accepted = 0;
}

/* Follows the client's words: it shows what was asked; view_reply adds
 * each recipient's outcome. Without memory for the transaction's part, it
 * is left out of the view. */
static void view_command(struct smtp *s, unsigned cmd, struct bytes arg)
{
	struct smtp_view *v;

	if (cmd == CMD_EHLO || cmd == CMD_HELO) {
		view_set(&s->view_helo, arg);
		return;
	}
	if (cmd != CMD_MAIL && cmd != CMD_RCPT && cmd != CMD_RSET)
		return;
	if (!s->view && cmd != CMD_RSET)
		s->view = calloc(1, sizeof(*s->view));
	if (!(v = s->view))
		return;
	switch (cmd) {
	case CMD_MAIL:
		view_set(&v->mail_from, view_path(arg, "FROM:"));
		view_new_transaction(v);
		break;
	case CMD_RCPT:
		if (v->nrcpts < SMTP_VIEW_RCPTS) {
			view_set(&v->rcpts[v->nrcpts], view_path(arg, "TO:"));
			v->rcpt_code[v->nrcpts] = 0;
		}
		if (v->nrcpts < UINT32_MAX)
			v->nrcpts++;
		break;
	case CMD_RSET:
		v->mail_from.len = 0;
		view_new_transaction(v);
		break;
	}
}

/* Replies come in command order, so a RCPT's is the oldest recipient's
 * without one. */
static void view_reply(struct smtp *s, unsigned cmd, int code)
{
	struct smtp_view *v = s->view;

	if (cmd != CMD_RCPT || !v || v->rcpts_replied >= v->nrcpts)
		return;
	if (v->rcpts_replied < SMTP_VIEW_RCPTS)
		v->rcpt_code[v->rcpts_replied] = (uint16_t)code;
	if (code >= 200 && code <= 299)
		v->rcpts_accepted++;
	v->rcpts_replied++;
}

/* ---- client lines (Zeek: ProcessLine, sender side) ----------------------- */

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* C isspace() in the "C" locale, which ends Zeek's command word. */
static bool is_space(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t ascii_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

static bool word_equals(const uint8_t *w, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_upper(w[i]) != (uint8_t)word[i])
			return false;
	return true;
}

/* Returns the command, or CMD_NONE; *upper is the word as smtp_request
 * reports it (upper-cased, hence the table spelling). */
static unsigned parse_cmd(const uint8_t *w, size_t n, const char **upper)
{
	for (unsigned cmd = 0; cmd < CMD_COUNT; cmd++)
		if (word_equals(w, n, cmd_words[cmd])) {
			*upper = cmd_words[cmd];
			return cmd;
		}
	if (word_equals(w, n, x_anonymoustls_alias)) {
		*upper = x_anonymoustls_alias;
		return CMD_X_ANONYMOUSTLS;
	}
	return CMD_NONE;
}

struct bdat_arg {
	uint64_t size;
	bool last;
	const char *error; /* Zeek's text, or NULL */
};

/* Zeek's BDAT argument grammar (parse_bdat_arg in BDAT.cc). A NUL ends the number as it
 * ends strtoull() in Zeek, and then counts as junk. */
static struct bdat_arg parse_bdat_arg(const uint8_t *a, size_t n)
{
	struct bdat_arg r = {0};
	bool overflow = false;
	size_t i = 0;

	if (n == 0 || n > BDAT_MAX_ARG) {
		r.error = "BDAT argument bad length";
		return r;
	}
	if (!is_digit(a[0])) {
		r.error = "BDAT not followed by a valid chunk-size";
		return r;
	}
	for (; i < n && is_digit(a[i]); i++) {
		unsigned d = a[i] - '0';

		if (r.size > (UINT64_MAX - d) / 10)
			overflow = true;
		r.size = r.size * 10 + d;
	}
	if (i < n && a[i] != ' ' && a[i] != '\0') {
		r.error = "BDAT chunk-size not valid";
		return r;
	}
	if (overflow) {
		r.error = "BDAT chunk-size too large";
		return r;
	}
	if (i < n) {
		r.last = n - i == 5 && a[i] == ' ' && word_equals(a + i + 1, 4, "LAST");
		if (!r.last)
			r.error = "BDAT chunk-size followed by junk";
	}
	return r;
}

static bool is_sasl_name_char(uint8_t c)
{
	return is_digit(c) || c == '-' || c == '_' ||
	       (ascii_upper(c) >= 'A' && ascii_upper(c) <= 'Z');
}

/* Difference 9 (privacy): AUTH keeps its mechanism, SASL answers go. A
 * mechanism that does not look like one (RFC 4422 names) may itself be a
 * credential, so it goes too. */
static struct bytes redact(const struct smtp *s, unsigned cmd, struct bytes arg,
			   char scratch[SASL_MECH_MAX + sizeof(" " REDACTED)])
{
	size_t mech = 0, rest;

	if (s->cfg->keep_credentials || (cmd != CMD_AUTH && cmd != CMD_AUTH_ANSWER))
		return arg;
	if (cmd == CMD_AUTH_ANSWER)
		return str_bytes(REDACTED);
	if (arg.len == 0)
		return arg;
	while (mech < arg.len && is_sasl_name_char(arg.ptr[mech]))
		mech++;
	for (rest = mech; rest < arg.len && is_blank(arg.ptr[rest]); rest++)
		;
	if (mech > 0 && mech <= SASL_MECH_MAX && rest == arg.len)
		return arg;
	if (mech == 0 || mech > SASL_MECH_MAX || rest == mech)
		return str_bytes(REDACTED);
	memcpy(scratch, arg.ptr, mech);
	memcpy(scratch + mech, " " REDACTED, sizeof(" " REDACTED) - 1);
	return (struct bytes){(const uint8_t *)scratch, mech + sizeof(" " REDACTED) - 1};
}

/* A chunk's last byte arrived (or "BDAT 0 LAST" was seen). */
static void chunk_done(struct smtp *s, bool orig)
{
	if (s->bdat_open && s->chunk_last && orig == s->chunk_orig)
		update_state(s, CMD_END_OF_DATA, 0, orig);
}

/* A BDAT command after its smtp_request; false: the state stays as it is. */
static bool bdat_command(struct smtp *s, const struct bdat_arg *b, bool orig)
{
	if (b->error) {
		weird(s, orig, "smtp_invalid_bdat_command", b->error);
		return false;
	}
	if (b->size > INT64_MAX) {
		char size[24];

		snprintf(size, sizeof(size), "%" PRIu64, b->size);
		weird(s, orig, "smtp_huge_bdat_chunk", size);
		return false;
	}
	/* Difference 5: Zeek checks the state after switching it to IN_BDAT and
	 * so flags every valid BDAT; we check the state the command found. */
	if (s->state != ST_RCPT_OK && s->state != ST_IN_BDAT)
		unexpected_command(s, CMD_BDAT, 0);
	if (!s->bdat_open) {
		begin_data(s, orig, ST_IN_BDAT);
		s->bdat_open = true;
	}
	s->chunk_orig = orig;
	s->chunk_last = b->last;
	s->dir[orig].raw_remaining = b->size;
	return true;
}

static void data_line(struct smtp *s, bool orig, const uint8_t *line, size_t len)
{
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	if (!s->mail_open)
		begin_data(s, orig, ST_IN_DATA);
	if (len == 0)
		s->in_body = true;
	if (s->content_fn)
		content_line(s, line, len, TERM_CRLF);
	if (!s->cfg->emit_data)
		return;
	/* Built only here: zeroing the event for every body line cost more than
	 * the line's handling. */
	emit(s, &(struct event){.type = EV_SMTP_DATA, .is_orig = orig, .data.data = {line, len}});
}

/* ---- end-of-data shapes (SMTP smuggling, docs/smuggling.md) ------------- */

/* The longest command excerpt a smtp_smuggled_command weird carries. */
#define SMUGGLED_EXCERPT_MAX 64

static const char *term_text(uint8_t term)
{
	return term == LS_TERM_CRLF ? "<CR><LF>" : term == LS_TERM_LF ? "<LF>" : "<CR>";
}

/* The "." line ended the message in our parser; prev and own are the line
 * terminators before and after the dot. Anything but <CR><LF>.<CR><LF> is a
 * marker MTAs disagree on. */
static void eod_check(struct smtp *s, bool orig, uint8_t prev, uint8_t own)
{
	char addl[32];

	s->eod_pending = false;
	if ((prev == LS_TERM_CRLF && own == LS_TERM_CRLF) || prev == LS_TERM_NONE ||
	    own == LS_TERM_NONE)
		return;
	snprintf(addl, sizeof(addl), "%s.%s", term_text(prev), term_text(own));
	weird(s, orig, "smtp_ambiguous_end_of_data", addl);
	s->after_ambiguous_eod = true;
}

static void eod_seen(struct smtp *s, bool orig)
{
	const struct linesplit *ls = &s->dir[orig].lines;

	if (ls->after_cr) {
		s->eod_pending = true;
		s->eod_orig = orig;
		s->eod_prev = ls->prev_term;
		return;
	}
	eod_check(s, orig, ls->prev_term, ls->term);
}

/* After linesplit_next() on direction orig: the CR of a pending "." line is
 * resolved once the splitter knows whether an LF followed: when it returns
 * the next line (got: the dot's terminator has moved to prev_term; after_cr
 * is that line's then), or has consumed the byte after the CR. */
static void eod_resolve(struct smtp *s, bool orig, bool got)
{
	const struct linesplit *ls = &s->dir[orig].lines;

	if (s->eod_pending && s->eod_orig == orig && (got || !ls->after_cr))
		eod_check(s, orig, s->eod_prev, got ? ls->prev_term : ls->term);
}

static void smuggled_command(struct smtp *s, bool orig, const uint8_t *line, size_t len)
{
	if (!s->after_ambiguous_eod)
		return;
	weird_bytes(s, orig, "smtp_smuggled_command",
		    (struct bytes){line, len < SMUGGLED_EXCERPT_MAX ? len : SMUGGLED_EXCERPT_MAX});
}

static void client_line(struct smtp *s, bool orig, const uint8_t *line, size_t len)
{
	char scratch[SASL_MECH_MAX + sizeof(" " REDACTED)];
	struct bytes arg = {line, len};
	struct bdat_arg bdat = {0};
	const char *name;
	unsigned cmd, qcmd;
	bool update;

	if (s->state == ST_AFTER_GAP)
		return; /* could be mail data or a command: Zeek ignores it */
	if (s->state == ST_IN_DATA) {
		if (len != 1 || line[0] != '.') {
			data_line(s, orig, line, len);
			return;
		}
		cmd = CMD_END_OF_DATA;
		name = ".";
		eod_seen(s, orig);
	} else if (s->state == ST_IN_AUTH) {
		cmd = CMD_AUTH_ANSWER;
		name = "**";
	} else {
		size_t word = 0;

		while (word < len && line[word] && !is_space(line[word]))
			word++;
		cmd = parse_cmd(line, word, &name);
		if (cmd == CMD_NONE) {
			unexpected(s, true, "unknown command",
				   sasl_answer_ahead_of_334(s) ? str_bytes(REDACTED)
							       : (struct bytes){line, word});
			return;
		}
		smuggled_command(s, orig, line, len);
		while (word < len && is_blank(line[word]))
			word++;
		arg = (struct bytes){line + word, len - word};
	}

	qcmd = cmd;
	if (cmd == CMD_BDAT) {
		bdat = parse_bdat_arg(arg.ptr, arg.len);
		if (!bdat.error && bdat.last && bdat.size <= INT64_MAX)
			qcmd |= CMD_LAST_CHUNK;
	}
	new_cmd(s, qcmd, orig);
	if (cmd == CMD_END_OF_DATA)
		update_state(s, qcmd, 0, orig); /* the mail closes before the request */
	request(s, name, redact(s, cmd, arg, scratch));
	view_command(s, cmd, arg);

	if (cmd == CMD_BDAT) {
		update = bdat_command(s, &bdat, orig);
	} else {
		if (s->bdat_open) {
			weird(s, orig, "smtp_missing_bdat_last_chunk", NULL);
			end_data(s, orig, false);
		}
		update = cmd != CMD_END_OF_DATA;
	}
	if (update)
		update_state(s, qcmd, 0, orig);
	if (cmd == CMD_BDAT && update && s->dir[orig].raw_remaining == 0)
		chunk_done(s, orig);
}

/* ---- server lines (Zeek: ProcessLine, receiver side, and NewReply) ------- */

static void server_line(struct smtp *s, bool orig, const uint8_t *line, size_t len)
{
	struct event ev = {.type = EV_SMTP_REPLY, .is_orig = orig};
	struct direction *sender = &s->dir[!orig];
	const uint8_t *msg, *end = line + len;
	int code = -1;

	s->after_ambiguous_eod = false; /* the server has answered */
	/* The server speaks only after the end of a body: skipped bytes hid it. */
	if (sender->skip_len > 0) {
		s->stats.skip_fallbacks++;
		smtp_gap(s, !orig, sender->skip_off, sender->skip_len);
	}

	if (len >= 3 && is_digit(line[0]) && is_digit(line[1]) && is_digit(line[2]))
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 100 || code > 599) {
		/* Difference 3: no analyzer removal, parsing goes on. */
		unexpected(s, false, "reply code out of range", (struct bytes){line, len});
		return;
	}
	if (s->pending_reply && code != s->pending_reply) {
		unexpected(s, false, "reply code does not match the continuing reply",
			   (struct bytes){line, len});
		s->pending_reply = 0;
	}
	if (!s->pending_reply)
		new_reply(s, code, orig);
	if (len > 3 && line[3] == '-') {
		s->pending_reply = (uint16_t)code;
		msg = line + 4;
	} else {
		s->pending_reply = 0;
		msg = line + 3;
	}
	while (msg < end && is_blank(*msg))
		msg++;

	ev.reply.code = (uint16_t)code;
	ev.reply.cmd = str_bytes(reply_cmd_name(s->last_replied));
	ev.reply.msg = (struct bytes){msg, (size_t)(end - msg)};
	ev.reply.cont_resp = s->pending_reply > 0;
	emit(s, &ev);
}

static void process_line(struct smtp *s, bool orig, struct bytes line)
{
	if (orig == s->orig_is_sender)
		client_line(s, orig, line.ptr, line.len);
	else
		server_line(s, orig, line.ptr, line.len);
}

/* In a message body whose lines nobody wants (no smtp_data): data_line()
 * would do nothing with a plain line, so runs of them are skipped whole. */
static bool in_plain_body(const struct smtp *s, bool orig)
{
	return orig == s->orig_is_sender && s->state == ST_IN_DATA && s->in_body && s->mail_open &&
	       !s->content_fn && !(s->cfg->emit_data && wanted(s, EV_SMTP_DATA));
}

/* ---- public interface ---------------------------------------------------- */

struct smtp *smtp_new(const struct config *cfg, bool partial, smtp_emit_fn emit, void *ctx)
{
	struct smtp *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = cfg;
	s->emit = emit;
	s->ctx = ctx;
	s->orig_is_sender = true;
	s->last_replied = CMD_NONE;
	s->queue = s->queue_inline;
	s->queue_cap = QUEUE_INLINE;
	for (int i = 0; i < 2; i++)
		linesplit_init(&s->dir[i].lines, cfg->max_line);
	if (partial) {
		/* Difference 8: mid-session start, recovered like a gap. */
		s->state = ST_AFTER_GAP;
		s->first_cmd = CMD_NONE;
		s->replies_uncertain = true;
	} else {
		/* The greeting answers a pseudo-command "connection established". */
		s->state = ST_CONNECTED;
		s->first_cmd = CMD_CONN_ESTABLISHMENT;
		update_state(s, CMD_CONN_ESTABLISHMENT, 0, true);
	}
	return s;
}

void smtp_free(struct smtp *s)
{
	if (!s)
		return;
	for (int i = 0; i < 2; i++)
		linesplit_free(&s->dir[i].lines);
	if (s->queue != s->queue_inline)
		free(s->queue);
	free(s->bdat_line);
	free(s->view);
	free(s);
}

static void report_split_flags(struct smtp *s, bool orig, unsigned flags)
{
	if ((flags & LS_NUL_REMOVED) && !s->nul_reported) {
		s->nul_reported = true;
		weird(s, orig, "NUL_in_line", NULL);
	}
	if ((flags & LS_SINGLE_CR) && !s->single_cr_reported) {
		s->single_cr_reported = true;
		weird(s, orig, "line_terminated_with_single_CR", NULL);
	}
	if (flags & LS_SIZE_EXCEEDED)
		weird(s, orig, "contentline_size_exceeded", NULL);
}

void smtp_deliver(struct smtp *s, bool is_orig, const uint8_t *data, size_t len)
{
	struct direction *d = &s->dir[is_orig];

	while (len > 0 && s->state != ST_IN_TLS) {
		struct bytes line;
		unsigned flags = 0;
		bool got;

		if (d->raw_remaining > 0) {
			size_t lf = linesplit_begin_raw(&d->lines, data, len);
			size_t n =
			    len - lf < d->raw_remaining ? len - lf : (size_t)d->raw_remaining;

			if (n > 0 && s->content_fn && s->mail_open && s->msg_bdat)
				bdat_content(s, data + lf, n);
			data += lf + n;
			len -= lf + n;
			d->raw_remaining -= n;
			if (n > 0 && d->raw_remaining == 0)
				chunk_done(s, is_orig);
			continue;
		}
		if (in_plain_body(s, is_orig)) {
			size_t plain = linesplit_plain_run(&d->lines, data, len);
			if (plain)
				linesplit_skipped(&d->lines, data, plain);
			data += plain;
			len -= plain;
			if (!len)
				break;
		}
		got = linesplit_next(&d->lines, &data, &len, &line, &flags);
		eod_resolve(s, is_orig, got);
		if (flags)
			report_split_flags(s, is_orig, flags);
		if (!got)
			break;
		process_line(s, is_orig, line);
	}
	/* The line that started TLS may live in these buffers: free them only
	 * now that it has been processed. */
	if (s->state == ST_IN_TLS)
		for (int i = 0; i < 2; i++)
			linesplit_free(&s->dir[i].lines);
}

void smtp_gap(struct smtp *s, bool is_orig, uint64_t seq, uint64_t len)
{
	char detail[64];
	uint64_t raw[2];
	int n;

	/* Once encrypted the bytes are only counted, gaps included. */
	if (len == 0 || s->state == ST_IN_TLS)
		return;
	n = snprintf(detail, sizeof(detail), "seq = %" PRIu64 ", len = %" PRIu64, seq, len);
	unexpected(s, is_orig, "content gap", (struct bytes){(uint8_t *)detail, (size_t)n});

	/* Difference 7: chunk bytes whose count is still known (the part after
	 * the gap, or all of it if the gap is on the other side) keep being
	 * skipped raw, so body bytes never turn into commands. */
	raw[0] = s->dir[0].raw_remaining;
	raw[1] = s->dir[1].raw_remaining;
	raw[is_orig] = raw[is_orig] > len ? raw[is_orig] - len : 0;
	if (s->state == ST_IN_DATA || s->state == ST_IN_BDAT) {
		if (s->content_fn && s->mail_open && is_orig == s->msg_orig)
			content(s, SMTP_CONTENT_GAP, TERM_NONE, TERM_NONE, len, false);
		end_data(s, is_orig, false);
	}
	s->dir[0].raw_remaining = raw[0];
	s->dir[1].raw_remaining = raw[1];

	linesplit_gap(&s->dir[is_orig].lines);
	queue_clear(s);
	s->first_cmd = s->last_replied = CMD_NONE;
	s->state = ST_AFTER_GAP;
	s->replies_uncertain = true;
}

void smtp_end_of_direction(struct smtp *s, bool is_orig)
{
	struct bytes line;

	if (s->state == ST_IN_TLS)
		return;
	if (s->eod_pending && s->eod_orig == is_orig)
		eod_check(s, is_orig, s->eod_prev, LS_TERM_CR); /* no LF will come */
	if (linesplit_flush(&s->dir[is_orig].lines, &line))
		process_line(s, is_orig, line);
}

void smtp_finish(struct smtp *s)
{
	if (s->mail_open)
		end_data(s, s->orig_is_sender, false);
}

enum smtp_skip smtp_skippable(const struct smtp *s, bool is_orig, uint64_t *len)
{
	*len = s->dir[is_orig].raw_remaining;
	if (*len > 0)
		return SMTP_SKIP_CHUNK;
	if (s->state == ST_IN_DATA && s->in_body && is_orig == s->orig_is_sender)
		return SMTP_SKIP_BODY;
	return SMTP_SKIP_NONE;
}

void smtp_skipped(struct smtp *s, bool is_orig, uint64_t off, uint64_t len)
{
	struct direction *d = &s->dir[is_orig];

	if (len == 0 || s->state == ST_IN_TLS)
		return;
	s->stats.skipped_bytes += len;
	if (s->content_fn && s->mail_open && is_orig == s->msg_orig &&
	    (d->raw_remaining >= len || s->state == ST_IN_DATA)) {
		if (s->msg_bdat)
			bdat_line_flush(s);
		content(s, SMTP_CONTENT_SKIPPED, TERM_NONE, TERM_NONE, len, false);
	}
	if (d->raw_remaining >= len) {
		d->raw_remaining -= len;
		if (d->raw_remaining == 0)
			chunk_done(s, is_orig);
		return;
	}
	/* In DATA: a body past its header block, as offered, or the kernel's
	 * own skip SMTPMON_HEADER_ALLOWANCE bytes after the 354 (a header
	 * block longer than that loses its tail, as a body would). */
	if (s->state == ST_IN_DATA && is_orig == s->orig_is_sender) {
		s->in_body = true;
		if (d->skip_len == 0)
			d->skip_off = off;
		d->skip_len += len;
		linesplit_gap(&d->lines);
		return;
	}
	/* The source skipped bytes we did not allow (a stale mark). */
	s->stats.skip_fallbacks++;
	smtp_gap(s, is_orig, off, len);
}

bool smtp_is_tls(const struct smtp *s)
{
	return s->state == ST_IN_TLS;
}

void smtp_resume_in_tls(struct smtp *s)
{
	s->inside_tls = true;
	s->stats.tls = true;
	if (s->state != ST_IN_TLS)
		return;
	/* RFC 3207 4.2: both sides discard what they knew; the client
	 * starts over with EHLO. Nothing is pending: STARTTLS was the last
	 * command and its 220 the last reply. */
	s->state = ST_INITIATED;
	s->first_cmd = CMD_NONE;
	queue_clear(s);
	if (s->mail_open)
		content_end(s, false);
	s->mail_open = s->in_body = s->bdat_open = false;
	for (int i = 0; i < 2; i++) {
		linesplit_free(&s->dir[i].lines);
		linesplit_init(&s->dir[i].lines, s->cfg->max_line);
		s->dir[i].raw_remaining = s->dir[i].skip_off = s->dir[i].skip_len = 0;
	}
}

const struct smtp_stats *smtp_stats(const struct smtp *s)
{
	return &s->stats;
}

void smtp_view(const struct smtp *s, struct smtp_view *out)
{
	*out = s->view ? *s->view : (struct smtp_view){0};
	out->helo = s->view_helo;
}

static const char *const state_names[] = {
    [ST_CONNECTED] = "CONNECTED",
    [ST_INITIATED] = "INITIATED",
    [ST_NOT_AVAILABLE] = "NOT_AVAILABLE",
    [ST_READY] = "READY",
    [ST_MAIL_OK] = "MAIL_OK",
    [ST_RCPT_OK] = "RCPT_OK",
    [ST_IN_DATA] = "IN_DATA",
    [ST_AFTER_DATA] = "AFTER_DATA",
    [ST_IN_AUTH] = "IN_AUTH",
    [ST_IN_TLS] = "IN_TLS",
    [ST_QUIT] = "QUIT",
    [ST_AFTER_GAP] = "AFTER_GAP",
    [ST_GAP_RECOVERY] = "GAP_RECOVERY",
    [ST_IN_BDAT] = "IN_BDAT",
};

const char *smtp_state_name(const struct smtp *s)
{
	return s->state < sizeof(state_names) / sizeof(state_names[0]) && state_names[s->state]
		   ? state_names[s->state]
		   : "UNKNOWN";
}

const char *smtp_state_name_at(unsigned i)
{
	for (unsigned n = 0; n < sizeof(state_names) / sizeof(state_names[0]); n++)
		if (state_names[n] && !i--)
			return state_names[n];
	return NULL;
}
