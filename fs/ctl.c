/*
 * Control socket server (see include/rmtabfs/ctl.h).
 *
 * One thread accepts and serves connections one at a time: commands are short, and a
 * stalled client is cut off by a receive timeout, so one thread is enough and keeps the
 * daemon's state free of another concurrency source. Only root may connect (SO_PEERCRED),
 * and the socket is created mode 0600. Changes go through the same commit path as writes
 * to rmtab (journal, table, store): rmtabctl never writes the store behind the daemon.
 * While a reload hands the daemon over (loop.h), nothing is accepted: the listening socket
 * goes to the new image with its queue; after a restart another image took over, the thread
 * ends without being joined (the process exits).
 * Lock: none of its own; it calls the core, which locks.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/ctl.h>
#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/loop.h>
#include <rmtabfs/notify.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/rfs.h>
#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/view.h>

#define REQUEST_MAX (RFS_VIEW_MAX_BYTES + 65536)

struct rfs_ctl {
	struct rfs *fs;
	int listen_fd;
	int wake_pipe[2];
	char path[108];
	pthread_t thread;
};

static int msgf(char *msg, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int msgf(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * "clock-skew: NODE ahead=S ago=S" for every node whose stamps ran more than maxskew past
 * our clock within the quiet period; "clock-hlc-ahead: S" when our own clock (HLC) runs that
 * far ahead (we changed records stamped by such a node); "clock-note: ..." when every other
 * node looks ahead, which rather says our clock is behind.
 */
static int status_clock(struct rfs_core *c, struct rfs_buf *out)
{
	const struct rfs_node *n;
	size_t others = 0, ahead = 0;
	uint64_t now, bound;
	int rc = 0;

	pthread_mutex_lock(&c->table_lock);
	now = c->table.now_ns();
	bound = c->table.max_skew_ns;
	for (n = c->table.nodes; n && !rc; n = n->next) {
		if (n == c->table.self)
			continue;
		others++;
		if (!n->ahead_at || now - n->ahead_at > RFS_SKEW_QUIET_NS)
			continue;
		ahead++;
		rc = rfs_buf_printf(out, "clock-skew: %s ahead=%.0f ago=%.0f\n", n->name,
				    (double)n->ahead_ns / 1e9, (double)(now - n->ahead_at) / 1e9);
	}
	if (!rc && bound && c->table.hlc > now + bound)
		rc = rfs_buf_printf(out, "clock-hlc-ahead: %.0f\n",
				    (double)(c->table.hlc - now) / 1e9);
	pthread_mutex_unlock(&c->table_lock);
	if (!rc && ahead && ahead == others)
		rc = rfs_buf_printf(out,
				    "clock-note: every other node's changes are stamped ahead "
				    "of this node's clock: this node's clock is probably "
				    "behind%s\n",
				    others == 1 ? " (or that node's is ahead)" : "");
	return rc;
}

static int cmd_status(struct rfs *fs, struct rfs_buf *out)
{
	struct rfs_core *c = &fs->core;
	struct rfs_core_stats st;
	size_t live, all, jops, nsnaps, snap_bytes;
	int rc;

	pthread_mutex_lock(&c->table_lock);
	st = c->stats;
	live = c->table.nlive;
	all = c->table.nrecords;
	pthread_mutex_unlock(&c->table_lock);
	pthread_mutex_lock(&c->commit_lock);
	jops = (size_t)c->journal.ops;
	pthread_mutex_unlock(&c->commit_lock);
	rfs_snap_counts(&nsnaps, &snap_bytes);
	rc = rfs_buf_printf(out,
			    "node: %s\n"
			    "mountpoint: %s\n"
			    "statedir: %s\n"
			    "version: %s\n"
			    "records: %zu\n"
			    "tombstones: %zu\n"
			    "journal-ops: %zu\n"
			    "commits: %llu\n"
			    "ops-local: %llu\n"
			    "ops-remote: %llu\n"
			    "refused-writes: %llu\n"
			    "view-snapshots: %zu\n"
			    "view-snapshot-bytes: %zu\n"
			    "gnfs-view: %s\n",
			    fs->opts->node, fs->opts->mountpoint, fs->opts->statedir,
			    rfs_daemon_version(), live, all - live, jops,
			    (unsigned long long)st.commits, (unsigned long long)st.ops_local,
			    (unsigned long long)st.ops_remote, (unsigned long long)st.refused,
			    nsnaps, snap_bytes, fs->opts->gnfs ? fs->opts->gnfs : "off");
	if (!rc)
		rc = rfs_views_status(fs, out);
	if (!rc)
		rc = status_clock(c, out);
	if (!rc && fs->repl)
		rc = rfs_repl_status(fs->repl, out);
	return rc;
}

