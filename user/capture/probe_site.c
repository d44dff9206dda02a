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
	size_t len = func->size < sizeof(code) ? (size_t)func->size : sizeof(code);
	ssize_t got;

	if (!func->offset || !len)
		return false;
	got = pread(fd, code, len, (off_t)func->offset);
	if (got < CALL_REL32_LEN)
		return false;
	for (size_t i = 0; i + CALL_REL32_LEN <= (size_t)got; i++)
		if ((code[i] == 0xe8 || code[i] == 0xe9) &&
		    (int64_t)(func->offset + i + CALL_REL32_LEN) + rel32_at(code + i + 1) ==
			(int64_t)target)
			return true;
	return false;
}
