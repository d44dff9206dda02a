// SPDX-License-Identifier: GPL-2.0-only
/* sniff.c - a file's MIME type from its first bytes (contract in sniff.h). */
#include <ctype.h>
#include <magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mime/sniff.h"

/* One database for the process, loaded on first use. */
static magic_t magic_cookie;
static bool magic_failed;

static magic_t magic_get(void)
{
	if (magic_cookie || magic_failed)
		return magic_cookie;
	/* No look inside compressed data: libmagic would decompress it, or
	 * fork a decompressor, on attacker-chosen bytes. */
	magic_cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
	if (!magic_cookie || magic_load(magic_cookie, NULL) != 0) {
		fprintf(stderr, "smtpmon: libmagic: %s: file types are not sniffed\n",
			magic_cookie ? magic_error(magic_cookie) : "magic_open failed");
		if (magic_cookie)
			magic_close(magic_cookie);
		magic_cookie = NULL;
		magic_failed = true;
	}
	return magic_cookie;
}

/* Zeek's plain-text signature: 10 printable or white-space bytes first
 * (libmagic calls shorter text plain too). */
static bool zeek_plain_text(const uint8_t *p, size_t n)
{
	if (n < 10)
		return false;
	for (int i = 0; i < 10; i++)
		if (!isprint(p[i]) && !isspace(p[i]))
			return false;
	return true;
}

static void set_type(const char *t, const uint8_t *p, size_t n, char out[SNIFF_TYPE_MAX])
{
	out[0] = '\0';
	if (!strcmp(t, "application/octet-stream") || !strcmp(t, "application/x-empty") ||
	    !strcmp(t, "inode/x-empty"))
		return;
	if (!strcmp(t, "text/plain") && !zeek_plain_text(p, n))
		return;
	snprintf(out, SNIFF_TYPE_MAX, "%s", t);
}

void sniff_type_libmagic(const uint8_t *p, size_t n, char out[SNIFF_TYPE_MAX])
{
	magic_t mc = magic_get();
	const char *t;

	out[0] = '\0';
	if (mc && n > 0 && (t = magic_buffer(mc, p, n)))
		set_type(t, p, n, out);
}

/* Bytes libmagic never finds in text: the C0 controls but BEL..CR and ESC,
 * and DEL. Bytes from 0x80 up are text to it (UTF-8, ISO-8859, or
 * "extended ASCII"), whatever their sequence. */
static bool looks_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c < 0x20 ? (c < 0x07 || c > 0x0d) && c != 0x1b : c == 0x7f)
			return false;
	}
	return true;
}

static bool starts_with(const uint8_t *p, size_t n, const char *word)
{
	size_t len = strlen(word);

	return n >= len && memcmp(p, word, len) == 0;
}

/* A first line that names a format libmagic knows by its first word: a
 * header field ("Received:", "BEGIN:VCALENDAR", "Index:"), mbox's "From ",
 * a diff, uuencode. */
static bool format_line(const uint8_t *p, size_t n)
{
	static const char *const words[] = {
	    "From ", "diff ", "begin ", "Only in ", "Common subdirectories: ", "Binary files "};
	size_t i = 0;

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		if (starts_with(p, n, words[w]))
			return true;
	while (i < n && (isalnum(p[i]) || p[i] == '-' || p[i] == '_'))
		i++;
	return i < n && p[i] == ':';
}

/* Marks that libmagic looks for anywhere in the text, each making it a
 * type of its own: a diff's lines, HTML's elements. Case is ignored (as
 * libmagic does for the elements). */
static bool has_mark(const uint8_t *p, size_t n)
{
	static const char *const marks[] = {
	    "\n--- ", "\n+++ ",	 "\n@@ ",  "\ndiff ", "\nIndex: ", "<html",	"<head", "<title",
	    "<body",  "<script", "<style", "<table",  "<a href",   "<!doctype", "<?xml"};

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n' && p[i] != '<')
			continue;
		for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
			size_t len = strlen(marks[m]);

			if (n - i >= len && !strncasecmp((const char *)p + i, marks[m], len))
				return true;
		}
	}
	return false;
}

/* Text that starts like prose (after white space, a letter or digit
 * beginning a line that is not a format's) and has none of the marks. */
static bool prose(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && isspace(p[i]))
		i++;
	return i < n && isalnum(p[i]) && !format_line(p + i, n - i) && !has_mark(p, n);
}

void sniff_type(const uint8_t *p, size_t n, char out[SNIFF_TYPE_MAX])
{
	if (n > 0 && looks_text(p, n) && prose(p, n)) {
		set_type("text/plain", p, n, out);
		return;
	}
	sniff_type_libmagic(p, n, out);
}
