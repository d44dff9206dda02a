// SPDX-License-Identifier: GPL-2.0-only
/*
 * attach.c - TCX links, legacy clsact filters and XDP links (contract in
 * attach.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "capture/attach.h"

/* Debian 12's UAPI headers predate TCX (6.6): the attach types by number. */
#define ATTACH_TYPE_TCX_INGRESS 46
#define ATTACH_TYPE_TCX_EGRESS	47

/* Our legacy filter's identity on a clsact hook ("SM", low priority so that
 * filters that act on packets run first, although ours returns UNSPEC). */
#define TC_HANDLE   0x534d
#define TC_PRIORITY 0xc000
/* Program names the kernel shows for our programs (15 chars kept). */
#define PROG_PREFIX "smtpmon_"

static const char *const kind_names[] = {
    [ATTACH_TCX] = "TCX",
    [ATTACH_TC_LEGACY] = "TC (clsact)",
    [ATTACH_XDP] = "XDP",
};

const char *attach_describe(const struct attachment *a, char *buf, size_t len)
{
	const char *mode = a->kind != ATTACH_XDP ? "" : a->xdp_generic ? " generic" : " native";

	snprintf(buf, len, "%s %s%s %s (prog %u, link %u)", a->ifname, kind_names[a->kind], mode,
		 a->ingress ? "ingress" : "egress", a->prog_id, a->link_id);
	return buf;
}

/* The interface's index if it exists and the set has room for one more
 * attachment; 0 after saying why not. */
static int attach_target(const struct attach_set *s, const char *ifname)
{
	unsigned idx = if_nametoindex(ifname);

	if (!idx) {
		fprintf(stderr, "smtpmon: unknown interface '%s'\n", ifname);
		return 0;
	}
	if (s->n == ATTACH_MAX) {
		fprintf(stderr, "smtpmon: attach to %s: too many attachments\n", ifname);
		return 0;
	}
	return (int)idx;
}

static unsigned prog_id_of(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? 0 : info.id;
}

static unsigned link_id_of(int link_fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(link_fd, &info, &len) ? 0 : info.id;
}

static struct attachment *add(struct attach_set *s, enum attach_kind kind, const char *ifname,
			      int ifindex, bool ingress, int prog_fd, int link_fd)
{
	struct attachment *a = &s->a[s->n++];

	a->kind = kind;
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->ifindex = ifindex;
	a->ingress = ingress;
	a->link_fd = link_fd;
	a->prog_id = prog_id_of(prog_fd);
	a->link_id = link_fd >= 0 ? link_id_of(link_fd) : 0;
	a->xdp_generic = false;
	return a;
}

static bool prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, PROG_PREFIX, strlen(PROG_PREFIX));
	close(fd);
	return ours;
}

static int attach_tc_legacy(struct attach_set *s, const char *ifname, int ifindex, bool ingress,
			    int prog_fd)
{
	const char *where = ingress ? "ingress" : "egress";
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int err;

	/* The clsact qdisc may well belong to someone else: use it as is and
	 * never destroy it. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "smtpmon: create clsact qdisc on %s: %s\n", ifname, strerror(-err));
		return -1;
	}
	/* A killed run leaves its filter behind: replace it, but never a
	 * filter of someone else that happens to use our handle. */
	if (!bpf_tc_query(&hook, &opts)) {
		if (!prog_is_ours(opts.prog_id)) {
			fprintf(stderr,
				"smtpmon: attach TC %s to %s: handle %#x priority %#x is used by "
				"another program (id %u)\n",
				where, ifname, TC_HANDLE, TC_PRIORITY, opts.prog_id);
			return -1;
		}
		LIBBPF_OPTS(bpf_tc_opts, stale, .handle = TC_HANDLE, .priority = TC_PRIORITY);
		err = bpf_tc_detach(&hook, &stale);
		if (err) {
			fprintf(stderr, "smtpmon: remove stale TC %s filter from %s: %s\n", where,
				ifname, strerror(-err));
			return -1;
		}
	}
	LIBBPF_OPTS(bpf_tc_opts, attach, .prog_fd = prog_fd, .handle = TC_HANDLE,
		    .priority = TC_PRIORITY);
	err = bpf_tc_attach(&hook, &attach);
	if (err) {
		fprintf(stderr, "smtpmon: attach TC %s to %s: %s\n", where, ifname, strerror(-err));
		return -1;
	}
	add(s, ATTACH_TC_LEGACY, ifname, ifindex, ingress, prog_fd, -1);
	return 0;
}

