// SPDX-License-Identifier: GPL-2.0-only
/*
 * settings.c - defaults, config file, command line (contract in settings.h).
 *
 * One table of settings serves both the file and the command line, so a
 * value means the same thing and fails the same way in both.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/control.h"
#include "output/event.h"
#include "settings/exit_status.h"
#include "settings/settings.h"
#include "settings/version.h"

const char *const output_type_names[] = {"json", "text", "journal", "zeek"};

static const char usage[] =
    "usage: smtpmon read [options] FILE...\n"
    "       smtpmon run [-i IFACE...] [options]\n"
    "       smtpmon --version\n"
    "\n"
    "Options for both (they override the config file):\n"
    "  --config FILE         config file (none by default; smtpmon.service\n"
    "                        passes " SETTINGS_DEFAULT_FILE ")\n"
    "  --ports LIST          monitored server ports (default 25,465,587)\n"
    "  --implicit-tls-ports LIST\n"
    "                        those where TLS starts at once (default 465):\n"
    "                        their bytes are never parsed as SMTP\n"
    "  --output TYPE[:PATH]  json, text or journal; PATH for json and text\n"
    "                        (default stdout); zeek:DIR writes DIR/smtp.log and\n"
    "                        DIR/files.log as Zeek's JSON logs; repeatable;\n"
    "                        replaces the file's outputs (default: json on stdout)\n"
    "  --format TYPE         the same as --output TYPE\n"
    "  --events LIST         events the command-line outputs write, comma-\n"
    "                        separated, or 'all' (default all)\n"
    "  --data                emit smtp_data (message lines; off by default;\n"
    "                        never written to the journal)\n"
    "  --keep-credentials    do not redact AUTH payloads\n"
    "  --files yes|no        MIME parsing and file events (default yes)\n"
    "  --message-files yes|no\n"
    "                        also a file event for each whole message, the\n"
    "                        parent of its parts' (default no)\n"
    "  --file-hashes LIST    digests of each file: md5, sha1, sha256, comma-\n"
    "                        separated, or none (default md5,sha1)\n"
    "  --max-line BYTES      longest SMTP line kept (default 16384)\n"
    "  --max-conns N         connections tracked at once (default 65536)\n"
    "  --max-conn-buffer B   out-of-order bytes per direction (default 8M)\n"
    "  --max-buffer B        out-of-order bytes in all (default 256M)\n"
    "  --idle-timeout SEC    end idle connections after SEC seconds (default 300)\n"
    "  -q                    no statistics on stderr\n"
    "Options for run:\n"
    "  -i, --interface IFACE attach to IFACE (repeatable; replaces the file's list)\n"
    "  --ingress tc|xdp      ingress hook (default tc)\n"
    "  --tc-attach auto|tcx|clsact\n"
    "                        TC hooks: TCX links (Linux >= 6.6) or clsact\n"
    "                        filters; auto: TCX where the kernel has it\n"
    "  --xdp-mode auto|native|generic\n"
    "                        XDP in the driver or in the stack; auto: native\n"
    "                        where the driver has it\n"
    "  --ring-size BYTES     BPF ring buffer size, power of two (default 32M)\n"
    "  --bodies copy|skip    skip: the kernel stops copying message bodies\n"
    "                        (commands, replies and headers only; no smtp_data\n"
    "                        for skipped bytes)\n"
    "  --tls on|off          the plaintext of sessions inside TLS from the TLS\n"
    "                        libraries (OpenSSL, GnuTLS) with uprobes (default on)\n"
    "  --tls-libraries LIST  more library files to probe, comma-separated\n"
    "  --tls-processes auto|all|smtp\n"
    "                        smtp: only processes on monitored ports and their\n"
    "                        children pay the probes' traps; all: the probes sit\n"
    "                        on the library files, every process that maps them\n"
    "                        pays; auto (default): smtp where tracefs lets forks\n"
    "                        inherit the probes, else all\n"
    "  --control PATH|none   control socket for smtpmonctl\n"
    "                        (default " CONTROL_DEFAULT_PATH ")\n"
    "  --control-group GROUP group that may use the control socket (default smtpmon)\n"
    "  --metrics-listen ADDR:PORT\n"
    "                        serve Prometheus metrics on http://ADDR:PORT/metrics\n"
    "  -v, --verbose         libbpf messages and the verifier log\n"
    "Sizes take K, M and G suffixes (powers of 1024).\n";

/* ---- values ---- */

