// SPDX-License-Identifier: GPL-2.0-only
/* process_stats.c - see process_stats.h. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "service/process_stats.h"

/* Says the first failure of one source, then keeps quiet about it. */
static void report_once(bool *said, const char *what)
{
	if (*said)
		return;
	*said = true;
	fprintf(stderr, "smtpmon: metrics: %s: %s (reported as 0)\n", what, strerror(errno));
}

static uint64_t count_fds(void)
{
	static bool said;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d) {
		report_once(&said, "/proc/self/fd");
		return 0;
	}
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
}

static void read_statm(struct process_stats *ps)
{
	static bool said;
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f) {
		report_once(&said, "/proc/self/statm");
		return;
	}
	if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
		ps->virtual_bytes = size * (uint64_t)page;
		ps->resident_bytes = resident * (uint64_t)page;
	} else {
		errno = EINVAL;
		report_once(&said, "/proc/self/statm: unreadable");
	}
	fclose(f);
}

void process_stats_read(struct process_stats *ps)
{
	static bool said_rusage, said_rlimit;
	struct rusage ru;
	struct rlimit rl;

	memset(ps, 0, sizeof(*ps));
	if (!getrusage(RUSAGE_SELF, &ru))
		ps->cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
			     (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	else
		report_once(&said_rusage, "getrusage");
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		ps->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
	else
		report_once(&said_rlimit, "getrlimit");
	read_statm(ps);
	ps->open_fds = count_fds();
}
