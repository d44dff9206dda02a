// SPDX-License-Identifier: GPL-2.0-only
/*
 * settings.h - everything `smtpmon` is told: built-in defaults, then the
 * config file (INI, parsed by libinih; format in etc/smtpmon.conf and
 * smtpmon.conf(5)), then the command line, which overrides the file.
 *
 * A file is read only when --config names it (smtpmon.service passes
 * SETTINGS_DEFAULT_FILE): an ad-hoc `run` on a host where the service is
 * configured must not write into the service's outputs. Unknown sections
 * and keys are errors: a typo must not silently leave a default in place.
 * Every error is one line on stderr that names the file, the line and the
 * key ("smtpmon: /etc/smtpmon/smtpmon.conf:12: [capture] ports: bad port
 * list 'x'"), and settings_load() fails; the daemon uses the same call on
 * SIGHUP and keeps its settings on failure.
 */
#ifndef SMTPMON_SETTINGS_H
#define SMTPMON_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "capture/capture.h"
#include "settings/config.h"

#define SETTINGS_DEFAULT_FILE "/etc/smtpmon/smtpmon.conf" /* the service's */
#define SETTINGS_MAX_OUTPUTS  8

enum settings_mode {
	MODE_READ = 0, /* smtpmon read FILE... */
	MODE_RUN,      /* smtpmon run (the daemon) */
	MODE_HELP,     /* --help printed: exit 0 */
};

enum output_type {
	OUTPUT_JSON = 0,
	OUTPUT_TEXT,
	OUTPUT_JOURNAL,
	OUTPUT_ZEEK, /* path: a directory for smtp.log and files.log */
};

/* One output and what it selects. An empty path means stdout. */
struct output_spec {
	char name[64];
	enum output_type type;
	char path[PATH_MAX];
	unsigned events_mask;	 /* EV_MASK() bits */
	unsigned min_reply_code; /* smtp_reply only when code >= this */
};

struct settings {
	enum settings_mode mode;
	char config_file[PATH_MAX]; /* "" when none was read */
	struct config cfg;	    /* pipeline: ports, limits, privacy */
	struct capture_opts capture;
	struct output_spec outputs[SETTINGS_MAX_OUTPUTS];
	size_t noutputs;
	char control_path[108]; /* "" for none */
	char control_group[64];
	char metrics_listen[64]; /* "ADDR:PORT", "" for off */
	bool quiet;		 /* no statistics on stderr */
	int first_file;		 /* read: argv index of the first FILE */
};

extern const char *const output_type_names[]; /* "json", "text", "journal", "zeek" */

/* Parses argv (argv[1] is the command) and the config file into s. Returns
 * 0, or SMTPMON_EXIT_USAGE (exit_status.h) after printing the error (and the
 * usage for command-line errors). */
int settings_load(struct settings *s, int argc, char **argv);

#endif
