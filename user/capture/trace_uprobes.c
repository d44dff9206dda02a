// SPDX-License-Identifier: GPL-2.0-only
/* trace_uprobes.c - the TLS probes defined in tracefs, inherited at fork
 * (contract in trace_uprobes.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture/trace_uprobes.h"

#define GROUP_PREFIX "smtpmon_"

struct trace_uprobes {
	const char *tracefs;
	int control; /* uprobe_events, open for writing */
	char group[32];
	size_t n;
	uint64_t *ids;		   /* of each definition */
	char (*names)[64];	   /* of each definition, in the group */
	struct bpf_link **anchors; /* one per definition */
	bool exact;		   /* PERF_SAMPLE_READ taken with inherit */
};

/* Where tracefs is mounted, and its file of uprobe definitions there. */
static const struct {
	const char *dir, *control;
} tracefs[] = {
    {"/sys/kernel/tracing", "/sys/kernel/tracing/uprobe_events"},
    {"/sys/kernel/debug/tracing", "/sys/kernel/debug/tracing/uprobe_events"},
};

static int perf_event_open(struct perf_event_attr *attr, pid_t pid)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* uprobe_events, open for writing, from the first tracefs mounted; errno
 * ENOENT when none is. Only system calls: trace_uprobes_possible() runs it
 * in a child forked from a process with threads. */
static int open_control(const char **dir)
{
	for (size_t i = 0; i < sizeof(tracefs) / sizeof(tracefs[0]); i++) {
		int fd = open(tracefs[i].control, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd >= 0 || errno != ENOENT) {
			*dir = tracefs[i].dir;
			return fd;
		}
	}
	return -1;
}

/* Where nothing mounted tracefs (a host without systemd's mount unit, or a
 * network namespace entered with `ip netns exec`, which mounts a fresh
 * /sys), the calling process mounts it in a mount namespace of its own:
 * tracefs has one instance, so the definitions are the host's, and no other
 * process sees the mount. */
static int mount_private_tracefs(const char **dir)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tracefs", tracefs[0].dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	return open_control(dir);
}

static int command(const struct trace_uprobes *t, const char *line)
{
	ssize_t len = (ssize_t)strlen(line);

	return write(t->control, line, (size_t)len) == len ? 0 : -1;
}

/* Groups of a run that was killed before it could remove them (its process
 * is gone); a group still in use refuses (EBUSY) and stays. */
