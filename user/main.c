/*
 * main.c - smtpmon: command line, then the data flow
 *
 *   source (pcap files | BPF ring buffer) -> struct segment
 *     -> pipeline (flow table -> TCP reassembly -> SMTP state machine)
 *     -> events -> sink (JSON lines | text)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "config.h"
#include "control.h"
#include "output.h"
#include "pcap_source.h"
#include "pipeline.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* live capture failed */
	EXIT_USAGE = 2,	  /* bad arguments, unreadable input */
};

static const char usage[] =
    "usage: smtpmon read [options] FILE...\n"
    "       smtpmon run -i IFACE [-i IFACE...] [options]\n"
    "\n"
    "Options for both:\n"
    "  --ports LIST          monitored server ports (default 25,587)\n"
    "  --format json|text|journal\n"
    "                        output format (default json); journal: native\n"
    "                        journald entries, SMTPMON_* fields, never smtp_data\n"
    "  --events LIST         events to emit, comma-separated, or 'all' (default all)\n"
    "  --data                emit smtp_data (message lines; off by default)\n"
    "  --keep-credentials    do not redact AUTH payloads\n"
    "  --max-line BYTES      longest SMTP line kept (default 16384)\n"
    "  --max-conns N         connections tracked at once (default 65536)\n"
    "  --max-conn-buffer B   out-of-order bytes per direction (default 262144)\n"
    "  --max-buffer B        out-of-order bytes in all (default 268435456)\n"
    "  --idle-timeout SEC    end idle connections after SEC seconds (default 300)\n"
    "Options for run:\n"
    "  -i, --interface IFACE attach to IFACE (repeatable)\n"
    "  --ingress tc|xdp      ingress hook (default tc)\n"
    "  --ring-size BYTES     BPF ring buffer size, power of two (default 33554432)\n"
    "  -v, --verbose         libbpf messages and the verifier log\n"
    "  --control PATH|none   control socket for smtpmonctl\n"
    "                        (default " CONTROL_DEFAULT_PATH ")\n"
    "  -q                    no statistics line on stderr\n";

enum opt_id {
	OPT_PORTS = 256,
	OPT_FORMAT,
	OPT_EVENTS,
	OPT_DATA,
	OPT_KEEP_CREDS,
	OPT_MAX_LINE,
	OPT_MAX_CONNS,
	OPT_MAX_CONN_BUFFER,
	OPT_MAX_BUFFER,
	OPT_IDLE_TIMEOUT,
	OPT_INGRESS,
	OPT_RING_SIZE,
	OPT_CONTROL,
};

static const struct option long_opts[] = {
    {"ports", required_argument, NULL, OPT_PORTS},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"data", no_argument, NULL, OPT_DATA},
    {"keep-credentials", no_argument, NULL, OPT_KEEP_CREDS},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"max-conn-buffer", required_argument, NULL, OPT_MAX_CONN_BUFFER},
    {"max-buffer", required_argument, NULL, OPT_MAX_BUFFER},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"interface", required_argument, NULL, 'i'},
    {"ingress", required_argument, NULL, OPT_INGRESS},
    {"ring-size", required_argument, NULL, OPT_RING_SIZE},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "smtpmon: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

