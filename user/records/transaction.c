// SPDX-License-Identifier: GPL-2.0-only
/* transaction.c - the smtp_transaction builder (contract in transaction.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/encoded_words.h"
#include "output/out_common.h"
#include "records/queue_id.h"
#include "records/transaction.h"

const char *const txn_outcome_names[TXN_OUTCOME_MAX] = {
    [TXN_ACCEPTED] = "accepted",	 [TXN_REJECTED] = "rejected",
    [TXN_ABORTED_RSET] = "aborted_rset", [TXN_ABORTED_QUIT] = "aborted_quit",
    [TXN_ABORTED_GAP] = "aborted_gap",	 [TXN_ABORTED_TLS] = "aborted_tls",
    [TXN_ABORTED_MAIL] = "aborted_mail", [TXN_ABORTED_END] = "aborted_end",
};

struct txn_builder {
	const struct conn_id *id;
	txn_emit_fn emit;
	void *ctx;
	struct smtp_transaction t;
	bool open;     /* t exists (Zeek's c$smtp) */
	bool activity; /* Zeek's has_client_activity */
	bool finished; /* the reply to the end of the message was seen */
	bool aborted;  /* abort holds why the transaction stopped early */
	enum txn_outcome abort;
	uint16_t reject_code;
	uint32_t messages;	 /* Zeek's messages_transferred */
	bool bdat_last;		 /* a BDAT ... LAST awaits its reply */
	bool tls;		 /* STARTTLS accepted: later records are inside TLS */
	struct bytes helo;	 /* the connection's latest HELO/EHLO argument */
	uint32_t rcpt_replied;	 /* rcpt_status entries that have their reply */
	uint32_t messages_begun; /* in this record */
	bool oom_reported;
};

/* ---- owned strings and lists ---------------------------------------------- */

static void oom(struct txn_builder *b)
{
	if (!b->oom_reported)
		fprintf(stderr, "smtpmon: transaction record: out of memory (fields left unset)\n");
	b->oom_reported = true;
}

static void str_free(struct bytes *s)
{
	free((void *)s->ptr);
	*s = (struct bytes){0};
}

/* A copy cut at TXN_STR_MAX bytes (Zeek's log writer cuts there too). */
static struct bytes str_dup(struct txn_builder *b, const uint8_t *p, size_t len)
{
	uint8_t *copy;

	if (len > TXN_STR_MAX)
		len = TXN_STR_MAX;
	copy = malloc(len ? len : 1);
	if (!copy) {
		oom(b);
		return (struct bytes){0};
	}
	memcpy(copy, p, len);
	return (struct bytes){copy, len};
}

static void str_set(struct txn_builder *b, struct bytes *dst, const uint8_t *p, size_t len)
{
	str_free(dst);
	*dst = str_dup(b, p, len);
}

static bool bytes_eq(struct bytes a, const uint8_t *p, size_t len)
{
	return a.len == len && (!len || !memcmp(a.ptr, p, len));
}

/* Room for one more item of size bytes in *arr, which holds n of *cap:
 * doubled from 4 up to TXN_LIST_MAX. False when full or out of memory. */
static bool room_for_one(struct txn_builder *b, void **arr, uint32_t n, uint32_t *cap, size_t size)
{
	uint32_t want;
	void *grown;

	if (n < *cap)
		return true;
	if (*cap == TXN_LIST_MAX)
		return false;
	want = *cap ? *cap * 2 : 4;
	if (want > TXN_LIST_MAX)
		want = TXN_LIST_MAX;
	if (!(grown = realloc(*arr, want * size))) {
		oom(b);
		return false;
	}
	*arr = grown;
	*cap = want;
	return true;
}

/* set: an item already there is not added again */
static void list_add(struct txn_builder *b, struct txn_list *l, const uint8_t *p, size_t len,
		     bool set)
{
	if (set)
		for (uint32_t i = 0; i < l->n; i++)
			if (bytes_eq(l->item[i], p, len > TXN_STR_MAX ? TXN_STR_MAX : len))
				return;
	if (!room_for_one(b, (void **)&l->item, l->n, &l->cap, sizeof(*l->item)))
		return;
	l->item[l->n] = str_dup(b, p, len);
	if (l->item[l->n].ptr)
		l->n++;
}

/* In the order the files began: the whole message's file, logged after its
 * parts, comes first (Zeek's fuids). */
