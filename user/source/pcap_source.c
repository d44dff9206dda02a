// SPDX-License-Identifier: GPL-2.0-only
/*
 * pcap_source.c - pcap/pcapng files -> decode -> pipeline (contract in
 * pcap_source.h).
 *
 * Timestamps are read at nanosecond precision, whatever the file holds, and
 * the pipeline's clock follows the capture's (pipeline_tick once per second
 * of capture time), so idle timeouts behave offline as they would live.
 * Nothing is allocated per packet.
 */
#include <errno.h>
#include <stdint.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "source/ipfrag.h"
#include "source/pcap_source.h"

#define NSEC_PER_SEC 1000000000ull
/* IP reassembly limits (docs/reassembly.md, "IP fragments"): Linux's
 * defaults (ipfrag_time 30 s, ipfrag_high_thresh 4 MB). */
#define FRAG_TIMEOUT_NS	   (30 * NSEC_PER_SEC)
#define FRAG_MAX_BYTES	   (4u << 20)
#define FRAG_MAX_DATAGRAMS 1024u

/* A record's time in nanoseconds since the epoch. Classic pcap stores the
 * seconds in an unsigned 32-bit field (up to 2106-02-07), which libpcap 1.10
 * reads into a signed one: 0xfffffff0 s comes back as -16 s. pcapng's 64-bit
 * timestamps never give negative seconds, so a negative value is that field
 * and is taken modulo 2^32. The fraction (nanoseconds, as opened) is clamped
 * to a second; beyond year 2554 the time saturates. */
static uint64_t record_time_ns(const struct timeval *ts)
{
	uint64_t sec = ts->tv_sec < 0 ? (uint32_t)ts->tv_sec : (uint64_t)ts->tv_sec;
	uint64_t frac = ts->tv_usec < 0 ? 0 : (uint64_t)ts->tv_usec;

	if (frac >= NSEC_PER_SEC)
		frac = NSEC_PER_SEC - 1;
	if (sec >= UINT64_MAX / NSEC_PER_SEC)
		return UINT64_MAX;
	return sec * NSEC_PER_SEC + frac;
}

/* libpcap's own messages for these cases are misleading ("truncated dump
 * file" for an empty file) or repeat the path, so the file is opened here. */
static pcap_t *open_capture(const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct stat st;
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;

	if (!fp) {
		fprintf(stderr, "smtpmon: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	/* 1 MB reads instead of stdio's 4 KB: a system call per 4 KB was a
	 * tenth of the time of a big capture. Should it fail, stdio's default
	 * buffer serves just as correctly. */
	(void)setvbuf(fp, NULL, _IOFBF, 1 << 20);
	const char *reason = NULL;
	if (fstat(fileno(fp), &st))
		reason = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		reason = strerror(EISDIR);
	else if (S_ISREG(st.st_mode) && st.st_size == 0)
		reason = "empty file, not a pcap";
	pcap_t *pc =
	    reason
		? NULL
		: pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "smtpmon: %s: %s\n", path, reason ? reason : errbuf);
		/* pcap_fopen_offline leaves the stream open when it fails. */
		fclose(fp);
	}
	return pc;
}

/* A fragment: a datagram it completes goes on as a segment; overlapping
 * copies that differ are the weird fragment_inconsistency (Zeek's name) on
 * the datagram's connection, when its ports were seen and it has one. */
static void fragment(struct pipeline *p, struct ipfrag *frags, struct segment *seg,
		     const struct ip_fragment *f)
{
	const uint8_t *packet;
	size_t len;
	struct ipfrag_note note;
	enum ipfrag_verdict v = ipfrag_add(frags, seg->ts_ns, f, &packet, &len, &note);

	if (note.inconsistent && note.ports_known && f->proto == 6) {
		struct segment key = {.ts_ns = seg->ts_ns, .family = f->family};
		char addl[48];
		int n = snprintf(addl, sizeof(addl), "id=%u offset=%u %s", f->id, f->offset,
				 v == IPFRAG_DISCARDED ? "datagram discarded" : "first copy kept");

		memcpy(key.saddr, f->saddr, sizeof(key.saddr));
		memcpy(key.daddr, f->daddr, sizeof(key.daddr));
		key.sport = note.sport;
		key.dport = note.dport;
		pipeline_weird(p, &key, "fragment_inconsistency",
			       (struct bytes){(const uint8_t *)addl, (size_t)n});
	}
	if (v == IPFRAG_COMPLETE && decode_ip_packet(packet, len, seg) == DECODE_OK)
		pipeline_segment(p, seg);
}

