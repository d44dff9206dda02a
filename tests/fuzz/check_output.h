// SPDX-License-Identifier: GPL-2.0-only
/*
 * check_output.h - checks shared by the libFuzzer harnesses: what every sink
 * output must satisfy whatever the input. A violated check traps, so
 * libFuzzer keeps the input as a crash.
 */
#ifndef SMTPMON_FUZZ_CHECK_OUTPUT_H
#define SMTPMON_FUZZ_CHECK_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* The code point of the UTF-8 sequence at s[*i], advancing *i past it, or
 * -1 for what UTF-8 forbids. Decodes code points and rejects by their value,
 * the other way round from jsonw.c (which checks byte ranges), so one cannot
 * hide the other's mistake. */
static inline int32_t next_code_point(const uint8_t *s, size_t len, size_t *i)
{
	uint32_t cp, min;
	size_t n, k;

	if (s[*i] < 0x80)
		return s[(*i)++];
	if ((s[*i] & 0xe0) == 0xc0)
		n = 2, cp = s[*i] & 0x1f, min = 0x80;
	else if ((s[*i] & 0xf0) == 0xe0)
		n = 3, cp = s[*i] & 0x0f, min = 0x800;
	else if ((s[*i] & 0xf8) == 0xf0)
		n = 4, cp = s[*i] & 0x07, min = 0x10000;
	else
		return -1;
	if (*i + n > len)
		return -1;
	for (k = 1; k < n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n;
	return (int32_t)cp;
}

/* What a terminal or journald acts on and the outputs must escape (jsonw.h):
 * C1 controls, line and paragraph separators, bidirectional controls,
 * noncharacters. Written from Unicode's lists, not from jsonw.c. */
static inline int acted_on(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
	       (cp & 0xffff) == 0xfffe || (cp & 0xffff) == 0xffff;
}

static inline int valid_utf8(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (next_code_point(s, len, &i) < 0)
			return 0;
	return 1;
}

/* Valid UTF-8 with no character a terminal or journald acts on. */
static inline int safe_text(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		int32_t cp = next_code_point(s, len, &i);

		if (cp < 0 || acted_on((uint32_t)cp))
			return 0;
	}
	return 1;
}

/* Sink output: safe text (above), only whole lines, no control byte but
 * '\n'. json: every line is one object, {...}. */
static inline void check_lines(const char *buf, size_t len, int json)
{
	size_t i, start = 0;

	CHECK(safe_text((const uint8_t *)buf, len));
	CHECK(len == 0 || buf[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			if (json)
				CHECK(i - start >= 2 && buf[start] == '{' && buf[i - 1] == '}');
			start = i + 1;
			continue;
		}
		CHECK((uint8_t)buf[i] >= 0x20 && buf[i] != 0x7f);
	}
}

#endif
