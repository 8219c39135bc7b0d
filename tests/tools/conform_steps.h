/*
 * The steps of conform.c, by area. Each area makes its fixtures with fresh()/mk() as root
 * and runs its calls with step(); the order and the names are the output's, so changing
 * anything here changes every run alike.
 */

static void do_open(int who, const char *p, int flags, mode_t mode, int slot, const char *what)
{
	struct req *q = Q(OP_OPEN, p, NULL);

	q->a = flags;
	q->b = mode;
	q->c = slot;
	step(who, q, what, 0);
}

static void do_slot(int who, int op, int slot, long a, long b, long d, const char *what, int blocks)
{
	struct req *q = Q(op, NULL, NULL);

	q->c = slot;
	q->a = a;
	q->b = b;
	q->d = d;
	step(who, q, what, blocks);
}

static void do_path(int who, int op, const char *p1, const char *p2, long a, long b,
		    const char *what)
{
	struct req *q = Q(op, p1, p2);

	q->a = a;
	q->b = b;
	step(who, q, what, 0);
}

static void do_times(int who, const char *p, long asec, long ansec, long msec, long mnsec,
		     int flags, const char *what)
{
	struct req *q = Q(OP_UTIMENS, p, NULL);

	q->ts[0].tv_sec = asec;
	q->ts[0].tv_nsec = ansec;
	q->ts[1].tv_sec = msec;
	q->ts[1].tv_nsec = mnsec;
	q->nulltimes = asec < 0;
	q->a = flags;
	step(who, q, what, 0);
}

static void do_xattr(int who, int op, const char *p, const char *name, const void *val, size_t len,
		     int flags, const char *what)
{
	struct req *q = Q(op, p, NULL);

	snprintf(q->p2, sizeof(q->p2), "%s", name);
	if (val)
		memcpy(q->val, val, len);
	q->vlen = len;
	q->a = flags;
	step(who, q, what, 0);
}

/* Creation: umasks, modes, kinds, plain/set-gid directories (member or not). */
static void area_create(void)
{
	static const mode_t umasks[] = {0, 022, 077};
	static const mode_t fmodes[] = {0666, 0777, 02775, 04755, 0620, 01755};
	static const mode_t dmodes[] = {0777, 01777, 02775, 0700};
	static const struct {
		mode_t mode;
		gid_t gid;
	} dirs[] = {{0777, 0}, {02777, GID_S}, {02777, GID_X}};
	char name[64], what[128];
	size_t u, d, i;
	int who;

	for (u = 0; u < 3; u++)
		for (who = R; who <= A; who++)
			for (d = 0; d < 3; d++) {
				fresh(dirs[d].mode, 0, dirs[d].gid);
				as_umask(who, umasks[u]);
				for (i = 0; i < 6; i++) {
					snprintf(name, sizeof(name), "f%zu", i);
					snprintf(what, sizeof(what), "create %s %04o in %04o dir",
						 name, (unsigned)fmodes[i], (unsigned)dirs[d].mode);
					do_open(who, name, O_CREAT | O_EXCL | O_WRONLY, fmodes[i],
						1, what);
					do_slot(who, OP_CLOSE, 1, 0, 0, 0, "close", 0);
				}
				for (i = 0; i < 4; i++) {
					snprintf(name, sizeof(name), "d%zu", i);
					snprintf(what, sizeof(what), "mkdir %s %04o", name,
						 (unsigned)dmodes[i]);
					do_path(who, OP_MKDIR, name, NULL, dmodes[i], 0, what);
				}
				do_path(who, OP_MKNOD, "fifo", NULL, S_IFIFO | 0666, 0,
					"mkfifo 0666");
				do_path(who, OP_MKNOD, "sock", NULL, S_IFSOCK | 0755, 0,
					"mksock 0755");
				do_path(who, OP_MKNOD, "chr", NULL, S_IFCHR | 0666,
					(long)makedev(1, 3), "mknod chr 1,3");
				do_path(who, OP_MKNOD, "blk", NULL, S_IFBLK | 0640,
					(long)makedev(7, 0), "mknod blk 7,0");
				do_path(who, OP_MKNOD, "reg", NULL, S_IFREG | 0666, 0, "mknod reg");
				do_path(who, OP_SYMLINK, "target", "sym", 0, 0, "symlink");
				do_path(who, OP_MKDIR, "d0/sub", NULL, 0777, 0, "mkdir in new dir");
				do_open(who, "d2/f", O_CREAT | O_RDWR, 02777, 1,
					"create in new dir");
				do_slot(who, OP_CLOSE, 1, 0, 0, 0, "close", 0);
			}
}

