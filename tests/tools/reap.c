/*
 * reap: start a daemon the way an administrator does (a command that forks the daemon into
 * the background and exits: "rmtabfs MNT", "mount -t fuse.rmtabfs ...") and still learn the
 * daemon's exit status, as a foreground test would from wait(2).
 *
 *   reap PIDFILE COMMAND [ARG...]
 *
 * reap makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so the daemon, once
 * its parent exits, is reparented to reap instead of init. reap runs COMMAND and waits for
 * it; if COMMAND fails, reap exits with its status. Otherwise the one process left among
 * reap's children is the daemon: its pid goes to PIDFILE (written to PIDFILE.tmp, then
 * renamed), and reap waits for it and exits with its status: the exit code, or 128 + the
 * signal number for a daemon killed by a signal (a crash, kill -9), as a shell reports it.
 * Other orphans (a killed daemon's helper children) are reaped along the way; any still
 * running when the daemon ends are named on stderr and left to init.
 * No daemon left after a successful COMMAND: reap writes nothing and exits 125.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 126;
}

/* Our children now, from /proc/self/task/TID/children (one thread: TID == pid). */
static int children(pid_t *out, int max)
{
	char path[64];
	FILE *f;
	int n = 0;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n < max && fscanf(f, "%ld", &pid) == 1)
		out[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

static int write_pidfile(const char *file, pid_t pid)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0)
		return -1;
	return rename(tmp, file);
}

int main(int argc, char **argv)
{
	pid_t launcher, daemon_pid = 0, kids[64], w;
	int st, n, i;

	if (argc < 3) {
		fprintf(stderr, "usage: reap PIDFILE COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("reap: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	launcher = fork();
	if (launcher < 0) {
		perror("reap: fork");
		return 2;
	}
	if (launcher == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "reap: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	/* Intermediate processes (mount, mount.fuse3, sh, the daemon's parent) end here too. */
	for (;;) {
		w = waitpid(-1, &st, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("reap: waitpid");
			return 2;
		}
		if (w == launcher)
			break;
	}
	if (status_code(st) != 0)
		return status_code(st);
	/* Intermediate processes that have not finished exiting: reap them first. */
	for (i = 0; i < 200; i++) {
		while (waitpid(-1, &st, WNOHANG) > 0) {
		}
		n = children(kids, 64);
		if (n < 0) {
			perror("reap: /proc/self/task/*/children");
			return 2;
		}
		if (n == 1) {
			daemon_pid = kids[0];
			break;
		}
		if (n == 0)
			break;
		usleep(10000);
	}
	if (!daemon_pid) {
		fprintf(stderr, "reap: %s exited 0 but left %s\n", argv[2],
			n == 0 ? "no daemon" : "several processes");
		return 125;
	}
	if (write_pidfile(argv[1], daemon_pid) < 0) {
		perror("reap: pid file");
		return 2;
	}
	for (;;) {
		w = waitpid(-1, &st, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("reap: waitpid");
			return 2;
		}
		if (w == daemon_pid)
			break;
	}
	n = children(kids, 64);
	for (i = 0; i < n; i++)
		fprintf(stderr, "reap: process %d outlived the daemon %d\n", (int)kids[i],
			(int)daemon_pid);
	return status_code(st);
}
