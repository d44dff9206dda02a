// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_packet.c - libFuzzer harness for the packet-to-event path:
 * decode_frame -> IP fragment reassembly -> pipeline (flow table, reassembly,
 * SMTP) -> JSON sink.
 *
 * Input format:
 *
 *   link { hdr_hi hdr_lo frame[hdr & 0x3fff] }...
 *
 *   link   index into the supported link types (modulo their number)
 *   hdr    16 bits, big endian: the low 14 bits are the frame length, the
 *          top 2 bits move the clock before the frame: 0 +1 ms, 1 +1 s,
 *          2 +90 s (beyond the 60 s idle timeout), 3 -1 s (clocks go back)
 *
 * Limits are small (16 connections, 4 KiB out-of-order per direction,
 * 16 KiB in all, 512-byte lines; 8 IP datagrams in 64 KiB) so that eviction
 * and buffer limits are hit.
 * The JSON output must be whole lines of valid UTF-8 without control bytes,
 * every smtp_connection must come with a known end, and the number of
 * active connections must never exceed the limit.
 */
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "settings/config.h"
#include "source/decode.h"
#include "source/pcap_source.h"
#include "output/output.h"
#include "flow/pipeline.h"

#define FRAME_LEN_MASK 0x3fff
#define MAX_CONNS      16
#define FRAG_BYTES     (64u << 10)
#define FRAG_DATAGRAMS 8

/* LINKTYPE_RAW: the value pcap files store for raw IP (DLT_RAW is 12 or 14
 * depending on the platform). */
#define LINKTYPE_RAW_FILE 101

static const int link_types[] = {
    DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,	 LINKTYPE_RAW_FILE,
    DLT_IPV4,	DLT_IPV6,      DLT_NULL,       DLT_LOOP,
};

static const uint64_t clock_steps_ns[4] = {
    1000000ull, 1000000000ull, 90000000000ull, 0, /* backwards, below */
};

static void configure(struct config *cfg)
{
	config_defaults(cfg);
	cfg->emit_data = true;
	cfg->keep_credentials = false;
	cfg->max_line = 512;
	cfg->max_conns = MAX_CONNS;
	cfg->max_conn_buffer = 4096;
	cfg->max_total_buffer = 16384;
	cfg->idle_timeout_ns = 60000000000ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	uint64_t now = 1700000000000000000ull;
	struct decode_stats ds = {0};
	char *out_buf = NULL;
	size_t out_len = 0;
	FILE *out;
	struct config cfg;
	struct sink *sink;
	struct pipeline *pl;
	struct ipfrag *frags;
	int dlt;

	if (size < 1)
		return 0;
	out = open_memstream(&out_buf, &out_len);
	CHECK(out);
	dlt = link_types[*p++ % (sizeof(link_types) / sizeof(link_types[0]))];
	configure(&cfg);
	sink = sink_json_new(out);
	CHECK(sink);
	pl = pipeline_new(&cfg, sink);
	CHECK(pl);
	frags = ipfrag_new(FRAG_BYTES, FRAG_DATAGRAMS, 30000000000ull);
	CHECK(frags);
	while (end - p >= 2) {
		unsigned hdr = (unsigned)p[0] << 8 | p[1];
		size_t len = hdr & FRAME_LEN_MASK;
		unsigned step = hdr >> 14;
		p += 2;
		if (len > (size_t)(end - p))
			len = end - p;
		now = step == 3 ? now - 1000000000ull : now + clock_steps_ns[step];
		pcap_source_frame(pl, frags, dlt, p, len, len, now, &ds);
		pipeline_tick(pl, now, 0);
		CHECK(pipeline_stats(pl)->conns_active <= MAX_CONNS);
		CHECK(ipfrag_held_bytes(frags) <= FRAG_BYTES);
		CHECK(ipfrag_held_datagrams(frags) <= FRAG_DATAGRAMS);
		p += len;
	}
	ipfrag_free(frags);
	pipeline_finish(pl);
	CHECK(pipeline_stats(pl)->conns_active == 0);
	pipeline_free(pl);
	sink->destroy(sink);
	CHECK(fclose(out) == 0);
	check_lines(out_buf, out_len, 1);
	CHECK(!memmem(out_buf, out_len, "\"end\":\"unknown\"", 15));
	free(out_buf);
	return 0;
}
