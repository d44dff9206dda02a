/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smtpmon.h - the only header shared by the BPF programs and user space.
 *
 * Contract: every TCP segment of a monitored port that carries payload, or
 * SYN/FIN/RST, becomes one or more records in the ring buffer "events".
 * A record covers payload bytes [seq, seq + payload_len) of one direction.
 * copied_len is either payload_len (bytes follow the header) or 0 (the flow
 * is encrypted: only lengths and flags are reported). lost_before says how
 * many payload bytes of this flow direction the kernel failed to hand over
 * (ring full) since the previous record of that direction, so user space can
 * declare a gap at once instead of waiting for a retransmission.
 */
#ifndef SMTPMON_H
#define SMTPMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest payload piece carried by one record; bigger segments are split. */
#define SMTPMON_CHUNK_MAX 2048
/* Super-packets (GRO/GSO/BIG TCP) up to this many bytes are fully copied. */
#define SMTPMON_SKB_MAX	  (512 * 1024)
#define SMTPMON_FLOWS_MAX 65536

enum smtpmon_dir {
	SMTPMON_DIR_INGRESS = 0,
	SMTPMON_DIR_EGRESS = 1,
};

enum smtpmon_hook {
	SMTPMON_HOOK_TC = 0,
	SMTPMON_HOOK_XDP = 1,
};

/* rec_flags */
#define SMTPMON_REC_ENCRYPTED 0x01 /* payload not copied: flow marked encrypted */
#define SMTPMON_REC_TRUNCATED 0x02 /* segment longer than SMTPMON_SKB_MAX: tail lost */

/* TCP flag bits as on the wire (byte 13 of the TCP header). */
#define SMTPMON_TCP_FIN 0x01
#define SMTPMON_TCP_SYN 0x02
#define SMTPMON_TCP_RST 0x04
#define SMTPMON_TCP_PSH 0x08
#define SMTPMON_TCP_ACK 0x10

struct smtpmon_rec {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
	__u32 ifindex;
	__u8 dir;	/* enum smtpmon_dir */
	__u8 hook;	/* enum smtpmon_hook */
	__u8 family;	/* 4 or 6 */
	__u8 tcp_flags; /* SMTPMON_TCP_* */
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport; /* host byte order */
	__u16 dport;
	__u32 seq; /* sequence number of the first payload byte of this record */
	__u32 ack;
	__u16 window;
	__u8 rec_flags; /* SMTPMON_REC_* */
	__u8 pad;
	__u32 payload_len; /* payload bytes this record covers */
	__u32 copied_len;  /* bytes of payload[] that follow: payload_len or 0 */
	__u32 lost_before; /* bytes of this direction lost before this record */
	__u8 payload[];
};

/* Per-flow kernel state, key normalised so both directions share it:
 * "server" is the side whose port is in the ports map. */
struct smtpmon_flow_key {
	__u8 client[16];
	__u8 server[16];
	__u16 client_port;
	__u16 server_port;
	__u8 family;
	__u8 pad[3];
};

/* flow flags */
#define SMTPMON_FLOW_ENCRYPTED 0x01 /* set by user space (220 to STARTTLS) or by TLS sniffing */
#define SMTPMON_FLOW_STARTTLS  0x02 /* BPF only: the client's last segment ended in STARTTLS */

struct smtpmon_flow {
	__u32 flags;
	__u32 lost_to_server; /* bytes dropped (ring full) not yet reported */
	__u32 lost_to_client;
	__u32 pad;
};

enum smtpmon_stat {
	SMTPMON_STAT_PACKETS = 0,      /* packets the hooks looked at */
	SMTPMON_STAT_MATCHED,	       /* TCP packets of a monitored port */
	SMTPMON_STAT_RECORDS,	       /* records submitted */
	SMTPMON_STAT_PAYLOAD_BYTES,    /* payload bytes copied into the ring */
	SMTPMON_STAT_RING_DROPS,       /* records lost: ring full */
	SMTPMON_STAT_RING_DROP_BYTES,  /* payload bytes lost: ring full */
	SMTPMON_STAT_SUPPRESSED_BYTES, /* payload bytes not copied: encrypted flow */
	SMTPMON_STAT_FRAGMENTS,	       /* IP fragments skipped */
	SMTPMON_STAT_PARSE_ERRORS,     /* truncated or malformed headers */
	SMTPMON_STAT_TRUNCATED_BYTES,  /* bytes beyond SMTPMON_SKB_MAX */
	SMTPMON_STAT_BIG_SEGMENTS,     /* segments with more than 64 KB of payload (BIG TCP) */
	SMTPMON_STAT_MAX,
};

/* The programs, each with its own set of counters. */
enum smtpmon_prog {
	SMTPMON_PROG_TC_INGRESS = 0,
	SMTPMON_PROG_TC_EGRESS,
	SMTPMON_PROG_XDP,
	SMTPMON_PROG_MAX,
};

#define SMTPMON_STAT_KEY(prog, stat) ((__u32)(prog) * SMTPMON_STAT_MAX + (__u32)(stat))

#endif /* SMTPMON_H */
