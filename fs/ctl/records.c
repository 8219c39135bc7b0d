/*
 * rmtabctl's record commands: list (table or JSON), add, remove, prune (and its dry run),
 * import, export, compact; restart (a planned restart of the daemon: it replies once the new
 * image serves or the old one refused it).
 *
 * Invariants: a bad argument or import file is refused before anything is sent (exit 2, or 1
 * for a file that cannot be read or parsed, naming the line); an import is all or nothing;
 * the "list" reply is parsed strictly (a malformed answer is a failure, never half a table).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/ctl_args.h>
#include <rmtabfs/ctl_cmd.h>
#include <rmtabfs/ctl_out.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/options.h>
#include <rmtabfs/record.h>
#include <rmtabfs/rmtab_fmt.h>

/* One record of "list": pointers into the reply buffer. */
struct row {
	const char *client, *path, *origin, *writer;
	unsigned long count;
	unsigned long long born, changed;
};

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
		if (ctl_parse_ull(f[2], &count) || count > RFS_COUNT_MAX ||
		    ctl_parse_ull(f[3], &rows[n].born) || ctl_parse_ull(f[5], &rows[n].changed))
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

/* The rows as a JSON array (schema in rmtabctl(8)); path: the --path filter or NULL. */
static void list_json(const struct row *rows, size_t n, const char *path)
{
	bool first = true;
	size_t i;

	putchar('[');
	for (i = 0; i < n; i++) {
		char born[40], changed[40];

		if (path && strcmp(path, rows[i].path) != 0)
			continue;
		ctl_format_time(rows[i].born, true, born, sizeof(born));
		ctl_format_time(rows[i].changed, true, changed, sizeof(changed));
		printf("%s\n  {\"client\": ", first ? "" : ",");
		ctl_json_string(rows[i].client);
		printf(", \"path\": ");
		ctl_json_string(rows[i].path);
		printf(", \"count\": %lu, \"origin\": ", rows[i].count);
		ctl_json_string(rows[i].origin);
		printf(", \"first_seen\": \"%s\", \"first_seen_ns\": %llu, "
		       "\"changed\": \"%s\", \"changed_ns\": %llu, \"writer\": ",
		       born, rows[i].born, changed, rows[i].changed);
		ctl_json_string(rows[i].writer);
		putchar('}');
		first = false;
	}
	printf("%s]\n", first ? "" : "\n");
}

/* The rows as a table, columns as wide as their widest cell. */
static void list_table(const struct row *rows, size_t n, const char *path)
{
	size_t i, wc = 6, wp = 4, wo = 6, wn = 5;
	/* A stamp this far past our clock came from a node whose clock runs ahead. */
	unsigned long long ahead = ((unsigned long long)time(NULL) + 300) * 1000000000ull;

	for (i = 0; i < n; i++) {
		char num[16];

		if (path && strcmp(path, rows[i].path) != 0)
			continue;
		wc = ctl_max_len(wc, rows[i].client);
		wp = ctl_max_len(wp, rows[i].path);
		wo = ctl_max_len(wo, rows[i].origin);
		snprintf(num, sizeof(num), "%lu", rows[i].count);
		wn = ctl_max_len(wn, num);
	}
	printf("%-*s  %-*s  %*s  %-*s  %-19s  %s\n", (int)wc, "CLIENT", (int)wp, "PATH", (int)wn,
	       "COUNT", (int)wo, "ORIGIN", "FIRST SEEN", "LAST CHANGE");
	for (i = 0; i < n; i++) {
		char born[40], changed[40];

		if (path && strcmp(path, rows[i].path) != 0)
			continue;
		ctl_format_time(rows[i].born, false, born, sizeof(born));
		ctl_format_time(rows[i].changed, false, changed, sizeof(changed));
		printf("%-*s  %-*s  %*lu  %-*s  %-19s  %s%s\n", (int)wc, rows[i].client, (int)wp,
		       rows[i].path, (int)wn, rows[i].count, (int)wo, rows[i].origin, born, changed,
		       rows[i].born > ahead || rows[i].changed > ahead
			       ? "  (stamped ahead of this clock: see rmtabctl status)"
			       : "");
	}
}

