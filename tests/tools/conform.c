/*
 * conform: one fixed list of system-call steps, run in DIR by root and two unprivileged
 * users, printing one outcome line per step: the result (value or errno name) and the
 * stat of what the step touched (type, mode, owner, group, size, link count, and whether
 * mtime/ctime changed, or equal a time the step set). Times are never printed as such, so
 * two runs on two directories compare line by line (tests/integration/conformance.sh
 * runs it on an rmtabfs mount and on a plain directory of the same file system).
 *
 * Usage: conform DIR  (as root; DIR empty). Users are numeric ids without host entries:
 * A = 60001 (groups 60001, 60003), B = 60002 (groups 60002, 60003), R = root; each is a
 * worker process with those credentials, driven over a socket pair, so a descriptor or a
 * lock one opened stays open across steps. Every step gets a fresh fixture directory
 * sNNN made by root, so no step depends on what an earlier one left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE	 (1 << 1)
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE  0x01
#define FALLOC_FL_PUNCH_HOLE 0x02
#define FALLOC_FL_ZERO_RANGE 0x10
#endif

enum { R, A, B, NACTORS };
static const char actor_name[NACTORS] = {'R', 'A', 'B'};
static const uid_t actor_uid[NACTORS] = {0, 60001, 60002};
#define GID_A 60001
#define GID_B 60002
#define GID_S 60003 /* shared by A and B */
#define GID_X 60004 /* nobody's */
#define T1    1000000000L
#define T2    1200000000L

enum op {
	OP_UMASK,
	OP_OPEN,
	OP_CLOSE,
	OP_WRITE,
	OP_READ,
	OP_FTRUNC,
	OP_TRUNC,
	OP_MKDIR,
	OP_MKNOD,
	OP_SYMLINK,
	OP_LINK,
	OP_UNLINK,
	OP_RMDIR,
	OP_RENAME,
	OP_CHMOD,
	OP_CHOWN,
	OP_LCHOWN,
	OP_UTIMENS,
	OP_FALLOC,
	OP_SETX,
	OP_GETX,
	OP_LISTX,
	OP_REMOVEX,
	OP_FLOCK,
	OP_SETLK,
	OP_GETLK,
	OP_TMPFILE,
	OP_SEEK,
	OP_ACCESS,
	OP_READDIR,
	OP_FCHMOD,
	OP_FCHOWN,
	OP_FUTIMENS,
	OP_READLINK,
};

struct req {
	int op;
	char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
	long a, b, c, d;
	struct timespec ts[2];
	int nulltimes;
	char val[256];
	size_t vlen;
};

struct res {
	long ret;
	int err;
	char info[512];
};

static int sock[NACTORS];
static pid_t worker_pid[NACTORS];
static long coarse_ns;

/* ---- the workers ---- */

static int fds[16];

