// SPDX-License-Identifier: GPL-2.0-only
/*
 * tls.bpf.c - the plaintext of SMTP sessions inside TLS, taken where the
 * MTA's TLS library hands it over (docs/tls-plaintext.md), into the ring
 * buffer "tls_events" (record layout and contract: smtpmon.h).
 *
 * A uprobe on the entry of a read or write function of the library (OpenSSL
 * SSL_read, SSL_write and their _ex forms; GnuTLS gnutls_record_recv and
 * gnutls_record_send) notes the TLS object and the buffer for the thread. A
 * read or write system call the thread makes inside that call is the library
 * moving the TLS records: its file descriptor is the TCP socket, which ties
 * the TLS object to the socket (kept per process and object in "sessions",
 * so that calls served from the library's own buffer need no system call).
 * The return probe then finds the socket's addresses and ports in the kernel
 * (fd -> file -> socket -> sock) and copies exactly the bytes the call
 * returned or sent, and only when one of the two ports is monitored. Freeing
 * the TLS object (SSL_free, gnutls_deinit) forgets it, so a new session that
 * gets the same address starts afresh.
 *
 * With the uprobes per process (--tls-processes smtp), the kernel also names
 * the processes to probe ("tls_procs", smtpmon.h): from their listen, accept
 * and connect calls, their forks, and a scan of every task at start; user
 * space attaches and detaches as "tls_proc_events" says.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "smtpmon.h"
#include "bounds.bpf.h"
#include "smtp_marks.bpf.h"
#include "ring_wake.bpf.h"

#define AF_INET	    2
#define AF_INET6    10
#define S_IFMT	    00170000
#define S_IFSOCK    0140000
#define PROTO_TCP   6
#define NO_FD	    (-1)
#define REC_HDR_LEN sizeof(struct smtpmon_tls_rec)
/* Payload capacity of the record size classes: a skipped call's tail, a
 * command or reply line, a few, a body write, a full TLS record. */
#define CLASS_T 8
_Static_assert(SMTPMON_SKIP_TAIL <= CLASS_T, "a skipped call's tail fits");
#define CLASS_S 128
#define CLASS_M 1024
#define CLASS_L 4096
#define CLASS_X SMTPMON_TLS_CHUNK

/* Monitored ports, rewritten by user space on a reload (as in
 * smtpmon.bpf.c). */
__u8 port_bits[65536 / 8];

/* Set by user space before load: the uprobes are attached per process
 * (--tls-processes smtp), so processes are marked; otherwise nobody reads
 * the marks and the system calls skip that work. */
const volatile bool per_process = false;

/* --bodies=skip, set by user space before load: the kernel also starts
 * skipping bodies on its own (body_call). */
const volatile bool bodies_skip = false;

/* --bodies=copy, set by user space before load (three quarters of the ring;
 * 0 with --bodies=skip): a body that reaches the probes while this many
 * bytes wait in the ring is skipped from there on, as on the wire
 * (smtpmon.bpf.c, shed_at). */
const volatile __u64 shed_at = 0;

/* Set by user space before load (a quarter of the ring): the fill level
 * crossing a multiple of it wakes the reader even for body records. */
const volatile __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space sets the size before load */
} tls_events SEC(".maps");

/* A probed call in progress, per thread. */
struct call {
	__u64 object; /* SSL * or gnutls_session_t */
	__u64 buf;
	__u64 len_out; /* the _ex functions: where the length is returned */
	__s32 fd;      /* of the first read/write system call inside it */
	__u8 op;       /* enum smtpmon_tls_op */
	__u8 lib;      /* enum smtpmon_tls_lib */
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct call);
} calls SEC(".maps");

enum tie {
	TIE_UNKNOWN = 0, /* no socket seen yet */
	TIE_MONITORED,
	TIE_OTHER, /* a socket of no monitored port, or not TCP */
};

struct session {
	__u64 offset[2]; /* per enum smtpmon_tls_op */
	__u64 sk;	 /* the struct sock it was tied to */
	__s32 fd;
	__u8 tie; /* enum tie */
	__u8 role;
	__u8 family;
	__u8 pad;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport, rport;
	__u32 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct smtpmon_tls_key);
	__type(value, struct session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct smtpmon_tls_key);
	__type(value, struct smtpmon_tls_skip);
} tls_skip SEC(".maps");

