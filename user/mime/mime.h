// SPDX-License-Identifier: GPL-2.0-only
/*
 * mime.h - streaming MIME parser of the messages an SMTP session carries
 * (Zeek's MIME analyzer, src/analyzer/protocol/mime/MIME.cc of Zeek 9.1.0-dev;
 * differences in docs/zeek-differences.md, design in docs/mime.md).
 *
 * One struct mime per connection, fed with the session's content hook
 * (smtp_set_content_hook) one line at a time. It follows multipart bodies
 * and nested message/... entities, decodes base64 and quoted-printable, and
 * hands each leaf entity's decoded bytes to files.c, which emits one `file`
 * event (EV_FILE) per entity with content, as Zeek's files.log. With
 * cfg->message_files the message as sent is a file too (message/rfc822, the
 * parent of its parts' files, emitted after them). Memory is
 * bounded whatever the message: at most MIME_MAX_DEPTH nested entities
 * (deeper ones are not split: weird exceeded_mime_max_depth), a header keeps
 * at most MIME_MAX_HEADER_BYTES (weird exceeded_mime_max_header_bytes), a
 * line is cut by the SMTP stage already; decoded bytes are never buffered
 * beyond the 4096 bytes used to sniff the content type.
 *
 * With cfg->files off only the top-level header block is parsed (for the
 * header hook); bodies are not looked at.
 */
#ifndef SMTPMON_MIME_H
#define SMTPMON_MIME_H

#include "settings/config.h"
#include "mime/digests.h"
#include "output/event.h"
#include "smtp/smtp.h"

#define MIME_MAX_DEPTH	      100   /* Zeek's MIME::max_depth */
#define MIME_MAX_HEADER_BYTES 65536 /* Zeek's MIME::max_header_bytes */

struct mime;

/*
 * Header hook: every header of a message's TOP-LEVEL header block (not those
 * of its parts or of attached messages), in order, as it completes. name is
 * the field name as sent (Zeek's original_name: compare case-insensitively);
 * value is unfolded (continuation lines appended without their line break,
 * so "a\r\n b" gives "a b") with the white space after the colon removed,
 * otherwise raw (encoded words are left as they are: encoded_words.h decodes
 * them). A header longer than MIME_MAX_HEADER_BYTES comes cut. Lines without
 * a colon are dropped, as Zeek does. id, trans_depth and is_orig are those of
 * the message's content callbacks (smtp.h). Valid only during the call.
 */
struct mime_header {
	const struct conn_id *id;
	uint32_t trans_depth;
	bool is_orig;
	struct bytes name;
	struct bytes value;
};
typedef void (*mime_header_fn)(void *ctx, const struct mime_header *h);

/* emit gets EV_FILE and EV_WEIRD events with ts_ns and id left to fill (as
 * smtp_emit_fn); digester: where the files' digests are computed (NULL: in
 * the calling thread; one worker may serve every parser of one thread).
 * NULL without memory. */
struct mime *mime_new(const struct config *cfg, struct digest_worker *digester, smtp_emit_fn emit,
		      void *ctx);
void mime_free(struct mime *m);
/* One hook per parser (a later call replaces it; fn NULL removes it). */
void mime_set_header_hook(struct mime *m, mime_header_fn fn, void *ctx);
/* The next content callback of the session; now_ns: the time it was seen
 * (a file's ts is that of its first byte). END closes every open entity and
 * emits their files. */
void mime_content(struct mime *m, const struct smtp_content *c, uint64_t now_ns);

#endif
