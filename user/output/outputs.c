// SPDX-License-Identifier: GPL-2.0-only
/* outputs.c - the fan-out sink (contract in outputs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/out_common.h"
#include "output/output.h"
#include "output/outputs.h"

/* Full buffering for files: one write(2) per 64 KB, not per event. */
#define FILE_BUFFER (64 * 1024)

struct output {
	struct output_spec spec;
	FILE *file; /* NULL: stdout or the journal */
	struct sink *sink;
	uint64_t handed, suppressed; /* events given to the sink, and left out */
	/* losses of the sinks this output had before (reopen, reload) */
	uint64_t lost_before, lost_bytes_before;
};

struct outputs {
	struct sink sink; /* first: the pipeline's view */
	struct sink *observer;
	struct output out[SETTINGS_MAX_OUTPUTS];
	size_t n;
};

static bool selected(const struct output_spec *spec, const struct event *ev)
{
	if (!(spec->events_mask & EV_MASK(ev->type)))
		return false;
	if (ev->type == EV_SMTP_REPLY && ev->reply.code < spec->min_reply_code)
		return false;
	/* Mail bodies never go to the journal (size, retention, readers). */
	return !(spec->type == OUTPUT_JOURNAL && ev->type == EV_SMTP_DATA);
}

static void fanout_emit(struct sink *sink, const struct event *ev)
{
	struct outputs *o = (struct outputs *)sink;

	if (o->observer)
		o->observer->emit(o->observer, ev);
	for (size_t i = 0; i < o->n; i++) {
		struct output *out = &o->out[i];
		if (selected(&out->spec, ev)) {
			out->sink->emit(out->sink, ev);
			out->handed++;
		} else {
			out->suppressed++;
		}
	}
}

static void fanout_flush(struct sink *sink)
{
	struct outputs *o = (struct outputs *)sink;

	for (size_t i = 0; i < o->n; i++)
		o->out[i].sink->flush(o->out[i].sink);
}

static void sink_losses(const struct output *out, uint64_t *events, uint64_t *bytes)
{
	*events = out->lost_before;
	*bytes = out->lost_bytes_before;
	if (out->sink && out->sink->losses) {
		uint64_t e, b;
		out->sink->losses(out->sink, &e, &b);
		*events += e;
		*bytes += b;
	}
}

/* The counters an output keeps across a new sink of the same name. */
static void carry_counts(struct output *to, const struct output *from)
{
	to->handed = from->handed;
	to->suppressed = from->suppressed;
	sink_losses(from, &to->lost_before, &to->lost_bytes_before);
}

static void close_one(struct output *out)
{
	if (out->sink) {
		out->sink->flush(out->sink); /* its last losses count */
		sink_losses(out, &out->lost_before, &out->lost_bytes_before);
		out->sink->destroy(out->sink);
	}
	if (out->file && fclose(out->file))
		fprintf(stderr, "smtpmon: output %s: close %s: %s\n", out->spec.name,
			out->spec.path, strerror(errno));
	out->sink = NULL;
	out->file = NULL;
}

/* Opens path for appending; a file it creates is OUTPUT_FILE_MODE whatever
 * the umask (the unit's is 0077), an existing one keeps its mode. NULL with
 * errno set on failure. */
FILE *output_open_append(const char *path)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
			      OUTPUT_FILE_MODE);
		if (fd >= 0) {
			if (fchmod(fd, OUTPUT_FILE_MODE)) {
				int err = errno;
				close(fd);
				errno = err;
				return NULL;
			}
		} else if (errno == EEXIST) {
			fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (fd < 0 && errno == ENOENT)
				continue; /* removed in between (logrotate): create it */
		}
		if (fd < 0)
			return NULL;
		FILE *f = fdopen(fd, "a");
		if (!f) {
			int err = errno;
			close(fd);
			errno = err;
		}
		return f;
	}
	return NULL;
}

