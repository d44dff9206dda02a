// SPDX-License-Identifier: GPL-2.0-only
/* metrics_http.c - see metrics_http.h. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "service/control.h"
#include "service/metrics_http.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *mhd;
	struct handoff *handoff;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *body,
			       size_t len, const char *type)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
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
	ai = parse_listen(addr_port, &why);
	if (!ai)
		goto fail;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				  ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
	freeaddrinfo(ai);
	why = "cannot listen (address in use or not local?)";
	if (!m->mhd)
		goto fail;
	return m;
fail:
	fprintf(stderr, "smtpmon: metrics listener %s: %s\n", addr_port, why);
	if (m)
		handoff_free(m->handoff);
	free(m);
	return NULL;
}

void metrics_http_serve(struct metrics_http *m, handoff_fn fn, void *ctx)
{
	if (m)
		handoff_serve(m->handoff, fn, ctx);
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	handoff_free(m->handoff);
	free(m);
}
