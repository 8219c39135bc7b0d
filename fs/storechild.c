/*
 * The store side process as the mount side sees it: where its executable is, starting it
 * (posix_spawn, its end of the socketpair as descriptor 3, its own process group), and
 * when it ends, reaping it, saying why (exit code, signal, or why we killed it) and when
 * the next one starts (at once; after a backoff of 0.1 s doubling to 5 s while each one
 * dies within QUICK_DEATH). Called by the link thread only; repl.lock around what status
 * reads.
 */
#include "storelink.h"

extern char **environ;

/* The store side's executable: the environment, beside ours, or where it is installed. */
void rfs_sc_find_exe(struct rfs_repl *r)
{
	const char *env = getenv("RMTABFS_STORE_EXE");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(r->exe, sizeof(r->exe), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			snprintf(slash + 1, sizeof(self) - (size_t)(slash + 1 - self),
				 "rmtabfs-store");
			if (access(self, X_OK) == 0) {
				snprintf(r->exe, sizeof(r->exe), "%s", self);
				return;
			}
		}
	}
	snprintf(r->exe, sizeof(r->exe), "%s", RFS_STORE_EXE);
}

/* Starts a store side with its end of a new socketpair as descriptor 3. */
int rfs_sc_spawn(struct rfs_repl *r)
{
	char fdarg[16], timeout[32], poll_s[32], tomb[32], parent[24];
	const struct rfs_options *o = r->opts;
	char *argv[28];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int sv[2], n = 0, rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	snprintf(fdarg, sizeof(fdarg), "3");
	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	snprintf(timeout, sizeof(timeout), "%g", o->timeout);
	snprintf(poll_s, sizeof(poll_s), "%g", o->poll);
	snprintf(tomb, sizeof(tomb), "%g", o->tombstones);
	argv[n++] = (char *)"rmtabfs-store";
	argv[n++] = (char *)"--fd";
	argv[n++] = fdarg;
	argv[n++] = (char *)"--node";
	argv[n++] = o->node;
	argv[n++] = (char *)"--store";
	argv[n++] = o->store;
	argv[n++] = (char *)"--statedir";
	argv[n++] = o->statedir;
	argv[n++] = (char *)"--sync";
	argv[n++] = (char *)(o->sync == RFS_SYNC_STORE ? "store" : "local");
	argv[n++] = (char *)"--timeout";
	argv[n++] = timeout;
	argv[n++] = (char *)"--poll";
	argv[n++] = poll_s;
	argv[n++] = (char *)"--tombstones";
	argv[n++] = tomb;
	argv[n++] = (char *)"--state";
	argv[n++] = (char *)rfs_repl_state_name(r->state);
	argv[n++] = (char *)"--parent";
	argv[n++] = parent;
	argv[n++] = (char *)"--watch";
	argv[n++] = (char *)(o->watch ? "on" : "off");
	if (!o->foreground && !getenv("RMTABFS_LOG_FILE"))
		argv[n++] = (char *)"--syslog";
	if (o->debug)
		argv[n++] = (char *)"--debug";
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	/* Its own process group: a terminal's ^C stops the mount side, which stops it. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, r->exe, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		return -rc;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	r->sock = sv[0];
	r->started = r->last_heard = r->last_ping = rfs_mono();
	r->stop_sent = r->wake_pending = r->killed = r->hello_ok = false;
	r->in.len = r->out.len = 0;
	pthread_mutex_lock(&r->lock);
	r->pid = pid;
	r->child_started = time(NULL);
	pthread_mutex_unlock(&r->lock);
	rfs_debug("store side started: %s, pid %d", r->exe, (int)pid);
	return 0;
}

/* "exit code 4 (...)", "signal 9 (Killed)" or the reason we killed it. */
static void describe_exit(struct rfs_repl *r, int status, char *buf, size_t len)
{
	if (r->killed)
		snprintf(buf, len, "%s", r->kill_reason);
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit code %d%s", WEXITSTATUS(status),
			 WEXITSTATUS(status) == RFS_STORE_EXIT_CONNECT ? " (could not connect)"
			 : WEXITSTATUS(status) == 0		       ? " (stopped)"
								       : "");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %d", status);
}

/* Reaps the store side once its link ended; it is killed if it lingers. */
static int reap(struct rfs_repl *r, pid_t pid)
{
	int status = 0, i;

	for (i = 0; i < 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* The store side is gone (its link ended): reap it, note why, plan the next one. */
void rfs_sc_child_gone(struct rfs_repl *r)
{
	double lived = rfs_mono() - r->started;
	bool connect_failed, quick = lived < QUICK_DEATH;
	char why[160];
	pid_t pid = r->pid;
	int status;

	close(r->sock);
	r->sock = -1;
	status = reap(r, pid);
	describe_exit(r, status, why, sizeof(why));
	connect_failed =
		!r->killed && WIFEXITED(status) && WEXITSTATUS(status) == RFS_STORE_EXIT_CONNECT;
	r->clean_stop = r->stop_sent && !r->killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	r->backoff = quick ? fmin(r->backoff * 2, BACKOFF_MAX) : BACKOFF_MIN;
	r->next_spawn = rfs_mono() + (quick ? r->backoff : 0);
	pthread_mutex_lock(&r->lock);
	r->pid = 0;
	if (!r->stop)
		r->restarts++;
	snprintf(r->last_exit, sizeof(r->last_exit), "%s", why);
	/* A failed connect reported its state itself; anything else: the store is not in reach. */
	if (!connect_failed && r->state != RFS_REPL_REFUSED && !r->stop) {
		snprintf(r->last_error, sizeof(r->last_error), "store side %s", why);
		if (r->state != RFS_REPL_DOWN)
			r->state_since = rfs_mono();
		r->state = RFS_REPL_DOWN;
	}
	if (r->compact_sent > r->compact_done) {
		r->compact_done = r->compact_sent;
		r->compact_rc = -ECONNRESET;
		snprintf(r->compact_msg, sizeof(r->compact_msg), "the store side ended (%s)", why);
	}
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	if (r->stop && r->clean_stop)
		rfs_info("store side (pid %d) ended: %s", (int)pid, why);
	else if (r->stop)
		rfs_notice("store side (pid %d) ended at the stop: %s", (int)pid, why);
	else if (connect_failed)
		rfs_debug("store side (pid %d) ended: %s; next in %.1f s", (int)pid, why,
			  quick ? r->backoff : 0);
	else
		rfs_warn("store side (pid %d) ended: %s; starting a new one%s", (int)pid, why,
			 quick ? " after a pause" : "");
}

void rfs_sc_kill_child(struct rfs_repl *r, const char *fmt, double secs)
{
	snprintf(r->kill_reason, sizeof(r->kill_reason), fmt, secs);
	r->killed = true;
	kill(r->pid, SIGKILL);
	rfs_sc_child_gone(r);
}
