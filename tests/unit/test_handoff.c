// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_handoff.c - requests from other threads answered in the serving
 * thread (handoff.h): the answer reaches its own asker, askers queue, and an
 * asker nobody serves gets false after its timeout without blocking later
 * requests.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "service/handoff.h"

#define ASKERS 4
#define ROUNDS 50

struct asker {
	struct handoff *h;
	char request[32];
	int answered;
	bool all_right; /* every answer was the echo of its own request */
};

static atomic_int askers_left;
static pthread_t server_thread;

/* The handler: echoes the request, so an answer shows whose it was. */
static void echo(void *ctx, const char *request, struct jsonw *out)
{
	pthread_t *serving = ctx;

	assert_true(pthread_equal(*serving, pthread_self()));
	jsonw_raw(out, "re:", 3);
	jsonw_raw(out, request, strlen(request) + 1);
}

static void *ask_rounds(void *arg)
{
	struct asker *a = arg;
	struct jsonw answer;
	char want[64];

	jsonw_init(&answer);
	a->all_right = true;
	snprintf(want, sizeof(want), "re:%s", a->request);
	for (int i = 0; i < ROUNDS; i++) {
		if (!handoff_ask(a->h, a->request, &answer, 5000))
			continue;
		a->answered++;
		if (strcmp(answer.buf, want))
			a->all_right = false;
	}
	jsonw_free(&answer);
	atomic_fetch_sub(&askers_left, 1);
	return NULL;
}

static void askers_served(void **state)
{
	struct handoff *h = handoff_new();
	struct asker askers[ASKERS];
	pthread_t threads[ASKERS];
	(void)state;

	assert_non_null(h);
	server_thread = pthread_self();
	atomic_store(&askers_left, ASKERS);
	for (int i = 0; i < ASKERS; i++) {
		memset(&askers[i], 0, sizeof(askers[i]));
		askers[i].h = h;
		snprintf(askers[i].request, sizeof(askers[i].request), "{\"n\":%d}", i);
		assert_int_equal(pthread_create(&threads[i], NULL, ask_rounds, &askers[i]), 0);
	}
	/* The serving loop: polls as the capture loop does, only faster. */
	while (atomic_load(&askers_left) > 0) {
		handoff_serve(h, echo, &server_thread);
		usleep(100);
	}
	for (int i = 0; i < ASKERS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(askers[i].answered, ROUNDS);
		assert_true(askers[i].all_right);
	}
	handoff_free(h);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *ask_once(void *arg)
{
	struct asker *a = arg;
	struct jsonw answer;

	jsonw_init(&answer);
	a->answered = handoff_ask(a->h, a->request, &answer, 5000);
	a->all_right = a->answered && !strcmp(answer.buf, "re:late");
	jsonw_free(&answer);
	return NULL;
}

static void unserved_times_out(void **state)
{
	struct handoff *h = handoff_new();
	struct jsonw answer;
	struct asker late = {.h = h, .request = "late"};
	pthread_t t;
	uint64_t start;
	(void)state;

	jsonw_init(&answer);
	start = ms_now();
	assert_false(handoff_ask(h, "nobody serves", &answer, 100));
	assert_true(ms_now() - start >= 100);
	assert_true(ms_now() - start < 1000);
	/* nothing of the abandoned request is served later */
	server_thread = pthread_self();
	handoff_serve(h, echo, &server_thread);
	/* the next asker is served normally */
	assert_int_equal(pthread_create(&t, NULL, ask_once, &late), 0);
	while (pthread_tryjoin_np(t, NULL) == EBUSY) {
		handoff_serve(h, echo, &server_thread);
		usleep(100);
	}
	assert_true(late.all_right);
	jsonw_free(&answer);
	handoff_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(askers_served),
	    cmocka_unit_test(unserved_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
