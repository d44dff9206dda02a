// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls_attach.h - the TLS probes, attached per process (docs/tls-plaintext.md,
 * "Which processes"). A uprobe attached to a library file traps in every
 * process that calls the function, an HTTPS server's as much as the MTA's;
 * attached per process it traps only in that process. The kernel marks the
 * processes to probe (tls.bpf.c, "tls_procs") and tells which through a ring
 * buffer; this module attaches and detaches.
 *
 * Attaching needs CAP_SYS_ADMIN, and processes come and go for as long as
 * smtpmon runs, while the daemon drops every capability once started. So
 * tls_attach_start(), called while the capabilities are there, forks a
 * child, "smtpmon-attach", that keeps CAP_SYS_ADMIN, CAP_PERFMON and CAP_BPF
 * and no other, reads nothing but the daemon's requests over a socket pair,
 * and does three things: attach a process's probes, detach them, run the
 * kernel's scan for processes to probe. It ends when the daemon does (end of
 * file on the socket, or SIGKILL when the daemon dies).
 *
 * The daemon's side never blocks: requests wait in a buffer while the child
 * is busy (tls_attach_flush() sends them); beyond that they are counted lost.
 */
#ifndef SMTPMON_TLS_ATTACH_H
#define SMTPMON_TLS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_program;

/* One uprobe to attach to each process. */
struct tls_attach_probe {
	int fd;		 /* the library file, open: attached as /proc/self/fd/N */
	uint64_t offset; /* of the function in the file */
	struct bpf_program *prog;
	bool retprobe;
	const char *func, *file; /* for messages */
};

enum tls_attach_stat {
	TLS_ATTACH_PROCESSES = 0, /* probed now (a gauge) */
	TLS_ATTACH_ATTACHED,	  /* processes attached, ever */
	TLS_ATTACH_FAILED,	  /* processes not attached (gone before, no room, an error) */
	TLS_ATTACH_LOST,	  /* requests lost: the child fell behind */
	TLS_ATTACH_STAT_MAX,
};

extern const char *const tls_attach_stat_names[TLS_ATTACH_STAT_MAX];

struct tls_attach;

/* Forks the child with probes[0..n) (copied) and the kernel's two scan
 * programs. NULL after one line on stderr. */
struct tls_attach *tls_attach_start(const struct tls_attach_probe *probes, size_t n,
				    struct bpf_program *scan_sockets,
				    struct bpf_program *scan_children);
/* Queues a request: attach to process tgid (again, if its id was reused),
 * or detach from it (gone). */
void tls_attach_process(struct tls_attach *a, uint32_t tgid, bool gone);
/* Queues a run of the kernel's scan: the processes that hold a socket of a
 * monitored port now, and their descendants, are marked (and reported
 * through the ring buffer). */
void tls_attach_scan(struct tls_attach *a);
/* Sends what waits, as much as the socket takes. */
void tls_attach_flush(struct tls_attach *a);
/* Waits, up to timeout_ms, until the child has done every request sent
 * before. False on timeout or when the child is gone. */
bool tls_attach_sync(struct tls_attach *a, int timeout_ms);
void tls_attach_counters(const struct tls_attach *a, uint64_t out[TLS_ATTACH_STAT_MAX]);
/* NULL is fine. */
void tls_attach_stop(struct tls_attach *a);

#endif
