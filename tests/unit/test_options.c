/*
 * options: rfs_options_parse with argv arrays (defaults: dir store, statedir, node = host
 * name, timeout 2, sync local; every option; what is left in fuse_args) and its one-line
 * errors (bad node, store, timeout, sync, gnfs name, statedir, poll, an unknown FUSE option,
 * no mount point); config files (comments, blank lines, the command line overriding them,
 * bad lines, a missing file); rfs_ctl_default_path.
 */
#include "test.h"

#include <limits.h>

#include <config.h>
#include <rmtabfs/oplog.h>
#include <rmtabfs/options.h>

struct fixture {
	char dir[PATH_MAX];  /* a temporary directory: the mount point */
	char real[PATH_MAX]; /* its canonical name, as libfuse reports it */
	char conf[PATH_MAX + 16];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_mkdtemp(f->dir, sizeof(f->dir));
	assert_non_null(realpath(f->dir, f->real));
	snprintf(f->conf, sizeof(f->conf), "%s/conf", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* Parses a NULL-terminated argument list (argv[0] supplied). */
static int parse(struct rfs_options *o, struct fuse_args *fa, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"rmtabfs";
	va_start(ap, errlen);
	while ((a = va_arg(ap, const char *)))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	*fa = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	return rfs_options_parse(argc, argv, o, fa, err, errlen);
}

/* Is name one of the comma-separated -o options libfuse will get? */
static bool has_opt(const struct fuse_args *fa, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < fa->argc; i++) {
		const char *p = fa->argv[i];

		if (strncmp(p, "-o", 2) == 0)
			p += 2;
		else if (strcmp(fa->argv[i - 1], "-o") != 0)
			continue;
		while (*p) {
			size_t len = strcspn(p, ",");

			if (len == n && strncmp(p, name, n) == 0)
				return true;
			p += len + (p[len] == ',');
		}
	}
	return false;
}

/* Does any argument mention s at all? */
static bool args_mention(const struct fuse_args *fa, const char *s)
{
	for (int i = 0; i < fa->argc; i++)
		if (strstr(fa->argv[i], s))
			return true;
	return false;
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct rfs_options o;
	struct fuse_args fa;
	char err[256], host[256];
	char *ctl;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	if (rfs_node_id_valid(host)) {
		assert_int_equal(parse(&o, &fa, err, sizeof(err), f->dir, NULL), 0);
	} else {
		/* This machine's host name is no node id: refused, so the rest needs node=. */
		assert_int_equal(parse(&o, &fa, err, sizeof(err), f->dir, NULL), -EINVAL);
		assert_non_null(strstr(err, "bad node="));
		snprintf(host, sizeof(host), "n1");
		assert_int_equal(parse(&o, &fa, err, sizeof(err), "-o", "node=n1", f->dir, NULL),
				 0);
	}
	assert_string_equal(err, "");
	assert_string_equal(o.mountpoint, f->real);
	assert_string_equal(o.store, "dir:/var/lib/rmtabfs/store");
	assert_int_equal(o.spec.kind, RFS_STORE_DIR);
	assert_string_equal(o.spec.path, "/var/lib/rmtabfs/store");
	assert_string_equal(o.statedir, "/var/lib/rmtabfs");
	assert_string_equal(o.node, host);
	assert_null(o.gnfs);
	assert_null(o.config);
	assert_true(o.timeout == 2.0);
	assert_true(o.poll == 0.2);
	assert_true(o.maxskew == 300.0);
	assert_true(o.entry_timeout == 1.0);
	assert_true(o.attr_timeout == 1.0);
	assert_int_equal(o.sync, RFS_SYNC_LOCAL);
	assert_int_equal(o.batch_ms, 0); /* durability=fsync */
	assert_int_equal(o.import_rmtab, 1);
	assert_int_equal(o.foreground, 0);
	assert_int_equal(o.debug, 0);
	assert_int_equal(o.singlethread, 0);
	ctl = rfs_ctl_default_path(f->real);
	assert_string_equal(o.ctl, ctl);
	free(ctl);
	/* libfuse keeps what it needs, with the options the daemon always adds. */
	assert_string_equal(fa.argv[0], "rmtabfs");
	assert_true(has_opt(&fa, "allow_other"));
	assert_true(has_opt(&fa, "default_permissions"));
	assert_true(has_opt(&fa, "fsname=rmtabfs"));
	assert_false(args_mention(&fa, f->real)); /* the mount point is in o, not here */
	rfs_options_free(&o);
	assert_null(o.store);
	fuse_opt_free_args(&fa);
}

static void test_every_option(void **state)
{
	struct fixture *f = *state;
	struct rfs_options o;
	struct fuse_args fa;
	char err[256];

	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-f", "-s", "-o",
			       "store=gluster://h1\\,h2:24008/vol/sub,statedir=/srv/state,"
			       "node=nfs-1.x_Y,gnfs=gnfs-rmtab,timeout=0.5,sync=store,poll=1.5,"
			       "ctl=/run/x.sock,maxskew=60,durability=batch:1000",
			       "-o", "entry_timeout=3,attr_timeout=0,noimport,ro", f->dir, NULL),
			 0);
	assert_string_equal(o.store, "gluster://h1,h2:24008/vol/sub");
	assert_int_equal(o.spec.kind, RFS_STORE_GLUSTER);
	assert_int_equal(o.spec.nservers, 2);
	assert_int_equal(o.spec.ports[1], 24008);
	assert_string_equal(o.statedir, "/srv/state");
	assert_string_equal(o.node, "nfs-1.x_Y");
	assert_string_equal(o.gnfs, "gnfs-rmtab");
	assert_true(o.timeout == 0.5);
	assert_int_equal(o.sync, RFS_SYNC_STORE);
	assert_true(o.poll == 1.5);
	assert_true(o.maxskew == 60.0);
	assert_int_equal(o.batch_ms, 1000);
	assert_string_equal(o.ctl, "/run/x.sock");
	assert_true(o.entry_timeout == 3.0);
	assert_true(o.attr_timeout == 0.0);
	assert_int_equal(o.import_rmtab, 0);
	assert_int_equal(o.foreground, 1);
	assert_int_equal(o.singlethread, 1);
	/* Our options are gone from what libfuse gets; its own ("ro") stay. */
	assert_false(args_mention(&fa, "store="));
	assert_false(args_mention(&fa, "noimport"));
	assert_false(args_mention(&fa, "timeout"));
	assert_false(args_mention(&fa, "gnfs"));
	assert_false(args_mention(&fa, "durability"));
	assert_true(has_opt(&fa, "ro"));
	assert_true(has_opt(&fa, "allow_other"));
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);

	/* sync=local spelled out, -d, a dir: store, a later value overriding an earlier one. */
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-d", "-o",
			       "sync=local,store=dir:/srv/s,node=a,node=b,durability=batch:5,"
			       "durability=fsync",
			       f->dir, NULL),
			 0);
	assert_int_equal(o.sync, RFS_SYNC_LOCAL);
	assert_int_equal(o.batch_ms, 0);
	assert_int_equal(o.debug, 1);
	assert_int_equal(o.foreground, 1);
	assert_string_equal(o.spec.path, "/srv/s");
	assert_string_equal(o.node, "b");
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);

	/* Help and version need no mount point. */
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-h", NULL), 0);
	assert_int_equal(o.show_help, 1);
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-V", NULL), 0);
	assert_int_equal(o.show_version, 1);
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);
}

