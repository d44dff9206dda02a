// SPDX-License-Identifier: GPL-2.0-only
/* journal_writer.c - see journal_writer.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CODE_FILE/LINE/FUNC would name this file, not anything about the event. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "output/journal_writer.h"
#include "service/quiet_thread.h"

/* One queued entry: n field lengths, then the fields' bytes back to back. */
struct entry {
	struct entry *next;
	size_t n, bytes;
	size_t len[];
};

struct journal_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t queued;	/* an entry was queued, or stopping */
	pthread_cond_t settled; /* an entry was sent or failed */
	struct entry *head, *tail;
	size_t queued_bytes, queued_entries;
	bool in_flight, stopping;
	bool failure_reported;
	struct journal_writer_counts counts;
	size_t max_fields;
	struct iovec *iov; /* the thread's, max_fields of them */
};

static char *entry_bytes(struct entry *e)
{
	return (char *)&e->len[e->n];
}

static void send_one(struct journal_writer *jw, struct entry *e)
{
	char *p = entry_bytes(e);
	int r;

	for (size_t i = 0; i < e->n; i++) {
		jw->iov[i] = (struct iovec){p, e->len[i]};
		p += e->len[i];
	}
	r = sd_journal_sendv(jw->iov, (int)e->n);
	pthread_mutex_lock(&jw->lock);
	if (r >= 0) {
		jw->counts.sent++;
	} else {
		jw->counts.failed++;
		jw->counts.lost_bytes += e->bytes;
		if (!jw->failure_reported) {
			jw->failure_reported = true;
			fprintf(
			    stderr,
			    "smtpmon: journal: sending an event: %s (further failures counted)\n",
			    strerror(-r));
		}
	}
	jw->in_flight = false;
	pthread_cond_broadcast(&jw->settled);
	pthread_mutex_unlock(&jw->lock);
}

static void *writer_thread(void *arg)
{
	struct journal_writer *jw = arg;

	for (;;) {
		struct entry *e;

		pthread_mutex_lock(&jw->lock);
		while (!jw->head && !jw->stopping)
			pthread_cond_wait(&jw->queued, &jw->lock);
		e = jw->head;
		if (!e) {
			pthread_mutex_unlock(&jw->lock);
			return NULL;
		}
		jw->head = e->next;
		if (!jw->head)
			jw->tail = NULL;
		jw->queued_bytes -= e->bytes;
		jw->queued_entries--;
		jw->in_flight = true;
		pthread_mutex_unlock(&jw->lock);
		send_one(jw, e);
		free(e);
	}
}

struct journal_writer *journal_writer_new(size_t max_fields)
{
	struct journal_writer *jw = calloc(1, sizeof(*jw));

	if (!jw)
		return NULL;
	jw->max_fields = max_fields;
	jw->iov = calloc(max_fields, sizeof(*jw->iov));
	if (!jw->iov) {
		free(jw);
		return NULL;
	}
	pthread_mutex_init(&jw->lock, NULL);
	pthread_cond_init(&jw->queued, NULL);
	pthread_cond_init(&jw->settled, NULL);
	errno = quiet_thread_create(&jw->thread, writer_thread, jw);
	if (errno) {
		free(jw->iov);
		free(jw);
		return NULL;
	}
	return jw;
}

bool journal_writer_queue(struct journal_writer *jw, const struct iovec *fields, size_t n)
{
	size_t bytes = 0;
	struct entry *e = NULL;
	char *p;

	for (size_t i = 0; i < n; i++)
		bytes += fields[i].iov_len;
	pthread_mutex_lock(&jw->lock);
	if (n <= jw->max_fields && jw->queued_bytes + bytes <= JOURNAL_WRITER_QUEUE_MAX)
		e = malloc(sizeof(*e) + n * sizeof(e->len[0]) + bytes);
	if (!e) {
		jw->counts.dropped++;
		jw->counts.lost_bytes += bytes;
		pthread_mutex_unlock(&jw->lock);
		return false;
	}
	e->next = NULL;
	e->n = n;
	e->bytes = bytes;
	p = entry_bytes(e);
	for (size_t i = 0; i < n; i++) {
		e->len[i] = fields[i].iov_len;
		memcpy(p, fields[i].iov_base, fields[i].iov_len);
		p += fields[i].iov_len;
	}
	if (jw->tail)
		jw->tail->next = e;
	else
		jw->head = e;
	jw->tail = e;
	jw->queued_bytes += bytes;
	jw->queued_entries++;
	pthread_cond_signal(&jw->queued);
	pthread_mutex_unlock(&jw->lock);
	return true;
}

void journal_writer_get(struct journal_writer *jw, struct journal_writer_counts *out)
{
	pthread_mutex_lock(&jw->lock);
	*out = jw->counts;
	pthread_mutex_unlock(&jw->lock);
}

void journal_writer_close(struct journal_writer *jw, unsigned drain_ms,
			  struct journal_writer_counts *final, uint64_t *unsent)
{
	struct timespec deadline;
	bool stuck;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += drain_ms / 1000;
	deadline.tv_nsec += (long)(drain_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&jw->lock);
	jw->stopping = true;
	pthread_cond_signal(&jw->queued);
	while ((jw->head || jw->in_flight) &&
	       pthread_cond_timedwait(&jw->settled, &jw->lock, &deadline) != ETIMEDOUT)
		;
	stuck = jw->head || jw->in_flight;
	*unsent = jw->queued_entries + jw->in_flight;
	*final = jw->counts;
	pthread_mutex_unlock(&jw->lock);
	if (stuck) {
		pthread_detach(jw->thread);
		return; /* the thread may still touch jw: it stays */
	}
	pthread_join(jw->thread, NULL);
	pthread_cond_destroy(&jw->queued);
	pthread_cond_destroy(&jw->settled);
	pthread_mutex_destroy(&jw->lock);
	free(jw->iov);
	free(jw);
}