struct setting_key;
typedef bool (*setter_fn)(struct settings *s, const struct setting_key *k, const char *value,
			  char *why, size_t why_len);

/* The settings a file section and a long option share. Numbers: a size
 * (K/M/G allowed) in [min, max], times scale, stored at offset. */
struct setting_key {
	const char *section, *key;
	const char *option; /* long option taking the value; NULL: file only */
	setter_fn set;
	size_t offset;
	unsigned long long min, max, scale;
	bool is_u64;		    /* the field is a uint64_t, not a size_t */
	const char *const *choices; /* set_choice: the words, NULL-terminated */
};

static bool fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return false;
}

/* Unsigned decimal with an optional K/M/G suffix, in [min, max]. */
static bool parse_size(const char *v, unsigned long long min, unsigned long long max,
		       unsigned long long *out)
{
	unsigned long long n, mult = 1;
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'M':
		mult = 1ull << 20;
		end++;
		break;
	case 'G':
		mult = 1ull << 30;
		end++;
		break;
	}
	if (*end || n > max / mult || n * mult < min || n * mult > max)
		return false;
	*out = n * mult;
	return true;
}

static bool copy_string(char *dst, size_t cap, const char *v, char *why, size_t why_len)
{
	if (strlen(v) >= cap)
		return fail(why, why_len, "longer than %zu bytes", cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

static bool set_bool(bool *dst, const char *v, char *why, size_t why_len)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*dst = false;
	else
		return fail(why, why_len, "want yes or no, got '%s'", v);
	return true;
}

static bool set_ports(struct settings *s, const struct setting_key *k, const char *v, char *why,
		      size_t n)
{
	(void)k;
	return config_parse_ports(&s->cfg, v) ||
	       fail(why, n, "bad port list '%s' (want e.g. 25,587)", v);
}

/* A word from k->choices, stored as its index in the enum at k->offset. */
_Static_assert(sizeof(enum ingress_hook) == sizeof(int) && sizeof(enum tc_attach) == sizeof(int) &&
		   sizeof(enum xdp_mode) == sizeof(int) &&
		   sizeof(enum tls_processes) == sizeof(int),
	       "set_choice stores an int");
static bool set_choice(struct settings *s, const struct setting_key *k, const char *v, char *why,
		       size_t n)
{
	char want[64] = "";

	for (int i = 0; k->choices[i]; i++) {
		if (!strcmp(v, k->choices[i])) {
			memcpy((char *)s + k->offset, &i, sizeof(i));
			return true;
		}
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
			 i ? (k->choices[i + 1] ? ", " : " or ") : "", k->choices[i]);
	}
	return fail(why, n, "want %s, got '%s'", want, v);
}

static const char *const ingress_names[] = {[INGRESS_TC] = "tc", [INGRESS_XDP] = "xdp", NULL};
static const char *const tc_attach_names[] = {
    [TC_ATTACH_AUTO] = "auto", [TC_ATTACH_TCX] = "tcx", [TC_ATTACH_CLSACT] = "clsact", NULL};
static const char *const xdp_mode_names[] = {
    [XDP_MODE_AUTO] = "auto", [XDP_MODE_NATIVE] = "native", [XDP_MODE_GENERIC] = "generic", NULL};
static const char *const tls_processes_names[] = {[TLS_PROCESSES_AUTO] = "auto",
						  [TLS_PROCESSES_ALL] = "all",
						  [TLS_PROCESSES_SMTP] = "smtp",
						  NULL};

static bool set_ring_size(struct settings *s, const struct setting_key *k, const char *v, char *why,
			  size_t n)
{
	(void)k;
	unsigned long long size;

	if (!parse_size(v, 4096, 1ull << 30, &size) || (size & (size - 1)))
		return fail(why, n, "want a power of two from 4096 to 1G, got '%s'", v);
	s->capture.ring_size = size;
	return true;
}

static bool set_bodies(struct settings *s, const struct setting_key *k, const char *v, char *why,
		       size_t n)
{
	(void)k;
	if (!strcmp(v, "copy"))
		s->capture.bodies_skip = false;
	else if (!strcmp(v, "skip"))
		s->capture.bodies_skip = true;
	else
		return fail(why, n, "want copy or skip, got '%s'", v);
	return true;
}