static void add_fuid(struct txn_builder *b, const struct file_info *f)
{
	struct txn_list *l = &b->t.fuids;
	uint32_t n = l->n;

	list_add(b, l, (const uint8_t *)f->fuid, strnlen(f->fuid, sizeof(f->fuid)), false);
	if (f->whole_message && l->n > n && n > 0) {
		struct bytes whole = l->item[n];

		memmove(&l->item[1], &l->item[0], n * sizeof(*l->item));
		l->item[0] = whole;
	}
}

static void list_free(struct txn_list *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		str_free(&l->item[i]);
	free(l->item);
	*l = (struct txn_list){0};
}

static void record_free(struct smtp_transaction *t)
{
	/* helo is not owned: the builder lends its own at write time */
	struct bytes *strs[] = {&t->mailfrom,	    &t->date,
				&t->from,	    &t->reply_to,
				&t->msg_id,	    &t->in_reply_to,
				&t->subject,	    &t->x_originating_ip,
				&t->first_received, &t->second_received,
				&t->last_reply,	    &t->user_agent,
				&t->queue_id,	    &t->subject_decoded};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		str_free(strs[i]);
	list_free(&t->rcptto);
	list_free(&t->to);
	list_free(&t->cc);
	list_free(&t->path);
	list_free(&t->fuids);
	for (uint32_t i = 0; i < t->nrcpt_status; i++) {
		str_free(&t->rcpt_status[i].addr);
		str_free(&t->rcpt_status[i].text);
	}
	free(t->rcpt_status);
	memset(t, 0, sizeof(*t));
}

/* ---- Zeek's address rules (reference b.2) --------------------------------- */

static bool in_set(uint8_t c, const char *set)
{
	return c && strchr(set, c);
}

#define ADDR_BEFORE "<,: \t" /* may precede an address; not in its local part */
#define ADDR_AFTER  ">,; \t" /* may follow it; not in its domain */

/* extract_email_addrs_vec: at each position the longest match of
 * (^|[<,:blank])[^<,:blank@]+@[^>,;blank]+([>,;blank]|$); the next search
 * starts after the match, its delimiters are stripped. */
bool txn_first_addr(struct bytes s, size_t *from, struct bytes *addr)
{
	for (size_t i = *from; i < s.len; i++) {
		size_t j = i, k, d;

		if (in_set(s.ptr[i], ADDR_BEFORE))
			j++;
		else if (i > 0)
			continue;
		for (k = j; k < s.len && !in_set(s.ptr[k], ADDR_BEFORE) && s.ptr[k] != '@'; k++)
			;
		if (k == j || k == s.len || s.ptr[k] != '@')
			continue;
		for (d = k + 1; d < s.len && !in_set(s.ptr[d], ADDR_AFTER); d++)
			;
		if (d == k + 1)
			continue;
		*addr = (struct bytes){s.ptr + j, d - j};
		*from = d < s.len ? d + 1 : d;
		return true;
	}
	*from = s.len;
	return false;
}

static bool prefix_ci(struct bytes s, const char *p)
{
	size_t n = strlen(p);

	return s.len >= n && !strncasecmp((const char *)s.ptr, p, n);
}

static bool name_is(struct bytes s, const char *name)
{
	return s.len == strlen(name) && prefix_ci(s, name);
}

/* RCPT addresses lose "ORCPT=rfc822;" (or without ';'), everywhere in them */
static void add_rcptto(struct txn_builder *b, struct bytes addr)
{
	static const char orcpt[] = "ORCPT=rfc822";
	uint8_t buf[TXN_STR_MAX];
	size_t n = 0;

	for (size_t i = 0; i < addr.len && n < sizeof(buf);) {
		if (addr.len - i >= sizeof(orcpt) - 1 &&
		    !memcmp(addr.ptr + i, orcpt, sizeof(orcpt) - 1)) {
			i += sizeof(orcpt) - 1;
			if (i < addr.len && addr.ptr[i] == ';')
				i++;
			continue;
		}
		buf[n++] = addr.ptr[i++];
	}
	list_add(b, &b->t.rcptto, buf, n, true);
}

/* [j, c): the part of a To/Cc piece after its optional quoted string; it
 * matches [^,]+@[^,]+ when an '@' has a byte on each side inside it. */
static bool has_inner_at(struct bytes v, size_t j, size_t c)
{
	for (size_t p = j + 1; p + 1 < c; p++)
		if (v.ptr[p] == '@')
			return true;
	return false;
}

static size_t next_comma(struct bytes v, size_t j)
{
	const uint8_t *c = j < v.len ? memchr(v.ptr + j, ',', v.len - j) : NULL;

	return c ? (size_t)(c - v.ptr) : v.len;
}

/* split_mime_email_addresses: pieces matching ("[^"]*")?[^,]+@[^,]+
 * (longest at each position, the next search after the match), trimmed. */
