/*
 * gnfs_replay - replays gNFS's persistent rmtab (nfs.mount-rmtab) accesses against a file.
 *
 * Debian 12's glusterfs 10.3 ships no gNFS, yet rmtabfs must serve an unchanged gNFS (notes
 * gluster.md §1.8). This program issues the syscalls of glusterfs 10.3 mount3.c + store.c for
 * MNT, UMNT and DUMP (§1.4, §1.5) and keeps gNFS's parser rules (§1.6) and its lost updates
 * (§1.7), so tests can compare a plain file with rmtabfs. A race mode runs many MNTs/UMNTs per
 * process.
 *
 * Invariants:
 *  - each operation starts with gf_store_handle_new (create O_APPEND, fsync of the directory) and
 *    takes a lockf() lock on an fd opened O_RDWR before reading; all reads go through dup()s of
 *    that fd, rewound with lseek(fd, 0, SEEK_SET) for every key (O(n^2), as upstream);
 *  - like upstream, the fclose() of the first dup drops that lock again: closing any fd of a file
 *    releases all of the process's POSIX locks on it. So the lock excludes others only until the
 *    first key is read, and overlapping MNT/UMNTs on a plain file lose updates (last rename wins);
 *  - a rewrite goes to the fixed name FILE.tmp, every key through its own dup + fdopen("a+") +
 *    fflush + fclose, then fsync, rename, directory fsync, close; nothing is written in place;
 *  - the unlock is lockf(F_ULOCK, 0) (F_SETLK F_UNLCK from SEEK_CUR) followed by close;
 *  - the in-memory list persists across commands of one process and is replaced by every read,
 *    as ms->mountlist is; when the file cannot be opened or locked, MNT works on memory only;
 *  - upstream's oddities are kept: the 16-byte key buffer of the rewrite (indices >= 10000 get
 *    truncated keys), the fd leaked when lockf() fails, and fsyncdir errors ignored.
 *
 * Upstream behaviour reproduced (glusterfs v10.3): libglusterfs/src/store.c gf_store_handle_new
 * (:408), gf_store_sync_direntry, gf_store_mkstemp (:59), gf_store_rename_tmppath (:125),
 * gf_store_unlink_tmppath, gf_store_read_and_tokenize, gf_store_retrieve_value (:240),
 * gf_store_save_value, gf_store_lock (:699), gf_store_unlock (:726); xlators/nfs/server/src/
 * mount3.c __mount_read_rmtab, __mount_rewrite_rmtab, mount_open_rmtab, mount_read_rmtab (:451),
 * mnt3svc_update_mountlist (:577), mnt3svc_umount (:2421) with mnt3svc_umnt's trailing-slash
 * strip, __build_mountlist (DUMP, list order). Not replayed: UMNTALL (memory only upstream) and
 * MNT over UDP.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MNTPATHLEN 1024

struct mountentry {
	struct mountentry *next;
	char hostname[MNTPATHLEN];
	char exname[MNTPATHLEN];
};

/* gf_store_handle_t: locked is F_LOCK or F_ULOCK, fd is the lock fd while locked. */
struct store_handle {
	char *path;
	int fd;
	int tmp_fd;
	int locked;
	FILE *read;
};

enum store_err {
	STORE_SUCCESS,
	STORE_KEY_NULL,
	STORE_VALUE_NULL,
	STORE_EOF,
};

/* ms->mountlist, in list order (list_add_tail). */
static struct mountentry *mlist_head;
static struct mountentry **mlist_tail = &mlist_head;

static const char *rmtab_path;
static long delay_ms;
static bool quiet;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gnfs_replay: %s\n", msg);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	if (ms > 0)
		nanosleep(&ts, NULL);
}

static void mountlist_clear(void)
{
	while (mlist_head) {
		struct mountentry *me = mlist_head;

		mlist_head = me->next;
		free(me);
	}
	mlist_tail = &mlist_head;
}

