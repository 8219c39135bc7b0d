/*
 * rmtabctl: the administrator's tool for a running rmtabfs daemon.
 *
 * It talks only to the daemon's control socket (include/rmtabfs/ctl.h): one connection per
 * command, request written, write side shut, reply read to EOF. It never touches the store
 * or the state directory itself, so every change takes the daemon's one commit path
 * (journal, table, store) and no change can race the daemon behind its back.
 *
 * Invariants: every error is exactly one line on stderr starting with "rmtabctl: "; the
 * exit status is 0 for success, 1 for a failure (daemon unreachable, daemon refused, bad
 * input file, output error) and 2 for a usage error (nothing was sent). Anything that can be
 * checked here (record keys, counts, durations, import files) is checked before connecting,
 * so a bad argument never reaches the daemon. Internal helpers return 0 or -errno; the
 * command functions return the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/buf.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/options.h>
#include <rmtabfs/record.h>
#include <rmtabfs/rmtab_fmt.h>

#define PROG		   "rmtabctl"
#define DEFAULT_MOUNTPOINT "/var/lib/nfs"
#define DEFAULT_TIMEOUT	   60.0

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct ctx {
	const char *socket;	/* resolved control socket path */
	const char *mountpoint; /* for the hint in messages; NULL with -s */
	double timeout;		/* seconds to wait for the daemon; 0: forever */
};

/* One record of "list": pointers into the reply buffer. */
struct row {
	const char *client, *path, *origin, *writer;
	unsigned long count;
	unsigned long long born, changed;
};

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_verror(bool hint, const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(hint ? " (see '" PROG " --help')\n" : "\n", stderr);
	return EXIT_USAGE;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wrong command line shape: the pointer to --help tells where the remedy is. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usage_verror(true, fmt, ap);
	va_end(ap);
	return rc;
}

/* A value that cannot be right (a count, a key, a duration): the message says why. Also a
 * usage error: nothing has been sent to the daemon. */
static int bad_value(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usage_verror(false, fmt, ap);
	va_end(ap);
	return rc;
}

static void usage(void)
{
	printf("usage: " PROG " [-m MOUNTPOINT | -s SOCKET] [-t SECONDS] COMMAND [ARGS]\n"
	       "\n"
	       "Administers the rmtabfs daemon mounted on MOUNTPOINT (default " DEFAULT_MOUNTPOINT
	       ")\nthrough its control socket. Must run as root.\n"
	       "\n"
	       "commands:\n"
	       "  status                        the daemon, its store, backlog and other nodes\n"
	       "  list [--client C] [--path P] [--json]\n"
	       "                                the records: client, path, count, origin node,\n"
	       "                                first seen and last change (local time)\n"
	       "  add CLIENT PATH [COUNT]       add a record (no COUNT: count at least 1;\n"
	       "                                COUNT: set exactly that count)\n"
	       "  remove CLIENT [PATH]          remove the record, or every record of CLIENT\n"
	       "  prune --older-than DURATION [--dry-run]\n"
	       "                                remove records unchanged for DURATION\n"
	       "                                (45s, 90m, 12h, 30d or plain seconds)\n"
	       "  import FILE [--format kernel|gnfs]\n"
	       "                                add the records of an rmtab file (kernel, the\n"
	       "                                default) or of a gNFS rmtab file; '-': stdin\n"
	       "  export [--format kernel|gnfs] print the records in that format\n"
	       "  compact                       write a store snapshot now (the log segments it\n"
	       "                                covers are then removed by their nodes)\n"
	       "  restart                       re-execute the daemon's binary on disk (upgrade)\n"
	       "                                keeping the mount; the old one serves on if the\n"
	       "                                new one cannot take over (exit status 1)\n"
	       "\n"
	       "options:\n"
	       "  -m, --mountpoint DIR   the daemon mounted on DIR; its socket is\n"
	       "                         " RFS_RUNDIR
	       "/<DIR escaped like systemd-escape --path>.sock\n"
	       "  -s, --socket PATH      the control socket itself (the daemon's -o ctl=PATH)\n"
	       "  -t, --timeout SECONDS  how long to wait for an answer (default %g, 0: no limit)\n"
	       "  -h, --help             this text\n"
	       "  -V, --version          the version\n"
	       "\n"
	       "exit status: 0 success, 1 failure, 2 usage error\n",
	       DEFAULT_TIMEOUT);
}

