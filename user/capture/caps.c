// SPDX-License-Identifier: GPL-2.0-only
/* caps.c - see caps.h. */
#include <stdbool.h>
#include <sys/prctl.h>

#include "capture/caps.h"

static bool kept(const cap_value_t *keep, size_t n, cap_value_t v)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == v)
			return true;
	return false;
}

int caps_keep_only(const cap_value_t *keep, size_t n)
{
	cap_t caps = cap_init();
	int rc = -1;

	if (!caps)
		return -1;
	if (n && (cap_set_flag(caps, CAP_PERMITTED, (int)n, keep, CAP_SET) ||
		  cap_set_flag(caps, CAP_EFFECTIVE, (int)n, keep, CAP_SET)))
		goto out;
	/* The bounding set first, while CAP_SETPCAP is still there. */
	if (CAP_IS_SUPPORTED(CAP_SETPCAP) && cap_get_bound(CAP_SETPCAP) == 1) {
		cap_flag_value_t have = CAP_CLEAR;
		cap_t now = cap_get_proc();
		if (now && !cap_get_flag(now, CAP_SETPCAP, CAP_EFFECTIVE, &have) && have == CAP_SET)
			for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++)
				if (!kept(keep, n, v) && cap_get_bound(v) == 1)
					cap_drop_bound(v);
		cap_free(now);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		goto out;
	cap_reset_ambient();
	rc = cap_set_proc(caps);
out:
	cap_free(caps);
	return rc;
}