/* Long names and deep paths, created with O_CREAT. */
static void area_paths(void)
{
	char p[PATH_MAX + 64], comp[256];
	size_t len = 0;
	int i;

	fresh(0777, 0, 0);
	memset(comp, 'n', 255);
	comp[255] = '\0';
	as_umask(A, 022);
	do_open(A, comp, O_CREAT | O_WRONLY, 0640, 1, "create 255-byte name");
	do_slot(A, OP_CLOSE, 1, 0, 0, 0, "close", 0);
	snprintf(p, sizeof(p), "%sx", comp);
	do_open(A, p, O_CREAT | O_WRONLY, 0640, 1, "create 256-byte name");
	comp[200] = '\0';
	p[0] = '\0';
	for (i = 0; i < 19; i++) {
		len += (size_t)snprintf(p + len, sizeof(p) - len, "%s%s", i ? "/" : "", comp);
		do_path(A, OP_MKDIR, p, NULL, 0775, 0, "mkdir deep (200-byte components)");
	}
	snprintf(p + len, sizeof(p) - len, "/%.*s", (int)(4000 - len), comp);
	do_open(A, p, O_CREAT | O_WRONLY, 0666, 1, "create at a ~4000-byte path");
	do_slot(A, OP_CLOSE, 1, 0, 0, 0, "close", 0);
	snprintf(p + len, sizeof(p) - len, "/%s", comp);
	do_open(A, p, O_CREAT | O_WRONLY, 0666, 1, "create at a path over PATH_MAX");
}

/* Every user against files of every owner and mode. */
static void area_matrix(void)
{
	static const struct {
		mode_t mode;
		gid_t gid;
	} files[] = {{0600, 0},	 {0644, 0},	 {0664, GID_S},	 {0666, 0},
		     {04777, 0}, {02777, GID_S}, {06777, GID_X}, {02767, GID_S}};
	static const int owners[] = {R, A};
	char what[160];
	size_t f, o;
	int who, k;

	for (o = 0; o < 2; o++)
		for (f = 0; f < 8; f++)
			for (who = R; who < NACTORS; who++) {
				uid_t uid = actor_uid[owners[o]];
				gid_t gid = files[f].gid ? files[f].gid : uid;

				fresh(0777, 0, 0);
				for (k = 0; k < 20; k++) {
					char n[8];

					snprintf(n, sizeof(n), "f%d", k);
					mk(n, 0, files[f].mode, uid, gid, 5);
				}
				snprintf(what, sizeof(what),
					 "on %c's %04o (gid %u): ", actor_name[owners[o]],
					 (unsigned)files[f].mode, gid);
#define W(s) strcat(strcpy(buf, what), s)
				{
					char buf[200];

					do_open(who, "f0", O_RDONLY, 0, 1, W("open r"));
					do_open(who, "f1", O_WRONLY, 0, 2, W("open w"));
					do_slot(who, OP_WRITE, 2, 3, 0, 0, W("write 3"), 0);
					do_slot(who, OP_CLOSE, 2, 0, 0, 0, W("close"), 0);
					do_open(who, "f2", O_WRONLY | O_TRUNC, 0, 2,
						W("open w|trunc"));
					do_slot(who, OP_FTRUNC, 2, 7, 0, 0, W("ftruncate 7"), 0);
					do_open(who, "f3", O_RDWR | O_APPEND, 0, 3,
						W("open rw|append"));
					do_slot(who, OP_WRITE, 3, 1, 0, 0, W("append 1"), 0);
					do_slot(who, OP_READ, 3, 4, 0, 0, W("pread 4"), 0);
					do_path(who, OP_TRUNC, "f4", NULL, 3, 0, W("truncate 3"));
					do_path(who, OP_TRUNC, "f5", NULL, 5, 0,
						W("truncate same size"));
					do_path(who, OP_CHMOD, "f6", NULL, 0640, 0,
						W("chmod 0640"));
					do_path(who, OP_CHMOD, "f7", NULL, 04755, 0,
						W("chmod 04755"));
					do_path(who, OP_CHMOD, "f8", NULL, 02755, 0,
						W("chmod 02755"));
					do_path(who, OP_CHOWN, "f9", NULL, actor_uid[who], -1,
						W("chown to self"));
					do_path(who, OP_CHOWN, "f10", NULL, -1, GID_S,
						W("chgrp shared"));
					do_path(who, OP_CHOWN, "f11", NULL, -1, GID_X,
						W("chgrp other"));
					do_path(who, OP_CHOWN, "f12", NULL, 60009, -1,
						W("chown other"));
					do_times(who, "f13", -1, 0, 0, 0, 0, W("utimens NULL"));
					do_times(who, "f14", T1, 5, T2, 7, 0, W("utimens T1 T2"));
					do_times(who, "f15", 0, UTIME_NOW, 0, UTIME_OMIT, 0,
						 W("utimens NOW OMIT"));
					do_times(who, "f15", 0, UTIME_OMIT, 0, UTIME_OMIT, 0,
						 W("utimens OMIT OMIT"));
					do_times(who, "f16", 0, UTIME_OMIT, T2, 9, 0,
						 W("utimens OMIT T2"));
					do_times(who, "f16", 0, UTIME_NOW, 0, UTIME_NOW, 0,
						 W("utimens NOW NOW"));
					do_xattr(who, OP_SETX, "f17", "user.k", "v1", 2, 0,
						 W("setxattr user.k"));
					do_xattr(who, OP_GETX, "f17", "user.k", NULL, 0, 0,
						 W("getxattr user.k"));
					do_path(who, OP_LINK, "f18", "f18.link", 0, 0, W("link"));
					do_path(who, OP_RENAME, "f19", "f19.new", 0, 0,
						W("rename"));
					do_path(who, OP_UNLINK, "f18", NULL, 0, 0, W("unlink"));
					do_path(who, OP_ACCESS, "f0", NULL, W_OK, 0,
						W("access W_OK"));
					do_path(who, OP_ACCESS, "f0", NULL, R_OK, AT_EACCESS,
						W("access R_OK eaccess"));
					do_slot(who, OP_CLOSE, 1, 0, 0, 0, W("close"), 0);
					do_slot(who, OP_CLOSE, 2, 0, 0, 0, W("close"), 0);
					do_slot(who, OP_CLOSE, 3, 0, 0, 0, W("close"), 0);
				}
#undef W
			}
}