static bool set_implicit_tls_ports(struct settings *s, const struct setting_key *k, const char *v,
				   char *why, size_t n)
{
	(void)k;
	return config_parse_implicit_tls_ports(&s->cfg, v) ||
	       fail(why, n, "bad port list '%s' (want e.g. 465, or empty)", v);
}

static bool set_tls_plaintext(struct settings *s, const struct setting_key *k, const char *v,
			      char *why, size_t n)
{
	(void)k;
	if (!strcmp(v, "on") || !strcmp(v, "off")) {
		s->capture.tls_plaintext = !strcmp(v, "on");
		return true;
	}
	return set_bool(&s->capture.tls_plaintext, v, why, n);
}

static bool set_tls_libraries(struct settings *s, const struct setting_key *k, const char *v,
			      char *why, size_t n)
{
	(void)k;
	struct tls_probe_opts *t = &s->capture.tls;

	t->nextra = 0;
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, " \t,");

		if (len) {
			if (t->nextra == TLS_PROBE_MAX_FILES)
				return fail(why, n, "more than %d libraries", TLS_PROBE_MAX_FILES);
			if (len >= TLS_PROBE_PATH_MAX || *p != '/')
				return fail(why, n, "want absolute paths, got '%.*s'", (int)len, p);
			memcpy(t->extra[t->nextra], p, len);
			t->extra[t->nextra++][len] = '\0';
		}
		p += len;
		p += strspn(p, " \t,");
	}
	return true;
}

static bool set_interfaces(struct settings *s, const struct setting_key *k, const char *v,
			   char *why, size_t n)
{
	(void)k;
	const char *p = v;

	s->capture.nifaces = 0;
	while (*p) {
		size_t len = strcspn(p, " \t,");
		if (len) {
			if (s->capture.nifaces == CAPTURE_MAX_IFACES)
				return fail(why, n, "more than %d interfaces", CAPTURE_MAX_IFACES);
			if (len >= IF_NAMESIZE)
				return fail(why, n, "interface name '%.*s' too long", (int)len, p);
			memcpy(s->capture.ifaces[s->capture.nifaces], p, len);
			s->capture.ifaces[s->capture.nifaces++][len] = '\0';
		}
		p += len + (p[len] != '\0');
	}
	return true;
}

static bool set_number(struct settings *s, const struct setting_key *k, const char *v, char *why,
		       size_t n)
{
	unsigned long long x;
	char *field = (char *)s + k->offset;

	if (!parse_size(v, k->min, k->max, &x))
		return fail(why, n, "want %llu..%llu, got '%s'", k->min, k->max, v);
	if (k->is_u64)
		*(uint64_t *)(void *)field = x * k->scale;
	else
		*(size_t *)(void *)field = (size_t)(x * k->scale);
	return true;
}

static bool set_data(struct settings *s, const struct setting_key *k, const char *v, char *why,
		     size_t n)
{
	(void)k;
	return set_bool(&s->cfg.emit_data, v, why, n);
}

static bool set_files(struct settings *s, const struct setting_key *k, const char *v, char *why,
		      size_t n)
{
	(void)k;
	return set_bool(&s->cfg.files, v, why, n);
}

static bool set_message_files(struct settings *s, const struct setting_key *k, const char *v,
			      char *why, size_t n)
{
	(void)k;
	return set_bool(&s->cfg.message_files, v, why, n);
}

static bool set_file_hashes(struct settings *s, const struct setting_key *k, const char *v,
			    char *why, size_t n)
{
	(void)k;
	return config_parse_file_hashes(&s->cfg, v) ||
	       fail(why, n, "want md5, sha1, sha256 (comma-separated) or none, got '%s'", v);
}

static bool set_credentials(struct settings *s, const struct setting_key *k, const char *v,
			    char *why, size_t n)
{
	(void)k;
	if (!strcmp(v, "keep"))
		s->cfg.keep_credentials = true;
	else if (!strcmp(v, "redact"))
		s->cfg.keep_credentials = false;
	else
		return fail(why, n, "want redact or keep, got '%s'", v);
	return true;
}