struct lib_stats {
	__u64 stats[SMTPMON_TLS_STAT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMTPMON_TLS_LIB_MAX);
	__type(key, __u32);
	__type(value, struct lib_stats);
} tls_stats SEC(".maps");

static __always_inline void count(__u8 lib, enum smtpmon_tls_stat stat, __u64 n)
{
	__u32 key = lib;
	struct lib_stats *s = bpf_map_lookup_elem(&tls_stats, &key);

	if (s && stat < SMTPMON_TLS_STAT_MAX)
		s->stats[stat] += n;
}

static __always_inline bool port_monitored(__u16 port)
{
	__u32 idx = port >> 3;

	barrier_var(idx);
	idx &= sizeof(port_bits) - 1;
	return port_bits[idx] & (1 << (port & 7));
}

/* ---- entry: note the call ---- */

static __always_inline int enter(void *object, const void *buf, void *len_out, __u8 op, __u8 lib)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {
	    .object = (__u64)object,
	    .buf = (__u64)buf,
	    .len_out = (__u64)len_out,
	    .fd = NO_FD,
	    .op = op,
	    .lib = lib,
	};

	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

/* Arguments: (object, buffer, size[, where the _ex forms return the length]). */
SEC("uprobe")
int openssl_read(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), NULL, SMTPMON_TLS_READ,
		     SMTPMON_TLS_OPENSSL);
}

SEC("uprobe")
int openssl_write(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), NULL,
		     SMTPMON_TLS_WRITE, SMTPMON_TLS_OPENSSL);
}

SEC("uprobe")
int openssl_read_ex(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx),
		     (void *)PT_REGS_PARM4(ctx), SMTPMON_TLS_READ, SMTPMON_TLS_OPENSSL);
}

SEC("uprobe")
int openssl_write_ex(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx),
		     (void *)PT_REGS_PARM4(ctx), SMTPMON_TLS_WRITE, SMTPMON_TLS_OPENSSL);
}

SEC("uprobe")
int gnutls_recv(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), NULL, SMTPMON_TLS_READ,
		     SMTPMON_TLS_GNUTLS);
}

/* gnutls_record_recv probed at its tail call (probe_site.h): the buffer has
 * moved to the third argument register. */
SEC("uprobe")
int gnutls_recv_tail(struct pt_regs *ctx)
{
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM3(ctx), NULL, SMTPMON_TLS_READ,
		     SMTPMON_TLS_GNUTLS);
}

/* Threads inside gnutls_record_uncork: a corked gnutls_record_send passed its
 * bytes already (they were copied then); uncork sends them again through
 * gnutls_record_send, which must not copy them twice. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u8);
} uncorking SEC(".maps");

SEC("uprobe")
int gnutls_uncork(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 one = 1;

	(void)ctx;
	bpf_map_update_elem(&uncorking, &id, &one, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int gnutls_uncork_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	(void)ctx;
	bpf_map_delete_elem(&uncorking, &id);
	return 0;
}

SEC("uprobe")
int gnutls_send(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (bpf_map_lookup_elem(&uncorking, &id))
		return 0;
	return enter((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), NULL,
		     SMTPMON_TLS_WRITE, SMTPMON_TLS_GNUTLS);
}

/* SSL_free, gnutls_deinit: the object's address may serve a new session. */
SEC("uprobe")
int tls_free(struct pt_regs *ctx)
{
	struct smtpmon_tls_key key = {.object = (__u64)PT_REGS_PARM1(ctx),
				      .tgid = bpf_get_current_pid_tgid() >> 32};

	bpf_map_delete_elem(&sessions, &key);
	bpf_map_delete_elem(&tls_skip, &key);
	return 0;
}

/* ---- inside: the socket the library reads or writes ---- */

static __always_inline int nested(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);

	if (c && c->fd == NO_FD && fd >= 0 && fd < (1 << 30))
		c->fd = (__s32)fd;
	return 0;
}

/* The struct sock behind the current task's fd, or NULL if fd is not a
 * socket. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;
	struct socket *sock;

	if (!fdt || (unsigned)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* ---- which processes are probed ---- */

/* The processes whose calls the uprobes see (smtpmon.h, "tls_procs"): user
 * space attaches the uprobes to each, so that no other process pays their
 * traps. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} tls_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} tls_proc_events SEC(".maps");

/* Processes that could not be marked (map or ring full): user space's
 * counter. */
