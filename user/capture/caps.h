// SPDX-License-Identifier: GPL-2.0-only
/*
 * caps.h - keep some capabilities, drop every other one: the daemon after
 * start (daemon.c), the TLS attacher for its whole life (tls_attach.h).
 */
#ifndef SMTPMON_CAPS_H
#define SMTPMON_CAPS_H

#include <stddef.h>

#include <sys/capability.h>

/* Keeps keep[0..n) in the permitted and effective sets and drops all
 * others: also from the bounding set when CAP_SETPCAP allows it (root by
 * hand; systemd's bounding set already removed the others), and the ambient
 * set; sets no_new_privs. 0, or -1 with errno. */
int caps_keep_only(const cap_value_t *keep, size_t n);

#endif
