// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_probe_site.c - probe_site.h on code written here, byte by byte, into
 * a memfd behind an x86-64 ELF header: the thin wrapper's callee is taken
 * only in the exact shape (sub $imm8,%rsp; call to a push), and a direct
 * call or jump is found where it is and nowhere else; GnuTLS's recv tail
 * call and send forward (the bytes of Debian 12's libgnutls.so.30, only
 * the displacements changed) are taken, and nothing near them.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/probe_site.h"

#define CODE_START 0x1000
#define CODE_END   0x2000
#define WRAPPER	   0x1000
#define CALLEE	   0x1100
#define OTHER	   0x1200

static void put_rel32(uint8_t *p, int64_t rel)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)((uint64_t)rel >> (8 * i));
}

/* file: int3 everywhere behind an ELF header for machine. */
static void start_file(uint8_t *file, uint16_t machine)
{
	Elf64_Ehdr *h = (Elf64_Ehdr *)file;

	memset(file, 0xcc, CODE_END);
	memset(h, 0, sizeof(*h));
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_machine = machine;
}

/* A memfd: an ELF header for machine, then at WRAPPER "sub $8,%rsp; call
 * CALLEE", at CALLEE first_byte (and 0x56), at OTHER a function whose call
 * at OTHER + 7 goes to CALLEE. */
static int write_code(uint16_t machine, uint8_t first_byte)
{
	static uint8_t file[CODE_END];
	int fd = memfd_create("probe_site", MFD_CLOEXEC);
	const uint8_t wrapper[] = {0x48, 0x83, 0xec, 0x08, 0xe8};
	const uint8_t other[] = {0x48, 0x83, 0xec, 0x18, 0x48, 0x63, 0xd2, 0xe8};

	assert_true(fd >= 0);
	start_file(file, machine);
	memcpy(file + WRAPPER, wrapper, sizeof(wrapper));
	put_rel32(file + WRAPPER + 5, CALLEE - (WRAPPER + 9));
	file[CALLEE] = first_byte;
	file[CALLEE + 1] = 0x56;
	memcpy(file + OTHER, other, sizeof(other));
	put_rel32(file + OTHER + 8, CALLEE - (OTHER + 12));
	assert_int_equal(write(fd, file, sizeof(file)), sizeof(file));
	return fd;
}

static struct elf_func func_at(uint64_t offset, uint64_t size)
{
	return (struct elf_func){
	    .offset = offset, .size = size, .code_start = CODE_START, .code_end = CODE_END};
}

static void wrapper_to_a_push(void **state)
{
	const struct elf_func wrapper = func_at(WRAPPER, 32);
	int fd;

	(void)state;
	fd = write_code(EM_X86_64, 0x41); /* push %r14 */
	assert_int_equal(probe_site_callee(fd, &wrapper), CALLEE);
	close(fd);
	fd = write_code(EM_X86_64, 0x55); /* push %rbp */
	assert_int_equal(probe_site_callee(fd, &wrapper), CALLEE);
	close(fd);
}

static void other_shapes_are_left_alone(void **state)
{
	const struct elf_func wrapper = func_at(WRAPPER, 32);
	const struct elf_func outside = {
	    .offset = WRAPPER, .size = 32, .code_start = WRAPPER, .code_end = CALLEE};
	const struct elf_func not_a_wrapper = func_at(OTHER, 32);
	const struct elf_func none = func_at(0, 0);
	int fd;

	(void)state;
	fd = write_code(EM_X86_64, 0x48); /* sub: single-stepped, no gain */
	assert_int_equal(probe_site_callee(fd, &wrapper), 0);
	close(fd);
	fd = write_code(EM_AARCH64, 0x41);
	assert_int_equal(probe_site_callee(fd, &wrapper), 0);
	close(fd);
	fd = write_code(EM_X86_64, 0x41);
	assert_int_equal(probe_site_callee(fd, &outside), 0);
	/* movslq %edx,%rdx before its call: the callee's arguments differ. */
	assert_int_equal(probe_site_callee(fd, &not_a_wrapper), 0);
	assert_int_equal(probe_site_callee(fd, &none), 0);
	close(fd);
}

static void calls_found_where_they_are(void **state)
{
	int fd = write_code(EM_X86_64, 0x41);
	const struct elf_func other = func_at(OTHER, 16);
	const struct elf_func cut = func_at(OTHER, 10); /* ends inside the call */
	const struct elf_func wrapper = func_at(WRAPPER, 9);

	(void)state;
	assert_true(probe_site_reaches(fd, &other, CALLEE));
	assert_false(probe_site_reaches(fd, &other, CALLEE + 1));
	assert_false(probe_site_reaches(fd, &cut, CALLEE));
	assert_true(probe_site_reaches(fd, &wrapper, CALLEE));
	assert_false(probe_site_reaches(fd, &other, WRAPPER));
	close(fd);
}

