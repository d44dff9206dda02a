// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls_probe.c - TLS library files, the probes on them, their counters
 * (contract in tls_probe.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/bpf_log.h"
#include "capture/elf_func.h"
#include "capture/probe_site.h"
#include "capture/tls_attach.h"
#include "capture/trace_uprobes.h"
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
    [SMTPMON_TLS_STAT_SHED_BODIES] = "shed_bodies",
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

/* Functions looked up with the probed ones, in the same pass over the file's
 * symbols: where probe_site.h may move a probe. A file may lack them. */
static const struct {
	enum smtpmon_tls_lib lib;
	const char *func;
} site_funcs[] = {
    {SMTPMON_TLS_GNUTLS, "gnutls_record_send2"},
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

#define PROBES_PER_FILE (sizeof(probes) / sizeof(probes[0]))
#define SITE_FUNCS	(sizeof(site_funcs) / sizeof(site_funcs[0]))
/* Uprobes per process: entry and return programs of every probe. */
#define UPROBES_MAX (TLS_PROBE_MAX_FILES * PROBES_PER_FILE * 2)

struct lib_file {
	char path[TLS_PROBE_PATH_MAX];	/* where found: may be /proc/PID/map_files/... */
	char shown[TLS_PROBE_PATH_MAX]; /* for people: the file's own name */
	dev_t dev;
	ino_t ino;
	enum smtpmon_tls_lib lib;
	unsigned procs;	 /* processes seen mapping it */
	char moved[192]; /* the probes moved off their entries, for people */
	int fd;		 /* open while smtpmon runs: the attacher's path to it */
	bool probed;
};

struct tls_probe {
	struct tls_bpf *skel;
	struct lib_file files[TLS_PROBE_MAX_FILES];
	size_t nfiles;
	struct tls_attach_probe uprobes[UPROBES_MAX];
	size_t nuprobes;
	/* The raw tracepoints, and the uprobes when they sit on the files. */
	struct bpf_link *links[3 + UPROBES_MAX];
	size_t nlinks;
	struct tls_attach *attacher;  /* the uprobes per process */
	enum tls_processes processes; /* ALL or SMTP, auto resolved */
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

/* Adds the file at path (once per inode): its index, or -1. */
static int add_file(struct tls_probe *t, const char *path, const char *shown, int lib)
{
	struct stat st;

	if (lib < 0 || stat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].dev == st.st_dev && t->files[i].ino == st.st_ino)
			return (int)i;
	if (t->nfiles == TLS_PROBE_MAX_FILES)
		return -1;
	struct lib_file *f = &t->files[t->nfiles++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->shown, sizeof(f->shown), "%s", shown);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->lib = lib;
	f->fd = -1;
	return (int)(f - t->files);
}

/* The TLS libraries mapped by process pid. */
static void scan_process(struct tls_probe *t, int pid)
{
	char maps[64], line[512], range[64], where[TLS_PROBE_PATH_MAX];
	bool counted[TLS_PROBE_MAX_FILES] = {0}; /* a file maps in several pieces */
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
		int i = add_file(t, where, path, lib);
		if (i >= 0 && !counted[i]) {
			counted[i] = true;
			t->files[i].procs++;
		}
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

/* OpenSSL 3.0: each wrapper and the function beside it call one internal
 * function with the wrapper's arguments; probed there when probe_site.h
 * finds that shape, with the wrapper's programs. */
static const struct shared_callee {
	const char *wrapper, *also;
} shared_callees[] = {
    {"SSL_read_ex", "SSL_read"},
    {"SSL_write_ex", "SSL_write"},
};

static size_t name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return n;
}

/* Where a probe sits: its function's entry unless probe_site.h found a
 * cheaper place (offset 0: another site covers its calls), and the entry
 * program there when it differs from the probe's own. */
struct site {
	uint64_t offset;
	const char *entry;
};

/* Appends "what at 0xOFFSET" to f->moved, for people. */
static void note_moved(struct lib_file *f, const char *what, uint64_t offset)
{
	size_t used = strlen(f->moved);

	snprintf(f->moved + used, sizeof(f->moved) - used, "%s%s 0x%llx", used ? ", " : "", what,
		 (unsigned long long)offset);
}

static void choose_openssl_sites(struct lib_file *f, const char *const *names,
				 const struct elf_func *funcs, size_t n, struct site *sites)
{
	char what[96];

	for (size_t k = 0; k < sizeof(shared_callees) / sizeof(shared_callees[0]); k++) {
		const struct shared_callee *sc = &shared_callees[k];
		size_t w = name_index(names, n, sc->wrapper), a = name_index(names, n, sc->also);
		uint64_t callee;

		if (w == n || a == n || !(callee = probe_site_callee(f->fd, &funcs[w])) ||
		    !probe_site_reaches(f->fd, &funcs[a], callee))
			continue;
		sites[w].offset = callee;
		sites[a].offset = 0;
		snprintf(what, sizeof(what), "%s and %s at their shared callee", sc->also,
			 sc->wrapper);
		note_moved(f, what, callee);
	}
}

static void choose_gnutls_sites(struct lib_file *f, const char *const *names,
				const struct elf_func *funcs, size_t n, struct site *sites)
{
	size_t recv = name_index(names, n, "gnutls_record_recv");
	size_t send = name_index(names, n, "gnutls_record_send");
	size_t send2 = name_index(names, n, "gnutls_record_send2");
	uint64_t tail;

	if (recv < n && (tail = probe_site_recv_tail(f->fd, &funcs[recv]))) {
		sites[recv] = (struct site){.offset = tail, .entry = "gnutls_recv_tail"};
		note_moved(f, "gnutls_record_recv at its tail call", tail);
	}
	if (send < n && send2 < n && probe_site_send_forwards(f->fd, &funcs[send], &funcs[send2])) {
		sites[send].offset = funcs[send2].offset;
		note_moved(f, "gnutls_record_send at gnutls_record_send2", funcs[send2].offset);
	}
}

/* Where each of the n functions looked up in f is probed (struct site; the
 * site_funcs among them are not probed themselves); f->moved names the
 * probes moved off their entries. */
static void choose_sites(struct lib_file *f, const char *const *names, const struct elf_func *funcs,
			 size_t n, struct site *sites)
{
	for (size_t i = 0; i < n; i++)
		sites[i] = (struct site){.offset = funcs[i].offset};
	if (f->lib == SMTPMON_TLS_OPENSSL)
		choose_openssl_sites(f, names, funcs, n, sites);
	else
		choose_gnutls_sites(f, names, funcs, n, sites);
}

/* The uprobes of file f, to be attached to each process probed; false
 * (after a line on stderr) when the file cannot be read or lacks one of the
 * functions. */
static bool add_uprobes(struct tls_probe *t, struct lib_file *f)
{
	const char *names[PROBES_PER_FILE + SITE_FUNCS];
	struct elf_func funcs[PROBES_PER_FILE + SITE_FUNCS];
	struct site sites[PROBES_PER_FILE + SITE_FUNCS];
	size_t n = 0, nprobed;

	for (size_t i = 0; i < PROBES_PER_FILE; i++)
		if (probes[i].lib == f->lib)
			names[n++] = probes[i].func;
	nprobed = n;
	for (size_t i = 0; i < SITE_FUNCS; i++)
		if (site_funcs[i].lib == f->lib)
			names[n++] = site_funcs[i].func;
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0 || !elf_func_find(f->fd, names, funcs, n)) {
		fprintf(stderr, "smtpmon: TLS plaintext: %s: %s; not probed\n", f->shown,
			f->fd < 0 ? strerror(errno) : "not an ELF file");
		return false;
	}
	for (size_t i = 0; i < nprobed; i++)
		if (!funcs[i].offset) {
			fprintf(stderr, "smtpmon: TLS plaintext: %s: no function %s; not probed\n",
				f->shown, names[i]);
			return false;
		}
	choose_sites(f, names, funcs, n, sites);
	n = 0;
	for (size_t i = 0; i < PROBES_PER_FILE; i++) {
		const struct probe_spec *p = &probes[i];
		const struct site *site;
		const char *progs[2];

		if (p->lib != f->lib)
			continue;
		site = &sites[n++];
		if (!site->offset)
			continue;
		progs[0] = site->entry ? site->entry : p->entry;
		progs[1] = p->ret;
		for (int ret = 0; ret < 2 && progs[ret]; ret++)
			t->uprobes[t->nuprobes++] = (struct tls_attach_probe){
			    .fd = f->fd,
			    .offset = site->offset,
			    .prog = bpf_object__find_program_by_name(t->skel->obj, progs[ret]),
			    .retprobe = ret,
			    .func = p->func,
			    .file = f->shown,
			};
	}
	return true;
}

static int on_proc_event(void *ctx, void *data, size_t size)
{
	struct tls_probe *t = ctx;
	const struct smtpmon_tls_proc *e = data;

	if (size >= sizeof(*e))
		tls_attach_process(t->attacher, e->tgid, e->kind == SMTPMON_TLS_PROC_GONE);
	return 0;
}

/* The processes to probe now, and the uprobes attached to them, before
 * smtpmon says it is capturing. */
static void probe_processes_now(struct tls_probe *t)
{
	struct ring_buffer *rb =
	    ring_buffer__new(bpf_map__fd(t->skel->maps.tls_proc_events), on_proc_event, t, NULL);
	bool ok = rb != NULL;

	tls_attach_scan(t->attacher);
	ok = ok && tls_attach_sync(t->attacher, 10000) && ring_buffer__consume(rb) >= 0 &&
	     tls_attach_sync(t->attacher, 30000);
	if (!ok)
		fprintf(stderr, "smtpmon: TLS plaintext: the processes to probe were not all "
				"probed in time; going on\n");
	ring_buffer__free(rb);
}

void tls_probe_set_ports(struct tls_probe *t, const struct config *cfg)
{
	uint8_t bits[sizeof(t->skel->bss->port_bits)];

	config_port_bits(cfg, bits);
	/* Byte by byte into the live map, as capture.c does. */
	for (size_t i = 0; i < sizeof(bits); i++)
		t->skel->bss->port_bits[i] = bits[i];
	/* Processes on a port monitored from now on. */
	if (t->attacher)
		tls_attach_scan(t->attacher);
}

static bool attach_link(struct tls_probe *t, struct bpf_link *link, const char *what)
{
	if (!link) {
		int err = errno;

		/* CAP_PERFMON was enough until the kernels of July 2025. */
		fprintf(stderr, "smtpmon: TLS plaintext: attach %s: %s%s\n", what, strerror(err),
			err == EACCES ? " (uprobes need CAP_SYS_ADMIN)" : "");
		return false;
	}
	t->links[t->nlinks++] = link;
	return true;
}

/* The socket of each library call comes from the system calls inside it. */
static bool attach_sys_enter(struct tls_probe *t)
{
	return attach_link(t, bpf_program__attach(t->skel->progs.tls_sys_enter), "tls_sys_enter");
}

/* Every process that maps a probed file, now or later. */
static bool attach_to_files(struct tls_probe *t)
{
	char path[32], what[TLS_PROBE_PATH_MAX + 64];

	if (!attach_sys_enter(t))
		return false;
	for (size_t i = 0; i < t->nuprobes; i++) {
		const struct tls_attach_probe *p = &t->uprobes[i];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = p->retprobe);

		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->fd);
		snprintf(what, sizeof(what), "%sprobe on %s in %s", p->retprobe ? "return " : "",
			 p->func, p->file);
		if (!attach_link(
			t,
			bpf_program__attach_uprobe_opts(p->prog, -1, path, (size_t)p->offset, &o),
			what))
			return false;
	}
	return true;
}

