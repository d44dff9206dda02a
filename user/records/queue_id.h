// SPDX-License-Identifier: GPL-2.0-only
/*
 * queue_id.h - the MTA's queue id in the reply that accepted a message, the
 * key that joins smtpmon's transaction record with the MTA's own log lines.
 *
 * Table-driven (queue_id.c, queue_id_formats): each format is a marker and
 * whether the id is the token right after it or right before it:
 *
 *   Postfix            250 2.0.0 Ok: queued as 4Z1bq93mK1z9sVR
 *                      250 2.0.0 Ok: 86 bytes queued as 1E2891CA025
 *   Exim               250 OK id=1Mugho-0003Dg-Un
 *   Exchange / M365    250 2.6.0 <msgid> [InternalId=28484614258693, Hostname=...]
 *                      Queued mail for delivery   (the message tracking log's
 *                      InternalMessageId)
 *   Sendmail, OpenSMTPD  250 2.0.0 u8QFmVtb003127 Message accepted for delivery
 *   Gmail              250 2.0.0 OK  1700000000 a1si123456pld.123 - gsmtp
 *   qmail              250 ok 1700000000 qp 12345
 *
 * An id is 1 to QUEUE_ID_MAX bytes of letters, digits, '.', '-' and '_'
 * that is not an enhanced status code (2.0.0). Anything else: no id.
 */
#ifndef SMTPMON_QUEUE_ID_H
#define SMTPMON_QUEUE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_MAX 64

/* msg: the reply text after the code ("2.0.0 Ok: queued as X"). On success
 * *id and *id_len point into msg and *mta names the format ("postfix", ...). */
bool queue_id_parse(const uint8_t *msg, size_t len, const uint8_t **id, size_t *id_len,
		    const char **mta);

#endif
