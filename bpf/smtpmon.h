/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * smtpmon.h - the only header shared by the BPF programs and user space.
 *
 * Contract: every TCP segment of a monitored port that carries payload, or
 * SYN/FIN/RST, becomes one or more records in the ring buffer "events",
 * except the payload segments of an encrypted flow (below). A record covers
 * payload bytes [seq, seq + payload_len) of one direction. copied_len is
 * payload_len (the bytes follow the header) unless rec_flags say otherwise:
 *  - SMTPMON_REC_ENCRYPTED: the flow is encrypted. Its segments without
 *    SYN/FIN/RST are only counted (suppressed_packets/bytes); its SYN/FIN/RST
 *    segments, and every segment sent after the peer's FIN (nothing later
 *    may tell how far that direction went), become one record with
 *    copied_len 0. The sequence space of the direction between the
 *    previous record and this one passed encrypted.
 *  - SMTPMON_REC_SKIPPED: message body user space asked not to copy
 *    (docs/body-skip.md); copied_len is at most SMTPMON_SKIP_TAIL, and the
 *    copied bytes are the last copied_len bytes of the range.
 * lost_before says how many payload bytes of this flow direction the kernel
 * failed to hand over (ring full) since the previous record of that
 * direction, so user space can declare a gap at once instead of waiting for
 * a retransmission.
 */
#ifndef SMTPMON_H
#define SMTPMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Payload pieces: a segment of up to SMTPMON_CHUNK_MIN bytes is one record;
 * a bigger one is cut into pieces of SMTPMON_CHUNK_MAX, SMTPMON_CHUNK_MID or
 * SMTPMON_CHUNK_MIN bytes, each the largest that the rest still fills, and
 * what is left after that (under SMTPMON_CHUNK_MIN bytes). A 64 KB GRO
 * super-packet makes 8 records, not 32: what a record costs on both sides of
 * the ring is mostly per record, not per byte. */
#define SMTPMON_CHUNK_MIN 2048
#define SMTPMON_CHUNK_MID 8192
#define SMTPMON_CHUNK_MAX 32768
/* Super-packets (GRO/GSO/BIG TCP) up to this many bytes are fully copied. */
#define SMTPMON_SKB_MAX	  (512 * 1024)
#define SMTPMON_FLOWS_MAX 65536
/* Counters per interface: user space gives each interface it attaches to a
 * slot 1..SMTPMON_IFACE_SLOTS - 1 before attaching, in the array
 * "iface_slot_by_index" for an ifindex below SMTPMON_IFINDEX_DIRECT (a
 * lookup the verifier inlines: 1 ns a packet where a hash costs 5) and in
 * the hash "iface_slots" above; slot 0 counts the packets of any other
 * interface (a program attached by other means). The fragment counter per
 * interface tells where the live view has holes (docs/reassembly.md). */
#define SMTPMON_IFACE_SLOTS    17
#define SMTPMON_IFINDEX_DIRECT 4096

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
#define SMTPMON_REC_SKIPPED   0x04 /* message body not copied but its last bytes */

/* Bytes of a skipped DATA body segment that are still copied: with them,
 * user space sees every end-of-data marker the kernel sees. */
#define SMTPMON_SKIP_TAIL 4

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
/* Body skipping (--bodies=skip, docs/body-skip.md), set by user space (and
 * by the kernel: SKIP_CHUNK at a BDAT command that starts a segment or
 * follows the chunk before, SKIP_BODY after a 354, see BODY_AUTO):
 * SKIP_CHUNK: client segments ending at or before skip_end lie inside a BDAT
 * chunk; SKIP_BODY: the client is inside a DATA body after its header block,
 * valid while the server has not spoken since (server_next ==
 * skip_server_next). The kernel clears either when it copies the segment
 * that ends it. */
#define SMTPMON_FLOW_SKIP_CHUNK 0x04
#define SMTPMON_FLOW_SKIP_BODY	0x08
/* BPF only, encrypted flows: a FIN was seen from that side. */
#define SMTPMON_FLOW_CLIENT_FIN 0x10
#define SMTPMON_FLOW_SERVER_FIN 0x20
/* BPF only: the server said 354 (go ahead with the DATA body); any later
 * server payload clears it. Body records then do not wake the reader, and
 * with --bodies=skip client bytes from body_auto_seq on may be skipped
 * without waiting for user space's mark, which is one ring round trip late
 * and, at 10 Gbit/s, megabytes late. */
#define SMTPMON_FLOW_BODY_AUTO 0x40

/* Body bytes always copied before the kernel skips on its own: the header
 * block of nearly every message (user space marks the end of a shorter one
 * sooner). */
#define SMTPMON_HEADER_ALLOWANCE (64 * 1024)