/* Directories: sticky bit, renames across directories, replacing, flags, errors. */
static void area_dirs(void)
{
	int who;

	for (who = R; who < NACTORS; who++) {
		fresh(01777, 0, 0);
		mk("a", 0, 0666, actor_uid[A], GID_A, 1);
		mk("b", 0, 0666, actor_uid[B], GID_B, 1);
		mk("r", 0, 0666, 0, 0, 1);
		mk("da", 1, 0777, actor_uid[A], GID_A, 0);
		mk("db", 1, 0777, actor_uid[B], GID_B, 0);
		do_path(who, OP_UNLINK, "a", NULL, 0, 0, "sticky: unlink A's");
		do_path(who, OP_UNLINK, "b", NULL, 0, 0, "sticky: unlink B's");
		do_path(who, OP_RENAME, "r", "r2", 0, 0, "sticky: rename root's");
		do_path(who, OP_RMDIR, "da", NULL, 0, 0, "sticky: rmdir A's");
		do_path(who, OP_RENAME, "db", "db2", 0, 0, "sticky: rename B's dir");
		do_path(who, OP_MKDIR, "mine", NULL, 0755, 0, "sticky: mkdir");
		do_path(who, OP_RENAME, "mine", "mine2", 0, 0, "sticky: rename own");

		/* A directory moved to another parent needs write access to it (its ..). */
		fresh(0777, 0, 0);
		mk("p1", 1, 0777, 0, 0, 0);
		mk("p2", 1, 0777, 0, 0, 0);
		mk("p1/db", 1, 0755, actor_uid[B], GID_B, 0);
		mk("p1/da", 1, 0555, actor_uid[A], GID_A, 0);
		mk("p1/dr", 1, 0777, 0, 0, 0);
		mk("p1/fb", 0, 0644, actor_uid[B], GID_B, 0);
		do_path(who, OP_RENAME, "p1/db", "p2/db", 0, 0, "move B's 0755 dir across");
		do_path(who, OP_RENAME, "p1/db", "p1/db2", 0, 0, "rename B's 0755 dir in place");
		do_path(who, OP_RENAME, "p1/da", "p2/da", 0, 0, "move A's 0555 dir across");
		do_path(who, OP_RENAME, "p1/dr", "p2/dr", 0, 0, "move root's 0777 dir across");
		do_path(who, OP_RENAME, "p1/fb", "p2/fb", 0, 0, "move B's file across");
		do_path(who, OP_RENAME, "p2", "p1/p2", 0, 0, "move dir into sibling");

		/* Replacing, flags and the usual errors, in a directory the user owns. */
		fresh(0755, actor_uid[who], who == R ? 0 : who == A ? GID_A : GID_B);
		mk("f", 0, 0644, actor_uid[who], 0, 3);
		mk("g", 0, 0644, actor_uid[who], 0, 4);
		mk("d", 1, 0755, actor_uid[who], 0, 0);
		mk("e", 1, 0755, actor_uid[who], 0, 0);
		mk("full", 1, 0755, actor_uid[who], 0, 0);
		mk("full/x", 0, 0644, actor_uid[who], 0, 0);
		do_path(who, OP_RENAME, "f", "g", RENAME_NOREPLACE, 0,
			"rename noreplace onto file");
		do_path(who, OP_RENAME, "f", "h", RENAME_NOREPLACE, 0, "rename noreplace to new");
		do_path(who, OP_RENAME, "h", "g", RENAME_EXCHANGE, 0, "rename exchange files");
		do_path(who, OP_RENAME, "h", "d", RENAME_EXCHANGE, 0, "rename exchange file/dir");
		do_path(who, OP_RENAME, "h", "nope", RENAME_EXCHANGE, 0, "exchange with absent");
		do_path(who, OP_RENAME, "h", "g", RENAME_NOREPLACE | RENAME_EXCHANGE, 0,
			"noreplace|exchange");
		do_path(who, OP_RENAME, "g", "h", 0, 0, "rename onto existing file");
		do_path(who, OP_RENAME, "h", "e", 0, 0, "rename file onto dir");
		do_path(who, OP_RENAME, "e", "h", 0, 0, "rename dir onto file");
		do_path(who, OP_RENAME, "e", "full", 0, 0, "rename dir onto non-empty dir");
		do_path(who, OP_RENAME, "full", "e", 0, 0, "rename dir onto empty dir");
		do_path(who, OP_RENAME, "e", "e/sub", 0, 0, "rename dir into itself");
		do_path(who, OP_RENAME, "e", "e", 0, 0, "rename onto itself");
		do_path(who, OP_RENAME, "nope", "x", 0, 0, "rename absent");
		do_path(who, OP_LINK, "e", "elink", 0, 0, "link a directory");
		do_path(who, OP_LINK, "h", "e/x", 0, 0, "link onto existing");
		do_path(who, OP_LINK, "h", "h2", 0, 0, "link");
		do_path(who, OP_LINK, "h", "h3", 0, 0, "link again");
		do_path(who, OP_UNLINK, "h2", NULL, 0, 0, "unlink one link");
		do_path(who, OP_UNLINK, "e", NULL, 0, 0, "unlink a directory");
		do_path(who, OP_RMDIR, "h", NULL, 0, 0, "rmdir a file");
		do_path(who, OP_RMDIR, "e", NULL, 0, 0, "rmdir non-empty");
		do_path(who, OP_RMDIR, "d/.", NULL, 0, 0, "rmdir dot");
		do_path(who, OP_MKDIR, "d", NULL, 0755, 0, "mkdir existing");
		do_open(who, "h", O_CREAT | O_EXCL | O_WRONLY, 0644, 1, "create excl existing");
		do_open(who, "h/x", O_RDONLY, 0, 1, "open through a file");
		do_open(who, "d", O_WRONLY, 0, 1, "open dir for writing");
		do_open(who, "h", O_RDONLY | O_DIRECTORY, 0, 1, "open file O_DIRECTORY");
		do_path(who, OP_SYMLINK, "dangling", "sl", 0, 0, "symlink dangling");
		do_open(who, "sl", O_CREAT | O_WRONLY, 0600, 1, "create through dangling symlink");
		do_slot(who, OP_CLOSE, 1, 0, 0, 0, "close", 0);
		do_open(who, "sl", O_RDONLY | O_NOFOLLOW, 0, 1, "open symlink O_NOFOLLOW");
		do_path(who, OP_READLINK, "sl", NULL, 0, 0, "readlink");
		do_times(who, "sl", T1, 1, T2, 2, AT_SYMLINK_NOFOLLOW, "utimens symlink nofollow");
		do_path(who, OP_LCHOWN, "sl", NULL, -1, who == A ? GID_S : -1, "lchown symlink");
		do_path(who, OP_READDIR, "", NULL, 0, 0, "readdir");
		do_path(who, OP_UNLINK, "sl", NULL, 0, 0, "unlink symlink");
		do_path(who, OP_RMDIR, "d", NULL, 0, 0, "rmdir");
	}
}