/* Does a live record pass the filters (NULL/0: no filter)? */
static bool selected(const struct rfs_record *r, const char *client, const char *path,
		     uint64_t older_than)
{
	return (!client || strcmp(client, rfs_record_client(r)) == 0) &&
	       (!path || strcmp(path, rfs_record_path(r)) == 0) &&
	       (!older_than || r->time < older_than);
}

/* Appends "client\tpath\tcount\tborn\torigin\tchanged\twriter" for each live record. */
static int cmd_list(struct rfs *fs, const char *client, const char *path, struct rfs_buf *out)
{
	struct rfs_core *c = &fs->core;
	const struct rfs_record *r;
	int rc = 0;

	pthread_mutex_lock(&c->table_lock);
	for (r = c->table.head; r && !rc; r = r->next) {
		if (!selected(r, client, path, 0))
			continue;
		rc = rfs_buf_printf(out, "%s\t%s\t%u\t%llu\t%s\t%llu\t%s\n", rfs_record_client(r),
				    rfs_record_path(r), r->count, (unsigned long long)r->born,
				    r->origin->name, (unsigned long long)r->time, r->writer->name);
	}
	pthread_mutex_unlock(&c->table_lock);
	return rc;
}

/* The live keys that match, collected under the table lock, changed outside it. */
static int matching(struct rfs *fs, const char *client, const char *path, uint64_t older_than,
		    struct rfs_entries *out)
{
	struct rfs_core *c = &fs->core;
	const struct rfs_record *r;
	int rc = 0;

	pthread_mutex_lock(&c->table_lock);
	for (r = c->table.head; r && !rc; r = r->next) {
		if (!selected(r, client, path, older_than))
			continue;
		rc = rfs_entries_add(out, rfs_record_client(r), r->client_len, rfs_record_path(r),
				     r->path_len, 0, 0);
	}
	pthread_mutex_unlock(&c->table_lock);
	return rc;
}

/* One commit for the lot: every record goes, or none (a full disk, a failed journal). */
static int remove_all(struct rfs *fs, struct rfs_entries *e, const char *who, struct rfs_buf *out,
		      char *msg, size_t msglen)
{
	int rc = rfs_core_set_many(&fs->core, e, who);

	if (rc)
		return msgf(msg, msglen, rc, "%s: nothing removed: %s", who, strerror(-rc));
	return rfs_buf_printf(out, "removed %zu\n", e->n);
}

/* "30s", "15m", "12h", "7d" or plain seconds. */
static int parse_duration(const char *s, uint64_t *secs)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "s") == 0)
		;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (strcmp(end, "d") == 0)
		v *= 86400;
	else
		return -EINVAL;
	*secs = v;
	return 0;
}

static int cmd_import(struct rfs *fs, const char *body, size_t len, struct rfs_buf *out, char *msg,
		      size_t msglen)
{
	struct rfs_entries e = {0};
	size_t pos = 0, i;
	unsigned line = 1;
	int rc = 0;

	while (pos < len && !rc) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - body - pos) : len - pos;
		const char *t1 = memchr(body + pos, '\t', n), *t2;
		struct rfs_parse_error err = {.line = line};
		unsigned long count;

		t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(body + pos + n - t1 - 1)) : NULL;
		if (!t1 || !t2) {
			rc = msgf(msg, msglen, -EINVAL, "import: malformed request line %u", line);
			break;
		}
		errno = 0;
		count = strtoul(t2 + 1, NULL, 10);
		if (errno || count > RFS_COUNT_MAX) {
			rc = msgf(msg, msglen, -EINVAL, "line %u: bad count", line);
			break;
		}
		rc = rfs_key_check(body + pos, (size_t)(t1 - body - pos), t1 + 1,
				   (size_t)(t2 - t1 - 1), &err);
		if (rc) {
			rc = msgf(msg, msglen, rc, "line %u: %s", line, err.reason);
			break;
		}
		rc = rfs_entries_add(&e, body + pos, (size_t)(t1 - body - pos), t1 + 1,
				     (size_t)(t2 - t1 - 1), count ? (uint32_t)count : 1, line);
		pos += n + 1;
		line++;
	}
	if (rc)
		goto out;
	rfs_entries_fold(&e);
	for (i = 0; i < e.n; i++)
		e.v[i].flags = RFS_ENTRY_AT_LEAST;
	/* One commit: the whole import is in the journal and the table, or nothing of it. */
	rc = rfs_core_set_many(&fs->core, &e, "control: import");
	if (rc)
		rc = msgf(msg, msglen, rc, "nothing imported: %s", strerror(-rc));
	else
		rc = rfs_buf_printf(out, "imported %zu\n", e.n);
