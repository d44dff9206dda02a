// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_mime.c - the MIME stage driven with content callbacks as the SMTP
 * stage gives them (smtp.h): the header hook, the file events (sizes,
 * digests, sniffed and declared types, names, Zeek's depth numbers), the
 * limits and their weirds, gaps and skipped bodies, RFC 2047/2231 decoding.
 *
 * Every event is rendered as one line:
 *   hdr 1 [Subject] [hello]                    header hook: trans_depth name value
 *   file 3 seen=16 miss=0 [text/plain] [text/plain] [a.txt] md5=... sha1=...
 *        depth, seen_bytes, missing_bytes, mime_type, declared type, filename
 *   file 3 unseen [-] [multipart/mixed] [-]    content_seen false
 *   weird exceeded_mime_max_depth [100]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "mime/encoded_words.h"
#include "mime/mime.h"

struct rec {
	char *text;
	size_t len, cap;
	size_t files, weirds;
};

static void put(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		r->text = realloc(r->text, r->cap);
		assert_non_null(r->text);
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void putf(struct rec *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	put(r, buf, (size_t)n);
}

static void put_bytes(struct rec *r, struct bytes b)
{
	if (!b.ptr) {
		put(r, "[-]", 3);
		return;
	}
	put(r, "[", 1);
	for (size_t i = 0; i < b.len; i++) {
		if (b.ptr[i] >= 0x20 && b.ptr[i] < 0x7f)
			put(r, (const char *)&b.ptr[i], 1);
		else
			putf(r, "\\x%02x", b.ptr[i]);
	}
	put(r, "]", 1);
}

static void put_hex(struct rec *r, const char *name, const uint8_t *d, size_t n)
{
	if (!d)
		return;
	putf(r, " %s=", name);
	for (size_t i = 0; i < n; i++)
		putf(r, "%02x", d[i]);
}

struct t {
	struct config cfg;
	struct conn_id id;
	struct rec rec;
	struct mime *mime;
	uint32_t trans_depth;
	uint64_t now;
};

static void on_event(void *ctx, struct event *ev)
{
	struct t *t = ctx;
	struct rec *r = &t->rec;
	const struct file_info *f = &ev->file;

	switch (ev->type) {
	case EV_FILE:
		r->files++;
		assert_true(ev->is_orig);
		assert_int_equal(f->fuid[0], 'F');
		assert_int_equal(strlen(f->fuid), 18);
		assert_int_equal(f->trans_depth, t->trans_depth);
		putf(r, "file %u ", f->depth);
		if (f->content_seen)
			putf(r, "seen=%llu miss=%llu ", (unsigned long long)f->seen_bytes,
			     (unsigned long long)f->missing_bytes);
		else
			putf(r, "unseen ");
		put_bytes(r, f->mime_type);
		put(r, " ", 1);
		put_bytes(r, f->declared_type);
		put(r, " ", 1);
		put_bytes(r, f->filename);
		put_hex(r, "md5", f->md5, 16);
		put_hex(r, "sha1", f->sha1, 20);
		put_hex(r, "sha256", f->sha256, 32);
		break;
	case EV_WEIRD:
		r->weirds++;
		putf(r, "weird %s ", ev->weird.name);
		put_bytes(r, ev->weird.addl);
		break;
	default:
		fail_msg("unexpected event %d", ev->type);
	}
	put(r, "\n", 1);
}

static void on_header(void *ctx, const struct mime_header *h)
{
	struct t *t = ctx;

	assert_ptr_equal(h->id, &t->id);
	assert_true(h->is_orig);
	putf(&t->rec, "hdr %u ", h->trans_depth);
	put_bytes(&t->rec, h->name);
	put(&t->rec, " ", 1);
	put_bytes(&t->rec, h->value);
	put(&t->rec, "\n", 1);
}

static struct t *t_new(bool files, unsigned hashes)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	config_defaults(&t->cfg);
	t->cfg.files = files;
	t->cfg.file_hashes = hashes;
	strcpy(t->id.uid, "CtestUid000000001");
	t->mime = mime_new(&t->cfg, NULL, on_event, t);
	assert_non_null(t->mime);
	mime_set_header_hook(t->mime, on_header, t);
	return t;
}

static void t_free(struct t *t)
{
	mime_free(t->mime);
	free(t->rec.text);
	free(t);
}

static void content(struct t *t, enum smtp_content_kind kind, const uint8_t *p, size_t n,
		    uint64_t len, bool complete)
{
	struct smtp_content c = {
	    .kind = kind,
	    .id = &t->id,
	    .is_orig = true,
	    .complete = complete,
	    .trans_depth = t->trans_depth,
	    .line = {p, n},
	    .len = len,
	};

	mime_content(t->mime, &c, t->now++);
}

static void begin(struct t *t)
{
	t->trans_depth++;
	content(t, SMTP_CONTENT_BEGIN, NULL, 0, 0, false);
}

static void end(struct t *t)
{
	content(t, SMTP_CONTENT_END, NULL, 0, 0, true);
}

/* The text cut into lines at CR LF (or LF), as the SMTP stage passes them. */
static void lines(struct t *t, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *lf = strchr(p, '\n');
		size_t n = lf ? (size_t)(lf - p) : strlen(p);

		content(t, SMTP_CONTENT_LINE, (const uint8_t *)p, n && p[n - 1] == '\r' ? n - 1 : n,
			0, false);
		p += n + (lf != NULL);
	}
}