static int open_one(struct output *out, const struct output_spec *spec)
{
	FILE *stream = stdout;

	memset(out, 0, sizeof(*out));
	out->spec = *spec;
	if (spec->type == OUTPUT_ZEEK) {
		const char *failed;
		if (!spec->path[0]) {
			fprintf(stderr, "smtpmon: output %s: zeek needs a directory (zeek:DIR)\n",
				spec->name);
			return -1;
		}
		out->sink = sink_zeek_new(spec->path, &failed);
		if (!out->sink) {
			fprintf(stderr, "smtpmon: output %s: open %s/%s: %s\n", spec->name,
				spec->path, failed ? failed : "", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (spec->type != OUTPUT_JOURNAL && spec->path[0]) {
		out->file = output_open_append(spec->path);
		if (!out->file) {
			fprintf(stderr, "smtpmon: output %s: open %s: %s\n", spec->name, spec->path,
				strerror(errno));
			return -1;
		}
		setvbuf(out->file, NULL, _IOFBF, FILE_BUFFER);
		stream = out->file;
	}
	out->sink = spec->type == OUTPUT_JSON	? sink_json_new(stream)
		    : spec->type == OUTPUT_TEXT ? sink_text_new(stream)
						: sink_journal_new();
	if (!out->sink) {
		fprintf(stderr, "smtpmon: output %s: out of memory\n", spec->name);
		close_one(out);
		return -1;
	}
	return 0;
}

/* Opens all of specs into out[]; all or nothing. */
static int open_all(struct output *out, const struct output_spec *specs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (open_one(&out[i], &specs[i])) {
			while (i--)
				close_one(&out[i]);
			return -1;
		}
	return 0;
}

struct outputs *outputs_open(const struct output_spec *specs, size_t n, struct sink *observer)
{
	struct outputs *o = calloc(1, sizeof(*o));

	if (!o || n > SETTINGS_MAX_OUTPUTS) {
		fprintf(stderr, "smtpmon: outputs: %s\n", o ? "too many" : "out of memory");
		free(o);
		return NULL;
	}
	if (open_all(o->out, specs, n)) {
		free(o);
		return NULL;
	}
	o->n = n;
	o->observer = observer;
	o->sink.emit = fanout_emit;
	o->sink.flush = fanout_flush;
	o->sink.destroy = NULL; /* owned here: outputs_close() */
	return o;
}

struct sink *outputs_sink(struct outputs *o)
{
	return &o->sink;
}

int outputs_replace(struct outputs *o, const struct output_spec *specs, size_t n)
{
	struct output fresh[SETTINGS_MAX_OUTPUTS];

	if (n > SETTINGS_MAX_OUTPUTS || open_all(fresh, specs, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < o->n; j++)
			if (!strcmp(fresh[i].spec.name, o->out[j].spec.name)) {
				o->out[j].sink->flush(o->out[j].sink);
				carry_counts(&fresh[i], &o->out[j]);
			}
	for (size_t j = 0; j < o->n; j++)
		close_one(&o->out[j]);
	memcpy(o->out, fresh, n * sizeof(fresh[0]));
	o->n = n;
	return 0;
}

int outputs_reopen(struct outputs *o)
{
	int failures = 0;

	for (size_t i = 0; i < o->n; i++) {
		struct output *out = &o->out[i], fresh;
		if (!out->file && out->spec.type != OUTPUT_ZEEK)
			continue; /* stdout, the journal */
		if (open_one(&fresh, &out->spec)) {
			failures++;
			continue;
		}
		out->sink->flush(out->sink);
		carry_counts(&fresh, out);
		close_one(out);
		*out = fresh;
	}
	return failures;
}

bool outputs_stdout_closed(const struct outputs *o)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct output *out = &o->out[i];
		/* JSON and text outputs are stream sinks; without a file, on stdout. */
		if (out->spec.type != OUTPUT_JOURNAL && out->spec.type != OUTPUT_ZEEK &&
		    !out->file && stream_sink_stdout_closed(out->sink))
			return true;
	}
	return false;
}

size_t outputs_count(const struct outputs *o)
{
	return o->n;
}

void outputs_get(const struct outputs *o, size_t i, struct output_counts *out)
{
	out->name = o->out[i].spec.name;
	out->type = output_type_names[o->out[i].spec.type];
	sink_losses(&o->out[i], &out->lost, &out->lost_bytes);
	out->written = o->out[i].handed - out->lost;
	out->suppressed = o->out[i].suppressed;
}

void outputs_close(struct outputs *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		close_one(&o->out[i]);
	free(o);
}