__u64 procs_unmarked;

static __always_inline bool tell(__u32 tgid, __u32 kind)
{
	struct smtpmon_tls_proc *e = bpf_ringbuf_reserve(&tls_proc_events, sizeof(*e), 0);

	if (!e)
		return false;
	e->tgid = tgid;
	e->kind = kind;
	bpf_ringbuf_submit(e, 0);
	return true;
}

static __always_inline void mark(__u32 tgid)
{
	__u8 one = 1;

	/* init: a socket-activated MTA's listener must not mark every
	 * process of the host as its child (the MTA's own processes are
	 * marked when they accept). */
	if (tgid <= 1 || bpf_map_lookup_elem(&tls_procs, &tgid))
		return;
	if (bpf_map_update_elem(&tls_procs, &tgid, &one, BPF_NOEXIST))
		goto lost;
	if (tell(tgid, SMTPMON_TLS_PROC_PROBE))
		return;
	/* Unmarked, so its next listen, accept or connect tries again. */
	bpf_map_delete_elem(&tls_procs, &tgid);
lost:
	__sync_fetch_and_add(&procs_unmarked, 1);
}

/* A TCP socket with a monitored port at either end. */
static __always_inline bool sock_monitored(struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, sk_protocol) == PROTO_TCP &&
	       (port_monitored(BPF_CORE_READ(sk, __sk_common.skc_num)) ||
		port_monitored(bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))));
}

/* What connect() is given: the family and the port, in the same place for
 * IPv4 and IPv6. */
struct sockaddr_head {
	__u16 family;
	__be16 port;
};

/* One raw tracepoint on every system call's entry rather than the syscall
 * tracepoints: those are found through tracefs, which only root may read,
 * while a raw tracepoint attaches through bpf() alone (the daemon runs as
 * its own user). fentry on the entry points would cost less but is refused
 * by some locked-down kernels. The numbers are the architecture's. */
#if defined(__TARGET_ARCH_x86)
enum {
	NR_READ = 0,
	NR_WRITE = 1,
	NR_READV = 19,
	NR_WRITEV = 20,
	NR_CONNECT = 42,
	NR_ACCEPT = 43,
	NR_SENDTO = 44,
	NR_RECVFROM = 45,
	NR_SENDMSG = 46,
	NR_RECVMSG = 47,
	NR_LISTEN = 50,
	NR_ACCEPT4 = 288
};
#elif defined(__TARGET_ARCH_arm64)
enum {
	NR_READ = 63,
	NR_WRITE = 64,
	NR_READV = 65,
	NR_WRITEV = 66,
	NR_LISTEN = 201,
	NR_ACCEPT = 202,
	NR_CONNECT = 203,
	NR_SENDTO = 206,
	NR_RECVFROM = 207,
	NR_SENDMSG = 211,
	NR_RECVMSG = 212,
	NR_ACCEPT4 = 242
};
#else
#error "the system call numbers of this architecture are not named here"
#endif

SEC("raw_tp/sys_enter")
int tls_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = (long)ctx->args[1];
	struct sockaddr_head to;

	switch (nr) {
	/* GnuTLS writes with sendmsg (its default push is a writev): without it
	 * a client's first call, a write, was tied to no socket. */
	case NR_READ:
	case NR_WRITE:
	case NR_READV:
	case NR_WRITEV:
	case NR_SENDTO:
	case NR_RECVFROM:
	case NR_SENDMSG:
	case NR_RECVMSG:
		return nested((long)PT_REGS_PARM1_CORE_SYSCALL(regs));
	case NR_LISTEN:
	case NR_ACCEPT:
	case NR_ACCEPT4:
		if (per_process && sock_monitored(fd_sock((int)PT_REGS_PARM1_CORE_SYSCALL(regs))))
			mark(bpf_get_current_pid_tgid() >> 32);
		return 0;
	case NR_CONNECT:
		if (per_process &&
		    !bpf_probe_read_user(&to, sizeof(to),
					 (const void *)PT_REGS_PARM2_CORE_SYSCALL(regs)) &&
		    (to.family == AF_INET || to.family == AF_INET6) &&
		    port_monitored(bpf_ntohs(to.port)))
			mark(bpf_get_current_pid_tgid() >> 32);
		return 0;
	}
	return 0;
}

