/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * smtp_marks.bpf.h - the few SMTP landmarks the kernel reads itself to skip
 * message bodies without waiting for user space (--bodies=skip,
 * docs/body-skip.md), for smtpmon.bpf.c (the wire) and tls.bpf.c (the TLS
 * libraries' plaintext). User space's marks come one ring round trip late,
 * and a busy reader can be megabytes behind the sender.
 *
 * Contract: each function looks at a buffer the caller has already copied
 * onto the BPF stack, n bytes of it valid and the rest zero; a landmark that
 * is not wholly in the buffer is not found (the caller then copies, never
 * skips, so a miss costs bytes, not correctness).
 */
#ifndef SMTPMON_SMTP_MARKS_BPF_H
#define SMTPMON_SMTP_MARKS_BPF_H

/* "\r\n.\r\n", the end of a DATA body, as the last 5 bytes of a window. */
#define END_OF_DATA 0x0d0a2e0d0aull

/* How far back from the end of a server's bytes a 354 line is looked for. */
#define GO_AHEAD_SCAN 64

/* Does the last line of buf[0..n), the last n bytes of what the server sent,
 * start with "354"? whole: buf holds all of them, so its first line counts.
 * Pipelined replies come together ("250 ...\r\n250 ...\r\n354 ...\r\n") and
 * the 354 is always last: the client waits for it before the body. */
static __always_inline bool is_go_ahead(const char buf[GO_AHEAD_SCAN], __u32 n, bool whole)
{
	__u32 start = 0;
	bool found = whole;

	if (n < 6 || n > GO_AHEAD_SCAN)
		return false;
	/* Back from the byte before the final CR LF to the previous LF. */
	for (__u32 i = 3; i < GO_AHEAD_SCAN; i++) {
		if (i > n)
			break;
		if (buf[(n - i) & (GO_AHEAD_SCAN - 1)] == '\n') {
			start = n - i + 1;
			found = true;
			break;
		}
	}
	if (!found || start + 4 > n)
		return false;
	return buf[start & (GO_AHEAD_SCAN - 1)] == '3' &&
	       buf[(start + 1) & (GO_AHEAD_SCAN - 1)] == '5' &&
	       buf[(start + 2) & (GO_AHEAD_SCAN - 1)] == '4' &&
	       (buf[(start + 3) & (GO_AHEAD_SCAN - 1)] == ' ' ||
		buf[(start + 3) & (GO_AHEAD_SCAN - 1)] == '-');
}

/* Room for "BDAT 9999999999 LAST\r\n". */
#define BDAT_SCAN 32

static __always_inline bool is_letter(char c, char lower)
{
	return (c | 0x20) == lower;
}

/* A BDAT command at the start of buf[0..n): its size, and in *cmd_len the
 * bytes of the command line. Only the plain form "BDAT <digits>[ LAST]\r\n"
 * (any case, 1 to 10 digits) is taken: anything else is left to user space,
 * whose parser is the one that decides. False when it is not one. */
static __always_inline bool parse_bdat(const char buf[BDAT_SCAN], __u32 n, __u64 *size,
				       __u32 *cmd_len)
{
	__u64 v = 0;
	__u32 i = 5, digits = 0;

	if (n > BDAT_SCAN || n < 8 || !is_letter(buf[0], 'b') || !is_letter(buf[1], 'd') ||
	    !is_letter(buf[2], 'a') || !is_letter(buf[3], 't') || buf[4] != ' ')
		return false;
	for (; i < 15; i++) {
		char c = buf[i];

		if (c < '0' || c > '9')
			break;
		v = v * 10 + (__u64)(c - '0');
		digits++;
	}
	if (!digits)
		return false;
	if (buf[i & (BDAT_SCAN - 1)] == ' ') {
		if (i + 5 >= BDAT_SCAN || !is_letter(buf[(i + 1) & (BDAT_SCAN - 1)], 'l') ||
		    !is_letter(buf[(i + 2) & (BDAT_SCAN - 1)], 'a') ||
		    !is_letter(buf[(i + 3) & (BDAT_SCAN - 1)], 's') ||
		    !is_letter(buf[(i + 4) & (BDAT_SCAN - 1)], 't'))
			return false;
		i += 5;
	}
	if (i + 2 > n || buf[i & (BDAT_SCAN - 1)] != '\r' || buf[(i + 1) & (BDAT_SCAN - 1)] != '\n')
		return false;
	*size = v;
	*cmd_len = i + 2;
	return true;
}

#endif
