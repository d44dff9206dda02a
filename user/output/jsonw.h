// SPDX-License-Identifier: GPL-2.0-only
/*
 * jsonw.h - a small, fast JSON-lines writer into a reusable buffer.
 *
 * Strings are raw bytes. Escaping: '"' and '\' as in JSON; bytes below 0x20,
 * 0x7f and every byte that is not part of a well-formed UTF-8 sequence
 * (overlong forms, surrogates and code points above U+10FFFF included) are
 * written as the four characters \xNN (JSON: "\\xNN"), as Zeek does. Valid
 * UTF-8 passes through, except the characters a terminal or journald would
 * act on (C1 controls, U+2028/U+2029, bidirectional controls, noncharacters:
 * jsonw.c), written as JSON \u escapes. The output is always valid JSON and
 * valid UTF-8 and never contains a raw newline.
 */
#ifndef SMTPMON_JSONW_H
#define SMTPMON_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	bool need_comma;
};

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);
void jsonw_begin(struct jsonw *w); /* "{" */
void jsonw_end(struct jsonw *w);   /* "}\n" */
void jsonw_key_str(struct jsonw *w, const char *key, const uint8_t *s, size_t len);
void jsonw_key_cstr(struct jsonw *w, const char *key, const char *s);
void jsonw_key_u64(struct jsonw *w, const char *key, uint64_t v);
void jsonw_key_bool(struct jsonw *w, const char *key, bool v);
/* ts with microsecond precision, as Zeek prints it: 1732640000.123456 */
void jsonw_key_time(struct jsonw *w, const char *key, uint64_t ns);
/* Nesting, for records: "key":[ ... ], array elements jsonw_str() or
 * objects jsonw_object_begin() ... jsonw_object_end() holding keys. */
void jsonw_key_array_begin(struct jsonw *w, const char *key);
void jsonw_array_end(struct jsonw *w);
void jsonw_str(struct jsonw *w, const uint8_t *s, size_t len);
void jsonw_object_begin(struct jsonw *w);
void jsonw_object_end(struct jsonw *w);
/* Appends s escaped as above without quotes (also used by the text sink). */
void escape_bytes(struct jsonw *w, const uint8_t *s, size_t len);
/* The same JSON string value decoded once, except that \uXXXX escapes stay
 * written out: what the journal sink's fields carry. */
void escape_bytes_decoded(struct jsonw *w, const uint8_t *s, size_t len);
void jsonw_raw(struct jsonw *w, const char *s, size_t len);

#endif