static void message(struct t *t, const char *text)
{
	begin(t);
	lines(t, text);
	end(t);
}

static void expect(struct t *t, const char *want)
{
	assert_string_equal(t->rec.text ? t->rec.text : "", want);
	t->rec.len = 0;
	if (t->rec.text)
		t->rec.text[0] = '\0';
}

/* ---- header hook --------------------------------------------------------- */

static const char mixed[] = "From: Alice <a@example.com>\r\n"
			    "Subject: =?utf-8?Q?caf=C3=A9?= and\r\n"
			    "\tmore\r\n"
			    "(comment) : no name\r\n"
			    "no colon here\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
			    "\r\n"
			    "preamble\r\n"
			    "--b1\r\n"
			    "Content-Type: text/plain\r\n"
			    "X-Part: not top-level\r\n"
			    "\r\n"
			    "this is the body\r\n"
			    "--b1\r\n"
			    "Content-Type: application/octet-stream; name=\"ignored.bin\"\r\n"
			    "Content-Disposition: attachment; filename=\"a b.txt\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n"
			    "\r\n"
			    "aGVsbG8gd29y\r\n"
			    "bGQK\r\n"
			    "--b1--\r\n"
			    "epilogue\r\n";

/* Top-level headers only, unfolded, in order; lines without a colon and
 * part headers are not delivered. The parts are files: the CR LF before a
 * boundary is not content; depth counts entities on the connection. */
static void test_headers_and_parts(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_MD5 | FILE_HASH_SHA1);

	message(t, mixed);
	expect(t, "hdr 1 [From] [Alice <a@example.com>]\n"
		  "hdr 1 [Subject] [=?utf-8?Q?caf=C3=A9?= and\\x09more]\n"
		  "hdr 1 [MIME-Version] [1.0]\n"
		  "hdr 1 [Content-Type] [multipart/mixed; boundary=\"b1\"]\n"
		  /* digests as md5sum and sha1sum give them for "this is the
		   * body" and "hello world\n" */
		  "file 2 seen=16 miss=0 [text/plain] [text/plain] [-]"
		  " md5=91b74f83e6fdd148d9083113b96bcbb3"
		  " sha1=7c6673c4fbb114a2d9b9a07ccd95504a901e582b\n"
		  "file 3 seen=12 miss=0 [text/plain] [application/octet-stream] [a b.txt]"
		  " md5=6f5902ac237024bdd0c176cb93063dc4"
		  " sha1=22596363b3de40b06f981fb85d82312e8c0ed511\n");
	t_free(t);
}