static bool set_control_socket(struct settings *s, const struct setting_key *k, const char *v,
			       char *why, size_t n)
{
	(void)k;
	if (!strcmp(v, "none")) {
		s->control_path[0] = '\0';
		return true;
	}
	if (v[0] != '/')
		return fail(why, n, "want an absolute path or none, got '%s'", v);
	return copy_string(s->control_path, sizeof(s->control_path), v, why, n);
}

static bool set_control_group(struct settings *s, const struct setting_key *k, const char *v,
			      char *why, size_t n)
{
	(void)k;
	return copy_string(s->control_group, sizeof(s->control_group), v, why, n);
}

static bool set_metrics_listen(struct settings *s, const struct setting_key *k, const char *v,
			       char *why, size_t n)
{
	(void)k;
	const char *colon = strrchr(v, ':');
	unsigned long long port;

	if (*v && (!colon || colon == v || !parse_size(colon + 1, 1, 65535, &port)))
		return fail(why, n, "want ADDR:PORT (e.g. 127.0.0.1:9465), got '%s'", v);
	return copy_string(s->metrics_listen, sizeof(s->metrics_listen), v, why, n);
}

static const struct setting_key setting_keys[] = {
    {.section = "capture", .key = "interfaces", .option = NULL, .set = set_interfaces},
    {.section = "capture", .key = "ports", .option = "ports", .set = set_ports},
#define CHOICE(field, names)                                                                       \
	.set = set_choice, .offset = offsetof(struct settings, field), .choices = (names)
    {.section = "capture",
     .key = "ingress",
     .option = "ingress",
     CHOICE(capture.ingress, ingress_names)},
    {.section = "capture",
     .key = "tc_attach",
     .option = "tc-attach",
     CHOICE(capture.tc_attach, tc_attach_names)},
    {.section = "capture",
     .key = "xdp_mode",
     .option = "xdp-mode",
     CHOICE(capture.xdp_mode, xdp_mode_names)},
    {.section = "capture",
     .key = "implicit_tls_ports",
     .option = "implicit-tls-ports",
     .set = set_implicit_tls_ports},
    {.section = "capture", .key = "ring_size", .option = "ring-size", .set = set_ring_size},
    {.section = "tls", .key = "plaintext", .option = "tls", .set = set_tls_plaintext},
    {.section = "tls", .key = "libraries", .option = "tls-libraries", .set = set_tls_libraries},
    {.section = "tls",
     .key = "processes",
     .option = "tls-processes",
     CHOICE(capture.tls.processes, tls_processes_names)},
    {.section = "capture", .key = "bodies", .option = "bodies", .set = set_bodies},
#define NUMBER(field, lo, hi, mult, u64)                                                           \
	.set = set_number, .offset = offsetof(struct settings, field), .min = (lo), .max = (hi),   \
	.scale = (mult), .is_u64 = (u64)
    {.section = "limits",
     .key = "max_connections",
     .option = "max-conns",
     NUMBER(cfg.max_conns, 1, 1u << 24, 1, false)},
    {.section = "limits",
     .key = "max_conn_buffer",
     .option = "max-conn-buffer",
     NUMBER(cfg.max_conn_buffer, 0, 1ull << 32, 1, false)},
    {.section = "limits",
     .key = "max_buffer",
     .option = "max-buffer",
     NUMBER(cfg.max_total_buffer, 0, 1ull << 40, 1, false)},
    {.section = "limits",
     .key = "max_line",
     .option = "max-line",
     NUMBER(cfg.max_line, 512, 1u << 24, 1, false)},
    {.section = "limits",
     .key = "idle_timeout",
     .option = "idle-timeout",
     NUMBER(cfg.idle_timeout_ns, 1, 86400 * 7, 1000000000ull, true)},
#undef NUMBER
    {.section = "privacy", .key = "data", .option = NULL, .set = set_data},
    {.section = "files", .key = "files", .option = "files", .set = set_files},
    {.section = "files", .key = "hashes", .option = "file-hashes", .set = set_file_hashes},
    {.section = "files",
     .key = "message_files",
     .option = "message-files",
     .set = set_message_files},
    {.section = "privacy", .key = "credentials", .option = NULL, .set = set_credentials},
    {.section = "control", .key = "socket", .option = "control", .set = set_control_socket},
    {.section = "control", .key = "group", .option = "control-group", .set = set_control_group},
    {.section = "metrics", .key = "listen", .option = "metrics-listen", .set = set_metrics_listen},
};
#define NKEYS (sizeof(setting_keys) / sizeof(setting_keys[0]))

