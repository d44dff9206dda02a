// SPDX-License-Identifier: GPL-2.0-only
/*
 * smtpmonctl - ask a running `smtpmon run` through its control socket
 * (protocol in control.h and report.h).
 *
 *   smtpmonctl [-s SOCKET] stats [--json] [--watch SECONDS]
 *   smtpmonctl [-s SOCKET] sessions [--json] [--watch SECONDS]
 *   smtpmonctl [-s SOCKET] metrics
 *   smtpmonctl [-s SOCKET] ping
 *   smtpmonctl --version
 *
 * The daemon renders the tables and the exposition; smtpmonctl checks the
 * protocol version, prints, and turns every failure into its own exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service/control.h"
#include "service/watch_rates.h"
#include "settings/exit_status.h"
#include "settings/version.h"

#define REPLY_MAX  (16u << 20)
#define TIMEOUT_MS (CONTROL_ANSWER_TIMEOUT_MS + 2000)

static const char usage[] =
    "usage: smtpmonctl [-s SOCKET] stats [--json] [--watch SECONDS]\n"
    "       smtpmonctl [-s SOCKET] sessions [--json] [--watch SECONDS]\n"
    "       smtpmonctl [-s SOCKET] metrics\n"
    "       smtpmonctl [-s SOCKET] ping\n"
    "       smtpmonctl --version\n"
    "\n"
    "  stats      counters: kernel, ring, connections, sessions by state,\n"
    "             commands, replies, STARTTLS, gaps, outputs, memory, uptime\n"
    "  sessions   open connections: addresses, state, HELO, sender,\n"
    "             recipients with their reply codes, bytes, age, TLS\n"
    "  metrics    the counters in Prometheus text format\n"
    "  ping       is smtpmon there? its version and uptime (smtpmonctl's own:\n"
    "             --version)\n"
    "\n"
    "  -s, --socket PATH      control socket (default " CONTROL_DEFAULT_PATH ")\n"
    "  -j, --json             JSON instead of a table\n"
    "  -w, --watch SECONDS    ask again every SECONDS until interrupted\n"
    "  -h, --help             this text\n"
    "  --version              print smtpmonctl's version and exit\n"
    "\n"
    "Exit status: 0 ok, 1 smtpmon answered with an error, 2 usage, 3 smtpmon not\n"
    "running, 4 permission denied, 5 protocol mismatch.\n";

struct reply {
	char *buf;
	size_t len;
};

/* Permission denied: what keeps the caller out, and the remedy. The socket
 * is root:GROUP 0660 in a directory root:GROUP 0750 when smtpmon found its
 * control group at start; root's alone (0600, in a directory of root's
 * group) when the group did not exist. The socket's own mode and group say
 * which; when the directory keeps us from seeing the socket, its group. */
static int permission_error(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct group *gr;
	struct stat st;
	bool seen = true, root_only = false;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!stat(path, &st))
		root_only = st.st_gid == 0 || !(st.st_mode & S_IWGRP);
	else if (!stat(dirname(dir), &st))
		root_only = st.st_gid == 0;
	else
		seen = false;
	if (root_only) {
		fprintf(stderr,
			"smtpmonctl: %s: permission denied: only root may use it (smtpmon gives "
			"it to its control group, default " CONTROL_DEFAULT_GROUP
			", only if that group exists when it starts): run as root, or create "
			"the group (systemd-sysusers; make install does) and restart smtpmon\n",
			path);
	} else if (!seen) {
		fprintf(stderr, "smtpmonctl: %s: permission denied: run as root\n", path);
	} else if ((gr = getgrgid(st.st_gid))) {
		fprintf(stderr,
			"smtpmonctl: %s: permission denied: run as root or join group %s (then "
			"log in again)\n",
			path, gr->gr_name);
	} else {
		fprintf(stderr,
			"smtpmonctl: %s: permission denied: run as root or join the socket's "
			"group (gid %u, which has no name here)\n",
			path, (unsigned)st.st_gid);
	}
	return SMTPMONCTL_EXIT_PERMISSION;
}

static int connect_error(const char *path, int err)
{
	if (err == EACCES || err == EPERM)
		return permission_error(path);
	fprintf(stderr, "smtpmonctl: %s: %s: smtpmon is not running (or uses another socket: -s)\n",
		path, strerror(err));
	return SMTPMONCTL_EXIT_NOT_RUNNING;
}