struct smtpmon_flow {
	__u32 flags;
	__u32 lost_to_server; /* bytes dropped (ring full) not yet reported */
	__u32 lost_to_client;
	__u32 server_next;	/* BPF: sequence number after the server's latest payload */
	__u32 skip_end;		/* sequence number one past the BDAT chunk */
	__u32 skip_server_next; /* user space: server_next when it set SKIP_BODY */
	__u32 tail_seq;		/* BPF: client sequence number just past tail */
	__u32 tail;		/* BPF: last 4 client bytes before tail_seq, first byte highest */
	__u32 body_auto_seq;	/* BPF: with BODY_AUTO, where the kernel may start skipping */
	__u32 pad;
};

enum smtpmon_stat {
	SMTPMON_STAT_PACKETS = 0,	 /* packets the hooks looked at */
	SMTPMON_STAT_MATCHED,		 /* TCP packets of a monitored port */
	SMTPMON_STAT_RECORDS,		 /* records submitted */
	SMTPMON_STAT_PAYLOAD_BYTES,	 /* payload bytes copied into the ring */
	SMTPMON_STAT_RING_DROPS,	 /* records lost: ring full */
	SMTPMON_STAT_RING_DROP_BYTES,	 /* payload bytes lost: ring full */
	SMTPMON_STAT_SUPPRESSED_BYTES,	 /* payload bytes not copied: encrypted flow */
	SMTPMON_STAT_FRAGMENTS,		 /* IP fragments skipped */
	SMTPMON_STAT_PARSE_ERRORS,	 /* truncated or malformed headers */
	SMTPMON_STAT_TRUNCATED_BYTES,	 /* bytes beyond SMTPMON_SKB_MAX */
	SMTPMON_STAT_BIG_SEGMENTS,	 /* segments with more than 64 KB of payload (BIG TCP) */
	SMTPMON_STAT_SUPPRESSED_PACKETS, /* segments of encrypted flows that made no record */
	SMTPMON_STAT_SKIPPED_BYTES,   /* message body bytes not copied (--bodies=skip, or shed) */
	SMTPMON_STAT_SKIPPED_RECORDS, /* records flagged SMTPMON_REC_SKIPPED */
	SMTPMON_STAT_SHED_BODIES,     /* bodies and chunks skipped in copy mode: ring crowded */
	SMTPMON_STAT_MAX,
};

/* The programs, each with its own set of counters. */
enum smtpmon_prog {
	SMTPMON_PROG_TC_INGRESS = 0,
	SMTPMON_PROG_TC_EGRESS,
	SMTPMON_PROG_XDP,
	SMTPMON_PROG_MAX,
};

/* The per-CPU state of one program on one interface (map "percpu", key
 * prog * SMTPMON_IFACE_SLOTS + slot, enum smtpmon_prog): its counters, and
 * the last encrypted flow whose data segments it suppressed on this CPU.
 * One lookup per packet finds both. */
struct smtpmon_tls_cache {
	/* The segment's own addresses and ports, as in struct smtpmon_rec:
	 * compared before the flow key is even built. All zero (family 0)
	 * matches no segment. */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u8 family;
	__u8 pad[3];
	__u64 epoch; /* flow_epoch when the entry was made */
};

struct smtpmon_percpu {
	__u64 stats[SMTPMON_STAT_MAX];
	struct smtpmon_tls_cache tls;
};

/* ---- TLS plaintext (tls.bpf.c, docs/tls-plaintext.md) ---- */

/* The TLS libraries probed; each has its own counters. */
enum smtpmon_tls_lib {
	SMTPMON_TLS_OPENSSL = 0,
	SMTPMON_TLS_GNUTLS,
	SMTPMON_TLS_LIB_MAX,
};

/* What the probed call did with the plaintext, seen from the process. */
enum smtpmon_tls_op {
	SMTPMON_TLS_READ = 0, /* received from the peer */
	SMTPMON_TLS_WRITE,    /* sent to the peer */
};

/* The process's end of the TCP connection: the side on a monitored port
 * (server: smtpd) or the other one (client: the MTA's own delivery, a
 * local submission). */
enum smtpmon_tls_role {
	SMTPMON_TLS_SERVER = 0,
	SMTPMON_TLS_CLIENT,
};

/* Plaintext a call returned or sent is cut into records of at most this
 * many bytes, and at most SMTPMON_TLS_PIECES of them per call. */
#define SMTPMON_TLS_CHUNK  16384
#define SMTPMON_TLS_PIECES 64

/* One record of the ring buffer "tls_events". offset counts the bytes of
 * this direction (op) that the library passed through this TLS object since
 * it was first seen (0: the session's first plaintext byte if the object is
 * new): a jump is a loss (ring full, a call on no known socket). */
