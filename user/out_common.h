/*
 * out_common.h - what the JSON, text and journal sinks share: names that are safe to
 * print for any enum value, address formatting, the text form of escaping
 * and write-error reporting.
 */
#ifndef SMTPMON_OUT_COMMON_H
#define SMTPMON_OUT_COMMON_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "jsonw.h"

/* Zeek's name, or "unknown" for a value outside the enum. */
const char *event_name(enum event_type type);
const char *conn_end_name(enum conn_end end);
/* family 6 (struct segment's convention) or AF_INET6: IPv6 in the
 * compressed form Zeek prints; anything else: IPv4 from the first 4 bytes. */
/* Returns the length of the NUL-terminated text in out. */
size_t format_addr(uint8_t family, const uint8_t addr[16], char out[INET6_ADDRSTRLEN]);
bool family_is_ipv6(uint8_t family);
/* escape_bytes() decoded once, for text: '"' as is, "\\" for a backslash,
 * \xNN for control bytes and invalid UTF-8. Implemented in jsonw.c. */
void escape_bytes_text(struct jsonw *w, const uint8_t *s, size_t len);
/* Appends the text sink's line for ev, without the newline (out_text.c);
 * the journal sink's MESSAGE. */
void text_format_event(struct jsonw *w, const struct event *ev);
/* Reports errno once per sink (*reported remembers it), so a closed pipe
 * gives one message, not one per event. */
void report_write_error(bool *reported);

#endif
