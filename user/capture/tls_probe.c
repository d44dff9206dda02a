// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls_probe.c - TLS library files, the probes on them, their counters
 * (contract in tls_probe.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/bpf_log.h"
#include "capture/tls_probe.h"
#include "tls.skel.h"

const char *const tls_probe_lib_names[SMTPMON_TLS_LIB_MAX] = {
    [SMTPMON_TLS_OPENSSL] = "openssl",
    [SMTPMON_TLS_GNUTLS] = "gnutls",
};

const char *const tls_probe_stat_names[SMTPMON_TLS_STAT_MAX] = {
    [SMTPMON_TLS_STAT_CALLS] = "calls",
    [SMTPMON_TLS_STAT_COPIED_BYTES] = "copied_bytes",
    [SMTPMON_TLS_STAT_RECORDS] = "records",
    [SMTPMON_TLS_STAT_NOT_MONITORED] = "not_monitored",
    [SMTPMON_TLS_STAT_NO_SOCKET] = "no_socket",
    [SMTPMON_TLS_STAT_RING_DROPS] = "ring_drops",
    [SMTPMON_TLS_STAT_RING_DROP_BYTES] = "ring_drop_bytes",
    [SMTPMON_TLS_STAT_TRUNCATED_BYTES] = "truncated_bytes",
    [SMTPMON_TLS_STAT_SKIPPED_BYTES] = "skipped_bytes",
};

/* The library files by their soname, and the functions probed in each:
 * entry and return programs (no return program: the object is freed). */
static const char *const sonames[SMTPMON_TLS_LIB_MAX] = {
    [SMTPMON_TLS_OPENSSL] = "libssl.so.3",
    [SMTPMON_TLS_GNUTLS] = "libgnutls.so.30",
};

struct probe_spec {
	enum smtpmon_tls_lib lib;
	const char *func, *entry, *ret;
};

static const struct probe_spec probes[] = {
    {SMTPMON_TLS_OPENSSL, "SSL_read", "openssl_read", "tls_ret_int"},
    {SMTPMON_TLS_OPENSSL, "SSL_write", "openssl_write", "tls_ret_int"},
    {SMTPMON_TLS_OPENSSL, "SSL_read_ex", "openssl_read_ex", "tls_ret_int"},
    {SMTPMON_TLS_OPENSSL, "SSL_write_ex", "openssl_write_ex", "tls_ret_int"},
    {SMTPMON_TLS_OPENSSL, "SSL_free", "tls_free", NULL},
    {SMTPMON_TLS_GNUTLS, "gnutls_record_recv", "gnutls_recv", "tls_ret_long"},
    {SMTPMON_TLS_GNUTLS, "gnutls_record_send", "gnutls_send", "tls_ret_long"},
    /* Its sends repeat what corked gnutls_record_send calls passed. */
    {SMTPMON_TLS_GNUTLS, "gnutls_record_uncork", "gnutls_uncork", "gnutls_uncork_ret"},
    {SMTPMON_TLS_GNUTLS, "gnutls_deinit", "tls_free", NULL},
};

/* Where distributions keep their libraries (Debian's multiarch first). */
static const char *const lib_dirs[] = {
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
};

struct lib_file {
	char path[TLS_PROBE_PATH_MAX];	/* to attach to: may be /proc/PID/map_files/... */
	char shown[TLS_PROBE_PATH_MAX]; /* for people: the file's own name */
	dev_t dev;
	ino_t ino;
	enum smtpmon_tls_lib lib;
	unsigned procs; /* processes seen mapping it */
	bool attached;
};

struct tls_probe {
	struct tls_bpf *skel;
	struct lib_file files[TLS_PROBE_MAX_FILES];
	size_t nfiles;
	struct bpf_link **links;
	size_t nlinks, links_cap;
};

static int lib_of(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (int i = 0; i < SMTPMON_TLS_LIB_MAX; i++)
		if (!strncmp(base, sonames[i], strlen(sonames[i])) &&
		    (!base[strlen(sonames[i])] || base[strlen(sonames[i])] == ' '))
			return i;
	return -1;
}

/* Adds the file at path (once per inode). */
static void add_file(struct tls_probe *t, const char *path, const char *shown, int lib)
{
	struct stat st;

	if (lib < 0 || stat(path, &st) || !S_ISREG(st.st_mode))
		return;
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].dev == st.st_dev && t->files[i].ino == st.st_ino) {
			t->files[i].procs++;
			return;
		}
	if (t->nfiles == TLS_PROBE_MAX_FILES)
		return;
	struct lib_file *f = &t->files[t->nfiles++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->shown, sizeof(f->shown), "%s", shown);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->lib = lib;
	f->procs = strncmp(path, "/proc/", 6) ? 0 : 1;
}