/* ---- outputs ---- */

static bool parse_output_type(const char *v, size_t len, enum output_type *type)
{
	for (int t = OUTPUT_JSON; t <= OUTPUT_ZEEK; t++)
		if (strlen(output_type_names[t]) == len && !strncmp(v, output_type_names[t], len)) {
			*type = (enum output_type)t;
			return true;
		}
	return false;
}

static struct output_spec *output_add(struct settings *s, const char *name)
{
	struct output_spec *o;

	if (s->noutputs == SETTINGS_MAX_OUTPUTS)
		return NULL;
	o = &s->outputs[s->noutputs++];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->events_mask = EV_MASK_ALL;
	return o;
}

/* A comma-separated list of event names, or all; an error names the first
 * unknown one and the known ones. */
static bool parse_events(const char *v, unsigned *mask, char *why, size_t n)
{
	char known[256] = "";
	unsigned one;

	if (event_mask_parse(v, mask))
		return true;
	for (int t = 0; t < EV_TYPE_MAX; t++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s, ",
			 event_names[t]);
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ",");
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (len && !event_mask_parse(name, &one))
			return fail(why, n, "unknown event '%.*s' (known: %sall)", (int)len, p,
				    known);
		p += len + (p[len] == ',');
	}
	return fail(why, n, "no event named (want e.g. smtp_reply,smtp_unexpected, or all)");
}

static bool set_output_key(struct output_spec *o, const char *key, const char *v, char *why,
			   size_t n)
{
	unsigned long long code;

	if (!strcmp(key, "type")) {
		if (!parse_output_type(v, strlen(v), &o->type))
			return fail(why, n, "want json, text, journal or zeek, got '%s'", v);
	} else if (!strcmp(key, "path")) {
		if (!strcmp(v, "-"))
			v = "";
		return copy_string(o->path, sizeof(o->path), v, why, n);
	} else if (!strcmp(key, "events")) {
		return parse_events(v, &o->events_mask, why, n);
	} else if (!strcmp(key, "min_reply_code")) {
		if (!parse_size(v, 0, 999, &code))
			return fail(why, n, "want a reply code 0..999, got '%s'", v);
		o->min_reply_code = (unsigned)code;
	} else {
		return fail(why, n, "unknown key (want type, path, events or min_reply_code)");
	}
	return true;
}

/* "json:/var/log/smtpmon.json", "text", "journal", "zeek:/var/log/smtpmon/zeek" */
static bool add_cli_output(struct settings *s, const char *v, char *why, size_t n)
{
	const char *colon = strchr(v, ':');
	size_t len = colon ? (size_t)(colon - v) : strlen(v);
	struct output_spec *o;
	enum output_type type;

	if (!parse_output_type(v, len, &type))
		return fail(why, n, "want json[:PATH], text[:PATH], journal or zeek:DIR, got '%s'",
			    v);
	if (type == OUTPUT_JOURNAL && colon)
		return fail(why, n, "journal takes no path, got '%s'", v);
	if (type == OUTPUT_ZEEK && (!colon || !colon[1]))
		return fail(why, n, "zeek needs a directory (zeek:DIR), got '%s'", v);
	o = output_add(s, v);
	if (!o)
		return fail(why, n, "more than %d outputs", SETTINGS_MAX_OUTPUTS);
	o->type = type;
	return !colon || copy_string(o->path, sizeof(o->path), colon + 1, why, n);
}

/* ---- config file ---- */

struct file_state {
	struct settings *s;
	FILE *file;
	int line;	 /* lines read so far: the handler's current line */
	int error_line;	 /* of the first handler error */
	char error[384]; /* the first handler error: "[section] key: why" */
	char section[64];
	struct output_spec *output; /* current [output NAME] section */
};

