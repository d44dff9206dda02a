// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel_check.h - can this kernel and this process run the capture programs?
 *
 * Asked before anything is loaded, so that an operator reads one line naming
 * what is missing instead of a verifier log: the privileges (root, or
 * CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON), the kernel's BTF (CO-RE), and each
 * kernel feature the programs use, probed in the kernel itself with libbpf's
 * feature probes (a distribution kernel's version number says little about
 * what it has): the BPF ring buffer, bpf_loop, and for XDP ingress the
 * multi-buffer helpers. A probe that cannot decide (an error other than "not
 * supported") lets the load decide.
 */
#ifndef SMTPMON_KERNEL_CHECK_H
#define SMTPMON_KERNEL_CHECK_H

#include <stdbool.h>

/* true when capture may go on; otherwise one line on stderr: "smtpmon: this
 * kernel (6.1.0-1-amd64) lacks bpf_loop (Linux >= 5.17)". */
bool kernel_check(bool xdp);

#endif