static void mountlist_add_tail(struct mountentry *me)
{
	me->next = NULL;
	*mlist_tail = me;
	mlist_tail = &me->next;
}

/*
 * gf_store_sync_direntry: openat(dirname(path), O_RDONLY); fsync(dirfd); close(dirfd).
 * As upstream, the result of close() overwrites that of fsync(), so only open errors count.
 */
static int store_sync_direntry(const char *path)
{
	char *dir = strdup(path);
	int ret = -1, dirfd;

	if (!dir)
		return -1;
	dirfd = open(dirname(dir), O_RDONLY);
	if (dirfd == -1) {
		logmsg("Failed to open directory %s: %s", dir, strerror(errno));
		goto out;
	}
	ret = fsync(dirfd);
	if (ret)
		logmsg("Failed to fsync %s: %s", dir, strerror(errno));
	ret = close(dirfd);
out:
	free(dir);
	return ret;
}

/*
 * gf_store_handle_new: openat(path, O_RDWR|O_CREAT|O_APPEND, 0600); [sync_direntry];
 * close(fd). Creates the file if missing; the fd is not kept.
 */
static int store_handle_new(const char *path, struct store_handle **handle)
{
	struct store_handle *sh = calloc(1, sizeof(*sh));
	int ret = -1, fd = -1;

	if (!sh)
		goto out;
	sh->path = strdup(path);
	if (!sh->path)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
	if (fd < 0) {
		logmsg("Failed to open file: %s: %s", path, strerror(errno));
		goto out;
	}
	ret = store_sync_direntry(sh->path);
	if (ret)
		goto out;
	sh->locked = F_ULOCK;
	sh->tmp_fd = -1;
	*handle = sh;
out:
	if (fd >= 0)
		close(fd);
	if (ret && sh) {
		free(sh->path);
		free(sh);
	}
	return ret;
}

static void store_handle_destroy(struct store_handle *sh)
{
	if (sh) {
		free(sh->path);
		free(sh);
	}
}

/*
 * gf_store_lock: openat(path, O_RDWR) = lock fd; lockf(F_LOCK, 0) = fcntl(F_SETLKW, {F_WRLCK,
 * SEEK_CUR, 0, 0}), the whole file since the fd is fresh. On a lockf() failure the fd stays open
 * and the handle unlocked, as upstream (it is never closed).
 */
static int store_lock(struct store_handle *sh)
{
	int ret;

	sh->fd = open(sh->path, O_RDWR);
	if (sh->fd == -1) {
		logmsg("Failed to open '%s': %s", sh->path, strerror(errno));
		return -1;
	}
	ret = lockf(sh->fd, F_LOCK, 0);
	if (ret)
		logmsg("Failed to gain lock on '%s': %s", sh->path, strerror(errno));
	else
		sh->locked = F_LOCK;
	return ret;
}

/*
 * gf_store_unlock: lockf(F_ULOCK, 0) = fcntl(F_SETLK, {F_UNLCK, SEEK_CUR, 0, 0}) — from the
 * fd's current offset, which the reads moved, so only the close() really drops the whole lock.
 */
static void store_unlock(struct store_handle *sh)
{
	sh->locked = F_ULOCK;
	if (lockf(sh->fd, F_ULOCK, 0) == -1)
		logmsg("Failed to release lock on '%s': %s", sh->path, strerror(errno));
	close(sh->fd);
}

/*
 * gf_store_read_and_tokenize: fgets(8192); EOF or a last line without '\n' (feof) ends; a line
 * that is exactly "\n" is skipped; the last character is dropped; key = strtok_r(line, "=")
 * (leading '=' skipped), value = the rest after the first '='. No key or no value ends the scan.
 */