/* A marked process's children are marked: Postfix's master forks smtpd,
 * smtp and tlsproxy (which gets its sockets passed, not from accept), Exim
 * forks a child per connection. Threads share their process's mark. */
SEC("raw_tp/sched_process_fork")
int tls_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);

	if (ptgid != ctgid && bpf_map_lookup_elem(&tls_procs, &ptgid))
		mark(ctgid);
	return 0;
}

/* The last thread of a marked process exits: its uprobes go. */
SEC("raw_tp/sched_process_exit")
int tls_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (BPF_CORE_READ(task, signal, live.counter) || bpf_map_delete_elem(&tls_procs, &tgid))
		return 0;
	if (!tell(tgid, SMTPMON_TLS_PROC_GONE))
		__sync_fetch_and_add(&procs_unmarked, 1);
	return 0;
}

/* At start and on reload: the processes that hold a socket of a monitored
 * port now (a listener, a session already open)... */
SEC("iter/task_file")
int tls_scan_sockets(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct socket *sock;

	if (!task || !file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (sock && sock_monitored(BPF_CORE_READ(sock, sk)))
		mark(BPF_CORE_READ(task, tgid));
	return 0;
}

/* ...then the processes descended from them (an idle tlsproxy or smtp
 * client holds no such socket). */
#define ANCESTORS_MAX 32

SEC("iter/task")
int tls_scan_children(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task, *up = ctx->task;

	if (!task)
		return 0;
	for (int i = 0; i < ANCESTORS_MAX && up; i++) {
		__u32 tgid;

		up = BPF_CORE_READ(up, real_parent);
		tgid = up ? BPF_CORE_READ(up, tgid) : 0;
		if (tgid <= 1)
			break;
		if (bpf_map_lookup_elem(&tls_procs, &tgid)) {
			mark(BPF_CORE_READ(task, tgid));
			break;
		}
	}
	return 0;
}

/* Ties s to the socket behind fd: addresses, ports, role. */
static __always_inline void tie(struct session *s, int fd)
{
	struct sock *sk = fd_sock(fd);
	__u16 family;

	s->fd = fd;
	s->sk = (__u64)sk;
	s->tie = TIE_OTHER;
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != PROTO_TCP)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		bpf_core_read(s->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(s->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		bpf_core_read(s->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(s->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return;
	}
	s->family = family;
	s->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	s->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (port_monitored(s->lport))
		s->role = SMTPMON_TLS_SERVER;
	else if (port_monitored(s->rport))
		s->role = SMTPMON_TLS_CLIENT;
	else
		return;
	s->tie = TIE_MONITORED;
}

/* ---- return: copy what passed ---- */

struct copy {
	const struct session *s;
	__u64 buf;
	__u64 offset;
	__u32 len, done;
	__u64 object;
	__u32 tgid;
	__u8 op, lib;
	bool lost; /* a reservation failed: the rest is dropped too */
	bool bulk; /* a message body's: see submit */
};

static __always_inline struct smtpmon_tls_rec *reserve(__u32 n, __u32 *cap)
{
	if (n <= CLASS_S) {
		*cap = CLASS_S;
		return bpf_ringbuf_reserve(&tls_events, REC_HDR_LEN + CLASS_S, 0);
	}
	if (n <= CLASS_M) {
		*cap = CLASS_M;
		return bpf_ringbuf_reserve(&tls_events, REC_HDR_LEN + CLASS_M, 0);
	}
	if (n <= CLASS_L) {
		*cap = CLASS_L;
		return bpf_ringbuf_reserve(&tls_events, REC_HDR_LEN + CLASS_L, 0);
	}
	*cap = CLASS_X;
	return bpf_ringbuf_reserve(&tls_events, REC_HDR_LEN + CLASS_X, 0);
}

/* Submits a record of `size` bytes; bulk: a message body's (ring_wake.bpf.h). */
static __always_inline void submit(void *r, __u32 size, bool bulk)
{
	__u64 avail = bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(r, ring_wake_flags(avail, size, bulk, wakeup_bytes));
}

static long copy_piece(__u32 index, struct copy *c)
{
	const struct session *s = c->s;
	struct smtpmon_tls_rec *r;
	__u32 n, cap = 0;

	(void)index;
	if (c->done >= c->len)
		return 1;
	n = min_len(c->len - c->done, CLASS_X);
	r = c->lost ? NULL : reserve(n, &cap);
	if (!r) {
		c->lost = true;
		count(c->lib, SMTPMON_TLS_STAT_RING_DROPS, 1);
		count(c->lib, SMTPMON_TLS_STAT_RING_DROP_BYTES, n);
		c->done += n;
		return 0;
	}
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->offset = c->offset + c->done;
	r->tgid = c->tgid;
	r->payload_len = n;
	r->family = s->family;
	r->op = c->op;
	r->role = s->role;
	r->lib = c->lib;
	r->flags = 0;
	r->object = c->object;
	__builtin_memcpy(r->laddr, s->laddr, sizeof(r->laddr));
	__builtin_memcpy(r->raddr, s->raddr, sizeof(r->raddr));
	r->lport = s->lport;
	r->rport = s->rport;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	n = min_len(n, CLASS_X);
	if (n > cap || (__s32)n <= 0 ||
	    bpf_probe_read_user(r->payload, n, (const void *)(c->buf + c->done))) {
		/* The buffer went away under us: a loss like a full ring. */
		bpf_ringbuf_discard(r, 0);
		c->lost = true;
		count(c->lib, SMTPMON_TLS_STAT_RING_DROPS, 1);
		count(c->lib, SMTPMON_TLS_STAT_RING_DROP_BYTES, n);
		c->done += n;
		return 0;
	}
	r->copied_len = n;
	submit(r, REC_HDR_LEN + cap, c->bulk);
	count(c->lib, SMTPMON_TLS_STAT_RECORDS, 1);
	count(c->lib, SMTPMON_TLS_STAT_COPIED_BYTES, n);
	c->done += n;
	return 0;
}

/* Copy mode: is the ring crowded enough to shed bodies? */
static __always_inline bool ring_crowded(void)
{
	return shed_at && bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) >= shed_at;
}

/* --bodies=skip, or a shed body: one record for a call inside a body, with
 * only its last SMTPMON_SKIP_TAIL bytes. */
static __always_inline void submit_skipped(const struct session *s, const struct call *c,
					   __u64 offset, __u64 len, __u32 tgid)
{
	struct smtpmon_tls_rec *r = bpf_ringbuf_reserve(&tls_events, REC_HDR_LEN + CLASS_T, 0);
	__u32 n = len < SMTPMON_SKIP_TAIL ? (__u32)len : SMTPMON_SKIP_TAIL;

	if (!r) {
		count(c->lib, SMTPMON_TLS_STAT_RING_DROPS, 1);
		count(c->lib, SMTPMON_TLS_STAT_RING_DROP_BYTES, len);
		return;
	}
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->offset = offset;
	r->tgid = tgid;
	r->payload_len = (__u32)len;
	r->family = s->family;
	r->op = c->op;
	r->role = s->role;
	r->lib = c->lib;
	r->flags = SMTPMON_TLS_REC_SKIPPED;
	r->object = c->object;
	__builtin_memcpy(r->laddr, s->laddr, sizeof(r->laddr));
	__builtin_memcpy(r->raddr, s->raddr, sizeof(r->raddr));
	r->lport = s->lport;
	r->rport = s->rport;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	n &= 7;
	if (n > SMTPMON_SKIP_TAIL ||
	    (n && bpf_probe_read_user(r->payload, n, (const void *)(c->buf + len - n))))
		n = 0;
	r->copied_len = n;
	submit(r, REC_HDR_LEN + CLASS_T, true);
	count(c->lib, SMTPMON_TLS_STAT_RECORDS, 1);
	count(c->lib, SMTPMON_TLS_STAT_COPIED_BYTES, n);
	count(c->lib, SMTPMON_TLS_STAT_SKIPPED_BYTES, len - n);
}

/* A server call whose last line is a 354: the body comes next. Its first
 * SMTPMON_HEADER_ALLOWANCE bytes are copied (the header block of nearly
 * every message; user space marks the end of a shorter one sooner). */
static __always_inline void watch_go_ahead(const struct smtpmon_tls_key *key, const struct call *c,
					   __u64 len, __u64 client_pos, __u64 server_pos)
{
	char buf[GO_AHEAD_SCAN];
	__u32 n = min_len(len, GO_AHEAD_SCAN);
	struct smtpmon_tls_skip k = {
	    .skip_from = client_pos + SMTPMON_HEADER_ALLOWANCE,
	    .server_off = server_pos,
	};

	if (n < 6 || bpf_probe_read_user(buf, n, (const void *)(c->buf + len - n)) ||
	    !is_go_ahead(buf, n, n == len)) {
		/* The server speaks: no body is being sent. */
		bpf_map_delete_elem(&tls_skip, key);
		return;
	}
	bpf_map_update_elem(&tls_skip, key, &k, BPF_ANY);
}

/* A client call with a BDAT command at offset pos (a call's start, or where
 * the chunk before ended): the chunk that follows is skipped from the next
 * call on (in copy mode only when the ring is crowded: shed). The call
 * itself is copied, command and all. */
static __always_inline void watch_bdat(const struct smtpmon_tls_key *key, const struct call *c,
				       __u64 offset, __u64 len, __u64 pos, __u64 server_pos)
{
	char buf[BDAT_SCAN] = {};
	__u64 size;
	__u32 cmd_len, n;
	struct smtpmon_tls_skip k = {.server_off = server_pos, .shed = !bodies_skip};

	if (pos < offset || pos - offset >= len || (!bodies_skip && !ring_crowded()))
		return;
	n = min_len(len - (pos - offset), BDAT_SCAN);
	if (n < 8 || bpf_probe_read_user(buf, n, (const void *)(c->buf + (pos - offset))) ||
	    !parse_bdat(buf, n, &size, &cmd_len))
		return;
	k.chunk_end = pos + cmd_len + size;
	if (!bpf_map_update_elem(&tls_skip, key, &k, BPF_ANY) && k.shed)
		count(c->lib, SMTPMON_TLS_STAT_SHED_BODIES, 1);
}

enum body_call {
	CALL_OTHER,   /* commands, replies, the end of a body: copied */
	CALL_BODY,    /* inside a message body (tls_skip): copied as bulk records */
	CALL_SKIPPED, /* inside a body, skipped: its SKIPPED record went out */
};

/* --bodies=skip, or copy mode with a crowded ring: CALL_SKIPPED when the
 * call's bytes are a message body (tls_skip) to skip, after submitting their
 * SKIPPED record. The call that holds the end is copied whole and ends the
 * skip. */
static __always_inline enum body_call body_call(const struct smtpmon_tls_key *key,
						const struct session *s, const struct call *c,
						__u64 offset, __u64 len)
{
	bool server = s->role == SMTPMON_TLS_SERVER;
	__u8 client_dir = server ? SMTPMON_TLS_READ : SMTPMON_TLS_WRITE;
	/* Where each direction stands (this call counted). */
	__u64 client_pos = server ? s->offset[SMTPMON_TLS_READ] : s->offset[SMTPMON_TLS_WRITE];
	__u64 server_pos = server ? s->offset[SMTPMON_TLS_WRITE] : s->offset[SMTPMON_TLS_READ];
	struct smtpmon_tls_skip *k;
	__u8 last[5] = {};
	__u32 n = len < sizeof(last) ? (__u32)len : sizeof(last);
	__u64 window;

	if (!bodies_skip && !shed_at)
		return CALL_OTHER;
	if (c->op != client_dir) {
		watch_go_ahead(key, c, len, client_pos, server_pos);
		return CALL_OTHER;
	}
	k = bpf_map_lookup_elem(&tls_skip, key);
	if (k && k->server_off != server_pos) {
		/* The server spoke after the entry was made: that body is over. */
		bpf_map_delete_elem(&tls_skip, key);
		k = NULL;
	}
	if (!k) {
		watch_bdat(key, c, offset, len, offset, server_pos);
		return CALL_OTHER;
	}
	if (k->chunk_end) {
		__u64 next = k->chunk_end > offset ? k->chunk_end : offset;

		if (offset + len <= k->chunk_end) {
			submit_skipped(s, c, offset, len, key->tgid);
			return CALL_SKIPPED;
		}
		bpf_map_delete_elem(&tls_skip, key);
		watch_bdat(key, c, offset, len, next, server_pos);
		return CALL_OTHER;
	}
	/* DATA: the window is the 4 bytes before the call (when known) and the
	 * call's last 5. */
	if (offset < k->skip_from)
		return CALL_BODY; /* the header allowance */
	if (!bodies_skip && !k->shed) {
		if (!ring_crowded())
			return CALL_BODY;
		k->shed = 1;
		count(c->lib, SMTPMON_TLS_STAT_SHED_BODIES, 1);
	}
	if (n < sizeof(last) && k->tail_end != offset)
		return CALL_BODY; /* too short to tell: copied */
	if (bpf_probe_read_user(last, n & 7, (const void *)(c->buf + len - n)))
		return CALL_BODY;
	window = k->tail_end == offset ? k->tail : 0;
	for (int i = 0; i < (int)sizeof(last); i++)
		if ((__u32)i < n)
			window = window << 8 | last[i];
	if ((window & 0xffffffffffull) == END_OF_DATA) {
		bpf_map_delete_elem(&tls_skip, key);
		return CALL_OTHER;
	}
	k->tail = (__u32)window;
	k->tail_end = offset + len;
	submit_skipped(s, c, offset, len, key->tgid);
	return CALL_SKIPPED;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *cp = bpf_map_lookup_elem(&calls, &id);
	struct smtpmon_tls_key key = {.tgid = id >> 32};
	struct session *s, fresh = {.fd = NO_FD};
	struct call c;
	__u64 len = 0;

	if (!cp)
		return 0;
	c = *cp;
	bpf_map_delete_elem(&calls, &id);
	if (c.len_out) {
		/* _ex: 1 and the length in *len_out, or 0; OpenSSL's internal
		 * function under both forms (probe_site.h): > 0 or <= 0. */
		if ((int)ret <= 0 || bpf_probe_read_user(&len, sizeof(len), (void *)c.len_out))
			return 0;
	} else if (ret > 0) {
		len = (__u64)ret;
	}
	if (!len || len > (1u << 30) || c.op > SMTPMON_TLS_WRITE)
		return 0;
	count(c.lib, SMTPMON_TLS_STAT_CALLS, 1);
	key.object = c.object;
	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s) {
		bpf_map_update_elem(&sessions, &key, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sessions, &key);
		if (!s)
			return 0;
	}
	/* A system call inside the call names the socket: (re)tie when it is
	 * another fd or, behind the same fd, another socket. */
	if (c.fd != NO_FD &&
	    (c.fd != s->fd || s->tie == TIE_UNKNOWN || (__u64)fd_sock(c.fd) != s->sk))
		tie(s, c.fd);
	/* The check above lets clang drop a mask; the verifiers of 6.1 and 6.12
	 * lose the bound of a byte read back from the stack: mask after a
	 * barrier. */
	__u32 dir = c.op;
	barrier_var(dir);
	dir &= 1;
	__u64 offset = s->offset[dir];
	s->offset[dir] += len;
	if (s->tie == TIE_UNKNOWN) {
		count(c.lib, SMTPMON_TLS_STAT_NO_SOCKET, 1);
		return 0;
	}
	if (s->tie != TIE_MONITORED) {
		count(c.lib, SMTPMON_TLS_STAT_NOT_MONITORED, 1);
		return 0;
	}
	enum body_call kind = body_call(&key, s, &c, offset, len);

	if (kind == CALL_SKIPPED)
		return 0;
	struct copy cc = {
	    .s = s,
	    .buf = c.buf,
	    .offset = offset,
	    .len = len > SMTPMON_TLS_CHUNK * SMTPMON_TLS_PIECES
		       ? SMTPMON_TLS_CHUNK * SMTPMON_TLS_PIECES
		       : (__u32)len,
	    .object = c.object,
	    .tgid = id >> 32,
	    .op = c.op,
	    .lib = c.lib,
	    .bulk = kind == CALL_BODY,
	};
	if (len > cc.len)
		count(c.lib, SMTPMON_TLS_STAT_TRUNCATED_BYTES, len - cc.len);
	bpf_loop(SMTPMON_TLS_PIECES, copy_piece, &cc, 0);
	return 0;
}

/* OpenSSL's SSL_read and SSL_write return an int (the upper half of the
 * register is not part of it), GnuTLS's a ssize_t, the _ex forms 1 or 0. */
SEC("uretprobe")
int tls_ret_int(struct pt_regs *ctx)
{
	return leave((int)PT_REGS_RC(ctx));
}

SEC("uretprobe")
int tls_ret_long(struct pt_regs *ctx)
{
	return leave((long)PT_REGS_RC(ctx));
}

char LICENSE[] SEC("license") = "GPL";
