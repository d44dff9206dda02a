// SPDX-License-Identifier: GPL-2.0-only
/*
 * encoded_words.h - header text as people read it: RFC 2047 encoded words
 * ("=?utf-8?B?...?=") and RFC 2231 parameter values (filename*=utf-8''%E2...,
 * continuations filename*0*=, filename*1=), converted to UTF-8 with iconv
 * (any charset the C library knows). Bytes that cannot be converted, and
 * text in an unknown charset, are kept as they are: the writers escape them.
 * Output is cut at cap bytes; nothing is allocated beyond a fixed scratch.
 */
#ifndef SMTPMON_ENCODED_WORDS_H
#define SMTPMON_ENCODED_WORDS_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2047: in[0..len) with its encoded words decoded (white space between
 * two adjacent encoded words dropped) into out; returns the bytes written. */
size_t ew_decode_2047(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* The parameter name (case-insensitive) of a structured header value such as
 * `attachment; filename="a.txt"` or `text/plain; name*=utf-8''%C3%A9.txt`,
 * decoded: RFC 2231 forms (name*, name*0, name*0*, ...) win over the plain
 * one, a plain value has its encoded words decoded (RFC 2047, as mail clients
 * write them). Returns the bytes written to out, 0 when the parameter is
 * absent or empty. */
size_t ew_param_value(const uint8_t *value, size_t len, const char *name, uint8_t *out, size_t cap);

#endif
