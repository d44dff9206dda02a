// SPDX-License-Identifier: GPL-2.0-only
/* handoff.c - see handoff.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "service/handoff.h"

enum handoff_state {
	HANDOFF_IDLE = 0,
	HANDOFF_PENDING, /* asked, not picked up yet */
	HANDOFF_SERVING, /* the loop is writing the answer */
	HANDOFF_DONE,	 /* answered, not collected yet */
};

struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	enum handoff_state state;
	const char *request; /* the asker's, valid while it waits */
	struct jsonw answer;
};

struct handoff *handoff_new(void)
{
	struct handoff *h = calloc(1, sizeof(*h));
	pthread_condattr_t attr;

	if (!h)
		return NULL;
	/* Timeouts on the monotonic clock: a clock step must not cut or
	 * stretch them. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->changed, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&h->lock, NULL);
	jsonw_init(&h->answer);
	return h;
}

static struct timespec deadline_after(int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

bool handoff_ask(struct handoff *h, const char *request, struct jsonw *answer, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	bool answered = false;

	pthread_mutex_lock(&h->lock);
	while (h->state != HANDOFF_IDLE)
		if (pthread_cond_timedwait(&h->changed, &h->lock, &deadline) == ETIMEDOUT)
			goto out;
	h->request = request;
	h->state = HANDOFF_PENDING;
	while (h->state == HANDOFF_PENDING)
		if (pthread_cond_timedwait(&h->changed, &h->lock, &deadline) == ETIMEDOUT)
			break;
	if (h->state == HANDOFF_PENDING) { /* never picked up: take it back */
		h->state = HANDOFF_IDLE;
		goto out;
	}
	while (h->state == HANDOFF_SERVING)
		pthread_cond_wait(&h->changed, &h->lock);
	/* Swapping buffers hands the answer over without a copy. */
	struct jsonw mine = *answer;
	*answer = h->answer;
	h->answer = mine;
	h->state = HANDOFF_IDLE;
	answered = true;
out:
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	return answered;
}

void handoff_serve(struct handoff *h, handoff_fn fn, void *ctx)
{
	if (!h || pthread_mutex_trylock(&h->lock))
		return;
	if (h->state != HANDOFF_PENDING) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	h->state = HANDOFF_SERVING;
	pthread_mutex_unlock(&h->lock);

	h->answer.len = 0;
	fn(ctx, h->request, &h->answer);

	pthread_mutex_lock(&h->lock);
	h->state = HANDOFF_DONE;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
}

void handoff_free(struct handoff *h)
{
	if (!h)
		return;
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
	jsonw_free(&h->answer);
	free(h);
}
