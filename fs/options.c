/*
 * Option parsing for the daemon: our -o options (store=, statedir=, node=, gnfs=, timeout=,
 * sync=, durability=, poll=, ctl=, config=, entry_timeout=, attr_timeout=, noimport), the usual
 * FUSE command line (-f, -d, -s, MOUNTPOINT) and a config file of the same options.
 *
 * Invariant: after a successful parse every field is set and valid, and fuse_args holds
 * only options libfuse accepts (checked by letting libfuse parse them once), so a typo
 * fails at start with one line instead of at mount time. No state, no locks.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/oplog.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/options.h>
#include <rmtabfs/table.h>

struct raw_opts {
	char *store, *statedir, *node, *gnfs, *ctl, *config;
	char *timeout, *poll, *sync, *entry_timeout, *attr_timeout, *tombstones;
	char *durability;
	char *maxskew;
	int noimport;
	int nowatch;
	char *nonopt[2]; /* [SOURCE] MOUNTPOINT (copies: fuse_opt_parse frees its input) */
	int nnonopt;
};

#define ROPT(t, f)                                                                                 \
	{                                                                                          \
		t, offsetof(struct raw_opts, f), 1                                                 \
	}

static const struct fuse_opt rfs_opts[] = {
	ROPT("store=%s", store),
	ROPT("statedir=%s", statedir),
	ROPT("node=%s", node),
	ROPT("gnfs=%s", gnfs),
	ROPT("ctl=%s", ctl),
	ROPT("config=%s", config),
	ROPT("timeout=%s", timeout),
	ROPT("poll=%s", poll),
	ROPT("tombstones=%s", tombstones),
	ROPT("maxskew=%s", maxskew),
	ROPT("sync=%s", sync),
	ROPT("durability=%s", durability),
	ROPT("entry_timeout=%s", entry_timeout),
	ROPT("attr_timeout=%s", attr_timeout),
	ROPT("noimport", noimport),
	{"watch=off", offsetof(struct raw_opts, nowatch), 1},
	{"watch=on", offsetof(struct raw_opts, nowatch), 0},
	FUSE_OPT_END,
};

/*
 * Not ours: leave it for libfuse. Except the non-option arguments: mount.fuse3 (/etc/fstab,
 * mount -t fuse.rmtabfs) runs "rmtabfs SOURCE MOUNTPOINT -o ...", and libfuse takes exactly
 * one, so they are kept aside and only the last (the mount point) is handed on.
 */
static int keep_rest(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct raw_opts *raw = data;

	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (raw->nnonopt == 2) {
		fprintf(stderr, "rmtabfs: unexpected argument '%s' (usage: [SOURCE] MOUNTPOINT)\n",
			arg);
		return -1;
	}
	raw->nonopt[raw->nnonopt] = strdup(arg);
	return raw->nonopt[raw->nnonopt++] ? 0 : -1;
}

/* fsync (0) or batch:MS (1 .. RFS_JOURNAL_BATCH_MAX_MS milliseconds). */
static int parse_durability(const char *text, unsigned *batch_ms, char *err, size_t errlen)
{
	unsigned long ms;
	char *end;

	*batch_ms = 0;
	if (strcmp(text, "fsync") == 0)
		return 0;
	if (strncmp(text, "batch:", 6) == 0 && text[6] >= '0' && text[6] <= '9') {
		errno = 0;
		ms = strtoul(text + 6, &end, 10);
		if (!errno && !*end && ms >= 1 && ms <= RFS_JOURNAL_BATCH_MAX_MS) {
			*batch_ms = (unsigned)ms;
			return 0;
		}
	}
	snprintf(err, errlen,
		 "bad durability=%s: expected fsync or batch:MS (MS: milliseconds, 1 to %u)", text,
		 RFS_JOURNAL_BATCH_MAX_MS);
	return -EINVAL;
}

static int parse_seconds(const char *name, const char *text, double min, double max, double *v,
			 char *err, size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(d) || d < min || d > max) {
		snprintf(err, errlen, "bad %s=%s: expected seconds between %g and %g", name, text,
			 min, max);
		return -EINVAL;
	}
	*v = d;
	return 0;
}

static bool valid_view_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len <= NAME_MAX && !strchr(n, '/') && n[0] != '.' &&
	       strcmp(n, "rmtab") != 0 && strcmp(n, "rmtab.tmp") != 0;
}

