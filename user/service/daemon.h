// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon.h - `smtpmon run`: the service's main loop around the capture.
 *
 *   interface lock (iface_lock.h: one smtpmon per interface) -> outputs
 *   -> pipeline -> capture_open (attach) -> control socket, metrics
 *   -> drop capabilities -> READY=1 -> loop { ring -> pipeline -> outputs;
 *   requests; once a second: timeouts, STATUS=, WATCHDOG=1 } until SIGTERM
 *   -> STOPPING=1 -> detach, drain, finish connections, flush -> 0.
 *
 * stdout closed by its reader (`smtpmon run | head -1`): SIGPIPE is ignored
 * (main.c), the write fails with EPIPE and the loop ends as on SIGTERM, with
 * SMTPMON_EXIT_STDOUT_CLOSED (exit_status.h): detach, drain, control socket
 * removed, final counters on stderr. So does an EPIPE met while draining
 * after a signal. Failing files and the journal never stop the daemon.
 *
 * SIGHUP (RELOADING=1 ... READY=1): the settings are loaded again from the
 * config file and the same command line. Ports, outputs and their
 * selections, privacy and limits change in place, without detaching and
 * without losing open connections; output files are reopened (logrotate).
 * Interfaces, hook, ring size, bodies mode, control socket and metrics
 * listener need a restart: a change is logged and ignored. A bad file keeps
 * the running settings (logged, and in STATUS=) and still reopens the output
 * files, so that logrotate's reload never leaves them on a rotated file.
 *
 * Capabilities after attach: none; with legacy clsact filters attached,
 * CAP_NET_ADMIN alone (to remove them on exit). The bounding set is cut to
 * the same when CAP_SETPCAP allows it; no_new_privs is set.
 */
#ifndef SMTPMON_DAEMON_H
#define SMTPMON_DAEMON_H

#include "settings/settings.h"

/* Returns the exit status (exit_status.h): SMTPMON_EXIT_OK after a clean stop,
 * SMTPMON_EXIT_FAILURE when capture failed, SMTPMON_EXIT_USAGE when an output
 * cannot be opened (a configuration error), SMTPMON_EXIT_STDOUT_CLOSED. */
int daemon_run(struct settings *s, int argc, char **argv);

#endif
