// SPDX-License-Identifier: GPL-2.0-only
/* version.c - see version.h. Alone in its object file, so that a new
 * version rebuilds this file only ($(BUILD)/version-string.h). */
#include "version-string.h"
#include "settings/version.h"

const char smtpmon_version[] = SMTPMON_VERSION;
