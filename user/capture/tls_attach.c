// SPDX-License-Identifier: GPL-2.0-only
/* tls_attach.c - the child that attaches the TLS probes per process (contract
 * in tls_attach.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/caps.h"
#include "capture/tls_attach.h"
#include "capture/trace_uprobes.h"

const char *const tls_attach_stat_names[TLS_ATTACH_STAT_MAX] = {
    [TLS_ATTACH_PROCESSES] = "processes",
    [TLS_ATTACH_ATTACHED] = "process_attaches",
    [TLS_ATTACH_FAILED] = "process_attach_failures",
    [TLS_ATTACH_LOST] = "process_requests_lost",
};

/* Processes probed at once: each holds one perf event per probe. */
#define PROCESSES_MAX 4096
/* Requests waiting on the daemon's side (8 bytes each). */
#define QUEUE_BYTES (64 * 1024)
/* Closing the links of processes gone: after this long without a request,
 * or at once when those of more than GONE_PROCESSES_MAX wait. */
#define IDLE_MS		   2000
#define GONE_PROCESSES_MAX 64
/* How long the daemon waits for the child to close its probes and exit. */
#define STOP_WAIT_MS 5000
/* Failures worth a line on stderr before they are only counted. */
#define FAILURES_SHOWN 5

enum request_op { OP_ATTACH = 1, OP_DETACH, OP_SCAN, OP_SYNC };

struct request {
	uint32_t tgid; /* OP_SYNC: the sequence number echoed back */
	uint32_t op;
};

struct tls_attach {
	pid_t child;
	int sock;
	uint64_t *shared; /* counters, written by the child */
	uint64_t lost;	  /* requests the queue had no room for */
	uint32_t syncs;
	size_t queued;
	uint8_t queue[QUEUE_BYTES];
};

/* ---- the child ---- */

struct process {
	uint32_t tgid;
	struct bpf_link **links; /* one per probe, attached through the uprobe PMU */
	int *events;		 /* or one per probe, of c->trace */
};

struct child {
	const struct tls_attach_probe *probes;
	size_t nprobes;
	struct bpf_program *scan_sockets, *scan_children;
	uint64_t *counters;
	/* The probes in tracefs, inherited at fork; NULL: through the uprobe
	 * PMU, not inherited. */
	struct trace_uprobes *trace;
	struct process procs[PROCESSES_MAX];
	size_t nprocs;
	/* The links of processes gone. Destroying one takes the kernel tens
	 * of ms (it waits for a grace period, holding the lock attaching
	 * needs), and a process that is attached late loses its first calls:
	 * they are destroyed one at a time, after IDLE_MS without a request,
	 * or at once when those of more than GONE_PROCESSES_MAX wait. */
	struct bpf_link **gone;
	size_t ngone, gone_cap;
	unsigned failures_shown;
	bool inexact_told; /* trace_uprobes_inherit_exact() false, said once */
};

static void bump(struct child *c, enum tls_attach_stat s, int64_t n)
{
	__atomic_fetch_add(&c->counters[s], (uint64_t)n, __ATOMIC_RELAXED);
}

/* Its links wait in c->gone; destroyed there and then when that has no
 * room. */
static void detach(struct child *c, uint32_t tgid)
{
	for (size_t i = 0; i < c->nprocs; i++) {
		struct process *p = &c->procs[i];

		if (p->tgid != tgid)
			continue;
		if (p->events) {
			/* Cheap: the definitions stay registered (the anchors). */
			for (size_t k = 0; k < c->nprobes; k++)
				close(p->events[k]);
			free(p->events);
			goto forget;
		}
		if (c->ngone + c->nprobes > c->gone_cap) {
			size_t cap = (c->ngone + c->nprobes) * 2;
			struct bpf_link **g = realloc(c->gone, cap * sizeof(*g));

			if (g) {
				c->gone = g;
				c->gone_cap = cap;
			}
		}
		for (size_t k = 0; k < c->nprobes; k++)
			if (c->ngone < c->gone_cap)
				c->gone[c->ngone++] = p->links[k];
			else
				bpf_link__destroy(p->links[k]);
		free(p->links);
	forget:
		*p = c->procs[--c->nprocs];
		bump(c, TLS_ATTACH_PROCESSES, -1);
		return;
	}
}

