/* control.c - see control.h. One client at a time: requests are tiny and the
 * replies are prepared in advance, so serialising clients costs nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define REQUEST_MAX	  512
#define CLIENT_TIMEOUT_MS 1000

struct control {
	int listen_fd;
	int wake_pipe[2]; /* written by control_stop to end the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	char *snapshot; /* latest published "data" object */
	size_t snapshot_len;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away; nothing to report to */
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads one request line, bounded in size and time. */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			return len ? (ssize_t)len : -1;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The protocol has two commands; matching the exact member is enough and
 * keeps a JSON parser out of the daemon. */
static bool request_is(const char *req, const char *cmd)
{
	char want[64];
	snprintf(want, sizeof(want), "\"cmd\":\"%s\"", cmd);
	return strstr(req, want) != NULL;
}

static void serve_client(struct control *c, int fd)
{
	char req[REQUEST_MAX];

	if (read_request(fd, req, sizeof(req)) < 0)
		return;
	if (request_is(req, "stats")) {
		pthread_mutex_lock(&c->lock);
		write_all(fd, "{\"ok\":true,\"data\":", 18);
		if (c->snapshot)
			write_all(fd, c->snapshot, c->snapshot_len);
		else
			write_all(fd, "{}", 2);
		pthread_mutex_unlock(&c->lock);
		write_all(fd, "}\n", 2);
	} else if (request_is(req, "ping")) {
		char reply[128];
		int n = snprintf(reply, sizeof(reply), "{\"ok\":true,\"version\":\"%s\"}\n",
				 SMTPMON_VERSION);
		write_all(fd, reply, (size_t)n);
	} else {
		static const char err[] = "{\"ok\":false,\"error\":\"unknown command\"}\n";
		write_all(fd, err, sizeof(err) - 1);
	}
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
		int fd = accept(c->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		serve_client(c, fd);
		close(fd);
	}
	return NULL;
}

struct control *control_start(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct control *c;
	const char *what;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "smtpmon: control socket %s: path too long\n", path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "smtpmon: control socket %s: out of memory\n", path);
		return NULL;
	}
	strcpy(addr.sun_path, path);
	strcpy(c->path, path);
	c->wake_pipe[0] = c->wake_pipe[1] = -1;
	pthread_mutex_init(&c->lock, NULL);

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
	mode_t old = umask(0117); /* owner and group only */
	int rc = bind(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0)
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
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

void control_publish(struct control *c, const char *json_object, size_t len)
{
	char *copy;

	if (!c || !(copy = malloc(len)))
		return; /* stats are best effort; the next publish retries */
	memcpy(copy, json_object, len);
	pthread_mutex_lock(&c->lock);
	free(c->snapshot);
	c->snapshot = copy;
	c->snapshot_len = len;
	pthread_mutex_unlock(&c->lock);
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
	pthread_mutex_destroy(&c->lock);
	free(c->snapshot);
	free(c);
}
