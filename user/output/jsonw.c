// SPDX-License-Identifier: GPL-2.0-only
/*
 * jsonw.c - JSON-lines writer into one growing, reused buffer (see jsonw.h).
 *
 * Escaping follows Zeek's JSON writer: '"' and '\' get a backslash; control
 * bytes (< 0x20 and 0x7f) and every byte that does not belong to a
 * well-formed UTF-8 sequence (Unicode table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF, no truncated sequence) become \xNN with lower-case
 * hex, which is "\\xNN" in the JSON text. An ill-formed sequence costs one
 * escaped byte; scanning resumes at the next byte. Note that the result is
 * ambiguous for input that itself contains a backslash followed by "xNN",
 * exactly as in Zeek's logs.
 *
 * Well-formed characters that a terminal or a log viewer would act on, or
 * that journald takes for binary, are written as JSON \u escapes (a pair for
 * a code point above U+FFFF): the C1 controls U+0080..U+009F, the line and
 * paragraph separators U+2028/U+2029, the bidirectional controls (U+061C,
 * U+200E/U+200F, U+202A..U+202E, U+2066..U+2069) and the noncharacters
 * (U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF). The JSON string still decodes to
 * the original character; the text and journal forms show the escape itself
 * (a literal backslash being "\\" in text, "\u" there is always an escape).
 *
 * Speed: each string reserves its worst case (5 output bytes per input byte)
 * once, then runs of plain ASCII are found with a table and copied with
 * memcpy. Numbers and timestamps are formatted with integer arithmetic only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/jsonw.h"
#include "output/out_common.h"

#define JSONW_INITIAL_CAP 512
/* A buffer grown beyond this by one huge event is given back at the next
 * event, so a single long line does not pin memory for the process life. */
#define JSONW_KEEP_CAP (1u << 20)
/* "\\xNN" in the JSON text: the worst case per input byte (a \uXXXX escape
 * costs at most 3 per byte of its 2- to 4-byte sequence). */
#define JSONW_MAX_ESCAPE 5

enum byte_class {
	BC_PLAIN = 0, /* printable ASCII copied as is */
	BC_QUOTE,     /* '"' or '\': backslash-escaped */
	BC_CONTROL,   /* < 0x20 or 0x7f: \xNN */
	BC_HIGH,      /* >= 0x80: start of a UTF-8 sequence, maybe ill-formed */
};

static const uint8_t byte_class[256] = {
    [0x00 ... 0x1f] = BC_CONTROL, ['"'] = BC_QUOTE,	     ['\\'] = BC_QUOTE,
    [0x7f] = BC_CONTROL,	  [0x80 ... 0xff] = BC_HIGH,
};

static void grow(struct jsonw *w, size_t need)
{
	size_t cap = w->cap ? w->cap : JSONW_INITIAL_CAP;
	char *buf;

	while (cap < need)
		cap = cap * 2 > cap ? cap * 2 : need;
	buf = realloc(w->buf, cap);
	if (!buf) {
		fprintf(stderr, "smtpmon: out of memory growing the output buffer to %zu bytes\n",
			cap);
		abort();
	}
	w->buf = buf;
	w->cap = cap;
}

/* Inline: called for every piece of every event, and it almost never grows. */
static inline void reserve(struct jsonw *w, size_t extra)
{
	size_t need = w->len + extra;

	if (__builtin_expect(need <= w->cap, 1))
		return;
	if (need < w->len) {
		fprintf(stderr, "smtpmon: output line too large (%zu + %zu bytes)\n", w->len,
			extra);
		abort();
	}
	grow(w, need);
}

void jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	jsonw_init(w);
}

void jsonw_raw(struct jsonw *w, const char *s, size_t len)
{
	if (!len)
		return;
	reserve(w, len);
	memcpy(w->buf + w->len, s, len);
	w->len += len;
}

static void put_char(struct jsonw *w, char c)
{
	reserve(w, 1);
	w->buf[w->len++] = c;
}

