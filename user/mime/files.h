// SPDX-License-Identifier: GPL-2.0-only
/*
 * files.h - one MIME entity's content as Zeek's files.log sees it: counts,
 * digests (digests.h, cfg->file_hashes), the MIME type sniffed from the
 * first FILE_BOF_BYTES (sniff.h), and the `file` event (EV_FILE, struct
 * file_info) when it closes. A file holds at most FILE_BOF_BYTES +
 * DIGEST_BLOCK bytes of content, whatever its size.
 */
#ifndef SMTPMON_FILES_H
#define SMTPMON_FILES_H

#include "settings/config.h"
#include "mime/digests.h"
#include "output/event.h"
#include "smtp/smtp.h"

#define FILE_BOF_BYTES 4096 /* Zeek's default_file_bof_buffer_size */

struct mime_file;

/* Where the content comes from. */
struct file_origin {
	const struct conn_id *id;
	uint32_t trans_depth;
	bool is_orig;
	uint32_t depth; /* Zeek's depth: MIME entities begun on the connection */
	/* The file of the whole message (cfg->message_files): its type is
	 * message/rfc822, not sniffed, as in Zeek. */
	bool whole_message;
	const struct mime_file *parent; /* the whole message's file, or NULL */
};

/* NULL without memory (reported by the caller as lost content). digester:
 * where the digests are computed (NULL: in the calling thread). */
struct mime_file *file_open(const struct config *cfg, struct digest_worker *digester,
			    const struct file_origin *o, uint64_t now_ns);
void file_data(struct mime_file *f, const uint8_t *data, size_t len, uint64_t now_ns);
/* len bytes are missing: counted, and the hashes are dropped (Zeek stops
 * hashing at a gap). */
void file_gap(struct mime_file *f, uint64_t len, uint64_t now_ns);
/* The source did not copy (part of) the content: sizes, type and hashes are
 * unknown, the record says so (content_seen false). */
void file_unseen(struct mime_file *f);
/* Emits the file event and frees f. declared_type: the entity's
 * Content-Type ("type/subtype", lower case), filename: decoded (UTF-8);
 * either may be empty. */
void file_close(struct mime_file *f, struct bytes declared_type, struct bytes filename,
		smtp_emit_fn emit, void *ctx);

#endif
