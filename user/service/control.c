// SPDX-License-Identifier: GPL-2.0-only
/* control.c - see control.h. One client at a time: a request is answered in
 * well under the capture loop's 100 ms poll, so serialising costs nothing,
 * and a client cannot hold more than its own timeouts. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/control.h"

#define REQUEST_MAX	  512
#define CLIENT_TIMEOUT_MS 1000

struct control {
	int listen_fd;
	int wake_pipe[2]; /* written by control_stop to end the thread */
	pthread_t thread;
	struct handoff *handoff;
	struct jsonw answer;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* gone, or not reading (SO_SNDTIMEO): nobody to tell */
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads one request line, bounded in size and time; without its newline. */
static bool read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *nl;

	while (len < cap - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0)
			return false;
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	return len > 0;
}

static void serve_client(struct control *c, int fd)
{
	static const char busy[] = "{\"version\":%d,\"ok\":false,\"error\":\"smtpmon did not "
				   "answer within %d ms\"}\n";
	const struct timeval send_timeout = {.tv_sec = CLIENT_TIMEOUT_MS / 1000};
	char req[REQUEST_MAX], err[128];

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
	if (!read_request(fd, req, sizeof(req)))
		return;
	if (handoff_ask(c->handoff, req, &c->answer, CONTROL_ANSWER_TIMEOUT_MS)) {
		write_all(fd, c->answer.buf, c->answer.len);
		return;
	}
	int n =
	    snprintf(err, sizeof(err), busy, CONTROL_PROTOCOL_VERSION, CONTROL_ANSWER_TIMEOUT_MS);
	write_all(fd, err, (size_t)n);
}

static void *control_thread(void *arg)
{
	struct control *c = arg;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = c->listen_fd, .events = POLLIN},
					{.fd = c->wake_pipe[0], .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_client(c, fd);
		close(fd);
	}
	return NULL;
}

/* The group's id, or -1 after a warning (the socket then stays root-only). */
static gid_t group_id(const char *path, const char *group)
{
	struct group gr, *found = NULL;
	char buf[4096];
	int err;

	if (!group || !*group)
		return (gid_t)-1;
	err = getgrnam_r(group, &gr, buf, sizeof(buf), &found);
	if (found)
		return gr.gr_gid;
	fprintf(stderr,
		"smtpmon: control socket %s: group '%s' %s: only root can use the socket (mode "
		"0600)\n",
		path, group, err ? strerror(err) : "does not exist");
	return (gid_t)-1;
}

/* Creates the socket's directory if needed; lets the group reach it when
 * it is ours (created here, or the default one). */
static int prepare_dir(const char *path, gid_t gid)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *dir;
	bool ours;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	ours = !strcmp(dir, CONTROL_DEFAULT_DIR);
	if (mkdir(dir, 0750) == 0)
		ours = true;
	else if (errno != EEXIST)
		return -1;
	if (!ours || gid == (gid_t)-1)
		return 0;
	if (chown(dir, (uid_t)-1, gid) || chmod(dir, 0750))
		return -1;
	return 0;
}

struct control *control_start(const char *path, const char *group)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct control *c;
	const char *what;
	gid_t gid;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "smtpmon: control socket %s: path too long\n", path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->handoff = handoff_new())) {
		fprintf(stderr, "smtpmon: control socket %s: out of memory\n", path);
		free(c);
		return NULL;
	}
	strcpy(addr.sun_path, path);
	strcpy(c->path, path);
	c->listen_fd = c->wake_pipe[0] = c->wake_pipe[1] = -1;
	jsonw_init(&c->answer);
	gid = group_id(path, group);

	what = "directory";
	if (prepare_dir(path, gid))
		goto fail;
	what = "socket";
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		goto fail;
	/* A socket file left by a killed daemon would make bind fail, but one
	 * that still answers belongs to a running smtpmon: never steal it. */
	what = "in use by another smtpmon";
	if (connect(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		errno = EADDRINUSE;
		close(c->listen_fd);
		c->listen_fd = -1;
		goto fail;
	}
	unlink(path);
	what = "bind";
	/* Root-only until the group is set: never open to the wrong group. */
	mode_t old = umask(0177);
	int rc = bind(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0)
		goto fail;
	what = "chgrp";
	if (gid != (gid_t)-1 && (chown(path, (uid_t)-1, gid) || chmod(path, 0660)))
		goto fail;
	what = "listen";
	if (listen(c->listen_fd, 8) < 0)
		goto fail;
	what = "pipe";
	if (pipe2(c->wake_pipe, O_CLOEXEC) < 0)
		goto fail;
	what = "thread";
	errno = pthread_create(&c->thread, NULL, control_thread, c);
	if (errno)
		goto fail;
	return c;
fail:
	fprintf(stderr, "smtpmon: control socket %s: %s: %s\n", path, what, strerror(errno));
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(path);
	}
	if (c->wake_pipe[0] >= 0) {
		close(c->wake_pipe[0]);
		close(c->wake_pipe[1]);
	}
	handoff_free(c->handoff);
	jsonw_free(&c->answer);
	free(c);
	return NULL;
}

void control_serve(struct control *c, handoff_fn fn, void *ctx)
{
	if (c)
		handoff_serve(c->handoff, fn, ctx);
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	/* An empty pipe always takes one byte; only a signal can interrupt. */
	while (write(c->wake_pipe[1], "x", 1) < 0 && errno == EINTR)
		;
	pthread_join(c->thread, NULL);
	close(c->listen_fd);
	close(c->wake_pipe[0]);
	close(c->wake_pipe[1]);
	unlink(c->path);
	handoff_free(c->handoff);
	jsonw_free(&c->answer);
	free(c);
}