/* The TLS libraries mapped by process pid. */
static void scan_process(struct tls_probe *t, int pid)
{
	char maps[64], line[512], range[64], where[TLS_PROBE_PATH_MAX];
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return; /* gone, or a kernel thread */
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');
		int lib;

		if (!path || (lib = lib_of(path)) < 0 || sscanf(line, "%63s", range) != 1)
			continue;
		path[strcspn(path, "\n")] = '\0';
		snprintf(where, sizeof(where), "/proc/%d/map_files/%.63s", pid, range);
		add_file(t, where, path, lib);
	}
	fclose(f);
}

static void find_files(struct tls_probe *t, const struct tls_probe_opts *opts)
{
	char path[TLS_PROBE_PATH_MAX];
	struct dirent *e;
	DIR *proc = opendir("/proc");

	while (proc && (e = readdir(proc)))
		if (isdigit((unsigned char)e->d_name[0]))
			scan_process(t, atoi(e->d_name));
	if (proc)
		closedir(proc);
	for (size_t d = 0; d < sizeof(lib_dirs) / sizeof(lib_dirs[0]); d++)
		for (int lib = 0; lib < SMTPMON_TLS_LIB_MAX; lib++) {
			snprintf(path, sizeof(path), "%s/%s", lib_dirs[d], sonames[lib]);
			add_file(t, path, path, lib);
		}
	for (size_t i = 0; i < opts->nextra; i++) {
		int lib = lib_of(opts->extra[i]);

		if (lib < 0)
			fprintf(stderr, "smtpmon: TLS library %s: not %s or %s; not probed\n",
				opts->extra[i], sonames[0], sonames[1]);
		add_file(t, opts->extra[i], opts->extra[i], lib);
	}
}

static bool keep_link(struct tls_probe *t, struct bpf_link *link)
{
	if (t->nlinks == t->links_cap) {
		size_t cap = t->links_cap ? t->links_cap * 2 : 32;
		struct bpf_link **l = realloc(t->links, cap * sizeof(*l));

		if (!l) {
			bpf_link__destroy(link);
			return false;
		}
		t->links = l;
		t->links_cap = cap;
	}
	t->links[t->nlinks++] = link;
	return true;
}

static bool attach_one(struct tls_probe *t, const struct lib_file *f, const char *func,
		       const char *prog_name, bool retprobe)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(t->skel->obj, prog_name);
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = func, .retprobe = retprobe);
	struct bpf_link *link;

	link = prog ? bpf_program__attach_uprobe_opts(prog, -1, f->path, 0, &o) : NULL;
	if (!link) {
		int err = errno;

		/* CAP_PERFMON was enough until the kernels of July 2025. */
		fprintf(stderr, "smtpmon: TLS plaintext: %sprobe on %s in %s: %s%s\n",
			retprobe ? "return " : "", func, f->shown, strerror(err),
			err == EACCES ? " (uprobes need CAP_SYS_ADMIN)" : "");
		return false;
	}
	return keep_link(t, link);
}

static bool attach_file(struct tls_probe *t, const struct lib_file *f)
{
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct probe_spec *p = &probes[i];

		if (p->lib != f->lib)
			continue;
		if (!attach_one(t, f, p->func, p->entry, false) ||
		    (p->ret && !attach_one(t, f, p->func, p->ret, true)))
			return false;
	}
	return true;
}