static void attach_failed(struct child *c, uint32_t tgid, const struct tls_attach_probe *pr,
			  int err)
{
	/* ESRCH: it ended before we came, nothing to say. */
	if (err != ESRCH && c->failures_shown++ < FAILURES_SHOWN)
		fprintf(
		    stderr, "smtpmon: TLS plaintext: %sprobe on %s in %s for process %u: %s%s\n",
		    pr->retprobe ? "return " : "", pr->func, pr->file, tgid, strerror(err),
		    c->failures_shown == FAILURES_SHOWN ? " (further failures counted only)" : "");
}

/* Through the uprobe PMU, one link per probe. */
static bool attach_links(struct child *c, struct process *p, uint32_t tgid)
{
	char path[32];

	p->links = calloc(c->nprobes, sizeof(*p->links));
	if (!p->links)
		return false;
	for (size_t k = 0; k < c->nprobes; k++) {
		const struct tls_attach_probe *pr = &c->probes[k];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = pr->retprobe);

		snprintf(path, sizeof(path), "/proc/self/fd/%d", pr->fd);
		p->links[k] = bpf_program__attach_uprobe_opts(pr->prog, (pid_t)tgid, path,
							      (size_t)pr->offset, &o);
		if (p->links[k])
			continue;
		attach_failed(c, tgid, pr, errno);
		for (size_t j = 0; j < k; j++)
			bpf_link__destroy(p->links[j]);
		free(p->links);
		p->links = NULL;
		return false;
	}
	return true;
}

/* Through tracefs: events the process's forks inherit. */
static bool attach_events(struct child *c, struct process *p, uint32_t tgid)
{
	size_t failed = 0;

	p->events = calloc(c->nprobes, sizeof(*p->events));
	if (!p->events)
		return false;
	if (!trace_uprobes_open(c->trace, tgid, p->events, &failed)) {
		if (!c->inexact_told && !trace_uprobes_inherit_exact(c->trace)) {
			c->inexact_told = true;
			fprintf(stderr,
				"smtpmon: TLS plaintext: this kernel takes no "
				"PERF_SAMPLE_READ with inherit (6.1 and 6.12 do not): a fork's "
				"inherited probes can end early, when a sibling exits; the "
				"probes opened for it once reported cover it from then on\n");
		}
		return true;
	}
	attach_failed(c, tgid, &c->probes[failed], errno);
	free(p->events);
	p->events = NULL;
	return false;
}

static void attach(struct child *c, uint32_t tgid)
{
	struct process *p;

	detach(c, tgid); /* its id was reused: the old process is gone */
	if (c->nprocs == PROCESSES_MAX) {
		bump(c, TLS_ATTACH_FAILED, 1);
		return;
	}
	p = &c->procs[c->nprocs];
	*p = (struct process){.tgid = tgid};
	if (!(c->trace ? attach_events(c, p, tgid) : attach_links(c, p, tgid))) {
		bump(c, TLS_ATTACH_FAILED, 1);
		return;
	}
	c->nprocs++;
	bump(c, TLS_ATTACH_PROCESSES, 1);
	bump(c, TLS_ATTACH_ATTACHED, 1);
}

/* Runs one of the kernel's scan programs over every task (bpf_iter). */
static void scan(struct child *c, struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	int fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	char buf[256];
	ssize_t n = 0;

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		;
	if ((fd < 0 || n < 0) && c->failures_shown++ < FAILURES_SHOWN)
		fprintf(stderr, "smtpmon: TLS plaintext: scan for processes (%s): %s\n",
			bpf_program__name(prog), strerror(errno));
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
}

static void serve(struct child *c, int sock, const struct request *r)
{
	switch (r->op) {
	case OP_ATTACH:
		attach(c, r->tgid);
		break;
	case OP_DETACH:
		detach(c, r->tgid);
		break;
	case OP_SCAN:
		scan(c, c->scan_sockets);
		scan(c, c->scan_children);
		break;
	case OP_SYNC:
		if (write(sock, &r->tgid, sizeof(r->tgid)) != sizeof(r->tgid))
			_exit(0); /* the daemon is gone */
		break;
	}
}

