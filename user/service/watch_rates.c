// SPDX-License-Identifier: GPL-2.0-only
/* watch_rates.c - see watch_rates.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "service/watch_rates.h"

/* Where the rates begin: after the table's numbers (report.c pads to 60). */
#define RATE_COLUMN 76

struct row {
	char *key; /* the row up to its number, trailing blanks removed */
	uint64_t value;
};

struct rows {
	struct row *row;
	size_t n, cap;
};

struct watch_rates {
	char **counter; /* family names, without smtpmon_ and _total */
	size_t ncounters;
	struct rows prev;
	double prev_s;
	bool have_prev;
};

static void rows_clear(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->row[i].key);
	rs->n = 0;
}

static bool rows_add(struct rows *rs, const char *key, size_t len, uint64_t value)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct row *bigger = realloc(rs->row, cap * sizeof(*bigger));
		if (!bigger)
			return false;
		rs->row = bigger;
		rs->cap = cap;
	}
	if (!(rs->row[rs->n].key = strndup(key, len)))
		return false;
	rs->row[rs->n++].value = value;
	return true;
}

static const struct row *rows_find(const struct rows *rs, const char *key, size_t len)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strncmp(rs->row[i].key, key, len) && !rs->row[i].key[len])
			return &rs->row[i];
	return NULL;
}

struct watch_rates *watch_rates_new(void)
{
	struct watch_rates *wr = calloc(1, sizeof(*wr));

	if (!wr)
		fprintf(stderr, "smtpmonctl: out of memory\n");
	return wr;
}

void watch_rates_free(struct watch_rates *wr)
{
	if (!wr)
		return;
	for (size_t i = 0; i < wr->ncounters; i++)
		free(wr->counter[i]);
	free(wr->counter);
	rows_clear(&wr->prev);
	free(wr->prev.row);
	free(wr);
}

bool watch_rates_counters(struct watch_rates *wr, const char *exposition)
{
	static const char type[] = "# TYPE smtpmon_";
	static const char counter[] = "_total counter\n";
	const char *line, *end;

	for (line = exposition; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		size_t len = (size_t)(end - line) + (*end == '\n');
		size_t tl = sizeof(type) - 1, cl = sizeof(counter) - 1;
		if (len <= tl + cl || strncmp(line, type, tl) ||
		    strncmp(line + len - cl, counter, cl))
			continue;
		char **bigger = realloc(wr->counter, (wr->ncounters + 1) * sizeof(*bigger));
		if (!bigger)
			return false;
		wr->counter = bigger;
		if (!(wr->counter[wr->ncounters] = strndup(line + tl, len - tl - cl)))
			return false;
		wr->ncounters++;
	}
	return true;
}

static bool is_counter(const struct watch_rates *wr, const char *name, size_t len)
{
	for (size_t i = 0; i < wr->ncounters; i++)
		if (!strncmp(wr->counter[i], name, len) && !wr->counter[i][len])
			return true;
	return false;
}

bool watch_rates_print(struct watch_rates *wr, const char *table, double now_s, FILE *out)
{
	struct rows cur = {0};
	const char *line, *end;
	double dt = now_s - wr->prev_s;
	bool ok = true;

	for (line = table; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		const char *num = end;
		while (num > line && num[-1] >= '0' && num[-1] <= '9')
			num--;
		const char *key_end = num;
		while (key_end > line && key_end[-1] == ' ')
			key_end--;
		size_t name_len = strcspn(line, " \n");
		fwrite(line, 1, (size_t)(end - line), out);
		if (num == end || key_end == num || !is_counter(wr, line, name_len)) {
			fputc('\n', out);
			continue;
		}
		uint64_t v = strtoull(num, NULL, 10);
		size_t key_len = (size_t)(key_end - line);
		const struct row *p = rows_find(&wr->prev, line, key_len);
		uint64_t before = p ? p->value : 0;
		if (wr->have_prev && dt > 0 && v >= before)
			fprintf(out, "%*s %12.1f/s",
				end - line < RATE_COLUMN ? (int)(RATE_COLUMN - (end - line)) : 0,
				"", (double)(v - before) / dt);
		fputc('\n', out);
		ok = ok && rows_add(&cur, line, key_len, v);
	}
	rows_clear(&wr->prev);
	free(wr->prev.row);
	wr->prev = cur;
	wr->prev_s = now_s;
	wr->have_prev = true;
	return ok;
}
