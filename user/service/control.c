// SPDX-License-Identifier: GPL-2.0-only
/* control.c - see control.h. One thread serves up to CLIENTS_MAX clients at
 * once with poll(): each has CLIENT_DEADLINE_MS for its whole request and as
 * long for its whole answer, so slow or silent clients cannot keep a real
 * one out. Answers are built one at a time by the capture loop (handoff). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service/control.h"

#define REQUEST_MAX 512
/* A client has this long from its connection to its whole request line, and
 * as long again to take its whole answer: a slow client holds a slot for a
 * bounded time, never the thread. */
#define CLIENT_DEADLINE_MS 1000
/* Clients served at once; one more evicts the one that has been waiting
 * longest for its request (a real client sends its line at once). */
#define CLIENTS_MAX 32

struct client {
	int fd; /* -1: a free slot */
	uint64_t deadline_ms;
	/* Its place in the order of arrival: under a flood many arrive within
	 * one ms, and the one evicted must be the first of them. */
	uint64_t arrival;
	size_t len; /* request bytes so far */
	char req[REQUEST_MAX];
	char *out; /* the answer still to send; NULL while reading */
	size_t out_len, out_off;
};

struct control {
	int listen_fd;
	int wake_pipe[2]; /* written by control_stop to end the thread */
	pthread_t thread;
	struct handoff *handoff;
	struct jsonw answer;
	struct client clients[CLIENTS_MAX];
	uint64_t arrivals;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void client_close(struct client *cl)
{
	close(cl->fd);
	free(cl->out);
	cl->fd = -1;
	cl->out = NULL;
}

/* Sends what the socket takes now; closes the client once all is sent or
 * when it is gone. */
static void client_write(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* poll says when it can take more */
		if (n <= 0)
			break; /* gone: nobody to tell */
		cl->out_off += (size_t)n;
	}
	client_close(cl);
}

/* The request is complete: the capture loop answers it (or the wait ends
 * with an error answer), then the answer goes out. */
static void client_answer(struct control *c, struct client *cl)
{
	static const char busy[] = "{\"version\":%d,\"ok\":false,\"error\":\"smtpmon did not "
				   "answer within %d ms\"}\n";
	char *nl, err[128];
	const char *text = err;
	size_t len;

	cl->req[cl->len] = '\0';
	if ((nl = strchr(cl->req, '\n')))
		*nl = '\0';
	if (handoff_ask(c->handoff, cl->req, &c->answer, CONTROL_ANSWER_TIMEOUT_MS)) {
		text = c->answer.buf;
		len = c->answer.len;
	} else {
		len = (size_t)snprintf(err, sizeof(err), busy, CONTROL_PROTOCOL_VERSION,
				       CONTROL_ANSWER_TIMEOUT_MS);
	}
	cl->out = malloc(len ? len : 1);
	if (!cl->out) {
		client_close(cl);
		return;
	}
	memcpy(cl->out, text, len);
	cl->out_len = len;
	cl->out_off = 0;
	cl->deadline_ms = now_ms() + CLIENT_DEADLINE_MS;
	client_write(cl);
}

/* Reads what came; answers once the line is complete (or full, or the
 * client stopped sending after some bytes). */
static void client_read(struct control *c, struct client *cl)
{
	ssize_t n = recv(cl->fd, cl->req + cl->len, sizeof(cl->req) - 1 - cl->len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (cl->len)
			client_answer(c, cl);
		else
			client_close(cl);
		return;
	}
	cl->len += (size_t)n;
	if (memchr(cl->req, '\n', cl->len) || cl->len == sizeof(cl->req) - 1)
		client_answer(c, cl);
}

/* A slot for a new client: a free one, else the one reading for longest. */
static struct client *client_slot(struct control *c)
{
	struct client *oldest = NULL;

	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client *cl = &c->clients[i];
		if (cl->fd < 0)
			return cl;
		if (!cl->out && (!oldest || cl->arrival < oldest->arrival))
			oldest = cl;
	}
	if (oldest)
		client_close(oldest);
	return oldest;
}

static void client_accept(struct control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct client *cl;

	if (fd < 0)
		return;
	if (!(cl = client_slot(c))) {
		close(fd); /* every slot is sending an answer: try again shortly */
		return;
	}
	cl->fd = fd;
	cl->len = 0;
	cl->deadline_ms = now_ms() + CLIENT_DEADLINE_MS;
	cl->arrival = ++c->arrivals;
}

static void *control_thread(void *arg)
{
	struct control *c = arg;

	for (;;) {
		struct pollfd pfd[2 + CLIENTS_MAX] = {{.fd = c->listen_fd, .events = POLLIN},
						      {.fd = c->wake_pipe[0], .events = POLLIN}};
		struct client *polled[CLIENTS_MAX];
		uint64_t now = now_ms();
		int timeout = -1;
		nfds_t n = 2;

		for (size_t i = 0; i < CLIENTS_MAX; i++) {
			struct client *cl = &c->clients[i];
			if (cl->fd < 0)
				continue;
			if (now >= cl->deadline_ms) {
				client_close(cl); /* too slow: the slot goes to others */
				continue;
			}
			if (timeout < 0 || cl->deadline_ms - now < (uint64_t)timeout)
				timeout = (int)(cl->deadline_ms - now);
			polled[n - 2] = cl;
			pfd[n++] =
			    (struct pollfd){.fd = cl->fd, .events = cl->out ? POLLOUT : POLLIN};
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		for (nfds_t i = 2; i < n; i++) {
			struct client *cl = polled[i - 2];
			if (!pfd[i].revents || cl->fd < 0)
				continue;
			if (cl->out)
				client_write(cl);
			else
				client_read(c, cl);
		}
		if (pfd[0].revents & POLLIN)
			client_accept(c);
	}
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
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
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		c->clients[i].fd = -1;
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
	if (listen(c->listen_fd, CLIENTS_MAX) < 0)
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
