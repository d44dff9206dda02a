// SPDX-License-Identifier: GPL-2.0-only
/*
 * iface_lock.h - one smtpmon per interface. Before it attaches, `smtpmon run`
 * binds, for each interface, a listening abstract UNIX socket named after the
 * interface's index ("\0smtpmon/ifindex/N"). The kernel keeps such names
 * unique within a network namespace, where interface indexes are unique too,
 * and frees the name when the process exits, however it exits: no file to go
 * stale, no directory to share (systemd removes /run/smtpmon when the service
 * stops), the same with --control none and under the unit's read-only file
 * system. A second smtpmon finds the name taken, connects, and reads the
 * first one's pid from the connection's credentials (SO_PEERCRED, fixed
 * when the first one called listen()), so it refuses in one line:
 *
 *   smtpmon: eth0 is already monitored by smtpmon pid 1234 (stop it first)
 *
 * Any local user may bind such a name. One held by a process that is
 * neither root nor of our user, or by one that does not answer within 1.5 s
 * (an smtpmon accepts at once, or drains its backlog every second), cannot
 * be an smtpmon that attached: the check for that interface is skipped with
 * a warning, so that no user can keep smtpmon from starting.
 */
#ifndef SMTPMON_IFACE_LOCK_H
#define SMTPMON_IFACE_LOCK_H

#include "capture/capture.h"

struct iface_lock;

/* Takes the names of opts' interfaces (unknown interfaces are left to
 * capture_open). NULL after the one-line refusal when another smtpmon
 * monitors one of them; otherwise the lock, held until iface_lock_release. */
struct iface_lock *iface_lock_take(const struct capture_opts *opts);
/* Closes the connections other smtpmon processes left while asking (call
 * now and then, so that the backlog never fills). NULL is fine. */
void iface_lock_drain(struct iface_lock *l);
/* Frees the names (after detaching). NULL is fine. */
void iface_lock_release(struct iface_lock *l);

#endif
