/* out_common.c - helpers shared by the output sinks (see out_common.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "out_common.h"

const char *event_name(enum event_type type)
{
	return (unsigned)type < EV_TYPE_MAX ? event_names[type] : "unknown";
}

const char *conn_end_name(enum conn_end end)
{
	return (unsigned)end <= CONN_END_INPUT ? conn_end_names[end] : "unknown";
}

bool family_is_ipv6(uint8_t family)
{
	return family == 6 || family == AF_INET6;
}

void format_addr(uint8_t family, const uint8_t addr[16], char out[INET6_ADDRSTRLEN])
{
	int af = family_is_ipv6(family) ? AF_INET6 : AF_INET;

	/* cannot fail: known family, buffer of the maximal size */
	if (!inet_ntop(af, addr, out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
}

void report_write_error(bool *reported)
{
	if (*reported)
		return;
	*reported = true;
	fprintf(stderr, "smtpmon: writing events: %s\n", strerror(errno));
}
