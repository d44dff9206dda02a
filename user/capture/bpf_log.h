// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf_log.h - where libbpf's messages go, and why a load failed in a few lines.
 *
 * Verbose: every libbpf message, the whole verifier log included, on stderr.
 * Otherwise libbpf's warnings are kept (the last BPF_LOG_KEEP bytes of them,
 * in memory) and printed only when asked: after a failed load,
 * bpf_log_print_reason() shows the last lines of the verifier's log (where it
 * says why it refused a program) or, without a verifier log, libbpf's last
 * warning. Not thread-safe: libbpf calls it from the loading thread only.
 */
#ifndef SMTPMON_BPF_LOG_H
#define SMTPMON_BPF_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define BPF_LOG_KEEP	     (64 * 1024)
#define BPF_LOG_REASON_LINES 3

/* Routes libbpf's messages (libbpf_set_print) and forgets what was kept. */
void bpf_log_start(bool verbose);
/* Writes the last lines of what libbpf said, each as "smtpmon:   LINE", to
 * stderr; returns how many (0 when it said nothing worth showing). */
size_t bpf_log_print_reason(void);
/* The kept text, NUL-terminated (for tests). */
const char *bpf_log_kept(void);

#endif
