/*
 * capture.h - live capture: load the BPF object (skeleton), attach it to the
 * interfaces, drain the ring buffer into the pipeline until stopped.
 *
 * Attach: TCX links (kernel >= 6.6) on ingress and egress, legacy clsact
 * filters otherwise (our stale ones removed at start, detached on exit); XDP
 * on ingress as an option; on "lo" ingress only. The programs never change a
 * packet's fate. Every kernel-side loss is counted and reaches the pipeline
 * as lost_before on the next segment of that direction.
 */
#ifndef SMTPMON_CAPTURE_H
#define SMTPMON_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

#define CAPTURE_MAX_IFACES 16

enum ingress_hook {
	INGRESS_TC = 0,
	INGRESS_XDP,
};

struct capture_opts {
	const char *ifaces[CAPTURE_MAX_IFACES];
	size_t nifaces;
	enum ingress_hook ingress;
	size_t ring_size;	  /* bytes, power of two */
	bool verbose;		  /* libbpf debug output and verifier log */
	const char *control_path; /* control socket for smtpmonctl; NULL: none */
};

/* Runs until *stop becomes non-zero (signal handler), then detaches, drains
 * the ring and prints the kernel counters on stderr. Returns 0, or 1 after
 * printing a one-line error ("smtpmon: attach XDP to eth0: ...") . */
int capture_run(const struct capture_opts *opts, const struct config *cfg, struct pipeline *p,
		volatile sig_atomic_t *stop);

#endif
