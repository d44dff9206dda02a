// SPDX-License-Identifier: GPL-2.0-only
/*
 * control.h - the daemon's control socket: newline-delimited JSON over a
 * UNIX stream socket, one request line and one answer line per connection
 * (the commands and answers are in report.h). Every request and answer
 * carries "version":CONTROL_PROTOCOL_VERSION, so a client and a daemon from
 * different releases say so instead of misreading each other.
 *
 * A thread serves the clients, so a slow or stuck client never stalls the
 * capture loop; the answer is built in the loop's own thread, which calls
 * control_serve() after every ring poll, so nothing the loop owns needs a
 * lock. A client that waits longer than CONTROL_ANSWER_TIMEOUT_MS gets an
 * error answer. Up to 32 clients are served at once, each with 1 s for its
 * whole request line and 1 s for its whole answer (not per read); one more
 * client evicts the one that has been sending its request longest, so
 * clients that trickle bytes or stay silent never keep a real one out.
 *
 * Access: the socket is owned by root and `group`, mode 0660. Its directory
 * is made reachable by the group (group, mode 0750) when control_start()
 * creates it or when it is CONTROL_DEFAULT_DIR; other existing directories
 * are left as the operator made them. When the group does not exist the
 * socket stays 0600 (root only) and a warning says why.
 */
#ifndef SMTPMON_CONTROL_H
#define SMTPMON_CONTROL_H

#include "service/handoff.h"

#define CONTROL_DEFAULT_DIR   "/run/smtpmon" /* systemd RuntimeDirectory=smtpmon */
#define CONTROL_DEFAULT_PATH  CONTROL_DEFAULT_DIR "/control.sock"
#define CONTROL_DEFAULT_GROUP "smtpmon"
/* 2: sessions' keys as the events' (id.orig_h, mailfrom, rcptto, rcpt_codes) */
#define CONTROL_PROTOCOL_VERSION  2
#define CONTROL_ANSWER_TIMEOUT_MS 3000

struct control;

/* NULL after printing "smtpmon: control socket PATH: reason" on stderr. */
struct control *control_start(const char *path, const char *group);
/* The capture loop: answers a waiting request with fn; never blocks.
 * NULL is fine. */
void control_serve(struct control *c, handoff_fn fn, void *ctx);
/* Stops the thread, closes and removes the socket. NULL is fine. */
void control_stop(struct control *c);

#endif
