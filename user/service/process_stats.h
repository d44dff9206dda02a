// SPDX-License-Identifier: GPL-2.0-only
/*
 * process_stats.h - the daemon's own resource use, for the Prometheus
 * client libraries' standard process_* metrics (CPU seconds, resident and
 * virtual memory, open and maximum file descriptors, start time), read when
 * /metrics or smtpmonctl asks: getrusage, /proc/self/statm, /proc/self/fd
 * and RLIMIT_NOFILE. A value that cannot be read is 0, and the first failure
 * of each source is said once on stderr (a sandbox without /proc, say).
 */
#ifndef SMTPMON_PROCESS_STATS_H
#define SMTPMON_PROCESS_STATS_H

#include <stdint.h>

struct process_stats {
	uint64_t cpu_us;	 /* user + system CPU time, microseconds */
	uint64_t resident_bytes; /* resident set size */
	uint64_t virtual_bytes;	 /* address space size */
	uint64_t open_fds;	 /* open file descriptors */
	uint64_t max_fds;	 /* RLIMIT_NOFILE's soft limit */
};

void process_stats_read(struct process_stats *ps);

#endif
