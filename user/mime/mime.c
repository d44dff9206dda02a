// SPDX-License-Identifier: GPL-2.0-only
/*
 * mime.c - the MIME entity tree of one message at a time (contract in
 * mime.h). The behaviour follows Zeek's MIME_Entity: an entity is a header
 * block then a body; a multipart body is cut at its boundary lines into
 * child entities, a message/... body is one child entity, any other body is
 * decoded (base64, quoted-printable, or taken as it is) into a file. Every
 * multipart on the way down checks each line for its boundary first, so an
 * outer boundary ends whatever is open inside it.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/encoded_words.h"
#include "mime/files.h"
#include "mime/mime.h"

enum mime_type {
	TYPE_TEXT = 0, /* the default: text/plain */
	TYPE_MULTIPART,
	TYPE_MESSAGE,
	TYPE_OTHER,
};

enum mime_encoding {
	ENC_OTHER = 0, /* 7bit, 8bit, binary or unknown: bytes as they are */
	ENC_QP,
	ENC_BASE64,
};

#define DECLARED_TYPE_MAX  96	/* "type/subtype" kept for the file record */
#define FILENAME_MAX_BYTES 512	/* decoded file name kept for the file record */
#define HDR_KEEP	   1024 /* header buffer kept between messages */

struct entity {
	struct entity *parent, *child;
	uint32_t level;	 /* nesting: 0 for the message itself */
	uint32_t number; /* Zeek's files.log depth: entities begun on the connection */
	bool in_header, ended;
	bool closed;	   /* end_entity is done: its file, if any, was closed */
	bool crlf_pending; /* the line break before the next line (multipart parts) */
	uint8_t type, encoding;
	uint8_t *boundary; /* multipart: the delimiter without its leading "--" */
	size_t boundary_len;
	/* base64 decoder state (Zeek's Base64Converter): digits of the group */
	uint32_t b64_acc;
	uint8_t b64_n, b64_pad;
	bool b64_after_pad, b64_reported;
	struct mime_file *file; /* opened at its first byte (or gap) */
	size_t declared_len, filename_len;
	char declared[DECLARED_TYPE_MAX];
	uint8_t filename[FILENAME_MAX_BYTES];
};

struct mime {
	const struct config *cfg;
	struct digest_worker *digester;
	smtp_emit_fn emit;
	void *ctx;
	mime_header_fn header_fn;
	void *header_ctx;
	uint32_t entities; /* begun on the connection (Zeek's files.log depth) */
	/* the message being parsed */
	struct entity *top;
	struct mime_file *message; /* its whole-message file (cfg->message_files) */
	const struct conn_id *id;
	uint32_t trans_depth;
	bool is_orig;
	bool frozen; /* bytes were skipped: what follows cannot be placed */
	uint64_t now;
	/* the header being read, folded lines joined: grown up to
	 * MIME_MAX_HEADER_BYTES, back to HDR_KEEP after each message */
	uint8_t *hdr;
	size_t hdr_len, hdr_cap;
	bool hdr_open;
	bool hdr_limit_reported; /* one exceeded_mime_max_header_bytes per header */
	bool depth_reported;	 /* one exceeded_mime_max_depth per message */
	uint64_t hdr_total;	 /* bytes offered, kept or not: Zeek's count */
};

/* ---- events -------------------------------------------------------------- */

static void weird(struct mime *m, const char *name, const char *addl)
{
	struct event ev = {.type = EV_WEIRD, .is_orig = m->is_orig};

	ev.weird.name = name;
	ev.weird.addl = (struct bytes){(const uint8_t *)addl, strlen(addl)};
	m->emit(m->ctx, &ev);
}

static void weird_count(struct mime *m, const char *name, uint64_t n)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	weird(m, name, buf);
}

/* ---- small lexers (RFC 2045 tokens, RFC 822 comments) --------------------- */

static bool is_lws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool equals_nocase(const uint8_t *p, size_t n, const char *word)
{
	size_t wn = strlen(word);

	if (n != wn)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != (uint8_t)word[i])
			return false;
	return true;
}

