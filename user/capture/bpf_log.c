// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf_log.c - libbpf's messages and the reason of a failed load (contract in
 * bpf_log.h).
 *
 * libbpf 1.1 retries a failed program load with the verifier log on and
 * prints that log as one warning, between "-- BEGIN PROG LOAD LOG --" and
 * "-- END PROG LOAD LOG --"; the verifier says why it refused just before
 * the end (the offending access, then its instruction count).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "capture/bpf_log.h"

#define LOG_END "-- END PROG LOAD LOG --"
#define FAILED	"BPF program load failed"

static char kept[BPF_LOG_KEEP + 1];
static size_t kept_len;

static void keep(const char *text, size_t len)
{
	if (len >= BPF_LOG_KEEP) {
		text += len - BPF_LOG_KEEP;
		len = BPF_LOG_KEEP;
	}
	if (kept_len + len > BPF_LOG_KEEP) {
		size_t drop = kept_len + len - BPF_LOG_KEEP;

		memmove(kept, kept + drop, kept_len - drop);
		kept_len -= drop;
	}
	memcpy(kept + kept_len, text, len);
	kept_len += len;
	kept[kept_len] = '\0';
}

static int print_all(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stderr, fmt, args);
}

static int keep_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list again;
	char small[512], *text = small;
	int len;

	if (level != LIBBPF_WARN)
		return 0;
	va_copy(again, args);
	len = vsnprintf(small, sizeof(small), fmt, args);
	if (len >= (int)sizeof(small)) {
		text = malloc((size_t)len + 1);
		if (text)
			vsnprintf(text, (size_t)len + 1, fmt, again);
		else
			len = (int)sizeof(small) - 1; /* the start is better than nothing */
	}
	va_end(again);
	if (len > 0)
		keep(text ? text : small, (size_t)len);
	if (text != small)
		free(text);
	return len;
}

void bpf_log_start(bool verbose)
{
	kept_len = 0;
	kept[0] = '\0';
	libbpf_set_print(verbose ? print_all : keep_warnings);
}

const char *bpf_log_kept(void)
{
	return kept;
}

/* The start of the line that ends just before end (skipping empty lines);
 * NULL when there is none after from. */
static const char *line_before(const char *from, const char *end)
{
	while (end > from && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (end == from)
		return NULL;
	while (end > from && end[-1] != '\n')
		end--;
	return end;
}

static void print_line(const char *line)
{
	int len = (int)strcspn(line, "\n");

	fprintf(stderr, "smtpmon:   %.*s\n", len, line);
}

/* The last occurrence of needle in the kept text, or NULL. */
static const char *last_of(const char *needle)
{
	const char *found = NULL, *p = kept;

	while ((p = strstr(p, needle))) {
		found = p;
		p++;
	}
	return found;
}

size_t bpf_log_print_reason(void)
{
	const char *end = last_of(LOG_END), *failed = last_of(FAILED);
	const char *lines[BPF_LOG_REASON_LINES];
	size_t n = 0;

	if (failed)
		print_line(line_before(kept, failed + strcspn(failed, "\n")));
	if (!end)
		end = kept + kept_len;
	/* The verifier's last lines; without its log, libbpf's last warning. */
	while (n < (failed ? BPF_LOG_REASON_LINES : 1u)) {
		const char *line = line_before(kept, end);

		if (!line || (failed && line <= failed))
			break;
		lines[n++] = line;
		end = line;
	}
	for (size_t i = n; i > 0; i--)
		print_line(lines[i - 1]);
	return n + (failed != NULL);
}
