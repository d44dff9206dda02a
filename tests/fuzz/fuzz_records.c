// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_records.c - libFuzzer harness for the transaction records
 * (user/records/): the builder fed by the real SMTP state machine and MIME
 * header hook, the queue id parser on every reply, and the JSON and text
 * sinks writing the records.
 *
 * Input: fuzz_smtp's script format (the same seeds work):
 *
 *   [options] { 0x01 'P' 'K' 'T' dir payload }...
 *
 *   options  the first byte before the first record, if any: bit 0 a partial
 *            connection, bit 1 max_line 512
 *   dir      bit 0 from the originator, bit 1 a gap of payload-length bytes
 *            instead of a delivery, bit 2 end of that direction afterwards
 *
 * Every record is checked against its contract (records/transaction.h):
 * strings within TXN_STR_MAX, lists within TXN_LIST_MAX, sets without
 * duplicates, an outcome code only for a rejection, a queue id only for an
 * accepted message and then one the parser accepts; every queue id the
 * parser finds lies inside the reply and is made of id bytes. The sinks'
 * output must be whole lines of valid UTF-8 (check_output.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "mime/mime.h"
#include "output/output.h"
#include "records/queue_id.h"
#include "records/transaction.h"
#include "settings/config.h"
#include "smtp/smtp.h"

#define DIR_ORIG 0x01
#define DIR_GAP	 0x02
#define DIR_END	 0x04

#define OPT_PARTIAL	0x01
#define OPT_SHORT_LINES 0x02

static const uint8_t marker[4] = {0x01, 'P', 'K', 'T'};

static const struct conn_id id = {
    .uid = "CFuzzRecords",
    .family = 4,
    .orig_h = {192, 0, 2, 1},
    .resp_h = {192, 0, 2, 25},
    .orig_p = 40000,
    .resp_p = 25,
    .community_id = "1:fuzz",
};

struct harness {
	struct config cfg;
	struct sink *json, *text;
	struct txn_builder *txn;
	struct mime *mime;
	uint64_t ts_ns;
	uint64_t records;
};

static void check_str(struct bytes b)
{
	CHECK(b.len <= TXN_STR_MAX);
	CHECK(!b.len || b.ptr);
}

static void check_list(const struct txn_list *l, bool set)
{
	CHECK(l->n <= TXN_LIST_MAX);
	for (uint32_t i = 0; i < l->n; i++) {
		check_str(l->item[i]);
		for (uint32_t j = 0; set && j < i; j++)
			CHECK(l->item[i].len != l->item[j].len ||
			      memcmp(l->item[i].ptr, l->item[j].ptr, l->item[i].len));
	}
}

static void check_queue_id(struct bytes msg)
{
	const uint8_t *qid;
	size_t len;
	const char *mta;

	if (!queue_id_parse(msg.ptr, msg.len, &qid, &len, &mta))
		return;
	CHECK(mta && len >= 1 && len <= QUEUE_ID_MAX);
	CHECK(qid >= msg.ptr && qid + len <= msg.ptr + msg.len);
	for (size_t i = 0; i < len; i++)
		CHECK(qid[i] == '.' || qid[i] == '-' || qid[i] == '_' ||
		      (qid[i] >= '0' && qid[i] <= '9') || (qid[i] >= 'a' && qid[i] <= 'z') ||
		      (qid[i] >= 'A' && qid[i] <= 'Z'));
}

static void check_record(const struct smtp_transaction *t)
{
	struct bytes *strs[] = {
	    (struct bytes *)&t->helo,
	    (struct bytes *)&t->mailfrom,
	    (struct bytes *)&t->date,
	    (struct bytes *)&t->from,
	    (struct bytes *)&t->reply_to,
	    (struct bytes *)&t->msg_id,
	    (struct bytes *)&t->in_reply_to,
	    (struct bytes *)&t->subject,
	    (struct bytes *)&t->x_originating_ip,
	    (struct bytes *)&t->first_received,
	    (struct bytes *)&t->second_received,
	    (struct bytes *)&t->last_reply,
	    (struct bytes *)&t->user_agent,
	    (struct bytes *)&t->subject_decoded,
	    (struct bytes *)&t->queue_id,
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		check_str(*strs[i]);
	CHECK(t->trans_depth >= 1);
	check_list(&t->rcptto, true);
	check_list(&t->to, true);
	check_list(&t->cc, true);
	check_list(&t->path, false);
	CHECK(t->path.n >= 2);
	check_list(&t->fuids, false);
	CHECK(t->nrcpt_status <= TXN_LIST_MAX);
	for (uint32_t i = 0; i < t->nrcpt_status; i++) {
		check_str(t->rcpt_status[i].addr);
		check_str(t->rcpt_status[i].text);
		CHECK(t->rcpt_status[i].code <= 999);
	}
	CHECK((unsigned)t->outcome < TXN_OUTCOME_MAX);
	CHECK((t->outcome_code != 0) == (t->outcome == TXN_REJECTED));
	CHECK(!t->queue_id.ptr || (t->outcome == TXN_ACCEPTED && t->queue_id_mta));
	if (t->queue_id.ptr)
		check_queue_id(t->queue_id);
}

static void emit(struct harness *h, struct event *ev)
{
	if (!ev->ts_ns)
		ev->ts_ns = h->ts_ns++;
	ev->id = &id;
	if (ev->type == EV_SMTP_REPLY)
		check_queue_id(ev->reply.msg);
	if (ev->type != EV_SMTP_TRANSACTION)
		txn_observe(h->txn, ev);
	else {
		check_record(ev->transaction);
		h->records++;
	}
	h->json->emit(h->json, ev);
	h->text->emit(h->text, ev);
}

static void on_event(void *ctx, struct event *ev)
{
	emit(ctx, ev);
}

static void on_content(void *ctx, const struct smtp_content *c)
{
	struct harness *h = ctx;

	if (c->kind == SMTP_CONTENT_BEGIN)
		txn_message_begin(h->txn);
	else if (c->kind == SMTP_CONTENT_LINE)
		txn_body_bytes(h->txn, c->line.len + 2);
	mime_content(h->mime, c, h->ts_ns);
}

static void on_header(void *ctx, const struct mime_header *hd)
{
	struct harness *h = ctx;

	txn_header(h->txn, hd->name, hd->value);
}

static const uint8_t *find_marker(const uint8_t *p, const uint8_t *end)
{
	if (end - p < (ptrdiff_t)sizeof(marker))
		return end;
	p = memmem(p, end - p, marker, sizeof(marker));
	return p ? p : end;
}

static void run_script(struct smtp *s, const uint8_t *p, const uint8_t *end)
{
	uint64_t offset[2] = {0, 0};

	while (p < end) {
		const uint8_t *payload, *next;
		uint8_t dir;
		bool orig;

		p += sizeof(marker);
		if (p >= end)
			break;
		dir = *p++;
		orig = dir & DIR_ORIG;
		payload = p;
		next = find_marker(p, end);
		if (dir & DIR_GAP)
			smtp_gap(s, orig, offset[orig], (size_t)(next - payload));
		else
			smtp_deliver(s, orig, payload, (size_t)(next - payload));
		offset[orig] += (size_t)(next - payload);
		if (dir & DIR_END)
			smtp_end_of_direction(s, orig);
		p = next;
	}
}

static void close_and_check(FILE *f, char **buf, size_t *len, int json)
{
	CHECK(fclose(f) == 0);
	check_lines(*buf, *len, json);
	free(*buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *first = find_marker(data, end);
	uint8_t opts = first > data ? data[0] : 0;
	struct harness h = {.ts_ns = 1700000000000000000ull};
	char *json_buf = NULL, *text_buf = NULL;
	size_t json_len = 0, text_len = 0;
	FILE *json_out = open_memstream(&json_buf, &json_len);
	FILE *text_out = open_memstream(&text_buf, &text_len);
	struct smtp *s;

	CHECK(json_out && text_out);
	config_defaults(&h.cfg);
	if (opts & OPT_SHORT_LINES)
		h.cfg.max_line = 512;
	h.json = sink_json_new(json_out);
	h.text = sink_text_new(text_out);
	h.txn = txn_builder_new(&id, on_event, &h);
	h.mime = mime_new(&h.cfg, NULL, on_event, &h);
	s = smtp_new(&h.cfg, opts & OPT_PARTIAL, on_event, &h);
	CHECK(h.json && h.text && h.txn && h.mime && s);
	smtp_set_content_hook(s, &id, on_content, &h);
	mime_set_header_hook(h.mime, on_header, &h);
	run_script(s, first, end);
	smtp_finish(s);
	txn_finish(h.txn);
	smtp_free(s);
	mime_free(h.mime);
	txn_builder_free(h.txn);
	h.json->destroy(h.json);
	h.text->destroy(h.text);
	close_and_check(json_out, &json_buf, &json_len, 1);
	close_and_check(text_out, &text_buf, &text_len, 0);
	return 0;
}
