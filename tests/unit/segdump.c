// SPDX-License-Identifier: GPL-2.0-only
/*
 * segdump - print what decode_frame() makes of every frame of a pcap, one
 * line per frame: "FRAME RESULT SPORT DPORT PAYLOAD_LEN FLAGS". FRAME counts
 * from 1 like tshark's frame.number; RESULT is the enum decode_result value,
 * and the other fields are only printed for DECODE_OK.
 * Used by tests/cli/test_decode_vs_tshark.sh to compare against tshark.
 */
#include <pcap/pcap.h>
#include <stdio.h>

#include "source/decode.h"

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];

	if (argc != 2) {
		fprintf(stderr, "usage: segdump FILE\n");
		return 2;
	}
	pcap_t *pc = pcap_open_offline(argv[1], errbuf);
	if (!pc) {
		fprintf(stderr, "segdump: %s\n", errbuf);
		return 2;
	}
	struct decode_stats stats = {0};
	struct pcap_pkthdr *hdr;
	const u_char *frame;
	unsigned long frame_nr = 0;
	int r;
	while ((r = pcap_next_ex(pc, &hdr, &frame)) == 1) {
		struct segment seg = {0};
		enum decode_result res = decode_frame(pcap_datalink(pc), frame, hdr->caplen,
						      hdr->len, &seg, NULL, &stats);

		frame_nr++;
		if (res == DECODE_OK)
			printf("%lu %d %u %u %u 0x%02x\n", frame_nr, res, seg.sport, seg.dport,
			       seg.payload_len, seg.flags);
		else
			printf("%lu %d\n", frame_nr, res);
	}
	if (r == PCAP_ERROR)
		fprintf(stderr, "segdump: %s: %s\n", argv[1], pcap_geterr(pc));
	fprintf(stderr,
		"frames %llu tcp %llu not_tcp %llu fragments %llu malformed %llu "
		"unsupported %llu truncated %llu\n",
		(unsigned long long)stats.frames, (unsigned long long)stats.tcp,
		(unsigned long long)stats.not_tcp, (unsigned long long)stats.fragments,
		(unsigned long long)stats.malformed, (unsigned long long)stats.unsupported,
		(unsigned long long)stats.truncated);
	pcap_close(pc);
	return r == PCAP_ERROR ? 1 : 0;
}