char *rfs_ctl_default_path(const char *mountpoint)
{
	char esc[PATH_MAX], *out;
	const char *p = mountpoint;
	size_t n = 0;

	/* Like systemd-escape --path: "/var/lib/nfs" -> "var-lib-nfs". */
	while (*p == '/')
		p++;
	for (; *p && n < sizeof(esc) - 5; p++) {
		if (*p == '/') {
			if (n && esc[n - 1] != '-')
				esc[n++] = '-';
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '_' || *p == '.') {
			esc[n++] = *p;
		} else {
			n += (size_t)snprintf(esc + n, sizeof(esc) - n, "\\x%02x",
					      (unsigned char)*p);
		}
	}
	while (n && esc[n - 1] == '-')
		n--;
	if (!n)
		esc[n++] = '-';
	esc[n] = '\0';
	if (asprintf(&out, "%s/%s.sock", RFS_RUNDIR, esc) < 0)
		return NULL;
	return out;
}

int rfs_options_read_config(const char *path, struct fuse_args *args, char *err, size_t errlen)
{
	char line[4096];
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char opt[2 * sizeof(line)], *p = line, *end, *o;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p &&
		       (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		if (strchr(p, ' ')) {
			snprintf(err, errlen, "%s:%u: one option per line, no spaces", path,
				 lineno);
			fclose(f);
			return -EINVAL;
		}
		/*
		 * A line is one option even with commas in its value (store=gluster://a,b/vol):
		 * escape them, and backslashes, as fuse_opt reads them, or it splits the line.
		 */
		for (o = opt; *p; p++) {
			if (*p == ',' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o = '\0';
		if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt)) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

/* The value of config= on the command line, if any (it must be read before the rest). */
static const char *find_config(int argc, char **argv)
{
	const char *found = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *o = NULL;

		if (strcmp(a, "-o") == 0 && i + 1 < argc)
			o = argv[++i];
		else if (strncmp(a, "-o", 2) == 0)
			o = a + 2;
		while (o && *o) {
			const char *comma = strchr(o, ',');
			size_t n = comma ? (size_t)(comma - o) : strlen(o);

			if (n > 7 && strncmp(o, "config=", 7) == 0) {
				static char buf[PATH_MAX];

				snprintf(buf, sizeof(buf), "%.*s", (int)(n - 7), o + 7);
				found = buf;
			}
			o = comma ? comma + 1 : NULL;
		}
	}
	return found;
}

static char probe_msg[512];

static void capture_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(probe_msg);

	/*
	 * libfuse writes one message in several calls ("unknown option(s): `", each option,
	 * "'\n"): append them all, the caller keeps the first line.
	 */
	if (n < sizeof(probe_msg) - 1)
		vsnprintf(probe_msg + n, sizeof(probe_msg) - n, fmt, ap);
}

static void free_raw(struct raw_opts *r)
{
	free(r->store);
	free(r->statedir);
	free(r->node);
	free(r->gnfs);
	free(r->ctl);
	free(r->config);
	free(r->timeout);
	free(r->poll);
	free(r->tombstones);
	free(r->maxskew);
	free(r->sync);
	free(r->durability);
	free(r->entry_timeout);
	free(r->attr_timeout);
	free(r->nonopt[0]);
	free(r->nonopt[1]);
}

static int no_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/*
 * The config file's options, then the command line's, through our option table into raw;
 * the mount point is added back last. 0, -EINVAL or -ENOMEM, err says why.
 */
static int collect_args(int argc, char **argv, struct fuse_args *args, struct raw_opts *raw,
			char *err, size_t errlen)
{
	const char *config;
	int i;

	if (fuse_opt_add_arg(args, argc > 0 ? argv[0] : "rmtabfs"))
		return no_memory(err, errlen);
	config = find_config(argc, argv);
	if (config && rfs_options_read_config(config, args, err, errlen))
		return -EINVAL;
	for (i = 1; i < argc; i++)
		if (fuse_opt_add_arg(args, argv[i]))
			return no_memory(err, errlen);
	if (fuse_opt_parse(args, raw, rfs_opts, keep_rest) < 0) {
		snprintf(err, errlen, "cannot parse options");
		return -EINVAL;
	}
	/* the mount point is the last non-option; a first one is mount.fuse3's source */
	if (raw->nnonopt && fuse_opt_add_arg(args, raw->nonopt[raw->nnonopt - 1]))
		return no_memory(err, errlen);
	return 0;
}

