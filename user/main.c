// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.c - smtpmon: settings, then the data flow. Each stage is a directory of user/:
 *
 *   source/  (pcap files)  |  capture/ (BPF ring buffers: TC/XDP, TLS library probes;
 *                                       the loop around it is service/daemon.c)
 *     -> struct segment (source/segment.h)
 *     -> flow/  (flow table -> TCP reassembly)  -> smtp/ (SMTP state machine)
 *        -> records/ (transactions), mime/ (messages, files; their digests in a
 *           thread of their own)
 *     -> events (output/event.h) -> output/ (JSON lines | text | journal, each with
 *        its selection); service/ counts them and answers smtpmonctl and /metrics
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "service/daemon.h"
#include "settings/exit_status.h"
#include "output/outputs.h"
#include "source/pcap_source.h"
#include "flow/pipeline.h"
#include "settings/settings.h"

static void print_read_stats(const struct decode_stats *ds, const struct pipeline_stats *ps)
{
	fprintf(stderr,
		"smtpmon: frames %llu, tcp %llu, fragments %llu (datagrams reassembled %llu, "
		"discarded for overlaps %llu, inconsistent %llu, dropped %llu), malformed %llu, "
		"unsupported %llu, truncated %llu; connections %llu (evicted %llu), "
		"gaps %llu (%llu bytes); time went back %llu, jumped %llu\n",
		(unsigned long long)ds->frames, (unsigned long long)ds->tcp,
		(unsigned long long)ds->fragments, (unsigned long long)ds->frag_datagrams,
		(unsigned long long)ds->frag_overlaps, (unsigned long long)ds->frag_inconsistent,
		(unsigned long long)ds->frag_dropped, (unsigned long long)ds->malformed,
		(unsigned long long)ds->unsupported, (unsigned long long)ds->truncated,
		(unsigned long long)ps->conns_total, (unsigned long long)ps->conns_evicted,
		(unsigned long long)ps->gaps, (unsigned long long)ps->gap_bytes,
		(unsigned long long)ps->time_backwards, (unsigned long long)ps->time_jumps);
}

static bool stdout_closed(void *outputs)
{
	return outputs_stdout_closed(outputs);
}

/* Every file in turn; a closed stdout ends the read at once. */
static int read_files(const struct settings *s, int argc, char **argv)
{
	struct outputs *outputs = outputs_open(s->outputs, s->noutputs, NULL);
	struct pipeline *p;
	struct decode_stats ds = {0};
	int rc = SMTPMON_EXIT_OK;

	/* An output that cannot be opened was named with its path and reason:
	 * a usage error, like an unreadable input. */
	if (!outputs)
		return SMTPMON_EXIT_USAGE;
	p = pipeline_new(&s->cfg, outputs_sink(outputs));
	if (!p) {
		fprintf(stderr, "smtpmon: out of memory\n");
		outputs_close(outputs);
		return SMTPMON_EXIT_FAILURE;
	}
	for (int i = s->first_file; i < argc && rc == SMTPMON_EXIT_OK; i++) {
		int r = pcap_source_read(argv[i], p, &ds, stdout_closed, outputs);
		if (r < 0)
			rc = SMTPMON_EXIT_USAGE;
		else if (r > 0)
			rc = SMTPMON_EXIT_STDOUT_CLOSED;
	}
	pipeline_finish(p);
	/* The last events may meet the closed pipe only now. */
	outputs_sink(outputs)->flush(outputs_sink(outputs));
	if (rc == SMTPMON_EXIT_STDOUT_CLOSED || (rc == SMTPMON_EXIT_OK && stdout_closed(outputs))) {
		fprintf(stderr, "smtpmon: stdout closed by its reader: stopped\n");
		rc = SMTPMON_EXIT_STDOUT_CLOSED;
	}
	if (!s->quiet && rc != SMTPMON_EXIT_USAGE)
		print_read_stats(&ds, pipeline_stats(p));
	pipeline_free(p);
	outputs_close(outputs);
	return rc;
}

int main(int argc, char **argv)
{
	/* Large (paths): not on the stack. Static, so the daemon's reload
	 * can update it in place for the pipeline that points into it. */
	static struct settings s;
	int rc;

	/* A reader that goes away (`| head`) is an EPIPE from write, handled
	 * as an orderly stop (exit_status.h), not a signal that kills us
	 * before the counters, the detach and the socket's removal. */
	signal(SIGPIPE, SIG_IGN);
	rc = settings_load(&s, argc, argv);
	if (rc || s.mode == MODE_HELP)
		return rc;
	if (s.mode == MODE_READ)
		return read_files(&s, argc, argv);
	return daemon_run(&s, argc, argv);
}