static int compare_fds(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The child outlives the daemon by the seconds its probes take to close:
 * it must not hold what the daemon held (the interface names of
 * iface_lock.h, the TC and XDP links, the control socket), or a restart
 * would find them taken, nor the daemon's standard output (a reader of
 * the events would wait for its end). It keeps stderr, its socket, the
 * library files and the programs it attaches. */
static void close_other_fds(const struct child *c, int sock)
{
	size_t n = 0, cap = 2 * c->nprobes + 6;
	int *keep = calloc(cap, sizeof(*keep)), from = 3, null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (!keep)
		return; /* then it holds them a little longer */
	keep[n++] = sock;
	keep[n++] = bpf_program__fd(c->scan_sockets);
	keep[n++] = bpf_program__fd(c->scan_children);
	for (size_t k = 0; k < c->nprobes; k++) {
		keep[n++] = c->probes[k].fd;
		keep[n++] = bpf_program__fd(c->probes[k].prog);
	}
	qsort(keep, n, sizeof(*keep), compare_fds);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] > from)
			close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
		if (keep[i] >= from)
			from = keep[i] + 1;
	}
	close_range((unsigned)from, ~0U, 0);
	free(keep);
}

/* Before the capabilities go: writing uprobe_events needs root or
 * CAP_DAC_OVERRIDE, which the attacher does not keep. */
static void define_trace_uprobes(struct child *c)
{
	char why[256];

	c->trace = trace_uprobes_define(c->probes, c->nprobes, why, sizeof(why));
	if (!c->trace)
		fprintf(stderr,
			"smtpmon: TLS plaintext: tracefs probes: %s; each process is probed "
			"from when the kernel reports it, not from its fork, so its first calls "
			"can be missed (docs/tls-plaintext.md)\n",
			why);
}

/* Keeps what attaching needs, then serves requests until end of file. */
static void __attribute__((noreturn)) child_main(struct child *c, int sock)
{
	static const cap_value_t keep[] = {CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF};
	struct request buf[256];
	size_t have = 0;
	struct rlimit fds;

	/* No PR_SET_PDEATHSIG: when the daemon dies the socket's end of file
	 * tells, and the child still removes its tracefs definitions. */
	prctl(PR_SET_NAME, "smtpmon-attach");
	/* The daemon stops it by closing the socket, after its own work. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	close_other_fds(c, sock);
	define_trace_uprobes(c);
	if (caps_keep_only(keep, sizeof(keep) / sizeof(keep[0])))
		fprintf(stderr, "smtpmon: TLS attacher: drop capabilities: %s\n", strerror(errno));
	/* One perf event per probe and process. */
	if (!getrlimit(RLIMIT_NOFILE, &fds) && fds.rlim_cur < fds.rlim_max) {
		fds.rlim_cur = fds.rlim_max;
		setrlimit(RLIMIT_NOFILE, &fds);
	}
	for (bool idle = false;;) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		bool too_many = c->ngone > GONE_PROCESSES_MAX * c->nprobes;
		int ready = poll(&pfd, 1, !c->ngone ? -1 : idle || too_many ? 0 : IDLE_MS);
		ssize_t n;
		size_t whole;

		/* Idle for IDLE_MS since the last request (until the next), or
		 * too many waiting. */
		idle = ready == 0;
		if (idle) {
			bpf_link__destroy(c->gone[--c->ngone]);
			continue;
		}
		n = ready < 0 ? -1 : read(sock, (char *)buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		whole = have / sizeof(buf[0]);
		for (size_t i = 0; i < whole; i++)
			serve(c, sock, &buf[i]);
		have -= whole * sizeof(buf[0]);
		memmove(buf, (char *)buf + whole * sizeof(buf[0]), have);
	}
	/* The kernel closes the links as the process ends: the daemon need
	 * not wait for that (seconds, see gone). The tracefs definitions must
	 * go by hand, after every event on them. */
	if (c->trace) {
		while (c->nprocs)
			detach(c, c->procs[0].tgid);
		trace_uprobes_free(c->trace);
	}
	_exit(0);
}

/* ---- the daemon's side ---- */

