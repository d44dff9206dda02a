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

/* For each names[i], offsets[i]: the file offset of the defined function of
 * that name in the ELF file open at fd (its dynamic symbols, else its
 * symbol table), or 0 when it is not there. False when fd is no ELF file
 * libelf can read. */
bool elf_func_offsets(int fd, const char *const *names, uint64_t *offsets, size_t n);

#endif
