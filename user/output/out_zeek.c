// SPDX-License-Identifier: GPL-2.0-only
/*
 * out_zeek.c - `--output zeek:DIR`: smtp.log and files.log in Zeek's JSON log
 * format (LogAscii::use_json), so that whatever reads Zeek's logs reads them
 * unchanged: one object per line, Zeek's field names in Zeek's order and
 * Zeek's JSON types (time and interval as seconds with 6 decimals, port and
 * count as numbers, addr as a string, set and vector as arrays, bool as
 * true/false), unset fields left out, no "event" key.
 *
 *   smtp.log   one line per smtp_transaction: ts uid id.orig_h id.orig_p
 *              id.resp_h id.resp_p trans_depth helo mailfrom rcptto date from
 *              to cc reply_to msg_id in_reply_to subject x_originating_ip
 *              first_received second_received last_reply path user_agent tls
 *              fuids (transaction_fields, zeek_only)
 *   files.log  one line per file event: ts fuid uid id.orig_h id.orig_p
 *              id.resp_h id.resp_p source depth analyzers mime_type filename
 *              duration is_orig seen_bytes missing_bytes overflow_bytes
 *              timedout parent_fuid md5 sha1 sha256 (the hashes that were
 *              computed; analyzers names them, as Zeek's hash analyzers do)
 *
 * Other events are not written. The files are opened for appending (created
 * OUTPUT_FILE_MODE) when the output opens, and again on reopen (SIGHUP,
 * logrotate); a failing write is reported once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/jsonw.h"
#include "output/out_common.h"
#include "output/output.h"

struct zeek_log {
	const char *name; /* "smtp.log" */
	FILE *file;
	bool write_failed;
};

struct zeek_sink {
	struct sink sink;
	struct jsonw w;
	struct zeek_log smtp, files;
};

static void hex_field(struct jsonw *w, const char *key, const uint8_t *d, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char hex[64];

	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	jsonw_key_str(w, key, (const uint8_t *)hex, 2 * len);
}

static void analyzer(struct jsonw *w, const uint8_t *digest, const char *name)
{
	if (digest)
		jsonw_str(w, (const uint8_t *)name, strlen(name));
}

static void file_fields(struct jsonw *w, const struct event *ev)
{
	const struct file_info *f = &ev->file;

	jsonw_key_time(w, "ts", ev->ts_ns);
	jsonw_key_cstr(w, "fuid", f->fuid);
	conn_id_fields(ev->id, &jsonw_fields, w);
	jsonw_key_cstr(w, "source", "SMTP");
	jsonw_key_u64(w, "depth", f->depth);
	jsonw_key_array_begin(w, "analyzers");
	analyzer(w, f->md5, "MD5");
	analyzer(w, f->sha1, "SHA1");
	analyzer(w, f->sha256, "SHA256");
	jsonw_array_end(w);
	if (f->mime_type.ptr)
		jsonw_key_str(w, "mime_type", f->mime_type.ptr, f->mime_type.len);
	if (f->filename.ptr)
		jsonw_key_str(w, "filename", f->filename.ptr, f->filename.len);
	jsonw_key_time(w, "duration", f->duration_ns);
	jsonw_key_bool(w, "is_orig", ev->is_orig);
	if (f->content_seen) { /* --bodies skip: sizes unknown, left unset */
		jsonw_key_u64(w, "seen_bytes", f->seen_bytes);
		jsonw_key_u64(w, "missing_bytes", f->missing_bytes);
		jsonw_key_u64(w, "overflow_bytes", 0);
	}
	jsonw_key_bool(w, "timedout", f->timedout);
	if (f->parent_fuid[0])
		jsonw_key_cstr(w, "parent_fuid", f->parent_fuid);
	if (f->md5)
		hex_field(w, "md5", f->md5, 16);
	if (f->sha1)
		hex_field(w, "sha1", f->sha1, 20);
	if (f->sha256)
		hex_field(w, "sha256", f->sha256, 32);
}

static void zeek_emit(struct sink *sink, const struct event *ev)
{
	struct zeek_sink *zs = (struct zeek_sink *)sink;
	struct zeek_log *log;

	if (ev->type != EV_SMTP_TRANSACTION && ev->type != EV_FILE)
		return;
	zs->w.len = 0;
	jsonw_begin(&zs->w);
	if (ev->type == EV_SMTP_TRANSACTION) {
		log = &zs->smtp;
		jsonw_key_time(&zs->w, "ts", ev->ts_ns);
		conn_id_fields(ev->id, &jsonw_fields, &zs->w);
		transaction_fields(ev, &jsonw_fields, &zs->w, true);
	} else {
		log = &zs->files;
		file_fields(&zs->w, ev);
	}
	jsonw_end(&zs->w);
	if (fwrite(zs->w.buf, 1, zs->w.len, log->file) != zs->w.len && !log->write_failed) {
		log->write_failed = true;
		fprintf(stderr, "smtpmon: zeek output: writing %s: %s\n", log->name,
			strerror(errno));
	}
}

static void log_flush(struct zeek_log *log)
{
	if (log->file && fflush(log->file) && !log->write_failed) {
		log->write_failed = true;
		fprintf(stderr, "smtpmon: zeek output: writing %s: %s\n", log->name,
			strerror(errno));
	}
}

static void zeek_flush(struct sink *sink)
{
	struct zeek_sink *zs = (struct zeek_sink *)sink;

	log_flush(&zs->smtp);
	log_flush(&zs->files);
}

static void log_close(struct zeek_log *log)
{
	log_flush(log);
	if (log->file && fclose(log->file))
		fprintf(stderr, "smtpmon: zeek output: close %s: %s\n", log->name, strerror(errno));
	log->file = NULL;
}

static void zeek_destroy(struct sink *sink)
{
	struct zeek_sink *zs = (struct zeek_sink *)sink;

	log_close(&zs->smtp);
	log_close(&zs->files);
	jsonw_free(&zs->w);
	free(zs);
}

static bool log_open(struct zeek_log *log, const char *dir, const char *name)
{
	char path[4096];

	log->name = name;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return false;
	}
	log->file = output_open_append(path);
	return log->file != NULL;
}

struct sink *sink_zeek_new(const char *dir, const char **failed)
{
	struct zeek_sink *zs = calloc(1, sizeof(*zs));

	*failed = NULL;
	if (!zs)
		return NULL;
	if (!log_open(&zs->smtp, dir, "smtp.log") || !log_open(&zs->files, dir, "files.log")) {
		int err = errno;
		*failed = zs->smtp.file ? "files.log" : "smtp.log";
		zeek_destroy(&zs->sink);
		errno = err;
		return NULL;
	}
	zs->sink.emit = zeek_emit;
	zs->sink.flush = zeek_flush;
	zs->sink.destroy = zeek_destroy;
	jsonw_init(&zs->w);
	return &zs->sink;
}