struct tls_attach *tls_attach_start(const struct tls_attach_probe *probes, size_t n,
				    struct bpf_program *scan_sockets,
				    struct bpf_program *scan_children)
{
	struct tls_attach *a = calloc(1, sizeof(*a));
	int sv[2] = {-1, -1};

	if (!a || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		goto fail;
	a->shared = mmap(NULL, sizeof(uint64_t) * TLS_ATTACH_STAT_MAX, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a->shared == MAP_FAILED) {
		a->shared = NULL;
		goto fail;
	}
	a->child = fork();
	if (a->child < 0)
		goto fail;
	if (a->child == 0) {
		struct child *c = calloc(1, sizeof(*c));

		if (!c)
			_exit(1);
		close(sv[0]);
		*c = (struct child){.probes = probes,
				    .nprobes = n,
				    .scan_sockets = scan_sockets,
				    .scan_children = scan_children,
				    .counters = a->shared};
		child_main(c, sv[1]);
	}
	close(sv[1]);
	a->sock = sv[0];
	return a;
fail:
	fprintf(stderr, "smtpmon: TLS plaintext: start the attacher: %s\n", strerror(errno));
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (a && a->shared)
		munmap(a->shared, sizeof(uint64_t) * TLS_ATTACH_STAT_MAX);
	free(a);
	return NULL;
}

static void queue(struct tls_attach *a, uint32_t tgid, enum request_op op)
{
	struct request r = {.tgid = tgid, .op = op};

	if (a->queued + sizeof(r) > sizeof(a->queue)) {
		a->lost++;
		return;
	}
	memcpy(a->queue + a->queued, &r, sizeof(r));
	a->queued += sizeof(r);
	tls_attach_flush(a);
}

void tls_attach_process(struct tls_attach *a, uint32_t tgid, bool gone)
{
	queue(a, tgid, gone ? OP_DETACH : OP_ATTACH);
}

void tls_attach_scan(struct tls_attach *a)
{
	queue(a, 0, OP_SCAN);
}

void tls_attach_flush(struct tls_attach *a)
{
	ssize_t n;

	if (!a->queued)
		return;
	n = send(a->sock, a->queue, a->queued, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n <= 0)
		return; /* busy (tried again later) or gone (counted as failures) */
	a->queued -= (size_t)n;
	memmove(a->queue, a->queue + n, a->queued);
}

static int64_t ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

bool tls_attach_sync(struct tls_attach *a, int timeout_ms)
{
	uint32_t seq = ++a->syncs, echo = 0;
	struct timespec end;
	int64_t left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	queue(a, seq, OP_SYNC);
	while ((left = ms_left(&end)) > 0) {
		struct pollfd pfd = {.fd = a->sock,
				     .events = a->queued ? POLLIN | POLLOUT : POLLIN};

		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return false;
		if (pfd.revents & POLLOUT)
			tls_attach_flush(a);
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		/* The echoes of syncs that timed out before may come first. */
		if (recv(a->sock, &echo, sizeof(echo), MSG_WAITALL) != sizeof(echo))
			return false;
		if (echo == seq)
			return true;
	}
	return false;
}

void tls_attach_counters(const struct tls_attach *a, uint64_t out[TLS_ATTACH_STAT_MAX])
{
	for (int s = 0; s < TLS_ATTACH_STAT_MAX; s++)
		out[s] = __atomic_load_n(&a->shared[s], __ATOMIC_RELAXED);
	out[TLS_ATTACH_LOST] += a->lost;
}

void tls_attach_stop(struct tls_attach *a)
{
	if (!a)
		return;
	/* End of file: the child exits. Closing its probes takes the kernel
	 * about 0.1 s each (a grace period per uprobe), which it does before it
	 * exits, so that its tracefs definitions can go (a daemon with probes
	 * on the library files waits as long at its own exit). */
	close(a->sock);
	for (int i = 0; i < STOP_WAIT_MS / 10; i++) {
		if (waitpid(a->child, NULL, WNOHANG) != 0)
			goto reaped;
		usleep(10000);
	}
	kill(a->child, SIGKILL);
reaped:
	munmap(a->shared, sizeof(uint64_t) * TLS_ATTACH_STAT_MAX);
	free(a);
}