int ctl_cmd_list(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[3] = {"list"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct row *rows = NULL;
	struct ctl_args a;
	size_t n = 0;
	int rc, nreq = 1;

	rc = ctl_parse_args("list", argc, argv, CTL_OPT_CLIENT | CTL_OPT_PATH | CTL_OPT_JSON, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return ctl_usage_error("list: unexpected argument '%s' (filters: --client, --path)",
				       a.args[0]);
	if ((a.client && strchr(a.client, '\n')) || (a.path && strchr(a.path, '\n')))
		return ctl_bad_value("list: a client or path never holds a newline");
	/* The protocol cannot carry an empty argument (an empty line ends the request), so a
	 * path without a client is filtered here rather than by the daemon. */
	if (a.client) {
		req[nreq++] = a.client;
		if (a.path)
			req[nreq++] = a.path;
	}
	if (ctl_call(c, req, nreq, NULL, &out))
		return CTL_EXIT_FAIL;
	rc = rfs_buf_append(&out, "", 1) ? -ENOMEM : parse_list(out.data, out.len - 1, &rows, &n);
	if (rc) {
		ctl_err(rc == -ENOMEM ? "out of memory" : "list: malformed answer from the daemon");
		rfs_buf_free(&out);
		return CTL_EXIT_FAIL;
	}
	if (a.json)
		list_json(rows, n, a.path);
	else
		list_table(rows, n, a.path);
	free(rows);
	rfs_buf_free(&out);
	return ctl_finish_stdout(CTL_EXIT_OK);
}

/* Passes the daemon's one-line summary ("removed 2", "imported 5") to stdout. */
static int print_body(const struct rfs_buf *out)
{
	if (out->len)
		fwrite(out->data, 1, out->len, stdout);
	return ctl_finish_stdout(CTL_EXIT_OK);
}

int ctl_cmd_add(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[4] = {"add"};
	struct rfs_buf out = RFS_BUF_INIT;
	unsigned long long count;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("add", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs < 2 || a.nargs > 3)
		return ctl_usage_error("add: expected CLIENT PATH [COUNT]");
	if (ctl_check_key("add", a.args[0], a.args[1]))
		return CTL_EXIT_USAGE;
	if (a.nargs == 3 &&
	    (ctl_parse_ull(a.args[2], &count) || count == 0 || count > RFS_COUNT_MAX))
		return ctl_bad_value("add: bad count '%s' (1 to %u)", a.args[2], RFS_COUNT_MAX);
	req[1] = a.args[0];
	req[2] = a.args[1];
	req[3] = a.nargs == 3 ? a.args[2] : NULL;
	rc = ctl_call(c, req, a.nargs + 1, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

int ctl_cmd_remove(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[3] = {"remove"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("remove", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs < 1 || a.nargs > 2)
		return ctl_usage_error("remove: expected CLIENT [PATH]");
	if (ctl_check_key("remove", a.args[0], a.nargs == 2 ? a.args[1] : NULL))
		return CTL_EXIT_USAGE;
	req[1] = a.args[0];
	req[2] = a.nargs == 2 ? a.args[1] : NULL;
	rc = ctl_call(c, req, a.nargs + 1, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

int ctl_cmd_prune(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[2] = {"prune"};
	struct rfs_buf out = RFS_BUF_INIT;
	unsigned long long secs;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("prune", argc, argv, CTL_OPT_OLDER | CTL_OPT_DRY, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return ctl_usage_error("prune: unexpected argument '%s'", a.args[0]);
	if (!a.older)
		return ctl_usage_error("prune: --older-than DURATION is required");
	if (ctl_parse_duration(a.older, &secs))
		return ctl_bad_value("prune: bad duration '%s' (e.g. 30d, 12h, 90m, 45s)", a.older);
	if (a.dry) {
		/* What the daemon would remove: records whose last change is before now-secs. */
		struct timespec now;
		struct row *rows = NULL;
		unsigned long long cutoff;
		size_t n = 0, i, hits = 0;

		clock_gettime(CLOCK_REALTIME, &now);
		if ((unsigned long long)now.tv_sec <= secs)
			return ctl_bad_value("prune: duration '%s' reaches before 1970", a.older);
		cutoff = ((unsigned long long)now.tv_sec - secs) * 1000000000ull;
		req[0] = "list";
		if (ctl_call(c, req, 1, NULL, &out))
			return CTL_EXIT_FAIL;
		rc = rfs_buf_append(&out, "", 1) ? -ENOMEM
						 : parse_list(out.data, out.len - 1, &rows, &n);
		if (rc) {
			ctl_err(rc == -ENOMEM ? "out of memory"
					      : "prune: malformed answer from the daemon");
			rfs_buf_free(&out);
			return CTL_EXIT_FAIL;
		}
		for (i = 0; i < n; i++) {
			char changed[40];

			if (rows[i].changed >= cutoff)
				continue;
			ctl_format_time(rows[i].changed, false, changed, sizeof(changed));
			printf("would remove %s:%s (last change %s)\n", rows[i].client,
			       rows[i].path, changed);
			hits++;
		}
		printf("would remove %zu\n", hits);
		free(rows);
		rfs_buf_free(&out);
		return ctl_finish_stdout(CTL_EXIT_OK);
	}
	req[1] = a.older;
	rc = ctl_call(c, req, 2, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
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

int ctl_cmd_import(const struct ctl_ctx *c, int argc, char **argv)
{
	static const char *const req[] = {"import"};
	struct rfs_buf in = RFS_BUF_INIT, body = RFS_BUF_INIT, out = RFS_BUF_INIT;
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	const char *name;
	struct ctl_args a;
	bool gnfs;
	size_t i;
	int rc;

	rc = ctl_parse_args("import", argc, argv, CTL_OPT_FORMAT, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 1)
		return ctl_usage_error("import: expected one FILE ('-' for stdin)");
	if (ctl_parse_format("import", a.format, &gnfs))
		return CTL_EXIT_USAGE;
	name = strcmp(a.args[0], "-") == 0 ? "stdin" : a.args[0];
	rc = read_file(a.args[0], &in);
	if (rc) {
		if (rc == -EFBIG)
			ctl_err("cannot import %s: larger than %u bytes", name, RFS_VIEW_MAX_BYTES);
		else
			ctl_err("cannot read %s: %s", name, strerror(-rc));
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	/* Parsed here, with the daemon's own parsers, so that a bad file is refused with its
	 * line number before anything is sent: an import is all or nothing. */
	rc = gnfs ? gn_parse(in.data ? in.data : "", in.len, &e, &err)
		  : rt_parse(in.data ? in.data : "", in.len, 1, &e, &err);
	if (rc) {
		bool looks_gnfs = !gnfs && ((in.len >= 9 && !memcmp(in.data, "hostname-", 9)) ||
					    (in.len >= 11 && !memcmp(in.data, "mountpoint-", 11)));

		ctl_err("%s:%u: %s (nothing imported%s)", name, err.line, err.reason,
			looks_gnfs ? "; a gNFS file? use --format gnfs" : "");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	for (i = 0, rc = 0; i < e.n && !rc; i++) {
		/* The import body is tab-separated; a tab in a key cannot be carried. */
		if (memchr(e.v[i].client, '\t', e.v[i].client_len) ||
		    memchr(e.v[i].path, '\t', e.v[i].path_len)) {
			ctl_err("%s:%u: a client or path holding a tab cannot be imported through "
				"the control socket (nothing imported)",
				name, e.v[i].line);
			rc = CTL_EXIT_FAIL;
			goto out;
		}
		rc = rfs_buf_printf(&body, "%s\t%s\t%u\n", e.v[i].client, e.v[i].path,
				    e.v[i].count);
	}
	if (rc) {
		ctl_err("out of memory");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = ctl_call(c, req, 1, &body, &out) ? CTL_EXIT_FAIL : print_body(&out);
out:
	rfs_entries_free(&e);
	rfs_buf_free(&in);
	rfs_buf_free(&body);
	rfs_buf_free(&out);
	return rc;
}

int ctl_cmd_export(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[2] = {"export"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct ctl_args a;
	bool gnfs;
	int rc;

	rc = ctl_parse_args("export", argc, argv, CTL_OPT_FORMAT, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return ctl_usage_error("export: unexpected argument '%s'", a.args[0]);
	if (ctl_parse_format("export", a.format, &gnfs))
		return CTL_EXIT_USAGE;
	req[1] = gnfs ? "gnfs" : "kernel";
	rc = ctl_call(c, req, 2, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

int ctl_cmd_compact(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[1] = {"compact"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("compact", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 0)
		return ctl_usage_error("compact: takes no arguments");
	rc = ctl_call(c, req, 1, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}

/* Planned restart: the daemon re-executes its binary on disk, keeping the mount. */
int ctl_cmd_restart(const struct ctl_ctx *c, int argc, char **argv)
{
	const char *req[1] = {"restart"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("restart", argc, argv, 0, &a);
	if (rc != -1)
		return rc;
	if (a.nargs != 0)
		return ctl_usage_error("restart: takes no arguments");
	rc = ctl_call(c, req, 1, NULL, &out) ? CTL_EXIT_FAIL : print_body(&out);
	rfs_buf_free(&out);
	return rc;
}
