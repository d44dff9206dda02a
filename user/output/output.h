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
/* smtp.log and files.log in Zeek's JSON log format in the directory dir
 * (out_zeek.c). NULL with errno set when a file cannot be opened (*failed
 * names it) or without memory (*failed NULL). */
struct sink *sink_zeek_new(const char *dir, const char **failed);
/* Opens path for appending; a file it creates is OUTPUT_FILE_MODE whatever
 * the umask (outputs.c). NULL with errno set on failure. */
FILE *output_open_append(const char *path);
/* Native journal entries (out_journal.c); never sends smtp_data. */
struct sink *sink_journal_new(void);

#endif
