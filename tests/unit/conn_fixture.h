// SPDX-License-Identifier: GPL-2.0-only
/*
 * conn_fixture.h - the IPv4 connection the output tests write events for
 * (10.0.0.1:40512 -> 10.0.0.2:25), shared so that their expected texts agree
 * (tools/bench-json.c times its events on it too).
 */
#ifndef SMTPMON_TEST_CONN_FIXTURE_H
#define SMTPMON_TEST_CONN_FIXTURE_H

#include "output/event.h"

static const struct conn_id id4 = {
    .uid = "CHhAvVGS1DHFjwGM9",
    .family = 4,
    .orig_h = {10, 0, 0, 1},
    .resp_h = {10, 0, 0, 2},
    .orig_p = 40512,
    .resp_p = 25,
};

#endif
