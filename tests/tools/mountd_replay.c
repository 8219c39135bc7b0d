/*
 * mountd_replay - replays rpc.mountd 2.6.2's rmtab code paths against a state directory.
 *
 * Tests of rmtabfs need the exact syscalls an unchanged rpc.mountd issues on rmtab, rmtab.tmp and
 * .rmtab.lock, thousands of times and without an RPC stack. This program issues the same calls
 * as nfs-utils 2.6.2 (notes nfs-utils.md §2, §3, §7) for MNT, UMNT, UMNTALL and DUMP.
 *
 * Invariants:
 *  - all rmtab I/O goes through the stdio calls mountd makes (fopen "r", "r+", "a", "w", ftell,
 *    fgets, fseek, fprintf, fclose), so glibc issues the same syscalls: the open flags, the
 *    4096-byte reads, the lseek before the in-place write, and a write only at fclose;
 *  - .rmtab.lock is locked (F_SETLKW, whole file) before rmtab is touched and released only by
 *    close(2), after the last rmtab fd is closed, so the unlock reaches FUSE as a FLUSH;
 *  - in UMNT/UMNTALL, rename(rmtab.tmp, rmtab) precedes the write of the data, which arrives
 *    later through the fd opened as rmtab.tmp (it is still in the stdio buffer at rename time
 *    unless it exceeds the buffer, as in mountd);
 *  - nothing mountd lacks: no fsync, no O_CLOEXEC, no unlink of the lock file;
 *  - the -H callout is fork+execl+waitpid with the lock and rmtab fds inherited, before the write;
 *  - across commands in script mode only DUMP's cached list and last mtime survive, as the
 *    statics of mountlist_list() do in a mountd process.
 *
 * Upstream behaviour reproduced (nfs-utils 2.6.2): utils/mountd/rmtab.c mountlist_add,
 * mountlist_del, mountlist_del_all, mountlist_list, slink_safe_rename; support/nfs/rmtab.c
 * setrmtabent, fsetrmtabent, fgetrmtabent, fputrmtabent, endrmtabent; support/nfs/xio.c xflock,
 * xfunlock; support/include/ha-callout.h ha_callout. UMNTALL's comparison name is passed by the
 * caller (mountd uses host_canonname(), i.e. reverse DNS) and auth_authenticate() is assumed to
 * allow every entry; an empty name stands for a failed reverse lookup.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* support/include/nfslib.h and support/nfs/rmtab.c */
#define NFSCLNT_IDMAX  1024
#define NFS_MAXPATHLEN 1024
#define LINELEN	       2048
#define IPV6_COLON     ';'

struct rmtabent {
	char r_client[NFSCLNT_IDMAX + 1];
	char r_path[NFS_MAXPATHLEN + 1];
	int r_count;
};

/* One DUMP reply entry; the list is built by prepending, hence reverse file order. */
struct mount_node {
	char *host;
	char *dir;
	struct mount_node *next;
};

enum result {
	RES_ERR,       /* lock or open failed: nothing written */
	RES_INPLACE,   /* MNT bumped an existing line in place */
	RES_APPEND,    /* MNT appended a new line */
	RES_NOMATCH,   /* UMNT rewrote the file without a matching entry */
	RES_MATCH,     /* UMNT decremented (and maybe dropped) matching entries */
	RES_REWRITTEN, /* UMNTALL rewrote the file */
	RES_NOHOST,    /* UMNTALL with a failed reverse lookup: no rewrite */
};

static char *rmtab_fn;
static char *rmtab_tmpfn;
static char *rmtab_lockfn;
static const char *ha_callout_prog;
static bool quiet;
/*
 * -E: report an op whose close(2) of rmtab failed as "err". rpc.mountd ignores fclose
 * errors (and answers MNT3_OK anyway); fault tests need to know which changes the file
 * system acknowledged.
 */
static bool strict_close;
static bool close_failed;

/* -e: the exported directories auth_authenticate() knows; none given = everything allowed. */
static const char **exports;
static int n_exports;

