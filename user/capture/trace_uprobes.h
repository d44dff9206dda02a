// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace_uprobes.h - the TLS probes as uprobes defined in tracefs, so that
 * what a probed process forks is probed from its first instruction
 * (docs/tls-plaintext.md, "Which processes").
 *
 * A uprobe attached through the uprobe PMU (what libbpf does) cannot be
 * handed down at fork: the kernel would build the child's copy again from a
 * path it reads in the forking process's memory. A uprobe defined in
 * tracefs (uprobe_events) is opened by its id instead, and such an event,
 * opened with `inherit` on a process, is copied by the kernel into every
 * child that process forks, before the child runs. So:
 *
 * - one definition per probe, in the group "smtpmon_<pid>" of the process
 *   that defines them (groups of processes that are gone, left by a killed
 *   run, are removed first);
 * - one "anchor" event per definition, on the defining process itself
 *   (which never calls a TLS function), carries the BPF program: the kernel
 *   runs a definition's program at every hit that some event lets through,
 *   and the anchor must outlive the other events;
 * - trace_uprobes_open() opens the events of one process, with `inherit`
 *   and no program. Only the processes with such an event, and their forks,
 *   get the breakpoints: no other process traps.
 *
 * The events also ask for PERF_SAMPLE_READ where the kernel takes it with
 * `inherit` (6.18 does; Debian's 6.1 and 6.12 do not): that keeps the kernel from swapping event
 * contexts between a parent and its forks at a task switch, which otherwise
 * can end a running process's inherited events when a sibling exits. Older
 * kernels refuse the pair; there the events are opened without it, and the
 * events opened on each process once the kernel reports it cover what the
 * swap takes away (trace_uprobes_inherit_exact() tells which).
 *
 * Writing uprobe_events needs write access to the tracefs file (root, or
 * CAP_DAC_OVERRIDE) and tracefs mounted: trace_uprobes_define() fails
 * otherwise, and the caller attaches through the uprobe PMU instead.
 */
#ifndef SMTPMON_TRACE_UPROBES_H
#define SMTPMON_TRACE_UPROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/tls_attach.h"

struct trace_uprobes;

/* Whether uprobe_events can be written here (mounting tracefs privately
 * where it is not mounted), tried in a child process so that the caller's
 * mount namespace stays as it is. False with the reason in why. */
bool trace_uprobes_possible(char *why, size_t why_size);

/* Defines probes[0..n) and opens their anchors. NULL with a reason in
 * why[0..why_size) when tracefs cannot be used. */
struct trace_uprobes *trace_uprobes_define(const struct tls_attach_probe *probes, size_t n,
					   char *why, size_t why_size);
/* Opens the n events of process tgid into fds[0..n). 0, or -1 with errno
 * (ESRCH: the process is gone) and the probe that failed in *failed; on
 * failure nothing stays open. */
int trace_uprobes_open(struct trace_uprobes *t, uint32_t tgid, int *fds, size_t *failed);
/* Whether inherited events keep to their process (PERF_SAMPLE_READ taken). */
bool trace_uprobes_inherit_exact(const struct trace_uprobes *t);
/* Closes the anchors and removes the definitions; the caller has closed
 * every process's events before. NULL is fine. */
void trace_uprobes_free(struct trace_uprobes *t);

#endif