out:
	rfs_entries_free(&e);
	return rc;
}

static int execute(struct rfs *fs, int argc, char **argv, const char *body, size_t body_len,
		   struct rfs_buf *out, char *msg, size_t msglen);

int rfs_ctl_execute(struct rfs *fs, int argc, char **argv, const char *body, size_t body_len,
		    struct rfs_buf *out, char *msg, size_t msglen)
{
	int rc;

	msg[0] = '\0';
	if (argc == 1 && strcmp(argv[0], "restart") == 0) {
		rc = rfs_loop_request_reload(msg, msglen);
		if (rc == 0) {
			rc = rfs_buf_printf(out, "restarted: pid %s\n", msg);
			msg[0] = '\0';
		}
		return rc;
	}
	/* A reload waits for a command under way; none starts while it runs. */
	rfs_loop_command_begin();
	if (rfs_loop_reloading())
		rc = msgf(msg, msglen, -EAGAIN, "the daemon is restarting: try again");
	else
		rc = execute(fs, argc, argv, body, body_len, out, msg, msglen);
	rfs_loop_command_end();
	return rc;
}

/* add CLIENT PATH [COUNT]: without a count, at least once. */
static int cmd_add(struct rfs *fs, int argc, char **argv, char *msg, size_t msglen)
{
	unsigned long count = 1;
	char *end = NULL;
	int rc;

	if (argc == 4) {
		errno = 0;
		count = strtoul(argv[3], &end, 0);
		if (errno || *end || count == 0 || count > RFS_COUNT_MAX)
			return msgf(msg, msglen, -EINVAL, "bad count '%s'", argv[3]);
	}
	rc = rfs_core_set(&fs->core, argv[1], argv[2], (uint32_t)count, argc == 3);
	if (rc == -EINVAL) {
		struct rfs_parse_error err = {0};

		rfs_key_check(argv[1], strlen(argv[1]), argv[2], strlen(argv[2]), &err);
		return msgf(msg, msglen, rc, "%s", err.reason);
	}
	return rc ? msgf(msg, msglen, rc, "%s", strerror(-rc)) : 0;
}

/* remove CLIENT [PATH]: every matching record, in one commit. */
static int cmd_remove(struct rfs *fs, int argc, char **argv, struct rfs_buf *out, char *msg,
		      size_t msglen)
{
	struct rfs_entries e = {0};
	int rc = matching(fs, argv[1], argc == 3 ? argv[2] : NULL, 0, &e);

	if (!rc && e.n == 0)
		rc = msgf(msg, msglen, -ENOENT, "no record of %s%s%s", argv[1],
			  argc == 3 ? ":" : "", argc == 3 ? argv[2] : "");
	else if (!rc)
		rc = remove_all(fs, &e, "control: remove", out, msg, msglen);
	rfs_entries_free(&e);
	return rc;
}

/* prune DURATION: every record not mounted again for that long, in one commit. */
static int cmd_prune(struct rfs *fs, const char *duration, struct rfs_buf *out, char *msg,
		     size_t msglen)
{
	struct rfs_entries e = {0};
	uint64_t secs;
	struct timespec now;
	int rc;

	if (parse_duration(duration, &secs))
		return msgf(msg, msglen, -EINVAL, "bad duration '%s' (e.g. 30d, 12h, 90m)",
			    duration);
	clock_gettime(CLOCK_REALTIME, &now);
	if ((uint64_t)now.tv_sec <= secs)
		return msgf(msg, msglen, -EINVAL, "duration '%s' reaches before 1970", duration);
	rc = matching(fs, NULL, NULL,
		      ((uint64_t)now.tv_sec - secs) * 1000000000ull + (uint64_t)now.tv_nsec, &e);
	if (!rc)
		rc = remove_all(fs, &e, "control: prune", out, msg, msglen);
	rfs_entries_free(&e);
	return rc;
}