struct smtpmon_tls_rec {
	__u64 ts_ns;  /* bpf_ktime_get_boot_ns() */
	__u64 offset; /* of payload[0] in the direction's plaintext */
	__u32 tgid;
	__u32 payload_len; /* bytes this record covers */
	__u32 copied_len;  /* bytes of payload[] that follow */
	__u8 family;	   /* AF_INET (2) or AF_INET6 (10), as the socket says */
	__u8 op;	   /* enum smtpmon_tls_op */
	__u8 role;	   /* enum smtpmon_tls_role */
	__u8 lib;	   /* enum smtpmon_tls_lib */
	__u8 flags;	   /* SMTPMON_TLS_REC_* */
	__u8 pad[3];
	__u64 object;	/* the TLS object (SSL *, gnutls_session_t): the key of tls_skip */
	__u8 laddr[16]; /* the process's address; IPv4 in the first 4 bytes */
	__u8 raddr[16]; /* the peer's */
	__u16 lport;	/* host byte order */
	__u16 rport;
	char comm[16];
	__u8 payload[];
};

enum smtpmon_tls_stat {
	SMTPMON_TLS_STAT_CALLS = 0,	  /* probed calls that passed plaintext */
	SMTPMON_TLS_STAT_COPIED_BYTES,	  /* plaintext bytes copied into the ring */
	SMTPMON_TLS_STAT_RECORDS,	  /* records submitted */
	SMTPMON_TLS_STAT_NOT_MONITORED,	  /* calls on sockets of no monitored port */
	SMTPMON_TLS_STAT_NO_SOCKET,	  /* calls whose TLS object is tied to no TCP socket yet */
	SMTPMON_TLS_STAT_RING_DROPS,	  /* records lost: ring full */
	SMTPMON_TLS_STAT_RING_DROP_BYTES, /* plaintext bytes lost: ring full */
	SMTPMON_TLS_STAT_TRUNCATED_BYTES, /* bytes of a call beyond SMTPMON_TLS_PIECES records */
	SMTPMON_TLS_STAT_SKIPPED_BYTES, /* message body bytes not copied (--bodies=skip, or shed) */
	SMTPMON_TLS_STAT_SHED_BODIES,	/* bodies and chunks skipped in copy mode: ring crowded */
	SMTPMON_TLS_STAT_MAX,
};

/* Record flags. SKIPPED: a message body user space asked not to copy
 * (tls_skip); payload_len is the call's length, copied_len at most
 * SMTPMON_SKIP_TAIL: its last bytes, so that user space sees the end marker
 * the kernel looks for. */
#define SMTPMON_TLS_REC_SKIPPED 0x01

/* --bodies=skip inside TLS (docs/body-skip.md, docs/tls-plaintext.md): the
 * map "tls_skip", keyed by TLS object and process (as the probes' sessions),
 * lists the TLS objects whose client-to-server bytes are, or are about to
 * be, a message body. Offsets are those of the session's two directions.
 * Entries come from user space (a BDAT chunk, or a DATA body past its header
 * block) and from the kernel itself, which does not wait for user space: a
 * BDAT command at the start of a client call or right at the end of the
 * chunk before, and a 354 reply (the body then skipped from
 * SMTPMON_HEADER_ALLOWANCE bytes on). The kernel ends an entry when it
 * copies the end (chunk_end reached, a DATA end marker at the end of a
 * call), when the server sends, and when the server has sent since the
 * entry was made (server_off: the entry came too late). With --bodies=copy
 * only the kernel makes entries, and skips only while its ring is crowded
 * (docs/body-skip.md, "Shedding bodies"). */
struct smtpmon_tls_key {
	__u64 object;
	__u32 tgid;
	__u32 pad;
};

struct smtpmon_tls_skip {
	__u64 chunk_end;  /* BDAT: offset one past the chunk; 0: DATA body */
	__u64 skip_from;  /* DATA: the body is skipped from this offset on */
	__u64 server_off; /* server-to-client offset when the entry was made */
	__u64 tail_end;	  /* BPF: offset after tail (DATA) */
	__u32 tail;	  /* BPF: the body's last 4 bytes so far, first byte highest */
	__u32 shed;	  /* BPF, --bodies=copy: the ring was crowded, the body is skipped */
};

/* Which processes are probed (tls.bpf.c, "tls_procs"): those that listen on,
 * accept on or connect to a monitored port, those that hold such a socket
 * when smtpmon starts, and the processes they fork. Their uprobes are
 * attached per process, so no other process pays a uprobe's trap. The ring
 * buffer "tls_proc_events" tells user space when to attach and detach. */
enum smtpmon_tls_proc_kind {
	SMTPMON_TLS_PROC_PROBE = 0, /* attach to this process (again: its id was reused) */
	SMTPMON_TLS_PROC_GONE,	    /* it exited: detach */
};

struct smtpmon_tls_proc {
	__u32 tgid;
	__u32 kind; /* enum smtpmon_tls_proc_kind */
};

#endif /* SMTPMON_H */
