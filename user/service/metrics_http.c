// SPDX-License-Identifier: GPL-2.0-only
/* metrics_http.c - see metrics_http.h. libmicrohttpd's timeout is an idle
 * one: a client that trickles a header byte now and then would hold its
 * connection for ever. So every connection is tracked from its start
 * (MHD_OPTION_NOTIFY_CONNECTION); one whose request takes longer than
 * REQUEST_DEADLINE_MS, or whose answer is not taken ANSWER_DEADLINE_MS after
 * that, or the one waiting longest for its request when PENDING_MAX are
 * waiting, is shut down, and libmicrohttpd's thread closes it. Answers say
 * "Connection: close": no idle keep-alive connection holds a slot. So slow
 * clients keep no scrape out. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "service/control.h"
#include "service/metrics_http.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Connections at once (libmicrohttpd's limit): the ones still sending their
 * request are kept to PENDING_MAX, so room is always left for a scrape. */
#define CONNECTIONS_MAX	    64
#define PENDING_MAX	    32
#define REQUEST_DEADLINE_MS 2000
/* The capture loop's own limit for building it, and 2 s to send it. */
#define ANSWER_DEADLINE_MS (CONTROL_ANSWER_TIMEOUT_MS + 2000)

struct conn_slot {
	int fd;
	uint64_t start_ms;
	/* Its place in the order of arrival: many arrive within one ms under a
	 * flood, and the one cut off must be the first of them, never one that
	 * has just come in and not been read yet. */
	uint64_t arrival;
	bool used;
	bool waiting; /* its request has not arrived yet */
	bool cut;     /* shut down, libmicrohttpd has yet to close it */
};

struct metrics_http {
	struct MHD_Daemon *mhd;
	struct handoff *handoff;
	pthread_mutex_t lock; /* the slots: libmicrohttpd's thread and the capture loop */
	struct conn_slot slots[CONNECTIONS_MAX];
	uint64_t arrivals;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Under the lock, so the slot's fd is still open (its CLOSED notification,
 * which frees the slot, comes before libmicrohttpd closes it). */
static void cut_off(struct conn_slot *slot)
{
	shutdown(slot->fd, SHUT_RDWR);
	slot->cut = true;
}

/* Under the lock: cuts off the connections past their deadline and, when
 * PENDING_MAX are waiting, the oldest of them. */
static void enforce_deadlines(struct metrics_http *m, bool make_room)
{
	struct conn_slot *oldest = NULL;
	uint64_t now = now_ms();
	size_t waiting = 0;

	for (size_t i = 0; i < CONNECTIONS_MAX; i++) {
		struct conn_slot *slot = &m->slots[i];
		if (!slot->used || slot->cut)
			continue;
		if (now - slot->start_ms >=
		    REQUEST_DEADLINE_MS + (slot->waiting ? 0 : ANSWER_DEADLINE_MS)) {
			cut_off(slot);
			continue;
		}
		if (!slot->waiting)
			continue;
		waiting++;
		if (!oldest || slot->arrival < oldest->arrival)
			oldest = slot;
	}
	if (make_room && waiting >= PENDING_MAX)
		cut_off(oldest);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_http *m = cls;
	struct conn_slot *slot = *socket_context;

	pthread_mutex_lock(&m->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		enforce_deadlines(m, true);
		for (size_t i = 0; i < CONNECTIONS_MAX && ci && !*socket_context; i++)
			if (!m->slots[i].used) {
				m->slots[i] = (struct conn_slot){.fd = ci->connect_fd,
								 .start_ms = now_ms(),
								 .arrival = ++m->arrivals,
								 .used = true,
								 .waiting = true};
				*socket_context = &m->slots[i];
			}
	} else if (slot) {
		slot->used = false;
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&m->lock);
}

/* Its request has arrived: no deadline any more. */
static void request_arrived(struct metrics_http *m, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *slot = ci ? ci->socket_context : NULL;

	pthread_mutex_lock(&m->lock);
	if (slot)
		slot->waiting = false;
	pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *body,
			       size_t len, const char *type)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **state)
{
	static const char request[] = "{\"cmd\":\"metrics\",\"format\":\"raw\"}";
	static const char not_found[] = "only /metrics here\n";
	static const char busy[] = "smtpmon did not answer in time\n";
	struct metrics_http *m = cls;
	struct jsonw answer;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	request_arrived(m, conn);
	if (strcmp(method, "GET"))
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", 9, "text/plain");
	/* libmicrohttpd calls once for the headers; answer on that call (a GET
	 * has no body to wait for). */
	*upload_data_size = 0;
	*state = NULL;
	if (strcmp(url, "/metrics"))
		return respond(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1,
			       "text/plain");
	jsonw_init(&answer);
	if (handoff_ask(m->handoff, request, &answer, CONTROL_ANSWER_TIMEOUT_MS))
		ret = respond(conn, MHD_HTTP_OK, answer.buf ? answer.buf : "", answer.len,
			      CONTENT_TYPE);
	else
		ret = respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, busy, sizeof(busy) - 1,
			      "text/plain");
	jsonw_free(&answer);
	return ret;
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric only. */
static struct addrinfo *parse_listen(const char *addr_port, const char **why)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	char host[64];
	const char *colon = strrchr(addr_port, ':'), *h = addr_port;
	size_t hlen;
	struct addrinfo *ai = NULL;
	int err;

	*why = "want ADDR:PORT, e.g. 127.0.0.1:9465 or [::1]:9465";
	if (!colon || !colon[1])
		return NULL;
	hlen = (size_t)(colon - addr_port);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return NULL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	err = getaddrinfo(host, colon + 1, &hints, &ai);
	if (err) {
		*why = gai_strerror(err);
		return NULL;
	}
	return ai;
}

struct metrics_http *metrics_http_start(const char *addr_port)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct addrinfo *ai;
	const char *why = "out of memory";
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!m || !(m->handoff = handoff_new()))
		goto fail;
	pthread_mutex_init(&m->lock, NULL);
	ai = parse_listen(addr_port, &why);
	if (!ai)
		goto fail;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				  ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, 5u,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_END);
	freeaddrinfo(ai);
	why = "cannot listen (address in use or not local?)";
	if (!m->mhd)
		goto fail;
	return m;
fail:
	fprintf(stderr, "smtpmon: metrics listener %s: %s\n", addr_port, why);
	if (m && m->handoff) {
		handoff_free(m->handoff);
		pthread_mutex_destroy(&m->lock);
	}
	free(m);
	return NULL;
}

void metrics_http_serve(struct metrics_http *m, handoff_fn fn, void *ctx)
{
	if (!m)
		return;
	handoff_serve(m->handoff, fn, ctx);
	/* Deadlines pass without a new connection to notice them. */
	pthread_mutex_lock(&m->lock);
	enforce_deadlines(m, false);
	pthread_mutex_unlock(&m->lock);
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	handoff_free(m->handoff);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
