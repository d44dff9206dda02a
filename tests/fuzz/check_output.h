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

/* Decodes code points and rejects what UTF-8 forbids, the other way round
 * from jsonw.c (which checks byte ranges), so one cannot hide the other's
 * mistake. */
static inline int valid_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp, min;
		size_t n, k;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 2, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4, cp = s[i] & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (i + n > len)
			return 0;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

/* Sink output: valid UTF-8, only whole lines, no control byte but '\n'.
 * json: every line is one object, {...}. */
static inline void check_lines(const char *buf, size_t len, int json)
{
	size_t i, start = 0;

	CHECK(valid_utf8((const uint8_t *)buf, len));
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