/* Sends one request line; the answer line, NUL-terminated, in *r. */
static int ask(const char *path, const char *request, struct reply *r)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t cap = 1 << 16;
	int fd, rc = SMTPMONCTL_EXIT_NOT_RUNNING;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "smtpmonctl: %s: path too long\n", path);
		return SMTPMONCTL_EXIT_USAGE;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "smtpmonctl: socket: %s\n", strerror(errno));
		return SMTPMONCTL_EXIT_NOT_RUNNING;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = connect_error(path, errno);
		close(fd);
		return rc;
	}
	r->len = 0;
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "smtpmonctl: send to %s: %s\n", path, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (r->len + 1 >= cap) {
			char *bigger = cap < REPLY_MAX ? realloc(r->buf, cap * 2) : NULL;
			if (!bigger) {
				fprintf(stderr, "smtpmonctl: %s: answer longer than %u bytes\n",
					path, REPLY_MAX);
				goto out;
			}
			r->buf = bigger;
			cap *= 2;
		} else if (!r->buf && !(r->buf = malloc(cap))) {
			fprintf(stderr, "smtpmonctl: out of memory\n");
			goto out;
		}
		if (poll(&pfd, 1, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "smtpmonctl: %s: no answer within %d ms\n", path,
				TIMEOUT_MS);
			goto out;
		}
		ssize_t n = recv(fd, r->buf + r->len, cap - 1 - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->len += (size_t)n;
		if (r->buf[r->len - 1] == '\n')
			break;
	}
	r->buf[r->len] = '\0';
	if (r->len && r->buf[r->len - 1] == '\n')
		rc = SMTPMONCTL_EXIT_OK;
	else
		fprintf(stderr, "smtpmonctl: %s: answer cut short\n", path);
out:
	close(fd);
	return rc;
}

/* Decodes the JSON string starting after its opening quote at s; writes
 * the text to out. The daemon's texts use \n, \", \\ and \u00XX only. */
static void print_json_string(const char *s, FILE *out)
{
	for (; *s && *s != '"'; s++) {
		if (*s != '\\') {
			fputc(*s, out);
			continue;
		}
		switch (*++s) {
		case 'n':
			fputc('\n', out);
			break;
		case 't':
			fputc('\t', out);
			break;
		case 'u': {
			unsigned v;
			if (sscanf(s + 1, "%4x", &v) == 1 && v < 0x80) {
				fputc((int)v, out);
				s += 4;
			}
			break;
		}
		case '\0':
			return;
		default:
			fputc(*s, out);
		}
	}
}

/* Checks the envelope {"version":N,"ok":...} and prints the payload: a
 * text to text_out, data (JSON) to stdout. */
static int print_answer(const char *path, const struct reply *r, bool json, FILE *text_out)
{
	static const char ok[] = ",\"ok\":true,";
	static const char failed[] = ",\"ok\":false,\"error\":\"";
	const char *p = r->buf;
	char *end;
	long version = -1;

	if (!strncmp(p, "{\"version\":", 11)) {
		version = strtol(p + 11, &end, 10);
		p = end;
	}
	if (version != CONTROL_PROTOCOL_VERSION) {
		fprintf(stderr,
			"smtpmonctl: %s: protocol mismatch: smtpmon speaks %s%ld, this smtpmonctl "
			"speaks version %d; use the smtpmonctl of the running smtpmon's release\n",
			path, version < 0 ? "an older protocol than " : "version ",
			version < 0 ? 1L : version, CONTROL_PROTOCOL_VERSION);
		return SMTPMONCTL_EXIT_PROTOCOL;
	}
	if (!strncmp(p, failed, sizeof(failed) - 1)) {
		fprintf(stderr, "smtpmonctl: smtpmon: ");
		print_json_string(p + sizeof(failed) - 1, stderr);
		fputc('\n', stderr);
		return SMTPMONCTL_EXIT_ANSWER;
	}
	if (strncmp(p, ok, sizeof(ok) - 1)) {
		fprintf(stderr, "smtpmonctl: %s: malformed answer\n", path);
		return SMTPMONCTL_EXIT_PROTOCOL;
	}
	p += sizeof(ok) - 1;
	if (!strncmp(p, "\"text\":\"", 8) && !json) {
		print_json_string(p + 8, text_out);
	} else if (!strncmp(p, "\"data\":", 7)) {
		/* The data object runs to the envelope's closing brace. */
		size_t len = strlen(p + 7);
		printf("%.*s\n", (int)(len >= 2 ? len - 2 : 0), p + 7);
	} else {
		fprintf(stderr, "smtpmonctl: %s: malformed answer\n", path);
		return SMTPMONCTL_EXIT_PROTOCOL;
	}
	return fflush(stdout) ? SMTPMONCTL_EXIT_ANSWER : SMTPMONCTL_EXIT_OK;
}