/* ---- talking to the daemon ---- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void unreachable(const struct ctx *c, int err)
{
	const char *hint = "";
	char buf[PATH_MAX + 64];

	if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
		if (c->mountpoint) {
			snprintf(buf, sizeof(buf), " (is rmtabfs mounted on %s?)", c->mountpoint);
			hint = buf;
		} else {
			hint = " (is the rmtabfs daemon running?)";
		}
	} else if (err == EACCES || err == EPERM) {
		hint = " (" PROG " must run as root)";
	}
	errmsg("cannot reach the rmtabfs daemon at %s: %s%s", c->socket, strerror(err), hint);
}

static int connect_daemon(const struct ctx *c, int *fdp)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv;
	int fd;

	if (strlen(c->socket) >= sizeof(addr.sun_path)) {
		unreachable(c, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, c->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errmsg("cannot create a socket: %s", strerror(errno));
		return -errno;
	}
	/* A daemon that stopped answering (a hung store call under sync=store, a stopped
	 * process) must not hang an administrator's shell or a monitoring script forever. */
	if (c->timeout > 0) {
		tv.tv_sec = (time_t)c->timeout;
		tv.tv_usec = (suseconds_t)((c->timeout - (double)tv.tv_sec) * 1e6);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		close(fd);
		unreachable(c, err);
		return -err;
	}
	*fdp = fd;
	return 0;
}

/*
 * Sends one request (args one per line, an empty line, then for import the body and another
 * empty line) and reads the reply. On "ok" the body is left in out and 0 returned; every
 * failure has been reported on stderr when this returns -errno (-EREMOTEIO: the daemon
 * answered with an error).
 */
static int call(const struct ctx *c, const char *const *args, int nargs, const struct rfs_buf *body,
		struct rfs_buf *out)
{
	struct rfs_buf req = RFS_BUF_INIT, reply = RFS_BUF_INIT;
	char chunk[65536], *nl;
	int fd = -1, rc, i, wrc;

	for (i = 0, rc = 0; i < nargs && !rc; i++)
		rc = rfs_buf_printf(&req, "%s\n", args[i]);
	if (!rc)
		rc = rfs_buf_append(&req, "\n", 1);
	if (!rc && body) {
		/* An empty body still needs its terminating empty line after the separator. */
		rc = rfs_buf_append(&req, body->data ? body->data : "", body->len);
		if (!rc)
			rc = rfs_buf_append(&req, "\n", 1);
	}
	if (rc) {
		errmsg("out of memory");
		goto out;
	}
	rc = connect_daemon(c, &fd);
	if (rc)
		goto out;
	/* A write error is not the end: the daemon may have refused us (not root) and closed
	 * its side, and its one-line reason is still waiting to be read. */
	wrc = write_all(fd, req.data, req.len);
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			if (rc == -EAGAIN || rc == -EWOULDBLOCK)
				errmsg("no answer from the rmtabfs daemon at %s within %g s",
				       c->socket, c->timeout);
			else
				errmsg("cannot read the answer of the rmtabfs daemon at %s: %s",
				       c->socket, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		if (rfs_buf_append(&reply, chunk, (size_t)n)) {
			errmsg("out of memory");
			rc = -ENOMEM;
			goto out;
		}
	}
	nl = reply.len ? memchr(reply.data, '\n', reply.len) : NULL;
	if (!nl) {
		if (wrc)
			errmsg("cannot send to the rmtabfs daemon at %s: %s", c->socket,
			       strerror(-wrc));
		else
			errmsg("the rmtabfs daemon at %s closed the connection without an answer",
			       c->socket);
		rc = -EPROTO;
		goto out;
	}
	*nl = '\0';
	if (strcmp(reply.data, "ok") == 0) {
		size_t off = (size_t)(nl + 1 - reply.data);

		rc = rfs_buf_append(out, reply.data + off, reply.len - off);
		if (rc)
			errmsg("out of memory");
	} else if (strncmp(reply.data, "error: ", 7) == 0) {
		errmsg("%s: %s", args[0], reply.data + 7);
		rc = -EREMOTEIO;
	} else {
		errmsg("unexpected answer from the rmtabfs daemon at %s: '%.80s'", c->socket,
		       reply.data);
		rc = -EPROTO;
	}
out:
	if (fd >= 0)
		close(fd);
	rfs_buf_free(&req);
	rfs_buf_free(&reply);
	return rc;
}

/* Ends the program's output: a full disk or a closed pipe is a failure, not a success. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errmsg("cannot write the output: %s", strerror(errno ? errno : EIO));
		return EXIT_FAIL;
	}
	return status;
}

/* ---- parsing helpers ---- */

/* The daemon's grammar: "30s", "15m", "12h", "7d" or plain seconds. */
static int parse_duration(const char *s, unsigned long long *secs)
{
	unsigned long long v, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	if (v > ULLONG_MAX / mul)
		return -EINVAL;
	*secs = v * mul;
	return 0;
}

static int parse_timeout(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v) || *v < 0 || *v > 86400)
		return -EINVAL;
	return 0;
}

static int parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/*
 * Splits a "list" body into rows, in place (data[len] must be writable). A line is
 * "client\tpath\tcount\tborn_ns\torigin\tchanged_ns\twriter"; a tab is legal in a path (and the
 * daemon does not escape it), so the five fields after the path are counted from the end and
 * the client is taken as the first field (a host name or address never holds a tab).
 */
