// SPDX-License-Identifier: GPL-2.0-only
/* community_id.c - Community ID v1 (contract in community_id.h). */
#include <string.h>

#include <openssl/evp.h>

#include "records/community_id.h"

bool community_id_v1(uint16_t seed, uint8_t family, const uint8_t saddr[16], uint16_t sport,
		     const uint8_t daddr[16], uint16_t dport, uint8_t proto,
		     char out[COMMUNITY_ID_SIZE])
{
	size_t alen = family == 6 ? 16 : 4;
	const uint8_t *a1 = saddr, *a2 = daddr;
	uint16_t p1 = sport, p2 = dport;
	uint8_t buf[2 + 16 + 16 + 2 + 4], digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	size_t n = 0;
	int cmp = memcmp(saddr, daddr, alen);

	out[0] = '\0';
	/* the lower endpoint first: the id does not depend on the direction */
	if (cmp > 0 || (cmp == 0 && sport > dport)) {
		a1 = daddr;
		a2 = saddr;
		p1 = dport;
		p2 = sport;
	}
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	memcpy(buf + n, a1, alen);
	n += alen;
	memcpy(buf + n, a2, alen);
	n += alen;
	buf[n++] = proto;
	buf[n++] = 0;
	buf[n++] = (uint8_t)(p1 >> 8);
	buf[n++] = (uint8_t)p1;
	buf[n++] = (uint8_t)(p2 >> 8);
	buf[n++] = (uint8_t)p2;
	if (!EVP_Digest(buf, n, digest, &dlen, EVP_sha1(), NULL) || dlen != 20)
		return false;
	memcpy(out, "1:", 2);
	/* 20 bytes give 28 characters with the padding, NUL included after */
	if (EVP_EncodeBlock((unsigned char *)out + 2, digest, (int)dlen) != 28) {
		out[0] = '\0';
		return false;
	}
	return true;
}
