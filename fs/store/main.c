/*
 * rmtabfs-store: the store side of one rmtabfs mount (DESIGN §9). Started by the mount side
 * with its end of a socketpair (--fd); runs the replication loop (include/rmtabfs/sloop.h)
 * against the record set over that link (fs/store/rsclient.c). This process alone links a
 * store library (libgfapi); it may crash or be killed at any moment: nothing acknowledged
 * depends on it, and the mount side starts a new one.
 *
 * Threads: the main thread reads the link (answers to our requests, wake, ping, compact,
 * stop); the loop thread works; a compaction request and the stop each get a short-lived
 * thread, because both wait for the loop, which needs the main thread to read its answers.
 * A lost link ends the process at once. A ping is answered only while no store call has run
 * longer than timeout= (a connect: 20 s): a hung call then looks like a hung process and is
 * replaced.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/link.h>
#include <rmtabfs/log.h>
#include <rmtabfs/recset.h>
#include <rmtabfs/sloop.h>
#include <rmtabfs/store.h>

struct side {
	struct rfs_sloop_opts opts;
	enum rfs_repl_state initial;
	struct rfs_rs *rs;
	struct rfs_sloop *_Atomic loop; /* NULL until started: the reader runs before */
	int fd;
	pid_t parent; /* the mount side (--parent) */
	_Atomic bool stopping;
};

static struct side side;

/* Sends a frame with an optional prepared payload; a failure means the link is gone. */
static void send_frame(uint32_t type, uint64_t id, const struct rfs_buf *payload)
{
	struct rfs_buf f = RFS_BUF_INIT;
	size_t start;

	if (rfs_link_begin(&f, type, id, &start) == 0 &&
	    (!payload || rfs_buf_append(&f, payload->data, payload->len) == 0)) {
		rfs_link_end(&f, start);
		if (rfs_rs_send(side.rs, f.data, f.len))
			_exit(RFS_STORE_EXIT_LINK);
	}
	rfs_buf_free(&f);
}

static void on_round(struct rfs_sloop *loop, void *ctx)
{
	struct rfs_buf st = RFS_BUF_INIT;

	(void)ctx;
	if (rfs_sloop_state(loop, &st) == 0)
		send_frame(RFS_LK_STATE, 0, &st);
	rfs_buf_free(&st);
}

struct compact_req {
	uint64_t id;
};

static void *compact_thread(void *arg)
{
	struct compact_req *q = arg;
	struct rfs_buf p = RFS_BUF_INIT;
	char msg[200];
	int rc = rfs_sloop_compact(atomic_load(&side.loop), msg, sizeof(msg));

	if (rfs_link_put_u64(&p, (uint64_t)(int64_t)rc) == 0 && rfs_link_put_str(&p, msg) == 0)
		send_frame(RFS_LK_COMPACTED, q->id, &p);
	rfs_buf_free(&p);
	free(q);
	return NULL;
}

static void *stop_thread(void *arg)
{
	(void)arg;
	/* -EBUSY (a hung call) or not: this process ends here, freeing nothing more. */
	rfs_sloop_stop(atomic_load(&side.loop));
	_exit(0);
}

static void start_detached(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg) == 0)
		pthread_detach(t);
	else
		free(arg);
}

static void on_frame(const struct rfs_link_hdr *h, const char *payload)
{
	struct rfs_sloop *loop = atomic_load(&side.loop);
	struct compact_req *q;

	if (!loop && h->type != RFS_LK_RESP) {
		/* Starting: a stop ends us at once; anything else can wait for the next one. */
		if (h->type == RFS_LK_STOP)
			_exit(0);
		if (h->type == RFS_LK_PING)
			send_frame(RFS_LK_PONG, h->id, NULL);
		return;
	}
	switch (h->type) {
	case RFS_LK_RESP:
		rfs_rs_deliver(side.rs, h->id, payload, h->len);
		break;
	case RFS_LK_WAKE:
		rfs_sloop_wake(loop);
		break;
	case RFS_LK_PING:
		if (!rfs_sloop_hung(loop, side.opts.timeout))
			send_frame(RFS_LK_PONG, h->id, NULL);
		break;
	case RFS_LK_COMPACT:
		q = malloc(sizeof(*q));
		if (q) {
			q->id = h->id;
			start_detached(compact_thread, q);
		}
		break;
	case RFS_LK_STOP:
		if (!atomic_exchange(&side.stopping, true)) {
			rfs_sloop_request_stop(loop);
			start_detached(stop_thread, NULL);
		}
		break;
	}
}

