// SPDX-License-Identifier: GPL-2.0-only
/* probe_site.c - see probe_site.h. */
#include <elf.h>
#include <string.h>
#include <unistd.h>

#include "capture/probe_site.h"

#define SCAN_MAX 4096

enum {
	SUB_RSP_IMM8_LEN = 4, /* 48 83 ec ib */
	CALL_REL32_LEN = 5,   /* e8 rel32 */
	ANY = 0x100,	      /* in a pattern: any byte (a displacement) */
};

/* gnutls_record_recv's first instructions and the tail of its path without
 * kernel TLS, up to the jump's opcode (probe_site.h). */
static const uint16_t recv_head[] = {
    0x48, 0x83, 0xec, 0x08,		    /* sub $8,%rsp */
    0x80, 0xbf, ANY,  ANY,  ANY, ANY, 0x00, /* cmpb $0,D(%rdi) */
    0x48, 0x89, 0xd1,			    /* mov %rdx,%rcx */
};
static const uint16_t recv_tail[] = {
    0x44, 0x8b, 0x8f, ANY,  ANY,  ANY, ANY, /* mov D(%rdi),%r9d */
    0x48, 0x89, 0xf2,			    /* mov %rsi,%rdx */
    0x45, 0x31, 0xc0,			    /* xor %r8d,%r8d */
    0xbe, 0x17, 0x00, 0x00, 0x00,	    /* mov $0x17,%esi */
    0x48, 0x83, 0xc4, 0x08,		    /* add $8,%rsp */
    0xe9,				    /* jmp rel32 */
};
/* gnutls_record_send, whole but for the jump's displacement. */
static const uint16_t send_forward[] = {
    0x45, 0x31, 0xc0, /* xor %r8d,%r8d */
    0x31, 0xc9,	      /* xor %ecx,%ecx */
    0xe9,	      /* jmp rel32 */
};

static int32_t rel32_at(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static bool is_x86_64(int fd)
{
	Elf64_Ehdr h;

	return pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	       !memcmp(h.e_ident, ELFMAG, SELFMAG) && h.e_ident[EI_CLASS] == ELFCLASS64 &&
	       h.e_ident[EI_DATA] == ELFDATA2LSB && h.e_machine == EM_X86_64;
}

/* push %reg (50+r) or push %r8-%r15 (41 50+r): emulated by x86's uprobes
 * on every kernel smtpmon supports. */
static bool begins_with_push(int fd, uint64_t offset)
{
	uint8_t b[2];

	if (pread(fd, b, sizeof(b), (off_t)offset) != (ssize_t)sizeof(b))
		return false;
	return (b[0] >= 0x50 && b[0] <= 0x57) || (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57);
}

static bool matches(const uint8_t *code, const uint16_t *pattern, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pattern[i] != ANY && pattern[i] != code[i])
			return false;
	return true;
}

/* Up to SCAN_MAX bytes of func's code (its symbol's size) into code: how
 * many, 0 when there is no such function or nothing could be read. */
static size_t read_func(int fd, const struct elf_func *func, uint8_t *code)
{
	size_t len = func->size < SCAN_MAX ? (size_t)func->size : SCAN_MAX;
	ssize_t got;

	if (!func->offset || !len)
		return 0;
	got = pread(fd, code, len, (off_t)func->offset);
	return got > 0 ? (size_t)got : 0;
}

uint64_t probe_site_callee(int fd, const struct elf_func *wrapper)
{
	uint8_t code[SUB_RSP_IMM8_LEN + CALL_REL32_LEN];
	int64_t callee;

	if (!wrapper->offset || !is_x86_64(fd) ||
	    pread(fd, code, sizeof(code), (off_t)wrapper->offset) != (ssize_t)sizeof(code))
		return 0;
	if (code[0] != 0x48 || code[1] != 0x83 || code[2] != 0xec || code[SUB_RSP_IMM8_LEN] != 0xe8)
		return 0;
	callee = (int64_t)(wrapper->offset + sizeof(code)) + rel32_at(code + SUB_RSP_IMM8_LEN + 1);
	if (callee < (int64_t)wrapper->code_start || callee >= (int64_t)wrapper->code_end ||
	    !begins_with_push(fd, (uint64_t)callee))
		return 0;
	return (uint64_t)callee;
}

bool probe_site_reaches(int fd, const struct elf_func *func, uint64_t target)
{
	uint8_t code[SCAN_MAX];
	size_t got = read_func(fd, func, code);

	for (size_t i = 0; i + CALL_REL32_LEN <= got; i++)
		if ((code[i] == 0xe8 || code[i] == 0xe9) &&
		    (int64_t)(func->offset + i + CALL_REL32_LEN) + rel32_at(code + i + 1) ==
			(int64_t)target)
			return true;
	return false;
}

uint64_t probe_site_recv_tail(int fd, const struct elf_func *recv)
{
	const size_t tail_len = sizeof(recv_tail) / sizeof(recv_tail[0]);
	uint8_t code[SCAN_MAX];
	size_t len = read_func(fd, recv, code), at = 0, found = 0;
	int64_t target;

	if (len < sizeof(recv_head) / sizeof(recv_head[0]) || !is_x86_64(fd) ||
	    !matches(code, recv_head, sizeof(recv_head) / sizeof(recv_head[0])))
		return 0;
	for (size_t i = 0; i + tail_len + 4 <= len; i++)
		if (matches(code + i, recv_tail, tail_len)) {
			at = i + tail_len - 1; /* the jump */
			found++;
		}
	if (found != 1)
		return 0;
	target = (int64_t)(recv->offset + at + CALL_REL32_LEN) + rel32_at(code + at + 1);
	if (target < (int64_t)recv->code_start || target >= (int64_t)recv->code_end ||
	    (target >= (int64_t)recv->offset && target < (int64_t)(recv->offset + recv->size)))
		return 0;
	return recv->offset + at;
}

bool probe_site_send_forwards(int fd, const struct elf_func *send, const struct elf_func *send2)
{
	const size_t n = sizeof(send_forward) / sizeof(send_forward[0]);
	uint8_t code[SCAN_MAX], stub[2];
	size_t len = read_func(fd, send, code);
	int64_t target;

	if (len < n + 4 || !send2->offset || !is_x86_64(fd) || !matches(code, send_forward, n) ||
	    !begins_with_push(fd, send2->offset))
		return false;
	target = (int64_t)(send->offset + n + 4) + rel32_at(code + n);
	if (target == (int64_t)send2->offset)
		return true;
	return target >= (int64_t)send->code_start && target < (int64_t)send->code_end &&
	       pread(fd, stub, sizeof(stub), (off_t)target) == (ssize_t)sizeof(stub) &&
	       stub[0] == 0xff && stub[1] == 0x25;
}