void tls_probe_set_ports(struct tls_probe *t, const struct config *cfg)
{
	uint8_t bits[sizeof(t->skel->bss->port_bits)];

	config_port_bits(cfg, bits);
	/* Byte by byte into the live map, as capture.c does. */
	for (size_t i = 0; i < sizeof(bits); i++)
		t->skel->bss->port_bits[i] = bits[i];
}

struct tls_probe *tls_probe_open(const struct tls_probe_opts *opts, const struct config *cfg)
{
	struct tls_probe *t = calloc(1, sizeof(*t));
	size_t attached = 0;
	int err;

	if (!t) {
		fprintf(stderr, "smtpmon: TLS plaintext: out of memory\n");
		return NULL;
	}
	find_files(t, opts);
	if (!t->nfiles) {
		fprintf(stderr,
			"smtpmon: TLS plaintext: no %s or %s found; sessions inside TLS "
			"are not seen\n",
			sonames[0], sonames[1]);
		goto fail;
	}
	t->skel = tls_bpf__open();
	err = t->skel
		  ? bpf_map__set_max_entries(t->skel->maps.tls_events, (uint32_t)opts->ring_size)
		  : -errno;
	if (!err)
		err = tls_bpf__load(t->skel);
	if (err) {
		fprintf(stderr,
			"smtpmon: TLS plaintext: load the probes: %s; sessions inside TLS "
			"are not seen:\n",
			strerror(-err));
		bpf_log_print_reason();
		goto fail;
	}
	tls_probe_set_ports(t, cfg);
	/* The socket of each library call comes from the system calls inside it. */
	struct bpf_link *syscalls = bpf_program__attach(t->skel->progs.tls_sys_enter);

	if (!syscalls || !keep_link(t, syscalls)) {
		fprintf(stderr, "smtpmon: TLS plaintext: attach tls_sys_enter: %s\n",
			strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < t->nfiles; i++) {
		struct lib_file *f = &t->files[i];

		f->attached = attach_file(t, f);
		attached += f->attached;
	}
	if (!attached)
		goto fail;
	return t;
fail:
	tls_probe_close(t);
	return NULL;
}

void tls_probe_report(const struct tls_probe *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct lib_file *f = &t->files[i];

		if (f->attached)
			fprintf(stderr, "smtpmon: TLS plaintext from %s (%s, %u processes now)\n",
				f->shown, tls_probe_lib_names[f->lib], f->procs);
	}
}

int tls_probe_ring_fd(const struct tls_probe *t)
{
	return bpf_map__fd(t->skel->maps.tls_events);
}

bool tls_probe_skip(struct tls_probe *t, uint32_t tgid, uint64_t object, bool stop,
		    uint64_t chunk_end)
{
	struct smtpmon_tls_key key = {.object = object, .tgid = tgid};
	struct smtpmon_tls_skip skip = {.chunk_end = chunk_end};
	int fd = bpf_map__fd(t->skel->maps.tls_skip);

	if (stop)
		/* The kernel may have ended it first (the end went by). */
		return !bpf_map_delete_elem(fd, &key) || errno == ENOENT;
	return !bpf_map_update_elem(fd, &key, &skip, BPF_ANY);
}

bool tls_probe_counters(const struct tls_probe *t,
			uint64_t out[SMTPMON_TLS_LIB_MAX][SMTPMON_TLS_STAT_MAX])
{
	int ncpus = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(t->skel->maps.tls_stats);
	uint64_t(*per_cpu)[SMTPMON_TLS_STAT_MAX];

	memset(out, 0, sizeof(uint64_t) * SMTPMON_TLS_LIB_MAX * SMTPMON_TLS_STAT_MAX);
	if (ncpus <= 0 || !(per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu))))
		return false;
	for (uint32_t lib = 0; lib < SMTPMON_TLS_LIB_MAX; lib++) {
		if (bpf_map_lookup_elem(fd, &lib, per_cpu))
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++)
			for (int s = 0; s < SMTPMON_TLS_STAT_MAX; s++)
				out[lib][s] += per_cpu[cpu][s];
	}
	free(per_cpu);
	return true;
}

void tls_probe_close(struct tls_probe *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	tls_bpf__destroy(t->skel);
	free(t);
}
