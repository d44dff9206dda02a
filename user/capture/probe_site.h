// SPDX-License-Identifier: GPL-2.0-only
/*
 * probe_site.h - where a TLS function's uprobe costs least (x86-64).
 *
 * A uprobe replaces an instruction with a breakpoint. The kernel then either
 * emulates the instruction (a push of a register, a call, a jump) or runs a
 * copy of it out of line, single-stepped: a second trap. Where the second
 * trap leaves a virtual machine, it is most of the cost (measured here, a
 * Firecracker guest on 6.18: 10 us a call single-stepped, 0.8 us emulated;
 * docs/tls-plaintext.md, "Cost"). OpenSSL 3.0's SSL_read_ex and
 * SSL_write_ex begin with "sub $N,%rsp", which is single-stepped, and are
 * thin wrappers: they call one internal function with their own arguments,
 * the same one SSL_read and SSL_write call, and that one begins with a push.
 * A probe there sees both public functions' calls, each once, cheaply.
 *
 * GnuTLS 3.7's gnutls_record_recv also begins with "sub $8,%rsp"; it tests
 * the session for kernel TLS, then tail-calls its internal reader with the
 * caller's buffer and size moved into the third and fourth argument
 * registers. A uprobe on that jump (emulated) sees the call's arguments, and
 * a return probe there sees its result: a tail jump leaves the stack as the
 * function found it, the caller's return address on top. Its
 * gnutls_record_send is "xor %r8d,%r8d; xor %ecx,%ecx; jmp" through the PLT
 * to gnutls_record_send2 (its documented equivalent, with zero padding and
 * flags), which begins with a push: probed there, with the same arguments.
 *
 * Only those exact shapes are taken: any other code (another version, another
 * compiler, another architecture) leaves the public functions probed as they
 * are. Reads the code through fd (pread), never maps or runs it.
 */
#ifndef SMTPMON_PROBE_SITE_H
#define SMTPMON_PROBE_SITE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/elf_func.h"

/* The file offset of the function that wrapper only calls: when fd is an
 * x86-64 ELF file, wrapper's code begins with "sub $imm8,%rsp; call rel32"
 * (its argument registers untouched), the callee lies in the wrapper's
 * executable segment and begins with a push of a register. Else 0. */
uint64_t probe_site_callee(int fd, const struct elf_func *wrapper);

/* True when func's code (its symbol's size, at most 4 KiB) holds a direct
 * call or jump (e8 or e9 with rel32) to the file offset target. */
bool probe_site_reaches(int fd, const struct elf_func *func, uint64_t target);

/* The file offset of recv's tail jump when recv (gnutls_record_recv) has
 * exactly the shape of GnuTLS 3.7 on x86-64, displacements aside:
 *   sub $8,%rsp; cmpb $0,D(%rdi); mov %rdx,%rcx; ...
 *   mov D(%rdi),%r9d; mov %rsi,%rdx; xor %r8d,%r8d; mov $0x17,%esi;
 *   add $8,%rsp; jmp F
 * once, F in recv's executable segment and outside recv. There the object is
 * in the first argument register, the buffer in the third. Else 0. Sessions
 * with kernel TLS on take the other branch and are not seen there. */
uint64_t probe_site_recv_tail(int fd, const struct elf_func *recv);

/* True when send's code (gnutls_record_send) is exactly "xor %r8d,%r8d;
 * xor %ecx,%ecx; jmp" to send2 or to a PLT stub ("jmp *D(%rip)"), and send2
 * (gnutls_record_send2) begins with a push. */
bool probe_site_send_forwards(int fd, const struct elf_func *send, const struct elf_func *send2);

#endif
