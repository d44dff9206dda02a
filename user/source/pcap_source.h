// SPDX-License-Identifier: GPL-2.0-only
/*
 * pcap_source.h - read pcap/pcapng files (libpcap) into the pipeline.
 *
 * Errors: a missing, unreadable or non-pcap file is reported on stderr in one
 * line ("smtpmon: FILE: reason") and pcap_source_read() returns -1 (main exits
 * 2). A truncated last record is reported and everything before it is kept.
 *
 * Timestamps: a classic pcap's seconds field is unsigned 32-bit (to 2106),
 * read as such; pcapng's 64-bit times are taken as they are.
 */
#ifndef SMTPMON_PCAP_SOURCE_H
#define SMTPMON_PCAP_SOURCE_H

#include <stdbool.h>

#include "source/decode.h"
#include "source/ipfrag.h"
#include "flow/pipeline.h"

/* Asked after every packet; true ends the read there (NULL: never). */
typedef bool (*pcap_source_stop_fn)(void *ctx);

/* 0 when the file was read to its end (possibly with a truncation warning),
 * 1 when stop() ended the read early, -1 if the file could not be read at
 * all. */
int pcap_source_read(const char *path, struct pipeline *p, struct decode_stats *stats,
		     pcap_source_stop_fn stop, void *stop_ctx);

/* One captured frame seen at ts_ns: a TCP segment goes to the pipeline, an IP
 * fragment to frags, and a datagram it completes to the pipeline. Where
 * overlapping fragment bytes differ, the weird fragment_inconsistency goes to
 * the datagram's connection. */
void pcap_source_frame(struct pipeline *p, struct ipfrag *frags, int dlt, const uint8_t *frame,
		       size_t caplen, size_t wirelen, uint64_t ts_ns, struct decode_stats *stats);

#endif