static int parse_list(char *data, size_t len, struct row **rowsp, size_t *np)
{
	struct row *rows = NULL;
	size_t n = 0, cap = 0, pos = 0;

	while (pos < len) {
		char *line = data + pos, *nl = memchr(line, '\n', len - pos), *f[7], *p;
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		unsigned long long count;
		int k;

		line[llen] = '\0';
		pos += llen + 1;
		if (!llen)
			continue;
		/* the last five fields, from the end */
		p = line + llen;
		for (k = 6; k >= 2; k--) {
			while (p > line && p[-1] != '\t')
				p--;
			if (p == line)
				goto bad;
			f[k] = p;
			*--p = '\0';
		}
		f[0] = line;
		p = strchr(line, '\t');
		if (!p)
			goto bad;
		*p = '\0';
		f[1] = p + 1;
		if (n == cap) {
			struct row *r = realloc(rows, (cap ? cap * 2 : 64) * sizeof(*rows));

			if (!r) {
				free(rows);
				return -ENOMEM;
			}
			rows = r;
			cap = cap ? cap * 2 : 64;
		}
		rows[n].client = f[0];
		rows[n].path = f[1];
		rows[n].origin = f[4];
		rows[n].writer = f[6];
		if (parse_ull(f[2], &count) || count > RFS_COUNT_MAX ||
		    parse_ull(f[3], &rows[n].born) || parse_ull(f[5], &rows[n].changed))
			goto bad;
		rows[n].count = (unsigned long)count;
		n++;
	}
	*rowsp = rows;
	*np = n;
	return 0;
bad:
	free(rows);
	return -EPROTO;
}

