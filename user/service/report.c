// SPDX-License-Identifier: GPL-2.0-only
/* report.c - see report.h. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/out_common.h"
#include "service/process_stats.h"
#include "service/report.h"
#include "smtp/smtp.h"
#include "settings/version.h"

/* ---- output helpers ------------------------------------------------------ */

static void put(struct jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct jsonw *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		jsonw_raw(w, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_str(struct jsonw *w, const char *s)
{
	jsonw_raw(w, s, strlen(s));
}

/* "key":{ ... } and "key":[ ... ] inside a jsonw object. */
static void json_open(struct jsonw *w, const char *key, char bracket)
{
	if (key) {
		/* jsonw writes a key only with a value: take the value back. */
		jsonw_key_u64(w, key, 0);
		w->len--;
	} else if (w->need_comma) {
		put_str(w, ",");
	}
	jsonw_raw(w, &bracket, 1);
	w->need_comma = false;
}

static void json_close(struct jsonw *w, char bracket)
{
	jsonw_raw(w, &bracket, 1);
	w->need_comma = true;
}

/* A key that is not one of our constants. */
static void json_key_escaped(struct jsonw *w, const char *key)
{
	if (w->need_comma)
		put_str(w, ",");
	put_str(w, "\"");
	escape_bytes(w, (const uint8_t *)key, strlen(key));
	put_str(w, "\":");
	w->need_comma = true;
}

/* A text as a JSON string value, with the standard escapes (it is shown
 * as it is by smtpmonctl, so it must not use the event writer's \xNN). */
static void json_text(struct jsonw *w, const char *text, size_t len)
{
	put_str(w, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '"' || c == '\\')
			put(w, "\\%c", c);
		else if (c == '\n')
			put_str(w, "\\n");
		else if (c < 0x20 || c == 0x7f)
			put(w, "\\u%04x", c);
		else
			jsonw_raw(w, (const char *)&c, 1);
	}
	put_str(w, "\"");
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- metric families ------------------------------------------------------ */

struct family {
	const char *name;  /* JSON key; Prometheus smtpmon_NAME, counters + "_total" */
	const char *label; /* NULL: a single sample without labels */
	const char *help;
	bool counter;
};

/* process_*: the names every Prometheus client library exports, as they are
 * (no smtpmon_ prefix), so standard dashboards and alerts find them. */
static bool standard_name(const struct family *f)
{
	return !strncmp(f->name, "process_", 8);
}

struct renderer {
	void (*begin)(struct renderer *r, const struct family *f);
	void (*sample)(struct renderer *r, const struct family *f, const char *label_value,
		       const char *label2_value, uint64_t v);
	void (*end)(struct renderer *r, const struct family *f);
	struct jsonw *out;
	bool first; /* no sample of the family written yet */
	/* The name of a second label, set by the caller around a family that
	 * has one, else NULL. Its samples come grouped by the first label's
	 * value; JSON nests them: {"eth0": {"tc_ingress": 5}}. */
	const char *label2;
	const char *group; /* JSON: the first label's value whose object is open */
};

static void single(struct renderer *r, const struct family *f, uint64_t v)
{
	r->begin(r, f);
	r->sample(r, f, NULL, NULL, v);
	r->end(r, f);
}

static void labelled(struct renderer *r, const struct family *f, const char *const *labels,
		     const uint64_t *values, size_t n)
{
	r->begin(r, f);
	for (size_t i = 0; i < n; i++)
		r->sample(r, f, labels[i], NULL, values[i]);
	r->end(r, f);
}

static void names_table(struct renderer *r, const struct family *f, const struct stats_names *t)
{
	r->begin(r, f);
	for (unsigned i = 0; i < t->n; i++)
		r->sample(r, f, t->name[i], NULL, t->count[i]);
	if (t->other)
		r->sample(r, f, "other", NULL, t->other);
	r->end(r, f);
}

#define N_STATES 24 /* more than smtp.c has, "UNKNOWN" included */

struct state_count {
	size_t n;
	const char *name[N_STATES];
	uint64_t count[N_STATES];
};

static void count_state(void *ctx, const struct pipeline_conn_view *v)
{
	struct state_count *sc = ctx;
	size_t i = 0;

	while (i < sc->n && strcmp(sc->name[i], v->state))
		i++;
	if (i == sc->n) {
		if (sc->n == N_STATES)
			return;
		sc->name[sc->n] = v->state;
		sc->count[sc->n++] = 0;
	}
	sc->count[i]++;
}

/* The TLS library probes (docs/tls-plaintext.md), per library. */
static void tls_families(struct renderer *r, const struct capture_counters *cc)
{
	char name[64], help[128];
	uint64_t vals[SMTPMON_TLS_LIB_MAX];

	for (int s = 0; s < SMTPMON_TLS_STAT_MAX; s++) {
		snprintf(name, sizeof(name), "tls_probe_%s", tls_probe_stat_names[s]);
		snprintf(help, sizeof(help), "TLS library probe counter %s, per library",
			 tls_probe_stat_names[s]);
		for (int lib = 0; lib < SMTPMON_TLS_LIB_MAX; lib++)
			vals[lib] = cc->tls[lib][s];
		labelled(r, &(struct family){name, "lib", help, true}, tls_probe_lib_names, vals,
			 SMTPMON_TLS_LIB_MAX);
	}
	static const char *const proc_help[TLS_ATTACH_STAT_MAX] = {
	    [TLS_ATTACH_PROCESSES] = "Processes whose TLS calls are probed now",
	    [TLS_ATTACH_ATTACHED] = "Processes the TLS probes were attached to",
	    [TLS_ATTACH_FAILED] = "Processes to probe that the TLS probes were not attached to",
	    [TLS_ATTACH_LOST] = "Processes to probe lost to a full map, ring or queue",
	};
	for (int s = 0; s < TLS_ATTACH_STAT_MAX && cc->tls_per_process; s++) {
		snprintf(name, sizeof(name), "tls_%s", tls_attach_stat_names[s]);
		single(r, &(struct family){name, NULL, proc_help[s], s != TLS_ATTACH_PROCESSES},
		       cc->tls_procs[s]);
	}
	single(r,
	       &(struct family){"tls_plaintext_records", NULL,
				"TLS plaintext records read from their ring buffer", true},
	       cc->tls_records);
	single(r,
	       &(struct family){"tls_plaintext_bad_records", NULL,
				"Malformed TLS plaintext records dropped", true},
	       cc->tls_bad_records);
}

/* The same counters per interface and program (the direction): slot 0,
 * "other", only when it counted anything (a program attached by hand). */
static void kernel_interface_families(struct renderer *r, const struct capture_counters *cc)
{
	char name[64], help[128];

	for (int s = 0; s < SMTPMON_STAT_MAX; s++) {
		if (!capture_stat_names[s])
			continue;
		snprintf(name, sizeof(name), "kernel_interface_%s", capture_stat_names[s]);
		snprintf(help, sizeof(help), "BPF program counter %s, per interface and program",
			 capture_stat_names[s]);
		const struct family f = {name, "interface", help, true};
		r->label2 = "prog";
		r->begin(r, &f);
		for (size_t slot = 0; slot < cc->niface_slots; slot++) {
			bool other_used = false;

			for (int p = 0; p < SMTPMON_PROG_MAX; p++)
				other_used |= cc->iface_kernel[slot][p][SMTPMON_STAT_PACKETS] != 0;
			if (slot == 0 && !other_used)
				continue;
			for (int p = 0; p < SMTPMON_PROG_MAX; p++)
				if (cc->prog_loaded[p])
					r->sample(r, &f, cc->iface[slot], capture_prog_names[p],
						  cc->iface_kernel[slot][p][s]);
		}
		r->end(r, &f);
		r->label2 = NULL;
	}
}

static void kernel_families(struct renderer *r, const struct capture *c)
{
	struct capture_counters cc;
	const char *progs[SMTPMON_PROG_MAX];
	uint64_t vals[SMTPMON_PROG_MAX];
	char name[64], help[128];

	if (!capture_counters(c, &cc))
		return;
	for (int s = 0; s < SMTPMON_STAT_MAX; s++) {
		size_t n = 0;

		if (!capture_stat_names[s])
			continue; /* a counter capture.c does not name yet */

		snprintf(name, sizeof(name), "kernel_%s", capture_stat_names[s]);
		snprintf(help, sizeof(help), "BPF program counter %s, per program",
			 capture_stat_names[s]);
		for (int p = 0; p < SMTPMON_PROG_MAX; p++)
			if (cc.prog_loaded[p]) {
				progs[n] = capture_prog_names[p];
				vals[n++] = cc.kernel[p][s];
			}
		labelled(r, &(struct family){name, "prog", help, true}, progs, vals, n);
	}
	kernel_interface_families(r, &cc);
	single(r, &(struct family){"ring_size_bytes", NULL, "Size of the BPF ring buffer", false},
	       cc.ring_size);
	single(r,
	       &(struct family){"ring_used_bytes", NULL,
				"Bytes written into the ring buffer and not yet consumed", false},
	       cc.ring_used);
	single(r, &(struct family){"ring_records", NULL, "Records read from the ring buffer", true},
	       cc.records);
	single(r,
	       &(struct family){"ring_bad_records", NULL, "Malformed ring records dropped", true},
	       cc.bad_records);
	single(r,
	       &(struct family){"tls_marks", NULL,
				"Flows marked encrypted in the kernel after STARTTLS", true},
	       cc.tls_marks);
	single(r,
	       &(struct family){"tls_mark_errors", NULL,
				"Failed updates of the kernel flow map after STARTTLS", true},
	       cc.tls_mark_errors);
	single(r,
	       &(struct family){"skip_marks", NULL,
				"Message bodies the kernel was told to skip (--bodies=skip)", true},
	       cc.skip_marks);
	single(r,
	       &(struct family){"skip_mark_errors", NULL,
				"Failed updates of the kernel flow map for body skipping", true},
	       cc.skip_mark_errors);
	if (cc.tls_probes)
		tls_families(r, &cc);
	single(r,
	       &(struct family){"wall_clock_steps", NULL,
				"Steps of the wall clock (more than 1 s against boot time); idle "
				"timeouts run on boot time",
				true},
	       cc.wall_clock_steps);
}

static void pipeline_families(struct renderer *r, const struct pipeline *p)
{
	const struct pipeline_stats *ps = pipeline_stats(p);
	struct state_count sc = {0};

	single(r, &(struct family){"segments", NULL, "TCP segments handed to the pipeline", true},
	       ps->segments);
	single(r, &(struct family){"connections_open", NULL, "Connections tracked now", false},
	       ps->conns_active);
	single(r, &(struct family){"connections", NULL, "Connections tracked since start", true},
	       ps->conns_total);
	single(r,
	       &(struct family){"connections_evicted", NULL,
				"Connections dropped to stay inside a limit", true},
	       ps->conns_evicted);
	single(r,
	       &(struct family){"connections_timed_out", NULL, "Connections ended by idle timeout",
				true},
	       ps->conns_timed_out);
	single(r,
	       &(struct family){"buffered_bytes", NULL, "Out-of-order bytes held for reassembly",
				false},
	       ps->buffered_bytes);
	single(r,
	       &(struct family){"buffer_limit_hits", NULL, "Times the total buffer limit was hit",
				true},
	       ps->buffer_limit_hits);
	single(r,
	       &(struct family){"skipped_body_bytes", NULL,
				"Message body bytes the kernel did not copy (--bodies=skip)", true},
	       ps->skipped_bytes);
	single(r,
	       &(struct family){"skip_fallbacks", NULL,
				"Skipped bodies whose end was missed, turned into gaps", true},
	       ps->skip_fallbacks);
	single(r,
	       &(struct family){"tls_plaintext_bytes", NULL,
				"TLS plaintext bytes delivered to sessions", true},
	       ps->plain_bytes);
	single(r,
	       &(struct family){"tls_plaintext_unmatched", NULL,
				"TLS plaintext pieces for no connection the wire showed in TLS",
				true},
	       ps->plain_unmatched);
	single(r,
	       &(struct family){"tls_sessions_unseen", NULL,
				"Ended connections that turned to TLS and got no plaintext", true},
	       ps->tls_unseen);
	single(r,
	       &(struct family){"tls_plaintext_other_end", NULL,
				"TLS plaintext pieces left out: the other end's copy on this host",
				true},
	       ps->plain_other_view);
	single(r,
	       &(struct family){"time_backwards", NULL,
				"Steps back of the capture clock by more than 1 s, not taken as "
				"time by idle timeouts",
				true},
	       ps->time_backwards);
	single(r,
	       &(struct family){"time_jumps", NULL,
				"Steps ahead of the capture clock by more than max(1 h, idle "
				"timeout), not taken as time by idle timeouts",
				true},
	       ps->time_jumps);
	/* every state, 0 included: a gauge that is there at 0 */
	for (const char *name; sc.n < N_STATES && (name = smtp_state_name_at((unsigned)sc.n));)
		sc.name[sc.n++] = name;
	pipeline_foreach_conn(p, count_state, &sc);
	labelled(r,
		 &(struct family){"sessions_open", "state", "Open sessions by SMTP state", false},
		 sc.name, sc.count, sc.n);
}

static void stats_families(struct renderer *r, const struct stats *st)
{
	labelled(
	    r,
	    &(struct family){"sessions_ended", "reason", "Sessions ended, by how they ended", true},
	    conn_end_names, st->sessions_ended, STATS_CONN_ENDS);
	single(r, &(struct family){"sessions_tls", NULL, "Ended sessions that used STARTTLS", true},
	       st->sessions_tls);
	single(r,
	       &(struct family){"transactions", NULL, "Mail transactions of ended sessions", true},
	       st->transactions);
	labelled(r, &(struct family){"commands", "verb", "Client commands by verb", true},
		 stats_verb_names, st->commands, VERB_MAX);
	labelled(r,
		 &(struct family){"replies", "class",
				  "Server replies by code class (multi-line replies once)", true},
		 stats_reply_class_names, st->replies, REPLY_CLASS_MAX);
	labelled(
	    r,
	    &(struct family){"replies_by_code", "code",
			     "Server replies by code, the codes the SMTP RFCs define and other "
			     "(multi-line replies once)",
			     true},
	    stats_reply_code_names, st->reply_codes, STATS_REPLY_CODES);
	single(r,
	       &(struct family){"starttls_upgrades", NULL, "STARTTLS accepted by a server", true},
	       st->starttls);
	single(r, &(struct family){"gaps", NULL, "Content gaps (bytes never seen)", true},
	       st->gaps);
	single(r, &(struct family){"gap_bytes", NULL, "Bytes lost in content gaps", true},
	       st->gap_bytes);
	names_table(
	    r, &(struct family){"unexpected", "message", "smtp_unexpected events by message", true},
	    &st->unexpected);
	names_table(r, &(struct family){"weirds", "name", "weird events by name", true},
		    &st->weird);
	labelled(r,
		 &(struct family){"transaction_outcomes", "outcome",
				  "Mail transaction records by outcome", true},
		 txn_outcome_names, st->outcomes, TXN_OUTCOME_MAX);
	names_table(r,
		    &(struct family){"refused_recipients", "code",
				     "Recipients the server refused, by reply code", true},
		    &st->refused_rcpts);
	labelled(r, &(struct family){"events", "event", "Events produced, by type", true},
		 event_names, st->events, EV_TYPE_MAX);
}

static void output_families(struct renderer *r, const struct outputs *o)
{
	static const struct family families[] = {
	    {"output_events_written", "output", "Events written, per output", true},
	    {"output_events_suppressed", "output", "Events left out by an output's selection",
	     true},
	    {"output_events_lost", "output",
	     "Events an output could not deliver (full disk, journal not keeping up)", true},
	    {"output_bytes_lost", "output", "Bytes of the events an output could not deliver",
	     true},
	};
	size_t n = o ? outputs_count(o) : 0;
	struct output_counts oc;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		r->begin(r, &families[f]);
		for (size_t i = 0; i < n; i++) {
			outputs_get(o, i, &oc);
			const uint64_t v[] = {oc.written, oc.suppressed, oc.lost, oc.lost_bytes};
			r->sample(r, &families[f], oc.name, NULL, v[f]);
		}
		r->end(r, &families[f]);
	}
}

/* The process_* families of the Prometheus client libraries, by their names
 * (whole seconds: the renderers write integers). */
static void process_families(struct renderer *r, uint64_t start_mono_ns)
{
	struct process_stats ps;
	uint64_t since_start = clock_ns(CLOCK_MONOTONIC) - start_mono_ns;

	process_stats_read(&ps);
	single(r,
	       &(struct family){"process_cpu_seconds", NULL,
				"Total user and system CPU time spent in seconds", true},
	       ps.cpu_us / 1000000u);
	single(r,
	       &(struct family){"process_resident_memory_bytes", NULL,
				"Resident memory size in bytes", false},
	       ps.resident_bytes);
	single(r,
	       &(struct family){"process_virtual_memory_bytes", NULL,
				"Virtual memory size in bytes", false},
	       ps.virtual_bytes);
	single(r,
	       &(struct family){"process_open_fds", NULL, "Number of open file descriptors", false},
	       ps.open_fds);
	single(r,
	       &(struct family){"process_max_fds", NULL, "Maximum number of open file descriptors",
				false},
	       ps.max_fds);
	single(r,
	       &(struct family){"process_start_time_seconds", NULL,
				"Start time of the process since unix epoch in seconds", false},
	       (clock_ns(CLOCK_REALTIME) - since_start) / 1000000000u);
}

static void collect(const struct report_sources *src, struct renderer *r)
{
	struct mallinfo2 mi = mallinfo2();

	single(r,
	       &(struct family){"uptime_seconds", NULL, "Seconds since the daemon started", false},
	       (clock_ns(CLOCK_MONOTONIC) - src->start_ns) / 1000000000ull);
	/* Prometheus' info-metric idiom: the version as a label, value 1. */
	labelled(r,
		 &(struct family){"build_info", "version", "The running smtpmon's version", false},
		 (const char *const[]){smtpmon_version}, (const uint64_t[]){1}, 1);
	if (src->capture)
		kernel_families(r, src->capture);
	pipeline_families(r, src->pipeline);
	stats_families(r, src->stats);
	output_families(r, src->outputs);
	single(r, &(struct family){"memory_heap_bytes", NULL, "Heap memory in use (malloc)", false},
	       (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd);
	process_families(r, src->start_ns);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_begin(struct renderer *r, const struct family *f)
{
	r->group = NULL;
	if (f->label)
		json_open(r->out, f->name, '{');
}

static void json_sample(struct renderer *r, const struct family *f, const char *label,
			const char *label2, uint64_t v)
{
	if (!f->label) {
		jsonw_key_u64(r->out, f->name, v);
		return;
	}
	if (r->label2 && (!r->group || strcmp(r->group, label))) {
		if (r->group)
			json_close(r->out, '}');
		json_key_escaped(r->out, label);
		r->out->need_comma = false; /* the key's value follows, no comma */
		json_open(r->out, NULL, '{');
		r->group = label;
	}
	json_key_escaped(r->out, r->label2 ? label2 : label);
	put(r->out, "%" PRIu64, v);
}

static void json_end(struct renderer *r, const struct family *f)
{
	if (r->group)
		json_close(r->out, '}');
	r->group = NULL;
	if (f->label)
		json_close(r->out, '}');
}

/* ---- table ----------------------------------------------------------------- */

/* Every row starts with its family's name (grep finds each); a labelled
 * family prints only its non-zero rows, one with none a single 0. */
static void table_row(struct renderer *r, const struct family *f, const char *label,
		      const char *label2, uint64_t v)
{
	struct jsonw *w = r->out;
	size_t start = w->len;

	put(w, "%-30s", f->name);
	r->first = false;
	if (label) {
		put(w, " %s=", f->label);
		escape_bytes_text(w, (const uint8_t *)label, strlen(label));
	}
	if (label2) {
		put(w, " %s=", r->label2);
		escape_bytes_text(w, (const uint8_t *)label2, strlen(label2));
	}
	size_t width = w->len - start;
	put(w, "%*s %" PRIu64 "\n", width < 60 ? (int)(60 - width) : 0, "", v);
}

static void table_begin(struct renderer *r, const struct family *f)
{
	(void)f;
	r->first = true;
}

static void table_sample(struct renderer *r, const struct family *f, const char *label,
			 const char *label2, uint64_t v)
{
	if (!label || v)
		table_row(r, f, label, label2, v);
}

static void table_end(struct renderer *r, const struct family *f)
{
	if (r->first)
		table_row(r, f, NULL, NULL, 0);
}

/* ---- Prometheus ------------------------------------------------------------ */

static void prom_name(struct jsonw *w, const struct family *f)
{
	put(w, "%s%s%s", standard_name(f) ? "" : "smtpmon_", f->name, f->counter ? "_total" : "");
}

static void prom_begin(struct renderer *r, const struct family *f)
{
	put_str(r->out, "# HELP ");
	prom_name(r->out, f);
	put(r->out, " %s\n# TYPE ", f->help);
	prom_name(r->out, f);
	put(r->out, " %s\n", f->counter ? "counter" : "gauge");
}

/* Label values: the format's three escapes; any other byte that is not
 * printable ASCII becomes the text \xNN (its backslash escaped). */
static void prom_label_value(struct jsonw *w, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\' || c == '"')
			put(w, "\\%c", c);
		else if (c == '\n')
			put_str(w, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			put(w, "\\\\x%02x", c);
		else
			jsonw_raw(w, (const char *)&c, 1);
	}
}

static void prom_sample(struct renderer *r, const struct family *f, const char *label,
			const char *label2, uint64_t v)
{
	prom_name(r->out, f);
	if (label) {
		put(r->out, "{%s=\"", f->label);
		prom_label_value(r->out, label);
		if (label2) {
			put(r->out, "\",%s=\"", r->label2);
			prom_label_value(r->out, label2);
		}
		put_str(r->out, "\"}");
	}
	put(r->out, " %" PRIu64 "\n", v);
}

static void prom_end(struct renderer *r, const struct family *f)
{
	(void)r;
	(void)f;
}

/* ---- sessions -------------------------------------------------------------- */

struct session_walk {
	struct jsonw *out;
	bool text;
	uint64_t now_ns;
	size_t listed;
};

static const char *addr_str(const struct conn_id *id, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(id->family == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static uint64_t seconds_since(uint64_t now_ns, uint64_t then_ns)
{
	return now_ns > then_ns ? (now_ns - then_ns) / 1000000000ull : 0;
}

/* conn_id_fields' visitor for the sessions answer: the JSON writer's keys and
 * values, as the JSON sink writes them. */
static void sj_bytes(void *ctx, const char *key, const uint8_t *s, size_t len)
{
	jsonw_key_str(ctx, key, s, len);
}

static void sj_cstr(void *ctx, const char *key, const char *s)
{
	jsonw_key_cstr(ctx, key, s);
}

static void sj_u64(void *ctx, const char *key, uint64_t v)
{
	jsonw_key_u64(ctx, key, v);
}

static void sj_bool(void *ctx, const char *key, bool v)
{
	jsonw_key_bool(ctx, key, v);
}

static void sj_time(void *ctx, const char *key, uint64_t ns)
{
	jsonw_key_time(ctx, key, ns);
}

static const struct field_visitor session_json_fields = {
    .bytes = sj_bytes, .cstr = sj_cstr, .u64 = sj_u64, .boolean = sj_bool, .time = sj_time};

/* Keys as the events name them: uid, id.orig_h ... (Zeek's conn_id), helo,
 * mailfrom and rcptto (Zeek's smtp.log), ts (the start, as conn.log);
 * rcpt_codes is rcptto's replies, in the same order (0: none yet). */
static void session_json(struct session_walk *sw, const struct pipeline_conn_view *v)
{
	struct jsonw *w = sw->out;
	const struct smtp_view *sv = v->smtp;
	uint32_t i, shown = sv->nrcpts < SMTP_VIEW_RCPTS ? sv->nrcpts : SMTP_VIEW_RCPTS;

	json_open(w, NULL, '{');
	conn_id_fields(v->id, &session_json_fields, w);
	jsonw_key_cstr(w, "state", v->state);
	jsonw_key_str(w, "helo", sv->helo.bytes, sv->helo.len);
	jsonw_key_str(w, "mailfrom", sv->mail_from.bytes, sv->mail_from.len);
	jsonw_key_u64(w, "rcpt_count", sv->nrcpts);
	jsonw_key_u64(w, "rcpt_accepted", sv->rcpts_accepted);
	jsonw_key_u64(w, "rcpt_rejected", sv->rcpts_replied - sv->rcpts_accepted);
	json_open(w, "rcptto", '[');
	for (i = 0; i < shown; i++) {
		put_str(w, i ? ",\"" : "\"");
		escape_bytes(w, sv->rcpts[i].bytes, sv->rcpts[i].len);
		put_str(w, "\"");
	}
	json_close(w, ']');
	json_open(w, "rcpt_codes", '[');
	for (i = 0; i < shown; i++)
		put(w, "%s%u", i ? "," : "", sv->rcpt_code[i]);
	json_close(w, ']');
	jsonw_key_u64(w, "orig_bytes", v->orig_bytes);
	jsonw_key_u64(w, "resp_bytes", v->resp_bytes);
	jsonw_key_time(w, "ts", v->start_ns);
	jsonw_key_u64(w, "age_seconds", seconds_since(sw->now_ns, v->start_ns));
	jsonw_key_u64(w, "idle_seconds", seconds_since(sw->now_ns, v->last_ns));
	jsonw_key_bool(w, "tls", v->tls);
	jsonw_key_bool(w, "partial", v->partial);
	json_close(w, '}');
}

/* A recipient's outcome in the table: its reply code, "-" while none came. */
static void put_rcpt_code(struct jsonw *w, uint16_t code)
{
	if (code)
		put(w, " %u", code);
	else
		put_str(w, " -");
}

static void session_text(struct session_walk *sw, const struct pipeline_conn_view *v)
{
	struct jsonw *w = sw->out;
	const struct smtp_view *sv = v->smtp;
	char orig[INET6_ADDRSTRLEN + 8], resp[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];

	snprintf(orig, sizeof(orig), "%s:%u", addr_str(v->id, v->id->orig_h, a, sizeof(a)),
		 v->id->orig_p);
	snprintf(resp, sizeof(resp), "%s:%u", addr_str(v->id, v->id->resp_h, a, sizeof(a)),
		 v->id->resp_p);
	put(w,
	    "%-19s %-22s %-22s %-13s %6" PRIu64 "s %6" PRIu64 "s %-3s %10" PRIu64 " %10" PRIu64
	    "\n",
	    v->id->uid, orig, resp, v->state, seconds_since(sw->now_ns, v->start_ns),
	    seconds_since(sw->now_ns, v->last_ns), v->tls ? "yes" : "no", v->orig_bytes,
	    v->resp_bytes);
	put_str(w, "    helo ");
	escape_bytes_text(w, sv->helo.bytes, sv->helo.len);
	put_str(w, "  from ");
	escape_bytes_text(w, sv->mail_from.bytes, sv->mail_from.len);
	put(w, "  rcpt %" PRIu32 " (%" PRIu32 " accepted, %" PRIu32 " refused)", sv->nrcpts,
	    sv->rcpts_accepted, sv->rcpts_replied - sv->rcpts_accepted);
	for (uint32_t i = 0; i < sv->nrcpts && i < SMTP_VIEW_RCPTS; i++) {
		put_str(w, i ? ", " : ": ");
		escape_bytes_text(w, sv->rcpts[i].bytes, sv->rcpts[i].len);
		put_rcpt_code(w, sv->rcpt_code[i]);
	}
	put_str(w, sv->nrcpts > SMTP_VIEW_RCPTS ? ", ...\n" : "\n");
}

static void session_one(void *ctx, const struct pipeline_conn_view *v)
{
	struct session_walk *sw = ctx;

	if (sw->listed == REPORT_SESSIONS_MAX)
		return;
	sw->listed++;
	if (sw->text)
		session_text(sw, v);
	else
		session_json(sw, v);
}

/* ---- requests -------------------------------------------------------------- */

/* The string value of "member" in a one-line JSON request, up to len-1
 * characters of [a-z]; "" when absent. Requests are ours and tiny: a
 * parser would be more code to trust than this. */
static void member_word(const char *req, const char *member, char *buf, size_t len)
{
	char key[32];
	const char *p;
	size_t n = 0;

	snprintf(key, sizeof(key), "\"%s\"", member);
	buf[0] = '\0';
	if (!(p = strstr(req, key)))
		return;
	p += strlen(key);
	p += strspn(p, " \t");
	if (*p++ != ':')
		return;
	p += strspn(p, " \t");
	if (*p++ != '"')
		return;
	while (n + 1 < len && p[n] >= 'a' && p[n] <= 'z')
		n++;
	if (p[n] != '"')
		return;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static long member_number(const char *req, const char *member)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\"", member);
	if (!(p = strstr(req, key)))
		return -1;
	p += strlen(key);
	p += strspn(p, " \t");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t");
	return *p >= '0' && *p <= '9' ? strtol(p, NULL, 10) : -1;
}

static void envelope(struct jsonw *out, bool ok)
{
	jsonw_begin(out);
	jsonw_key_u64(out, "version", CONTROL_PROTOCOL_VERSION);
	jsonw_key_bool(out, "ok", ok);
}

static void answer_error(struct jsonw *out, const char *msg)
{
	envelope(out, false);
	jsonw_key_cstr(out, "error", msg);
	jsonw_end(out);
}

/* Renders into a scratch buffer, then into "text" of the answer. */
static void answer_text(struct jsonw *out, const struct jsonw *text)
{
	envelope(out, true);
	jsonw_key_u64(out, "text", 0); /* the key, as in json_open */
	out->len--;
	json_text(out, text->buf ? text->buf : "", text->len);
	jsonw_end(out);
}

static void stats_answer(const struct report_sources *src, bool text, struct jsonw *out)
{
	if (text) {
		struct jsonw t;
		struct renderer r = {
		    .begin = table_begin, .sample = table_sample, .end = table_end, .out = &t};

		jsonw_init(&t);
		collect(src, &r);
		answer_text(out, &t);
		jsonw_free(&t);
		return;
	}
	struct renderer r = {
	    .begin = json_begin, .sample = json_sample, .end = json_end, .out = out};
	envelope(out, true);
	json_open(out, "data", '{');
	collect(src, &r);
	json_close(out, '}');
	jsonw_end(out);
}

static void sessions_answer(const struct report_sources *src, bool text, struct jsonw *out)
{
	const struct pipeline_stats *ps = pipeline_stats(src->pipeline);
	struct jsonw t;
	struct session_walk sw = {.text = text, .now_ns = clock_ns(CLOCK_REALTIME)};

	if (text) {
		jsonw_init(&t);
		sw.out = &t;
		put(&t, "%-19s %-22s %-22s %-13s %7s %7s %-3s %10s %10s\n", "UID", "CLIENT",
		    "SERVER", "STATE", "AGE", "IDLE", "TLS", "C->S", "S->C");
		pipeline_foreach_conn(src->pipeline, session_one, &sw);
		put(&t, "%zu listed, %" PRIu64 " open\n", sw.listed, ps->conns_active);
		answer_text(out, &t);
		jsonw_free(&t);
		return;
	}
	sw.out = out;
	envelope(out, true);
	json_open(out, "data", '{');
	jsonw_key_u64(out, "open", ps->conns_active);
	json_open(out, "sessions", '[');
	pipeline_foreach_conn(src->pipeline, session_one, &sw);
	json_close(out, ']');
	jsonw_key_u64(out, "listed", sw.listed);
	json_close(out, '}');
	jsonw_end(out);
}

static void metrics_answer(const struct report_sources *src, bool raw, struct jsonw *out)
{
	struct renderer r = {
	    .begin = prom_begin, .sample = prom_sample, .end = prom_end, .out = out};

	if (raw) {
		collect(src, &r);
		return;
	}
	struct jsonw t;
	jsonw_init(&t);
	r.out = &t;
	collect(src, &r);
	answer_text(out, &t);
	jsonw_free(&t);
}

void report_answer(void *sources, const char *request, struct jsonw *out)
{
	const struct report_sources *src = sources;
	char cmd[16], format[16], msg[96];

	member_word(request, "cmd", cmd, sizeof(cmd));
	member_word(request, "format", format, sizeof(format));
	if (!strcmp(cmd, "metrics") && !strcmp(format, "raw")) {
		metrics_answer(src, true, out);
		return;
	}
	if (member_number(request, "version") != CONTROL_PROTOCOL_VERSION) {
		snprintf(msg, sizeof(msg), "protocol version mismatch: smtpmon speaks version %d",
			 CONTROL_PROTOCOL_VERSION);
		answer_error(out, msg);
		return;
	}
	if (*format && strcmp(format, "json") && strcmp(format, "text")) {
		answer_error(out, "unknown format (json, text)");
		return;
	}
	bool text = !strcmp(format, "text");
	if (!strcmp(cmd, "ping")) {
		envelope(out, true);
		json_open(out, "data", '{');
		jsonw_key_cstr(out, "smtpmon", smtpmon_version);
		jsonw_key_u64(out, "uptime_seconds",
			      (clock_ns(CLOCK_MONOTONIC) - src->start_ns) / 1000000000ull);
		json_close(out, '}');
		jsonw_end(out);
	} else if (!strcmp(cmd, "stats")) {
		stats_answer(src, text, out);
	} else if (!strcmp(cmd, "sessions")) {
		sessions_answer(src, text, out);
	} else if (!strcmp(cmd, "metrics")) {
		metrics_answer(src, false, out);
	} else {
		answer_error(out, "unknown command (ping, stats, sessions, metrics)");
	}
}