static int on_ini_value(void *user, const char *section, const char *key, const char *value)
{
	struct file_state *fs = user;
	char why[256] = "";
	bool ok = false, known = false;

	if (fs->error[0])
		return 0;
	if (!strncmp(section, "output ", 7) && section[7]) {
		if (strcmp(section, fs->section)) {
			fs->output = output_add(fs->s, section + 7);
			snprintf(fs->section, sizeof(fs->section), "%s", section);
		}
		known = true;
		ok = fs->output
			 ? set_output_key(fs->output, key, value, why, sizeof(why))
			 : fail(why, sizeof(why), "more than %d outputs", SETTINGS_MAX_OUTPUTS);
	}
	for (size_t i = 0; i < NKEYS && !known; i++)
		if (!strcmp(section, setting_keys[i].section) &&
		    !strcmp(key, setting_keys[i].key)) {
			known = true;
			ok = setting_keys[i].set(fs->s, &setting_keys[i], value, why, sizeof(why));
		}
	if (!known)
		snprintf(why, sizeof(why), "unknown %s",
			 section[0] ? "key" : "key outside a section");
	if (!ok) {
		snprintf(fs->error, sizeof(fs->error), "[%s] %s: %s", section, key, why);
		fs->error_line = fs->line;
	}
	return ok;
}

/* fgets that counts lines, so that the handler knows where it is (libinih
 * reports only the number of the first failing line). */
static char *read_line(char *buf, int size, void *stream)
{
	struct file_state *fs = stream;
	char *got = fgets(buf, size, fs->file);

	if (got)
		fs->line++;
	return got;
}

static int load_file(struct settings *s, const char *path)
{
	struct file_state fs = {.s = s};
	int line;

	fs.file = fopen(path, "re");
	if (!fs.file) {
		fprintf(stderr, "smtpmon: %s: %s\n", path, strerror(errno));
		return SMTPMON_EXIT_USAGE;
	}
	line = ini_parse_stream(read_line, &fs, on_ini_value, &fs);
	fclose(fs.file);
	if (line < 0) {
		fprintf(stderr, "smtpmon: %s: out of memory\n", path);
		return SMTPMON_EXIT_USAGE;
	}
	if (line > 0) {
		/* A syntax error (no handler call) has no key to name. */
		if (line == fs.error_line)
			fprintf(stderr, "smtpmon: %s:%d: %s\n", path, line, fs.error);
		else
			fprintf(stderr,
				"smtpmon: %s:%d: syntax error (want [section] or key = value)\n",
				path, line);
		return SMTPMON_EXIT_USAGE;
	}
	snprintf(s->config_file, sizeof(s->config_file), "%s", path);
	return 0;
}

/* ---- command line ---- */

enum opt_id {
	OPT_CONFIG = 256,
	OPT_OUTPUT,
	OPT_FORMAT,
	OPT_EVENTS,
	OPT_DATA,
	OPT_KEEP_CREDS,
	OPT_VERSION,
	OPT_TABLE, /* OPT_TABLE + i: setting_keys[i] */
};

static int cli_error(const char *opt, const char *why)
{
	fprintf(stderr, "smtpmon: %s: %s\n%s", opt, why, usage);
	return SMTPMON_EXIT_USAGE;
}

static void print_version(void)
{
	printf("smtpmon %s\n", smtpmon_version);
}

static const char *config_file_in_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

