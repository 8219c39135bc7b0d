/*
 * The FUSE request loop (see include/rmtabfs/loop.h), in place of fuse_session_loop_mt.
 *
 * libfuse's loop cannot stop without losing a request: a worker that has read one when the
 * session is told to exit drops it (fuse_session_receive_buf returns 0 once exited), and the
 * kernel then waits for that answer for ever. Here the device is non-blocking and one worker
 * at a time (the one holding read_lock) polls it: the stop flag is checked before every read,
 * never between a read and the handling, so a pause waits for the requests already read and
 * leaves every other one queued in the kernel for whoever reads next (this image again, or
 * a new one). Workers are added when none is idle, up to max_threads, as libfuse does.
 *
 * Events for the main thread travel through a pipe, so the signal handlers only write(2).
 * Lock order: read_lock, then lock (thread bookkeeping); reload_lock is a leaf; command_lock
 * is held by the control thread around a command (never around "restart"), and the main
 * thread takes it only to wait for such a command before a reload, holding nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/compat.h>
#include <rmtabfs/log.h>
#include <rmtabfs/loop.h>

#define MAX_THREADS 64

struct rfs_loop {
	struct fuse_session *se;
	int fd;
	unsigned max_threads;
	atomic_bool stop;
	int wake[2];   /* readable while stop is set: wakes the polling worker */
	int events[2]; /* to the main thread: 'x' stop, 'r' reload, 'c' reload for ctl */
	atomic_int error;
	pthread_mutex_t read_lock;
	pthread_mutex_t lock;
	pthread_t threads[MAX_THREADS];
	unsigned nthreads, idle;
};

static int event_fd = -1; /* the one loop's event pipe, for the signal handlers */

static void on_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGUSR2 ? 'r' : 'x';

	if (event_fd >= 0 && write(event_fd, &c, 1) < 0) {
		/* nothing to do in a signal handler */
	}
	errno = saved;
}

static void post(struct rfs_loop *l, char c)
{
	if (write(l->events[1], &c, 1) < 0)
		rfs_err("cannot post a loop event: %s", strerror(errno));
}

static void *worker(void *arg);

/* Under read_lock. */
static void spawn(struct rfs_loop *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->nthreads < l->max_threads &&
	    pthread_create(&l->threads[l->nthreads], NULL, worker, l) == 0) {
		l->nthreads++;
		l->idle++;
	}
	pthread_mutex_unlock(&l->lock);
}

/* Under read_lock: the next request, 1; paused, 0; the session ended, -1. */
static int next_request(struct rfs_loop *l, struct fuse_buf *buf)
{
	struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
			      {.fd = l->wake[0], .events = POLLIN}};
	int res;

	for (;;) {
		if (atomic_load(&l->stop))
			return 0;
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			atomic_store(&l->error, -errno);
			return -1;
		}
		if (atomic_load(&l->stop))
			return 0;
		if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		res = fuse_session_receive_buf(l->se, buf);
		if (res == -EAGAIN || res == -EINTR)
			continue;
		if (res > 0)
			return 1;
		/* 0: unmounted (ENODEV) or exited; < 0: an error libfuse has logged. */
		if (res < 0)
			atomic_store(&l->error, res);
		return -1;
	}
}

static void *worker(void *arg)
{
	struct rfs_loop *l = arg;
	struct fuse_buf buf = {0};
	bool none_idle;
	int got;

	for (;;) {
		pthread_mutex_lock(&l->read_lock);
		got = next_request(l, &buf);
		if (got <= 0) {
			pthread_mutex_unlock(&l->read_lock);
			if (got < 0 && !atomic_exchange(&l->stop, true)) {
				if (write(l->wake[1], "s", 1) < 0) {
					/* the other workers also see the device's end */
				}
				post(l, 'x');
			}
			break;
		}
		pthread_mutex_lock(&l->lock);
		none_idle = --l->idle == 0;
		pthread_mutex_unlock(&l->lock);
		if (none_idle)
			spawn(l);
		pthread_mutex_unlock(&l->read_lock);
		fuse_session_process_buf(l->se, &buf);
		pthread_mutex_lock(&l->lock);
		l->idle++;
		pthread_mutex_unlock(&l->lock);
	}
	free(buf.mem);
	return NULL;
}

struct rfs_loop *rfs_loop_new(struct fuse_session *se, unsigned max_threads)
{
	struct rfs_loop *l = calloc(1, sizeof(*l));
	struct sigaction sa = {.sa_handler = on_signal};
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2};
	size_t i;

	if (!l)
		return NULL;
	l->se = se;
	l->fd = fuse_session_fd(se);
	l->max_threads = max_threads < 1	     ? 1
			 : max_threads > MAX_THREADS ? MAX_THREADS
						     : max_threads;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	if (pipe2(l->events, O_CLOEXEC) < 0) {
		close(l->wake[0]);
		close(l->wake[1]);
		goto fail;
	}
	pthread_mutex_init(&l->read_lock, NULL);
	pthread_mutex_init(&l->lock, NULL);
	event_fd = l->events[1];
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return l;
fail:
	free(l);
	return NULL;
}

