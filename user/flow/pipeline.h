// SPDX-License-Identifier: GPL-2.0-only
/*
 * pipeline.h - segments in, events out: the flow table and everything per
 * connection (orientation, uid, two reassemblers, the SMTP session, the
 * summary).
 *
 * Connections are keyed by the 4-tuple. The originator is the sender of the
 * first SYN without ACK; without a handshake, the side on a monitored port is
 * the responder. Limits from struct config bound the number of connections
 * and the bytes buffered; when a limit is hit the least recently active
 * connection is evicted (smtp_connection with end "eviction", counter).
 * uids are derived from the input only (first timestamp, 4-tuple, and a
 * per-run counter), so the same input gives the same uids.
 *
 * Time: idle timeouts run on an idle clock (idle_clock.h) fed with the
 * source's steady clock (segment.mono_ns, or ts_ns where the source has none)
 * in arrival order, so a step back or a jump ahead of the source's time never
 * ends a connection; such a step is counted (time_backwards, time_jumps). A
 * connection whose own segments step back by more than 1 s or ahead by more
 * than max(1 h, idle timeout) gets a weird (time_went_backwards,
 * time_jumped_forward, addl the step in seconds), counted in its anomalies and
 * left out of its duration.
 */
#ifndef SMTPMON_PIPELINE_H
#define SMTPMON_PIPELINE_H

#include "settings/config.h"
#include "output/event.h"
#include "source/segment.h"

struct pipeline;

/* Called when a connection turns encrypted (STARTTLS accepted), so a live
 * source can stop copying its payload. */
typedef void (*pipeline_tls_fn)(void *ctx, const struct conn_id *id);

/* A TLS object of one end's library (struct smtpmon_tls_rec's tgid and
 * object). */
struct plaintext_object {
	uint32_t tgid;
	uint64_t object;
};

/* Body skipping (--bodies=skip, docs/body-skip.md): called when the client's
 * next bytes need not be copied. chunk: they are BDAT chunk bytes up to
 * sequence number end_seq. Otherwise they are a DATA body past its header
 * block, up to its end marker, valid while the server has sent nothing after
 * sequence number server_next.
 * Inside TLS (tls, docs/tls-plaintext.md) the bytes are the plaintext the
 * libraries pass: objects[0..nobjects) are the TLS objects of the ends seen
 * so far, a chunk ends at offset end_off of the client's direction, and the
 * mark holds while the server's direction stays at offset server_off (the
 * sequence numbers are unused). The kernel ends every skip itself. */
struct pipeline_skip {
	bool chunk;
	uint32_t end_seq;
	uint32_t server_next;
	bool tls;
	uint64_t end_off, server_off;
	struct plaintext_object objects[2];
	size_t nobjects;
};
typedef void (*pipeline_skip_fn)(void *ctx, const struct conn_id *id,
				 const struct pipeline_skip *skip);

/* Plaintext of a TLS session, from the TLS library of one end (capture.c,
 * docs/tls-plaintext.md). It joins the connection the wire showed, by its
 * 4-tuple, once the wire turned to TLS. */
enum plaintext_view {
	PLAINTEXT_SERVER_END = 0, /* the library of the process on the monitored port */
	PLAINTEXT_CLIENT_END,
};

struct plaintext {
	uint64_t ts_ns;	  /* wall clock */
	uint64_t mono_ns; /* steady clock, as struct segment's */
	uint8_t family;	  /* 4 or 6 */
	uint8_t client[16], server[16];
	uint16_t client_port, server_port;
	bool from_client;		/* the bytes went from the client to the server */
	enum plaintext_view view;	/* whose library passed them */
	struct plaintext_object object; /* the library's TLS object */
	/* of the first byte in its direction, as that library counted */
	uint64_t offset;
	/* --bodies=skip: the first skipped bytes passed uncopied (a body),
	 * data[0..len) follows them. */
	uint32_t skipped;
	const uint8_t *data;
	uint32_t len;
};