/* The processes the kernel marks, each on its own; which ones from system
 * calls, forks and exits. */
static bool attach_per_process(struct tls_probe *t)
{
	if (!attach_sys_enter(t) ||
	    !attach_link(t, bpf_program__attach(t->skel->progs.tls_fork), "tls_fork") ||
	    !attach_link(t, bpf_program__attach(t->skel->progs.tls_exit), "tls_exit"))
		return false;
	t->attacher = tls_attach_start(t->uprobes, t->nuprobes, t->skel->progs.tls_scan_sockets,
				       t->skel->progs.tls_scan_children);
	if (!t->attacher)
		return false;
	probe_processes_now(t);
	return true;
}

/* auto: per process where forks inherit the probes, since there a process
 * is probed from its first instruction; else on the files, since per
 * process a fork's first calls could be missed. */
static enum tls_processes choose_processes(enum tls_processes asked)
{
	char why[160];

	if (asked != TLS_PROCESSES_AUTO)
		return asked;
	if (trace_uprobes_possible(why, sizeof(why)))
		return TLS_PROCESSES_SMTP;
	fprintf(stderr,
		"smtpmon: TLS plaintext: the probes sit on the library files (every process "
		"that maps them pays their traps), not per process: %s\n",
		why);
	return TLS_PROCESSES_ALL;
}

