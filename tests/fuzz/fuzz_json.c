// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_json.c - libFuzzer harness for the JSON writer's escaping.
 *
 * The input is one raw byte string. Checked on every input:
 *   - the JSON line is valid UTF-8 without a character a terminal acts on
 *     (a decoder written independently of jsonw.c's validator,
 *     check_output.h), contains no byte < 0x20 or 0x7f except the final
 *     newline, and every '"' inside the value is escaped;
 *   - the text form is the same kind of text and decodes back to the input
 *     exactly (\\, \xNN, and \uXXXX, a pair above U+FFFF, only for a
 *     character a terminal acts on);
 *   - the JSON value is the text form with "\\" read as one backslash and
 *     \uXXXX as its character (the JSON value is ambiguous as Zeek's is;
 *     the text form is not);
 *   - the first 8 bytes as a timestamp print as seconds.micros exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "output/jsonw.h"
#include "output/out_common.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static uint32_t hex4(const char *t, size_t len, size_t i)
{
	uint32_t v = 0;

	CHECK(i + 6 <= len && t[i] == '\\' && t[i + 1] == 'u');
	for (size_t k = i + 2; k < i + 6; k++) {
		CHECK(hex_value(t[k]) >= 0);
		v = v << 4 | (uint32_t)hex_value(t[k]);
	}
	return v;
}

/* The \uXXXX escape (or surrogate pair) at t[*i] as UTF-8 into out; it must
 * be a character a terminal acts on. Returns the bytes written. */
static size_t unescape_u(const char *t, size_t len, size_t *i, uint8_t *out)
{
	uint32_t cp = hex4(t, len, *i);

	*i += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		uint32_t lo = hex4(t, len, *i);

		CHECK(lo >= 0xdc00 && lo <= 0xdfff);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*i += 6;
	}
	CHECK(acted_on(cp));
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Text form -> original bytes; returns the decoded length. */
static size_t unescape_text(const char *t, size_t len, uint8_t *out)
{
	size_t i = 0, n = 0;

	while (i < len) {
		if (t[i] != '\\') {
			out[n++] = (uint8_t)t[i++];
			continue;
		}
		CHECK(i + 1 < len);
		if (t[i + 1] == '\\') {
			out[n++] = '\\';
			i += 2;
			continue;
		}
		if (t[i + 1] == 'u') {
			n += unescape_u(t, len, &i, out + n);
			continue;
		}
		CHECK(t[i + 1] == 'x' && i + 3 < len);
		CHECK(hex_value(t[i + 2]) >= 0 && hex_value(t[i + 3]) >= 0);
		out[n++] = (uint8_t)(hex_value(t[i + 2]) << 4 | hex_value(t[i + 3]));
		i += 4;
	}
	return n;
}

/* JSON string body -> its value: only \", \\ and \uXXXX may appear. */
static size_t unescape_json(const char *t, size_t len, char *out)
{
	size_t i = 0, n = 0;

	while (i < len) {
		CHECK(t[i] != '"');
		if (t[i] == '\\' && i + 1 < len && t[i + 1] == 'u') {
			n += unescape_u(t, len, &i, (uint8_t *)out + n);
			continue;
		}
		if (t[i] == '\\') {
			CHECK(i + 1 < len && (t[i + 1] == '"' || t[i + 1] == '\\'));
			i++;
		}
		out[n++] = t[i++];
	}
	return n;
}

static void check_time(const uint8_t *data, size_t size)
{
	uint64_t ns = 0;
	struct jsonw w;
	char *end;

	memcpy(&ns, data, size < sizeof(ns) ? size : sizeof(ns));
	jsonw_init(&w);
	jsonw_begin(&w);
	jsonw_key_time(&w, "t", ns);
	jsonw_end(&w);
	jsonw_raw(&w, "", 1);
	CHECK(!strncmp(w.buf, "{\"t\":", 5));
	CHECK(strtoull(w.buf + 5, &end, 10) == ns / 1000000000u);
	CHECK(*end == '.' && strlen(end) == 1 + 6 + 2 && !strcmp(end + 7, "}\n"));
	CHECK(strtoull(end + 1, NULL, 10) == ns % 1000000000u / 1000u);
	jsonw_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonw json, text;
	uint8_t *decoded;
	char *value, *collapsed;
	size_t i, body_len, n, m;

	jsonw_init(&json);
	jsonw_begin(&json);
	jsonw_key_str(&json, "s", data, size);
	jsonw_end(&json);
	check_lines(json.buf, json.len, 1);
	CHECK(json.len >= 9 && !memcmp(json.buf, "{\"s\":\"", 6));
	CHECK(!memcmp(json.buf + json.len - 3, "\"}\n", 3));
	CHECK(!memchr(json.buf, '\n', json.len - 1));

	jsonw_init(&text);
	escape_bytes_text(&text, data, size);
	CHECK(safe_text((const uint8_t *)text.buf, text.len));
	decoded = malloc(text.len + 1);
	CHECK(decoded);
	n = unescape_text(text.buf, text.len, decoded);
	CHECK(n == size && (size == 0 || !memcmp(decoded, data, size)));
	free(decoded);

	body_len = json.len - 9;
	value = malloc(body_len + 1);
	CHECK(value);
	n = unescape_json(json.buf + 6, body_len, value);
	collapsed = malloc(text.len + 1);
	CHECK(collapsed);
	for (i = 0, m = 0; i < text.len;) {
		if (text.buf[i] == '\\' && text.buf[i + 1] == 'u') {
			m += unescape_u(text.buf, text.len, &i, (uint8_t *)collapsed + m);
			continue;
		}
		collapsed[m++] = text.buf[i];
		if (text.buf[i] == '\\' && text.buf[i + 1] == '\\')
			i++;
		i++;
	}
	CHECK(n == m && (n == 0 || !memcmp(value, collapsed, n)));
	free(collapsed);
	free(value);

	jsonw_free(&json);
	jsonw_free(&text);
	check_time(data, size);
	return 0;
}
