// SPDX-License-Identifier: GPL-2.0-only
/* queue_id.c - queue ids in final replies (contract and formats in queue_id.h). */
#include <string.h>

#include "records/queue_id.h"

enum side { AFTER, BEFORE };

struct queue_id_format {
	const char *mta;
	const char *marker;
	enum side side; /* the id is the token AFTER the marker, or BEFORE it */
};

/* First match wins: Exchange's reply also says "Queued mail for delivery",
 * so its InternalId comes before the generic forms. */
static const struct queue_id_format queue_id_formats[] = {
    {"postfix", "queued as ", AFTER}, {"exchange", "[InternalId=", AFTER},
    {"exim", "id=", AFTER},	      {"sendmail", " Message accepted for delivery", BEFORE},
    {"gmail", " - gsmtp", BEFORE},    {"qmail", " qp ", AFTER},
};

static bool id_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* 2.0.0, 2.6.0, 5.1.10: the enhanced status code, never an id */
static bool enhanced_code(const uint8_t *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 3; part++) {
		size_t start = i;
		while (i < len && is_digit(s[i]))
			i++;
		if (i == start || (part < 2 && (i >= len || s[i++] != '.')))
			return false;
	}
	return i == len;
}

static const uint8_t *find(const uint8_t *s, size_t len, const char *marker)
{
	return memmem(s, len, marker, strlen(marker));
}

bool queue_id_parse(const uint8_t *msg, size_t len, const uint8_t **id, size_t *id_len,
		    const char **mta)
{
	for (size_t f = 0; f < sizeof(queue_id_formats) / sizeof(queue_id_formats[0]); f++) {
		const struct queue_id_format *fmt = &queue_id_formats[f];
		const uint8_t *m = find(msg, len, fmt->marker);
		const uint8_t *start, *end;

		if (!m)
			continue;
		if (fmt->side == AFTER) {
			/* "id=" must start a word: not "Message-id=" or "xid=" */
			if (m > msg && fmt->marker[0] != ' ' && fmt->marker[0] != '[' &&
			    m[-1] != ' ')
				continue;
			start = end = m + strlen(fmt->marker);
			while (end < msg + len && id_char(*end))
				end++;
			/* the token must end at a separator, not at a byte an id cannot hold */
			if (end < msg + len && *end != ' ' && *end != ',' && *end != ']' &&
			    *end != ';' && *end != ')')
				continue;
		} else {
			end = start = m;
			while (start > msg && id_char(start[-1]))
				start--;
			if (start > msg && start[-1] != ' ')
				continue;
		}
		if (end == start || (size_t)(end - start) > QUEUE_ID_MAX ||
		    enhanced_code(start, (size_t)(end - start)))
			continue;
		*id = start;
		*id_len = (size_t)(end - start);
		*mta = fmt->mta;
		return true;
	}
	return false;
}
