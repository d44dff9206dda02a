// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls_probe.h - the plaintext of TLS sessions from the TLS libraries
 * (bpf/tls.bpf.c, docs/tls-plaintext.md): find the library files, load the
 * probes, attach them, count.
 *
 * The files probed: every OpenSSL (libssl.so.3) and GnuTLS (libgnutls.so.30)
 * that a running process maps (through /proc/PID/map_files, so a chroot, a
 * container or a library deleted by an upgrade is no obstacle), those in the
 * standard library directories, and those named in the settings. They stay
 * open while smtpmon runs. The processes probed (opts.processes): every
 * process that maps a probed file (uprobes on the files), or only those the
 * kernel marks (smtpmon.h, "tls_procs"), each with its own uprobes
 * (tls_attach.h), so that a process that is no SMTP peer pays no trap. The
 * kernel copies only the
 * plaintext of sockets on a monitored port. Failure to set any of it up is
 * one line on stderr and a NULL: the capture goes on without plaintext
 * (documented degradation).
 */
#ifndef SMTPMON_TLS_PROBE_H
#define SMTPMON_TLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/tls_attach.h"
#include "settings/config.h"
#include "smtpmon.h"

#define TLS_PROBE_MAX_FILES 32
#define TLS_PROBE_PATH_MAX  256

/* Which processes pay the uprobes' traps (docs/tls-plaintext.md). */
enum tls_processes {
	/* SMTP where the probes can be defined in tracefs (so that forks
	 * inherit them: trace_uprobes.h), ALL where not. */
	TLS_PROCESSES_AUTO = 0,
	TLS_PROCESSES_ALL,  /* uprobes on the library files: every process that maps them */
	TLS_PROCESSES_SMTP, /* per process: those on monitored ports and their children */
};

struct tls_probe_opts {
	size_t ring_size; /* bytes, power of two */
	enum tls_processes processes;
	bool bodies_skip; /* the kernel also starts body skips on its own */
	/* More library files to probe, besides those found. */
	char extra[TLS_PROBE_MAX_FILES][TLS_PROBE_PATH_MAX];
	size_t nextra;
};

struct tls_probe;
struct ring_buffer;

/* Loads and attaches; per process, starts the attacher (it keeps the
 * capabilities attaching needs) and probes the processes on monitored ports
 * now, before it returns. NULL after one line on stderr. */
struct tls_probe *tls_probe_open(const struct tls_probe_opts *opts, const struct config *cfg);
/* "smtpmon: TLS plaintext from FILE (LIB, N processes map it)" per file
 * probed and "smtpmon: TLS plaintext: N processes probed now (...)", on
 * stderr. */
void tls_probe_report(const struct tls_probe *t);
/* Adds the kernel's news of processes to probe (or gone) to rb: polling rb
 * then attaches and detaches. False when it could not be added. */
bool tls_probe_watch(struct tls_probe *t, struct ring_buffer *rb);
/* Now and then: sends the attach requests that had to wait. */
void tls_probe_tick(struct tls_probe *t);
/* The processes probed (enum tls_attach_stat); lost includes the kernel's
 * marks lost to a full map or ring. False (all 0) when the probes sit on
 * the files. */
bool tls_probe_process_counters(const struct tls_probe *t, uint64_t out[TLS_ATTACH_STAT_MAX]);
/* The ring buffer of struct smtpmon_tls_rec records. */
int tls_probe_ring_fd(const struct tls_probe *t);
/* Monitored ports now (reload); processes on the new ones are probed. */
void tls_probe_set_ports(struct tls_probe *t, const struct config *cfg);
/* --bodies=skip: the client-to-server plaintext of the TLS object (tgid,
 * object) is a message body from now on, up to offset chunk_end of that
 * direction (BDAT) or, with chunk_end 0, up to its end marker (DATA), as
 * decided when the server-to-client plaintext stood at server_off. The
 * kernel ends it at the end it sees, or as stale once the server has spoken
 * since; a chunk it found itself is not replaced. False when the map update
 * failed. */
bool tls_probe_skip(struct tls_probe *t, uint32_t tgid, uint64_t object, uint64_t chunk_end,
		    uint64_t server_off);
/* Counters summed over CPUs, per library. */
bool tls_probe_counters(const struct tls_probe *t,
			uint64_t out[SMTPMON_TLS_LIB_MAX][SMTPMON_TLS_STAT_MAX]);
void tls_probe_close(struct tls_probe *t);

extern const char *const tls_probe_lib_names[SMTPMON_TLS_LIB_MAX];
extern const char *const tls_probe_stat_names[SMTPMON_TLS_STAT_MAX];

#endif