/* The POSIX ACL xattr: version 2, then (tag, perm, id) entries in tag order. */
static size_t acl(char *out, const unsigned *ent, size_t n)
{
	size_t i, o = 4;
	uint32_t v = 2;

	memcpy(out, &v, 4);
	for (i = 0; i < n; i++) {
		uint16_t tag = (uint16_t)ent[3 * i], perm = (uint16_t)ent[3 * i + 1];
		uint32_t id = ent[3 * i + 2];

		memcpy(out + o, &tag, 2);
		memcpy(out + o + 2, &perm, 2);
		memcpy(out + o + 4, &id, 4);
		o += 8;
	}
	return o;
}

static void area_xattr(void)
{
	static const unsigned grant_a[] = {1,	6,    ~0u, 2,	6,    60001, 4,	 0,
					   ~0u, 0x10, 6,   ~0u, 0x20, 0,     ~0u};
	static const unsigned dflt[] = {1, 7, ~0u, 4, 7, ~0u, 0x20, 5, ~0u};
	char v[256];
	size_t n;
	int who;

	for (who = R; who < NACTORS; who++) {
		fresh(0777, 0, 0);
		mk("a", 0, 0644, actor_uid[A], GID_A, 0);
		mk("s", 0, 0666, 0, 0, 0);
		mk("d", 1, 0777, 0, 0, 0);
		mk("sg", 0, 02770, actor_uid[A], GID_X, 0);
		do_xattr(who, OP_SETX, "a", "user.x", "1", 1, 0, "setxattr user.x on A's 0644");
		do_xattr(who, OP_SETX, "s", "user.x", "22", 2, XATTR_CREATE, "setxattr create");
		do_xattr(who, OP_SETX, "s", "user.x", "33", 2, XATTR_CREATE, "create again");
		do_xattr(who, OP_SETX, "s", "user.y", "4", 1, XATTR_REPLACE, "replace absent");
		do_xattr(who, OP_SETX, "s", "user.x", "", 0, XATTR_REPLACE, "replace with empty");
		do_xattr(who, OP_GETX, "s", "user.x", NULL, 0, 0, "getxattr");
		do_xattr(who, OP_GETX, "s", "user.none", NULL, 0, 0, "getxattr absent");
		do_xattr(who, OP_SETX, "s", "security.test", "sec", 3, 0, "setxattr security.*");
		do_xattr(who, OP_SETX, "s", "trusted.t", "tr", 2, 0, "setxattr trusted.*");
		do_xattr(who, OP_GETX, "s", "trusted.t", NULL, 0, 0, "getxattr trusted.*");
		do_xattr(who, OP_SETX, "s", "bogus.x", "1", 1, 0, "setxattr unknown namespace");
		do_xattr(who, OP_LISTX, "s", "", NULL, 0, 0, "listxattr");
		do_xattr(who, OP_REMOVEX, "s", "user.x", NULL, 0, 0, "removexattr");
		do_xattr(who, OP_REMOVEX, "s", "user.x", NULL, 0, 0, "removexattr again");
		do_xattr(who, OP_SETX, "d", "user.x", "1", 1, 0, "setxattr on a directory");
		n = acl(v, grant_a, 5);
		do_xattr(who, OP_SETX, "s", "system.posix_acl_access", v, n, 0,
			 "set ACL user A rw");
		do_xattr(who, OP_GETX, "s", "system.posix_acl_access", NULL, 0, 0, "get ACL");
		do_open(A, "s", O_RDWR, 0, 1, "A opens the ACL'd file rw");
		do_open(B, "s", O_RDWR, 0, 1, "B opens the ACL'd file rw");
		do_path(R, OP_CHMOD, "s", NULL, 0604, 0, "chmod narrows the ACL mask");
		do_xattr(who, OP_GETX, "s", "system.posix_acl_access", NULL, 0, 0, "get ACL");
		do_open(A, "s", O_RDWR, 0, 2, "A opens the ACL'd file rw");
		do_xattr(who, OP_REMOVEX, "s", "system.posix_acl_access", NULL, 0, 0, "remove ACL");
		do_xattr(who, OP_SETX, "sg", "system.posix_acl_access", v, n, 0,
			 "set ACL on A's set-gid file (group not A's)");
		n = acl(v, dflt, 3);
		do_xattr(who, OP_SETX, "d", "system.posix_acl_default", v, n, 0, "set default ACL");
		as_umask(who, 077);
		do_open(who, "d/new", O_CREAT | O_WRONLY, 0666, 1, "create under a default ACL");
		do_path(who, OP_MKDIR, "d/sub", NULL, 0777, 0, "mkdir under a default ACL");
		do_xattr(who, OP_GETX, "d/sub", "system.posix_acl_default", NULL, 0, 0,
			 "inherited default ACL");
		do_xattr(who, OP_LISTX, "d/new", "", NULL, 0, 0, "listxattr of new file");
		as_umask(who, 022);
		do_path(R, OP_MKNOD, "fifo", NULL, S_IFIFO | 0666, 0, "mkfifo");
		do_xattr(who, OP_SETX, "fifo", "user.x", "1", 1, 0, "setxattr user.* on a FIFO");
		do_slot(who, OP_CLOSE, 1, 0, 0, 0, "close", 0);
		do_slot(A, OP_CLOSE, 1, 0, 0, 0, "close", 0);
		do_slot(A, OP_CLOSE, 2, 0, 0, 0, "close", 0);
		do_slot(B, OP_CLOSE, 1, 0, 0, 0, "close", 0);
	}
}

