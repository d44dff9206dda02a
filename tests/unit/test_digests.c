// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_digests.c - file digests computed in the worker thread (digests.h)
 * equal OpenSSL's one-shot digests of the same bytes, for many files fed in
 * turns, in pieces of every size, through more content than the worker's
 * queue holds; a dropped file has none and leaves the others right; the same
 * without a worker; the thread starts only with the first block.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mime/digests.h"

#define FILES	   7
#define FILE_BYTES (3u << 20) /* 7 files: 21 MB, 20 times the queue */
#define ALL_KINDS  ((1u << DIGEST_MD5) | (1u << DIGEST_SHA1) | (1u << DIGEST_SHA256))

struct file {
	struct digests d;
	uint8_t *content;
	size_t fed;
};

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void expect_digests(struct file *f, unsigned kinds)
{
	const EVP_MD *mds[DIGEST_KINDS] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
	uint8_t buf[DIGEST_KINDS][EVP_MAX_MD_SIZE];
	const uint8_t *out[DIGEST_KINDS];

	digests_finish(&f->d, buf, out);
	for (int k = 0; k < DIGEST_KINDS; k++) {
		uint8_t want[EVP_MAX_MD_SIZE];
		unsigned n = 0;

		if (!(kinds & (1u << k))) {
			assert_null(out[k]);
			continue;
		}
		assert_non_null(out[k]);
		assert_true(EVP_Digest(f->content, f->fed, want, &n, mds[k], NULL));
		assert_memory_equal(out[k], want, n);
	}
}

/* The blocked-signal set of the process's other thread, as
 * /proc/self/task/TID/status shows it (hex), or "" without one. */
static void other_thread_sigblk(char out[32])
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;

	assert_non_null(dir);
	out[0] = '\0';
	while ((de = readdir(dir))) {
		char path[300], line[128];
		FILE *f;

		if (de->d_name[0] == '.' || atoi(de->d_name) == gettid())
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %31s", out) == 1)
				break;
		fclose(f);
	}
	closedir(dir);
}

static int threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n - 2; /* . and .. */
}

/* Feeds every file in turns of random sizes (1 byte to 3 blocks), with file
 * `dropped` dropped half way; checks each file's digests. */
static void feed_in_turns(struct digest_worker *w, unsigned kinds, int dropped)
{
	struct file *files = calloc(FILES, sizeof(*files));
	uint32_t seed = 0x2545f491;
	size_t left = (size_t)FILES * FILE_BYTES;

	assert_non_null(files);
	for (int i = 0; i < FILES; i++) {
		files[i].content = malloc(FILE_BYTES);
		assert_non_null(files[i].content);
		for (size_t j = 0; j < FILE_BYTES; j++)
			files[i].content[j] = (uint8_t)next_random(&seed);
		digests_start(&files[i].d, kinds, w, "test");
	}
	while (left > 0) {
		struct file *f = &files[next_random(&seed) % FILES];
		size_t n = next_random(&seed) % (3 * DIGEST_BLOCK) + 1;

		if (n > FILE_BYTES - f->fed)
			n = FILE_BYTES - f->fed;
		digests_update(&f->d, f->content + f->fed, n);
		f->fed += n;
		left -= n;
		if (f == &files[dropped] && f->fed >= FILE_BYTES / 2 && digests_active(&f->d))
			digests_drop(&f->d);
	}
	for (int i = 0; i < FILES; i++) {
		expect_digests(&files[i], i == dropped ? 0 : kinds);
		free(files[i].content);
	}
	free(files);
}

static void test_worker_equals_one_shot(void **state)
{
	struct digest_worker *w = digest_worker_new();

	(void)state;
	assert_non_null(w);
	feed_in_turns(w, ALL_KINDS, -1);
	digest_worker_free(w);
}

static void test_worker_drop(void **state)
{
	struct digest_worker *w = digest_worker_new();

	(void)state;
	feed_in_turns(w, ALL_KINDS, 3);
	digest_worker_free(w);
}

static void test_worker_some_kinds(void **state)
{
	struct digest_worker *w = digest_worker_new();

	(void)state;
	feed_in_turns(w, 1u << DIGEST_SHA256, -1);
	feed_in_turns(w, (1u << DIGEST_MD5) | (1u << DIGEST_SHA1), 0);
	digest_worker_free(w);
}

static void test_inline(void **state)
{
	(void)state;
	feed_in_turns(NULL, ALL_KINDS, 2);
}

/* A process that forks before any content (the TLS attacher) must fork
 * with one thread. */
static void test_thread_starts_with_first_block(void **state)
{
	struct digest_worker *w = digest_worker_new();
	struct file f = {.content = (uint8_t *)"x"};
	uint8_t block[DIGEST_BLOCK] = {0};
	int before = threads();

	(void)state;
	digests_start(&f.d, ALL_KINDS, w, "test");
	digests_update(&f.d, f.content, 1);
	assert_int_equal(threads(), before); /* staged, not queued */
	digests_drop(&f.d);
	digests_start(&f.d, 1u << DIGEST_MD5, w, "test");
	digests_update(&f.d, block, sizeof(block));
	assert_int_equal(threads(), before + 1);
	digests_drop(&f.d); /* waits for the block: the thread has run */
	/* It takes no signal: they go to the daemon's loop. (A thread that
	 * has not run yet has them all blocked, glibc's start.) */
	char sigblk[32];

	other_thread_sigblk(sigblk);
	unsigned long long blocked = strtoull(sigblk, NULL, 16);

	assert_true(blocked & (1ull << (SIGTERM - 1)));
	assert_true(blocked & (1ull << (SIGHUP - 1)));
	assert_true(blocked & (1ull << (SIGINT - 1)));
	digest_worker_free(w);
	/* joined; the kernel drops its /proc entry a moment after the join */
	for (int i = 0; i < 1000 && threads() != before; i++)
		usleep(1000);
	assert_int_equal(threads(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_worker_equals_one_shot),
	    cmocka_unit_test(test_worker_drop),
	    cmocka_unit_test(test_worker_some_kinds),
	    cmocka_unit_test(test_inline),
	    cmocka_unit_test(test_thread_starts_with_first_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