/* Reads the link until it ends; then the process ends. */
static void *read_link(void *arg)
{
	struct rfs_buf in = RFS_BUF_INIT;
	size_t used = 0;

	if (rfs_buf_reserve(&in, 65536))
		_exit(1);
	for (;;) {
		struct rfs_link_hdr h;
		const char *payload;
		ssize_t n;
		int rc;

		while ((rc = rfs_link_parse(in.data + used, in.len - used, &h, &payload)) == 1) {
			on_frame(&h, payload);
			used += sizeof(h) + h.len;
		}
		if (rc < 0)
			break;
		memmove(in.data, in.data + used, in.len - used);
		in.len -= used;
		used = 0;
		if (rfs_buf_reserve(&in, 65536))
			break;
		n = read(side.fd, in.data + in.len, in.cap - in.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		in.len += (size_t)n;
	}
	/* The mount side is gone, or asked nothing sensible: no last ship without it. */
	_exit(side.stopping ? 0 : RFS_STORE_EXIT_LINK);
}

static double num(const char *s)
{
	return strtod(s, NULL);
}

static enum rfs_repl_state state_named(const char *name)
{
	enum rfs_repl_state s;

	for (s = RFS_REPL_CONNECTING; s <= RFS_REPL_REFUSED; s++)
		if (strcmp(rfs_repl_state_name(s), name) == 0)
			return s;
	return RFS_REPL_CONNECTING;
}

static int parse_args(int argc, char **argv, bool *syslog_on, bool *debug)
{
	static const struct option lo[] = {
		{"fd", 1, NULL, 'f'},	    {"node", 1, NULL, 'n'},	  {"store", 1, NULL, 's'},
		{"statedir", 1, NULL, 'd'}, {"sync", 1, NULL, 'y'},	  {"timeout", 1, NULL, 't'},
		{"poll", 1, NULL, 'p'},	    {"tombstones", 1, NULL, 'b'}, {"syslog", 0, NULL, 'l'},
		{"debug", 0, NULL, 'g'},    {"state", 1, NULL, 'w'},	  {"watch", 1, NULL, 'W'},
		{"parent", 1, NULL, 'P'},   {NULL, 0, NULL, 0},
	};
	struct rfs_sloop_opts *o = &side.opts;
	char err[300];
	int c;

	side.fd = -1;
	o->watch = true;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			side.fd = atoi(optarg);
			break;
		case 'n':
			o->node = optarg;
			break;
		case 's':
			o->store = optarg;
			break;
		case 'd':
			o->statedir = optarg;
			break;
		case 'y':
			o->sync_store = strcmp(optarg, "store") == 0;
			break;
		case 't':
			o->timeout = num(optarg);
			break;
		case 'p':
			o->poll = num(optarg);
			break;
		case 'b':
			o->tombstones = num(optarg);
			break;
		case 'l':
			*syslog_on = true;
			break;
		case 'g':
			*debug = true;
			break;
		case 'w':
			side.initial = state_named(optarg);
			break;
		case 'W':
			o->watch = strcmp(optarg, "off") != 0;
			break;
		case 'P':
			side.parent = (pid_t)atoi(optarg);
			break;
		default:
			return -EINVAL;
		}
	}
	if (side.fd < 0 || !o->node || !o->store || !o->statedir || o->timeout <= 0 || o->poll <= 0)
		return -EINVAL;
	if (rfs_store_spec_parse(o->store, &o->spec, err, sizeof(err))) {
		fprintf(stderr, "rmtabfs-store: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Tells the mount side who we are: the link's protocol, this build, our pid. */
static void hello(void)
{
	struct rfs_buf p = RFS_BUF_INIT;

	if (rfs_link_put_u64(&p, RFS_LINK_PROTO) == 0 && rfs_link_put_str(&p, RFS_VERSION) == 0 &&
	    rfs_link_put_u64(&p, (uint64_t)getpid()) == 0)
		send_frame(RFS_LK_HELLO, 0, &p);
	rfs_buf_free(&p);
}

int main(int argc, char **argv)
{
	bool syslog_on = false, debug = false;
	struct rfs_sloop *loop;
	pthread_t reader;

	if (parse_args(argc, argv, &syslog_on, &debug)) {
		fprintf(stderr,
			"usage: rmtabfs-store --fd N --node NODE --store STORE --statedir DIR "
			"--timeout S --poll S [--sync local|store] [--tombstones S] [--syslog] "
			"[--debug]\n(started by rmtabfs, not by hand)\n");
		return 2;
	}
	rfs_log_init("rmtabfs-store", syslog_on, debug ? LOG_DEBUG : LOG_NOTICE);
	/*
	 * Die with the mount side, at once: this process holds the node's owner lock on the
	 * store, and a mount side restarted after a kill -9 (systemd: 250 ms later) must find it
	 * free. The end of the link says the same, but only once this process next reads it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || (side.parent && getppid() != side.parent))
		_exit(RFS_STORE_EXIT_LINK);
	signal(SIGPIPE, SIG_IGN);
	/* Stopped by the mount side (STOP, or the end of the link), never by a group signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	side.rs = rfs_rs_remote(side.fd);
	if (!side.rs)
		return 1;
	hello();
	/* The reader first: starting the loop asks the mount side already. */
	if (pthread_create(&reader, NULL, read_link, NULL))
		return 1;
	loop = rfs_sloop_start(side.rs, &side.opts, side.initial, on_round, NULL);
	if (!loop)
		_exit(1);
	atomic_store(&side.loop, loop);
	pthread_join(reader, NULL); /* it ends the process */
	return 0;
}
