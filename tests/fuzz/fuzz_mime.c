// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_mime.c - libFuzzer harness for the MIME stage (user/mime/): the
 * parser, the decoders, RFC 2047/2231 decoding and the file records.
 *
 * Input: [options] message...
 *
 *   options  the first byte: bit 0 files off, bit 1 sha256 as well, bit 2
 *            the message's lines cut at LF only (a CR stays in the line),
 *            bit 3 a file of each whole message (--message-files)
 *   message  cut into lines at LF (CR LF with bit 2 clear), delivered as the
 *            SMTP stage's content hook does; three control lines act
 *            instead: "\x01G" a gap of 1000 bytes, "\x01S" skipped bytes,
 *            "\x01E" the end of the message and the start of the next.
 *
 * Every event is checked (a file's sizes bounded by the input, strings by
 * the parser's limits, digests only when the content was seen) and written
 * through the JSON and text sinks; their output must be whole lines of
 * valid UTF-8 (check_output.h). Memory is what ASan and libFuzzer's RSS
 * limit bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "mime/encoded_words.h"
#include "mime/mime.h"
#include "output/output.h"

#define OPT_NO_FILES 0x01
#define OPT_SHA256   0x02
#define OPT_LF_ONLY  0x04
#define OPT_MESSAGE  0x08

static const struct conn_id id = {
    .uid = "CFuzzMime",
    .family = 4,
    .orig_h = {192, 0, 2, 1},
    .resp_h = {192, 0, 2, 25},
    .orig_p = 40000,
    .resp_p = 25,
};

struct harness {
	struct config cfg;
	struct sink *json, *text;
	size_t input; /* bytes of the input: bounds what can come out */
};

static void on_event(void *ctx, struct event *ev)
{
	struct harness *h = ctx;

	CHECK(ev->type == EV_FILE || ev->type == EV_WEIRD);
	if (ev->type == EV_FILE) {
		const struct file_info *f = &ev->file;

		CHECK(h->cfg.files);
		CHECK(f->fuid[0] == 'F' && strlen(f->fuid) == 18);
		CHECK(f->depth >= 1);
		CHECK(!f->whole_message ||
		      (h->cfg.message_files && !f->parent_fuid[0] && f->mime_type.len == 14));
		CHECK(f->whole_message || !f->parent_fuid[0] == !h->cfg.message_files);
		/* decoded bytes: at most a line's bytes plus its CR LF */
		CHECK(f->seen_bytes <= 3 * h->input + 2);
		CHECK(f->content_seen || (!f->seen_bytes && !f->md5 && !f->sha1 && !f->sha256));
		CHECK(!f->missing_bytes || (!f->md5 && !f->sha1 && !f->sha256));
		CHECK(!f->mime_type.len || f->mime_type.ptr);
		CHECK(f->filename.len <= 512 && f->declared_type.len < 96);
	} else {
		CHECK(ev->weird.name && ev->weird.name[0]);
	}
	if (!ev->ts_ns)
		ev->ts_ns = 1700000000000000000ull;
	ev->id = &id;
	h->json->emit(h->json, ev);
	h->text->emit(h->text, ev);
}

static void on_header(void *ctx, const struct mime_header *hd)
{
	uint8_t out[256];

	(void)ctx;
	CHECK(hd->id == &id);
	CHECK(hd->name.len > 0 && hd->name.len <= MIME_MAX_HEADER_BYTES);
	CHECK(hd->value.len <= MIME_MAX_HEADER_BYTES);
	/* what a transaction record does with a Subject */
	CHECK(ew_decode_2047(hd->value.ptr, hd->value.len, out, sizeof(out)) <= sizeof(out));
}

static void content(struct mime *m, enum smtp_content_kind kind, const uint8_t *p, size_t n,
		    uint32_t depth)
{
	struct smtp_content c = {
	    .kind = kind,
	    .id = &id,
	    .is_orig = true,
	    .trans_depth = depth,
	    .line = {p, n},
	    .term = {(const uint8_t *)"\r\n", kind == SMTP_CONTENT_LINE ? 2 : 0},
	    .len = kind == SMTP_CONTENT_GAP	  ? 1000
		   : kind == SMTP_CONTENT_SKIPPED ? 5000
						  : 0,
	};

	mime_content(m, &c, 1700000000000000000ull);
}

static void close_and_check(FILE *f, char **buf, size_t *len, int json)
{
	CHECK(fclose(f) == 0);
	check_lines(*buf, *len, json);
	free(*buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t opts = size ? data[0] : 0;
	const uint8_t *p = size ? data + 1 : data, *end = data + size;
	struct harness h = {.input = size};
	char *json_buf = NULL, *text_buf = NULL;
	size_t json_len = 0, text_len = 0;
	FILE *json_out = open_memstream(&json_buf, &json_len);
	FILE *text_out = open_memstream(&text_buf, &text_len);
	uint32_t depth = 1;
	struct mime *m;

	CHECK(json_out && text_out);
	config_defaults(&h.cfg);
	h.cfg.files = !(opts & OPT_NO_FILES);
	h.cfg.message_files = opts & OPT_MESSAGE;
	h.cfg.file_hashes =
	    FILE_HASH_MD5 | FILE_HASH_SHA1 | (opts & OPT_SHA256 ? FILE_HASH_SHA256 : 0);
	h.json = sink_json_new(json_out);
	h.text = sink_text_new(text_out);
	CHECK(h.json && h.text);
	m = mime_new(&h.cfg, NULL, on_event, &h);
	CHECK(m);
	mime_set_header_hook(m, on_header, &h);

	content(m, SMTP_CONTENT_BEGIN, NULL, 0, depth);
	while (p < end) {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf ? (size_t)(lf - p) : (size_t)(end - p);
		size_t len = n;

		if (!(opts & OPT_LF_ONLY) && len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 2 && p[0] == 0x01 && p[1] == 'G') {
			content(m, SMTP_CONTENT_GAP, NULL, 0, depth);
			content(m, SMTP_CONTENT_END, NULL, 0, depth);
			content(m, SMTP_CONTENT_BEGIN, NULL, 0, ++depth);
		} else if (len == 2 && p[0] == 0x01 && p[1] == 'S') {
			content(m, SMTP_CONTENT_SKIPPED, NULL, 0, depth);
		} else if (len == 2 && p[0] == 0x01 && p[1] == 'E') {
			content(m, SMTP_CONTENT_END, NULL, 0, depth);
			content(m, SMTP_CONTENT_BEGIN, NULL, 0, ++depth);
		} else {
			content(m, SMTP_CONTENT_LINE, p, len, depth);
		}
		p += n + (lf != NULL);
	}
	content(m, SMTP_CONTENT_END, NULL, 0, depth);
	mime_free(m);
	h.json->destroy(h.json);
	h.text->destroy(h.text);
	close_and_check(json_out, &json_buf, &json_len, 1);
	close_and_check(text_out, &text_buf, &text_len, 0);
	return 0;
}
