// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fakenfsd.so — LD_PRELOAD shim that lets an unchanged rpc.mountd answer MNT on a machine
 * without the kernel NFS server.
 *
 * mountd's MNT path (get_rootfh → cache_export → cache_get_filehandle) writes export entries
 * into /proc/net/rpc/{auth.unix.ip,nfsd.export}/channel and then asks /proc/fs/nfsd/filehandle
 * for the root file handle: one write of "<domain> <path> <maxlen>\n", then one read of the
 * answer on the same fd.  Without nfsd those files do not exist and MNT fails with
 * MNT3ERR_ACCES before rmtab is touched.  This shim hands mountd one end of an AF_UNIX
 * socketpair instead of those files:
 *   - a channel opened write-only swallows every write (full length, as the kernel does);
 *   - a filehandle open gets the reply "$FAKENFSD_FH\n" queued before open() returns, so the
 *     read after the request sees it (default \x0100010001000000: fh version 1, auth 0,
 *     FSID_NUM, FILEID_ROOT, fsid 1 — a plausible root handle).
 * Everything else, including cache_open()'s O_RDWR opens of the channels (upcalls, which
 * may fail with ENOENT), passes through untouched; FAKENFSD_CHANNEL_RDWR=1 fakes those too
 * (the fakes then simply never deliver an upcall).
 *
 * Invariants:
 *   - peer[fd] != 0 exactly while fd is a faked end we handed out; it holds our end + 1.
 *   - Our ends are O_CLOEXEC and never handed to the application; they are closed when the
 *     application closes the faked fd (or if the application closes them by number).
 *   - fds at or above FAKE_FD_MAX are never faked (the real open is used instead).
 * With FAKENFSD_LOG=FILE each faked open and, at close, what mountd wrote is appended to FILE
 * (one line per event, O_APPEND so forked workers interleave whole lines).
 */
/* The shim must define the plain and the 64-bit names itself, so no redirection. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define FAKE_FD_MAX 4096
#define DEFAULT_FH  "\\x0100010001000000"

enum fake_kind { FAKE_NONE, FAKE_CHANNEL, FAKE_FILEHANDLE };

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*close_fn)(int);

static int peer[FAKE_FD_MAX];		   /* faked fd -> our end + 1 */
static unsigned char is_ours[FAKE_FD_MAX]; /* our ends, to notice a close() by number */

/* Exported interposers; the headers declare only some of them without fortification. */
int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
int openat(int dirfd, const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int close(int fd);

static open_fn real_open;
static openat_fn real_openat;
static close_fn real_close;

static void *real_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		/* Nothing sane is possible without the real libc function. */
		static const char msg[] = "fakenfsd: dlsym failed\n";
		ssize_t r = write(2, msg, sizeof(msg) - 1);

		(void)r;
		abort();
	}
	return p;
}

/*
 * Lazy, because other libraries' constructors may open files before ours runs.  Threads racing
 * here store the same values; real_close is stored last and tested first.
 */
static void resolve(void)
{
	if (__atomic_load_n(&real_close, __ATOMIC_ACQUIRE))
		return;
	real_open = (open_fn)real_sym("open");
	real_openat = (openat_fn)real_sym("openat");
	__atomic_store_n(&real_close, (close_fn)real_sym("close"), __ATOMIC_RELEASE);
}

static int real_close_fd(int fd)
{
	resolve();
	return real_close(fd);
}

static const char *log_file(void)
{
	const char *file = getenv("FAKENFSD_LOG");

	return file && *file ? file : NULL;
}

static void fake_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fake_log(const char *fmt, ...)
{
	const char *file = log_file();
	char line[2048];
	va_list ap;
	int n, fd;

	if (!file)
		return;
	n = snprintf(line, sizeof(line), "fakenfsd[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';

	resolve();
	fd = real_open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* Logging is best effort. */
	}
	real_close_fd(fd);
}

/* Which fake, if any, an open of path with these flags gets. */
static enum fake_kind classify(const char *path, int flags)
{
	static const char rpc[] = "/proc/net/rpc/", chan[] = "/channel";
	size_t len;

	if (!path)
		return FAKE_NONE;
	if (!strcmp(path, "/proc/fs/nfsd/filehandle") || !strcmp(path, "/proc/fs/nfs/filehandle"))
		return FAKE_FILEHANDLE;
	len = strlen(path);
	if (strncmp(path, rpc, sizeof(rpc) - 1) || len < sizeof(rpc) - 1 + sizeof(chan) ||
	    strcmp(path + len - (sizeof(chan) - 1), chan))
		return FAKE_NONE;
	/* Upcall channels (O_RDWR, polled for requests) stay real: there is no kernel to ask. */
	if ((flags & O_ACCMODE) == O_WRONLY || getenv("FAKENFSD_CHANNEL_RDWR"))
		return FAKE_CHANNEL;
	return FAKE_NONE;
}