static bool is_tspecial(uint8_t c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

static bool is_token_char(uint8_t c)
{
	return c >= 33 && c <= 126 && !is_tspecial(c);
}

/* White space and (nested) comments from p; returns the new position. */
static size_t skip_lws_comments(const uint8_t *p, size_t n, size_t i)
{
	while (i < n) {
		if (is_lws(p[i])) {
			i++;
		} else if (p[i] == '(') {
			int depth = 0;

			for (; i < n; i++) {
				if (p[i] == '\\')
					i++;
				else if (p[i] == '(')
					depth++;
				else if (p[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return i < n ? i : n;
}

/* A token at i (after white space); *len 0 when there is none. */
static size_t get_token(const uint8_t *p, size_t n, size_t i, struct bytes *tok)
{
	size_t s;

	i = skip_lws_comments(p, n, i);
	for (s = i; i < n && is_token_char(p[i]); i++)
		;
	*tok = (struct bytes){p + s, i - s};
	return i;
}

/* A parameter value: a quoted string (quoted pairs undone into out) or a
 * token; boundary: Zeek's lenience, any printable byte but '"' and ';'.
 * Returns the position after it; out gets at most cap bytes. */
static size_t get_value(const uint8_t *p, size_t n, size_t i, bool boundary, uint8_t *out,
			size_t cap, size_t *out_len)
{
	size_t o = 0;

	i = skip_lws_comments(p, n, i);
	if (i < n && p[i] == '"') {
		for (i++; i < n && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < n)
				i++;
			if (o < cap)
				out[o++] = p[i];
		}
		i += i < n;
	} else {
		for (; i < n && (boundary ? p[i] > 32 && p[i] < 127 && p[i] != '"' && p[i] != ';'
					  : is_token_char(p[i]));
		     i++)
			if (o < cap)
				out[o++] = p[i];
	}
	*out_len = o;
	return i;
}

/* ---- entities -------------------------------------------------------------- */

static struct entity *entity_new(struct mime *m, struct entity *parent)
{
	struct entity *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->parent = parent;
	e->in_header = true;
	if (parent) {
		e->level = parent->level + 1;
		e->encoding = parent->encoding; /* inherited, as Zeek does */
	}
	e->number = ++m->entities;
	return e;
}

static void entity_free(struct entity *e)
{
	free(e->boundary);
	free(e);
}

/* The entity's file, opened on first use; NULL without memory, and NULL
 * once the entity is closed: its file was closed then, and a new one would
 * never be (a gap in a multipart's epilogue reaches the ended top entity). */
static struct mime_file *entity_file(struct mime *m, struct entity *e)
{
	if (e->closed)
		return NULL;
	if (!e->file) {
		struct file_origin o = {
		    .id = m->id,
		    .trans_depth = m->trans_depth,
		    .is_orig = m->is_orig,
		    .depth = e->number,
		    .parent = m->message,
		};

		e->file = file_open(m->cfg, m->digester, &o, m->now);
	}
	return e->file;
}

static void entity_data(struct mime *m, struct entity *e, const uint8_t *p, size_t n)
{
	struct mime_file *f;

	if (n == 0 || !m->cfg->files || !(f = entity_file(m, e)))
		return;
	file_data(f, p, n, m->now);
}

/* Content-Type: type/subtype; the boundary of a multipart. */
static void parse_content_type(struct mime *m, struct entity *e, const uint8_t *v, size_t n)
{
	struct bytes type, sub;
	size_t i = get_token(v, n, 0, &type);

	(void)m;
	i = skip_lws_comments(v, n, i);
	if (type.len == 0 || i >= n || v[i] != '/')
		return; /* Zeek: "media type/subtype not found": defaults stay */
	i = get_token(v, n, i + 1, &sub);
	if (sub.len == 0)
		return;
	e->declared_len = 0;
	for (size_t k = 0; k < type.len && e->declared_len < DECLARED_TYPE_MAX - 1; k++)
		e->declared[e->declared_len++] = (char)lower(type.ptr[k]);
	if (e->declared_len < DECLARED_TYPE_MAX - 1)
		e->declared[e->declared_len++] = '/';
	for (size_t k = 0; k < sub.len && e->declared_len < DECLARED_TYPE_MAX - 1; k++)
		e->declared[e->declared_len++] = (char)lower(sub.ptr[k]);

	if (equals_nocase(type.ptr, type.len, "multipart"))
		e->type = TYPE_MULTIPART;
	else if (equals_nocase(type.ptr, type.len, "message"))
		e->type = TYPE_MESSAGE;
	else if (equals_nocase(type.ptr, type.len, "text"))
		e->type = TYPE_TEXT;
	else
		e->type = TYPE_OTHER;

	free(e->boundary);
	e->boundary = NULL;
	if (e->type == TYPE_MULTIPART) {
		/* ; attr = value ... until the boundary */
		while ((i = skip_lws_comments(v, n, i)) < n && v[i] == ';') {
			struct bytes attr;
			size_t len;

			i = get_token(v, n, i + 1, &attr);
			i = skip_lws_comments(v, n, i);
			if (attr.len == 0 || i >= n || v[i] != '=')
				break;
			if (equals_nocase(attr.ptr, attr.len, "boundary")) {
				uint8_t *b = malloc(n - i);

				if (!b)
					break;
				i = get_value(v, n, i + 1, true, b, n - i, &len);
				free(e->boundary);
				e->boundary = b;
				e->boundary_len = len;
			} else {
				i = get_value(v, n, i + 1, false, NULL, 0, &len);
			}
		}
		if (!e->boundary || e->boundary_len == 0)
			e->type = TYPE_OTHER; /* Zeek: treated as application/octet-stream */
	}
}

static void parse_encoding(struct entity *e, const uint8_t *v, size_t n)
{
	struct bytes tok;

	get_token(v, n, 0, &tok);
	if (tok.len == 0)
		return;
	if (equals_nocase(tok.ptr, tok.len, "quoted-printable"))
		e->encoding = ENC_QP;
	else if (equals_nocase(tok.ptr, tok.len, "base64"))
		e->encoding = ENC_BASE64;
	else
		e->encoding = ENC_OTHER;
}

/* Content-Disposition filename / Content-Type name, RFC 2231 and 2047
 * decoded (encoded_words.h); the last header naming one wins. */
static void parse_filename(struct entity *e, const uint8_t *v, size_t n, const char *param)
{
	size_t len = ew_param_value(v, n, param, e->filename, sizeof(e->filename));

	if (len > 0)
		e->filename_len = len;
}

/* A complete header of entity e (Zeek: MIME_Header, then ParseMIMEHeader). */
static void finish_header(struct mime *m, struct entity *e)
{
	const uint8_t *p = m->hdr;
	size_t n = m->hdr_len, i, name_start;
	struct bytes name, value;

	if (!m->hdr_open)
		return;
	m->hdr_open = false;
	i = skip_lws_comments(p, n, 0);
	for (name_start = i; i < n && p[i] >= 33 && p[i] <= 126 && p[i] != ':'; i++)
		;
	name = (struct bytes){p + name_start, i - name_start};
	i = skip_lws_comments(p, n, i);
	if (name.len == 0 || i >= n || p[i] != ':')
		return; /* not a header: dropped, as Zeek does */
	for (i++; i < n && (is_lws(p[i]) || (p[i] >= '\n' && p[i] <= '\r')); i++)
		;
	value = (struct bytes){p + i, n - i};

	if (!e->parent && m->header_fn) {
		struct mime_header h = {
		    .id = m->id,
		    .trans_depth = m->trans_depth,
		    .is_orig = m->is_orig,
		    .name = name,
		    .value = value,
		};

		m->header_fn(m->header_ctx, &h);
	}
	if (!m->cfg->files)
		return;
	if (equals_nocase(name.ptr, name.len, "content-type")) {
		parse_content_type(m, e, value.ptr, value.len);
		parse_filename(e, value.ptr, value.len, "name");
	} else if (equals_nocase(name.ptr, name.len, "content-transfer-encoding")) {
		parse_encoding(e, value.ptr, value.len);
	} else if (equals_nocase(name.ptr, name.len, "content-disposition")) {
		parse_filename(e, value.ptr, value.len, "filename");
	}
}

/* Zeek reports every line refused; one weird per header says as much and
 * keeps a hostile header from making a weird per line. */
static void header_limit(struct mime *m)
{
	if (m->hdr_limit_reported)
		return;
	m->hdr_limit_reported = true;
	weird_count(m, "exceeded_mime_max_header_bytes", m->hdr_total);
}

/* Grows the header buffer to hold want bytes (at most MIME_MAX_HEADER_BYTES);
 * false without memory. */
static bool header_room(struct mime *m, size_t want)
{
	size_t cap = m->hdr_cap ? m->hdr_cap : 256;
	uint8_t *b;

	if (want <= m->hdr_cap)
		return true;
	while (cap < want)
		cap *= 2;
	if (cap > MIME_MAX_HEADER_BYTES)
		cap = MIME_MAX_HEADER_BYTES;
	if (!(b = realloc(m->hdr, cap)))
		return false;
	m->hdr = b;
	m->hdr_cap = cap;
	return true;
}

static void header_append(struct mime *m, const uint8_t *p, size_t n)
{
	size_t room = MIME_MAX_HEADER_BYTES - m->hdr_len;

	m->hdr_total += n;
	if (n > room) {
		/* ours: Zeek keeps a first line of any length */
		header_limit(m);
		n = room;
	}
	if (!header_room(m, m->hdr_len + n)) {
		weird(m, "mime_out_of_memory", "header");
		n = m->hdr_cap - m->hdr_len;
	}
	memcpy(m->hdr + m->hdr_len, p, n);
	m->hdr_len += n;
}

static void header_line(struct mime *m, struct entity *e, const uint8_t *p, size_t n)
{
	if (is_lws(p[0]) && m->hdr_open) {
		/* Zeek stops taking continuation lines once the header has
		 * MIME::max_header_bytes. */
		if (m->hdr_total >= MIME_MAX_HEADER_BYTES) {
			header_limit(m);
			return;
		}
		header_append(m, p, n);
		return;
	}
	finish_header(m, e);
	while (n > 0 && is_lws(p[0])) { /* Zeek: "first header line starts with LWS" */
		p++;
		n--;
	}
	if (n == 0)
		return;
	m->hdr_open = true;
	m->hdr_limit_reported = false;
	m->hdr_len = 0;
	m->hdr_total = 0;
	header_append(m, p, n);
}

static void begin_child(struct mime *m, struct entity *e)
{
	if (e->level >= MIME_MAX_DEPTH) {
		/* Zeek: one per refused child; here one per message */
		if (!m->depth_reported)
			weird_count(m, "exceeded_mime_max_depth", e->level);
		m->depth_reported = true;
		return;
	}
	e->child = entity_new(m, e);
	if (!e->child)
		weird(m, "mime_out_of_memory", "entity");
}

static void begin_body(struct mime *m, struct entity *e)
{
	e->in_header = false;
	if (!m->cfg->files) {
		m->frozen = true; /* only the top-level headers were wanted */
		return;
	}
	if (e->type == TYPE_MESSAGE)
		begin_child(m, e);
}

/* ---- decoders ------------------------------------------------------------ */

/* Base64 digit values; B64_PAD for '=', B64_BAD for the rest. */
#define B64_PAD 0x40
#define B64_BAD 0x80
static uint8_t b64_table[256];
/* For the fast path: digit k of a group of four (0-3) already in its place
 * of the group's 24 bits, or B64_STOP for '=' and every non-digit. */
#define B64_STOP (1u << 31)
static uint32_t b64_placed[4][256];

static void b64_table_init(void)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (b64_table['A'] == 0 && b64_table['B'] == 1)
		return;
	memset(b64_table, B64_BAD, sizeof(b64_table));
	for (int i = 0; i < 64; i++)
		b64_table[(uint8_t)digits[i]] = (uint8_t)i;
	b64_table['='] = B64_PAD;
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 256; c++)
			b64_placed[k][c] = b64_table[c] & (B64_PAD | B64_BAD)
					       ? B64_STOP
					       : (uint32_t)b64_table[c] << (18 - 6 * k);
}

/* The 24 bits of four digits, B64_STOP set if one is not a digit. */
static inline uint32_t b64_group(const uint8_t *p)
{
	return b64_placed[0][p[0]] | b64_placed[1][p[1]] | b64_placed[2][p[2]] |
	       b64_placed[3][p[3]];
}

static void base64_report(struct mime *m, struct entity *e, const char *why)
{
	if (e->b64_reported)
		return;
	e->b64_reported = true;
	weird(m, "base64_illegal_encoding", why);
}

/* Zeek's Base64Converter: '=' counts as a zero and as padding, groups after
 * a padded one are ignored, other bytes are ignored; only the first anomaly
 * of an entity is reported (base64_illegal_encoding), as Zeek does. Whole
 * groups of digits take a fast path, two at a time (make bench: decoding was
 * most of the cost of a base64 attachment, then 13 % of a whole run's). */
static void base64_line(struct mime *m, struct entity *e, const uint8_t *p, size_t n)
{
	uint8_t out[768];
	size_t o = 0, i = 0;
	uint32_t acc = e->b64_acc;
	unsigned cnt = e->b64_n, pad = e->b64_pad;

	while (i < n) {
		if (cnt == 0 && !e->b64_after_pad) {
			/* Two groups at once, their 6 bytes written as one
			 * 8-byte store (out has room for the 2 beyond). */
			while (i + 8 <= n && o + 8 <= sizeof(out)) {
				uint32_t x = b64_group(p + i), y = b64_group(p + i + 4);
				uint64_t be;

				if ((x | y) & B64_STOP)
					break;
				be = htobe64(((uint64_t)x << 24 | y) << 16);
				memcpy(out + o, &be, sizeof(be));
				o += 6;
				i += 8;
			}
			while (i + 4 <= n && o + 3 <= sizeof(out)) {
				uint32_t bits = b64_group(p + i);

				if (bits & B64_STOP)
					break;
				out[o++] = (uint8_t)(bits >> 16);
				out[o++] = (uint8_t)(bits >> 8);
				out[o++] = (uint8_t)bits;
				i += 4;
			}
			if (o + 3 > sizeof(out)) {
				entity_data(m, e, out, o);
				o = 0;
				continue;
			}
			if (i >= n)
				break;
		}
		uint8_t v = b64_table[p[i]];

		if (v == B64_BAD) {
			char why[48];

			snprintf(why, sizeof(why), "character %d ignored by Base64 decoding",
				 (int)(int8_t)p[i]);
			base64_report(m, e, why);
			i++;
			continue;
		}
		i++;
		pad += v == B64_PAD;
		acc = acc << 6 | (v & 0x3f);
		if (++cnt < 4)
			continue;
		cnt = 0;
		if (e->b64_after_pad) {
			base64_report(m, e, "extra base64 groups after '=' padding are ignored");
			pad = 0;
			continue;
		}
		for (int k = 0; k < 3 - (int)pad; k++)
			out[o++] = (uint8_t)(acc >> (16 - 8 * k));
		if (pad > 0)
			e->b64_after_pad = true;
		pad = 0;
		if (o + 3 > sizeof(out)) {
			entity_data(m, e, out, o);
			o = 0;
		}
	}
	e->b64_acc = acc;
	e->b64_n = (uint8_t)cnt;
	e->b64_pad = (uint8_t)pad;
	if (o > 0)
		entity_data(m, e, out, o);
}

static void base64_finish(struct mime *m, struct entity *e)
{
	static const uint8_t pad[] = "===";
	char why[64];

	if (e->b64_n == 0)
		return;
	snprintf(why, sizeof(why), "incomplete base64 group, padding with %d bits of 0",
		 (4 - e->b64_n) * 6);
	base64_report(m, e, why);
	base64_line(m, e, pad, 4u - e->b64_n);
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Zeek's DecodeQuotedPrintable: trailing blanks dropped, "=" at the end a
 * soft break, "=XY" a byte, anything else kept as it is; every line not
 * ending in a soft break gets its CR LF (in multipart parts too). */
static void qp_line(struct mime *m, struct entity *e, const uint8_t *p, size_t n)
{
	uint8_t out[256];
	size_t end = n, o = 0;
	bool soft = false;

	while (end > 0 && is_lws(p[end - 1]))
		end--;
	for (size_t i = 0; i < end; i++) {
		uint8_t c = p[i];

		if (c == '=') {
			if (i == end - 1) {
				soft = true;
				break;
			}
			if (i + 2 < n && hex_value(p[i + 1]) >= 0 && hex_value(p[i + 2]) >= 0) {
				c = (uint8_t)(hex_value(p[i + 1]) << 4 | hex_value(p[i + 2]));
				i += 2;
			}
		}
		out[o++] = c;
		if (o == sizeof(out)) {
			entity_data(m, e, out, o);
			o = 0;
		}
	}
	if (o > 0)
		entity_data(m, e, out, o);
	if (!soft)
		entity_data(m, e, (const uint8_t *)"\r\n", 2);
}

/* 7bit, 8bit, binary: the line, and its CR LF; in a multipart's part the
 * CR LF waits for the next line, as the last one belongs to the boundary. */
static void binary_line(struct mime *m, struct entity *e, const uint8_t *p, size_t n)
{
	if (e->crlf_pending) {
		e->crlf_pending = false;
		entity_data(m, e, (const uint8_t *)"\r\n", 2);
	}
	entity_data(m, e, p, n);
	if (e->parent && e->parent->type == TYPE_MULTIPART)
		e->crlf_pending = true;
	else
		entity_data(m, e, (const uint8_t *)"\r\n", 2);
}

/* ---- the tree ------------------------------------------------------------ */

static void end_entity(struct mime *m, struct entity *e);

static void end_child(struct mime *m, struct entity *e)
{
	end_entity(m, e->child);
	entity_free(e->child);
	e->child = NULL;
}

/* Zeek: MIME_Entity::EndOfData. */
static void end_entity(struct mime *m, struct entity *e)
{
	if (e->ended)
		return;
	e->ended = true;
	if (e->in_header) {
		finish_header(m, e); /* Zeek: "entity body missing" */
	} else {
		if (e->child)
			end_child(m, e);
		if (e->encoding == ENC_BASE64 && e->type != TYPE_MULTIPART &&
		    e->type != TYPE_MESSAGE)
			base64_finish(m, e);
	}
	if (e->file) {
		file_close(e->file, (struct bytes){(const uint8_t *)e->declared, e->declared_len},
			   (struct bytes){e->filename, e->filename_len}, m->emit, m->ctx);
		e->file = NULL;
	}
	e->closed = true;
}

enum boundary_kind { NOT_BOUNDARY, BOUNDARY, CLOSING_BOUNDARY };

static enum boundary_kind boundary_of(const struct entity *e, const uint8_t *p, size_t n)
{
	if (n < 2 + e->boundary_len || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, e->boundary, e->boundary_len) != 0)
		return NOT_BOUNDARY;
	p += 2 + e->boundary_len;
	n -= 2 + e->boundary_len;
	return n >= 2 && p[0] == '-' && p[1] == '-' ? CLOSING_BOUNDARY : BOUNDARY;
}

/* One line of the message, down the tree from the top entity. */
static void deliver_line(struct mime *m, const uint8_t *p, size_t n)
{
	struct entity *e = m->top;

	if (m->frozen)
		return;
	while (e && !e->ended) {
		if (e->in_header) {
			if (n == 0 || p[0] == '\0') {
				finish_header(m, e);
				begin_body(m, e);
			} else {
				header_line(m, e, p, n);
			}
			return;
		}
		if (e->type == TYPE_MULTIPART) {
			switch (boundary_of(e, p, n)) {
			case BOUNDARY:
				if (e->child)
					end_child(m, e);
				begin_child(m, e);
				return;
			case CLOSING_BOUNDARY:
				if (e->child)
					end_child(m, e);
				end_entity(m, e);
				return;
			case NOT_BOUNDARY:
				break;
			}
		}
		if (e->type == TYPE_MULTIPART || e->type == TYPE_MESSAGE) {
			e = e->child; /* preamble and epilogue lines go nowhere */
			continue;
		}
		switch (e->encoding) {
		case ENC_QP:
			qp_line(m, e, p, n);
			break;
		case ENC_BASE64:
			base64_line(m, e, p, n);
			break;
		default:
			binary_line(m, e, p, n);
		}
		return;
	}
}

/* The innermost open entity: where missing or skipped bytes belong. */
static struct entity *innermost(struct mime *m)
{
	struct entity *e = m->top;

	while (e && e->child)
		e = e->child;
	return e;
}

/* Its parts' files first, then the whole message's, as Zeek logs them. */
static void end_message(struct mime *m)
{
	if (!m->top)
		return;
	end_entity(m, m->top);
	entity_free(m->top);
	m->top = NULL;
	if (m->message) {
		file_close(m->message, (struct bytes){NULL, 0}, (struct bytes){NULL, 0}, m->emit,
			   m->ctx);
		m->message = NULL;
	}
	m->hdr_open = false;
	if (m->hdr_cap > HDR_KEEP) {
		free(m->hdr);
		m->hdr = NULL;
		m->hdr_cap = 0;
	}
}

/* ---- public interface ---------------------------------------------------- */

struct mime *mime_new(const struct config *cfg, struct digest_worker *digester, smtp_emit_fn emit,
		      void *ctx)
{
	struct mime *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	b64_table_init();
	m->cfg = cfg;
	m->digester = digester;
	m->emit = emit;
	m->ctx = ctx;
	return m;
}

void mime_free(struct mime *m)
{
	if (!m)
		return;
	end_message(m);
	free(m->hdr);
	free(m);
}

void mime_set_header_hook(struct mime *m, mime_header_fn fn, void *ctx)
{
	m->header_fn = fn;
	m->header_ctx = ctx;
}

void mime_content(struct mime *m, const struct smtp_content *c, uint64_t now_ns)
{
	struct entity *e;

	m->now = now_ns;
	switch (c->kind) {
	case SMTP_CONTENT_BEGIN:
		end_message(m);
		m->id = c->id;
		m->trans_depth = c->trans_depth;
		m->is_orig = c->is_orig;
		m->frozen = false;
		m->depth_reported = false;
		m->top = entity_new(m, NULL);
		if (!m->top)
			weird(m, "mime_out_of_memory", "entity");
		if (m->cfg->files && m->cfg->message_files) {
			/* Zeek's depth of a file is the entities begun when
			 * its first byte comes: for the message's, its top
			 * entity has begun (mime_begin_entity comes first). */
			struct file_origin o = {.id = m->id,
						.trans_depth = m->trans_depth,
						.is_orig = m->is_orig,
						.depth = m->entities,
						.whole_message = true};

			m->message = file_open(m->cfg, m->digester, &o, now_ns);
		}
		break;
	case SMTP_CONTENT_LINE:
		if (m->message) {
			/* the message as sent: Zeek's content of that file */
			file_data(m->message, c->line.ptr, c->line.len, now_ns);
			file_data(m->message, c->term.ptr, c->term.len, now_ns);
		}
		deliver_line(m, c->line.ptr, c->line.len);
		break;
	case SMTP_CONTENT_GAP:
		if (m->message)
			file_gap(m->message, c->len, now_ns);
		/* Zeek hands the gap to the entity being read (a file with
		 * only missing bytes if it had none). */
		if (m->cfg->files && (e = innermost(m)) && !m->frozen && entity_file(m, e))
			file_gap(e->file, c->len, now_ns);
		break;
	case SMTP_CONTENT_SKIPPED:
		if (m->message)
			file_unseen(m->message);
		/* The entity being read has a file of unknown content; what
		 * follows cannot be placed in the tree. */
		if (m->cfg->files && (e = innermost(m)) && !m->frozen && entity_file(m, e))
			file_unseen(e->file);
		m->frozen = true;
		m->hdr_open = false; /* a header cut by the skip is dropped */
		break;
	case SMTP_CONTENT_END:
		end_message(m);
		break;
	}
}