static int store_read_and_tokenize(FILE *file, char **iter_key, char **iter_val,
				   enum store_err *err, char *str, size_t buf_size)
{
	char *savetok = NULL, *key, *value;
	size_t len;

retry:
	if (!fgets(str, buf_size, file) || feof(file)) {
		*err = STORE_EOF;
		return -1;
	}
	if (strcmp(str, "\n") == 0)
		goto retry;
	len = strlen(str);
	str[len - 1] = '\0';
	key = strtok_r(str, "=", &savetok);
	if (!key) {
		*err = STORE_KEY_NULL;
		return -1;
	}
	value = strtok_r(NULL, "", &savetok);
	if (!value) {
		*err = STORE_VALUE_NULL;
		return -1;
	}
	*iter_key = key;
	*iter_val = value;
	*err = STORE_SUCCESS;
	return 0;
}

/*
 * gf_store_retrieve_value (locked handle): lseek(lockfd, 0, SEEK_SET); dup(lockfd);
 * fcntl(dup, F_GETFL) [fdopen "r"]; fstat + read(4096)... until the key or the end; close(dup)
 * [fclose]. Every key rescans from offset 0; the first match wins.
 */
static int store_retrieve_value(struct store_handle *sh, const char *key, char **value)
{
	enum store_err err = STORE_SUCCESS;
	char *iter_key = NULL, *iter_val = NULL;
	int ret = -1;

	/* All callers hold the lock, so upstream's unlocked open/close branch is not needed. */
	lseek(sh->fd, 0, SEEK_SET);
	if (!sh->read) {
		int duped_fd = dup(sh->fd);

		if (duped_fd >= 0)
			sh->read = fdopen(duped_fd, "r");
		if (!sh->read) {
			if (duped_fd != -1)
				close(duped_fd);
			logmsg("Unable to open file %s", sh->path);
			goto out;
		}
	} else {
		fseek(sh->read, 0, SEEK_SET);
	}
	for (;;) {
		char buf[8192];

		ret = store_read_and_tokenize(sh->read, &iter_key, &iter_val, &err, buf,
					      sizeof(buf));
		if (ret < 0)
			goto out;
		if (!strcmp(key, iter_key)) {
			*value = strdup(iter_val);
			ret = *value ? 0 : -1;
			goto out;
		}
	}
out:
	if (sh->read) {
		fclose(sh->read);
		sh->read = NULL;
	}
	return ret;
}

/*
 * gf_store_save_value: dup(fd); fdopen(dup, "a+") = fcntl(F_GETFL) and, while the shared file
 * description lacks O_APPEND, fcntl(F_SETFL, O_RDWR|O_APPEND); fprintf("%s=%s\n"); fflush =
 * one write; fclose = close(dup). A failed fdopen leaks the dup, as upstream.
 */
