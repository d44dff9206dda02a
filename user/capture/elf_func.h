// SPDX-License-Identifier: GPL-2.0-only
/*
 * elf_func.h - where functions are in a shared library file, as uprobes
 * want it: the file offset of the code. libbpf finds it by name on every
 * attach, parsing the ELF file each time; the probes are attached per
 * process (tls_attach.h), so the offsets are found once per file here.
 */
#ifndef SMTPMON_ELF_FUNC_H
#define SMTPMON_ELF_FUNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A function's code, in file offsets. */
struct elf_func {
	uint64_t offset; /* of its first instruction; 0: no such function */
	uint64_t size;	 /* its symbol's size in bytes (0 when the symbol has none) */
	/* The executable segment that holds it: [code_start, code_end). */
	uint64_t code_start, code_end;
};

/* For each names[i], funcs[i]: the defined function of that name in the ELF
 * file open at fd (its dynamic symbols, else its symbol table), all 0 when
 * it is not there. False when fd is no ELF file libelf can read. */
bool elf_func_find(int fd, const char *const *names, struct elf_func *funcs, size_t n);

#endif
