/*
 * store: rfs_store_spec_parse and rfs_store_describe (dir: absolute clean paths only,
 * gluster://h1,h2:port/vol/sub/dir, the refusals); rfs_store_init; the dir backend in a
 * temporary directory (connect creating the root, mkdir, open, pwrite, pread, size,
 * truncate, fsync, list, rename, unlink, their errors) and its owner lock (a second open
 * of the same file cannot lock it until the first is closed); read_small/write_small.
 */
#include "test.h"

#include <config.h>
#include <rmtabfs/store.h>

static void expect_spec_ok(const char *text, const char *described)
{
	struct rfs_store_spec spec;
	char err[256] = "", desc[1024];

	if (rfs_store_spec_parse(text, &spec, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", text, err);
	rfs_store_describe(&spec, desc, sizeof(desc));
	assert_string_equal(desc, described);
}

static void test_spec_dir(void **state)
{
	struct rfs_store_spec spec;
	char err[256];

	assert_int_equal(
		rfs_store_spec_parse("dir:/var/lib/rmtabfs/store", &spec, err, sizeof(err)), 0);
	assert_int_equal(spec.kind, RFS_STORE_DIR);
	assert_string_equal(spec.path, "/var/lib/rmtabfs/store");
	expect_spec_ok("dir:/var/lib/rmtabfs/store", "dir:/var/lib/rmtabfs/store");
	expect_spec_ok("dir:/", "dir:/");
	expect_spec_ok("dir:/srv/store/", "dir:/srv/store/");
	expect_spec_ok("dir:/srv/a.b/..c/...", "dir:/srv/a.b/..c/...");
}

static void test_spec_gluster(void **state)
{
	struct rfs_store_spec spec;
	char err[256];

	assert_int_equal(
		rfs_store_spec_parse("gluster://h1,h2:24008/vol/sub/dir", &spec, err, sizeof(err)),
		0);
	assert_int_equal(spec.kind, RFS_STORE_GLUSTER);
	assert_int_equal(spec.nservers, 2);
	assert_string_equal(spec.servers[0], "h1");
	assert_int_equal(spec.ports[0], 24007);
	assert_string_equal(spec.servers[1], "h2");
	assert_int_equal(spec.ports[1], 24008);
	assert_string_equal(spec.volume, "vol");
	assert_string_equal(spec.path, "/sub/dir");

	assert_int_equal(rfs_store_spec_parse("gluster://gl.example.com/nfs-meta_1", &spec, err,
					      sizeof(err)),
			 0);
	assert_int_equal(spec.nservers, 1);
	assert_string_equal(spec.volume, "nfs-meta_1");
	assert_string_equal(spec.path, "/");

	expect_spec_ok("gluster://h1,h2:24008/vol/sub/dir", "gluster://h1,h2:24008/vol/sub/dir");
	expect_spec_ok("gluster://h/vol", "gluster://h/vol");
	expect_spec_ok("gluster://h/vol/", "gluster://h/vol");
	expect_spec_ok("gluster://h:24007/vol", "gluster://h/vol");
	expect_spec_ok("gluster://a,b,c,d,e,f,g,h/v/d", "gluster://a,b,c,d,e,f,g,h/v/d");
}

static void expect_spec_bad(const char *text, const char *reason)
{
	struct rfs_store_spec spec;
	char err[256] = "";

	if (rfs_store_spec_parse(text, &spec, err, sizeof(err)) != -EINVAL)
		fail_msg("'%s' accepted", text);
	if (strncmp(err, "bad store '", 11) != 0 || !strstr(err, reason))
		fail_msg("'%s': message '%s', want '%s'", text, err, reason);
}

static void test_spec_bad(void **state)
{
	expect_spec_bad("", "use dir:/PATH");
	expect_spec_bad("/var/lib/store", "use dir:/PATH");
	expect_spec_bad("nfs://h/v", "use dir:/PATH");
	expect_spec_bad("dir:", "absolute path");
	expect_spec_bad("dir:relative/path", "absolute path");
	expect_spec_bad("dir:./x", "absolute path");
	expect_spec_bad("dir:/a/../b", "absolute path");
	expect_spec_bad("dir:/a/./b", "absolute path");
	expect_spec_bad("dir:/a/..", "absolute path");
	expect_spec_bad("gluster://", "expected gluster://");
	expect_spec_bad("gluster://h", "expected gluster://");
	expect_spec_bad("gluster:///vol", "expected gluster://");
	expect_spec_bad("gluster://h/", "no volume");
	expect_spec_bad("gluster://h//sub", "no volume");
	expect_spec_bad("gluster://,/vol", "no server");
	expect_spec_bad("gluster://h:0/vol", "bad port");
	expect_spec_bad("gluster://h:65536/vol", "bad port");
	expect_spec_bad("gluster://h:x/vol", "bad port");
	expect_spec_bad("gluster://h:/vol", "bad port");
	expect_spec_bad("gluster://:24007/vol", "bad server name");
	expect_spec_bad("gluster://a,b,c,d,e,f,g,h,i/vol", "too many servers");
	expect_spec_bad("gluster://h/vol$", "bad volume name");
	expect_spec_bad("gluster://h/v:ol", "bad volume name");
	expect_spec_bad("gluster://h/vol/../x", "bad directory");
	expect_spec_bad("gluster://h/vol/a/./b", "bad directory");
}

static void test_store_init(void **state)
{
	struct rfs_store_spec spec;
	struct rfs_store s;
	char err[256];

	assert_int_equal(rfs_store_spec_parse("dir:/x", &spec, err, sizeof(err)), 0);
	assert_int_equal(rfs_store_init(&s, &spec), 0);
	assert_ptr_equal(s.ops, &rfs_store_dir_ops);
	assert_string_equal(s.ops->scheme, "dir");
	assert_string_equal(s.spec.path, "/x");
	assert_int_equal(rfs_store_spec_parse("gluster://h/v", &spec, err, sizeof(err)), 0);
#if HAVE_GLUSTER
	assert_int_equal(rfs_store_init(&s, &spec), 0);
	assert_ptr_equal(s.ops, &rfs_store_gluster_ops);
#else
	assert_int_equal(rfs_store_init(&s, &spec), -ENOTSUP);
#endif
}

/* ---- the dir backend ---- */

struct fixture {
	char dir[4096];
	struct rfs_store s;
	const struct rfs_store_ops *ops;
};

static void connect_store(struct rfs_store *s, const char *path)
{
	struct rfs_store_spec spec;
	char text[4200], err[256];

	snprintf(text, sizeof(text), "dir:%s", path);
	assert_int_equal(rfs_store_spec_parse(text, &spec, err, sizeof(err)), 0);
	assert_int_equal(rfs_store_init(s, &spec), 0);
	assert_int_equal(s->ops->connect(s), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char root[4200];

	assert_non_null(f);
	test_mkdtemp(f->dir, sizeof(f->dir));
	/* The root does not exist yet: connect creates it (and one missing parent). */
	snprintf(root, sizeof(root), "%s/parent/store", f->dir);
	connect_store(&f->s, root);
	f->ops = f->s.ops;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->ops->disconnect(&f->s, false);
	assert_null(f->s.priv);
	f->ops->disconnect(&f->s, true); /* twice is harmless */
	test_rmtree(f->dir);
	free(f);
	return 0;
}

struct names {
	char v[8][64];
	size_t n;
	int stop_after; /* return an error after this many (0: never) */
};

static int collect_name(void *ctx, const char *name)
{
	struct names *n = ctx;

	assert_true(n->n < 8);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", name);
	return n->stop_after && (int)n->n == n->stop_after ? -ECANCELED : 0;
}

static bool has_name(const struct names *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->v[i], name) == 0)
			return true;
	return false;
}

static void test_dir_files(void **state)
{
	struct fixture *f = *state;
	const struct rfs_store_ops *ops = f->ops;
	struct rfs_store *s = &f->s;
	struct rfs_sfile *file, *other;
	struct names names = {0};
	char buf[32];
	off_t size;

	assert_int_equal(ops->mkdir(s, "nodes"), 0);
	assert_int_equal(ops->mkdir(s, "nodes"), 0); /* exists: fine */
	assert_int_equal(ops->mkdir(s, "missing/sub"), -ENOENT);

	assert_int_equal(ops->open(s, "nodes/a.log", O_RDONLY, &file), -ENOENT);
	assert_int_equal(ops->open(s, "nodes/a.log", O_RDWR | O_CREAT, &file), 0);
	assert_int_equal(ops->size(file, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(ops->pwrite(file, "hello", 5, 0), 5);
	assert_int_equal(ops->pwrite(file, "world", 5, 5), 5);
	assert_int_equal(ops->fsync(file), 0);
	assert_int_equal(ops->size(file, &size), 0);
	assert_int_equal(size, 10);
	assert_int_equal(ops->pread(file, buf, 4, 3), 4);
	assert_memory_equal(buf, "lowo", 4);
	assert_int_equal(ops->pread(file, buf, sizeof(buf), 8), 2);
	assert_int_equal(ops->pread(file, buf, sizeof(buf), 10), 0);
	assert_int_equal(ops->truncate(file, 4), 0);
	assert_int_equal(ops->size(file, &size), 0);
	assert_int_equal(size, 4);
	assert_int_equal(ops->pread(file, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "hell", 4);

	/* A second open sees the same bytes; a read-only one cannot write. */
	assert_int_equal(ops->open(s, "nodes/a.log", O_RDONLY, &other), 0);
	assert_int_equal(ops->pread(other, buf, sizeof(buf), 0), 4);
	assert_int_equal(ops->pwrite(other, "x", 1, 0), -EBADF);
	ops->close(other);
	ops->close(file);

	assert_int_equal(ops->open(s, "nodes/b.owner", O_RDWR | O_CREAT, &file), 0);
	ops->close(file);
	assert_int_equal(ops->list(s, "nodes", collect_name, &names), 0);
	assert_int_equal(names.n, 2);
	assert_true(has_name(&names, "a.log"));
	assert_true(has_name(&names, "b.owner"));
	/* The callback's error stops the listing and comes back. */
	memset(&names, 0, sizeof(names));
	names.stop_after = 1;
	assert_int_equal(ops->list(s, "nodes", collect_name, &names), -ECANCELED);
	assert_int_equal(names.n, 1);
	assert_int_equal(ops->list(s, "none", collect_name, &names), -ENOENT);

	assert_int_equal(ops->rename(s, "nodes/a.log", "nodes/c.log"), 0);
	assert_int_equal(ops->open(s, "nodes/a.log", O_RDONLY, &file), -ENOENT);
	assert_int_equal(ops->open(s, "nodes/c.log", O_RDONLY, &file), 0);
	ops->close(file);
	assert_int_equal(ops->rename(s, "nodes/a.log", "nodes/d.log"), -ENOENT);
	assert_int_equal(ops->unlink(s, "nodes/c.log"), 0);
	assert_int_equal(ops->unlink(s, "nodes/c.log"), 0); /* already gone: fine */
	assert_int_equal(ops->unlink(s, "nodes"), -EISDIR);
	memset(&names, 0, sizeof(names));
	assert_int_equal(ops->list(s, "nodes", collect_name, &names), 0);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.v[0], "b.owner");
}

static void test_dir_lock(void **state)
{
	struct fixture *f = *state;
	const struct rfs_store_ops *ops = f->ops;
	struct rfs_sfile *a, *b, *c;
	struct rfs_store second;

	assert_int_equal(ops->mkdir(&f->s, "nodes"), 0);
	assert_int_equal(ops->open(&f->s, "nodes/n1.owner", O_RDWR | O_CREAT, &a), 0);
	assert_int_equal(ops->open(&f->s, "nodes/n1.owner", O_RDWR, &b), 0);
	assert_int_equal(ops->lock(a), 0);
	assert_int_equal(ops->lock(a), 0); /* the holder may ask again */
	/* Another open of the same file, in the same process: refused without waiting. */
	assert_int_equal(ops->lock(b), -EAGAIN);
	/* Another daemon (another connection to the same store) too. */
	connect_store(&second, f->s.spec.path);
	assert_int_equal(ops->open(&second, "nodes/n1.owner", O_RDWR, &c), 0);
	assert_int_equal(ops->lock(c), -EAGAIN);
	/* Another node's owner file is not affected. */
	ops->close(c);
	assert_int_equal(ops->open(&second, "nodes/n2.owner", O_RDWR | O_CREAT, &c), 0);
	assert_int_equal(ops->lock(c), 0);
	ops->close(c);
	/* Closing the holder releases it. */
	ops->close(a);
	assert_int_equal(ops->lock(b), 0);
	assert_int_equal(ops->open(&second, "nodes/n1.owner", O_RDWR, &c), 0);
	assert_int_equal(ops->lock(c), -EAGAIN);
	ops->close(c);
	ops->close(b);
	ops->disconnect(&second, false);
}

static void test_small_files(void **state)
{
	struct fixture *f = *state;
	struct names names = {0};
	char buf[64];
	size_t len;

	assert_int_equal(rfs_store_read_small(&f->s, "FORMAT", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(
		rfs_store_write_small(&f->s, "FORMAT", RFS_STORE_FORMAT, strlen(RFS_STORE_FORMAT)),
		0);
	assert_int_equal(rfs_store_read_small(&f->s, "FORMAT", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, strlen(RFS_STORE_FORMAT));
	assert_string_equal(buf, RFS_STORE_FORMAT);
	/* Rewritten shorter: no tail of the old content survives. */
	assert_int_equal(rfs_store_write_small(&f->s, "FORMAT", "x\n", 2), 0);
	assert_int_equal(rfs_store_read_small(&f->s, "FORMAT", buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "x\n");
	/* A small buffer gets what fits, NUL-terminated. */
	assert_int_equal(rfs_store_write_small(&f->s, "FORMAT", "0123456789", 10), 0);
	assert_int_equal(rfs_store_read_small(&f->s, "FORMAT", buf, 5, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(buf, "0123");
	/* No temporary file left behind. */
	assert_int_equal(f->ops->list(&f->s, ".", collect_name, &names), 0);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.v[0], "FORMAT");
	/* Into a directory that is not there: refused, nothing left. */
	assert_int_equal(rfs_store_write_small(&f->s, "none/FORMAT", "x", 1), -ENOENT);
}

static void test_connect_fails(void **state)
{
	struct fixture *f = *state;
	struct rfs_store_spec spec;
	struct rfs_store s;
	char text[4200], err[256];

	/* Two missing levels: only one is created. */
	snprintf(text, sizeof(text), "dir:%s/x/y/z", f->dir);
	assert_int_equal(rfs_store_spec_parse(text, &spec, err, sizeof(err)), 0);
	assert_int_equal(rfs_store_init(&s, &spec), 0);
	assert_int_equal(s.ops->connect(&s), -ENOENT);
	assert_null(s.priv);
	/* A file where the root should be. */
	snprintf(text, sizeof(text), "%s/file", f->dir);
	test_write_file(AT_FDCWD, text, "x", 1);
	snprintf(text, sizeof(text), "dir:%s/file", f->dir);
	assert_int_equal(rfs_store_spec_parse(text, &spec, err, sizeof(err)), 0);
	assert_int_equal(rfs_store_init(&s, &spec), 0);
	assert_int_equal(s.ops->connect(&s), -ENOTDIR);
	assert_null(s.priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_dir),
		cmocka_unit_test(test_spec_gluster),
		cmocka_unit_test(test_spec_bad),
		cmocka_unit_test(test_store_init),
		cmocka_unit_test_setup_teardown(test_dir_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_fails, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
