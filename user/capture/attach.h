// SPDX-License-Identifier: GPL-2.0-only
/*
 * attach.h - hook BPF programs to interfaces and take them off again.
 *
 * TC (s->tc_attach): a TCX link (kernel >= 6.6, created with bpf_link_create
 * since libbpf 1.1 has no bpf_program__attach_tcx), or a legacy clsact filter
 * with our own handle and priority, after removing a stale filter of ours left
 * there by a killed run; auto takes TCX where the kernel has it. XDP
 * (s->xdp_mode): a link, native where the driver has it, generic otherwise, or
 * the one mode asked for; refused with a clear message when another program
 * owns the hook. What was asked for and cannot be had (TCX on a kernel
 * without it, native XDP on a driver without it) is refused, never replaced. Links die with the
 * process, so only legacy filters need attach_detach_all(). Every failure is reported on stderr as
 * one line
 * ("smtpmon: attach TC egress to eth0: ...") and returns -1.
 */
#ifndef SMTPMON_ATTACH_H
#define SMTPMON_ATTACH_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#define ATTACH_MAX 32

enum tc_attach {
	TC_ATTACH_AUTO = 0, /* TCX where the kernel has it, else clsact */
	TC_ATTACH_TCX,
	TC_ATTACH_CLSACT,
};

enum xdp_mode {
	XDP_MODE_AUTO = 0, /* native where the driver has it, else generic */
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

enum attach_kind {
	ATTACH_TCX = 0,
	ATTACH_TC_LEGACY,
	ATTACH_XDP,
};

struct attachment {
	enum attach_kind kind;
	char ifname[IF_NAMESIZE];
	int ifindex;
	bool ingress;
	int link_fd;	  /* TCX and XDP; -1 for legacy filters */
	unsigned prog_id; /* kernel ids, as bpftool shows them */
	unsigned link_id; /* 0 for legacy filters */
	bool xdp_generic; /* XDP in skb mode: the driver has no native XDP */
};

struct attach_set {
	struct attachment a[ATTACH_MAX];
	size_t n;
	enum tc_attach tc_attach;
	enum xdp_mode xdp_mode;
};

int attach_tc(struct attach_set *s, const char *ifname, bool ingress, int prog_fd);
int attach_xdp(struct attach_set *s, const char *ifname, int prog_fd);
/* Human-readable description of an attachment, with the kernel's ids (bpftool
 * 7.1 cannot tell TCX links apart): "eth0 TCX ingress (prog 12, link 7)". */
const char *attach_describe(const struct attachment *a, char *buf, size_t len);
void attach_detach_all(struct attach_set *s);

#endif