struct tls_probe *tls_probe_open(const struct tls_probe_opts *opts, const struct config *cfg)
{
	struct tls_probe *t = calloc(1, sizeof(*t));
	size_t probed = 0;
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
	t->processes = choose_processes(opts->processes);
	t->skel = tls_bpf__open();
	if (t->skel) {
		t->skel->rodata->per_process = t->processes == TLS_PROCESSES_SMTP;
		t->skel->rodata->bodies_skip = opts->bodies_skip;
		/* As on the wire (capture.c): shed from three quarters full. */
		t->skel->rodata->shed_at = opts->bodies_skip ? 0 : opts->ring_size / 4 * 3;
		/* As on the wire: a quarter full wakes the reader. */
		t->skel->rodata->wakeup_bytes = opts->ring_size / 4;
	}
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
	for (size_t i = 0; i < t->nfiles; i++) {
		t->files[i].probed = add_uprobes(t, &t->files[i]);
		probed += t->files[i].probed;
	}
	if (!probed)
		goto fail;
	if (t->processes == TLS_PROCESSES_SMTP ? attach_per_process(t) : attach_to_files(t))
		return t;
fail:
	tls_probe_close(t);
	return NULL;
}

void tls_probe_report(const struct tls_probe *t)
{
	uint64_t procs[TLS_ATTACH_STAT_MAX];

	for (size_t i = 0; i < t->nfiles; i++) {
		const struct lib_file *f = &t->files[i];

		if (!f->probed)
			continue;
		fprintf(stderr, "smtpmon: TLS plaintext from %s (%s, %u processes map it)\n",
			f->shown, tls_probe_lib_names[f->lib], f->procs);
		if (f->moved[0])
			fprintf(stderr, "smtpmon: TLS plaintext: %s: %s (no single-step)\n",
				f->shown, f->moved);
	}
	if (!t->attacher)
		return;
	tls_attach_counters(t->attacher, procs);
	fprintf(stderr,
		"smtpmon: TLS plaintext: %" PRIu64 " processes probed now (on monitored ports, "
		"and their children)\n",
		procs[TLS_ATTACH_PROCESSES]);
}

