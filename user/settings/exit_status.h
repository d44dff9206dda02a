// SPDX-License-Identifier: GPL-2.0-only
/*
 * exit_status.h - the exit statuses of smtpmon and smtpmonctl, all in one
 * place. They are documented in smtpmon(8) and smtpmonctl(8) (EXIT STATUS)
 * and in README.md; a new status goes into all three.
 */
#ifndef SMTPMON_EXIT_STATUS_H
#define SMTPMON_EXIT_STATUS_H

/* smtpmon read | run */
enum smtpmon_exit {
	SMTPMON_EXIT_OK = 0,
	SMTPMON_EXIT_FAILURE = 1, /* live capture failed (load, attach, ring), out of memory */
	SMTPMON_EXIT_USAGE = 2,	  /* bad arguments or configuration, unreadable input file, an
				   * output file that cannot be opened */
	/* A write to stdout failed with EPIPE: its reader (`| head`) is gone.
	 * read stops reading, run stops as on SIGTERM (detach, drain, control
	 * socket removed); the final counters are on stderr. A file or journal
	 * output that fails never gives this status. */
	SMTPMON_EXIT_STDOUT_CLOSED = 3,
};

/* smtpmonctl */
enum smtpmonctl_exit {
	SMTPMONCTL_EXIT_OK = 0,
	SMTPMONCTL_EXIT_ANSWER = 1,	 /* the daemon answered with an error */
	SMTPMONCTL_EXIT_USAGE = 2,	 /* bad arguments */
	SMTPMONCTL_EXIT_NOT_RUNNING = 3, /* no socket, nobody listening, no answer */
	SMTPMONCTL_EXIT_PERMISSION = 4,	 /* the socket or its directory is closed to us */
	SMTPMONCTL_EXIT_PROTOCOL = 5,	 /* a daemon of another release */
};

#endif
