// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_smtp.c - libFuzzer harness for the SMTP state machine and the sinks.
 *
 * Input format: Zeek's SMTP fuzzer format (its seeds in
 * tests/data/zeek/traces/extras/fuzz-smtp-corpus work as they are),
 * extended so one input is a whole script:
 *
 *   [options] { 0x01 'P' 'K' 'T' dir payload }...
 *
 *   options  bytes before the first record; the first one, if any, is a
 *            bit set: 1 no smtp_data, 2 redact credentials, 4 partial
 *            connection, 8 max_line 512, 16 drop replies from the event mask
 *   dir      bit 0: from the originator (as in Zeek's format); then bit 1: a
 *            gap of payload-length bytes instead of a delivery, bit 2: end
 *            of that direction after the delivery
 *
 * Every event is checked (type wanted, strings bounded by max_line) and
 * written through both sinks into memory; the output must be whole lines of
 * valid UTF-8 without control bytes (check_output.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "settings/config.h"
#include "output/output.h"
#include "smtp/smtp.h"

#define DIR_ORIG 0x01
#define DIR_GAP	 0x02
#define DIR_END	 0x04

#define OPT_NO_DATA	 0x01
#define OPT_REDACT	 0x02
#define OPT_PARTIAL	 0x04
#define OPT_SHORT_LINES	 0x08
#define OPT_MASK_REPLIES 0x10

/* Strings an event carries beyond the line itself (a "state = N" detail). */
#define DETAIL_SLACK 128

static const uint8_t marker[4] = {0x01, 'P', 'K', 'T'};

static const struct conn_id id = {
    .uid = "CFuzzSmtp",
    .family = 4,
    .orig_h = {192, 0, 2, 1},
    .resp_h = {192, 0, 2, 25},
    .orig_p = 40000,
    .resp_p = 25,
};

struct harness {
	struct config cfg;
	struct sink *json, *text;
	uint64_t ts_ns;
};

static void check_bytes(const struct harness *h, struct bytes b)
{
	CHECK(b.len == 0 || b.ptr);
	CHECK(b.len <= h->cfg.max_line + DETAIL_SLACK);
}

static void on_event(void *ctx, struct event *ev)
{
	struct harness *h = ctx;

	CHECK((unsigned)ev->type < EV_TYPE_MAX);
	CHECK(h->cfg.events_mask & EV_MASK(ev->type));
	CHECK(ev->type != EV_SMTP_DATA || h->cfg.emit_data);
	switch (ev->type) {
	case EV_SMTP_REQUEST:
		check_bytes(h, ev->request.command);
		check_bytes(h, ev->request.arg);
		break;
	case EV_SMTP_REPLY:
		CHECK(ev->reply.code <= 999);
		check_bytes(h, ev->reply.cmd);
		check_bytes(h, ev->reply.msg);
		break;
	case EV_SMTP_DATA:
		check_bytes(h, ev->data.data);
		break;
	case EV_SMTP_UNEXPECTED:
		check_bytes(h, ev->unexpected.msg);
		check_bytes(h, ev->unexpected.detail);
		break;
	case EV_WEIRD:
		CHECK(ev->weird.name && ev->weird.name[0]);
		check_bytes(h, ev->weird.addl);
		break;
	default:
		break;
	}
	ev->ts_ns = h->ts_ns++;
	ev->id = &id;
	h->json->emit(h->json, ev);
	h->text->emit(h->text, ev);
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
	uint64_t offset[2] = {0, 0}; /* stream offset per direction, [1] = orig */

	while (p < end) {
		const uint8_t *payload, *next;
		uint8_t dir;
		bool orig;
		size_t len;

		p += sizeof(marker);
		if (p >= end)
			break;
		dir = *p++;
		orig = dir & DIR_ORIG;
		payload = p;
		next = find_marker(p, end);
		len = next - payload;
		if (dir & DIR_GAP) {
			smtp_gap(s, orig, offset[orig], len);
		} else {
			smtp_deliver(s, orig, payload, len);
		}
		offset[orig] += len;
		if (dir & DIR_END)
			smtp_end_of_direction(s, orig);
		(void)smtp_is_tls(s);
		p = next;
	}
}

static void configure(struct config *cfg, uint8_t opts)
{
	config_defaults(cfg);
	cfg->emit_data = !(opts & OPT_NO_DATA);
	cfg->keep_credentials = !(opts & OPT_REDACT);
	if (opts & OPT_SHORT_LINES)
		cfg->max_line = 512;
	if (opts & OPT_MASK_REPLIES)
		cfg->events_mask &= ~EV_MASK(EV_SMTP_REPLY);
}

/* buf and len are only final after fclose(). */
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
	const struct smtp_stats *st;
	struct smtp *s;

	CHECK(json_out && text_out);
	configure(&h.cfg, opts);
	h.json = sink_json_new(json_out);
	h.text = sink_text_new(text_out);
	CHECK(h.json && h.text);
	s = smtp_new(&h.cfg, opts & OPT_PARTIAL, on_event, &h);
	CHECK(s);
	run_script(s, first, end);
	smtp_finish(s);
	st = smtp_stats(s);
	CHECK(st && (!smtp_is_tls(s) || st->tls));
	smtp_free(s);
	h.json->destroy(h.json);
	h.text->destroy(h.text);
	close_and_check(json_out, &json_buf, &json_len, 1);
	close_and_check(text_out, &text_buf, &text_len, 0);
	return 0;
}
