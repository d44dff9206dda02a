// SPDX-License-Identifier: GPL-2.0-only
/*
 * linesplit.h - one direction's byte stream cut into lines the way Zeek's
 * ContentLine analyzer (src/analyzer/protocol/tcp/ContentLine.cc) does for SMTP.
 *
 * CR LF, a bare LF and a bare CR each end a line; a CR ending one delivery and
 * an LF starting the next are one terminator. The first NUL of the direction
 * is removed (later ones are kept). A line longer than max bytes is cut: its
 * first max bytes are returned and the rest up to the terminator is dropped,
 * so an over-long line can never be re-read as a new line (unlike Zeek, see
 * docs/zeek-differences.md, 4). Lines lying wholly inside one delivery are
 * returned without copying; only a line that spans deliveries is buffered (at
 * most max bytes, grown on demand).
 */
#ifndef SMTPMON_LINESPLIT_H
#define SMTPMON_LINESPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/event.h"

/* Anomalies seen while splitting; Zeek's weird names in the comments. */
enum linesplit_flag {
	LS_NUL_REMOVED = 1u << 0,   /* NUL_in_line */
	LS_SINGLE_CR = 1u << 1,	    /* line_terminated_with_single_CR */
	LS_SIZE_EXCEEDED = 1u << 2, /* contentline_size_exceeded */
};

/* How a line ended: what MTAs disagree on in the end of a message (SMTP
 * smuggling, docs/smuggling.md). */
enum linesplit_term {
	LS_TERM_NONE = 0, /* no line yet, or one cut by a gap or the end */
	LS_TERM_CRLF,
	LS_TERM_LF,
	LS_TERM_CR, /* while after_cr: an LF may still follow in the next delivery */
};

struct linesplit {
	uint8_t *buf; /* partial line carried over between deliveries */
	size_t len, cap, max;
	uint8_t term, prev_term; /* enum linesplit_term of the last line and the one before */
	bool after_cr;		 /* last line ended in a bare CR: an LF next belongs to it */
	bool discarding;	 /* dropping the tail of a cut line, up to its terminator */
	bool nul_seen;		 /* the direction's first NUL was already removed */
};

void linesplit_init(struct linesplit *ls, size_t max);
void linesplit_free(struct linesplit *ls);

/*
 * Consume bytes from data (advancing *data, *len) until a line is complete. Returns true with
 * the line (valid until the next call) or false once all input is consumed
 * and the line, if any, is still open. *flags gets LS_* bits for anomalies
 * met on the way (also when false is returned).
 */
bool linesplit_next(struct linesplit *ls, const uint8_t **data, size_t *len, struct bytes *line,
		    unsigned *flags);

/*
 * Message body fast path: the length of the run of whole lines at the start
 * of data that linesplit_next() would return as they are, with nothing to
 * report: no NUL (while the direction has not had one), no bare CR, at most
 * max bytes, and not starting with '.' (the end of DATA and dot-stuffing are
 * left to the caller). 0 while a partial line is carried over. The caller
 * skips those bytes instead of taking the lines one by one.
 */
size_t linesplit_plain_run(const struct linesplit *ls, const uint8_t *data, size_t len);
/* The caller skipped n > 0 bytes that linesplit_plain_run() allowed: the
 * terminators are brought up to date. */
void linesplit_skipped(struct linesplit *ls, const uint8_t *data, size_t n);

/* The caller takes the next bytes raw (BDAT chunk): an LF completing a
 * CR-terminated line is skipped first. Returns the bytes skipped (0 or 1). */
size_t linesplit_begin_raw(struct linesplit *ls, const uint8_t *data, size_t len);

/* End of the direction: an unterminated, non-empty line is returned. */
bool linesplit_flush(struct linesplit *ls, struct bytes *line);

/* Bytes are missing: a partial line is broken, so it and the bytes up to the
 * next terminator are dropped. */
void linesplit_gap(struct linesplit *ls);

#endif