static void remove_stale(const struct trace_uprobes *t)
{
	char path[96], line[512], cmd[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/uprobe_events", t->tracefs);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, ':'), *end;
		long pid;

		if (!name || strncmp(name + 1, GROUP_PREFIX, strlen(GROUP_PREFIX)))
			continue;
		name++;
		pid = strtol(name + strlen(GROUP_PREFIX), &end, 10);
		if (*end != '/' || pid <= 0 || !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		end = strchr(name, ' ');
		if (!end)
			continue;
		*end = '\0';
		snprintf(cmd, sizeof(cmd), "-:%s\n", name);
		command(t, cmd);
	}
	fclose(f);
}

static bool read_id(const struct trace_uprobes *t, const char *name, uint64_t *id)
{
	char path[192];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", t->tracefs, t->group, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fscanf(f, "%" SCNu64, id) == 1;
	fclose(f);
	return ok;
}

static struct perf_event_attr event_attr(uint64_t id)
{
	return (struct perf_event_attr){
	    .type = PERF_TYPE_TRACEPOINT,
	    .size = sizeof(struct perf_event_attr),
	    .config = id,
	    .sample_period = 1,
	    .wakeup_events = 1,
	};
}

static bool define_one(struct trace_uprobes *t, size_t k, const struct tls_attach_probe *p,
		       char *why, size_t why_size)
{
	struct perf_event_attr attr;
	char cmd[256];
	int fd;

	snprintf(t->names[k], sizeof(t->names[k]), "%c%zu_%s", p->retprobe ? 'r' : 'e', k, p->func);
	snprintf(cmd, sizeof(cmd), "%c:%s/%s /proc/self/fd/%d:0x%" PRIx64 "\n",
		 p->retprobe ? 'r' : 'p', t->group, t->names[k], p->fd, p->offset);
	if (command(t, cmd) < 0) {
		snprintf(why, why_size, "define %s in %s: %s", p->func, p->file, strerror(errno));
		t->names[k][0] = '\0';
		return false;
	}
	if (!read_id(t, t->names[k], &t->ids[k])) {
		snprintf(why, why_size, "id of %s/%s: %s", t->group, t->names[k], strerror(errno));
		return false;
	}
	attr = event_attr(t->ids[k]);
	fd = perf_event_open(&attr, 0);
	if (fd < 0) {
		snprintf(why, why_size, "anchor for %s: %s", p->func, strerror(errno));
		return false;
	}
	t->anchors[k] = bpf_program__attach_perf_event(p->prog, fd);
	if (!t->anchors[k]) {
		snprintf(why, why_size, "program on %s: %s", p->func, strerror(errno));
		close(fd);
		return false;
	}
	return true;
}

bool trace_uprobes_possible(char *why, size_t why_size)
{
	const char *dir = NULL;
	int status = 0;
	pid_t child = fork();

	if (child == 0) {
		int fd = open_control(&dir);

		if (fd < 0 && errno == ENOENT)
			fd = mount_private_tracefs(&dir);
		_exit(fd >= 0 ? 0 : errno > 0 && errno < 256 ? errno : EIO);
	}
	if (child < 0 || waitpid(child, &status, 0) != child) {
		snprintf(why, why_size, "try tracefs: %s", strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	snprintf(why, why_size, "uprobe_events in tracefs: %s",
		 WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "the trial ended by a signal");
	return false;
}

struct trace_uprobes *trace_uprobes_define(const struct tls_attach_probe *probes, size_t n,
					   char *why, size_t why_size)
{
	struct trace_uprobes *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(why, why_size, "%s", strerror(errno));
		return NULL;
	}
	t->control = open_control(&t->tracefs);
	if (t->control < 0 && errno == ENOENT)
		t->control = mount_private_tracefs(&t->tracefs);
	if (t->control < 0) {
		snprintf(why, why_size, "%s/uprobe_events: %s",
			 t->tracefs ? t->tracefs : "tracefs (not mounted, mount failed)",
			 strerror(errno));
		free(t);
		return NULL;
	}
	snprintf(t->group, sizeof(t->group), GROUP_PREFIX "%d", (int)getpid());
	t->n = n;
	t->exact = true;
	t->ids = calloc(n, sizeof(*t->ids));
	t->names = calloc(n, sizeof(*t->names));
	t->anchors = calloc(n, sizeof(*t->anchors));
	if (!t->ids || !t->names || !t->anchors) {
		snprintf(why, why_size, "%s", strerror(errno));
		trace_uprobes_free(t);
		return NULL;
	}
	remove_stale(t);
	for (size_t k = 0; k < n; k++)
		if (!define_one(t, k, &probes[k], why, why_size)) {
			trace_uprobes_free(t);
			return NULL;
		}
	return t;
}

int trace_uprobes_open(struct trace_uprobes *t, uint32_t tgid, int *fds, size_t *failed)
{
	for (size_t k = 0; k < t->n; k++) {
		struct perf_event_attr attr = event_attr(t->ids[k]);

		attr.inherit = 1;
		/* The kernels that take the pair want PERF_SAMPLE_TID with it. */
		attr.sample_type = t->exact ? PERF_SAMPLE_READ | PERF_SAMPLE_TID : 0;
		fds[k] = perf_event_open(&attr, (pid_t)tgid);
		if (fds[k] < 0 && errno == EINVAL && t->exact) {
			/* No PERF_SAMPLE_READ with inherit (6.1, 6.12). */
			t->exact = false;
			attr.sample_type = 0;
			fds[k] = perf_event_open(&attr, (pid_t)tgid);
		}
		if (fds[k] < 0) {
			int err = errno;

			*failed = k;
			while (k--)
				close(fds[k]);
			errno = err;
			return -1;
		}
	}
	return 0;
}

bool trace_uprobes_inherit_exact(const struct trace_uprobes *t)
{
	return t->exact;
}

void trace_uprobes_free(struct trace_uprobes *t)
{
	char cmd[160];

	if (!t)
		return;
	for (size_t k = 0; t->anchors && k < t->n; k++)
		bpf_link__destroy(t->anchors[k]);
	for (size_t k = 0; t->names && k < t->n; k++) {
		if (!t->names[k][0])
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s/%s\n", t->group, t->names[k]);
		command(t, cmd);
	}
	close(t->control);
	free(t->ids);
	free(t->names);
	free(t->anchors);
	free(t);
}
