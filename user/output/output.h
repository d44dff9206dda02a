// SPDX-License-Identifier: GPL-2.0-only
/*
 * output.h - the sinks that write events: JSON lines (Zeek field names) and
 * human-readable text, one line per event. Every string is escaped so that no
 * value can break a line or the JSON: bytes that are control characters or
 * not valid UTF-8 become \xNN (as Zeek's JSON writer writes them).
 */
#ifndef SMTPMON_OUTPUT_H
#define SMTPMON_OUTPUT_H

#include <stdio.h>

#include "output/event.h"

struct sink *sink_json_new(FILE *out);
struct sink *sink_text_new(FILE *out);
/* Native journal entries (out_journal.c); never sends smtp_data. */
struct sink *sink_journal_new(void);

#endif