static int store_save_value(int fd, const char *key, const char *value)
{
	FILE *fp = NULL;
	int ret = -1, dup_fd;

	dup_fd = dup(fd);
	if (dup_fd == -1)
		goto out;
	fp = fdopen(dup_fd, "a+");
	if (!fp) {
		logmsg("fdopen failed: %s", strerror(errno));
		goto out;
	}
	if (fprintf(fp, "%s=%s\n", key, value) < 0) {
		logmsg("Unable to store key: %s, value: %s.", key, value);
		goto out;
	}
	if (fflush(fp)) {
		logmsg("fflush failed: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fp)
		fclose(fp);
	return ret;
}

/* gf_store_mkstemp: openat(path".tmp", O_RDWR|O_CREAT|O_TRUNC, 0600) — a fixed name. */
static int store_mkstemp(struct store_handle *sh)
{
	char tmppath[PATH_MAX];

	snprintf(tmppath, sizeof(tmppath), "%s.tmp", sh->path);
	sh->tmp_fd = open(tmppath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (sh->tmp_fd < 0)
		logmsg("Failed to open %s: %s", tmppath, strerror(errno));
	return sh->tmp_fd;
}

/*
 * gf_store_rename_tmppath: fsync(tmpfd); rename(path".tmp", path); [sync_direntry: open dir,
 * fsync, close]; close(tmpfd). The fsync or rename failing skips the rest but still closes.
 */
static int store_rename_tmppath(struct store_handle *sh)
{
	char tmppath[PATH_MAX];
	int ret;

	ret = fsync(sh->tmp_fd);
	if (ret) {
		logmsg("Failed to fsync %s: %s", sh->path, strerror(errno));
		goto out;
	}
	snprintf(tmppath, sizeof(tmppath), "%s.tmp", sh->path);
	ret = rename(tmppath, sh->path);
	if (ret) {
		logmsg("Failed to rename %s to %s: %s", tmppath, sh->path, strerror(errno));
		goto out;
	}
	ret = store_sync_direntry(tmppath);
out:
	if (sh->tmp_fd >= 0) {
		close(sh->tmp_fd);
		sh->tmp_fd = -1;
	}
	return ret;
}

/* gf_store_unlink_tmppath: unlink(path".tmp") (ENOENT ignored); close(tmpfd). */
static void store_unlink_tmppath(struct store_handle *sh)
{
	char tmppath[PATH_MAX];

	snprintf(tmppath, sizeof(tmppath), "%s.tmp", sh->path);
	if (unlink(tmppath) && errno != ENOENT)
		logmsg("Failed to unlink %s: %s", tmppath, strerror(errno));
	if (sh->tmp_fd >= 0) {
		close(sh->tmp_fd);
		sh->tmp_fd = -1;
	}
}

/*
 * __mount_read_rmtab (append = false): replaces the in-memory list with hostname-N/mountpoint-N
 * for N = 0, 1, ... until either key is missing: 2n+1 store_retrieve_value() calls, each one
 * lseek + dup + fcntl(F_GETFL) + fstat + read(4096)... + close. Values truncated to 1023 bytes.
 */
static int mount_read_rmtab_locked(struct store_handle *sh)
{
	char key[MNTPATHLEN + 11];
	struct mountentry *me = NULL;
	unsigned int idx = 0;

	if (sh->locked != F_LOCK) {
		logmsg("Not reading unlocked %s", sh->path);
		return -1;
	}
	mountlist_clear();
	for (;;) {
		char *value = NULL;

		if (me)
			mountlist_add_tail(me);
		me = calloc(1, sizeof(*me));
		if (!me) {
			logmsg("Out of memory");
			return -1;
		}
		snprintf(key, 9 + MNTPATHLEN, "hostname-%u", idx);
		if (store_retrieve_value(sh, key, &value))
			break;
		snprintf(me->hostname, MNTPATHLEN, "%s", value);
		free(value);
		snprintf(key, 11 + MNTPATHLEN, "mountpoint-%u", idx);
		if (store_retrieve_value(sh, key, &value))
			break;
		snprintf(me->exname, MNTPATHLEN, "%s", value);
		free(value);
		idx++;
	}
	free(me);
	return 0;
}

/*
 * __mount_rewrite_rmtab: store_mkstemp; per entry store_save_value(hostname-N) and
 * (mountpoint-N); store_rename_tmppath. On a failed save: store_unlink_tmppath.
 * key[16] as upstream: "mountpoint-10000" does not fit and is written as "mountpoint-1000".
 */
static void mount_rewrite_rmtab(struct store_handle *sh)
{
	struct mountentry *me;
	unsigned int idx = 0;
	char key[16];
	int fd;

	if (sh->locked != F_LOCK) {
		logmsg("Not modifying unlocked %s", sh->path);
		return;
	}
	fd = store_mkstemp(sh);
	if (fd == -1)
		return;
	for (me = mlist_head; me; me = me->next) {
		snprintf(key, sizeof(key), "hostname-%u", idx);
		if (store_save_value(fd, key, me->hostname))
			goto fail;
		snprintf(key, sizeof(key), "mountpoint-%u", idx);
		if (store_save_value(fd, key, me->exname))
			goto fail;
		idx++;
	}
	if (store_rename_tmppath(sh))
		logmsg("Failed to overwrite rmtab %s", sh->path);
	return;
fail:
	logmsg("Failed to update %s", sh->path);
	store_unlink_tmppath(sh);
}

/* mount_open_rmtab: false means "memory only". */
static bool mount_open_rmtab(struct store_handle **sh)
{
	if (!rmtab_path || !*rmtab_path)
		return false;
	if (store_handle_new(rmtab_path, sh)) {
		logmsg("Failed to open '%s'", rmtab_path);
		return false;
	}
	return true;
}

enum mnt_result {
	MNT_OK,	 /* added (and written if the file was locked) */
	MNT_DUP, /* (host, export) already listed: no rewrite */
};

/*
 * MNT (mnt3svc_update_mountlist, notes §1.5):
 *   [handle_new] openat(FILE, O_RDWR|O_CREAT|O_APPEND, 0600); openat(dir, O_RDONLY);
 *     fsync(dirfd); close(dirfd); close(fd)
 *   [lock] openat(FILE, O_RDWR) = L; fcntl(L, F_SETLKW, {F_WRLCK, SEEK_CUR, 0, 0})
 *   [read] 2n+1 x (lseek(L, 0, SEEK_SET); dup(L) = D; fcntl(D, F_GETFL); fstat(D); read(D)...;
 *     close(D)) — the first close(D) already releases the lock taken on L
 *   [-d delay]
 *   new entry only:
 *     openat(FILE.tmp, O_RDWR|O_CREAT|O_TRUNC, 0600) = T
 *     per key: dup(T) = D; fcntl(D, F_GETFL); [first: fcntl(D, F_SETFL, O_RDWR|O_APPEND)];
 *       fstat(D); write(D, "key=value\n"); close(D)
 *     fsync(T); rename(FILE.tmp, FILE); openat(dir, O_RDONLY); fsync(dirfd); close(dirfd);
 *     close(T)
 *   [unlock] fcntl(L, F_SETLK, {F_UNLCK, SEEK_CUR, 0, 0}); close(L)
 * *file_used is false when the file could not be opened or locked (memory-only update).
 */
static enum mnt_result mnt3svc_update_mountlist(const char *host, const char *expname,
						bool *file_used)
{
	struct store_handle *sh = NULL;
	struct mountentry *me, *cur;
	enum mnt_result res = MNT_OK;
	bool update_rmtab;

	me = calloc(1, sizeof(*me));
	if (!me) {
		perror("calloc");
		exit(2);
	}
	update_rmtab = mount_open_rmtab(&sh);
	snprintf(me->exname, MNTPATHLEN, "%s", expname);
	snprintf(me->hostname, MNTPATHLEN, "%s", host);

	if (update_rmtab && store_lock(sh))
		logmsg("Failed to lock '%s', changes will not be written", rmtab_path);
	else if (update_rmtab)
		mount_read_rmtab_locked(sh);
	sleep_ms(delay_ms);

	for (cur = mlist_head; cur; cur = cur->next) {
		if (!strcmp(cur->hostname, me->hostname) && !strcmp(cur->exname, me->exname)) {
			free(me);
			res = MNT_DUP;
			goto dont_add;
		}
	}
	mountlist_add_tail(me);
	if (update_rmtab && sh->locked == F_LOCK)
		mount_rewrite_rmtab(sh);
dont_add:
	*file_used = update_rmtab && sh->locked == F_LOCK;
	if (update_rmtab && sh->locked == F_LOCK)
		store_unlock(sh);
	if (update_rmtab)
		store_handle_destroy(sh);
	return res;
}

enum umnt_result {
	UMNT_OK,    /* removed and rewritten */
	UMNT_EMPTY, /* list empty after the read: gNFS answers MNT3_OK, no rewrite */
	UMNT_NOENT, /* not listed, or lock failed: MNT3ERR_NOENT, no rewrite */
};

/*
 * UMNT (mnt3svc_umount): handle_new; lock (failure -> NOENT, nothing read); read; [-d delay];
 * empty list -> done; (export, host) not listed -> NOENT; else remove it and rewrite as in MNT;
 * unlock. Syscalls as in mnt3svc_update_mountlist().
 */
static enum umnt_result mnt3svc_umount(const char *dirpath, const char *hostname)
{
	struct store_handle *sh = NULL;
	struct mountentry **pp, *me = NULL;
	enum umnt_result res;
	bool update_rmtab;

	update_rmtab = mount_open_rmtab(&sh);
	if (update_rmtab && store_lock(sh)) {
		res = UMNT_NOENT;
		goto out_free;
	}
	if (update_rmtab)
		mount_read_rmtab_locked(sh);
	sleep_ms(delay_ms);

	if (!mlist_head) {
		res = UMNT_EMPTY;
		goto out_unlock;
	}
	for (pp = &mlist_head; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->exname, dirpath) && !strcmp((*pp)->hostname, hostname)) {
			me = *pp;
			break;
		}
	}
	if (!me) {
		res = UMNT_NOENT;
		goto out_unlock;
	}
	*pp = me->next;
	if (mlist_tail == &me->next)
		mlist_tail = pp;
	free(me);
	res = UMNT_OK;
	if (update_rmtab)
		mount_rewrite_rmtab(sh);
out_unlock:
	if (update_rmtab)
		store_unlock(sh);
out_free:
	if (update_rmtab)
		store_handle_destroy(sh);
	return res;
}

/*
 * DUMP (__build_mountlist -> mount_read_rmtab): handle_new; lock; read (replace); unlock. A lock
 * failure keeps the in-memory list. The reply lists entries in list (= file) order.
 */
static void mount_read_rmtab(void)
{
	struct store_handle *sh = NULL;

	if (!mount_open_rmtab(&sh))
		return;
	if (store_lock(sh)) {
		logmsg("Failed to lock '%s'", rmtab_path);
		goto out;
	}
	mount_read_rmtab_locked(sh);
	store_unlock(sh);
out:
	store_handle_destroy(sh);
}

static void do_mnt(const char *host, const char *exp)
{
	bool file_used = false;
	enum mnt_result res = mnt3svc_update_mountlist(host, exp, &file_used);

	printf("mnt %s %s %s%s\n", host, exp, res == MNT_OK ? "ok" : "dup",
	       file_used ? "" : " memonly");
}

/* mnt3svc_umnt() strips trailing slashes (keeping a lone "/") before mnt3svc_umount(). */
static void strip_trailing_slashes(char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
}

static void do_umnt(const char *host, const char *exp)
{
	static const char *const names[] = {"ok", "empty", "noent"};
	char dirpath[MNTPATHLEN], hostname[MNTPATHLEN];

	snprintf(dirpath, sizeof(dirpath), "%s", exp);
	snprintf(hostname, sizeof(hostname), "%s", host);
	strip_trailing_slashes(dirpath);
	printf("umnt %s %s %s\n", host, exp, names[mnt3svc_umount(dirpath, hostname)]);
}

static void do_dump(void)
{
	struct mountentry *me;
	int n = 0;

	mount_read_rmtab();
	for (me = mlist_head; me; me = me->next)
		n++;
	printf("dump %d\n", n);
	for (me = mlist_head; me; me = me->next)
		printf("%s %s\n", me->hostname, me->exname);
}

/*
 * race: ROUNDS MNTs of HOST /NAME/i, then with -u ROUNDS UMNTs of the same, all in this process.
 * Run several at once on one file; afterwards a dump must list every surviving entry. Prints one
 * summary line: race NAME mnt_ok=.. mnt_dup=.. [umnt_ok=.. umnt_empty=.. umnt_noent=..]
 */
static int do_race(const char *host, const char *name, long rounds, bool umount)
{
	long i, mnt_ok = 0, mnt_dup = 0, counts[3] = {0, 0, 0};
	char exp[MNTPATHLEN];
	bool file_used;

	for (i = 0; i < rounds; i++) {
		snprintf(exp, sizeof(exp), "/%s/%ld", name, i);
		if (mnt3svc_update_mountlist(host, exp, &file_used) == MNT_OK)
			mnt_ok++;
		else
			mnt_dup++;
	}
	printf("race %s mnt_ok=%ld mnt_dup=%ld", name, mnt_ok, mnt_dup);
	if (umount) {
		for (i = 0; i < rounds; i++) {
			snprintf(exp, sizeof(exp), "/%s/%ld", name, i);
			counts[mnt3svc_umount(exp, host)]++;
		}
		printf(" umnt_ok=%ld umnt_empty=%ld umnt_noent=%ld", counts[UMNT_OK],
		       counts[UMNT_EMPTY], counts[UMNT_NOENT]);
	}
	printf("\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: gnfs_replay [OPTIONS] FILE mnt HOST EXPORT\n"
		"       gnfs_replay [OPTIONS] FILE umnt HOST EXPORT\n"
		"       gnfs_replay [OPTIONS] FILE dump\n"
		"       gnfs_replay [OPTIONS] FILE script  < commands\n"
		"       gnfs_replay [OPTIONS] [-u] [-c HOST] FILE race NAME ROUNDS\n"
		"options: -d MS    sleep MS between the read and the rewrite (widens the races)\n"
		"         -u       race: unmount everything again after the mounts\n"
		"         -c HOST  race: client address (default 127.0.0.1)\n"
		"         -q       no diagnostics on stderr\n"
		"script lines: mnt HOST EXPORT | umnt HOST EXPORT | dump | sleep MS\n"
		"  (EXPORT is the rest of the line; empty lines and # lines are ignored)\n"
		"output: mnt HOST EXPORT ok|dup [memonly] / umnt HOST EXPORT ok|empty|noent /\n"
		"        dump N, then N lines HOST EXPORT\n");
	exit(2);
}

static bool split_host_export(char *args, char **host, char **exp)
{
	char *sp;

	if (!args)
		return false;
	sp = strchr(args, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	*host = args;
	*exp = sp + 1;
	return true;
}

static int run_script(void)
{
	char *line = NULL, *cmd, *args, *host, *exp;
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
		if (!strcmp(cmd, "mnt") && split_host_export(args, &host, &exp)) {
			do_mnt(host, exp);
		} else if (!strcmp(cmd, "umnt") && split_host_export(args, &host, &exp)) {
			do_umnt(host, exp);
		} else if (!strcmp(cmd, "dump") && !args) {
			do_dump();
		} else if (!strcmp(cmd, "sleep") && args) {
			long ms = strtol(args, NULL, 10);

			sleep_ms(ms);
			printf("sleep %ld\n", ms);
		} else {
			printf("error bad command: %s\n", cmd);
			bad = 1;
		}
		fflush(stdout);
	}
	free(line);
	return bad;
}

int main(int argc, char **argv)
{
	const char *cmd, *race_host = "127.0.0.1";
	bool race_umount = false;
	char *end;
	int opt;

	while ((opt = getopt(argc, argv, "+d:uc:q")) != -1) {
		switch (opt) {
		case 'd':
			delay_ms = strtol(optarg, &end, 10);
			if (*end || delay_ms < 0)
				usage();
			break;
		case 'u':
			race_umount = true;
			break;
		case 'c':
			race_host = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	rmtab_path = argv[optind];
	cmd = argv[optind + 1];
	argc -= optind + 2;
	argv += optind + 2;

	if (!strcmp(cmd, "mnt") && argc == 2) {
		do_mnt(argv[0], argv[1]);
	} else if (!strcmp(cmd, "umnt") && argc == 2) {
		do_umnt(argv[0], argv[1]);
	} else if (!strcmp(cmd, "dump") && argc == 0) {
		do_dump();
	} else if (!strcmp(cmd, "script") && argc == 0) {
		return run_script();
	} else if (!strcmp(cmd, "race") && argc == 2) {
		long rounds = strtol(argv[1], &end, 10);

		if (*end || rounds < 0)
			usage();
		return do_race(race_host, argv[0], rounds, race_umount);
	} else {
		usage();
	}
	return 0;
}