/* Space: fallocate modes, holes, truncation by descriptor. */
static void area_space(void)
{
	int who;

	for (who = R; who <= A; who++) {
		fresh(0777, 0, 0);
		mk("f", 0, 0644, actor_uid[who], 0, 0);
		mk("ro", 0, 0644, actor_uid[who], 0, 10);
		do_open(who, "f", O_RDWR, 0, 4, "open rw");
		do_slot(who, OP_FALLOC, 4, 0, 0, 65536, "fallocate 0..64K", 1);
		do_slot(who, OP_FALLOC, 4, FALLOC_FL_KEEP_SIZE, 65536, 65536,
			"fallocate keep-size past EOF", 1);
		do_slot(who, OP_FALLOC, 4, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 16384,
			"punch hole 0..16K", 1);
		do_slot(who, OP_FALLOC, 4, FALLOC_FL_PUNCH_HOLE, 0, 4096, "punch without keep-size",
			1);
		do_slot(who, OP_FALLOC, 4, FALLOC_FL_ZERO_RANGE, 16384, 8192, "zero range", 1);
		do_slot(who, OP_FALLOC, 4, 0, -1, 10, "fallocate negative offset", 1);
		do_slot(who, OP_SEEK, 4, SEEK_DATA, 0, 0, "seek data from 0", 1);
		do_slot(who, OP_SEEK, 4, SEEK_HOLE, 16384, 0, "seek hole from 16K", 1);
		do_slot(who, OP_SEEK, 4, SEEK_DATA, 1 << 20, 0, "seek data past EOF", 1);
		do_slot(who, OP_FTRUNC, 4, 100, 0, 0, "ftruncate 100", 1);
		do_slot(who, OP_FTRUNC, 4, -1, 0, 0, "ftruncate -1", 1);
		do_slot(who, OP_WRITE, 4, 10, 0, 0, "write 10", 1);
		do_slot(who, OP_FCHMOD, 4, 0600, 0, 0, "fchmod 0600", 0);
		do_slot(who, OP_FCHOWN, 4, -1, GID_S, 0, "fchown group shared", 0);
		{
			struct req *q = Q(OP_FUTIMENS, NULL, NULL);

			q->c = 4;
			q->ts[0].tv_sec = T1;
			q->ts[1].tv_sec = T2;
			step(who, q, "futimens T1 T2", 0);
		}
		do_open(who, "ro", O_RDONLY, 0, 5, "open r");
		do_slot(who, OP_FTRUNC, 5, 1, 0, 0, "ftruncate read-only fd", 0);
		do_slot(who, OP_FALLOC, 5, 0, 0, 10, "fallocate read-only fd", 0);
		do_path(who, OP_TRUNC, "", NULL, 0, 0, "truncate a directory");
		do_slot(who, OP_CLOSE, 4, 0, 0, 0, "close", 0);
		do_slot(who, OP_CLOSE, 5, 0, 0, 0, "close", 0);
	}
}

