// SPDX-License-Identifier: GPL-2.0-only
/* daemon.c - `smtpmon run` (contract in daemon.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "capture/caps.h"
#include "capture/capture.h"
#include "service/control.h"
#include "service/daemon.h"
#include "settings/exit_status.h"
#include "service/iface_lock.h"
#include "service/metrics_http.h"
#include "output/outputs.h"
#include "flow/pipeline.h"
#include "service/report.h"
#include "service/stats.h"

#define POLL_MS 100
#define TICK_NS 1000000000ull

struct daemon {
	struct settings *s;
	int argc;
	char **argv;
	struct outputs *outputs;
	struct pipeline *p;
	struct capture *cap;
	struct iface_lock *lock; /* one smtpmon per interface */
	struct control *control;
	struct metrics_http *metrics;
	struct stats stats; /* the outputs' observer: counts every event */
	struct report_sources report;
	uint64_t start_ns;
	uint64_t watchdog_ns; /* 0: no watchdog */
	char status_note[96]; /* e.g. the last reload's failure, shown in STATUS= */
};

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keeps CAP_NET_ADMIN only if legacy filters must be removed on exit. */
static int drop_capabilities(bool keep_net_admin)
{
	const cap_value_t net_admin = CAP_NET_ADMIN;

	return caps_keep_only(&net_admin, keep_net_admin ? 1 : 0);
}

static void notify_status(struct daemon *d)
{
	const struct pipeline_stats *ps = pipeline_stats(d->p);
	struct capture_counters cc;
	uint64_t drops = 0, events = 0;

	if (!capture_counters(d->cap, &cc))
		return;
	for (int prog = 0; prog < SMTPMON_PROG_MAX; prog++)
		drops += cc.kernel[prog][SMTPMON_STAT_RING_DROPS];
	for (int t = 0; t < EV_TYPE_MAX; t++)
		events += ps->events[t];
	sd_notifyf(0,
		   "STATUS=capturing on %zu interface(s): %" PRIu64 " connections open, %" PRIu64
		   " total, %" PRIu64 " events, %" PRIu64 " ring drops%s%s",
		   d->s->capture.nifaces, ps->conns_active, ps->conns_total, events, drops,
		   d->status_note[0] ? "; " : "", d->status_note);
}

/* What a reload cannot change without detaching, named in the log. */
static void warn_restart_only(const struct settings *now, const struct settings *next)
{
	const struct capture_opts *a = &now->capture, *b = &next->capture;
	bool ifaces_same = a->nifaces == b->nifaces;

	for (size_t i = 0; ifaces_same && i < a->nifaces; i++)
		ifaces_same = !strcmp(a->ifaces[i], b->ifaces[i]);
	if (!ifaces_same)
		fprintf(stderr, "smtpmon: reload: interfaces changed: restart to apply\n");
	if (a->ingress != b->ingress || a->tc_attach != b->tc_attach ||
	    a->xdp_mode != b->xdp_mode || a->ring_size != b->ring_size ||
	    a->bodies_skip != b->bodies_skip)
		fprintf(stderr,
			"smtpmon: reload: ingress, tc_attach, xdp_mode, ring_size or bodies "
			"changed: restart to apply\n");
	if (a->tls_plaintext != b->tls_plaintext || a->tls.processes != b->tls.processes ||
	    a->tls.nextra != b->tls.nextra ||
	    memcmp(a->tls.extra, b->tls.extra, sizeof(a->tls.extra)))
		fprintf(stderr, "smtpmon: reload: tls plaintext, processes or libraries changed: "
				"restart to apply\n");
	if (strcmp(now->control_path, next->control_path) ||
	    strcmp(now->control_group, next->control_group) ||
	    strcmp(now->metrics_listen, next->metrics_listen))
		fprintf(stderr, "smtpmon: reload: control socket or metrics listener changed: "
				"restart to apply\n");
}

static void reload(struct daemon *d)
{
	struct settings *next = malloc(sizeof(*next));

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, clock_ns(CLOCK_MONOTONIC) / 1000);
	/* A failed reload keeps the running outputs, but their files are still
	 * reopened: logrotate's postrotate reloads whatever the file's state. */
	if (!next || settings_load(next, d->argc, d->argv)) {
		outputs_reopen(d->outputs);
		fprintf(stderr, "smtpmon: reload failed: keeping the running configuration "
				"(output files reopened)\n");
		snprintf(d->status_note, sizeof(d->status_note),
			 "last reload failed, running configuration kept");
	} else if (outputs_replace(d->outputs, next->outputs, next->noutputs)) {
		outputs_reopen(d->outputs);
		fprintf(stderr, "smtpmon: reload failed: outputs kept (their files reopened)\n");
		snprintf(d->status_note, sizeof(d->status_note),
			 "last reload failed (outputs), running configuration kept");
	} else {
		warn_restart_only(d->s, next);
		/* The pipeline and the capture hold &d->s->cfg: updated in place. */
		d->s->cfg = next->cfg;
		memcpy(d->s->outputs, next->outputs, sizeof(next->outputs));
		d->s->noutputs = next->noutputs;
		capture_set_ports(d->cap, &d->s->cfg);
		d->status_note[0] = '\0';
		fprintf(stderr, "smtpmon: reloaded%s%s: %zu port(s), %zu output(s)\n",
			next->config_file[0] ? " " : "", next->config_file, d->s->cfg.nports,
			d->s->noutputs);
	}
	free(next);
	sd_notify(0, "READY=1");
	notify_status(d);
}

enum loop_end {
	LOOP_STOPPED,	    /* SIGTERM or SIGINT */
	LOOP_FAILED,	    /* the ring could not be read */
	LOOP_STDOUT_CLOSED, /* an output on stdout met EPIPE */
};

