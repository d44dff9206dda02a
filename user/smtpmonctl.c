/*
 * smtpmonctl - query a running smtpmon through its control socket.
 *
 *   smtpmonctl [-s SOCKET] [-j] stats    counters (aligned table, or JSON with -j)
 *   smtpmonctl [-s SOCKET] ping          is the daemon there? prints its version
 *
 * Exit status: 0 OK, 1 error reply, 2 usage, 3 daemon unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define REPLY_MAX  (1 << 20)
#define TIMEOUT_MS 3000

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static const char usage[] =
    "usage: smtpmonctl [-s SOCKET] [-j] stats\n"
    "       smtpmonctl [-s SOCKET] ping\n"
    "  -s, --socket PATH  control socket (default " CONTROL_DEFAULT_PATH ")\n"
    "  -j, --json         print the reply as JSON\n";

/* Sends one request line, returns the NUL-terminated reply or NULL. */
static char *ask(const char *path, const char *request, int *exit_code)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = 0;
	char *reply;
	int fd;

	*exit_code = EXIT_UNREACHABLE;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "smtpmonctl: %s: path too long\n", path);
		return NULL;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "smtpmonctl: connect %s: %s (is smtpmon run active?)\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0 || !(reply = malloc(REPLY_MAX))) {
		fprintf(stderr, "smtpmonctl: send to %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "smtpmonctl: %s: no reply within %d ms\n", path,
				TIMEOUT_MS);
			break;
		}
		ssize_t n = recv(fd, reply + len, REPLY_MAX - 1 - len, 0);
		if (n <= 0 || (len += (size_t)n) == REPLY_MAX - 1 || memchr(reply, '\n', len)) {
			close(fd);
			reply[len] = '\0';
			*exit_code = EXIT_OK;
			return reply;
		}
	}
	close(fd);
	free(reply);
	return NULL;
}

/* The daemon's stats object is flat: "name":number pairs. Print them as an
 * aligned table; anything else is printed as it came. */
static void print_table(const char *data)
{
	const char *p = data;

	while ((p = strchr(p, '"'))) {
		const char *name = p + 1, *end = strchr(name, '"');
		if (!end || end[1] != ':')
			break;
		const char *val = end + 2;
		size_t vlen = strcspn(val, ",}");
		printf("%-32.*s %.*s\n", (int)(end - name), name, (int)vlen, val);
		p = val + vlen;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = CONTROL_DEFAULT_PATH;
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (strcmp(argv[optind], "stats") && strcmp(argv[optind], "ping"))) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	bool stats = !strcmp(argv[optind], "stats");
	char *reply = ask(path, stats ? "{\"cmd\":\"stats\"}\n" : "{\"cmd\":\"ping\"}\n", &rc);
	if (!reply)
		return rc;
	if (strncmp(reply, "{\"ok\":true", 10)) {
		fprintf(stderr, "smtpmonctl: %s", reply);
		rc = EXIT_ERROR;
	} else if (json || !stats) {
		fputs(reply, stdout);
	} else {
		const char *data = strstr(reply, "\"data\":");
		print_table(data ? data + 7 : reply);
	}
	free(reply);
	return rc;
}
