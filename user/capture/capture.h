// SPDX-License-Identifier: GPL-2.0-only
/*
 * capture.h - live capture: load the BPF object (skeleton), attach it to the
 * interfaces, drain the ring buffer into the pipeline, feed flow hints back
 * into the kernel. The main loop around it is daemon.c.
 *
 * Attach: TCX links (kernel >= 6.6) on ingress and egress, legacy clsact
 * filters otherwise (our stale ones removed at start, detached on close); XDP
 * on ingress as an option; on "lo" ingress only. The programs never change a
 * packet's fate. Every kernel-side loss is counted and reaches the pipeline
 * as lost_before on the next segment of that direction.
 *
 * Privileges: capture_open() needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON
 * (or root). Afterwards polling, counters, capture_set_ports() and closing
 * links need no capability; only removing legacy clsact filters needs
 * CAP_NET_ADMIN (capture_needs_net_admin()).
 */
#ifndef SMTPMON_CAPTURE_H
#define SMTPMON_CAPTURE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/attach.h"
#include "flow/pipeline.h"
#include "capture/tls_probe.h"
#include "smtpmon.h"

#define CAPTURE_MAX_IFACES 16

enum ingress_hook {
	INGRESS_TC = 0,
	INGRESS_XDP,
};

struct capture_opts {
	char ifaces[CAPTURE_MAX_IFACES][IF_NAMESIZE];
	size_t nifaces;
	enum ingress_hook ingress;
	enum tc_attach tc_attach;
	enum xdp_mode xdp_mode;
	size_t ring_size;   /* bytes, power of two */
	bool bodies_skip;   /* the kernel stops copying message bodies (issue 5) */
	bool verbose;	    /* libbpf debug output and verifier log */
	bool tls_plaintext; /* probe the TLS libraries (tls_probe.h) */
	struct tls_probe_opts tls;
};

/* Kernel and ring counters, monotonic except ring_used. */
struct capture_counters {
	uint64_t kernel[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX]; /* all interfaces */
	/* The same per interface: slot 1.. the interfaces attached, in the
	 * order given, named in iface; slot 0 any other (smtpmon.h). */
	uint64_t iface_kernel[SMTPMON_IFACE_SLOTS][SMTPMON_PROG_MAX][SMTPMON_STAT_MAX];
	char iface[SMTPMON_IFACE_SLOTS][IF_NAMESIZE];
	size_t niface_slots; /* slots in use, slot 0 included */
	bool prog_loaded[SMTPMON_PROG_MAX];
	uint64_t ring_size, ring_used; /* bytes; used = written, not yet consumed */
	uint64_t records, bad_records; /* records read; malformed ones dropped */
	uint64_t tls_marks, tls_mark_errors;
	uint64_t skip_marks, skip_mark_errors; /* --bodies=skip hints to the kernel */
	bool tls_probes; /* the TLS library probes are attached (tls_probe.h) */
	uint64_t tls[SMTPMON_TLS_LIB_MAX][SMTPMON_TLS_STAT_MAX];
	bool tls_per_process;			 /* --tls-processes smtp: */
	uint64_t tls_procs[TLS_ATTACH_STAT_MAX]; /* the processes probed (tls_attach.h) */
	uint64_t tls_records, tls_bad_records;	 /* plaintext records read; malformed ones */
	uint64_t wall_clock_steps; /* the wall clock moved by more than 1 s against boot time */
};

/* Names for reports: "packets", "matched", ...; "tc_ingress", ... */
extern const char *const capture_stat_names[SMTPMON_STAT_MAX];
extern const char *const capture_prog_names[SMTPMON_PROG_MAX];

struct capture;
struct bpf_map;

/* Sums the per-CPU counters of every program from the skeleton's "percpu"
 * map into out (all interfaces) and, unless NULL, per_slot (per interface
 * slot); also for tools and tests that load the object themselves. 0 or
 * -errno. */
int capture_kernel_counters(
    const struct bpf_map *percpu_map, uint64_t out[SMTPMON_PROG_MAX][SMTPMON_STAT_MAX],
    uint64_t per_slot[SMTPMON_IFACE_SLOTS][SMTPMON_PROG_MAX][SMTPMON_STAT_MAX]);

/* Checks the kernel and privileges, loads, attaches (printing "smtpmon:
 * attached ..." per hook) and starts feeding segments to p. cfg is read
 * again by capture_set_ports(). NULL after a one-line error on stderr
 * ("smtpmon: attach XDP to eth0: ..."). */
struct capture *capture_open(const struct capture_opts *opts, const struct config *cfg,
			     struct pipeline *p);
/* Waits up to timeout_ms for records and hands them to the pipeline.
 * Returns the number of records, or -errno (EINTR is returned as 0). */
int capture_poll(struct capture *c, int timeout_ms);
/* Once a second: re-pairs the kernel's boot clock with the wall clock
 * (a change of more than a second counts as a wall-clock step). */
void capture_tick(struct capture *c);
/* Monitored ports now: the kernel's bitmap is rewritten in place. */
void capture_set_ports(struct capture *c, const struct config *cfg);
bool capture_counters(const struct capture *c, struct capture_counters *out);
bool capture_needs_net_admin(const struct capture *c);
/* Detaches, drains what is left in the ring, ends the pipeline's
 * connections (pipeline_finish), prints the counters on stderr, frees. NULL
 * is fine. */
void capture_close(struct capture *c);

#endif
