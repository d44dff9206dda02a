// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_elf_func.c - the file offsets elf_func_find() finds for uprobes,
 * against the dynamic loader: for functions of libcrypto (which this test
 * links), the bytes of the library file at the offset found are the bytes
 * of the code the loader mapped at the function's address (dlsym). A name
 * the library lacks gives 0, a file that is not ELF false.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "capture/elf_func.h"

#define CODE_BYTES 16

static void offsets_point_at_the_code(void **state)
{
	static const char *const names[] = {"EVP_DigestInit_ex", "EVP_MD_CTX_new",
					    "OPENSSL_init_crypto", "no_such_function_here"};
	struct elf_func funcs[4];
	const void *first = dlsym(RTLD_DEFAULT, names[0]);
	Dl_info info;
	int fd;

	(void)state;
	/* Keep libcrypto linked in: this test's oracle is its loaded code. */
	EVP_MD_CTX_free(EVP_MD_CTX_new());
	assert_non_null(first);
	assert_true(dladdr(first, &info));
	fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(elf_func_find(fd, names, funcs, 4));
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *code = dlsym(RTLD_DEFAULT, names[i]);
		uint8_t in_file[CODE_BYTES];

		assert_non_null(code);
		print_message("%s: offset 0x%llx in %s\n", names[i],
			      (unsigned long long)funcs[i].offset, info.dli_fname);
		assert_true(funcs[i].offset != 0);
		assert_true(funcs[i].size > 0);
		assert_true(funcs[i].code_start <= funcs[i].offset &&
			    funcs[i].offset + funcs[i].size <= funcs[i].code_end);
		assert_int_equal(pread(fd, in_file, sizeof(in_file), (off_t)funcs[i].offset),
				 sizeof(in_file));
		assert_memory_equal(in_file, code, sizeof(in_file));
	}
	assert_true(funcs[3].offset == 0 && funcs[3].size == 0);
	close(fd);
}

static void not_elf(void **state)
{
	static const char *const names[] = {"main"};
	struct elf_func func = {.offset = 1};
	int fd = open("tests/unit/test_elf_func.c", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_false(elf_func_find(fd, names, &func, 1));
	assert_true(func.offset == 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(offsets_point_at_the_code),
	    cmocka_unit_test(not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