/* store=, statedir=, node= (the host name by default) and gnfs=. */
static int set_names(struct rfs_options *o, const struct raw_opts *raw, char *err, size_t errlen)
{
	char host[256];

	o->store = strdup(raw->store ? raw->store : RFS_DEFAULT_STORE);
	o->statedir = strdup(raw->statedir ? raw->statedir : RFS_DEFAULT_STATEDIR);
	if (!o->store || !o->statedir)
		return no_memory(err, errlen);
	if (rfs_store_spec_parse(o->store, &o->spec, err, errlen))
		return -EINVAL;
	if (o->statedir[0] != '/') {
		snprintf(err, errlen, "bad statedir=%s: must be an absolute path", o->statedir);
		return -EINVAL;
	}
	if (raw->node) {
		o->node = strdup(raw->node);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		o->node = strdup(host);
	}
	if (!o->node)
		return no_memory(err, errlen);
	if (!rfs_node_id_valid(o->node)) {
		snprintf(err, errlen, "bad node=%s: use 1 to 64 of [A-Za-z0-9._-]", o->node);
		return -EINVAL;
	}
	if (raw->gnfs) {
		if (!valid_view_name(raw->gnfs)) {
			snprintf(err, errlen,
				 "bad gnfs=%s: a plain file name in the mount's top directory, not "
				 "starting with '.', other than rmtab",
				 raw->gnfs);
			return -EINVAL;
		}
		o->gnfs = strdup(raw->gnfs);
		if (!o->gnfs)
			return no_memory(err, errlen);
	}
	return 0;
}

/* The times and the sync= and durability= policies, with their defaults. */
static int set_policies(struct rfs_options *o, const struct raw_opts *raw, char *err, size_t errlen)
{
	o->timeout = 2.0;
	if (raw->timeout &&
	    parse_seconds("timeout", raw->timeout, 0.05, 3600, &o->timeout, err, errlen))
		return -EINVAL;
	o->poll = 0.2;
	if (raw->poll && parse_seconds("poll", raw->poll, 0.01, 60, &o->poll, err, errlen))
		return -EINVAL;
	o->watch = !raw->nowatch;
	o->tombstones = 600;
	if (raw->tombstones && parse_seconds("tombstones", raw->tombstones, 0, 365 * 86400.0,
					     &o->tombstones, err, errlen))
		return -EINVAL;
	o->maxskew = RFS_MAX_SKEW_DEFAULT;
	if (raw->maxskew &&
	    parse_seconds("maxskew", raw->maxskew, 1, 86400, &o->maxskew, err, errlen))
		return -EINVAL;
	o->entry_timeout = 1.0;
	if (raw->entry_timeout && parse_seconds("entry_timeout", raw->entry_timeout, 0, 86400,
						&o->entry_timeout, err, errlen))
		return -EINVAL;
	o->attr_timeout = 1.0;
	if (raw->attr_timeout && parse_seconds("attr_timeout", raw->attr_timeout, 0, 86400,
					       &o->attr_timeout, err, errlen))
		return -EINVAL;
	o->sync = RFS_SYNC_LOCAL;
	if (raw->sync) {
		if (strcmp(raw->sync, "local") == 0) {
			o->sync = RFS_SYNC_LOCAL;
		} else if (strcmp(raw->sync, "store") == 0) {
			o->sync = RFS_SYNC_STORE;
		} else {
			snprintf(err, errlen, "bad sync=%s: expected local or store", raw->sync);
			return -EINVAL;
		}
	}
	if (raw->durability && parse_durability(raw->durability, &o->batch_ms, err, errlen))
		return -EINVAL;
	return 0;
}

/* Let libfuse reject what it does not know now, not after we have set everything up. */
static int probe_fuse(const struct fuse_args *args, char *err, size_t errlen)
{
	struct fuse_lowlevel_ops none = {0};
	struct fuse_args probe = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	int j;

	for (j = 0; j < args->argc; j++)
		if (fuse_opt_add_arg(&probe, args->argv[j]))
			return no_memory(err, errlen);
	probe_msg[0] = '\0';
	fuse_set_log_func(capture_log);
	se = fuse_session_new(&probe, &none, sizeof(none), NULL);
	fuse_set_log_func(NULL);
	fuse_opt_free_args(&probe);
	if (!se) {
		char *nl = strchr(probe_msg, '\n');

		if (nl)
			*nl = '\0';
		snprintf(err, errlen, "%s", probe_msg[0] ? probe_msg : "bad FUSE option");
		return -EINVAL;
	}
	fuse_session_destroy(se);
	return 0;
}