static void watch_header(const char *cmd, unsigned seconds, bool rates)
{
	char when[32];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%F %T", localtime(&now));
	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	printf("smtpmonctl %s every %us, %s%s\n\n", cmd, seconds, when,
	       rates ? "; counters with their rate per second since the last" : "");
}

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Asks for the exposition once: which families are counters. */
static int learn_counters(const char *path, struct watch_rates *wr)
{
	char request[96];
	struct reply r = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	snprintf(request, sizeof(request),
		 "{\"version\":%d,\"cmd\":\"metrics\",\"format\":\"text\"}\n",
		 CONTROL_PROTOCOL_VERSION);
	rc = ask(path, request, &r);
	if (rc == SMTPMONCTL_EXIT_OK) {
		if (!(mem = open_memstream(&text, &len))) {
			fprintf(stderr, "smtpmonctl: open_memstream: %s\n", strerror(errno));
			rc = SMTPMONCTL_EXIT_ANSWER;
		} else {
			rc = print_answer(path, &r, false, mem);
			if (fclose(mem) ||
			    (rc == SMTPMONCTL_EXIT_OK && !watch_rates_counters(wr, text))) {
				fprintf(stderr, "smtpmonctl: out of memory\n");
				rc = SMTPMONCTL_EXIT_ANSWER;
			}
		}
	}
	free(text);
	free(r.buf);
	return rc;
}

/* One round of `stats --watch`: the table with its rates. */
static int print_rates(const char *path, const struct reply *r, struct watch_rates *wr)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int rc;

	if (!mem) {
		fprintf(stderr, "smtpmonctl: open_memstream: %s\n", strerror(errno));
		return SMTPMONCTL_EXIT_ANSWER;
	}
	rc = print_answer(path, r, false, mem);
	if (fclose(mem)) {
		fprintf(stderr, "smtpmonctl: out of memory\n");
		rc = SMTPMONCTL_EXIT_ANSWER;
	}
	if (rc == SMTPMONCTL_EXIT_OK && !watch_rates_print(wr, text, monotonic_s(), stdout)) {
		fprintf(stderr, "smtpmonctl: out of memory\n");
		rc = SMTPMONCTL_EXIT_ANSWER;
	}
	free(text);
	if (rc == SMTPMONCTL_EXIT_OK && fflush(stdout))
		rc = SMTPMONCTL_EXIT_ANSWER;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {"watch", required_argument, NULL, 'w'},  {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
	const char *path = CONTROL_DEFAULT_PATH, *cmd;
	struct reply r = {0};
	unsigned watch = 0;
	bool json = false;
	char request[128], *end;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "s:jw:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			watch = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !*optarg || watch == 0 || watch > 86400) {
				fprintf(stderr, "smtpmonctl: --watch wants 1 to 86400 seconds\n");
				return SMTPMONCTL_EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return SMTPMONCTL_EXIT_OK;
		case 'V':
			printf("smtpmon %s\n", smtpmon_version);
			return SMTPMONCTL_EXIT_OK;
		default:
			fputs(usage, stderr);
			return SMTPMONCTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return SMTPMONCTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	bool tabular = !strcmp(cmd, "stats") || !strcmp(cmd, "sessions");
	if (!tabular && strcmp(cmd, "metrics") && strcmp(cmd, "ping")) {
		fprintf(stderr, "smtpmonctl: unknown command '%s'\n%s", cmd, usage);
		return SMTPMONCTL_EXIT_USAGE;
	}
	if (!tabular && (json || watch)) {
		fprintf(stderr, "smtpmonctl: --json and --watch go with stats and sessions\n");
		return SMTPMONCTL_EXIT_USAGE;
	}
	snprintf(request, sizeof(request), "{\"version\":%d,\"cmd\":\"%s\",\"format\":\"%s\"}\n",
		 CONTROL_PROTOCOL_VERSION, cmd, tabular && !json ? "text" : "json");
	/* stats --watch as a table: the counters' rates too */
	struct watch_rates *wr = NULL;
	if (watch && !json && !strcmp(cmd, "stats")) {
		if (!(wr = watch_rates_new()))
			return SMTPMONCTL_EXIT_ANSWER;
		rc = learn_counters(path, wr);
		if (rc != SMTPMONCTL_EXIT_OK) {
			watch_rates_free(wr);
			return rc;
		}
	}
	for (;;) {
		rc = ask(path, request, &r);
		if (rc == SMTPMONCTL_EXIT_OK) {
			if (watch && !json)
				watch_header(cmd, watch, wr != NULL);
			rc = wr ? print_rates(path, &r, wr) : print_answer(path, &r, json, stdout);
		}
		if (rc != SMTPMONCTL_EXIT_OK || !watch)
			break;
		sleep(watch);
	}
	watch_rates_free(wr);
	free(r.buf);
	return rc;
}
