// SPDX-License-Identifier: GPL-2.0-only
/* quiet_thread.c - threads that take no signal (contract in quiet_thread.h). */
#include <signal.h>

#include "service/quiet_thread.h"

int quiet_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, before;
	int err;

	/* A new thread starts with its creator's mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &before);
	err = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	return err;
}