static void add_mime_addrs(struct txn_builder *b, struct txn_list *l, struct bytes v)
{
	size_t i = 0;

	while (i < v.len) {
		size_t end = 0, s, e;
		const uint8_t *q = v.ptr[i] == '"' && i + 1 < v.len
				       ? memchr(v.ptr + i + 1, '"', v.len - i - 1)
				       : NULL;

		if (q) { /* with the quoted string first: the longer match */
			size_t j = (size_t)(q - v.ptr) + 1, c = next_comma(v, j);
			if (has_inner_at(v, j, c))
				end = c;
		}
		if (!end && has_inner_at(v, i, next_comma(v, i)))
			end = next_comma(v, i);
		if (!end) {
			i++;
			continue;
		}
		for (s = i, e = end; s < e && (v.ptr[s] == ' ' || v.ptr[s] == '\t'); s++)
			;
		while (e > s && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t'))
			e--;
		list_add(b, l, v.ptr + s, e - s, true);
		i = end;
	}
}

/* ---- IP addresses in headers (Zeek's extract_ip_addresses) ---------------- */

static bool ip_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == '.' || c == ':';
}

/* The text form Zeek prints for the address in s, "" if s is none. */
static bool ip_text(const uint8_t *s, size_t len, char out[INET6_ADDRSTRLEN])
{
	char tmp[INET6_ADDRSTRLEN];
	uint8_t a[16];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1)
		return inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN) != NULL;
	if (inet_pton(AF_INET6, tmp, a) == 1)
		return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
	return false;
}

/* Up to max addresses of v in order; wrapped: only those between [ ], ( ),
 * { }, two spaces, or making up the whole value. */
static size_t find_ips(struct bytes v, bool wrapped, char out[][INET6_ADDRSTRLEN], size_t max)
{
	size_t n = 0, i = 0;

	while (i < v.len && n < max) {
		size_t s = i, e;
		if (!ip_char(v.ptr[i])) {
			i++;
			continue;
		}
		for (e = s; e < v.len && ip_char(v.ptr[e]); e++)
			;
		i = e;
		if (!ip_text(v.ptr + s, e - s, out[n]))
			continue;
		if (wrapped) {
			uint8_t before = s ? v.ptr[s - 1] : 0, after = e < v.len ? v.ptr[e] : 0;
			bool ok = (s == 0 && e == v.len) || (before == '[' && after == ']') ||
				  (before == '(' && after == ')') ||
				  (before == '{' && after == '}') ||
				  (before == ' ' && after == ' ');
			if (!ok)
				continue;
		}
		n++;
	}
	return n;
}

/* ---- the record ------------------------------------------------------------ */

/* Zeek's path starts as [resp, orig], duplicates kept (loopback). Made when
 * the record gets its first Received: address or is written, not with the
 * record: an idle connection's open record stays small (make bench). */
static void path_begin(struct txn_builder *b)
{
	char addr[INET6_ADDRSTRLEN];

	if (b->t.path.n > 0)
		return;
	format_addr(b->id->family, b->id->resp_h, addr);
	list_add(b, &b->t.path, (const uint8_t *)addr, strlen(addr), false);
	format_addr(b->id->family, b->id->orig_h, addr);
	list_add(b, &b->t.path, (const uint8_t *)addr, strlen(addr), false);
}

static void path_add(struct txn_builder *b, const char *ip)
{
	struct txn_list *l = &b->t.path;

	path_begin(b);
	if (l->n && bytes_eq(l->item[l->n - 1], (const uint8_t *)ip, strlen(ip)))
		return;
	list_add(b, l, (const uint8_t *)ip, strlen(ip), false);
}

static void record_new(struct txn_builder *b, uint64_t ts_ns)
{
	record_free(&b->t);
	b->open = true;
	b->activity = b->finished = b->aborted = false;
	b->reject_code = 0;
	b->rcpt_replied = 0;
	b->messages_begun = 0;
	b->t.ts_ns = ts_ns;
	b->t.trans_depth = b->messages + 1;
	b->t.tls = b->tls;
}

static void ensure_record(struct txn_builder *b, uint64_t ts_ns)
{
	if (!b->open)
		record_new(b, ts_ns);
}

/* Zeek's smtp_message(): written if worth it, then replaced. unfinished: the
 * outcome when neither the end of the message, a refusal nor an earlier
 * abort decided it. Returns whether the record was written. */