/* With files off the header hook still works; nothing else happens. */
static void test_headers_without_files(void **state)
{
	(void)state;
	struct t *t = t_new(false, FILE_HASH_MD5);

	message(t, mixed);
	expect(t, "hdr 1 [From] [Alice <a@example.com>]\n"
		  "hdr 1 [Subject] [=?utf-8?Q?caf=C3=A9?= and\\x09more]\n"
		  "hdr 1 [MIME-Version] [1.0]\n"
		  "hdr 1 [Content-Type] [multipart/mixed; boundary=\"b1\"]\n");
	assert_int_equal(t->rec.files, 0);
	message(t, "Subject: second\r\n\r\nbody\r\n");
	expect(t, "hdr 2 [Subject] [second]\n");
	t_free(t);
}

/* ---- decoding ------------------------------------------------------------ */

/* Quoted-printable as Zeek decodes it: soft breaks, =XY, trailing blanks
 * dropped, every hard line break a CR LF (in a part too); base64 across
 * lines; a top-level non-multipart body keeps its last CR LF. */
static void test_encodings(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_MD5);

	message(t, "Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
		   "--xx\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		   "caf=C3=A9 =\r\n"
		   "and more   \r\n"
		   "--xx\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n"
		   "aGVs\r\n"
		   "bG8=\r\n"
		   "--xx--\r\n");
	/* "caf\xc3\xa9 and more\r\n" (not plain text for Zeek: a byte
	 * above 127 in the first ten) and "hello"; md5sum gives the digests */
	expect(t, "hdr 1 [Content-Type] [multipart/mixed; boundary=xx]\n"
		  "file 2 seen=16 miss=0 [-] [-] [-] md5=505e5e80e5e4f856ef5aa800c86d636b\n"
		  "file 3 seen=5 miss=0 [-] [-] [-] md5=5d41402abc4b2a76b9719d911017c592\n");
	message(t, "Subject: x\r\n\r\nline one\r\nline two\r\n");
	expect(t,
	       "hdr 2 [Subject] [x]\n"
	       "file 4 seen=20 miss=0 [text/plain] [-] [-] md5=a775daabdb44c57a65eaadeef4edfe51\n");
	t_free(t);
}

/* An attached message is parsed (its parts are files, its headers are not
 * top-level); invalid base64 is one weird per entity and decodes what it
 * can; a multipart without its closing boundary ends with the message. */
static void test_nested_message_and_bad_base64(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_SHA1);

	message(t, "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
		   "--o\r\n"
		   "Content-Type: message/rfc822\r\n\r\n"
		   "Subject: inner\r\n"
		   "Content-Type: multipart/alternative; boundary=i\r\n\r\n"
		   "--i\r\n\r\n"
		   "inner text here\r\n"
		   "--i\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n"
		   "aGVs!bG8=\r\n"
		   "d29y\r\n"
		   "--o\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n"
		   "aGVsbG\r\n");
	/* entities: 1 top, 2 message/rfc822, 3 inner message, 4 and 5 its
	 * parts, 6 the last part (unterminated) */
	expect(
	    t,
	    "hdr 1 [Content-Type] [multipart/mixed; boundary=\"o\"]\n"
	    "file 4 seen=15 miss=0 [text/plain] [-] [-]"
	    " sha1=df29e9823485318a0db877ca70a8bf84e4ef2bac\n"
	    /* only the first anomaly of an entity, as Zeek; the group
	     * after the padding is ignored: "hello" */
	    "weird base64_illegal_encoding [character 33 ignored by Base64 decoding]\n"
	    "file 5 seen=5 miss=0 [-] [-] [-] sha1=aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\n"
	    "weird base64_illegal_encoding [incomplete base64 group, padding with 12 bits of 0]\n"
	    "file 6 seen=4 miss=0 [-] [-] [-] sha1=a5cec7af5f7aab769cf0d4aa440e01c7bfc371b2\n");
	t_free(t);
}

/* Base64 the way mailers write it (76 digits a line, encoded here by
 * OpenSSL's EVP_EncodeBlock) decodes to the bytes encoded, whatever line of
 * it carries a character to ignore at any of its first 16 places, where the
 * decoder's fast path takes eight digits at a time. */