#define RECV	  0x1300
#define RECV_TAIL 0x1340 /* the jump */
#define SEND	  0x1400
#define SEND2	  0x1500
#define PLT	  0x1600

/* gnutls_record_recv's shape at RECV, its tail call to CALLEE; SEND jumps
 * to jump_to, SEND2 begins with a push, PLT holds a PLT stub. */
static int write_gnutls(uint64_t jump_to)
{
	static uint8_t file[CODE_END];
	int fd = memfd_create("probe_site_gnutls", MFD_CLOEXEC);
	const uint8_t head[] = {0x48, 0x83, 0xec, 0x08, 0x80, 0xbf, 0xb8, 0x06,
				0x00, 0x00, 0x00, 0x48, 0x89, 0xd1, 0x74, 0x40};
	const uint8_t tail[] = {0x44, 0x8b, 0x8f, 0x70, 0x07, 0x00, 0x00, 0x48,
				0x89, 0xf2, 0x45, 0x31, 0xc0, 0xbe, 0x17, 0x00,
				0x00, 0x00, 0x48, 0x83, 0xc4, 0x08, 0xe9};
	const uint8_t send[] = {0x45, 0x31, 0xc0, 0x31, 0xc9, 0xe9};

	assert_true(fd >= 0);
	start_file(file, EM_X86_64);
	file[CALLEE] = 0x41;
	file[CALLEE + 1] = 0x57;
	memcpy(file + RECV, head, sizeof(head));
	memcpy(file + RECV_TAIL - (sizeof(tail) - 1), tail, sizeof(tail));
	put_rel32(file + RECV_TAIL + 1, CALLEE - (RECV_TAIL + 5));
	memcpy(file + SEND, send, sizeof(send));
	put_rel32(file + SEND + 6, (int64_t)jump_to - (SEND + 10));
	file[SEND2] = 0x41;
	file[SEND2 + 1] = 0x57;
	file[PLT] = 0xff;
	file[PLT + 1] = 0x25;
	assert_int_equal(write(fd, file, sizeof(file)), sizeof(file));
	return fd;
}

static void gnutls_recv_tail_call(void **state)
{
	const struct elf_func recv = func_at(RECV, 0x60);
	/* Ends before the jump's displacement. */
	const struct elf_func recv_cut = func_at(RECV, RECV_TAIL + 3 - RECV);
	/* The head's mov %rdx,%rcx missing: another shape. */
	const struct elf_func other = func_at(RECV + 4, 0x5c);
	/* The callee outside recv's executable segment. */
	const struct elf_func outside = {
	    .offset = RECV, .size = 0x60, .code_start = RECV, .code_end = CODE_END};
	uint8_t rel[4];
	int fd = write_gnutls(SEND2);

	(void)state;
	assert_int_equal(probe_site_recv_tail(fd, &recv), RECV_TAIL);
	assert_int_equal(probe_site_recv_tail(fd, &recv_cut), 0);
	assert_int_equal(probe_site_recv_tail(fd, &other), 0);
	assert_int_equal(probe_site_recv_tail(fd, &outside), 0);
	/* A jump back into recv itself: a branch, not a tail call. */
	put_rel32(rel, RECV + 0x10 - (RECV_TAIL + 5));
	assert_int_equal(pwrite(fd, rel, sizeof(rel), RECV_TAIL + 1), sizeof(rel));
	assert_int_equal(probe_site_recv_tail(fd, &recv), 0);
	close(fd);
}

static void gnutls_send_forward(void **state)
{
	const struct elf_func send = func_at(SEND, 16), send2 = func_at(SEND2, 64);
	const struct elf_func not_push = func_at(SEND2 + 1, 63), none = func_at(0, 0);
	int fd = write_gnutls(SEND2);

	(void)state;
	assert_true(probe_site_send_forwards(fd, &send, &send2));
	assert_false(probe_site_send_forwards(fd, &send, &not_push));
	assert_false(probe_site_send_forwards(fd, &send, &none));
	close(fd);
	fd = write_gnutls(PLT); /* through a PLT stub */
	assert_true(probe_site_send_forwards(fd, &send, &send2));
	close(fd);
	fd = write_gnutls(CALLEE); /* to a function that is neither */
	assert_false(probe_site_send_forwards(fd, &send, &send2));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(wrapper_to_a_push),
	    cmocka_unit_test(other_shapes_are_left_alone),
	    cmocka_unit_test(calls_found_where_they_are),
	    cmocka_unit_test(gnutls_recv_tail_call),
	    cmocka_unit_test(gnutls_send_forward),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