int attach_tc(struct attach_set *s, const char *ifname, bool ingress, int prog_fd)
{
	int ifindex = attach_target(s, ifname);
	int fd;

	if (!ifindex)
		return -1;
	if (s->tc_attach != TC_ATTACH_CLSACT) {
		fd = bpf_link_create(prog_fd, ifindex,
				     ingress ? ATTACH_TYPE_TCX_INGRESS : ATTACH_TYPE_TCX_EGRESS,
				     NULL);
		if (fd >= 0) {
			add(s, ATTACH_TCX, ifname, ifindex, ingress, prog_fd, fd);
			return 0;
		}
		/* EINVAL: a kernel without TCX; anything else is a real error. */
		if (errno == EINVAL && s->tc_attach == TC_ATTACH_TCX) {
			fprintf(stderr,
				"smtpmon: attach TCX to %s: this kernel has no TCX (Linux >= 6.6); "
				"--tc-attach=auto uses clsact filters instead\n",
				ifname);
			return -1;
		}
		if (errno != EINVAL) {
			fprintf(stderr, "smtpmon: attach TCX %s to %s: %s\n",
				ingress ? "ingress" : "egress", ifname, strerror(errno));
			return -1;
		}
	}
	return attach_tc_legacy(s, ifname, ifindex, ingress, prog_fd);
}

static const unsigned xdp_mode_flags[] = {
    [XDP_MODE_AUTO] = 0,
    [XDP_MODE_NATIVE] = XDP_FLAGS_DRV_MODE,
    [XDP_MODE_GENERIC] = XDP_FLAGS_SKB_MODE,
};

static void describe_xdp_owner(const char *ifname, __u32 prog_id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	memset(&info, 0, sizeof(info));
	if (fd >= 0) {
		bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
	}
	fprintf(stderr,
		"smtpmon: attach XDP to %s: the XDP hook is owned by program %u (%s); "
		"use --ingress=tc, which coexists with it\n",
		ifname, prog_id, info.name[0] ? info.name : "unknown name");
}

int attach_xdp(struct attach_set *s, const char *ifname, int prog_fd)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = attach_target(s, ifname);
	int fd;

	if (!ifindex)
		return -1;
	if (!bpf_xdp_query(ifindex, 0, &q) && q.prog_id) {
		describe_xdp_owner(ifname, q.prog_id);
		return -1;
	}
	/* Auto: no mode flag, the kernel picks native when the driver has it. */
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_mode_flags[s->xdp_mode]);
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		int err = errno;

		if (err == EBUSY && !bpf_xdp_query(ifindex, 0, &q) && q.prog_id)
			describe_xdp_owner(ifname, q.prog_id);
		else if (err == EOPNOTSUPP && s->xdp_mode == XDP_MODE_NATIVE)
			fprintf(stderr,
				"smtpmon: attach XDP to %s: its driver has no native XDP "
				"(--xdp-mode=native); --xdp-mode=auto uses generic XDP\n",
				ifname);
		else
			fprintf(stderr, "smtpmon: attach XDP to %s: %s\n", ifname, strerror(err));
		return -1;
	}
	struct attachment *a = add(s, ATTACH_XDP, ifname, ifindex, true, prog_fd, fd);
	a->xdp_generic = !bpf_xdp_query(ifindex, 0, &q) && q.attach_mode == XDP_ATTACHED_SKB;
	return 0;
}

void attach_detach_all(struct attach_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct attachment *a = &s->a[i];

		if (a->link_fd >= 0) {
			close(a->link_fd);
			continue;
		}
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = a->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
		int err = bpf_tc_detach(&hook, &opts);
		/* ENOENT: the interface or the qdisc went away meanwhile. */
		if (err && err != -ENOENT && err != -ENODEV)
			fprintf(stderr, "smtpmon: detach TC %s from %s: %s\n",
				a->ingress ? "ingress" : "egress", a->ifname, strerror(-err));
	}
	s->n = 0;
}
