// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel_check.c - privileges, BTF and the kernel features the capture
 * programs use (contract in kernel_check.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/capability.h>

#include "capture/kernel_check.h"

struct feature {
	const char *name;
	const char *since; /* the mainline release that added it */
	bool xdp_only;
	enum bpf_prog_type prog_type; /* helper probes */
	enum bpf_func_id helper;      /* 0: a map type probe */
	enum bpf_map_type map_type;
};

static const struct feature features[] = {
    {.name = "the BPF ring buffer", .since = "5.8", .map_type = BPF_MAP_TYPE_RINGBUF},
    {.name = "bpf_ktime_get_boot_ns",
     .since = "5.8",
     .prog_type = BPF_PROG_TYPE_SCHED_CLS,
     .helper = BPF_FUNC_ktime_get_boot_ns},
    {.name = "bpf_loop",
     .since = "5.17",
     .prog_type = BPF_PROG_TYPE_SCHED_CLS,
     .helper = BPF_FUNC_loop},
    {.name = "XDP multi-buffer (bpf_xdp_get_buff_len)",
     .since = "5.18",
     .xdp_only = true,
     .prog_type = BPF_PROG_TYPE_XDP,
     .helper = BPF_FUNC_xdp_get_buff_len},
    {.name = "XDP multi-buffer (bpf_xdp_load_bytes)",
     .since = "5.18",
     .xdp_only = true,
     .prog_type = BPF_PROG_TYPE_XDP,
     .helper = BPF_FUNC_xdp_load_bytes},
};

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static bool privileged_enough(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return true; /* unknown: let the load decide */
	/* Without CAP_PERFMON the verifier refuses the programs' pointer
	 * arithmetic (EPERM), which would be a far less helpful message. */
	if (has_cap(d, CAP_SYS_ADMIN) ||
	    (has_cap(d, CAP_BPF) && has_cap(d, CAP_NET_ADMIN) && has_cap(d, CAP_PERFMON)))
		return true;
	fprintf(stderr,
		"smtpmon: live capture needs root (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)\n");
	return false;
}

static bool has_btf(void)
{
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		return true;
	fprintf(stderr,
		"smtpmon: kernel BTF /sys/kernel/btf/vmlinux not readable (%s): "
		"live capture needs a kernel built with CONFIG_DEBUG_INFO_BTF\n",
		strerror(errno));
	return false;
}

/* 1 present, 0 absent, <0 the probe could not tell. */
static int probe(const struct feature *f)
{
	if (f->helper)
		return libbpf_probe_bpf_helper(f->prog_type, f->helper, NULL);
	return libbpf_probe_bpf_map_type(f->map_type, NULL);
}

bool kernel_check(bool xdp)
{
	struct utsname u;

	if (!privileged_enough() || !has_btf())
		return false;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];

		if ((f->xdp_only && !xdp) || probe(f) != 0)
			continue;
		if (uname(&u))
			snprintf(u.release, sizeof(u.release), "unknown release");
		fprintf(stderr, "smtpmon: this kernel (%s) lacks %s (Linux >= %s)%s\n", u.release,
			f->name, f->since, f->xdp_only ? "; --ingress=tc works without it" : "");
		return false;
	}
	return true;
}