/* A refused command line: -EINVAL, one line naming the culprit, nothing to free. */
static void expect_error(struct fixture *f, const char *opt, const char *want, bool mount)
{
	struct rfs_options o;
	struct fuse_args fa;
	char err[256];
	int rc;

	memset(err, 'x', sizeof(err));
	if (opt)
		rc = parse(&o, &fa, err, sizeof(err), "-o", opt, mount ? f->dir : NULL, NULL);
	else
		rc = parse(&o, &fa, err, sizeof(err), mount ? f->dir : NULL, NULL);
	if (rc != -EINVAL)
		fail_msg("'%s' gave %d, want -EINVAL", opt ? opt : "(none)", rc);
	if (!strstr(err, want) || strchr(err, '\n') || !err[0])
		fail_msg("'%s': message '%s', want one line with '%s'", opt ? opt : "(none)", err,
			 want);
	/* The options structure is left empty. */
	assert_null(o.store);
	assert_null(o.node);
	assert_null(o.mountpoint);
	assert_null(fa.argv);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	char longnode[80];

	snprintf(longnode, sizeof(longnode), "node=%065d", 0);
	expect_error(f, "node=a/b", "bad node=a/b", true);
	expect_error(f, longnode, "bad node=", true);
	expect_error(f, "node=", "bad node=", true);
	expect_error(f, "store=nfs://x/y", "bad store 'nfs://x/y'", true);
	expect_error(f, "store=dir:relative", "bad store 'dir:relative'", true);
	expect_error(f, "store=dir:", "bad store", true);
	expect_error(f, "store=gluster://h", "bad store", true);
	expect_error(f, "timeout=abc", "bad timeout=abc", true);
	expect_error(f, "timeout=-1", "bad timeout=-1", true);
	expect_error(f, "timeout=0", "bad timeout=0", true);
	expect_error(f, "timeout=nan", "bad timeout=nan", true);
	expect_error(f, "timeout=2s", "bad timeout=2s", true);
	expect_error(f, "timeout=", "bad timeout=", true);
	expect_error(f, "poll=0", "bad poll=0", true);
	expect_error(f, "maxskew=0", "bad maxskew=0", true);
	expect_error(f, "maxskew=100000", "bad maxskew=100000", true);
	expect_error(f, "entry_timeout=-1", "bad entry_timeout=-1", true);
	expect_error(f, "attr_timeout=x", "bad attr_timeout=x", true);
	expect_error(f, "sync=fast", "bad sync=fast", true);
	expect_error(f, "sync=", "bad sync=", true);
	expect_error(f, "durability=", "bad durability=", true);
	expect_error(f, "durability=batch", "bad durability=batch: expected fsync or batch:MS",
		     true);
	expect_error(f, "durability=batch:", "bad durability=batch:", true);
	expect_error(f, "durability=batch:0", "bad durability=batch:0", true);
	expect_error(f, "durability=batch:-5", "bad durability=batch:-5", true);
	expect_error(f, "durability=batch:10ms", "bad durability=batch:10ms", true);
	expect_error(f, "durability=batch:60001", "1 to 60000", true);
	expect_error(f, "durability=sync", "bad durability=sync", true);
	expect_error(f, "gnfs=rmtab", "bad gnfs=rmtab", true);
	expect_error(f, "gnfs=rmtab.tmp", "bad gnfs=rmtab.tmp", true);
	expect_error(f, "gnfs=a/b", "bad gnfs=a/b", true);
	expect_error(f, "gnfs=.x", "bad gnfs=.x", true);
	expect_error(f, "gnfs=", "bad gnfs=", true);
	expect_error(f, "statedir=rel/dir", "bad statedir=rel/dir", true);
	expect_error(f, "frobnicate", "frobnicate", true);
	expect_error(f, "allow_other,frobnicate=1", "frobnicate", true);
	expect_error(f, NULL, "no mount point", false);
	expect_error(f, "node=a", "no mount point", false);
}