/* flock and fcntl (POSIX and OFD) locks between two users. */
static void area_locks(void)
{
	fresh(0777, 0, 0);
	mk("l", 0, 0666, 0, 0, 100);
	do_open(A, "l", O_RDWR, 0, 6, "open rw");
	do_open(B, "l", O_RDWR, 0, 6, "open rw");
	do_slot(A, OP_FLOCK, 6, LOCK_EX | LOCK_NB, 0, 0, "flock ex", 0);
	do_slot(B, OP_FLOCK, 6, LOCK_EX | LOCK_NB, 0, 0, "flock ex (held)", 0);
	do_slot(B, OP_FLOCK, 6, LOCK_SH | LOCK_NB, 0, 0, "flock sh (held ex)", 0);
	do_slot(A, OP_FLOCK, 6, LOCK_UN, 0, 0, "flock un", 0);
	do_slot(B, OP_FLOCK, 6, LOCK_SH | LOCK_NB, 0, 0, "flock sh", 0);
	do_slot(A, OP_FLOCK, 6, LOCK_SH | LOCK_NB, 0, 0, "flock sh (shared)", 0);
	do_slot(A, OP_FLOCK, 6, LOCK_EX | LOCK_NB, 0, 0, "flock ex (held sh)", 0);
	do_slot(A, OP_SETLK, 6, F_WRLCK, 0, 10, "setlk wr 0+10", 0);
	do_slot(B, OP_SETLK, 6, F_WRLCK, 5, 10, "setlk wr 5+10 (conflict)", 0);
	do_slot(B, OP_GETLK, 6, F_WRLCK, 5, 10, "getlk wr 5+10", 0);
	do_slot(B, OP_SETLK, 6, F_RDLCK, 20, 5, "setlk rd 20+5", 0);
	do_slot(A, OP_GETLK, 6, F_RDLCK, 0, 0, "getlk rd whole", 0);
	do_slot(A, OP_SETLK, 6, F_UNLCK, 0, 0, "setlk unlock", 0);
	do_slot(B, OP_SETLK, 6, F_WRLCK, 5, 10, "setlk wr 5+10", 0);
	do_slot(A, OP_CLOSE, 6, 0, 0, 0, "close", 0);
	do_slot(B, OP_CLOSE, 6, 0, 0, 0, "close", 0);
	do_open(A, "l", O_RDWR, 0, 6, "open rw");
	do_open(B, "l", O_RDWR, 0, 6, "open rw");
	{
		struct req *q = Q(OP_SETLK, NULL, NULL);

		q->c = 6;
		q->a = F_WRLCK;
		q->d = 10;
		q->vlen = 1; /* OFD */
		step(A, q, "ofd setlk wr 0+10", 0);
		q = Q(OP_GETLK, NULL, NULL);
		q->c = 6;
		q->a = F_WRLCK;
		q->d = 10;
		q->vlen = 1;
		step(B, q, "ofd getlk wr 0+10", 0);
		q = Q(OP_SETLK, NULL, NULL);
		q->c = 6;
		q->a = F_RDLCK;
		q->d = 1;
		q->vlen = 1;
		step(B, q, "ofd setlk rd 0+1 (conflict)", 0);
	}
	do_slot(A, OP_CLOSE, 6, 0, 0, 0, "close", 0);
	do_slot(B, OP_CLOSE, 6, 0, 0, 0, "close", 0);
}

/* O_TMPFILE: refused through FUSE (libfuse 3.14 has no tmpfile operation). */
static void area_tmpfile(void)
{
	struct req *q;

	fresh(0777, 0, 0);
	q = Q(OP_TMPFILE, "", NULL);
	q->a = 0600;
	q->c = 7;
	step(R, q, "open O_TMPFILE", 0);
}

static void run_all(void)
{
	area_create();
	area_paths();
	area_matrix();
	area_dirs();
	area_xattr();
	area_space();
	area_locks();
	area_tmpfile();
}
