// SPDX-License-Identifier: GPL-2.0-only
/*
 * journal_writer.h - native journal entries sent by a thread of their own,
 * so that a journald that is stopped, stuck or slower than the traffic never
 * blocks the capture loop: sd_journal_sendv blocks its caller while
 * journald's socket queue is full, and here only this thread waits.
 *
 * Between the two, a queue bounded in bytes (JOURNAL_WRITER_QUEUE_MAX): an
 * entry that finds it full is dropped and counted. Sending resumes by itself
 * when journald reads again. Each entry is copied once into the queue.
 */
#ifndef SMTPMON_JOURNAL_WRITER_H
#define SMTPMON_JOURNAL_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define JOURNAL_WRITER_QUEUE_MAX (8u << 20)

struct journal_writer;

struct journal_writer_counts {
	uint64_t sent;
	uint64_t failed;     /* sd_journal_sendv said no (no journald, ...) */
	uint64_t dropped;    /* the queue was full */
	uint64_t lost_bytes; /* of the failed and dropped ones */
};

/* At most max_fields fields per entry. NULL with errno set. */
struct journal_writer *journal_writer_new(size_t max_fields);
/* Queues a copy of the entry's n "NAME=value" fields; false when it was
 * dropped (the queue is full, or n is more than max_fields, or no memory). */
bool journal_writer_queue(struct journal_writer *jw, const struct iovec *fields, size_t n);
void journal_writer_get(struct journal_writer *jw, struct journal_writer_counts *out);
/* Lets the thread send what is queued for at most drain_ms, then ends it;
 * *final gets the counts then, *unsent the entries it could not send by then
 * (a journald still stuck: the thread is then left to the process's exit,
 * with its memory). */
void journal_writer_close(struct journal_writer *jw, unsigned drain_ms,
			  struct journal_writer_counts *final, uint64_t *unsent);

#endif