/* export kernel|gnfs: the current records in that format. */
static int cmd_export(struct rfs *fs, const char *format, struct rfs_buf *out, char *msg,
		      size_t msglen)
{
	struct rfs_snap *s = rfs_core_snap(&fs->core);
	const char *text = NULL;
	size_t len = 0;
	int rc;

	if (!s)
		return -ENOMEM;
	if (strcmp(format, "kernel") == 0) {
		text = s->text;
		len = s->len;
	} else if (strcmp(format, "gnfs") == 0) {
		text = rfs_snap_gnfs(s, &len);
	} else {
		rfs_snap_put(s);
		return msgf(msg, msglen, -EINVAL, "unknown format '%s' (kernel or gnfs)", format);
	}
	rc = text ? rfs_buf_append(out, text, len) : -ENOMEM;
	rfs_snap_put(s);
	return rc;
}

static int execute(struct rfs *fs, int argc, char **argv, const char *body, size_t body_len,
		   struct rfs_buf *out, char *msg, size_t msglen)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	int rc;

	if (strcmp(cmd, "status") == 0 && argc == 1)
		return cmd_status(fs, out);
	if (strcmp(cmd, "list") == 0 && argc <= 3) {
		const char *client = argc > 1 && argv[1][0] ? argv[1] : NULL;
		const char *path = argc > 2 && argv[2][0] ? argv[2] : NULL;

		return cmd_list(fs, client, path, out);
	}
	if (strcmp(cmd, "add") == 0 && (argc == 3 || argc == 4))
		return cmd_add(fs, argc, argv, msg, msglen);
	if (strcmp(cmd, "remove") == 0 && (argc == 2 || argc == 3))
		return cmd_remove(fs, argc, argv, out, msg, msglen);
	if (strcmp(cmd, "prune") == 0 && argc == 2)
		return cmd_prune(fs, argv[1], out, msg, msglen);
	if (strcmp(cmd, "compact") == 0 && argc == 1) {
		if (!fs->repl)
			return msgf(msg, msglen, -ENOTCONN, "no store");
		rc = rfs_repl_compact(fs->repl, msg, msglen);
		if (!rc)
			rc = rfs_buf_printf(out, "%s\n", msg);
		return rc;
	}
	if (strcmp(cmd, "import") == 0 && argc == 1)
		return cmd_import(fs, body, body_len, out, msg, msglen);
	if (strcmp(cmd, "export") == 0 && argc == 2)
		return cmd_export(fs, argv[1], out, msg, msglen);
	return msgf(msg, msglen, -EINVAL, "unknown command or wrong arguments: '%s'", cmd);
}

static int read_request(int fd, struct rfs_buf *in, size_t *args_end)
{
	char chunk[65536];

	for (;;) {
		char *sep = in->len ? memmem(in->data, in->len, "\n\n", 2) : NULL;
		ssize_t n;

		if (in->len && in->data[0] == '\n')
			sep = in->data - 1;
		if (sep) {
			*args_end = (size_t)(sep - in->data) + 1;
			/* import carries a body ended by another empty line */
			if (strncmp(in->data, "import\n", 7) != 0)
				return 0;
			if (in->len >= *args_end + 1 &&
			    (in->len == *args_end + 1 ||
			     memmem(in->data + *args_end + 1, in->len - *args_end - 1, "\n\n", 2) ||
			     in->data[in->len - 1] == '\n') &&
			    in->len > *args_end + 1 && in->data[in->len - 1] == '\n' &&
			    in->data[in->len - 2] == '\n')
				return 0;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0)
			return -errno;
		if (n == 0)
			return sep ? 0 : -EPROTO;
		if (in->len + (size_t)n > REQUEST_MAX)
			return -EFBIG;
		if (rfs_buf_append(in, chunk, (size_t)n))
			return -ENOMEM;
	}
}

