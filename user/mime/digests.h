// SPDX-License-Identifier: GPL-2.0-only
/*
 * digests.h - the digests of one file's content (md5, sha1, sha256 with
 * OpenSSL's EVP), computed in the calling thread or, given a digest worker,
 * in that worker's own thread: hashing a message's attachments then runs
 * beside the parsing instead of inside it (make bench: the default md5 and
 * sha1 took 0.45 s of the parser's 1.1 s on its 341 MB workload).
 *
 * Content is fed to the digests in blocks of DIGEST_BLOCK bytes (one update
 * per decoded line cost twice the hashing itself). With a worker, each block
 * is copied into the worker's queue of DIGEST_WORKER_SLOTS blocks: memory is
 * bounded, and a full queue makes the caller wait. The worker alone touches
 * a file's digest contexts while blocks of that file are queued;
 * digests_drop and digests_finish wait until they are done.
 *
 * One producer: every call for the files of one worker comes from one thread
 * (the pipeline's). The worker's thread starts with its first block, so a
 * process that forks before any content arrives (the TLS attacher) forks
 * with no hashing thread; when it cannot start, the content is hashed in the
 * calling thread (said once on stderr).
 */
#ifndef SMTPMON_DIGESTS_H
#define SMTPMON_DIGESTS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_BLOCK	    4096
#define DIGEST_WORKER_SLOTS 256 /* 1 MB of content queued at most */

enum digest_kind { DIGEST_MD5, DIGEST_SHA1, DIGEST_SHA256, DIGEST_KINDS };

struct digest_worker;

/* NULL without memory (the caller then hashes in its own thread). */
struct digest_worker *digest_worker_new(void);
/* Finishes the queued blocks and stops the thread. */
void digest_worker_free(struct digest_worker *w);

/* One file's digests. The fields are digests.c's alone. */
struct digests {
	struct digest_worker *worker; /* NULL: hashed in the calling thread */
	EVP_MD_CTX *md[DIGEST_KINDS]; /* NULL: not computed, dropped or failed */
	bool failed[DIGEST_KINDS];    /* an update failed (set by the hashing thread) */
	uint64_t last_job;	      /* the worker's number of this file's last block */
	size_t staged_len;
	uint8_t staged[DIGEST_BLOCK];
};

/* kinds: a bit (1 << enum digest_kind) per digest to compute. A digest that
 * cannot be set up is left out and named on stderr with `what` (the file). */
void digests_start(struct digests *d, unsigned kinds, struct digest_worker *w, const char *what);
/* Whether any digest is still being computed. */
bool digests_active(const struct digests *d);
void digests_update(struct digests *d, const uint8_t *data, size_t len);
/* No digest of this file any more (its content has a hole). */
void digests_drop(struct digests *d);
/* out[k] points into buf[k] when digest k was computed, NULL if not; the
 * contexts are freed. */
void digests_finish(struct digests *d, uint8_t buf[DIGEST_KINDS][EVP_MAX_MD_SIZE],
		    const uint8_t *out[DIGEST_KINDS]);

#endif