static bool record_write(struct txn_builder *b, enum txn_outcome unfinished)
{
	struct event ev = {.type = EV_SMTP_TRANSACTION};

	if (!b->open || !b->activity)
		return false;
	if (!b->finished) {
		b->t.outcome_code = b->reject_code;
		b->t.outcome = b->reject_code ? TXN_REJECTED : b->aborted ? b->abort : unfinished;
	}
	path_begin(b);
	/* The record's helo is the connection's latest, as in Zeek (HELO sets
	 * both): lent for the event, not copied into every record. */
	b->t.helo = b->helo;
	ev.ts_ns = b->t.ts_ns;
	ev.transaction = &b->t;
	b->emit(b->ctx, &ev);
	b->t.helo = (struct bytes){0};
	b->open = false;
	return true;
}

static void set_abort(struct txn_builder *b, enum txn_outcome why)
{
	if (b->open && b->activity && !b->aborted) {
		b->aborted = true;
		b->abort = why;
	}
}

/* The reply that ends the message: the record gets its outcome and is
 * written, a fresh one follows (Zeek: new_smtp_log after every "." line). */
static void message_done(struct txn_builder *b, uint64_t ts_ns, uint16_t code, struct bytes msg)
{
	const uint8_t *id;
	size_t len;
	const char *mta;

	b->messages++;
	if (b->activity && !b->finished) {
		b->finished = true;
		b->t.outcome = code >= 200 && code < 300 ? TXN_ACCEPTED : TXN_REJECTED;
		b->t.outcome_code = b->t.outcome == TXN_REJECTED ? code : 0;
		if (b->t.outcome == TXN_ACCEPTED &&
		    queue_id_parse(msg.ptr, msg.len, &id, &len, &mta)) {
			str_set(b, &b->t.queue_id, id, len);
			b->t.queue_id_mta = mta;
		}
	}
	record_write(b, TXN_ABORTED_END);
	record_new(b, ts_ns);
}

static void on_request(struct txn_builder *b, const struct event *ev)
{
	struct bytes cmd = ev->request.command, arg = ev->request.arg, addr;
	size_t from = 0;

	ensure_record(b, ev->ts_ns);
	if (name_is(cmd, "HELO") || name_is(cmd, "EHLO")) {
		str_set(b, &b->helo, arg.ptr, arg.len);
	} else if (name_is(cmd, "RCPT") && prefix_ci(arg, "TO:")) {
		struct txn_rcpt *r = NULL;
		bool any = false;

		if (room_for_one(b, (void **)&b->t.rcpt_status, b->t.nrcpt_status, &b->t.rcpt_cap,
				 sizeof(*b->t.rcpt_status))) {
			r = &b->t.rcpt_status[b->t.nrcpt_status];
			*r = (struct txn_rcpt){0};
		}
		while (txn_first_addr(arg, &from, &addr)) {
			if (!any && r)
				r->addr = str_dup(b, addr.ptr, addr.len);
			any = true;
			add_rcptto(b, addr);
		}
		if (r) {
			if (!any)
				r->addr = str_dup(b, arg.ptr + 3, arg.len - 3);
			b->t.nrcpt_status++;
		}
		b->activity = true;
	} else if (name_is(cmd, "MAIL") && prefix_ci(arg, "FROM:")) {
		if (record_write(b, TXN_ABORTED_MAIL))
			record_new(b, ev->ts_ns);
		b->aborted = false;
		b->reject_code = 0;
		if (txn_first_addr(arg, &from, &addr))
			str_set(b, &b->t.mailfrom, addr.ptr, addr.len);
		b->activity = true;
	} else if (name_is(cmd, "RSET")) {
		set_abort(b, TXN_ABORTED_RSET);
	} else if (name_is(cmd, "QUIT")) {
		set_abort(b, TXN_ABORTED_QUIT);
	} else if (name_is(cmd, "BDAT") && arg.len >= 5 &&
		   !memcmp(arg.ptr + arg.len - 5, " LAST", 5)) {
		b->bdat_last = true; /* Zeek's script: upper-case LAST only (reference b.1) */
	}
}

