/*
 * pcap_source.h - read pcap/pcapng files (libpcap) into the pipeline.
 *
 * Errors: a missing, unreadable or non-pcap file is reported on stderr in one
 * line ("smtpmon: FILE: reason") and pcap_source_read() returns -1 (main exits
 * 2). A truncated last record is reported and everything before it is kept.
 */
#ifndef SMTPMON_PCAP_SOURCE_H
#define SMTPMON_PCAP_SOURCE_H

#include "decode.h"
#include "pipeline.h"

/* 0 on success (possibly with a truncation warning), -1 if the file could
 * not be read at all. */
int pcap_source_read(const char *path, struct pipeline *p, struct decode_stats *stats);

#endif