bool tls_probe_watch(struct tls_probe *t, struct ring_buffer *rb)
{
	return !t->attacher ||
	       !ring_buffer__add(rb, bpf_map__fd(t->skel->maps.tls_proc_events), on_proc_event, t);
}

void tls_probe_tick(struct tls_probe *t)
{
	if (t->attacher)
		tls_attach_flush(t->attacher);
}

bool tls_probe_process_counters(const struct tls_probe *t, uint64_t out[TLS_ATTACH_STAT_MAX])
{
	memset(out, 0, sizeof(uint64_t) * TLS_ATTACH_STAT_MAX);
	if (!t->attacher)
		return false;
	tls_attach_counters(t->attacher, out);
	out[TLS_ATTACH_LOST] += t->skel->bss->procs_unmarked;
	return true;
}

int tls_probe_ring_fd(const struct tls_probe *t)
{
	return bpf_map__fd(t->skel->maps.tls_events);
}

bool tls_probe_skip(struct tls_probe *t, uint32_t tgid, uint64_t object, uint64_t chunk_end,
		    uint64_t server_off)
{
	struct smtpmon_tls_key key = {.object = object, .tgid = tgid};
	struct smtpmon_tls_skip skip = {.chunk_end = chunk_end, .server_off = server_off};
	int fd = bpf_map__fd(t->skel->maps.tls_skip);

	/* A chunk: the kernel, ahead of us, may have found this one or the
	 * next itself. A DATA body: ours starts now, where the kernel's own
	 * waits for the header allowance. */
	if (chunk_end)
		return !bpf_map_update_elem(fd, &key, &skip, BPF_NOEXIST) || errno == EEXIST;
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
	tls_attach_stop(t->attacher);
	for (size_t i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].fd >= 0)
			close(t->files[i].fd);
	tls_bpf__destroy(t->skel);
	free(t);
}
