// SPDX-License-Identifier: GPL-2.0-only
/* iface_lock.c - see iface_lock.h. */
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/iface_lock.h"

struct iface_lock {
	size_t n;
	int fd[CAPTURE_MAX_IFACES];
};

/* The abstract address for ifindex; its length counts the leading NUL and
 * no trailing one. */
static socklen_t lock_addr(unsigned ifindex, struct sockaddr_un *addr)
{
	int len;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	len =
	    snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "smtpmon/ifindex/%u", ifindex);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
}

/* The holder of a taken name: its credentials, from a connection. 0, or
 * the errno of connect (ECONNREFUSED: bound, not listening; EAGAIN: its
 * backlog is full). */
static int holder(const struct sockaddr_un *addr, socklen_t len, struct ucred *cred)
{
	socklen_t clen = sizeof(*cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)addr, len) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &clen))
		err = errno;
	close(fd);
	return err;
}

/* Binds the name: 0 (fd in *out), or an errno. */
static int bind_name(const struct sockaddr_un *addr, socklen_t len, int *out)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return errno;
	if (!bind(fd, (const struct sockaddr *)addr, len) && !listen(fd, 16)) {
		*out = fd;
		return 0;
	}
	err = errno;
	close(fd);
	return err;
}

#define HOLDER_TRIES   30
#define HOLDER_WAIT_US 50000 /* 1.5 s in all: an smtpmon drains its backlog every second */

/* 0: taken (fd in *out, or -1 when the check is skipped); -1: refused. */
static int take_one(const char *name, unsigned ifindex, int *out)
{
	struct sockaddr_un addr;
	socklen_t len = lock_addr(ifindex, &addr);
	struct ucred cred;
	int err = 0, gone = 0;

	*out = -1;
	/* A holder that exits frees the name (bind again); one that is not
	 * listening yet (another smtpmon starting this very moment) or whose
	 * backlog is full answers soon. One that never does is no smtpmon. */
	for (int tries = 0; tries < HOLDER_TRIES; tries++) {
		err = bind_name(&addr, len, out);
		if (err != EADDRINUSE || !(gone = holder(&addr, len, &cred)))
			break;
		usleep(HOLDER_WAIT_US);
	}
	if (!err)
		return 0;
	if (err != EADDRINUSE) {
		fprintf(stderr, "smtpmon: %s: cannot check for another smtpmon: %s\n", name,
			strerror(err));
		return 0;
	}
	if (gone) {
		fprintf(
		    stderr,
		    "smtpmon: %s: a process that does not answer holds the name smtpmon uses to "
		    "find a second smtpmon (%s); not checking\n",
		    name, strerror(gone));
		return 0;
	}
	if (cred.pid == getpid())
		return 0; /* the same interface twice on our command line */
	if (cred.uid != 0 && cred.uid != geteuid()) {
		fprintf(stderr,
			"smtpmon: %s: pid %d of uid %u holds the name smtpmon uses to find a "
			"second smtpmon; not checking\n",
			name, (int)cred.pid, (unsigned)cred.uid);
		return 0;
	}
	if (cred.pid > 0)
		fprintf(stderr,
			"smtpmon: %s is already monitored by smtpmon pid %d (stop it first)\n",
			name, (int)cred.pid);
	else /* a pid namespace that does not show it */
		fprintf(stderr,
			"smtpmon: %s is already monitored by another smtpmon (in another pid "
			"namespace)\n",
			name);
	return -1;
}

struct iface_lock *iface_lock_take(const struct capture_opts *opts)
{
	struct iface_lock *l = calloc(1, sizeof(*l));

	if (!l) {
		fprintf(stderr, "smtpmon: interface lock: out of memory\n");
		return NULL;
	}
	for (size_t i = 0; i < opts->nifaces; i++) {
		unsigned ifindex = if_nametoindex(opts->ifaces[i]);
		int fd;

		if (!ifindex)
			continue; /* capture_open names it */
		if (take_one(opts->ifaces[i], ifindex, &fd)) {
			iface_lock_release(l);
			return NULL;
		}
		if (fd >= 0)
			l->fd[l->n++] = fd;
	}
	return l;
}

void iface_lock_drain(struct iface_lock *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		int c;
		while ((c = accept4(l->fd[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(c);
	}
}

void iface_lock_release(struct iface_lock *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		close(l->fd[i]);
	free(l);
}
