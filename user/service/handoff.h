// SPDX-License-Identifier: GPL-2.0-only
/*
 * handoff.h - a request handed from a server thread (control socket, HTTP
 * metrics) to the capture loop's thread, and its answer handed back. All the
 * daemon's state is read in the loop's own thread, so nothing it owns needs
 * a lock; the loop only pays a try-lock per poll.
 *
 * One request at a time: askers queue on the mutex. An asker waits at most
 * timeout_ms for the loop to pick its request up; once picked up, the answer
 * is always awaited (the handler is our own, bounded code).
 */
#ifndef SMTPMON_HANDOFF_H
#define SMTPMON_HANDOFF_H

#include <stdbool.h>

#include "output/jsonw.h"

/* Writes the answer to request into out (out->len is 0 on entry). */
typedef void (*handoff_fn)(void *ctx, const char *request, struct jsonw *out);

struct handoff;

struct handoff *handoff_new(void);
/* Server thread. True with the answer in *answer (replacing its content);
 * false when the loop did not pick the request up in time. */
bool handoff_ask(struct handoff *h, const char *request, struct jsonw *answer, int timeout_ms);
/* Loop thread: answers a pending request, if any; never waits for a lock. */
void handoff_serve(struct handoff *h, handoff_fn fn, void *ctx);
void handoff_free(struct handoff *h);

#endif