static void hex(char *out, size_t len, const unsigned char *p, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 3 < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%02x", p[i]);
	out[o] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_names(char *out, size_t len, char **names, size_t n)
{
	size_t i, o = 0;

	qsort(names, n, sizeof(*names), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n && o + 2 < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", names[i]);
}

/* The attribute, lock and directory steps. */
static long run_op_more(struct req *q, struct res *r)
{
	char buf[4096], *names[64];
	struct flock fl;
	ssize_t n;
	size_t k;
	DIR *d;
	struct dirent *de;

	switch (q->op) {
	case OP_SETX:
		return setxattr(q->p1, q->p2, q->val, q->vlen, (int)q->a);
	case OP_GETX:
		n = getxattr(q->p1, q->p2, buf, sizeof(buf));
		if (n >= 0)
			hex(r->info, sizeof(r->info), (unsigned char *)buf, (size_t)n);
		return n;
	case OP_REMOVEX:
		return removexattr(q->p1, q->p2);
	case OP_LISTX:
		n = q->a ? llistxattr(q->p1, buf, sizeof(buf)) : listxattr(q->p1, buf, sizeof(buf));
		if (n >= 0) {
			size_t i = 0;

			for (k = 0; i < (size_t)n && k < 64; i += strlen(buf + i) + 1)
				names[k++] = buf + i;
			sorted_names(r->info, sizeof(r->info), names, k);
			return (long)k;
		}
		return -1;
	case OP_FLOCK:
		return flock(fds[q->c], (int)q->a);
	case OP_SETLK:
		memset(&fl, 0, sizeof(fl));
		fl.l_type = (short)q->a;
		fl.l_whence = SEEK_SET;
		fl.l_start = q->b;
		fl.l_len = q->d;
		return fcntl(fds[q->c], q->op == OP_SETLK && q->vlen ? F_OFD_SETLK : F_SETLK, &fl);
	case OP_GETLK:
		memset(&fl, 0, sizeof(fl));
		fl.l_type = (short)q->a;
		fl.l_whence = SEEK_SET;
		fl.l_start = q->b;
		fl.l_len = q->d;
		if (fcntl(fds[q->c], q->vlen ? F_OFD_GETLK : F_GETLK, &fl) < 0)
			return -1;
		snprintf(r->info, sizeof(r->info), "type=%d start=%ld len=%ld pid=%s", fl.l_type,
			 (long)fl.l_start, (long)fl.l_len,
			 fl.l_pid > 0	  ? "yes"
			 : fl.l_pid == -1 ? "-1"
					  : "0");
		return 0;
	case OP_SEEK:
		return lseek(fds[q->c], q->b, (int)q->a);
	case OP_ACCESS:
		return faccessat(AT_FDCWD, q->p1, (int)q->a, (int)q->b);
	case OP_READLINK:
		n = readlink(q->p1, buf, sizeof(buf) - 1);
		if (n >= 0) {
			buf[n] = '\0';
			snprintf(r->info, sizeof(r->info), "%.100s", buf);
		}
		return n;
	case OP_READDIR:
		d = opendir(q->p1);
		if (!d)
			return -1;
		k = 0;
		while ((de = readdir(d)) && k < 64)
			names[k++] = strdup(de->d_name);
		closedir(d);
		sorted_names(r->info, sizeof(r->info), names, k);
		while (k)
			free(names[--k]);
		return 0;
	}
	errno = ENOSYS;
	return -1;
}

static long run_op(struct req *q, struct res *r)
{
	char buf[4096];
	ssize_t n;
	int fd;

	switch (q->op) {
	case OP_UMASK:
		umask((mode_t)q->a);
		return 0;
	case OP_OPEN:
		fd = open(q->p1, (int)q->a, (mode_t)q->b);
		fds[q->c] = fd; /* -1 after a failure: later steps on the slot get EBADF */
		return fd < 0 ? -1 : 0;
	case OP_TMPFILE:
		fd = open(q->p1, O_TMPFILE | O_RDWR, (mode_t)q->a);
		fds[q->c] = fd;
		return fd < 0 ? -1 : 0;
	case OP_CLOSE:
		fd = fds[q->c];
		fds[q->c] = -1;
		return close(fd);
	case OP_WRITE:
		memset(buf, 'w', sizeof(buf));
		return write(fds[q->c], buf, (size_t)q->a);
	case OP_READ:
		n = pread(fds[q->c], buf, (size_t)q->a, q->b);
		if (n > 0)
			hex(r->info, 64, (unsigned char *)buf, (size_t)(n < 8 ? n : 8));
		return n;
	case OP_FTRUNC:
		return ftruncate(fds[q->c], q->a);
	case OP_TRUNC:
		return truncate(q->p1, q->a);
	case OP_MKDIR:
		return mkdir(q->p1, (mode_t)q->a);
	case OP_MKNOD:
		return mknod(q->p1, (mode_t)q->a, (dev_t)q->b);
	case OP_SYMLINK:
		return symlink(q->p1, q->p2);
	case OP_LINK:
		return linkat(AT_FDCWD, q->p1, AT_FDCWD, q->p2, (int)q->a);
	case OP_UNLINK:
		return unlink(q->p1);
	case OP_RMDIR:
		return rmdir(q->p1);
	case OP_RENAME:
		return renameat2(AT_FDCWD, q->p1, AT_FDCWD, q->p2, (unsigned)q->a);
	case OP_CHMOD:
		return chmod(q->p1, (mode_t)q->a);
	case OP_FCHMOD:
		return fchmod(fds[q->c], (mode_t)q->a);
	case OP_CHOWN:
		return chown(q->p1, (uid_t)q->a, (gid_t)q->b);
	case OP_LCHOWN:
		return lchown(q->p1, (uid_t)q->a, (gid_t)q->b);
	case OP_FCHOWN:
		return fchown(fds[q->c], (uid_t)q->a, (gid_t)q->b);
	case OP_UTIMENS:
		return utimensat(AT_FDCWD, q->p1, q->nulltimes ? NULL : q->ts, (int)q->a);
	case OP_FUTIMENS:
		return futimens(fds[q->c], q->nulltimes ? NULL : q->ts);
	case OP_FALLOC:
		return fallocate(fds[q->c], (int)q->a, q->b, q->d);
	default:
		return run_op_more(q, r);
	}
	errno = ENOSYS;
	return -1;
}

static void worker(int s, int who, const char *dir)
{
	gid_t groups[2];
	struct req q;
	struct res r;

	if (chdir(dir) < 0)
		_exit(1);
	if (who != R) {
		groups[0] = who == A ? GID_A : GID_B;
		groups[1] = GID_S;
		if (setgroups(2, groups) < 0 || setresgid(groups[0], groups[0], groups[0]) < 0 ||
		    setresuid(actor_uid[who], actor_uid[who], actor_uid[who]) < 0)
			_exit(1);
	}
	umask(022);
	memset(fds, -1, sizeof(fds));
	while (read(s, &q, sizeof(q)) == (ssize_t)sizeof(q)) {
		memset(&r, 0, sizeof(r));
		errno = 0;
		r.ret = run_op(&q, &r);
		r.err = r.ret < 0 ? errno : 0;
		if (write(s, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
	}
	_exit(0);
}

/* ---- the driver ---- */

static int nstep, fixture;
static char slot_path[NACTORS][16][PATH_MAX + 64]; /* what each worker's slot has open */
static char sdir[64];

static const char *errname(int e)
{
	static char other[32];

	switch (e) {
#define E(x)                                                                                       \
	case x:                                                                                    \
		return #x
		E(EPERM);
		E(ENOENT);
		E(EACCES);
		E(EEXIST);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(ENOTEMPTY);
		E(EXDEV);
		E(EBADF);
		E(ENAMETOOLONG);
		E(ELOOP);
		E(EOPNOTSUPP);
		E(ENODATA);
		E(ERANGE);
		E(EWOULDBLOCK);
		E(ENXIO);
		E(EFBIG);
		E(ETXTBSY);
		E(EBUSY);
		E(ENOSPC);
		E(EMLINK);
		E(ENOSYS);
		E(EFAULT);
		E(E2BIG);
		E(EROFS);
		E(ENOTTY);
#undef E
	}
	snprintf(other, sizeof(other), "errno%d", e);
	return other;
}

struct seen {
	int ok;
	struct stat st;
};

static void look(const char *p, struct seen *s)
{
	s->ok = p && *p && lstat(p, &s->st) == 0;
}

static const char *tdelta(const struct timespec *before, const struct timespec *after, int was,
			  char *buf, size_t len)
{
	if (after->tv_sec == T1 || after->tv_sec == T2)
		snprintf(buf, len, "%s.%09ld", after->tv_sec == T1 ? "T1" : "T2", after->tv_nsec);
	else if (!was)
		snprintf(buf, len, "new");
	else
		snprintf(buf, len, "%s",
			 before->tv_sec == after->tv_sec && before->tv_nsec == after->tv_nsec
				 ? "same"
				 : "changed");
	return buf;
}

/*
 * Prints the stat of p now, its times compared with those seen before the step of the
 * same inode (pre or alt: a rename may have moved it from one name to the other).
 */
static void describe(const char *label, const char *p, const struct seen *pre,
		     const struct seen *alt, int blocks)
{
	static const struct seen none;
	struct seen now;
	char m[40], c[40];

	if (!p || !*p)
		return;
	look(p, &now);
	if (now.ok && alt && alt->ok && alt->st.st_ino == now.st.st_ino &&
	    !(pre->ok && pre->st.st_ino == now.st.st_ino))
		pre = alt;
	else if (now.ok && pre->ok && pre->st.st_ino != now.st.st_ino)
		pre = &none;
	if (!now.ok) {
		printf(" | %s absent", label);
		return;
	}
	printf(" | %s %07o %u:%u size=%lld nlink=%lu mtime=%s ctime=%s", label,
	       (unsigned)now.st.st_mode, now.st.st_uid, now.st.st_gid,
	       S_ISDIR(now.st.st_mode) ? 0LL : (long long)now.st.st_size,
	       (unsigned long)now.st.st_nlink,
	       tdelta(&pre->st.st_mtim, &now.st.st_mtim, pre->ok, m, sizeof(m)),
	       tdelta(&pre->st.st_ctim, &now.st.st_ctim, pre->ok, c, sizeof(c)));
	if (blocks)
		printf(" blocks=%lld", (long long)now.st.st_blocks);
	if (S_ISCHR(now.st.st_mode) || S_ISBLK(now.st.st_mode))
		printf(" rdev=%u,%u", major(now.st.st_rdev), minor(now.st.st_rdev));
}

static void parent_of(const char *p, char *out, size_t len)
{
	const char *slash = strrchr(p, '/');

	if (!slash)
		snprintf(out, len, ".");
	else
		snprintf(out, len, "%.*s", (int)(slash - p), p);
}

/* Runs one step as `who`, printing its outcome line; returns the call's result. */
static long step(int who, struct req *q, const char *what, int blocks)
{
	struct seen s1, s2, d1, d2;
	char dp1[PATH_MAX + 64] = "", dp2[PATH_MAX + 64] = "";
	struct timespec pause = {0, coarse_ns + 1000000};
	struct res r;
	int uses_p2 = q->op == OP_SYMLINK || q->op == OP_LINK || q->op == OP_RENAME;
	int by_slot = !q->p1[0] && q->op != OP_UMASK;
	char p1[PATH_MAX + 64];

	/* A step on a descriptor shows the file it has open (by the name it was opened). */
	snprintf(p1, sizeof(p1), "%s", by_slot ? slot_path[who][q->c] : q->p1);
	if (q->p1[0])
		parent_of(q->p1, dp1, sizeof(dp1));
	if (uses_p2)
		parent_of(q->p2, dp2, sizeof(dp2));
	look(q->op == OP_SYMLINK ? NULL : p1, &s1);
	look(uses_p2 ? q->p2 : NULL, &s2);
	look(dp1, &d1);
	look(dp2, &d2);
	/* Let the clock move, so that any time the step sets differs from the one before. */
	nanosleep(&pause, NULL);
	if (write(sock[who], q, sizeof(*q)) != (ssize_t)sizeof(*q) ||
	    read(sock[who], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		fprintf(stderr, "conform: worker %c is gone\n", actor_name[who]);
		exit(2);
	}
	printf("%04d %c %s", ++nstep, actor_name[who], what);
	if (r.ret < 0)
		printf(" -> %s", errname(r.err));
	else if (q->op == OP_OPEN || q->op == OP_TMPFILE)
		printf(" -> fd");
	else
		printf(" -> %ld", r.ret);
	if (r.info[0])
		printf(" [%s]", r.info);
	if (q->op == OP_OPEN || q->op == OP_TMPFILE)
		snprintf(slot_path[who][q->c], sizeof(slot_path[who][q->c]), "%s",
			 q->op == OP_OPEN && r.ret == 0 ? q->p1 : "");
	if (by_slot)
		describe("fd", p1, &s1, NULL, blocks);
	else if (q->op != OP_SYMLINK)
		describe("p1", q->p1, &s1, &s2, blocks);
	else
		describe("p2", q->p2, &s2, NULL, blocks);
	if (uses_p2 && q->op != OP_SYMLINK)
		describe("p2", q->p2, &s2, &s1, blocks);
	describe("dir1", dp1, &d1, NULL, 0);
	if (uses_p2 && strcmp(dp1, dp2) != 0)
		describe("dir2", dp2, &d2, NULL, 0);
	printf("\n");
	return r.ret;
}

static struct req *Q(int op, const char *p1, const char *p2)
{
	static struct req q;

	memset(&q, 0, sizeof(q));
	q.op = op;
	if (p1)
		snprintf(q.p1, sizeof(q.p1), "%s/%s", sdir, p1);
	if (p2)
		snprintf(q.p2, sizeof(q.p2), "%s/%s", sdir, p2);
	return &q;
}

static void die(const char *what)
{
	fprintf(stderr, "conform: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* A new fixture directory sNNN (mode, owner, group) made by root. */
static void fresh(mode_t mode, uid_t uid, gid_t gid)
{
	snprintf(sdir, sizeof(sdir), "s%03d", ++fixture);
	if (mkdir(sdir, 0700) < 0 || chown(sdir, uid, gid) < 0 || chmod(sdir, mode) < 0)
		die(sdir);
}

/* A fixture file or directory inside sNNN, made by root. */
static void mk(const char *name, int dir, mode_t mode, uid_t uid, gid_t gid, size_t size)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", sdir, name);
	if (dir) {
		if (mkdir(p, 0700) < 0)
			die(p);
	} else {
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd < 0)
			die(p);
		while (size--)
			if (write(fd, "f", 1) != 1)
				die(p);
		close(fd);
	}
	if (chown(p, uid, gid) < 0 || chmod(p, mode) < 0)
		die(p);
}

static void as_umask(int who, mode_t m)
{
	struct req *q = Q(OP_UMASK, NULL, NULL);
	char what[32];

	q->a = m;
	snprintf(what, sizeof(what), "umask %03o", (unsigned)m);
	step(who, q, what, 0);
}

#include "conform_steps.h"

int main(int argc, char **argv)
{
	struct timespec res;
	int i, sv[2];

	if (argc != 2 || geteuid() != 0) {
		fprintf(stderr, "usage (as root): conform DIR\n");
		return 2;
	}
	if (chdir(argv[1]) < 0)
		die(argv[1]);
	coarse_ns = clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 ? res.tv_nsec : 4000000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(0);
	for (i = 0; i < NACTORS; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			die("socketpair");
		worker_pid[i] = fork();
		if (worker_pid[i] < 0)
			die("fork");
		if (worker_pid[i] == 0) {
			int j;

			for (j = 0; j < i; j++)
				close(sock[j]); /* else an earlier worker never sees its EOF */
			close(sv[0]);
			worker(sv[1], i, ".");
		}
		close(sv[1]);
		sock[i] = sv[0];
	}
	run_all();
	for (i = 0; i < NACTORS; i++) {
		close(sock[i]);
		waitpid(worker_pid[i], NULL, 0);
	}
	fprintf(stderr, "conform: %d steps\n", nstep);
	return 0;
}