/* Strict unsigned parse: the whole string, in [min, max]. */
static bool parse_size(const char *s, unsigned long long min, unsigned long long max,
		       unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void print_read_stats(const struct decode_stats *ds, const struct pipeline_stats *ps)
{
	fprintf(stderr,
		"smtpmon: frames %llu, tcp %llu, fragments skipped %llu, malformed %llu, "
		"unsupported %llu, truncated %llu; connections %llu (evicted %llu), "
		"gaps %llu (%llu bytes)\n",
		(unsigned long long)ds->frames, (unsigned long long)ds->tcp,
		(unsigned long long)ds->fragments, (unsigned long long)ds->malformed,
		(unsigned long long)ds->unsupported, (unsigned long long)ds->truncated,
		(unsigned long long)ps->conns_total, (unsigned long long)ps->conns_evicted,
		(unsigned long long)ps->gaps, (unsigned long long)ps->gap_bytes);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct capture_opts cap = {
	    .ingress = INGRESS_TC,
	    .ring_size = 32u << 20, /* ~25 ms of a 10 Gbit/s burst; see make bench */
	    .control_path = CONTROL_DEFAULT_PATH,
	};
	const char *format = "json";
	bool quiet_stats = false;
	unsigned long long v;
	int opt, rc = EXIT_OK;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "read") && strcmp(mode, "run"))
		return usage_error("unknown command '%s'", mode);

	config_defaults(&cfg);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "i:vhq", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PORTS:
			if (!config_parse_ports(&cfg, optarg))
				return usage_error("bad port list '%s'", optarg);
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text") &&
			    strcmp(optarg, "journal"))
				return usage_error("unknown format '%s'", optarg);
			format = optarg;
			break;
		case OPT_EVENTS:
			if (!event_mask_parse(optarg, &cfg.events_mask))
				return usage_error("bad event list '%s'", optarg);
			break;
		case OPT_DATA:
			cfg.emit_data = true;
			break;
		case OPT_KEEP_CREDS:
			cfg.keep_credentials = true;
			break;
		case OPT_MAX_LINE:
			if (!parse_size(optarg, 512, 1u << 24, &v))
				return usage_error("--max-line: want 512..16777216, got '%s'",
						   optarg);
			cfg.max_line = v;
			break;
		case OPT_MAX_CONNS:
			if (!parse_size(optarg, 1, 1u << 24, &v))
				return usage_error("--max-conns: want 1..16777216, got '%s'",
						   optarg);
			cfg.max_conns = v;
			break;
		case OPT_MAX_CONN_BUFFER:
			if (!parse_size(optarg, 0, 1ull << 32, &v))
				return usage_error("--max-conn-buffer: bad size '%s'", optarg);
			cfg.max_conn_buffer = v;
			break;
		case OPT_MAX_BUFFER:
			if (!parse_size(optarg, 0, 1ull << 40, &v))
				return usage_error("--max-buffer: bad size '%s'", optarg);
			cfg.max_total_buffer = v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (!parse_size(optarg, 1, 86400 * 7, &v))
				return usage_error(
				    "--idle-timeout: want 1..604800 seconds, got '%s'", optarg);
			cfg.idle_timeout_ns = v * 1000000000ull;
			break;
		case 'i':
			if (cap.nifaces == CAPTURE_MAX_IFACES)
				return usage_error("too many interfaces (at %s)", optarg);
			cap.ifaces[cap.nifaces++] = optarg;
			break;
		case OPT_INGRESS:
			if (!strcmp(optarg, "tc"))
				cap.ingress = INGRESS_TC;
			else if (!strcmp(optarg, "xdp"))
				cap.ingress = INGRESS_XDP;
			else
				return usage_error("--ingress: want tc or xdp, got '%s'", optarg);
			break;
		case OPT_RING_SIZE:
			if (!parse_size(optarg, 4096, 1ull << 30, &v) || (v & (v - 1)))
				return usage_error(
				    "--ring-size: want a power of two >= 4096, got '%s'", optarg);
			cap.ring_size = v;
			break;
		case OPT_CONTROL:
			cap.control_path = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'v':
			cap.verbose = true;
			break;
		case 'q':
			quiet_stats = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!cfg.emit_data)
		cfg.events_mask &= ~EV_MASK(EV_SMTP_DATA);

	struct sink *sink = !strcmp(format, "json")   ? sink_json_new(stdout)
			    : !strcmp(format, "text") ? sink_text_new(stdout)
						      : sink_journal_new();
	struct pipeline *p = sink ? pipeline_new(&cfg, sink) : NULL;
	if (!p) {
		fprintf(stderr, "smtpmon: out of memory\n");
		return EXIT_RUNTIME;
	}

	if (!strcmp(mode, "read")) {
		struct decode_stats ds = {0};
		if (optind >= argc)
			rc = usage_error("%s", "read: no input file");
		for (int i = optind; i < argc && rc == EXIT_OK; i++)
			if (pcap_source_read(argv[i], p, &ds) < 0)
				rc = EXIT_USAGE;
		pipeline_finish(p);
		if (!quiet_stats && rc == EXIT_OK)
			print_read_stats(&ds, pipeline_stats(p));
	} else {
		if (cap.nifaces == 0 || optind < argc) {
			rc = usage_error("%s", "run: want -i IFACE and no file arguments");
		} else {
			struct sigaction sa = {.sa_handler = on_signal};
			/* The default socket lives in systemd's RuntimeDirectory; create
			 * it when run by hand. */
			if (cap.control_path && !strcmp(cap.control_path, CONTROL_DEFAULT_PATH))
				mkdir(CONTROL_DEFAULT_DIR, 0750); /* bind reports failures */
			sigaction(SIGINT, &sa, NULL);
			sigaction(SIGTERM, &sa, NULL);
			rc = capture_run(&cap, &cfg, p, &stop_requested) ? EXIT_RUNTIME : EXIT_OK;
		}
		pipeline_finish(p);
	}
	sink->flush(sink);
	pipeline_free(p);
	sink->destroy(sink);
	return rc;
}