/* Returns true after a restart that another image took over: accept no more. */
static bool serve(struct rfs_ctl *ctl, int fd)
{
	struct rfs_buf in = RFS_BUF_INIT, out = RFS_BUF_INIT;
	struct timeval tv = {.tv_sec = 10};
	char *argv[8], msg[512] = "";
	struct ucred cred;
	socklen_t len = sizeof(cred);
	size_t args_end = 0, pos = 0;
	int argc = 0, rc;
	bool restart;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		rc = msgf(msg, sizeof(msg), -EPERM, "only root may use the control socket");
		goto reply;
	}
	rc = read_request(fd, &in, &args_end);
	if (rc) {
		msgf(msg, sizeof(msg), rc, "bad request: %s", strerror(-rc));
		goto reply;
	}
	while (pos < args_end && argc < 8) {
		char *nl = memchr(in.data + pos, '\n', args_end - pos);

		if (!nl || nl == in.data + pos)
			break;
		*nl = '\0';
		argv[argc++] = in.data + pos;
		pos = (size_t)(nl - in.data) + 1;
	}
	{
		size_t body = args_end + 1 < in.len ? args_end + 1 : in.len;
		size_t blen = in.len - body;

		while (blen && in.data[body + blen - 1] == '\n')
			blen--;
		rc = rfs_ctl_execute(ctl->fs, argc, argv, in.data + body, blen, &out, msg,
				     sizeof(msg));
	}
	if (rc && !msg[0])
		snprintf(msg, sizeof(msg), "%s", strerror(-rc));
	if (argc > 0 && strcmp(argv[0], "status") && strcmp(argv[0], "list") &&
	    strcmp(argv[0], "export"))
		rfs_notice("control: %s %s%s%s", argv[0], rc ? "failed: " : "done", rc ? msg : "",
			   "");
reply : {
	char head[600];
	int n = rc ? snprintf(head, sizeof(head), "error: %s\n", msg)
		   : snprintf(head, sizeof(head), "ok\n");
	size_t done = 0;

	if (write(fd, head, (size_t)n) == n)
		while (done < out.len) {
			ssize_t w = write(fd, out.data + done, out.len - done);

			if (w <= 0)
				break;
			done += (size_t)w;
		}
}
	restart = argc > 0 && strcmp(argv[0], "restart") == 0; /* argv lives in in */
	rfs_buf_free(&in);
	rfs_buf_free(&out);
	if (restart)
		rfs_loop_reload_replied();
	return restart && rc == 0;
}

static void *ctl_main(void *arg)
{
	struct rfs_ctl *ctl = arg;
	struct pollfd p[2] = {{.fd = ctl->listen_fd, .events = POLLIN},
			      {.fd = ctl->wake_pipe[0], .events = POLLIN}};

	for (;;) {
		bool stop;
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (rfs_loop_reloading()) {
			/* Handed over with its queue: leave connections to the new image. */
			usleep(5000);
			continue;
		}
		fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		stop = serve(ctl, fd);
		close(fd);
		if (stop) {
			/* Another image serves: nobody joins us, the process is about to end. */
			pthread_detach(pthread_self());
			break;
		}
	}
	return NULL;
}

struct rfs_ctl *rfs_ctl_start(struct rfs *fs, const char *path)
{
	return rfs_ctl_start_fd(fs, path, -1);
}

int rfs_ctl_fd(const struct rfs_ctl *ctl)
{
	return ctl ? ctl->listen_fd : -1;
}

struct rfs_ctl *rfs_ctl_start_fd(struct rfs *fs, const char *path, int listen_fd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct rfs_ctl *ctl = calloc(1, sizeof(*ctl));
	char dir[sizeof(addr.sun_path)], *slash;
	mode_t old;

	if (!ctl)
		return NULL;
	ctl->fs = fs;
	ctl->listen_fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		rfs_err("control socket path too long: %s", path);
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			rfs_warn("cannot create %s: %s", dir, strerror(errno));
	}
	strcpy(addr.sun_path, path);
	strcpy(ctl->path, path);
	if (listen_fd >= 0) {
		/* Handed over by the image we replace: bound and listening, same path. */
		ctl->listen_fd = listen_fd;
		goto listening;
	}
	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0)
		goto fail;
	/* A socket left by a daemon that was killed: replace it (the statedir lock says
	 * no other daemon of ours is alive for this mount). */
	unlink(path);
	old = umask(0077);
	if (bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		umask(old);
		rfs_err("cannot bind control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old);
	if (listen(ctl->listen_fd, 16) < 0)
		goto fail;
listening:
	if (pipe2(ctl->wake_pipe, O_CLOEXEC) < 0)
		goto fail;
	if (pthread_create(&ctl->thread, NULL, ctl_main, ctl))
		goto fail;
	return ctl;
fail:
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	free(ctl);
	return NULL;
}

void rfs_ctl_stop(struct rfs_ctl *ctl)
{
	if (!ctl)
		return;
	if (write(ctl->wake_pipe[1], "x", 1) < 0) {
		/* the thread then ends with the process */
	}
	pthread_join(ctl->thread, NULL);
	close(ctl->listen_fd);
	close(ctl->wake_pipe[0]);
	close(ctl->wake_pipe[1]);
	unlink(ctl->path);
	free(ctl);
}
