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

/* inet_ntop formats IPv4 through sprintf, which was a third of the JSON
 * sink's time per event. */
static size_t format_ipv4(const uint8_t addr[4], char *out)
{
	char *p = out;
	int i;

	for (i = 0; i < 4; i++) {
		uint8_t b = addr[i];

		if (i)
			*p++ = '.';
		if (b >= 100)
			*p++ = (char)('0' + b / 100);
		if (b >= 10)
			*p++ = (char)('0' + b / 10 % 10);
		*p++ = (char)('0' + b % 10);
	}
	*p = '\0';
	return (size_t)(p - out);
}

size_t format_addr(uint8_t family, const uint8_t addr[16], char out[INET6_ADDRSTRLEN])
{
	if (!family_is_ipv6(family))
		return format_ipv4(addr, out);
	/* cannot fail: known family, buffer of the maximal size */
	if (!inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
	return strlen(out);
}

void report_write_error(bool *reported)
{
	if (*reported)
		return;
	*reported = true;
	fprintf(stderr, "smtpmon: writing events: %s\n", strerror(errno));
}
