// SPDX-License-Identifier: GPL-2.0-only
/* encoded_words.c - RFC 2047 and RFC 2231 decoding (contract in encoded_words.h). */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "mime/encoded_words.h"

#define CHARSET_MAX 64
#define WORD_MAX    1024 /* decoded bytes of one encoded word or parameter */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool equals_nocase(const uint8_t *p, size_t n, const char *s)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t put(uint8_t *out, size_t o, size_t cap, const uint8_t *p, size_t n)
{
	if (n > cap - o)
		n = cap - o;
	memcpy(out + o, p, n);
	return o + n;
}

/* in (in charset) appended to out as UTF-8 from o; returns the new end. A
 * byte iconv rejects is kept as it is and conversion goes on after it. */
static size_t to_utf8(const char *charset, const uint8_t *in, size_t n, uint8_t *out, size_t o,
		      size_t cap)
{
	iconv_t cd;
	char *ip = (char *)in, *op;
	size_t il = n, ol;

	if (!charset[0] || !strcasecmp(charset, "utf-8") || !strcasecmp(charset, "us-ascii") ||
	    (cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return put(out, o, cap, in, n);
	op = (char *)out + o;
	ol = cap - o;
	while (il > 0 && ol > 0) {
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		/* iconv may have filled out before it met the bad byte */
		if (errno == E2BIG || ol == 0)
			break;
		/* EILSEQ or EINVAL (a sequence cut at the end): keep the byte */
		*op++ = *ip++;
		ol--;
		il--;
	}
	iconv(cd, NULL, NULL, &op, &ol); /* the shift state's closing bytes */
	iconv_close(cd);
	return (size_t)((uint8_t *)op - out);
}

/* ---- RFC 2047 ------------------------------------------------------------ */

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The text of a B or Q word decoded into buf (WORD_MAX); returns its length. */
static size_t decode_word(uint8_t enc, const uint8_t *t, size_t n, uint8_t *buf)
{
	size_t o = 0;

	if (enc == 'b') {
		uint32_t bits = 0;
		int nbits = 0;

		for (size_t i = 0; i < n && o < WORD_MAX; i++) {
			int v = b64_value(t[i]);

			if (v < 0)
				continue; /* '=' padding and junk */
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				buf[o++] = (uint8_t)(bits >> nbits);
			}
		}
		return o;
	}
	for (size_t i = 0; i < n && o < WORD_MAX; i++) {
		if (t[i] == '_') {
			buf[o++] = ' ';
		} else if (t[i] == '=' && i + 2 < n && hex_value(t[i + 1]) >= 0 &&
			   hex_value(t[i + 2]) >= 0) {
			buf[o++] = (uint8_t)(hex_value(t[i + 1]) << 4 | hex_value(t[i + 2]));
			i += 2;
		} else {
			buf[o++] = t[i];
		}
	}
	return o;
}

/* An encoded word at in[0..len): "=?charset?e?text?=". Returns its length
 * (0: not one) with the charset (RFC 2231 language suffix removed) and the
 * encoding and text. */
static size_t parse_word(const uint8_t *in, size_t len, char charset[CHARSET_MAX], uint8_t *enc,
			 const uint8_t **text, size_t *text_len)
{
	size_t i = 2, cs, end;

	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	for (cs = i; i < len && in[i] != '?' && in[i] > ' '; i++)
		;
	if (i == cs || i - cs >= CHARSET_MAX || i + 3 >= len || in[i] != '?' || in[i + 2] != '?')
		return 0;
	memcpy(charset, in + cs, i - cs);
	charset[i - cs] = '\0';
	if (strchr(charset, '*'))
		*strchr(charset, '*') = '\0';
	*enc = lower(in[i + 1]);
	if (*enc != 'b' && *enc != 'q')
		return 0;
	i += 3;
	for (end = i; end + 1 < len && !(in[end] == '?' && in[end + 1] == '='); end++)
		if (in[end] <= ' ')
			return 0; /* encoded words hold no white space */
	if (end + 1 >= len)
		return 0;
	*text = in + i;
	*text_len = end - i;
	return end + 2;
}

size_t ew_decode_2047(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0, ws = 0; /* ws: white space held after a word */
	bool after_word = false;

	while (i < len && o < cap) {
		char charset[CHARSET_MAX];
		uint8_t enc, buf[WORD_MAX];
		const uint8_t *text;
		size_t tn, wl = parse_word(in + i, len - i, charset, &enc, &text, &tn);

		if (wl > 0) {
			ws = 0; /* white space between two words is dropped */
			o = to_utf8(charset, buf, decode_word(enc, text, tn, buf), out, o, cap);
			i += wl;
			after_word = true;
			continue;
		}
		if (after_word &&
		    (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')) {
			ws++;
			i++;
			continue;
		}
		if (ws > 0)
			o = put(out, o, cap, in + i - ws, ws);
		ws = 0;
		after_word = false;
		if (o == cap)
			break;
		out[o++] = in[i++];
	}
	if (ws > 0)
		o = put(out, o, cap, in + len - ws, ws);
	return o;
}

/* ---- RFC 2231 parameters ------------------------------------------------- */

#define MAX_SECTIONS 32

struct param {
	struct bytes_view {
		const uint8_t *p;
		size_t n;
	} value;
	bool quoted, extended;
};

/* %XX undone (RFC 2231 extended values); returns the bytes written. */
static size_t percent_decode(const uint8_t *p, size_t n, uint8_t *out, size_t o, size_t cap)
{
	for (size_t i = 0; i < n && o < cap; i++) {
		if (p[i] == '%' && i + 2 < n && hex_value(p[i + 1]) >= 0 &&
		    hex_value(p[i + 2]) >= 0) {
			out[o++] = (uint8_t)(hex_value(p[i + 1]) << 4 | hex_value(p[i + 2]));
			i += 2;
		} else {
			out[o++] = p[i];
		}
	}
	return o;
}

/* Quoted pairs undone. */
static size_t unquote(const uint8_t *p, size_t n, uint8_t *out, size_t o, size_t cap)
{
	for (size_t i = 0; i < n && o < cap; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = p[i];
	}
	return o;
}

static bool is_token_char(uint8_t c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

size_t ew_param_value(const uint8_t *v, size_t len, const char *name, uint8_t *out, size_t cap)
{
	struct param plain = {0}, sections[MAX_SECTIONS] = {0};
	bool have_plain = false, have_ext = false;
	size_t i = 0, nlen = strlen(name);

	while (i < len) {
		size_t a, an, vs;
		bool quoted = false;

		/* to the next ';' outside a quoted string */
		while (i < len && v[i] != ';') {
			if (v[i] == '"') {
				for (i++; i < len && v[i] != '"'; i++)
					i += v[i] == '\\';
			}
			i++;
		}
		if (i >= len)
			break;
		for (i++; i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n');
		     i++)
			;
		for (a = i; i < len && is_token_char(v[i]); i++)
			;
		an = i - a;
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i >= len || v[i] != '=')
			continue;
		for (i++; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
			;
		if (i < len && v[i] == '"') {
			quoted = true;
			for (vs = ++i; i < len && v[i] != '"'; i++)
				i += v[i] == '\\';
		} else {
			for (vs = i; i < len && v[i] != ';' && v[i] != ' ' && v[i] != '\t'; i++)
				;
		}
		struct param p = {{v + vs, (i < len ? i : len) - vs}, quoted, false};

		if (i < len && quoted)
			i++;
		if (an < nlen || !equals_nocase(v + a, nlen, name))
			continue;
		/* name, name*, name*N, name*N* */
		const uint8_t *s = v + a + nlen;
		size_t sn = an - nlen;

		if (sn == 0) {
			plain = p;
			have_plain = true;
			continue;
		}
		if (s[0] != '*')
			continue;
		s++;
		sn--;
		if (sn == 0) {
			p.extended = true;
			sections[0] = p;
			have_ext = true;
			continue;
		}
		unsigned k = 0;
		size_t d = 0;

		while (d < sn && s[d] >= '0' && s[d] <= '9' && k < MAX_SECTIONS)
			k = k * 10 + (s[d++] - '0');
		if (d == 0 || k >= MAX_SECTIONS || (d < sn && !(d + 1 == sn && s[d] == '*')))
			continue;
		p.extended = d < sn;
		sections[k] = p;
		have_ext = true;
	}

	if (have_ext && sections[0].value.p) {
		uint8_t raw[WORD_MAX];
		char charset[CHARSET_MAX] = "";
		size_t r = 0;

		for (unsigned k = 0; k < MAX_SECTIONS && sections[k].value.p; k++) {
			const uint8_t *p = sections[k].value.p;
			size_t n = sections[k].value.n;

			if (k == 0 && sections[0].extended) {
				/* charset'language'value */
				const uint8_t *q1 = memchr(p, '\'', n), *q2;

				if (q1 && (q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - p)))) {
					size_t cl = (size_t)(q1 - p);

					if (cl < CHARSET_MAX) {
						memcpy(charset, p, cl);
						charset[cl] = '\0';
					}
					n -= (size_t)(q2 + 1 - p);
					p = q2 + 1;
				}
			}
			r = sections[k].extended ? percent_decode(p, n, raw, r, sizeof(raw))
			    : sections[k].quoted ? unquote(p, n, raw, r, sizeof(raw))
						 : put(raw, r, sizeof(raw), p, n);
		}
		return to_utf8(charset, raw, r, out, 0, cap);
	}
	if (have_plain) {
		uint8_t raw[WORD_MAX];
		size_t r = plain.quoted ? unquote(plain.value.p, plain.value.n, raw, 0, sizeof(raw))
					: put(raw, 0, sizeof(raw), plain.value.p, plain.value.n);

		return ew_decode_2047(raw, r, out, cap);
	}
	return 0;
}