int rfs_options_parse(int argc, char **argv, struct rfs_options *o, struct fuse_args *fuse_args,
		      char *err, size_t errlen)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_cmdline_opts cmd = {0};
	struct raw_opts raw = {0};
	int rc;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	rc = collect_args(argc, argv, &args, &raw, err, errlen);
	if (rc)
		goto out;
	rc = -EINVAL;
	if (fuse_parse_cmdline(&args, &cmd) != 0) {
		snprintf(err, errlen, "cannot parse the command line");
		goto out;
	}
	o->show_help = cmd.show_help;
	o->show_version = cmd.show_version;
	o->foreground = cmd.foreground;
	o->debug = cmd.debug;
	o->singlethread = cmd.singlethread;
	o->mountpoint = cmd.mountpoint;
	cmd.mountpoint = NULL;
	if (o->show_help || o->show_version) {
		rc = 0;
		goto out;
	}
	if (!o->mountpoint) {
		snprintf(err, errlen, "no mount point given (see --help)");
		goto out;
	}
	rc = set_names(o, &raw, err, errlen);
	if (!rc)
		rc = set_policies(o, &raw, err, errlen);
	if (rc)
		goto out;
	o->import_rmtab = !raw.noimport;
	o->ctl = raw.ctl ? strdup(raw.ctl) : rfs_ctl_default_path(o->mountpoint);
	if (!o->ctl) {
		rc = no_memory(err, errlen);
		goto out;
	}
	if (raw.config)
		o->config = strdup(raw.config);

	/* What the daemon always needs: other users (statd) and kernel permission checks. */
	if (fuse_opt_add_arg(&args, "-oallow_other,default_permissions,fsname=rmtabfs,"
				    "subtype=rmtabfs"))
		rc = no_memory(err, errlen);
	else
		rc = probe_fuse(&args, err, errlen);
	if (rc)
		goto out;
	*fuse_args = args;
	args.argv = NULL;
	args.argc = 0;
out:
	free(cmd.mountpoint);
	free_raw(&raw);
	fuse_opt_free_args(&args);
	if (rc)
		rfs_options_free(o);
	return rc;
}

void rfs_options_free(struct rfs_options *o)
{
	free(o->mountpoint);
	free(o->store);
	free(o->statedir);
	free(o->node);
	free(o->gnfs);
	free(o->ctl);
	free(o->config);
	memset(o, 0, sizeof(*o));
}

void rfs_options_usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTIONS] MOUNTPOINT\n"
	       "\n"
	       "Mounts over MOUNTPOINT (normally /var/lib/nfs): every file there passes through\n"
	       "to the directory underneath, except rmtab (and the gNFS view), rendered from\n"
	       "one record set shared by every NFS server of the cluster.\n"
	       "\n"
	       "rmtabfs options (-o):\n"
	       "    store=dir:PATH              store on a directory (default %s)\n"
	       "    store=gluster://SERVER[,SERVER...]/VOLUME[/DIR]\n"
	       "                                store on a Gluster volume through libgfapi\n"
	       "                                (after -o, write each ',' in it as '\\,')\n"
	       "    statedir=PATH               local journal and checkpoint (default %s)\n"
	       "    node=ID                     this server's id, unique in the cluster\n"
	       "                                (default: host name; [A-Za-z0-9._-]{1,64})\n"
	       "    gnfs=NAME                   also show the records as NAME in gNFS's format\n"
	       "    timeout=SECONDS             longest a store call may hold a request (2)\n"
	       "    sync=local|store            acknowledge a change once in the local journal\n"
	       "                                (local, default) or once on the store too\n"
	       "    durability=fsync|batch:MS   a change is on this node's disk when it is\n"
	       "                                acknowledged (fsync, default) or within MS\n"
	       "                                milliseconds (batch; kill -9 loses nothing)\n"
	       "    poll=SECONDS                how often other nodes' logs are checked (0.2)\n"
	       "    watch=on|off                wake up at once on the store's hint that another\n"
	       "                                node wrote (inotify, Gluster upcalls; on)\n"
	       "    tombstones=SECONDS          keep removals at least this long in store\n"
	       "                                snapshots (600; never before every node's log\n"
	       "                                has passed them)\n"
	       "    maxskew=SECONDS             another node's change stamped further than this\n"
	       "                                past this node's clock does not move its\n"
	       "                                clock (300); its node is logged and shown\n"
	       "    ctl=PATH                    control socket (default %s/<mountpoint>.sock)\n"
	       "    config=FILE                 read options from FILE, one per line\n"
	       "    entry_timeout=SECONDS       kernel cache of names and attributes of\n"
	       "    attr_timeout=SECONDS        passed-through files (1; the views use 0)\n"
	       "    noimport                    do not import the underlying rmtab at first start\n"
	       "\n"
	       "general options:\n"
	       "    -f                          stay in the foreground, log to stderr\n"
	       "    -d                          debug: foreground and FUSE request tracing\n"
	       "    -s                          single-threaded\n"
	       "    -h, --help                  this text\n"
	       "    -V, --version               version\n"
	       "\n",
	       prog, RFS_DEFAULT_STORE, RFS_DEFAULT_STATEDIR, RFS_RUNDIR);
	printf("FUSE options:\n");
	fuse_lowlevel_help();
}