static int parse_args(struct settings *s, int argc, char **argv)
{
	struct option opts[NKEYS + 16];
	size_t n = 0;
	unsigned cli_events = EV_MASK_ALL;
	bool cli_outputs = false, cli_ifaces = false, cli_events_set = false;
	char why[256];
	int opt;

	for (size_t i = 0; i < NKEYS; i++)
		if (setting_keys[i].option)
			opts[n++] = (struct option){setting_keys[i].option, required_argument, NULL,
						    OPT_TABLE + (int)i};
	opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	opts[n++] = (struct option){"output", required_argument, NULL, OPT_OUTPUT};
	opts[n++] = (struct option){"format", required_argument, NULL, OPT_FORMAT};
	opts[n++] = (struct option){"events", required_argument, NULL, OPT_EVENTS};
	opts[n++] = (struct option){"data", no_argument, NULL, OPT_DATA};
	opts[n++] = (struct option){"keep-credentials", no_argument, NULL, OPT_KEEP_CREDS};
	opts[n++] = (struct option){"interface", required_argument, NULL, 'i'};
	opts[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	opts[n] = (struct option){NULL, 0, NULL, 0};

	/* From argv[1] (the command) on; 0 makes getopt start afresh, which a
	 * reload needs. */
	optind = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "i:vqh", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			break; /* read before the other options */
		case OPT_EVENTS:
			if (!parse_events(optarg, &cli_events, why, sizeof(why)))
				return cli_error("--events", why);
			cli_events_set = true;
			break;
		case OPT_OUTPUT:
		case OPT_FORMAT:
			if (!cli_outputs)
				s->noutputs = 0;
			cli_outputs = true;
			if (!add_cli_output(s, optarg, why, sizeof(why)))
				return cli_error(opt == OPT_OUTPUT ? "--output" : "--format", why);
			break;
		case OPT_DATA:
			s->cfg.emit_data = true;
			break;
		case OPT_KEEP_CREDS:
			s->cfg.keep_credentials = true;
			break;
		case 'i':
			if (!cli_ifaces)
				s->capture.nifaces = 0;
			cli_ifaces = true;
			if (s->capture.nifaces == CAPTURE_MAX_IFACES)
				return cli_error("-i", "too many interfaces");
			if (strlen(optarg) >= IF_NAMESIZE)
				return cli_error("-i", "interface name too long");
			strcpy(s->capture.ifaces[s->capture.nifaces++], optarg);
			break;
		case 'v':
			s->capture.verbose = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			s->mode = MODE_HELP;
			return 0;
		case OPT_VERSION:
			print_version();
			s->mode = MODE_HELP;
			return 0;
		default:
			if (opt >= OPT_TABLE && opt < OPT_TABLE + (int)NKEYS) {
				const struct setting_key *k = &setting_keys[opt - OPT_TABLE];
				char name[64];
				if (!k->set(s, k, optarg, why, sizeof(why))) {
					snprintf(name, sizeof(name), "--%s", k->option);
					return cli_error(name, why);
				}
				break;
			}
			fputs(usage, stderr);
			return SMTPMON_EXIT_USAGE;
		}
	}
	if (!s->noutputs)
		output_add(s, "stdout"); /* JSON on stdout */
	/* Like every flag, --events overrides the file: it selects for all. */
	for (size_t i = 0; cli_events_set && i < s->noutputs; i++)
		s->outputs[i].events_mask = cli_events;
	s->first_file = optind + 1;
	return 0;
}

static void defaults(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	config_defaults(&s->cfg);
	s->capture.ingress = INGRESS_TC;
	s->capture.tls_plaintext = true;
	s->capture.ring_size = 32u << 20; /* ~25 ms of a 10 Gbit/s burst; see make bench */
	snprintf(s->control_path, sizeof(s->control_path), "%s", CONTROL_DEFAULT_PATH);
	snprintf(s->control_group, sizeof(s->control_group), "smtpmon");
}

int settings_load(struct settings *s, int argc, char **argv)
{
	const char *file;
	int rc;

	defaults(s);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		s->mode = MODE_HELP;
		return argc < 2 ? SMTPMON_EXIT_USAGE : SMTPMON_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		print_version();
		s->mode = MODE_HELP;
		return 0;
	}
	if (!strcmp(argv[1], "read"))
		s->mode = MODE_READ;
	else if (!strcmp(argv[1], "run"))
		s->mode = MODE_RUN;
	else
		return cli_error(argv[1], "unknown command (want read or run)");

	/* Only a file named on the command line: an ad-hoc run must not
	 * take the service's outputs from its file (smtpmon.service passes
	 * --config SETTINGS_DEFAULT_FILE). */
	file = config_file_in_args(argc, argv);
	if (file && (rc = load_file(s, file)))
		return rc;
	if ((rc = parse_args(s, argc, argv)))
		return rc;
	if (s->mode == MODE_HELP)
		return 0;
	/* The pipeline makes every event (statistics count them all); the
	 * outputs select. smtp_data only exists when asked for. */
	s->cfg.events_mask = EV_MASK_ALL;
	if (!s->cfg.emit_data)
		s->cfg.events_mask &= ~EV_MASK(EV_SMTP_DATA);
	if (s->mode == MODE_READ && s->first_file >= argc)
		return cli_error("read", "no input file");
	if (s->mode == MODE_RUN && s->first_file < argc)
		return cli_error("run", "takes no file arguments");
	if (s->mode == MODE_RUN && !s->capture.nifaces)
		return cli_error("run",
				 "no interface (-i IFACE, or interfaces = in the --config file)");
	return 0;
}