static void on_reply(struct txn_builder *b, const struct event *ev)
{
	struct bytes cmd = ev->reply.cmd, msg = ev->reply.msg;
	uint16_t code = ev->reply.code;
	char head[8];
	int n = snprintf(head, sizeof(head), "%u ", code);
	uint8_t line[TXN_STR_MAX];
	size_t len = msg.len < sizeof(line) - (size_t)n ? msg.len : sizeof(line) - (size_t)n;

	ensure_record(b, ev->ts_ns);
	memcpy(line, head, (size_t)n);
	memcpy(line + n, msg.ptr, len);
	str_set(b, &b->t.last_reply, line, (size_t)n + len);
	if (name_is(cmd, ".")) {
		message_done(b, ev->ts_ns, code, msg);
		return;
	}
	if (ev->reply.cont_resp)
		return;
	if (name_is(cmd, "RCPT") && b->rcpt_replied < b->t.nrcpt_status) {
		struct txn_rcpt *r = &b->t.rcpt_status[b->rcpt_replied++];
		r->code = code;
		r->text = str_dup(b, msg.ptr, msg.len);
	} else if ((name_is(cmd, "MAIL") || name_is(cmd, "DATA") || name_is(cmd, "BDAT")) &&
		   code >= 400 && b->activity && !b->reject_code) {
		b->reject_code = code;
	}
	if (name_is(cmd, "BDAT") && b->bdat_last) {
		b->bdat_last = false;
		message_done(b, ev->ts_ns, code, msg);
	}
}

void txn_observe(struct txn_builder *b, const struct event *ev)
{
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		on_request(b, ev);
		break;
	case EV_SMTP_REPLY:
		on_reply(b, ev);
		break;
	case EV_SMTP_STARTTLS:
		b->tls = true;
		if (b->open) {
			b->t.tls = true;
			b->activity = true;
			set_abort(b, TXN_ABORTED_TLS);
		}
		break;
	case EV_CONTENT_GAP:
		set_abort(b, TXN_ABORTED_GAP);
		break;
	case EV_FILE:
		if (b->open)
			add_fuid(b, &ev->file);
		break;
	default:
		break;
	}
}

void txn_header(struct txn_builder *b, struct bytes name, struct bytes value)
{
	struct smtp_transaction *t = &b->t;
	char ips[2][INET6_ADDRSTRLEN];
	size_t n;

	if (!b->open || b->messages_begun > 1)
		return;
	if (name_is(name, "DATE"))
		str_set(b, &t->date, value.ptr, value.len);
	else if (name_is(name, "FROM"))
		str_set(b, &t->from, value.ptr, value.len);
	else if (name_is(name, "TO"))
		add_mime_addrs(b, &t->to, value);
	else if (name_is(name, "CC"))
		add_mime_addrs(b, &t->cc, value);
	else if (name_is(name, "REPLY-TO"))
		str_set(b, &t->reply_to, value.ptr, value.len);
	else if (name_is(name, "MESSAGE-ID"))
		str_set(b, &t->msg_id, value.ptr, value.len);
	else if (name_is(name, "IN-REPLY-TO"))
		str_set(b, &t->in_reply_to, value.ptr, value.len);
	else if (name_is(name, "SUBJECT")) {
		uint8_t decoded[TXN_STR_MAX];
		size_t n = ew_decode_2047(value.ptr, value.len, decoded, sizeof(decoded));

		str_set(b, &t->subject, value.ptr, value.len);
		str_set(b, &t->subject_decoded, decoded, n);
	} else if (name_is(name, "X-ORIGINATING-IP")) {
		if (find_ips(value, false, ips, 1))
			str_set(b, &t->x_originating_ip, (const uint8_t *)ips[0], strlen(ips[0]));
	} else if (name_is(name, "X-MAILER") || name_is(name, "USER-AGENT") ||
		   name_is(name, "X-USER-AGENT"))
		str_set(b, &t->user_agent, value.ptr, value.len);
	else if (name_is(name, "RECEIVED")) {
		/* the last Received: is the first hop */
		if (t->first_received.ptr) {
			str_free(&t->second_received);
			t->second_received = t->first_received;
			t->first_received = (struct bytes){0};
		}
		str_set(b, &t->first_received, value.ptr, value.len);
		n = find_ips(value, true, ips, 2);
		if (n)
			path_add(b, ips[n > 1 ? 1 : 0]);
	}
}

void txn_message_begin(struct txn_builder *b)
{
	if (b->open) {
		b->messages_begun++;
		b->t.body_counted = true;
	}
}

void txn_body_bytes(struct txn_builder *b, uint64_t len)
{
	if (b->open) {
		b->t.body_counted = true;
		b->t.body_bytes += len;
	}
}

void txn_finish(struct txn_builder *b)
{
	record_write(b, TXN_ABORTED_END);
}

struct txn_builder *txn_builder_new(const struct conn_id *id, txn_emit_fn emit, void *ctx)
{
	struct txn_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->id = id;
	b->emit = emit;
	b->ctx = ctx;
	return b;
}

void txn_builder_free(struct txn_builder *b)
{
	if (!b)
		return;
	record_free(&b->t);
	str_free(&b->helo);
	free(b);
}
