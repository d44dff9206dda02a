// SPDX-License-Identifier: GPL-2.0-only
/*
 * community_id.h - Community ID v1 of a TCP connection, the flow hash Zeek
 * (community-id plugin), Suricata and Wireshark log, so that a SIEM can join
 * smtpmon's records with theirs.
 *
 * Specification (corelight/community-id-spec, version 1): base64 of
 * SHA1(seed (2 bytes, network order) | saddr | daddr | proto | 0 | sport | dport)
 * prefixed by "1:", where the (address, port) pair that sorts lower comes
 * first, so both directions of a flow give the same id. SHA1 from OpenSSL's
 * libcrypto.
 */
#ifndef SMTPMON_COMMUNITY_ID_H
#define SMTPMON_COMMUNITY_ID_H

#include <stdbool.h>
#include <stdint.h>

/* "1:" + 28 base64 characters + NUL */
#define COMMUNITY_ID_SIZE 32

/* family 4 or 6 (struct segment's convention); addresses in network order
 * (IPv4 in the first 4 bytes), ports in host order; proto 6 for TCP.
 * Returns false (out = "") only if libcrypto fails. */
bool community_id_v1(uint16_t seed, uint8_t family, const uint8_t saddr[16], uint16_t sport,
		     const uint8_t daddr[16], uint16_t dport, uint8_t proto,
		     char out[COMMUNITY_ID_SIZE]);

#endif
