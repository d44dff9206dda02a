// SPDX-License-Identifier: GPL-2.0-only
/*
 * sniff.h - the MIME type of a file from its first bytes, as files.log's
 * mime_type: libmagic's answer (MAGIC_MIME_TYPE), with Zeek's "nothing
 * matched" where libmagic says application/octet-stream or empty, and
 * Zeek's rule that text/plain needs 10 printable or white-space bytes first.
 *
 * libmagic costs 0.2-1.2 ms on text (thousands of text tests, regular
 * expressions and case-insensitive searches over the 4 KB), 0.03 ms on
 * binary formats. So text that starts like prose (a letter or digit, a
 * first line that is not a header field, a diff, an mbox or uuencode line)
 * is text/plain without asking it; every other content, text starting with
 * markup, a symbol, a BOM or a header-like line included, is libmagic's.
 * What that shortcut names differently from libmagic (text whose language
 * libmagic finds from keywords deeper in: C, Python, CSV...) is
 * docs/zeek-differences.md F3; tests/unit/test_sniff.c holds the two to
 * the same answers on tests/data/sniff.
 */
#ifndef SMTPMON_SNIFF_H
#define SMTPMON_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#define SNIFF_TYPE_MAX 128

/* Writes the type ("" for none: nothing recognised, or libmagic
 * unavailable, which is reported once on stderr) into out. */
void sniff_type(const uint8_t *p, size_t n, char out[SNIFF_TYPE_MAX]);

/* libmagic's own answer, with the same mapping: the oracle of the tests. */
void sniff_type_libmagic(const uint8_t *p, size_t n, char out[SNIFF_TYPE_MAX]);

#endif
