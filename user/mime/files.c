// SPDX-License-Identifier: GPL-2.0-only
/* files.c - one entity's content: counts, digests, sniffed type, the file
 * event (contract in files.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/files.h"
#include "mime/sniff.h"

_Static_assert(FILE_HASH_MD5 == 1u << DIGEST_MD5 && FILE_HASH_SHA1 == 1u << DIGEST_SHA1 &&
		   FILE_HASH_SHA256 == 1u << DIGEST_SHA256,
	       "cfg->file_hashes is a set of digest kinds");

struct mime_file {
	struct file_info info;
	uint64_t first_ns, last_ns;
	bool is_orig;
	struct digests digests;
	size_t bof_len;
	uint8_t bof[FILE_BOF_BYTES];
	uint8_t digest[DIGEST_KINDS][EVP_MAX_MD_SIZE];
	char type[SNIFF_TYPE_MAX];
};

/* ---- file ids ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* "F" + 17 base62 digits, like Zeek's, derived from the connection's uid, the
 * transaction and the entity number: the same input gives the same ids. */
static void make_fuid(char out[FILE_ID_SIZE], const struct file_origin *o)
{
	static const char digits[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = o->id ? o->id->uid : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = mix64(h ^ ((uint64_t)o->trans_depth << 32 | o->depth) ^ (o->whole_message ? 0x5a : 0));
	uint64_t d = h;

	out[0] = 'F';
	for (int i = 1; i <= 17; i++) {
		if (i == 11) /* 62^10 < 2^64: a second word for the last 7 digits */
			d = mix64(h + 0x9e3779b97f4a7c15ull);
		out[i] = digits[d % 62];
		d /= 62;
	}
	out[18] = '\0';
}

/* ---- public interface ---------------------------------------------------- */

struct mime_file *file_open(const struct config *cfg, struct digest_worker *digester,
			    const struct file_origin *o, uint64_t now_ns)
{
	struct mime_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	make_fuid(f->info.fuid, o);
	if (o->parent)
		memcpy(f->info.parent_fuid, o->parent->info.fuid, sizeof(f->info.parent_fuid));
	f->info.whole_message = o->whole_message;
	f->info.depth = o->depth;
	f->info.trans_depth = o->trans_depth;
	f->info.content_seen = true;
	f->first_ns = f->last_ns = now_ns;
	digests_start(&f->digests, cfg->file_hashes, digester, f->info.fuid);
	f->is_orig = o->is_orig;
	return f;
}

void file_data(struct mime_file *f, const uint8_t *data, size_t len, uint64_t now_ns)
{
	if (!f->info.content_seen || len == 0)
		return;
	/* the beginning is kept for sniffing; a whole message's type is set */
	if (!f->info.whole_message && f->bof_len < FILE_BOF_BYTES) {
		size_t n = FILE_BOF_BYTES - f->bof_len < len ? FILE_BOF_BYTES - f->bof_len : len;

		memcpy(f->bof + f->bof_len, data, n);
		f->bof_len += n;
	}
	digests_update(&f->digests, data, len);
	f->info.seen_bytes += len;
	f->last_ns = now_ns;
}

void file_gap(struct mime_file *f, uint64_t len, uint64_t now_ns)
{
	f->info.missing_bytes += len;
	f->last_ns = now_ns;
	digests_drop(&f->digests);
}

void file_unseen(struct mime_file *f)
{
	f->info.content_seen = false;
	f->info.seen_bytes = f->info.missing_bytes = 0;
	f->bof_len = 0;
	digests_drop(&f->digests);
}

void file_close(struct mime_file *f, struct bytes declared_type, struct bytes filename,
		smtp_emit_fn emit, void *ctx)
{
	struct event ev = {.type = EV_FILE, .is_orig = f->is_orig, .ts_ns = f->first_ns};
	const uint8_t *digest[DIGEST_KINDS];

	digests_finish(&f->digests, f->digest, digest);
	f->info.md5 = digest[DIGEST_MD5];
	f->info.sha1 = digest[DIGEST_SHA1];
	f->info.sha256 = digest[DIGEST_SHA256];
	f->type[0] = '\0';
	if (f->info.whole_message)
		snprintf(f->type, sizeof(f->type), "message/rfc822");
	else if (f->info.content_seen && f->bof_len > 0)
		sniff_type(f->bof, f->bof_len, f->type);
	f->info.mime_type = (struct bytes){(const uint8_t *)f->type, strlen(f->type)};
	if (!f->type[0])
		f->info.mime_type.ptr = NULL;
	f->info.declared_type = declared_type.len ? declared_type : (struct bytes){NULL, 0};
	f->info.filename = filename.len ? filename : (struct bytes){NULL, 0};
	f->info.duration_ns = f->last_ns - f->first_ns;
	ev.file = f->info;
	emit(ctx, &ev);
	free(f);
}