/* Returns the fd to give the application, or -errno; -ENOSYS means "use the real open". */
static int fake_open(const char *path, int flags, enum fake_kind kind)
{
	const char *fh = getenv("FAKENFSD_FH");
	int sv[2], saved = errno;
	char reply[512];
	size_t len;

	if (socketpair(AF_UNIX, SOCK_STREAM | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0, sv))
		return -errno;
	/* Our end must not leak into children the application execs (ha-callouts). */
	if (fcntl(sv[1], F_SETFD, FD_CLOEXEC) < 0 || sv[0] >= FAKE_FD_MAX || sv[1] >= FAKE_FD_MAX) {
		real_close_fd(sv[0]);
		real_close_fd(sv[1]);
		errno = saved;
		return -ENOSYS;
	}
	if (kind == FAKE_FILEHANDLE) {
		if (!fh)
			fh = DEFAULT_FH;
		len = strlen(fh);
		if (len > sizeof(reply) - 2)
			len = sizeof(reply) - 2;
		memcpy(reply, fh, len);
		reply[len++] = '\n';
		if (write(sv[1], reply, len) != (ssize_t)len) {
			int err = errno ? errno : EIO;

			real_close_fd(sv[0]);
			real_close_fd(sv[1]);
			return -err;
		}
	}
	__atomic_store_n(&is_ours[sv[1]], 1, __ATOMIC_RELEASE);
	__atomic_store_n(&peer[sv[0]], sv[1] + 1, __ATOMIC_RELEASE);
	fake_log("open %s flags=%#o -> fd %d%s", path, flags, sv[0],
		 kind == FAKE_FILEHANDLE ? " (filehandle reply queued)" : "");
	errno = saved;
	return sv[0];
}

/* Log what the application wrote into the fake; only when logging, never blocks. */
static void log_drain(int fd, int ours)
{
	char buf[1024], shown[1024 * 2 + 1];
	ssize_t n;
	size_t i, o = 0;

	if (!log_file())
		return;
	n = recv(ours, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		n = 0;
	/* Newlines separate mountd's records; show them as "\n" to keep one log line. */
	for (i = 0; i < (size_t)n && o + 2 < sizeof(shown); i++) {
		if (buf[i] == '\n') {
			shown[o++] = '\\';
			shown[o++] = 'n';
		} else {
			shown[o++] = buf[i];
		}
	}
	shown[o] = 0;
	fake_log("close fd %d wrote \"%s\"", fd, shown);
}

static int common_open(int dirfd, const char *path, int flags, mode_t mode, int at)
{
	enum fake_kind kind = FAKE_NONE;
	int fd;

	/* Only absolute names: mountd uses them; a relative one would need dirfd resolution. */
	if (path && path[0] == '/')
		kind = classify(path, flags);
	if (kind != FAKE_NONE) {
		fd = fake_open(path, flags, kind);
		if (fd >= 0)
			return fd;
		if (fd != -ENOSYS) {
			errno = -fd;
			return -1;
		}
	}
	resolve();
	if (at)
		return real_openat(dirfd, path, flags, mode);
	return real_open(path, flags, mode);
}

/* The mode argument exists only when the flags ask for a new file (O_TMPFILE has O_DIRECTORY). */
static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define GET_MODE(flags, last, mode)                                                                \
	do {                                                                                       \
		va_list ap_;                                                                       \
		if (needs_mode(flags)) {                                                           \
			va_start(ap_, last);                                                       \
			mode = (mode_t)va_arg(ap_, int);                                           \
			va_end(ap_);                                                               \
		}                                                                                  \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	GET_MODE(flags, flags, mode);
	return common_open(AT_FDCWD, path, flags, mode, 0);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	GET_MODE(flags, flags, mode);
	/* On x86_64 and every 64-bit ABI O_LARGEFILE is implied; pass it for 32-bit ones. */
	return common_open(AT_FDCWD, path, flags | O_LARGEFILE, mode, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	GET_MODE(flags, flags, mode);
	return common_open(dirfd, path, flags, mode, 1);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	GET_MODE(flags, flags, mode);
	return common_open(dirfd, path, flags | O_LARGEFILE, mode, 1);
}

/* Fortified callers land here; the real ones abort on O_CREAT without mode, so do we. */
int __open_2(const char *path, int flags)
{
	if (needs_mode(flags))
		abort();
	return common_open(AT_FDCWD, path, flags, 0, 0);
}

int __open64_2(const char *path, int flags)
{
	return __open_2(path, flags | O_LARGEFILE);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	if (needs_mode(flags))
		abort();
	return common_open(dirfd, path, flags, 0, 1);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	return __openat_2(dirfd, path, flags | O_LARGEFILE);
}

static void forget_peer(int ours)
{
	int i, want;

	for (i = 0; i < FAKE_FD_MAX; i++) {
		want = ours + 1;
		if (__atomic_compare_exchange_n(&peer[i], &want, 0, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
}

int close(int fd)
{
	int ours;

	if (fd >= 0 && fd < FAKE_FD_MAX) {
		ours = __atomic_exchange_n(&peer[fd], 0, __ATOMIC_ACQ_REL) - 1;
		if (ours >= 0) {
			log_drain(fd, ours);
			__atomic_store_n(&is_ours[ours], 0, __ATOMIC_RELEASE);
			real_close_fd(ours);
		} else if (__atomic_exchange_n(&is_ours[fd], 0, __ATOMIC_ACQ_REL)) {
			/* A close-all loop took our end; forget the fake that pointed to it. */
			forget_peer(fd);
		}
	}
	return real_close_fd(fd);
}
