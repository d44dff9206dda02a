/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bounds.bpf.h - lengths bounded in a way every supported verifier follows
 * (Linux 6.1 and later; docs/kernels.md), for the programs of smtpmon.bpf.c
 * and tls.bpf.c.
 */
#ifndef SMTPMON_BOUNDS_BPF_H
#define SMTPMON_BOUNDS_BPF_H

/* The smaller of len and max, as a bound the verifiers of Linux 6.1 and 6.12
 * see. In C, clang tests the original in one register and goes on with a copy
 * in another, and those verifiers do not carry the test over to the copy; in
 * assembly the test and the result are one register. */
#define min_len(len, max)                                                                          \
	({                                                                                         \
		__u32 __n = (len);                                                                 \
		asm volatile("if %[n] <= %[m] goto +1; %[n] = %[m]"                                \
			     : [n] "+r"(__n)                                                       \
			     : [m] "i"(max));                                                      \
		__n;                                                                               \
	})

#endif