static enum loop_end run_loop(struct daemon *d)
{
	uint64_t next_tick = clock_ns(CLOCK_MONOTONIC) + TICK_NS, next_watchdog = 0;

	while (!stop_requested) {
		int n = capture_poll(d->cap, POLL_MS);
		if (n < 0) {
			fprintf(stderr, "smtpmon: poll ring buffer: %s\n", strerror(-n));
			return LOOP_FAILED;
		}
		if (n > 0)
			pipeline_flush(d->p);
		/* Requests are answered here, in the thread that owns the data. */
		control_serve(d->control, report_answer, &d->report);
		metrics_http_serve(d->metrics, report_answer, &d->report);
		if (reload_requested) {
			reload_requested = 0;
			reload(d);
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= next_tick) {
			capture_tick(d->cap);
			iface_lock_drain(d->lock);
			/* Idle timeouts on boot time, as the records' mono_ns:
			 * a step of the wall clock ends no connection. */
			pipeline_tick(d->p, clock_ns(CLOCK_REALTIME), clock_ns(CLOCK_BOOTTIME));
			pipeline_flush(d->p); /* timeouts emit events too */
			notify_status(d);
			next_tick += TICK_NS;
		}
		if (d->watchdog_ns && now >= next_watchdog) {
			sd_notify(0, "WATCHDOG=1");
			next_watchdog = now + d->watchdog_ns / 2;
		}
		/* Events are written (and EPIPE met) in the poll and the tick. */
		if (outputs_stdout_closed(d->outputs)) {
			fprintf(stderr, "smtpmon: stdout closed by its reader: stopping\n");
			return LOOP_STDOUT_CLOSED;
		}
	}
	return LOOP_STOPPED;
}

int daemon_run(struct settings *s, int argc, char **argv)
{
	struct daemon d = {.s = s, .argc = argc, .argv = argv};
	struct sigaction stop = {.sa_handler = on_stop}, hup = {.sa_handler = on_reload};
	uint64_t watchdog_us = 0;
	int rc = SMTPMON_EXIT_FAILURE;

	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGHUP, &hup, NULL);
	/* Before anything is opened or attached: a second smtpmon on an
	 * interface is refused in one line (exit 1). */
	d.lock = iface_lock_take(&s->capture);
	if (!d.lock)
		return SMTPMON_EXIT_FAILURE;
	stats_init(&d.stats);
	d.outputs = outputs_open(s->outputs, s->noutputs, stats_sink(&d.stats));
	if (!d.outputs) {
		rc = SMTPMON_EXIT_USAGE; /* said which output and why: a configuration error */
		goto out;
	}
	d.p = pipeline_new(&s->cfg, outputs_sink(d.outputs));
	if (!d.p) {
		fprintf(stderr, "smtpmon: out of memory\n");
		goto out;
	}
	d.cap = capture_open(&s->capture, &s->cfg, d.p);
	if (!d.cap)
		goto out;
	d.start_ns = clock_ns(CLOCK_MONOTONIC);
	d.report = (struct report_sources){.capture = d.cap,
					   .pipeline = d.p,
					   .outputs = d.outputs,
					   .stats = &d.stats,
					   .start_ns = d.start_ns};
	if (s->control_path[0]) {
		/* The default socket lives in systemd's RuntimeDirectory; create
		 * it when run by hand. */
		if (!strcmp(s->control_path, CONTROL_DEFAULT_PATH))
			mkdir(CONTROL_DEFAULT_DIR, 0750); /* bind reports failures */
		/* Capturing matters more than the statistics socket: degrade. */
		d.control = control_start(s->control_path, s->control_group);
		if (!d.control)
			fprintf(stderr, "smtpmon: continuing without a control socket\n");
	}
	if (s->metrics_listen[0] && !(d.metrics = metrics_http_start(s->metrics_listen)))
		fprintf(stderr, "smtpmon: continuing without the metrics listener\n");
	if (drop_capabilities(capture_needs_net_admin(d.cap)))
		fprintf(stderr, "smtpmon: drop capabilities: %s (continuing with them)\n",
			strerror(errno));
	if (sd_watchdog_enabled(0, &watchdog_us) > 0)
		d.watchdog_ns = watchdog_us * 1000;
	/* Under systemd (Type=notify) "started" means "capturing". */
	sd_notify(0, "READY=1");
	notify_status(&d);
	switch (run_loop(&d)) {
	case LOOP_STOPPED:
		rc = SMTPMON_EXIT_OK;
		break;
	case LOOP_FAILED:
		rc = SMTPMON_EXIT_FAILURE;
		break;
	case LOOP_STDOUT_CLOSED:
		rc = SMTPMON_EXIT_STDOUT_CLOSED;
		break;
	}
	sd_notify(0, "STOPPING=1");
out:
	control_stop(d.control);
	metrics_http_stop(d.metrics);
	capture_close(d.cap);
	iface_lock_release(d.lock); /* once detached */
	if (d.p)
		pipeline_finish(d.p);
	if (d.outputs)
		outputs_sink(d.outputs)->flush(outputs_sink(d.outputs));
	/* Stopped by a signal, but the drain's events met the closed pipe. */
	if (rc == SMTPMON_EXIT_OK && d.outputs && outputs_stdout_closed(d.outputs)) {
		fprintf(stderr, "smtpmon: stdout closed by its reader: events of the drain lost\n");
		rc = SMTPMON_EXIT_STDOUT_CLOSED;
	}
	pipeline_free(d.p);
	outputs_close(d.outputs);
	return rc;
}
