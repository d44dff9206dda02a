// SPDX-License-Identifier: GPL-2.0-only
/*
 * linesplit.c - Zeek-compatible line splitting of one direction (contract in
 * linesplit.h). The scan uses memchr, so a line costs two or three passes of
 * fast byte search and, in the common case, no copy at all.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/linesplit.h"

#define LINESPLIT_MIN_ALLOC 256

void linesplit_init(struct linesplit *ls, size_t max)
{
	memset(ls, 0, sizeof(*ls));
	ls->max = max;
}

void linesplit_free(struct linesplit *ls)
{
	free(ls->buf);
	ls->buf = NULL;
	ls->len = ls->cap = 0;
}

/* First CR or LF in p[0..n), or NULL. */
static const uint8_t *find_terminator(const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n);
	const uint8_t *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);

	return cr ? cr : lf;
}

/* t points at CR or LF; returns the first byte after the terminator. A CR
 * that ends the delivery may still get its LF in the next one. */
static const uint8_t *skip_terminator(struct linesplit *ls, const uint8_t *t, const uint8_t *end)
{
	ls->prev_term = ls->term;
	if (*t == '\n') {
		ls->term = LS_TERM_LF;
		return t + 1;
	}
	if (t + 1 < end && t[1] == '\n') {
		ls->term = LS_TERM_CRLF;
		return t + 2;
	}
	ls->term = LS_TERM_CR;
	ls->after_cr = true;
	return t + 1;
}

/* Appends n bytes; the caller guarantees ls->len + n <= ls->max. */
static bool append(struct linesplit *ls, const uint8_t *p, size_t n)
{
	if (n == 0)
		return true;
	if (ls->len + n > ls->cap) {
		size_t cap = ls->cap ? ls->cap : LINESPLIT_MIN_ALLOC;
		uint8_t *b;

		while (cap < ls->len + n)
			cap *= 2;
		if (cap > ls->max)
			cap = ls->max;
		b = realloc(ls->buf, cap);
		if (!b)
			return false;
		ls->buf = b;
		ls->cap = cap;
	}
	memcpy(ls->buf + ls->len, p, n);
	ls->len += n;
	return true;
}

/* Hands out the buffered line; its bytes stay valid until the next append. */
static void take_buffered(struct linesplit *ls, struct bytes *line)
{
	*line = (struct bytes){ls->buf, ls->len};
	ls->len = 0;
}

/* The line cannot grow (too long, or no memory): return what fits and drop
 * the rest of it. */
static void cut_line(struct linesplit *ls, const uint8_t *p, size_t n, struct bytes *line,
		     unsigned *flags)
{
	*flags |= LS_SIZE_EXCEEDED;
	ls->discarding = true;
	if (ls->len == 0) {
		*line = (struct bytes){p, n};
		return;
	}
	(void)append(ls, p, n); /* on failure the part already buffered is the line */
	take_buffered(ls, line);
}

bool linesplit_next(struct linesplit *ls, const uint8_t **data, size_t *len, struct bytes *line,
		    unsigned *flags)
{
	const uint8_t *p = *data, *end = p + *len;
	bool got = false;

	while (p < end && !got) {
		const uint8_t *t, *stop, *nul = NULL;
		size_t n, room;

		if (ls->after_cr) {
			ls->after_cr = false;
			if (*p == '\n') {
				ls->term = LS_TERM_CRLF;
				p++;
				continue;
			}
			if (*p != '\r')
				*flags |= LS_SINGLE_CR;
		}
		t = find_terminator(p, (size_t)(end - p));
		if (ls->discarding) {
			if (!t) {
				p = end;
				break;
			}
			ls->discarding = false;
			p = skip_terminator(ls, t, end);
			continue;
		}
		stop = t ? t : end;
		if (!ls->nul_seen && (nul = memchr(p, 0, (size_t)(stop - p))))
			stop = nul;
		n = (size_t)(stop - p);
		room = ls->max - ls->len;
		if (n > room) {
			cut_line(ls, p, room, line, flags);
			p += room;
			got = true;
		} else if (stop == t && ls->len == 0) {
			*line = (struct bytes){p, n};
			p = skip_terminator(ls, t, end);
			got = true;
		} else if (!append(ls, p, n)) {
			cut_line(ls, p, 0, line, flags);
			p = stop;
			got = true;
		} else if (stop == nul) {
			ls->nul_seen = true;
			*flags |= LS_NUL_REMOVED;
			p = nul + 1;
		} else if (stop == t) {
			take_buffered(ls, line);
			p = skip_terminator(ls, t, end);
			got = true;
		} else {
			p = end;
		}
	}
	*len -= (size_t)(p - *data);
	*data = p;
	return got;
}

size_t linesplit_plain_run(const struct linesplit *ls, const uint8_t *data, size_t len)
{
	const uint8_t *line = data, *end = data + len;

	if (ls->len || ls->after_cr || ls->discarding)
		return 0;
	if (!ls->nul_seen) {
		const uint8_t *nul = memchr(data, 0, len);
		if (nul)
			end = nul; /* the line with the NUL never ends before it */
	}
	while (line < end && *line != '.') {
		size_t n = (size_t)(end - line);
		/* Room for max bytes, CR and LF: a line of max bytes is whole. */
		const uint8_t *lf = memchr(line, '\n', n < ls->max + 2 ? n : ls->max + 2);
		const uint8_t *last;

		if (!lf)
			break;
		last = lf > line && lf[-1] == '\r' ? lf - 1 : lf;
		if ((size_t)(last - line) > ls->max || memchr(line, '\r', (size_t)(last - line)))
			break;
		line = lf + 1;
	}
	return (size_t)(line - data);
}

void linesplit_skipped(struct linesplit *ls, const uint8_t *data, size_t n)
{
	/* Plain lines end in LF (after a CR or not), and none is carried over. */
	const uint8_t *before = n >= 2 ? memrchr(data, '\n', n - 1) : NULL;

	if (before)
		ls->prev_term = before > data && before[-1] == '\r' ? LS_TERM_CRLF : LS_TERM_LF;
	else
		ls->prev_term = ls->term;
	ls->term = n >= 2 && data[n - 2] == '\r' ? LS_TERM_CRLF : LS_TERM_LF;
}

size_t linesplit_begin_raw(struct linesplit *ls, const uint8_t *data, size_t len)
{
	bool lf_pending = ls->after_cr;

	ls->after_cr = false;
	return lf_pending && len > 0 && data[0] == '\n';
}

bool linesplit_flush(struct linesplit *ls, struct bytes *line)
{
	ls->after_cr = false;
	if (ls->len) {
		ls->prev_term = ls->term;
		ls->term = LS_TERM_NONE;
	}
	ls->discarding = false;
	if (ls->len == 0)
		return false;
	take_buffered(ls, line);
	return true;
}

void linesplit_gap(struct linesplit *ls)
{
	if (ls->len > 0)
		ls->discarding = true;
	ls->len = 0;
	ls->after_cr = false;
	ls->term = ls->prev_term = LS_TERM_NONE;
}
