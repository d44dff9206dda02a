// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_elf.c - libFuzzer harness for elf_func_find() and probe_site.h:
 * the library files smtpmon reads for the TLS probes include those mapped
 * by any process of the host (/proc/PID/map_files), a container's own copy
 * among them, so their ELF structure and code are hostile input.
 *
 * The input is the file, handed over as a memfd. Checked on every input:
 * no crash, leak or undefined behaviour (ASan, UBSan); a false answer
 * leaves every offset 0; the answer is the same when asked again (nothing
 * depends on state left behind); a shared callee lies in the function's
 * executable segment; a tail call site lies inside its function.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/elf_func.h"
#include "capture/probe_site.h"
#include "check_output.h"

#define NAMES 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[NAMES] = {"SSL_read", "SSL_write", "gnutls_record_recv"};
	struct elf_func first[NAMES], again[NAMES];
	int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	bool ok;

	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	ok = elf_func_find(fd, names, first, NAMES);
	for (size_t i = 0; i < NAMES && !ok; i++)
		CHECK(first[i].offset == 0);
	CHECK(elf_func_find(fd, names, again, NAMES) == ok);
	CHECK(!memcmp(first, again, sizeof(first)));
	for (size_t i = 0; i < NAMES; i++) {
		uint64_t callee = probe_site_callee(fd, &first[i]);

		CHECK(!callee || (callee >= first[i].code_start && callee < first[i].code_end));
		uint64_t tail = probe_site_recv_tail(fd, &first[i]);

		CHECK(probe_site_reaches(fd, &first[i], callee) ==
		      probe_site_reaches(fd, &first[i], callee));
		CHECK(!tail || (tail >= first[i].offset && tail < first[i].offset + first[i].size));
		CHECK(probe_site_send_forwards(fd, &first[i], &first[(i + 1) % NAMES]) ==
		      probe_site_send_forwards(fd, &first[i], &first[(i + 1) % NAMES]));
	}
	close(fd);
	return 0;
}