static void write_conf(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct rfs_options o;
	struct fuse_args fa;
	char err[256], opt[PATH_MAX + 32];

	write_conf(f->conf, "# rmtabfs options\n"
			    "\n"
			    "   store=dir:/srv/conf-store  \n"
			    "\tnode=from-config\r\n"
			    "timeout=5\n"
			    "  # indented comment\n"
			    "sync=store");
	/* The lines come out as "-o OPTION" pairs, comments and blanks skipped. */
	assert_int_equal(rfs_options_read_config(f->conf, &args, err, sizeof(err)), 0);
	assert_int_equal(args.argc, 8);
	assert_string_equal(args.argv[0], "-o");
	assert_string_equal(args.argv[1], "store=dir:/srv/conf-store");
	assert_string_equal(args.argv[3], "node=from-config");
	assert_string_equal(args.argv[5], "timeout=5");
	assert_string_equal(args.argv[7], "sync=store");
	fuse_opt_free_args(&args);

	/* Through config=: the file's values, and the command line wins over it. */
	snprintf(opt, sizeof(opt), "config=%s", f->conf);
	assert_int_equal(
		parse(&o, &fa, err, sizeof(err), "-o", opt, "-o", "node=from-cli", f->dir, NULL),
		0);
	assert_string_equal(o.node, "from-cli");
	assert_string_equal(o.spec.path, "/srv/conf-store");
	assert_true(o.timeout == 5.0);
	assert_int_equal(o.sync, RFS_SYNC_STORE);
	assert_string_equal(o.config, f->conf);
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);

	/* A line is one option, commas and backslashes included (the man page's example). */
	write_conf(f->conf, "store=gluster://gl1,gl2,gl3/nfsmeta/rmtab\nctl=/run/a\\b,c.sock\n");
	assert_int_equal(rfs_options_read_config(f->conf, &args, err, sizeof(err)), 0);
	assert_int_equal(args.argc, 4);
	assert_string_equal(args.argv[1], "store=gluster://gl1\\,gl2\\,gl3/nfsmeta/rmtab");
	fuse_opt_free_args(&args);
	snprintf(opt, sizeof(opt), "config=%s", f->conf);
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-o", opt, f->dir, NULL), 0);
	assert_string_equal(o.store, "gluster://gl1,gl2,gl3/nfsmeta/rmtab");
	assert_int_equal(o.spec.nservers, 3);
	assert_string_equal(o.spec.servers[2], "gl3");
	assert_string_equal(o.spec.volume, "nfsmeta");
	assert_string_equal(o.spec.path, "/rmtab");
	assert_string_equal(o.ctl, "/run/a\\b,c.sock");
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);
	write_conf(f->conf, "store=dir:/srv/conf-store\nnode=from-config\ntimeout=5\nsync=store\n");

	/* Also inside a list and in the joined "-oconfig=" form, even before the override. */
	snprintf(opt, sizeof(opt), "-otimeout=7,config=%s", f->conf);
	assert_int_equal(parse(&o, &fa, err, sizeof(err), opt, f->dir, NULL), 0);
	assert_true(o.timeout == 7.0);
	assert_string_equal(o.node, "from-config");
	rfs_options_free(&o);
	fuse_opt_free_args(&fa);
}