struct pipeline_stats {
	uint64_t segments;    /* segments handed in */
	uint64_t ignored;     /* not on a monitored port */
	uint64_t conns_total; /* connections created */
	uint64_t conns_active;
	uint64_t conns_evicted; /* dropped to respect a limit */
	uint64_t conns_timed_out;
	uint64_t gaps, gap_bytes;
	uint64_t events[EV_TYPE_MAX];
	uint64_t buffered_bytes; /* out-of-order bytes held now */
	uint64_t buffer_limit_hits;
	uint64_t skipped_bytes;	 /* message body bytes the source skipped on request */
	uint64_t skip_fallbacks; /* skipped bytes that hid the end of a body (a gap) */
	/* The source's clock stepped back by more than 1 s, or ahead by more than
	 * max(1 h, idle timeout): not taken as time (idle_clock.h). */
	uint64_t time_backwards, time_jumps;
	uint64_t plain_records;	      /* TLS plaintext pieces handed in */
	uint64_t plain_bytes;	      /* ... delivered to sessions */
	uint64_t plain_unmatched;     /* no connection of the wire in TLS to join */
	uint64_t plain_other_view;    /* the other end's copy (both ends on this host) */
	uint64_t plain_overlap_bytes; /* delivered already */
	/* Ended connections that turned to TLS on the wire and got no plaintext:
	 * the probes did not see them (off, a library not probed, a process
	 * probed too late). */
	uint64_t tls_unseen;
};

struct pipeline *pipeline_new(const struct config *cfg, struct sink *sink);
void pipeline_set_tls_hook(struct pipeline *p, pipeline_tls_fn fn, void *ctx);
void pipeline_set_skip_hook(struct pipeline *p, pipeline_skip_fn fn, void *ctx);
/* A source of TLS plaintext feeds p (pipeline_plaintext): a connection that
 * turned to TLS on the wire then waits for its plaintext after its FIN or
 * RST even when none has come yet, since the plaintext travels through
 * another ring and may be behind the wire's end. */
void pipeline_expect_plaintext(struct pipeline *p, bool on);
void pipeline_segment(struct pipeline *p, const struct segment *seg);
/* A weird about a packet the source could not hand over as a segment (an IP
 * datagram it discarded): raised on the open connection of seg's addresses
 * and ports (seg->ts_ns its time; flags, sequence numbers and payload are not
 * looked at). false when there is no such connection. */
bool pipeline_weird(struct pipeline *p, const struct segment *seg, const char *name,
		    struct bytes addl);
/* A piece of TLS plaintext: after STARTTLS (or from the start, on an
 * implicit-TLS port) the session goes on with the lines inside TLS. The
 * first end whose library reports a connection feeds it; the other end's
 * copy is counted and left out. Pieces for no connection of the wire, or one
 * that did not turn to TLS, are counted and dropped. */
void pipeline_plaintext(struct pipeline *p, const struct plaintext *pt);
/* Time passes (idle timeouts). now_ns: the source's clock, as segments'
 * ts_ns (end_of_input's timestamp); mono_ns: its steady clock, as segments'
 * mono_ns, or 0 for a source that has none (the idle clock then runs on
 * now_ns). */
void pipeline_tick(struct pipeline *p, uint64_t now_ns, uint64_t mono_ns);
/* Push the events written so far out of the sink's buffers (a live source
 * calls it after each batch, so readers of a pipe see events promptly). */
void pipeline_flush(struct pipeline *p);
/* End of input: every connection is ended with CONN_END_INPUT, but one
 * whose FIN or RST came while it waited for its TLS plaintext ends with
 * that. */
void pipeline_finish(struct pipeline *p);
const struct pipeline_stats *pipeline_stats(const struct pipeline *p);

struct smtp_view;

/* One open connection, for smtpmonctl sessions; valid during the callback. */
struct pipeline_conn_view {
	const struct conn_id *id;
	const char *state; /* SMTP state name (smtp_state_name) */
	const struct smtp_view *smtp;
	uint64_t start_ns, last_ns; /* the source's clock; last: the latest segment's */
	uint64_t orig_bytes, resp_bytes;
	bool tls, partial;
};

typedef void (*pipeline_conn_fn)(void *ctx, const struct pipeline_conn_view *v);
/* Every open connection, most recently active first. */
void pipeline_foreach_conn(const struct pipeline *p, pipeline_conn_fn fn, void *ctx);
void pipeline_free(struct pipeline *p);

#endif
