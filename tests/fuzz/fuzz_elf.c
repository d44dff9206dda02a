// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_elf.c - libFuzzer harness for elf_func_offsets(): the library files
 * smtpmon reads for the TLS probes include those mapped by any process of
 * the host (/proc/PID/map_files), a container's own copy among them, so
 * their ELF structure is hostile input.
 *
 * The input is the file, handed over as a memfd. Checked on every input:
 * no crash, leak or undefined behaviour (ASan, UBSan); a false answer
 * leaves every offset 0; the answer is the same when asked again (nothing
 * depends on state left behind).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/elf_func.h"
#include "check_output.h"

#define NAMES 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[NAMES] = {"SSL_read", "SSL_write", "gnutls_record_recv"};
	uint64_t first[NAMES], again[NAMES];
	int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	bool ok;

	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	ok = elf_func_offsets(fd, names, first, NAMES);
	for (size_t i = 0; i < NAMES && !ok; i++)
		CHECK(first[i] == 0);
	CHECK(elf_func_offsets(fd, names, again, NAMES) == ok);
	CHECK(!memcmp(first, again, sizeof(first)));
	close(fd);
	return 0;
}
