// SPDX-License-Identifier: GPL-2.0-only
/* elf_func.c - see elf_func.h. */
#include <gelf.h>
#include <libelf.h>
#include <string.h>

#include "capture/elf_func.h"

/* The function at virtual address addr, in file offsets: in the executable
 * loadable segment that holds it (all 0 when none does). */
static struct elf_func in_file(Elf *e, uint64_t addr, uint64_t size)
{
	size_t nph;

	if (elf_getphdrnum(e, &nph))
		return (struct elf_func){0};
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_memsz)
			return (struct elf_func){
			    .offset = addr - ph.p_vaddr + ph.p_offset,
			    .size = size,
			    .code_start = ph.p_offset,
			    .code_end = ph.p_offset + ph.p_filesz,
			};
	}
	return (struct elf_func){0};
}

/* Looks names up in the symbol section scn; fills the funcs not found yet. */
static void look_up(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, const char *const *names,
		    struct elf_func *funcs, size_t n)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; data && i < count; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    !(name = elf_strptr(e, sh->sh_link, sym.st_name)))
			continue;
		for (size_t k = 0; k < n; k++)
			if (!funcs[k].offset && !strcmp(name, names[k]))
				funcs[k] = in_file(e, sym.st_value, sym.st_size);
	}
}

bool elf_func_find(int fd, const char *const *names, struct elf_func *funcs, size_t n)
{
	Elf *e;

	memset(funcs, 0, n * sizeof(*funcs));
	if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return false;
	if (elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		return false;
	}
	/* .dynsym first: a stripped library has no other. */
	for (int pass = 0; pass < 2; pass++)
		for (Elf_Scn *scn = elf_nextscn(e, NULL); scn; scn = elf_nextscn(e, scn)) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) &&
			    sh.sh_type == (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB))
				look_up(e, scn, &sh, names, funcs, n);
		}
	elf_end(e);
	return true;
}
