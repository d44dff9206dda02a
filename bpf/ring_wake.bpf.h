/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ring_wake.bpf.h - when a record wakes the reader of its ring buffer, for
 * smtpmon.bpf.c (the wire) and tls.bpf.c (the TLS libraries' plaintext);
 * docs/body-skip.md, "Waking the reader".
 *
 * Any record whose fill level crosses a multiple of wakeup_bytes forces a
 * wake-up: a sleeping reader then never has more than that much unread.
 * Otherwise the records of message bodies (bulk) do not wake the reader: a
 * wake-up per 64 KB packet cost an idle reader more CPU than the records
 * themselves, and one per 4 KB read of Postfix's smtpd had the reader
 * switching in and out about 130 000 times per GB, half of its CPU samples;
 * any other record keeps the kernel's default, a wake-up when the reader has
 * read everything before it. Forcing one for every record behind unread ones
 * was tried: an interrupt each, 5 us per record on this machine (make bench,
 * 2026-12-05), paid by the sender whenever the reader is behind.
 */
#ifndef SMTPMON_RING_WAKE_BPF_H
#define SMTPMON_RING_WAKE_BPF_H

/* The flags for bpf_ringbuf_submit of a record of `size` bytes (header
 * included) reserved in a ring that now holds `avail` unread bytes, this
 * record's among them. wakeup_bytes 0: the kernel's default for all. */
static __always_inline __u64 ring_wake_flags(__u64 avail, __u32 size, bool bulk, __u64 wakeup_bytes)
{
	/* What the record takes of the ring: the ring's 8-byte header, rounded. */
	__u64 own = ((__u64)size + 8 + 7) & ~7ull;

	if (!wakeup_bytes)
		return 0;
	if (avail >= own && avail / wakeup_bytes != (avail - own) / wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return bulk ? BPF_RB_NO_WAKEUP : 0;
}

#endif
