// SPDX-License-Identifier: GPL-2.0-only
/* config.c - defaults and parsing of struct config values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "settings/config.h"
#include "output/event.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ports[0] = 25;
	cfg->ports[1] = 465;
	cfg->ports[2] = 587;
	cfg->nports = 3;
	cfg->implicit_tls_ports[0] = 465;
	cfg->nimplicit_tls_ports = 1;
	cfg->events_mask = EV_MASK_ALL; /* smtp_data also needs emit_data */
	cfg->max_line = 16384;
	cfg->max_conns = 65536;
	/* A segment lost at 10 Gbit/s comes back after up to a receive
	 * window of later data (Linux: tcp_rmem up to 6 MB): seen in make
	 * bench, where 256 KB turned a retransmission into a gap. The total
	 * below bounds the memory whatever the traffic. */
	cfg->max_conn_buffer = 8 * 1024 * 1024;
	cfg->max_total_buffer = 256 * 1024 * 1024;
	cfg->idle_timeout_ns = 300ull * 1000000000ull;
	cfg->files = true;
	cfg->file_hashes = FILE_HASH_MD5 | FILE_HASH_SHA1; /* Zeek's hash-all-files default */
}

bool config_parse_file_hashes(struct config *cfg, const char *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"md5", FILE_HASH_MD5}, {"sha1", FILE_HASH_SHA1}, {"sha256", FILE_HASH_SHA256}};
	unsigned bits = 0;
	const char *p = list;

	if (!strcmp(list, "none")) {
		cfg->file_hashes = 0;
		return true;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return false;
		bits |= names[i].bit;
		p += n + (p[n] == ',');
	}
	if (!bits)
		return false;
	cfg->file_hashes = bits;
	return true;
}

static bool parse_port_list(const char *list, uint16_t *out, size_t *nout, bool empty_ok)
{
	uint16_t ports[CONFIG_MAX_PORTS];
	size_t n = 0;
	const char *p = list;

	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || errno || v == 0 || v > 65535 || (*end && *end != ','))
			return false;
		if (n == CONFIG_MAX_PORTS)
			return false;
		ports[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	if (n == 0 && !empty_ok)
		return false;
	memcpy(out, ports, n * sizeof(ports[0]));
	*nout = n;
	return true;
}

bool config_parse_ports(struct config *cfg, const char *list)
{
	return parse_port_list(list, cfg->ports, &cfg->nports, false);
}

bool config_parse_implicit_tls_ports(struct config *cfg, const char *list)
{
	return parse_port_list(list, cfg->implicit_tls_ports, &cfg->nimplicit_tls_ports, true);
}

static bool in_list(const uint16_t *ports, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

bool config_is_port(const struct config *cfg, uint16_t port)
{
	return in_list(cfg->ports, cfg->nports, port);
}

bool config_is_implicit_tls_port(const struct config *cfg, uint16_t port)
{
	return in_list(cfg->implicit_tls_ports, cfg->nimplicit_tls_ports, port);
}

void config_port_bits(const struct config *cfg, uint8_t bits[65536 / 8])
{
	memset(bits, 0, 65536 / 8);
	for (size_t i = 0; i < cfg->nports; i++)
		bits[cfg->ports[i] >> 3] |= (uint8_t)(1u << (cfg->ports[i] & 7));
}