static void test_base64_lines(void **state)
{
	enum { BYTES = 3000, PER_LINE = 57 };
	uint8_t raw[BYTES], md[EVP_MAX_MD_SIZE];
	char want[2 * 16 + 8] = "md5=";
	unsigned mdlen = 0;
	uint32_t seed = 12345;

	(void)state;
	for (size_t i = 0; i < BYTES; i++) {
		seed = seed * 1103515245u + 12345u;
		raw[i] = (uint8_t)(seed >> 16);
	}
	assert_true(EVP_Digest(raw, BYTES, md, &mdlen, EVP_md5(), NULL));
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(want + 4 + 2 * i, 3, "%02x", md[i]);
	for (int bad_at = -1; bad_at < 16; bad_at++) {
		struct t *t = t_new(true, FILE_HASH_MD5);

		begin(t);
		lines(t, "Content-Transfer-Encoding: base64\r\n\r\n");
		for (size_t off = 0; off < BYTES; off += PER_LINE) {
			char line[2 * PER_LINE + 2];
			size_t n = BYTES - off < PER_LINE ? BYTES - off : PER_LINE;
			int len = EVP_EncodeBlock((uint8_t *)line, raw + off, (int)n);

			if (off == 10 * PER_LINE && bad_at >= 0) {
				memmove(line + bad_at + 1, line + bad_at, (size_t)len - bad_at);
				line[bad_at] = '!';
				len++;
			}
			content(t, SMTP_CONTENT_LINE, (const uint8_t *)line, (size_t)len, 0, false);
		}
		end(t);
		assert_non_null(strstr(t->rec.text, "seen=3000 "));
		assert_non_null(strstr(t->rec.text, want));
		assert_true((bad_at >= 0) == (strstr(t->rec.text, "character 33 ignored") != NULL));
		t_free(t);
	}
}

/* ---- limits, gaps, skipped bodies ----------------------------------------- */

/* 10 000 nested multiparts: entities stop at Zeek's depth (one weird),
 * nothing below is parsed; memory stays bounded (ASan in make san). */
static void test_depth_limit(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_MD5);
	char line[96];

	begin(t);
	for (int i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		lines(t, line);
	}
	lines(t, "\r\ndeep body\r\n");
	end(t);
	expect(t, "hdr 1 [Content-Type] [multipart/mixed; boundary=b0]\n"
		  "weird exceeded_mime_max_depth [100]\n");
	t_free(t);
}

/* A header of 200 continuation lines: kept up to MIME_MAX_HEADER_BYTES, one
 * weird; a header line longer than that is cut. */
static void test_header_limit(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_MD5);
	size_t big = 3 * MIME_MAX_HEADER_BYTES;
	uint8_t *line = malloc(big);

	assert_non_null(line);
	begin(t);
	lines(t, "X-Long: start\r\n");
	memset(line, 'a', 1000);
	line[0] = ' ';
	for (int i = 0; i < 200; i++)
		content(t, SMTP_CONTENT_LINE, line, 1000, 0, false);
	memcpy(line, "X-Huge: ", 8);
	memset(line + 8, 'h', big - 8);
	content(t, SMTP_CONTENT_LINE, line, big, 0, false);
	free(line);
	lines(t, "\r\nbody text here\r\n");
	end(t);
	assert_int_equal(t->rec.weirds, 2);
	assert_non_null(strstr(t->rec.text, "weird exceeded_mime_max_header_bytes [66013]\n"));
	assert_non_null(strstr(t->rec.text, "weird exceeded_mime_max_header_bytes [196608]\n"));
	assert_non_null(strstr(t->rec.text, "file 1 seen=16 miss=0 [text/plain]"));
	t_free(t);
}

/* A gap: the entity being read gets the missing bytes and no digests; the
 * message ends there. Skipped bytes: the record says not seen, without
 * sizes or digests, and nothing after them is parsed. */
