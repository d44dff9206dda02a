// SPDX-License-Identifier: GPL-2.0-only
/*
 * version.h - the release of this build: `git describe` of the tree it was
 * built from, or the VERSION file of a tarball (Makefile: VERSION), "unknown"
 * without either. Printed by --version, answered by `smtpmonctl ping` and
 * exported as smtpmon_build_info{version="..."} 1.
 */
#ifndef SMTPMON_VERSION_H
#define SMTPMON_VERSION_H

extern const char smtpmon_version[];

#endif
