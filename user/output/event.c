// SPDX-License-Identifier: GPL-2.0-only
/* event.c - event names and the --events list parser. */
#include <string.h>

#include "output/event.h"

const char *const event_names[EV_TYPE_MAX] = {
    [EV_SMTP_REQUEST] = "smtp_request",
    [EV_SMTP_REPLY] = "smtp_reply",
    [EV_SMTP_DATA] = "smtp_data",
    [EV_SMTP_STARTTLS] = "smtp_starttls",
    [EV_SMTP_UNEXPECTED] = "smtp_unexpected",
    [EV_CONTENT_GAP] = "content_gap",
    [EV_SMTP_CONNECTION] = "smtp_connection",
    [EV_WEIRD] = "weird",
    [EV_SMTP_TRANSACTION] = "smtp_transaction",
    [EV_FILE] = "file",
};

const char *const conn_end_names[] = {
    [CONN_END_FIN] = "FIN",
    [CONN_END_RST] = "RST",
    [CONN_END_TIMEOUT] = "timeout",
    [CONN_END_EVICTED] = "eviction",
    [CONN_END_INPUT] = "end_of_input",
};

bool event_mask_parse(const char *list, unsigned *mask)
{
	unsigned m = 0;
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		int t;
		if (n == 3 && !strncmp(p, "all", 3)) {
			m |= EV_MASK_ALL;
		} else {
			for (t = 0; t < EV_TYPE_MAX; t++)
				if (strlen(event_names[t]) == n && !strncmp(p, event_names[t], n))
					break;
			if (t == EV_TYPE_MAX)
				return false;
			m |= EV_MASK(t);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!m)
		return false;
	*mask = m;
	return true;
}
