// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls-call-bench.c - what one call of a probed TLS library function costs a
 * process that is not SMTP (make bench, part 7; tools/bench-tls.sh runs it
 * alone and with smtpmon attached).
 *
 *   build/tools/tls-call-bench [CALLS]          (default 200000)
 *
 * Calls OpenSSL's SSL_write CALLS times on an SSL object that has no
 * connection: each call fails at once (no handshake), so what is timed is
 * the call itself, plus, with smtpmon attached, its uprobe and uretprobe and
 * their programs (the object is tied to no socket: counted, nothing copied).
 * Prints the mean nanoseconds per call, then those of a getppid() system
 * call: the machine's cost of entering the kernel, which a uprobe's traps
 * multiply (it differs tenfold between bare metal and nested virtual machines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	const char byte = 'x';
	double start;

	if (calls <= 0 || !ssl) {
		fprintf(stderr, "tls-call-bench: %s\n",
			calls <= 0 ? "usage: tls-call-bench [CALLS]" : "SSL_new failed");
		return 1;
	}
	start = now_ns();
	for (long i = 0; i < calls; i++) {
		/* Fails (SSL_R_UNINITIALIZED); the error queue is emptied so it
		 * does not grow. */
		if (SSL_write(ssl, &byte, 1) > 0) {
			fprintf(stderr, "tls-call-bench: SSL_write wrote without a connection\n");
			return 1;
		}
		ERR_clear_error();
	}
	printf("%.1f ", (now_ns() - start) / (double)calls);
	start = now_ns();
	for (long i = 0; i < calls; i++)
		getppid();
	printf("%.1f\n", (now_ns() - start) / (double)calls);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return 0;
}