/* setrmtabent()/getrmtabent()/endrmtabent() share one stream, as in support/nfs/rmtab.c. */
static FILE *rmfp;

static void xlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void xlog(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf so that a traced run shows one write(2) per message. */
	fprintf(stderr, "mountd_replay: %s\n", msg);
}

/* strncpy(dst, src, size - 1) + NUL, without the truncation warning. */
static void copy_trunc(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * xflock: openat(lockfn, O_RDONLY|O_CREAT, 0600) for "r", else openat(lockfn, O_RDWR|O_CREAT,
 * 0600); fcntl(fd, F_SETLKW, {F_RDLCK|F_WRLCK, SEEK_SET, 0, 0}); on failure close(fd).
 * Blocks without a timeout: mountd dropped its alarm(10) in 1.2.2.
 */
static int xflock(const char *fname, const char *type)
{
	bool readonly = strcmp(type, "r") == 0;
	struct flock fl;
	int fd;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = readonly ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;

	fd = open(fname, readonly ? O_RDONLY | O_CREAT : O_RDWR | O_CREAT, 0600);
	if (fd < 0) {
		xlog("could not open %s for locking: errno %d (%s)", fname, errno, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLKW, &fl) < 0) {
		xlog("failed to lock %s: errno %d (%s)", fname, errno, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* xfunlock: close(fd). The lock goes with the close; there is no F_UNLCK. */
static void xfunlock(int fd)
{
	close(fd);
}

/* fsetrmtabent: fopen(fname, type) = openat() with the flags of the stdio mode (notes §3). */
static FILE *fsetrmtabent(const char *fname, const char *type)
{
	bool readonly = strcmp(type, "r") == 0;
	FILE *fp = fopen(fname, type);

	if (!fp)
		xlog("can't open %s for %sing", fname, readonly ? "read" : "writ");
	return fp;
}

/* setrmtabent: [close(old rmfp)], then fsetrmtabent(rmtab, type). */
static bool setrmtabent(const char *type)
{
	if (rmfp)
		fclose(rmfp);
	rmfp = fsetrmtabent(rmtab_fn, type);
	return rmfp != NULL;
}

/*
 * fgetrmtabent: [lseek(fd, 0, SEEK_CUR) for ftell], then fgets, which issues fstat + read(4096)
 * on the first call and further read(4096) when its buffer runs out. Quirks kept (notes §2):
 * fgets into sizeof(buf) - 1 of a 2048-byte buffer splits longer lines; the first '\n' is cut; no
 * ':' returns NULL exactly like EOF; count via strtol base 0, 1 when absent; fields truncated to
 * 1024 bytes; ';' in the client turned back into ':'.
 */
static struct rmtabent *fgetrmtabent(FILE *fp, bool log, long *pos)
{
	static struct rmtabent re;
	static char buf[LINELEN];
	char *host, *path, *count, *c;

	errno = 0;
	if (!fp)
		return NULL;
	if (pos)
		*pos = ftell(fp);
	if (!fgets(buf, sizeof(buf) - 1, fp))
		return NULL;
	host = buf;
	path = strchr(host, '\n');
	if (path)
		*path = '\0';
	path = strchr(host, ':');
	if (!path) {
		if (log)
			xlog("malformed entry in rmtab file");
		errno = EINVAL;
		return NULL;
	}
	*path++ = '\0';
	count = strchr(path, ':');
	if (count) {
		*count++ = '\0';
		re.r_count = strtol(count, NULL, 0);
	} else {
		re.r_count = 1;
	}
	copy_trunc(re.r_client, host, sizeof(re.r_client));
	for (c = re.r_client; *c; c++)
		if (*c == IPV6_COLON)
			*c = ':';
	copy_trunc(re.r_path, path, sizeof(re.r_path));
	return &re;
}

static struct rmtabent *getrmtabent(bool log, long *pos)
{
	return fgetrmtabent(rmfp, log, pos);
}

/*
 * fputrmtabent: with pos, fseek(pos) (glibc: lseek(fd, pos, SEEK_SET)); then fprintf into the
 * stdio buffer; the write(2) happens at fclose (or when the buffer fills). ':' in the client
 * becomes ';'. The count is always 10 characters, which keeps in-place bumps length-preserving.
 */
static void fputrmtabent(FILE *fp, const struct rmtabent *rep, const long *pos)
{
	static char buf[LINELEN];
	char *c;

	if (!fp || (pos && fseek(fp, *pos, SEEK_SET) != 0))
		return;
	if (strlen(rep->r_client) > sizeof(buf)) {
		xlog("client name too large");
		return;
	}
	copy_trunc(buf, rep->r_client, sizeof(buf));
	for (c = buf; *c; c++)
		if (*c == ':')
			*c = IPV6_COLON;
	fprintf(fp, "%s:%s:0x%.8x\n", buf, rep->r_path, (unsigned int)rep->r_count);
}

static void putrmtabent(const struct rmtabent *rep, const long *pos)
{
	fputrmtabent(rmfp, rep, pos);
}

/* fendrmtabent: fclose = [write(buffered data)] + close. No fdatasync since fc1127d7. */
static void fendrmtabent(FILE *fp)
{
	if (fp && fclose(fp) != 0)
		close_failed = true;
}

static void endrmtabent(void)
{
	fendrmtabent(rmfp);
	rmfp = NULL;
}

/*
 * ha_callout: rt_sigaction(SIGCHLD, SIG_DFL); clone (fork); child: execve(prog, prog, event,
 * client, path, count) with every fd inherited, _exit(2) if exec fails; parent: wait4;
 * rt_sigaction(SIGCHLD, old). The callout's exit closes the inherited fds, hence extra FLUSHes of
 * the open rmtab and lock files, with the child's lock owner.
 */
static void ha_callout(const char *event, const char *client, const char *path, int count)
{
	struct sigaction newact, oldact;
	char buf[16];
	int status = -1;
	pid_t pid;

	if (!ha_callout_prog)
		return;
	snprintf(buf, sizeof(buf), "%d", count);
	memset(&newact, 0, sizeof(newact));
	newact.sa_handler = SIG_DFL;
	sigemptyset(&newact.sa_mask);
	sigaction(SIGCHLD, &newact, &oldact);
	pid = fork();
	switch (pid) {
	case 0:
		execl(ha_callout_prog, ha_callout_prog, event, client, path, count < 0 ? NULL : buf,
		      (char *)NULL);
		perror("execl");
		/* _exit, not exit: the inherited stdio buffers must not be flushed twice. */
		_exit(2);
	case -1:
		perror("fork");
		break;
	default:
		waitpid(pid, &status, 0);
	}
	sigaction(SIGCHLD, &oldact, &newact);
}

/*
 * Stand-in for auth_authenticate(): mountd looks the path up in its export table, retrying with
 * the last component stripped, so an export also covers everything below it. No syscalls.
 */
static bool auth_allows(const char *path)
{
	int i;

	if (!n_exports)
		return true;
	for (i = 0; i < n_exports; i++) {
		size_t len = strlen(exports[i]);

		if (!strcmp(exports[i], "/") ||
		    (!strncmp(path, exports[i], len) && (path[len] == '\0' || path[len] == '/')))
			return true;
	}
	return false;
}

/*
 * slink_safe_rename: newfstatat(newpath, AT_SYMLINK_NOFOLLOW); if a symlink, readlink and
 * rename onto its target (relative targets resolve against the cwd, as in mountd); rename.
 */
static int slink_safe_rename(const char *oldpath, const char *newpath)
{
	char slink_path[PATH_MAX];
	const char *real_newpath = newpath;
	struct stat st;
	ssize_t r;

	if (lstat(newpath, &st) == 0 && S_ISLNK(st.st_mode)) {
		r = readlink(newpath, slink_path, PATH_MAX - 1);
		if (r == -1)
			return -1;
		slink_path[r] = '\0';
		real_newpath = slink_path;
	}
	return rename(oldpath, real_newpath);
}

/*
 * MNT (notes §3 "MNT → mountlist_add"; checked against the Debian rpc.mountd binary):
 *   openat(.rmtab.lock, O_RDWR|O_CREAT, 0600); fcntl(F_SETLKW, F_WRLCK, whole file)
 *   openat(rmtab, O_RDWR)                              fopen "r+"; ENOENT -> append branch
 *   lseek(0, SEEK_CUR); fstat; read(4096)              first ftell + fgets
 *   lseek(0, SEEK_CUR) before each later line          ftell; read(4096) as the buffer runs out
 *   match at pos:
 *     [rt_sigaction, clone, wait4, rt_sigaction]       -H callout "mount C P N+1"
 *     pos == 0: lseek(0, SEEK_SET)
 *     else:     lseek(pos rounded down to 4096, SEEK_SET); read(4096); lseek(-k, SEEK_CUR)
 *               (glibc's fseek on a read stream refills its buffer first)
 *     write(line) at pos; close                        fclose; same length only if the old
 *                                                      line had a 10-character count
 *   no match (EOF or malformed line):
 *     close; openat(rmtab, O_WRONLY|O_CREAT|O_APPEND, 0666); lseek(0, SEEK_END)   fopen "a"
 *     [callout "mount C P 1"]; fstat; write(line); close
 *   close(lockfd)
 */
static enum result mountlist_add(const char *host, const char *path, int *count)
{
	struct rmtabent xe;
	struct rmtabent *rep;
	enum result res = RES_ERR;
	long pos;
	int lockid;

	lockid = xflock(rmtab_lockfn, "a");
	if (lockid < 0)
		return RES_ERR;
	setrmtabent("r+");
	while ((rep = getrmtabent(true, &pos)) != NULL) {
		if (strcmp(rep->r_client, host) == 0 && strcmp(rep->r_path, path) == 0) {
			rep->r_count++;
			*count = rep->r_count;
			ha_callout("mount", rep->r_client, rep->r_path, rep->r_count);
			putrmtabent(rep, &pos);
			endrmtabent();
			xfunlock(lockid);
			return RES_INPLACE;
		}
	}
	endrmtabent();
	copy_trunc(xe.r_client, host, sizeof(xe.r_client));
	copy_trunc(xe.r_path, path, sizeof(xe.r_path));
	xe.r_count = 1;
	if (setrmtabent("a")) {
		ha_callout("mount", xe.r_client, xe.r_path, xe.r_count);
		putrmtabent(&xe, NULL);
		endrmtabent();
		*count = 1;
		res = RES_APPEND;
	}
	xfunlock(lockid);
	return res;
}

/*
 * UMNT (notes §3 "UMNT → mountlist_del"):
 *   openat(.rmtab.lock, O_RDWR|O_CREAT, 0600); fcntl(F_SETLKW, F_WRLCK)
 *   openat(rmtab, O_RDONLY)                            ENOENT -> close(lockfd), done
 *   openat(rmtab.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)
 *   fstat + read(4096)... until EOF or a malformed line; matches decremented, each with
 *     [rt_sigaction, clone, wait4, rt_sigaction]       -H callout "unmount C P N-1"
 *     (surviving lines only go into the stdio buffer; fstat of tmp at the first one)
 *   newfstatat(rmtab, AT_SYMLINK_NOFOLLOW) [+ readlink]; rename(rmtab.tmp, rmtab or target)
 *   close(rmtab fd)                                    the old, now unlinked inode
 *   write(tmp fd, surviving lines); close(tmp fd)      data arrives after the rename
 *   close(lockfd)
 * The file is rewritten even when nothing matched. The stdio buffer of rmtab.tmp is st_blksize
 * up to 8 KiB (8 KiB on rmtabfs, 4 KiB on ext4): of a longer file every full buffer is
 * written before the rename and only the rest after it, as with the real mountd.
 */
static enum result mountlist_del(const char *hname, const char *path, int *matches)
{
	struct rmtabent *rep;
	FILE *fp;
	int lockid;
	bool match;

	*matches = 0;
	lockid = xflock(rmtab_lockfn, "w");
	if (lockid < 0)
		return RES_ERR;
	if (!setrmtabent("r")) {
		xfunlock(lockid);
		return RES_ERR;
	}
	fp = fsetrmtabent(rmtab_tmpfn, "w");
	if (!fp) {
		endrmtabent();
		xfunlock(lockid);
		return RES_ERR;
	}
	while ((rep = getrmtabent(true, NULL)) != NULL) {
		match = strcmp(rep->r_client, hname) == 0 && strcmp(rep->r_path, path) == 0;
		if (match) {
			rep->r_count--;
			(*matches)++;
			ha_callout("unmount", rep->r_client, rep->r_path, rep->r_count);
		}
		if (!match || rep->r_count)
			fputrmtabent(fp, rep, NULL);
	}
	if (slink_safe_rename(rmtab_tmpfn, rmtab_fn) < 0)
		xlog("couldn't rename %s to %s", rmtab_tmpfn, rmtab_fn);
	endrmtabent();
	fendrmtabent(fp);
	xfunlock(lockid);
	return *matches ? RES_MATCH : RES_NOMATCH;
}

/*
 * UMNTALL (notes §3 "UMNTALL"): as UMNT, but entries whose client equals hostname are dropped
 * (no decrement, no callout), and the closes come in the other order:
 *   openat(.rmtab.lock, O_RDWR|O_CREAT, 0600); fcntl(F_SETLKW, F_WRLCK)
 *   [empty hostname = failed reverse lookup: close(lockfd), done, no rewrite]
 *   openat(rmtab, O_RDONLY); openat(rmtab.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0666)
 *   fstat + read(4096)...; newfstatat(rmtab, AT_SYMLINK_NOFOLLOW); rename(rmtab.tmp, rmtab)
 *   write(tmp fd, surviving lines); close(tmp fd); close(rmtab fd); close(lockfd)
 */
static enum result mountlist_del_all(const char *hostname, int *dropped)
{
	struct rmtabent *rep;
	enum result res = RES_ERR;
	FILE *fp;
	int lockid;

	*dropped = 0;
	lockid = xflock(rmtab_lockfn, "w");
	if (lockid < 0)
		return RES_ERR;
	if (!hostname || !*hostname) {
		xlog("can't get hostname of client");
		res = RES_NOHOST;
		goto out_unlock;
	}
	if (!setrmtabent("r"))
		goto out_unlock;
	fp = fsetrmtabent(rmtab_tmpfn, "w");
	if (!fp)
		goto out_close;
	while ((rep = getrmtabent(true, NULL)) != NULL) {
		if (strcmp(rep->r_client, hostname) == 0 && auth_allows(rep->r_path)) {
			(*dropped)++;
			continue;
		}
		fputrmtabent(fp, rep, NULL);
	}
	if (slink_safe_rename(rmtab_tmpfn, rmtab_fn) < 0)
		xlog("couldn't rename %s to %s", rmtab_tmpfn, rmtab_fn);
	fendrmtabent(fp);
	res = RES_REWRITTEN;
out_close:
	endrmtabent();
out_unlock:
	xfunlock(lockid);
	return res;
}

static void mountlist_freeall(struct mount_node *list)
{
	while (list) {
		struct mount_node *m = list;

		list = m->next;
		free(m->host);
		free(m->dir);
		free(m);
	}
}

/*
 * DUMP (notes §3 "DUMP → mountlist_list"):
 *   openat(.rmtab.lock, O_RDONLY|O_CREAT, 0600); fcntl(F_SETLKW, F_RDLCK)
 *   newfstatat(rmtab, 0)                               fails -> close(lockfd), empty reply
 *   only if st_mtime (whole seconds) != the last one seen by this process:
 *     openat(rmtab, O_RDONLY); fstat; read(4096)...; close
 *   close(lockfd)
 * *state tells the caller which of the three happened (for the output only).
 */
enum dump_state {
	DUMP_NOSTAT, /* lock or stat failed: empty reply */
	DUMP_CACHED, /* same mtime as last time: cached list */
	DUMP_READ,   /* rmtab was read */
};

static const char *const dump_state_names[] = {"nostat", "cached", "read"};

static struct mount_node *mountlist_list(enum dump_state *state)
{
	static struct mount_node *mlist;
	static time_t last_mtime;
	struct rmtabent *rep;
	struct stat stb;
	int lockid;

	*state = DUMP_NOSTAT;
	lockid = xflock(rmtab_lockfn, "r");
	if (lockid < 0)
		return NULL;
	if (stat(rmtab_fn, &stb) < 0) {
		xlog("can't stat %s: %s", rmtab_fn, strerror(errno));
		xfunlock(lockid);
		return NULL;
	}
	*state = DUMP_CACHED;
	if (stb.st_mtime != last_mtime) {
		*state = DUMP_READ;
		mountlist_freeall(mlist);
		mlist = NULL;
		last_mtime = stb.st_mtime;
		setrmtabent("r");
		while ((rep = getrmtabent(true, NULL)) != NULL) {
			struct mount_node *m = calloc(1, sizeof(*m));

			if (!m) {
				mountlist_freeall(mlist);
				mlist = NULL;
				xlog("%s: memory allocation failed", __func__);
				break;
			}
			m->host = strdup(rep->r_client);
			m->dir = strdup(rep->r_path);
			if (!m->host || !m->dir) {
				free(m->host);
				free(m->dir);
				free(m);
				mountlist_freeall(mlist);
				mlist = NULL;
				xlog("%s: memory allocation failed", __func__);
				break;
			}
			m->next = mlist;
			mlist = m;
		}
		endrmtabent();
	}
	xfunlock(lockid);
	return mlist;
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		perror("asprintf");
		exit(2);
	}
	return p;
}

/* MNT and UMNT reach rmtab only when the caller's auth_authenticate() passed. */
static bool do_mnt(const char *client, const char *path)
{
	int count = 0;

	if (!auth_allows(path)) {
		printf("mnt %s %s denied\n", client, path);
		return true;
	}

	close_failed = false;
	switch (mountlist_add(client, path, &count)) {
	case RES_INPLACE:
		if (strict_close && close_failed)
			goto err;
		printf("mnt %s %s inplace %d\n", client, path, count);
		break;
	case RES_APPEND:
		if (strict_close && close_failed)
			goto err;
		printf("mnt %s %s append %d\n", client, path, count);
		break;
	default:
	err:
		printf("mnt %s %s err\n", client, path);
		return false;
	}
	return true;
}

static bool do_umnt(const char *client, const char *path)
{
	int matches = 0;

	if (!auth_allows(path)) {
		printf("umnt %s %s denied\n", client, path);
		return true;
	}
	close_failed = false;
	switch (mountlist_del(client, path, &matches)) {
	case RES_MATCH:
		if (strict_close && close_failed)
			goto err;
		printf("umnt %s %s ok %d\n", client, path, matches);
		break;
	case RES_NOMATCH:
		printf("umnt %s %s nomatch\n", client, path);
		break;
	default:
	err:
		printf("umnt %s %s err\n", client, path);
		return false;
	}
	return true;
}

static bool do_umntall(const char *name)
{
	int dropped = 0;

	switch (mountlist_del_all(name, &dropped)) {
	case RES_REWRITTEN:
		printf("umntall %s ok %d\n", name, dropped);
		break;
	case RES_NOHOST:
		printf("umntall %s nohost\n", name);
		break;
	default:
		printf("umntall %s err\n", name);
		return false;
	}
	return true;
}

static void do_dump(bool header)
{
	struct mount_node *m, *list;
	enum dump_state state;
	int n = 0;

	list = mountlist_list(&state);
	for (m = list; m; m = m->next)
		n++;
	if (header)
		printf("dump %d %s\n", n, dump_state_names[state]);
	for (m = list; m; m = m->next)
		printf("%s %s\n", m->host, m->dir);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mountd_replay [OPTIONS] DIR mnt CLIENT PATH\n"
		"       mountd_replay [OPTIONS] DIR umnt CLIENT PATH\n"
		"       mountd_replay [OPTIONS] DIR umntall CLIENTNAME\n"
		"       mountd_replay [OPTIONS] DIR dump\n"
		"       mountd_replay [OPTIONS] DIR script  < commands\n"
		"options: -H CALLOUT  ha-callout program (mountd -H)\n"
		"         -e EXPORT   exported directory (repeatable); paths outside all of them\n"
		"                     fail auth_authenticate(); default: everything allowed\n"
		"         -q          no diagnostics on stderr\n"
		"         -E          report an op whose close of rmtab failed as err (mountd does "
		"not)\n"
		"script lines: mnt CLIENT PATH | umnt CLIENT PATH | umntall [NAME] | dump |"
		" sleep MS\n"
		"  (PATH and NAME are the rest of the line; empty NAME = failed reverse lookup;\n"
		"   empty lines and lines starting with # are ignored)\n"
		"output: mnt C P inplace N|append 1|denied|err / umnt C P ok K|nomatch|denied|err "
		"/\n"
		"        umntall NAME ok K|nohost|err / dump: [script: dump N read|cached|nostat]\n"
		"        then one CLIENT PATH line per entry, in reverse file order\n");
	exit(2);
}

/* Splits "CLIENT PATH": the client ends at the first space, the path is the rest. */
static bool split_client_path(char *args, char **client, char **path)
{
	char *sp;

	if (!args)
		return false;
	sp = strchr(args, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	*client = args;
	*path = sp + 1;
	return true;
}

static int run_script(void)
{
	char *line = NULL, *cmd, *args, *client, *path;
	size_t cap = 0;
	ssize_t len;
	int bad = 0;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		cmd = line;
		args = strchr(line, ' ');
		if (args)
			*args++ = '\0';
		if (!strcmp(cmd, "mnt") && split_client_path(args, &client, &path)) {
			do_mnt(client, path);
		} else if (!strcmp(cmd, "umnt") && split_client_path(args, &client, &path)) {
			do_umnt(client, path);
		} else if (!strcmp(cmd, "umntall")) {
			do_umntall(args ? args : "");
		} else if (!strcmp(cmd, "dump") && !args) {
			do_dump(true);
		} else if (!strcmp(cmd, "sleep") && args) {
			long ms = strtol(args, NULL, 10);
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

			nanosleep(&ts, NULL);
			printf("sleep %ld\n", ms);
		} else {
			printf("error bad command: %s\n", cmd);
			bad = 1;
		}
		/* Flushed now, so that a callout child never inherits pending output. */
		fflush(stdout);
	}
	free(line);
	return bad;
}

int main(int argc, char **argv)
{
	const char *dir, *cmd;
	int opt;

	while ((opt = getopt(argc, argv, "+qEH:e:")) != -1) {
		switch (opt) {
		case 'e':
			exports = realloc(exports, (n_exports + 1) * sizeof(*exports));
			if (!exports) {
				perror("realloc");
				return 2;
			}
			exports[n_exports++] = optarg;
			break;
		case 'E':
			strict_close = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'H':
			ha_callout_prog = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	dir = argv[optind];
	cmd = argv[optind + 1];
	argc -= optind + 2;
	argv += optind + 2;

	rmtab_fn = path_join(dir, "rmtab");
	rmtab_tmpfn = path_join(dir, "rmtab.tmp");
	rmtab_lockfn = path_join(dir, ".rmtab.lock");

	/* One-shot commands exit 1 when mountd would have given up (lock or open failed). */
	if (!strcmp(cmd, "mnt") && argc == 2)
		return !do_mnt(argv[0], argv[1]);
	else if (!strcmp(cmd, "umnt") && argc == 2)
		return !do_umnt(argv[0], argv[1]);
	else if (!strcmp(cmd, "umntall") && argc == 1)
		return !do_umntall(argv[0]);
	else if (!strcmp(cmd, "dump") && argc == 0)
		do_dump(false);
	else if (!strcmp(cmd, "script") && argc == 0)
		return run_script();
	else
		usage();
	return 0;
}