static void test_gap_and_skip(void **state)
{
	(void)state;
	struct t *t = t_new(true, FILE_HASH_MD5 | FILE_HASH_SHA256);
	const char *head =
	    "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\npart one\r\n";

	begin(t);
	lines(t, head);
	content(t, SMTP_CONTENT_GAP, NULL, 0, 1234, false);
	content(t, SMTP_CONTENT_END, NULL, 0, 0, false);
	expect(t, "hdr 1 [Content-Type] [multipart/mixed; boundary=z]\n"
		  "file 2 seen=8 miss=1234 [-] [-] [-]\n");

	begin(t);
	lines(t, head);
	content(t, SMTP_CONTENT_SKIPPED, NULL, 0, 50000, false);
	lines(t, "--z\r\n\r\nafter the skip\r\n--z--\r\n");
	end(t);
	expect(t, "hdr 2 [Content-Type] [multipart/mixed; boundary=z]\n"
		  "file 4 unseen [-] [-] [-]\n");

	/* skipped right after the top-level header block */
	begin(t);
	lines(t, "Subject: s\r\n\r\n");
	content(t, SMTP_CONTENT_SKIPPED, NULL, 0, 50000, false);
	end(t);
	expect(t, "hdr 3 [Subject] [s]\nfile 5 unseen [-] [-] [-]\n");
	t_free(t);
}

/* ---- names ------------------------------------------------------------------ */

static void check_param(const char *value, const char *name, const char *want)
{
	uint8_t out[256];
	size_t n = ew_param_value((const uint8_t *)value, strlen(value), name, out, sizeof(out));

	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void check_2047(const char *in, const char *want)
{
	uint8_t out[256];
	size_t n = ew_decode_2047((const uint8_t *)in, strlen(in), out, sizeof(out));

	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void test_filenames(void **state)
{
	(void)state;
	check_param("attachment; filename=\"a \\\"b\\\".txt\"", "filename", "a \"b\".txt");
	check_param("attachment; filename=plain.txt; size=3", "filename", "plain.txt");
	check_param("text/plain; name=x; filename=y", "filename", "y");
	check_param("attachment; FileName = spaced.txt", "filename", "spaced.txt");
	check_param("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf", "filename",
		    "\xe2\x82\xac rates.pdf");
	check_param("attachment; filename*=iso-8859-1'en'caf%E9.txt", "filename",
		    "caf\xc3\xa9.txt");
	/* continuations, the extended form winning over the plain one */
	check_param("attachment; filename=\"fallback.txt\"; filename*0*=utf-8''%C3%A9t; "
		    "filename*1=\"e report\"; filename*2*=%2Edoc",
		    "filename", "\xc3\xa9te report.doc");
	/* encoded words in a plain value, as mail clients write them */
	check_param("attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"", "filename",
		    "\xc3\xa9t\xc3\xa9.pdf");
	check_param("attachment", "filename", "");
	check_param("attachment; name=n", "filename", "");
	/* unknown charset: bytes kept */
	check_param("a; filename*=x-nonesuch''%41%FF", "filename", "A\xff");

	check_2047("=?utf-8?Q?caf=C3=A9?= and =?ISO-8859-1?q?d=E9j=E0_vu?=",
		   "caf\xc3\xa9 and d\xc3\xa9j\xc3\xa0 vu");
	check_2047("=?utf-8?B?SGVs?= \r\n =?utf-8?B?bG8=?= x", "Hello x");
	check_2047("=?utf-8?Q?not closed", "=?utf-8?Q?not closed");
	check_2047("=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
}

/* Decoding into a full buffer never writes past it: a byte iconv rejects
 * right where the output is full (fuzz_mime found the overflow), and white
 * space held after a word that fills it. */
static void test_2047_full_output(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    /* "UTF8" is not spelled as the fast path's "utf-8": iconv converts */
	    {"=?UTF8?Q?abcd=FF?=", "abcd"},
	    {"=?utf-8?Q?abcd?= x", "abcd"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[8];
		size_t n;

		memset(out, '#', sizeof(out));
		n = ew_decode_2047((const uint8_t *)cases[i].in, strlen(cases[i].in), out, 4);
		assert_int_equal(n, strlen(cases[i].want));
		assert_memory_equal(out, cases[i].want, n);
		assert_memory_equal(out + 4, "####", 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_and_parts),
	    cmocka_unit_test(test_headers_without_files),
	    cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_nested_message_and_bad_base64),
	    cmocka_unit_test(test_base64_lines),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_header_limit),
	    cmocka_unit_test(test_gap_and_skip),
	    cmocka_unit_test(test_filenames),
	    cmocka_unit_test(test_2047_full_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
