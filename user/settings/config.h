// SPDX-License-Identifier: GPL-2.0-only
/*
 * config.h - settings shared by the pipeline stages, filled from the command
 * line in main.c. Every limit that bounds memory lives here.
 */
#ifndef SMTPMON_CONFIG_H
#define SMTPMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_PORTS 64

struct config {
	uint16_t ports[CONFIG_MAX_PORTS]; /* monitored (server) ports */
	size_t nports;
	/* Those of them where TLS starts with the connection (465): their wire
	 * bytes are never parsed as SMTP, their lines come from the TLS
	 * library's plaintext only. */
	uint16_t implicit_tls_ports[CONFIG_MAX_PORTS];
	size_t nimplicit_tls_ports;
	unsigned events_mask;	 /* EV_MASK() bits of the events to emit */
	bool emit_data;		 /* smtp_data events (off by default: privacy) */
	bool keep_credentials;	 /* otherwise AUTH payloads become "[redacted]" */
	size_t max_line;	 /* longest SMTP line kept; longer ones are cut */
	size_t max_conns;	 /* connections tracked at once */
	size_t max_conn_buffer;	 /* out-of-order bytes buffered per direction */
	size_t max_total_buffer; /* out-of-order bytes buffered in all */
	uint64_t idle_timeout_ns;
	bool files;	      /* MIME parsing and file events (user/mime/) */
	bool message_files;   /* and a file of each whole message (Zeek's
			       * SMTP::enable_rfc822_msg_file_analysis) */
	unsigned file_hashes; /* FILE_HASH_* bits computed for each file */
};

/* Digests of a file's content ([files] hashes, --file-hashes). */
enum file_hash {
	FILE_HASH_MD5 = 1u << 0,
	FILE_HASH_SHA1 = 1u << 1,
	FILE_HASH_SHA256 = 1u << 2,
};

void config_defaults(struct config *cfg);
/* "25,587" -> ports; false (and the list untouched) on a malformed list. */
bool config_parse_ports(struct config *cfg, const char *list);
bool config_parse_implicit_tls_ports(struct config *cfg, const char *list);
/* "md5,sha1,sha256" (any of them, or "none") -> cfg->file_hashes; false on
 * an unknown name (cfg untouched). */
bool config_parse_file_hashes(struct config *cfg, const char *list);
bool config_is_port(const struct config *cfg, uint16_t port);
bool config_is_implicit_tls_port(const struct config *cfg, uint16_t port);
/* The monitored ports as the BPF programs' bitmap (bit port & 7 of byte
 * port >> 3). */
void config_port_bits(const struct config *cfg, uint8_t bits[65536 / 8]);

#endif
