// SPDX-License-Identifier: GPL-2.0-only
/*
 * outputs.h - the configured outputs as one sink. Every event goes first to
 * the observer (the statistics, which count everything), then to each
 * output whose selection takes it: its event mask, and for smtp_reply a
 * minimum code. Each output counts what it wrote and what its selection
 * suppressed.
 *
 * The sink that outputs_sink() returns stays the same for the life of the
 * struct outputs, so a reload replaces the outputs behind a pipeline that
 * keeps its pointer. Files are opened for appending; one that does not exist
 * is created OUTPUT_FILE_MODE (the group reads, as log shippers in Debian's
 * group adm do; smtpmon.service makes adm the group), whatever the umask.
 * outputs_reopen() reopens them after logrotate moved them away.
 */
#ifndef SMTPMON_OUTPUTS_H
#define SMTPMON_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/event.h"
#include "settings/settings.h"

#define OUTPUT_FILE_MODE 0640

struct outputs;

struct output_counts {
	const char *name; /* the section's NAME, or the --output argument */
	const char *type; /* "json", "text", "journal" */
	uint64_t written, suppressed;
	/* events the sink could not deliver (a full disk, a journal that does
	 * not keep up), and their bytes; written counts only the others */
	uint64_t lost, lost_bytes;
};

/* NULL after "smtpmon: output NAME: open PATH: reason" on stderr.
 * observer may be NULL. */
struct outputs *outputs_open(const struct output_spec *specs, size_t n, struct sink *observer);
struct sink *outputs_sink(struct outputs *o);
/* Swaps in new outputs; on failure (reported) the old ones stay. Counts
 * carry over for outputs whose name stays. Returns 0 or -1. */
int outputs_replace(struct outputs *o, const struct output_spec *specs, size_t n);
/* Reopens every output file by its path; one that fails keeps writing to
 * its old stream (reported). Returns the number of failures. */
int outputs_reopen(struct outputs *o);
/* An output without a path (stdout) failed with EPIPE: its reader is gone
 * (out_common.h, stream_sink). Files and the journal never make it true. */
bool outputs_stdout_closed(const struct outputs *o);
size_t outputs_count(const struct outputs *o);
void outputs_get(const struct outputs *o, size_t i, struct output_counts *out);
/* Flushes and closes everything. NULL is fine. */
void outputs_close(struct outputs *o);

#endif