void jsonw_begin(struct jsonw *w)
{
	if (w->len == 0 && w->cap > JSONW_KEEP_CAP)
		jsonw_free(w);
	put_char(w, '{');
	w->need_comma = false;
}

void jsonw_end(struct jsonw *w)
{
	jsonw_raw(w, "}\n", 2);
	w->need_comma = false;
}

static void put_key(struct jsonw *w, const char *key)
{
	size_t klen = strlen(key);
	char *p;

	/* keys are our own constants: no escaping */
	reserve(w, klen + 4);
	p = w->buf + w->len;
	if (w->need_comma)
		*p++ = ',';
	*p++ = '"';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '"';
	*p++ = ':';
	w->len = p - w->buf;
	w->need_comma = true;
}

/* Length of the well-formed UTF-8 sequence (2 to 4 bytes) at s, or 0. */
static size_t utf8_sequence_len(const uint8_t *s, size_t avail)
{
	uint8_t lead = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (lead >= 0xc2 && lead <= 0xdf) {
		len = 2;
	} else if (lead >= 0xe0 && lead <= 0xef) {
		len = 3;
		if (lead == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (lead == 0xed)
			hi = 0x9f; /* surrogates U+D800..DFFF */
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		len = 4;
		if (lead == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (lead == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
	}
	if (avail < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static const char hex_digits[] = "0123456789abcdef";

/* The code point of the well-formed sequence of seq bytes at s if it is one
 * that must not reach a terminal or journald as it is (see the top); else 0. */
static uint32_t unsafe_code_point(const uint8_t *s, size_t seq)
{
	uint32_t cp;

	if (seq == 2)
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	else if (seq == 3)
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	else
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	if (cp <= 0x9f || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return cp;
	return 0;
}

static char *put_u_escape(char *p, uint32_t unit)
{
	*p++ = '\\';
	*p++ = 'u';
	for (int shift = 12; shift >= 0; shift -= 4)
		*p++ = hex_digits[unit >> shift & 0xf];
	return p;
}

/* \uXXXX, or the UTF-16 surrogate pair JSON spells a code point above U+FFFF with. */
static char *put_code_point_escape(char *p, uint32_t cp)
{
	if (cp <= 0xffff)
		return put_u_escape(p, cp);
	cp -= 0x10000;
	p = put_u_escape(p, 0xd800 | cp >> 10);
	return put_u_escape(p, 0xdc00 | (cp & 0x3ff));
}

/*
 * ESCAPE_JSON: the JSON form (\" \\ \\xNN \uXXXX, to sit inside quotes).
 * ESCAPE_TEXT: the text sink's form: '"' as is, \\ for a backslash, \xNN and
 * \uXXXX, so a literal backslash can never be taken for an escape.
 * ESCAPE_DECODED: the JSON string value decoded once, as the journal carries
 * it: '"' and '\' as they are, \xNN, and \uXXXX still written out.
 */
enum escape_form { ESCAPE_JSON, ESCAPE_TEXT, ESCAPE_DECODED };

static inline void escape(struct jsonw *w, const uint8_t *s, size_t len, enum escape_form form)
{
	uint32_t cp;
	size_t i = 0, run, seq;
	char *p;

	if (!len) /* s may then be NULL, and w->buf too */
		return;
	if (len > (SIZE_MAX - w->len) / JSONW_MAX_ESCAPE) {
		fprintf(stderr, "smtpmon: output string too large (%zu bytes)\n", len);
		abort();
	}
	reserve(w, len * JSONW_MAX_ESCAPE);
	p = w->buf + w->len;
	while (i < len) {
		run = i;
		while (run < len && byte_class[s[run]] == BC_PLAIN)
			run++;
		memcpy(p, s + i, run - i);
		p += run - i;
		i = run;
		if (i == len)
			break;
		switch (byte_class[s[i]]) {
		case BC_QUOTE:
			if (form == ESCAPE_JSON || (form == ESCAPE_TEXT && s[i] == '\\'))
				*p++ = '\\';
			*p++ = (char)s[i++];
			continue;
		case BC_HIGH:
			seq = utf8_sequence_len(s + i, len - i);
			if (seq && (cp = unsafe_code_point(s + i, seq))) {
				p = put_code_point_escape(p, cp);
				i += seq;
				continue;
			}
			if (seq) {
				memcpy(p, s + i, seq);
				p += seq;
				i += seq;
				continue;
			}
			break;
		default:
			break;
		}
		if (form == ESCAPE_JSON)
			*p++ = '\\';
		*p++ = '\\';
		*p++ = 'x';
		*p++ = hex_digits[s[i] >> 4];
		*p++ = hex_digits[s[i] & 0xf];
		i++;
	}
	w->len = p - w->buf;
}

void escape_bytes(struct jsonw *w, const uint8_t *s, size_t len)
{
	escape(w, s, len, ESCAPE_JSON);
}

void escape_bytes_text(struct jsonw *w, const uint8_t *s, size_t len)
{
	escape(w, s, len, ESCAPE_TEXT);
}

void escape_bytes_decoded(struct jsonw *w, const uint8_t *s, size_t len)
{
	escape(w, s, len, ESCAPE_DECODED);
}

void jsonw_key_str(struct jsonw *w, const char *key, const uint8_t *s, size_t len)
{
	put_key(w, key);
	put_char(w, '"');
	escape_bytes(w, s, len);
	put_char(w, '"');
}

void jsonw_key_array_begin(struct jsonw *w, const char *key)
{
	put_key(w, key);
	put_char(w, '[');
	w->need_comma = false;
}

void jsonw_array_end(struct jsonw *w)
{
	put_char(w, ']');
	w->need_comma = true;
}

void jsonw_str(struct jsonw *w, const uint8_t *s, size_t len)
{
	if (w->need_comma)
		put_char(w, ',');
	put_char(w, '"');
	escape_bytes(w, s, len);
	put_char(w, '"');
	w->need_comma = true;
}

void jsonw_object_begin(struct jsonw *w)
{
	if (w->need_comma)
		put_char(w, ',');
	put_char(w, '{');
	w->need_comma = false;
}

void jsonw_object_end(struct jsonw *w)
{
	put_char(w, '}');
	w->need_comma = true;
}

void jsonw_key_cstr(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key_str(w, key, (const uint8_t *)s, strlen(s));
}

static const char two_digits[] = "00010203040506070809101112131415161718192021222324"
				 "25262728293031323334353637383940414243444546474849"
				 "50515253545556575859606162636465666768697071727374"
				 "75767778798081828384858687888990919293949596979899";

/* Two digits per division: numbers are most of a connection summary. */
static void put_u64(struct jsonw *w, uint64_t v)
{
	char digits[20], *p = digits + sizeof(digits);
	size_t n;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		*--p = two_digits[d + 1];
		*--p = two_digits[d];
	}
	if (v >= 10) {
		*--p = two_digits[v * 2 + 1];
		*--p = two_digits[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	n = (size_t)(digits + sizeof(digits) - p);
	reserve(w, n);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void jsonw_key_u64(struct jsonw *w, const char *key, uint64_t v)
{
	put_key(w, key);
	put_u64(w, v);
}

void jsonw_key_bool(struct jsonw *w, const char *key, bool v)
{
	put_key(w, key);
	if (v)
		jsonw_raw(w, "true", 4);
	else
		jsonw_raw(w, "false", 5);
}

void jsonw_key_time(struct jsonw *w, const char *key, uint64_t ns)
{
	uint32_t usec = (uint32_t)(ns % 1000000000u / 1000u); /* truncated, as pcap's µs */
	char *p;
	int i;

	put_key(w, key);
	put_u64(w, ns / 1000000000u);
	reserve(w, 7);
	p = w->buf + w->len;
	*p = '.';
	for (i = 6; i > 0; i--) {
		p[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	w->len += 7;
}