/* "2024-11-25 11:47:03" in local time, or "2024-11-25T11:47:03+01:00" (RFC 3339). */
static void format_time(unsigned long long ns, bool iso, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	size_t n;

	if (!localtime_r(&t, &tm) ||
	    !(n = strftime(out, len, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S", &tm))) {
		snprintf(out, len, "%llu", ns);
		return;
	}
	/* %z gives "+0100"; RFC 3339 (and every JSON consumer's parser) wants "+01:00" */
	if (iso && n >= 5 && n + 2 <= len) {
		memmove(out + n - 1, out + n - 2, 3);
		out[n - 2] = ':';
	}
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong form, no surrogate, at
 * most U+10FFFF), or 0. */
static int utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * A JSON string. Keys are raw bytes: valid UTF-8 goes through, control characters are
 * escaped, and a byte that is not part of valid UTF-8 becomes \u00XX so that the output is
 * always valid JSON (lossy for such bytes only; the table shows them as they are).
 */
static void json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	while (*p) {
		int n = *p >= 0x80 ? utf8_len(p) : 1;

		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			printf("\\u%04x", *p);
		else
			fwrite(p, 1, (size_t)n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}

static size_t max_len(size_t a, const char *s)
{
	size_t n = strlen(s);

	return n > a ? n : a;
}

/* ---- commands ---- */

/* Options of the commands; each accepts the ones in its mask. */
enum {
	OPT_CLIENT = 1 << 0,
	OPT_PATH = 1 << 1,
	OPT_JSON = 1 << 2,
	OPT_OLDER = 1 << 3,
	OPT_DRY = 1 << 4,
	OPT_FORMAT = 1 << 5,
};

static const struct option sub_opts[] = {
	{"client", required_argument, NULL, OPT_CLIENT},
	{"path", required_argument, NULL, OPT_PATH},
	{"json", no_argument, NULL, OPT_JSON},
	{"older-than", required_argument, NULL, OPT_OLDER},
	{"dry-run", no_argument, NULL, OPT_DRY},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct sub_args {
	const char *client, *path, *older, *format;
	bool json, dry;
	int nargs;
	char **args; /* positional arguments after the command */
};

/*
 * Parses a command's options (anywhere among its arguments, GNU style; "--" ends them, for
 * a client that starts with '-'). Returns -1 to go on, or the exit status (help, usage).
 */
static int parse_sub(const char *cmd, int argc, char **argv, int allowed, struct sub_args *a)
{
	int ch, idx = -1;

	memset(a, 0, sizeof(*a));
	optind = 0; /* 0, not 1: glibc then resets its permutation state too */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", sub_opts, &idx)) != -1) {
		if (ch == 'h') {
			usage();
			return finish_stdout(EXIT_OK);
		}
		if (ch == '?') {
			/* optopt: the option's value when its argument is missing, else the
			 * unknown short option character, or 0 for an unknown long one */
			bool ours = optopt > 0 && optopt <= OPT_FORMAT && !(optopt & (optopt - 1));

			if (ours && (optopt & allowed))
				return usage_error("%s: option '%s' needs a value", cmd,
						   argv[optind - 1]);
			if (ours)
				return usage_error("%s: option '%s' does not apply", cmd,
						   argv[optind - 1]);
			return usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
		}
		if (!(ch & allowed))
			return usage_error("%s: option '--%s' does not apply", cmd,
					   sub_opts[idx].name);
		switch (ch) {
		case OPT_CLIENT:
			a->client = optarg;
			break;
		case OPT_PATH:
			a->path = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_OLDER:
			a->older = optarg;
			break;
		case OPT_DRY:
			a->dry = true;
			break;
		case OPT_FORMAT:
			a->format = optarg;
			break;
		}
	}
	a->args = argv + optind;
	a->nargs = argc - optind;
	return -1;
}

static int parse_format(const char *cmd, const char *f, bool *gnfs)
{
	if (!f || strcmp(f, "kernel") == 0) {
		*gnfs = false;
		return 0;
	}
	if (strcmp(f, "gnfs") == 0) {
		*gnfs = true;
		return 0;
	}
	bad_value("%s: unknown format '%s' (kernel or gnfs)", cmd, f);
	return -EINVAL;
}

/* A key given on the command line: checked here, so bad input is a usage error and a
 * newline can never split the request into other commands. */
static int check_key_args(const char *cmd, const char *client, const char *path)
{
	struct rfs_parse_error err = {0};

	if (rfs_key_check(client, strlen(client), path ? path : "/", path ? strlen(path) : 1,
			  &err)) {
		bad_value("%s: bad record: %s", cmd, err.reason);
		return -EINVAL;
	}
	return 0;
}

/* The daemon's "key: value" lines, in their order; "used" marks what has been shown. */
struct kv_line {
	char *key, *val;
	bool used;
};

struct kv {
	struct kv_line *v;
	size_t n;
};

/* The first value of key not shown yet (a key may repeat: "peer"). */
static const char *kv_get(struct kv *kv, const char *key)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (!kv->v[i].used && strcmp(kv->v[i].key, key) == 0) {
			kv->v[i].used = true;
			return kv->v[i].val;
		}
	return NULL;
}

/* Splits text in place; lines without ": " are not status lines and are skipped. */
static int kv_parse(char *text, struct kv *kv)
{
	size_t cap = 0;
	char *p, *end;

	for (p = text; *p; p = end) {
		char *sep;

		end = strchr(p, '\n');
		end = end ? (*end = '\0', end + 1) : p + strlen(p);
		sep = strstr(p, ": ");
		if (!sep)
			continue;
		*sep = '\0';
		if (kv->n == cap) {
			struct kv_line *v = realloc(kv->v, (cap + 32) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			kv->v = v;
			cap += 32;
		}
		kv->v[kv->n++] = (struct kv_line){.key = p, .val = sep + 2};
	}
	return 0;
}

#define STATUS_FMT "%-13s "

/* "peer: NAME seq=N offset=N behind=N [damaged]": one row of the nodes table. */
static void status_peer(char *val, int wnode)
{
	char *name, *seq = NULL, *behind = NULL, *tok, *save = NULL;
	bool damaged = false;

	name = strtok_r(val, " ", &save);
	while ((tok = strtok_r(NULL, " ", &save))) {
		if (strncmp(tok, "seq=", 4) == 0)
			seq = tok + 4;
		else if (strncmp(tok, "behind=", 7) == 0)
			behind = tok + 7;
		else if (strcmp(tok, "damaged") == 0)
			damaged = true;
	}
	printf("  %-*s  %-10s  ", wnode, name ? name : "?", seq ? seq : "?");
	if (!behind)
		printf("unknown");
	else if (strcmp(behind, "0") == 0)
		printf("up to date");
	else
		printf("%s byte(s) of its log not read yet", behind);
	printf("%s\n", damaged ? "; log damaged, reading stopped (see the daemon's log)" : "");
}

/* Clock skew the daemon saw (see rfs_ctl's status_clock), in words. */
static void status_clock(struct kv *kv)
{
	const char *v;

	while ((v = kv_get(kv, "clock-skew"))) {
		char name[80] = "?";
		double ahead = 0, ago = 0;

		sscanf(v, "%79s ahead=%lf ago=%lf", name, &ahead, &ago);
		printf(STATUS_FMT "node %s stamps its changes %.0f s ahead of this node's clock "
				  "(seen %.0f s ago): applied, but this node's clock does not "
				  "follow them past maxskew=\n",
		       "clock skew:", name, ahead, ago);
	}
	if ((v = kv_get(kv, "clock-hlc-ahead")))
		printf(STATUS_FMT "this node's own stamps run %s s ahead of its clock: it changed "
				  "records stamped ahead by a skewed node\n",
		       "clock skew:", v);
	if ((v = kv_get(kv, "clock-note")))
		printf(STATUS_FMT "%s\n", "clock skew:", v);
}

static int cmd_status(const struct ctx *c, int argc, char **argv)
{
	static const char *const req[] = {"status"};
	static const char *const counters[] = {"commits", "ops-local", "ops-remote",
					       "refused-writes", "shipped-ops"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct sub_args a;
	struct kv kv = {0};
	const char *v, *node, *state, *since, *backlog, *records, *tomb, *last, *shipped;
	size_t i;
	int rc, wnode;
	bool any;

	rc = parse_sub("status", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return usage_error("status: takes no arguments");
	if (call(c, req, 1, NULL, &out))
		return EXIT_FAIL;
	if (rfs_buf_append(&out, "", 1) || kv_parse(out.data, &kv)) {
		errmsg("out of memory");
		free(kv.v);
		rfs_buf_free(&out);
		return EXIT_FAIL;
	}
	node = kv_get(&kv, "node");
	printf(STATUS_FMT "%s\n", "node:", node ? node : "?");
	if ((v = kv_get(&kv, "mountpoint")))
		printf(STATUS_FMT "%s\n", "mount point:", v);
	state = kv_get(&kv, "state");
	since = kv_get(&kv, "state-since");
	if ((v = kv_get(&kv, "store")))
		printf(STATUS_FMT "%s: %s%s%s%s\n", "store:", v, state ? state : "state unknown",
		       since ? " (changed " : "", since ? since : "", since ? ")" : "");
	else
		printf(STATUS_FMT "%s\n", "store:", "none (this daemon does not replicate)");
	if ((v = kv_get(&kv, "stuck-call")))
		printf(STATUS_FMT "a store call has been hanging for %s\n", "warning:", v);
	if ((v = kv_get(&kv, "refused")))
		printf(STATUS_FMT "%s\n", "refused:", v);
	backlog = kv_get(&kv, "backlog");
	last = kv_get(&kv, "last-seq");
	shipped = kv_get(&kv, "shipped-seq");
	if (backlog)
		printf(STATUS_FMT "%s op(s) of this node not on the store yet\n",
		       "backlog:", backlog);
	if ((v = kv_get(&kv, "last-error")))
		printf(STATUS_FMT "%s\n", "last error:", *v ? v : "none");
	records = kv_get(&kv, "records");
	tomb = kv_get(&kv, "tombstones");
	if (records)
		printf(STATUS_FMT "%s (plus %s tombstone(s) of removed records)\n",
		       "records:", records, tomb ? tomb : "0");
	if ((v = kv_get(&kv, "journal-ops")))
		printf(STATUS_FMT "%s op(s) in the local journal\n", "journal:", v);
	if ((v = kv_get(&kv, "gnfs-view")))
		printf(STATUS_FMT "%s\n", "gNFS view:", v);
	if ((v = kv_get(&kv, "statedir")))
		printf(STATUS_FMT "%s\n", "state dir:", v);
	if ((v = kv_get(&kv, "version")))
		printf(STATUS_FMT "%s\n", "version:", v);

	/* Every node seen: this one (what it has shipped), then the others (what we read). */
	wnode = node ? (int)strlen(node) : 4;
	for (i = 0; i < kv.n; i++)
		if (!kv.v[i].used && strcmp(kv.v[i].key, "peer") == 0 &&
		    (int)strcspn(kv.v[i].val, " ") > wnode)
			wnode = (int)strcspn(kv.v[i].val, " ");
	wnode = wnode < 4 ? 4 : wnode;
	printf("nodes:\n  %-*s  %-10s  %s\n", wnode, "NODE", "LAST SEQ", "BEHIND");
	printf("  %-*s  %-10s  ", wnode, node ? node : "?", last ? last : "?");
	if (!backlog)
		printf("(this node)\n");
	else if (strcmp(backlog, "0") == 0)
		printf("(this node) all shipped\n");
	else
		printf("(this node) %s op(s) to ship, store has up to %s\n", backlog,
		       shipped ? shipped : "?");
	for (i = 0; i < kv.n; i++)
		if (!kv.v[i].used && strcmp(kv.v[i].key, "peer") == 0) {
			kv.v[i].used = true;
			status_peer(kv.v[i].val, wnode);
		}

	status_clock(&kv);

	/* The counters on one line, then anything a newer daemon reports, as it came. */
	any = false;
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if ((v = kv_get(&kv, counters[i]))) {
			if (any)
				printf(", ");
			else
				printf(STATUS_FMT, "counters:");
			printf("%s %s", counters[i], v);
			any = true;
		}
	if (any)
		putchar('\n');
	for (i = 0; i < kv.n; i++)
		if (!kv.v[i].used)
			printf("%s: %s\n", kv.v[i].key, kv.v[i].val);
	free(kv.v);
	rfs_buf_free(&out);
	return finish_stdout(EXIT_OK);
}

static int cmd_list(const struct ctx *c, int argc, char **argv)
{
	const char *req[3] = {"list"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct row *rows = NULL;
	struct sub_args a;
	size_t n = 0, i, wc = 6, wp = 4, wo = 6, wn = 5;
	int rc, nreq = 1;

	rc = parse_sub("list", argc, argv, OPT_CLIENT | OPT_PATH | OPT_JSON, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return usage_error("list: unexpected argument '%s' (filters: --client, --path)",
				   a.args[0]);
	if ((a.client && strchr(a.client, '\n')) || (a.path && strchr(a.path, '\n')))
		return bad_value("list: a client or path never holds a newline");
	/* The protocol cannot carry an empty argument (an empty line ends the request), so a
	 * path without a client is filtered here rather than by the daemon. */
	if (a.client) {
		req[nreq++] = a.client;
		if (a.path)
			req[nreq++] = a.path;
	}
	if (call(c, req, nreq, NULL, &out))
		return EXIT_FAIL;
	rc = rfs_buf_append(&out, "", 1) ? -ENOMEM : parse_list(out.data, out.len - 1, &rows, &n);
	if (rc) {
		errmsg(rc == -ENOMEM ? "out of memory" : "list: malformed answer from the daemon");
		rfs_buf_free(&out);
		return EXIT_FAIL;
	}
	if (a.json) {
		bool first = true;

		putchar('[');
		for (i = 0; i < n; i++) {
			char born[40], changed[40];

			if (a.path && strcmp(a.path, rows[i].path) != 0)
				continue;
			format_time(rows[i].born, true, born, sizeof(born));
			format_time(rows[i].changed, true, changed, sizeof(changed));
			printf("%s\n  {\"client\": ", first ? "" : ",");
			json_string(rows[i].client);
			printf(", \"path\": ");
			json_string(rows[i].path);
			printf(", \"count\": %lu, \"origin\": ", rows[i].count);
			json_string(rows[i].origin);
			printf(", \"first_seen\": \"%s\", \"first_seen_ns\": %llu, "
			       "\"changed\": \"%s\", \"changed_ns\": %llu, \"writer\": ",
			       born, rows[i].born, changed, rows[i].changed);
			json_string(rows[i].writer);
			putchar('}');
			first = false;
		}
		printf("%s]\n", first ? "" : "\n");
	} else {
		for (i = 0; i < n; i++) {
			char num[16];

			if (a.path && strcmp(a.path, rows[i].path) != 0)
				continue;
			wc = max_len(wc, rows[i].client);
			wp = max_len(wp, rows[i].path);
			wo = max_len(wo, rows[i].origin);
			snprintf(num, sizeof(num), "%lu", rows[i].count);
			wn = max_len(wn, num);
		}
		/* A stamp this far past our clock came from a node whose clock runs ahead. */
		unsigned long long ahead = (unsigned long long)time(NULL) + 300;

		ahead *= 1000000000ull;
		printf("%-*s  %-*s  %*s  %-*s  %-19s  %s\n", (int)wc, "CLIENT", (int)wp, "PATH",
		       (int)wn, "COUNT", (int)wo, "ORIGIN", "FIRST SEEN", "LAST CHANGE");
		for (i = 0; i < n; i++) {
			char born[40], changed[40];

			if (a.path && strcmp(a.path, rows[i].path) != 0)
				continue;
			format_time(rows[i].born, false, born, sizeof(born));
			format_time(rows[i].changed, false, changed, sizeof(changed));
			printf("%-*s  %-*s  %*lu  %-*s  %-19s  %s%s\n", (int)wc, rows[i].client,
			       (int)wp, rows[i].path, (int)wn, rows[i].count, (int)wo,
			       rows[i].origin, born, changed,
			       rows[i].born > ahead || rows[i].changed > ahead
				       ? "  (stamped ahead of this clock: see rmtabctl status)"
				       : "");
		}
	}
	free(rows);
	rfs_buf_free(&out);
	return finish_stdout(EXIT_OK);
}

/* Passes the daemon's one-line summary ("removed 2", "imported 5") to stdout. */
static int print_body(const struct rfs_buf *out)
{
	if (out->len)
		fwrite(out->data, 1, out->len, stdout);
	return finish_stdout(EXIT_OK);
}

static int cmd_add(const struct ctx *c, int argc, char **argv)
{
	const char *req[4] = {"add"};
	struct rfs_buf out = RFS_BUF_INIT;
	unsigned long long count;
	struct sub_args a;
	int rc;

	rc = parse_sub("add", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs < 2 || a.nargs > 3)
		return usage_error("add: expected CLIENT PATH [COUNT]");
	if (check_key_args("add", a.args[0], a.args[1]))
		return EXIT_USAGE;
	if (a.nargs == 3 && (parse_ull(a.args[2], &count) || count == 0 || count > RFS_COUNT_MAX))
		return bad_value("add: bad count '%s' (1 to %u)", a.args[2], RFS_COUNT_MAX);
	req[1] = a.args[0];
	req[2] = a.args[1];
	req[3] = a.nargs == 3 ? a.args[2] : NULL;
	rc = call(c, req, a.nargs + 1, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

static int cmd_remove(const struct ctx *c, int argc, char **argv)
{
	const char *req[3] = {"remove"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct sub_args a;
	int rc;

	rc = parse_sub("remove", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs < 1 || a.nargs > 2)
		return usage_error("remove: expected CLIENT [PATH]");
	if (check_key_args("remove", a.args[0], a.nargs == 2 ? a.args[1] : NULL))
		return EXIT_USAGE;
	req[1] = a.args[0];
	req[2] = a.nargs == 2 ? a.args[1] : NULL;
	rc = call(c, req, a.nargs + 1, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

static int cmd_prune(const struct ctx *c, int argc, char **argv)
{
	const char *req[2] = {"prune"};
	struct rfs_buf out = RFS_BUF_INIT;
	unsigned long long secs;
	struct sub_args a;
	int rc;

	rc = parse_sub("prune", argc, argv, OPT_OLDER | OPT_DRY, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return usage_error("prune: unexpected argument '%s'", a.args[0]);
	if (!a.older)
		return usage_error("prune: --older-than DURATION is required");
	if (parse_duration(a.older, &secs))
		return bad_value("prune: bad duration '%s' (e.g. 30d, 12h, 90m, 45s)", a.older);
	if (a.dry) {
		/* What the daemon would remove: records whose last change is before now-secs. */
		struct timespec now;
		struct row *rows = NULL;
		unsigned long long cutoff;
		size_t n = 0, i, hits = 0;

		clock_gettime(CLOCK_REALTIME, &now);
		if ((unsigned long long)now.tv_sec <= secs)
			return bad_value("prune: duration '%s' reaches before 1970", a.older);
		cutoff = ((unsigned long long)now.tv_sec - secs) * 1000000000ull;
		req[0] = "list";
		if (call(c, req, 1, NULL, &out))
			return EXIT_FAIL;
		rc = rfs_buf_append(&out, "", 1) ? -ENOMEM
						 : parse_list(out.data, out.len - 1, &rows, &n);
		if (rc) {
			errmsg(rc == -ENOMEM ? "out of memory"
					     : "prune: malformed answer from the daemon");
			rfs_buf_free(&out);
			return EXIT_FAIL;
		}
		for (i = 0; i < n; i++) {
			char changed[40];

			if (rows[i].changed >= cutoff)
				continue;
			format_time(rows[i].changed, false, changed, sizeof(changed));
			printf("would remove %s:%s (last change %s)\n", rows[i].client,
			       rows[i].path, changed);
			hits++;
		}
		printf("would remove %zu\n", hits);
		free(rows);
		rfs_buf_free(&out);
		return finish_stdout(EXIT_OK);
	}
	req[1] = a.older;
	rc = call(c, req, 2, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

static int read_file(const char *name, struct rfs_buf *b)
{
	char chunk[65536];
	int fd = strcmp(name, "-") == 0 ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		/* The daemon takes no more in one session either; refuse before it would. */
		if (b->len + (size_t)n > RFS_VIEW_MAX_BYTES) {
			rc = -EFBIG;
			break;
		}
		rc = rfs_buf_append(b, chunk, (size_t)n);
		if (rc)
			break;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

static int cmd_import(const struct ctx *c, int argc, char **argv)
{
	static const char *const req[] = {"import"};
	struct rfs_buf in = RFS_BUF_INIT, body = RFS_BUF_INIT, out = RFS_BUF_INIT;
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	const char *name;
	struct sub_args a;
	bool gnfs;
	size_t i;
	int rc;

	rc = parse_sub("import", argc, argv, OPT_FORMAT, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 1)
		return usage_error("import: expected one FILE ('-' for stdin)");
	if (parse_format("import", a.format, &gnfs))
		return EXIT_USAGE;
	name = strcmp(a.args[0], "-") == 0 ? "stdin" : a.args[0];
	rc = read_file(a.args[0], &in);
	if (rc) {
		if (rc == -EFBIG)
			errmsg("cannot import %s: larger than %u bytes", name, RFS_VIEW_MAX_BYTES);
		else
			errmsg("cannot read %s: %s", name, strerror(-rc));
		rc = EXIT_FAIL;
		goto out;
	}
	/* Parsed here, with the daemon's own parsers, so that a bad file is refused with its
	 * line number before anything is sent: an import is all or nothing. */
	rc = gnfs ? gn_parse(in.data ? in.data : "", in.len, &e, &err)
		  : rt_parse(in.data ? in.data : "", in.len, 1, &e, &err);
	if (rc) {
		bool looks_gnfs = !gnfs && ((in.len >= 9 && !memcmp(in.data, "hostname-", 9)) ||
					    (in.len >= 11 && !memcmp(in.data, "mountpoint-", 11)));

		errmsg("%s:%u: %s (nothing imported%s)", name, err.line, err.reason,
		       looks_gnfs ? "; a gNFS file? use --format gnfs" : "");
		rc = EXIT_FAIL;
		goto out;
	}
	for (i = 0, rc = 0; i < e.n && !rc; i++) {
		/* The import body is tab-separated; a tab in a key cannot be carried. */
		if (memchr(e.v[i].client, '\t', e.v[i].client_len) ||
		    memchr(e.v[i].path, '\t', e.v[i].path_len)) {
			errmsg("%s:%u: a client or path holding a tab cannot be imported through "
			       "the control socket (nothing imported)",
			       name, e.v[i].line);
			rc = EXIT_FAIL;
			goto out;
		}
		rc = rfs_buf_printf(&body, "%s\t%s\t%u\n", e.v[i].client, e.v[i].path,
				    e.v[i].count);
	}
	if (rc) {
		errmsg("out of memory");
		rc = EXIT_FAIL;
		goto out;
	}
	rc = call(c, req, 1, &body, &out) ? EXIT_FAIL : print_body(&out);
out:
	rfs_entries_free(&e);
	rfs_buf_free(&in);
	rfs_buf_free(&body);
	rfs_buf_free(&out);
	return rc;
}

static int cmd_export(const struct ctx *c, int argc, char **argv)
{
	const char *req[2] = {"export"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct sub_args a;
	bool gnfs;
	int rc;

	rc = parse_sub("export", argc, argv, OPT_FORMAT, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return usage_error("export: unexpected argument '%s'", a.args[0]);
	if (parse_format("export", a.format, &gnfs))
		return EXIT_USAGE;
	req[1] = gnfs ? "gnfs" : "kernel";
	rc = call(c, req, 2, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

static int cmd_compact(const struct ctx *c, int argc, char **argv)
{
	const char *req[1] = {"compact"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct sub_args a;
	int rc;

	rc = parse_sub("compact", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 0)
		return usage_error("compact: takes no arguments");
	rc = call(c, req, 1, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

/* Planned restart: the daemon re-executes its binary on disk, keeping the mount. */
static int cmd_restart(const struct ctx *c, int argc, char **argv)
{
	const char *req[1] = {"restart"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct sub_args a;
	int rc;

	rc = parse_sub("restart", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 0)
		return usage_error("restart: takes no arguments");
	rc = call(c, req, 1, NULL, &out) ? EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(const struct ctx *c, int argc, char **argv);
} commands[] = {
	{"restart", cmd_restart}, {"compact", cmd_compact}, {"status", cmd_status},
	{"list", cmd_list},	  {"add", cmd_add},	    {"remove", cmd_remove},
	{"prune", cmd_prune},	  {"import", cmd_import},   {"export", cmd_export},
};

/*
 * The socket of the daemon mounted on mountpoint. libfuse canonicalizes the daemon's mount
 * point (realpath) and the socket is named after that, so the same is done here, but without
 * looking at the mount point itself: its attributes come from the daemon, and rmtabctl is
 * what one runs when the daemon hangs, so only the parent is resolved and the last component
 * appended. Unless the last component is a symlink (readlink reads the link, never the
 * mount) or "." or "..": then realpath() of the whole. A path that does not resolve is used
 * as given, and the connection then fails with the reason.
 */
static char *socket_for(const char *mountpoint)
{
	char path[PATH_MAX], canon[PATH_MAX], link[8];
	char *slash, *base, *mp = path;
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s", mountpoint);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    readlink(path, link, sizeof(link)) >= 0) {
		if (realpath(path, canon))
			mp = canon;
	} else {
		const char *dir = slash == path ? "/" : slash ? path : ".";

		if (slash)
			*slash = '\0';
		if (realpath(dir, canon) && strlen(canon) + 1 + strlen(base) < sizeof(canon)) {
			if (strcmp(canon, "/") != 0)
				strcat(canon, "/");
			strcat(canon, base);
			mp = canon;
		} else if (slash) {
			*slash = '/';
		}
	}
	return rfs_ctl_default_path(mp);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mountpoint", required_argument, NULL, 'm'},
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct ctx c = {.timeout = DEFAULT_TIMEOUT};
	const char *mountpoint = NULL, *sock = NULL;
	char *derived = NULL;
	size_t i;
	int ch, rc;

	/* EPIPE from write() is handled (the daemon's refusal is still read); no signal. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+m:s:t:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			mountpoint = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &c.timeout))
				return bad_value("bad timeout '%s' (seconds, 0 for no limit)",
						 optarg);
			break;
		case 'h':
			usage();
			return finish_stdout(EXIT_OK);
		case 'V':
			printf(PROG " %s\n", RFS_VERSION);
			return finish_stdout(EXIT_OK);
		default:
			if (optopt == 'm' || optopt == 's' || optopt == 't')
				return usage_error("option -%c needs a value", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (mountpoint && sock)
		return usage_error("-m and -s exclude each other");
	if (optind >= argc)
		return usage_error("no command given");
	if (sock) {
		c.socket = sock;
	} else {
		c.mountpoint = mountpoint ? mountpoint : DEFAULT_MOUNTPOINT;
		if (!*c.mountpoint)
			return usage_error("empty mount point");
		derived = socket_for(c.mountpoint);
		if (!derived) {
			errmsg("out of memory");
			return EXIT_FAIL;
		}
		c.socket = derived;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		free(derived);
		return usage_error("unknown command '%s'", argv[optind]);
	}
	rc = commands[i].fn(&c, argc - optind, argv + optind);
	free(derived);
	return rc;
}