static void test_config_errors(void **state)
{
	struct fixture *f = *state;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct rfs_options o;
	struct fuse_args fa;
	char err[256], opt[PATH_MAX + 32], *big;
	char missing[PATH_MAX + 16];

	write_conf(f->conf, "node=a\n# fine\nstore=dir:/x node=b\n");
	assert_int_equal(rfs_options_read_config(f->conf, &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":3: one option per line"));
	fuse_opt_free_args(&args);

	write_conf(f->conf, "node=a b\n");
	assert_int_equal(rfs_options_read_config(f->conf, &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1:"));
	fuse_opt_free_args(&args);

	big = malloc(6000);
	assert_non_null(big);
	memset(big, 'x', 5998);
	big[5998] = '\n';
	big[5999] = '\0';
	write_conf(f->conf, big);
	free(big);
	assert_int_equal(rfs_options_read_config(f->conf, &args, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line too long"));
	fuse_opt_free_args(&args);

	snprintf(missing, sizeof(missing), "%s/none", f->dir);
	assert_int_equal(rfs_options_read_config(missing, &args, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read config"));
	fuse_opt_free_args(&args);

	/* Through the command line: the file's error is the parse's error. */
	snprintf(opt, sizeof(opt), "config=%s", missing);
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-o", opt, f->dir, NULL), -EINVAL);
	assert_non_null(strstr(err, "cannot read config"));
	write_conf(f->conf, "gnfs=.hidden\n");
	snprintf(opt, sizeof(opt), "config=%s", f->conf);
	assert_int_equal(parse(&o, &fa, err, sizeof(err), "-o", opt, f->dir, NULL), -EINVAL);
	assert_non_null(strstr(err, "bad gnfs=.hidden"));
}

static void expect_ctl(const char *mountpoint, const char *want)
{
	char *p = rfs_ctl_default_path(mountpoint);

	assert_non_null(p);
	assert_string_equal(p, want);
	free(p);
}

static void test_ctl_default_path(void **state)
{
	expect_ctl("/var/lib/nfs", "/run/rmtabfs/var-lib-nfs.sock");
	expect_ctl("/var/lib/nfs/", "/run/rmtabfs/var-lib-nfs.sock");
	expect_ctl("//var//lib/nfs", "/run/rmtabfs/var-lib-nfs.sock");
	expect_ctl("/", "/run/rmtabfs/-.sock");
	expect_ctl("/srv/a b", "/run/rmtabfs/srv-a\\x20b.sock");
	expect_ctl("/srv/x-y", "/run/rmtabfs/srv-x\\x2dy.sock");
	expect_ctl("/srv/.hidden_1", "/run/rmtabfs/srv-.hidden_1.sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test(test_ctl_default_path),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