void pcap_source_frame(struct pipeline *p, struct ipfrag *frags, int dlt, const uint8_t *frame,
		       size_t caplen, size_t wirelen, uint64_t ts_ns, struct decode_stats *stats)
{
	struct segment seg = {.ts_ns = ts_ns};
	struct ip_fragment frag;

	switch (decode_frame(dlt, frame, caplen, wirelen, &seg, &frag, stats)) {
	case DECODE_OK:
		pipeline_segment(p, &seg);
		break;
	case DECODE_FRAGMENT:
		fragment(p, frags, &seg, &frag);
		break;
	default:
		break;
	}
}

static void add_frag_stats(struct decode_stats *stats, const struct ipfrag *frags)
{
	const struct ipfrag_stats *fs = ipfrag_stats(frags);

	stats->frag_datagrams += fs->datagrams;
	stats->frag_overlaps += fs->overlaps;
	stats->frag_inconsistent += fs->inconsistent;
	stats->frag_dropped += fs->timeouts + fs->evicted + fs->invalid;
}

int pcap_source_read(const char *path, struct pipeline *p, struct decode_stats *stats,
		     pcap_source_stop_fn stop, void *stop_ctx)
{
	pcap_t *pc = open_capture(path);
	if (!pc)
		return -1;

	int dlt = pcap_datalink(pc);
	if (!decode_link_supported(dlt)) {
		const char *name = pcap_datalink_val_to_name(dlt);
		fprintf(stderr, "smtpmon: %s: unsupported link type %s (%d)\n", path,
			name ? name : "unknown", dlt);
		pcap_close(pc);
		return -1;
	}

	struct ipfrag *frags = ipfrag_new(FRAG_MAX_BYTES, FRAG_MAX_DATAGRAMS, FRAG_TIMEOUT_NS);
	if (!frags) {
		fprintf(stderr, "smtpmon: out of memory\n");
		pcap_close(pc);
		return -1;
	}
	struct pcap_pkthdr *hdr;
	const u_char *frame;
	unsigned long long packets = 0;
	uint64_t last_tick_ns = 0;
	bool ticked = false;
	int r;
	while ((r = pcap_next_ex(pc, &hdr, &frame)) == 1) {
		struct segment seg;

		packets++;
		seg.ts_ns = record_time_ns(&hdr->ts);
		/* Once a second of capture time, and at once when that time
		 * went back (the idle clock decides what the step means). */
		if (!ticked || seg.ts_ns < last_tick_ns ||
		    seg.ts_ns - last_tick_ns >= NSEC_PER_SEC) {
			pipeline_tick(p, seg.ts_ns, 0);
			last_tick_ns = seg.ts_ns;
			ticked = true;
		}
		pcap_source_frame(p, frags, dlt, frame, hdr->caplen, hdr->len, seg.ts_ns, stats);
		if (stop && stop(stop_ctx))
			break;
	}
	/* Datagrams still incomplete are dropped with the table. */
	stats->frag_dropped += ipfrag_held_datagrams(frags);
	add_frag_stats(stats, frags);
	ipfrag_free(frags);
	if (r == 1) {
		pcap_close(pc);
		return 1;
	}

	/* A damaged record ends the file, but what came before it stands: the
	 * file was read, so this is not an error for the caller. */
	if (r == PCAP_ERROR) {
		const char *err = pcap_geterr(pc);
		if (strstr(err, "truncated"))
			fprintf(stderr,
				"smtpmon: %s: truncated record after %llu packets, earlier packets "
				"kept\n",
				path, packets);
		else
			fprintf(stderr,
				"smtpmon: %s: damaged record after %llu packets (%s), earlier "
				"packets kept\n",
				path, packets, err);
	}
	pcap_close(pc);
	return 0;
}
