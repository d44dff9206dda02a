// SPDX-License-Identifier: GPL-2.0-only
/*
 * quiet_thread.h - the threads smtpmon runs beside its main one (the journal
 * writer, the file digests) take no signal: SIGTERM, SIGINT and SIGHUP reach
 * the daemon's loop (daemon.c), whose poll they end at once; taken by another
 * thread, they waited for the poll's timeout.
 */
#ifndef SMTPMON_QUIET_THREAD_H
#define SMTPMON_QUIET_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread; the caller's
 * mask is left as it was. Returns 0 or an error number, as pthread_create. */
int quiet_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