void rfs_loop_free(struct rfs_loop *l)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};

	if (!l)
		return;
	rfs_loop_pause(l);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	event_fd = -1;
	close(l->wake[0]);
	close(l->wake[1]);
	close(l->events[0]);
	close(l->events[1]);
	pthread_mutex_destroy(&l->read_lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int rfs_loop_start(struct rfs_loop *l)
{
	char c;
	int fl;

	l->fd = fuse_session_fd(l->se); /* known once mounted */
	fl = fcntl(l->fd, F_GETFL);
	/* Non-blocking: a worker must never sleep in read(2) where a pause cannot reach it. */
	if (fl < 0 || fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	while (read(l->wake[0], &c, 1) == 1)
		;
	atomic_store(&l->stop, false);
	pthread_mutex_lock(&l->read_lock);
	spawn(l);
	pthread_mutex_unlock(&l->read_lock);
	return l->nthreads ? 0 : -EAGAIN;
}

void rfs_loop_pause(struct rfs_loop *l)
{
	unsigned i, n;

	atomic_store(&l->stop, true);
	if (write(l->wake[1], "p", 1) < 0) {
		/* full: already readable */
	}
	/* No worker is spawned once stop is set (spawn happens only after a request). */
	pthread_mutex_lock(&l->read_lock);
	pthread_mutex_lock(&l->lock);
	n = l->nthreads;
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_unlock(&l->read_lock);
	for (i = 0; i < n; i++)
		pthread_join(l->threads[i], NULL);
	l->nthreads = l->idle = 0;
}

enum rfs_loop_event rfs_loop_wait(struct rfs_loop *l, int *error)
{
	char c;
	ssize_t n;

	for (;;) {
		n = read(l->events[0], &c, 1);
		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		c = 'x';
		break;
	}
	*error = atomic_load(&l->error);
	return c == 'r' ? RFS_EV_RELOAD : c == 'c' ? RFS_EV_RELOAD_CTL : RFS_EV_STOP;
}

bool rfs_loop_stop_pending(struct rfs_loop *l)
{
	struct pollfd p = {.fd = l->events[0], .events = POLLIN};
	char c;

	while (poll(&p, 1, 0) == 1 && read(l->events[0], &c, 1) == 1)
		if (c == 'x')
			return true;
	return false;
}

/* ---- reload requests from the control thread ---- */

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reload_cond = PTHREAD_COND_INITIALIZER;
static bool reload_pending, reload_answered;
static int reload_rc;
static char reload_msg[512];
static atomic_int reloading;
static bool replied; /* the control thread sent its answer to "restart" */

int rfs_loop_request_reload(char *msg, size_t len)
{
	char c = 'c';
	int rc;

	pthread_mutex_lock(&reload_lock);
	if (reload_pending || event_fd < 0) {
		pthread_mutex_unlock(&reload_lock);
		snprintf(msg, len, "%s", event_fd < 0 ? "not serving" : "a reload is under way");
		return -EBUSY;
	}
	reload_pending = true;
	reload_answered = false;
	replied = false;
	if (write(event_fd, &c, 1) != 1) {
		reload_pending = false;
		pthread_mutex_unlock(&reload_lock);
		snprintf(msg, len, "cannot reach the main thread: %s", strerror(errno));
		return -EIO;
	}
	while (!reload_answered)
		pthread_cond_wait(&reload_cond, &reload_lock);
	rc = reload_rc;
	snprintf(msg, len, "%s", reload_msg);
	reload_pending = false;
	pthread_mutex_unlock(&reload_lock);
	return rc;
}

void rfs_loop_reload_done(struct rfs_loop *l, int rc, const char *msg)
{
	(void)l;
	pthread_mutex_lock(&reload_lock);
	reload_rc = rc;
	snprintf(reload_msg, sizeof(reload_msg), "%s", msg);
	reload_answered = true;
	pthread_cond_broadcast(&reload_cond);
	pthread_mutex_unlock(&reload_lock);
}

static pthread_mutex_t command_lock = PTHREAD_MUTEX_INITIALIZER;

void rfs_loop_command_begin(void)
{
	pthread_mutex_lock(&command_lock);
}

void rfs_loop_command_end(void)
{
	pthread_mutex_unlock(&command_lock);
}

void rfs_loop_wait_commands(void)
{
	pthread_mutex_lock(&command_lock);
	pthread_mutex_unlock(&command_lock);
}

int rfs_loop_reloading(void)
{
	return atomic_load(&reloading);
}

void rfs_loop_set_reloading(int on)
{
	atomic_store(&reloading, on);
}

void rfs_loop_reload_replied(void)
{
	pthread_mutex_lock(&reload_lock);
	replied = true;
	pthread_cond_broadcast(&reload_cond);
	pthread_mutex_unlock(&reload_lock);
}

void rfs_loop_wait_replied(int max_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += max_ms / 1000;
	until.tv_nsec += (long)(max_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&reload_lock);
	while (!replied && pthread_cond_timedwait(&reload_cond, &reload_lock, &until) == 0)
		;
	replied = false;
	pthread_mutex_unlock(&reload_lock);
}
