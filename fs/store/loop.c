/*
 * The store side's replication thread (include/rmtabfs/sloop.h, DESIGN §4, §6 and §9). It
 * runs in rmtabfs-store (fs/store/main.c); the record set it works on is the mount side's,
 * asked through include/rmtabfs/recset.h (each call a request over the link).
 *
 * Invariants:
 *  - nodes/SELF.log holds this node's ops in sequence order, each once: before shipping,
 *    the log's last complete line says which sequence the store already has (a torn tail
 *    from a crash is cut first), and only later ops are appended; so reconnecting after an
 *    outage ships the journal's tail exactly once;
 *  - another node's log is applied up to its last complete line and never past a damaged
 *    one; the byte offset reached is saved in the checkpoint so a restart goes on from there;
 *  - an op counts as shipped (shipped_seq, the state directory's "shipped") only once it is
 *    written to our log and that log fsync'ed; with sync=local the fsync follows the write
 *    within SHIP_SYNC_DELAY (other nodes read the op before it), with sync=store at once;
 *  - the journal is emptied only when the store has every op in it and a checkpoint that
 *    includes them is on disk, both checked under the core's commit lock (recset.c);
 *  - only this thread calls the store; a hung call (a frozen brick) therefore hangs only
 *    this process, which stops answering pings after timeout seconds and is replaced;
 *  - this node's ops are shipped only once its incarnation is anchored: the store was read
 *    back and holds nothing of ours above the incarnation's floor (renumbered first if it
 *    did), so a lost state directory never reuses a (node, seq) pair; the anchor is recorded
 *    only after a checkpoint holds what was read back (an anchored incarnation is never read
 *    back again);
 *  - a failed connect ends the process once its state is reported: what a failed attempt
 *    leaves behind (a glfs_t that must not be finished) goes with it, and the mount side
 *    starts a fresh store side, with backoff;
 *  - stop: long loops (catch-up, tailing, adoption, compaction) end at halting; the last
 *    ship ends at aborting; rfs_sloop_stop() never waits for a hung call.
 * Files: loop.c (this state machine and its API), prepare.c (connect, owner lock,
 * anchoring), ship.c, tail.c, compact.c (+ adoption), layout.c (store names); the record set
 * is asked only through include/rmtabfs/recset.h.
 * Lock order: repl.lock is a leaf; the record set's locks are taken inside its functions and
 * never held here (they are the other process's). repl.lock guards what the state push
 * (rfs_sloop_state) reads; it is never held across a store call, a request or a wait.
 */
#include <rmtabfs/store_watch.h>

#include "internal.h"

void st_wake_thread(struct rfs_sloop *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already set: the thread wakes anyway */
	}
}

/* One log line per change of state, not per MOUNT. Called with r->lock held. */
void st_set_state(struct rfs_sloop *r, enum rfs_repl_state s, int err)
{
	if (err)
		snprintf(r->last_error, sizeof(r->last_error), "%s", strerror(-err));
	if (r->state == s)
		return;
	r->state = s;
	r->state_since = rfs_mono();
	switch (s) {
	case RFS_REPL_UP:
		rfs_notice("store %s: connected; %llu op(s) of this node still to ship", r->url,
			   (unsigned long long)st_backlog_locked(r));
		break;
	case RFS_REPL_DOWN:
		rfs_warn("store %s: unreachable (%s); changes are kept in the local journal and "
			 "shipped when it is back",
			 r->url, r->last_error);
		break;
	case RFS_REPL_REFUSED:
		rfs_err("store %s: %s", r->url, r->refused_msg);
		break;
	case RFS_REPL_CONNECTING:
		break;
	}
	pthread_cond_broadcast(&r->event);
}

/* One round of work: connect, prepare, ship, confirm, tail, owner check, snapshots. */
static int one_round(struct rfs_sloop *r, double *ship_in)
{
	int rc = 0;

	if (!r->connected && !st_stopping(r)) {
		atomic_store(&r->connecting, true);
		st_call_begin(r);
		rc = r->store.ops->connect(&r->store);
		st_call_end(r);
		atomic_store(&r->connecting, false);
		if (!rc)
			r->connected = true;
		else
			r->connect_failed = true;
	}
	if (!rc && !r->prepared && !st_stopping(r)) {
		rc = st_prepare(r);
		if (rc)
			st_close_files(r);
	}
	*ship_in = 0;
	if (!rc && r->prepared) {
		double since = rfs_mono() - r->last_ship;

		if (r->opts->sync_store || since >= SHIP_BATCH_DELAY) {
			uint64_t before = r->written_seq;

			rc = st_ship(r);
			if (r->written_seq != before)
				r->last_ship = rfs_mono();
		} else if (st_unshipped(r)) {
			*ship_in = SHIP_BATCH_DELAY - since;
		}
	}
	if (!rc && r->prepared && r->unsynced_since &&
	    rfs_mono() - r->unsynced_since >= SHIP_SYNC_DELAY)
		rc = st_confirm(r);
	if (!rc && r->prepared && !st_stopping(r))
		rc = st_tail_peers(r);
	if (!rc && r->prepared && !st_stopping(r))
		rc = st_check_owner(r);
	if (!rc && r->prepared)
		rc = st_snapshots(r);
	if (rfs_mono() - r->last_checkpoint >= CHECKPOINT_EVERY)
		st_checkpoint(r, false);
	if (!rc)
		st_maybe_reset_journal(r);
	return rc;
}

/* Go on reading other logs where the checkpoint left them. */
static void restore_positions(struct rfs_sloop *r)
{
	struct rfs_peer_pos *loaded = NULL;
	size_t i, nloaded = 0;

	if (rfs_rs_loaded_peers(r->rs, &loaded, &nloaded))
		return;
	for (i = 0; i < nloaded; i++) {
		struct peer *p = st_peer_get(r, loaded[i].node);

		if (p) {
			p->seg = loaded[i].seg;
			p->offset = loaded[i].offset;
			p->skip = loaded[i].skip;
		}
	}
	free(loaded);
}

static void *repl_main(void *arg)
{
	struct rfs_sloop *r = arg;
	double backoff = 0.1;

	restore_positions(r);
	r->last_checkpoint = rfs_mono();
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		double wait = r->opts->poll, ship_in = 0;
		int rc;

		pthread_mutex_unlock(&r->lock);
		rc = one_round(r, &ship_in);
		pthread_mutex_lock(&r->lock);
		if (rc == -EADDRINUSE) {
			st_set_state(r, RFS_REPL_REFUSED, rc);
			wait = 10;
		} else if (rc) {
			st_set_state(r, RFS_REPL_DOWN, rc);
			wait = backoff;
			backoff = fmin(backoff * 2, BACKOFF_MAX);
		} else {
			st_set_state(r, RFS_REPL_UP, 0);
			backoff = 0.1;
			if (r->unsynced_since)
				wait = fmax(0.0, fmin(wait, r->unsynced_since + SHIP_SYNC_DELAY -
								    rfs_mono()));
			if (ship_in > 0)
				wait = fmin(wait, ship_in);
		}
		if (rc && r->prepared) {
			pthread_mutex_unlock(&r->lock);
			st_close_files(r);
			pthread_mutex_lock(&r->lock);
		}
		pthread_mutex_unlock(&r->lock);
		if (r->on_round)
			r->on_round(r, r->on_round_ctx);
		if (r->connect_failed && !st_stopping(r)) {
			/* Reported above; a new process tries again (the mount side's backoff). */
			rfs_info("store %s: cannot connect (%s): this store side exits", r->url,
				 r->last_error);
			_exit(RFS_STORE_EXIT_CONNECT);
		}
		pthread_mutex_lock(&r->lock);
		if (!r->stop) {
			struct pollfd pfd[2] = {{.fd = r->wake_fd, .events = POLLIN}};
			uint64_t n;

			pthread_mutex_unlock(&r->lock);
			/* The store's hint that another node wrote (-1: none, skipped). */
			pfd[1].fd = rc ? -1 : rfs_store_watch_fd(&r->store);
			pfd[1].events = POLLIN;
			if (poll(pfd, 2, (int)ceil(wait * 1000)) > 0 && pfd[0].revents &&
			    read(r->wake_fd, &n, sizeof(n)) < 0) {
				/* EAGAIN: someone else drained it */
			}
			if (pfd[1].revents)
				rfs_store_watch_clear(&r->store);
			pthread_mutex_lock(&r->lock);
		}
	}
	pthread_mutex_unlock(&r->lock);
	st_final_ship(r);
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct rfs_sloop *rfs_sloop_start(struct rfs_rs *rs, const struct rfs_sloop_opts *opts,
				  enum rfs_repl_state initial,
				  void (*on_round)(struct rfs_sloop *r, void *ctx), void *ctx)
{
	struct rfs_sloop *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->rs = rs;
	r->on_round = on_round;
	r->on_round_ctx = ctx;
	r->opts = opts;
	if (rfs_store_init(&r->store, &opts->spec)) {
		rfs_err("store %s: not supported by this build", opts->store);
		free(r);
		return NULL;
	}
	snprintf(r->store.logfile, sizeof(r->store.logfile), "%s/gfapi.log", opts->statedir);
	rfs_store_describe(&opts->spec, r->url, sizeof(r->url));
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		rfs_err("cannot create an eventfd: %s", strerror(errno));
		free(r);
		return NULL;
	}
	r->store.cancel = &r->halting;
	r->store.watch_on = opts->watch;
	r->store.node = opts->node;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->event, &ca);
	pthread_condattr_destroy(&ca);
	r->state = initial;
	r->state_since = rfs_mono();
	r->crash_at = getenv("RMTABFS_TEST_CRASH");
	snprintf(r->last_error, sizeof(r->last_error), "none");
	/* Before the first prepare: what the state directory says is on the store already. */
	{
		struct rfs_incarnation inc;
		uint64_t shipped = rfs_rs_shipped(r->rs);

		rfs_rs_incarnation(r->rs, &inc);
		r->shipped_seq = r->written_seq = shipped > inc.floor ? shipped : inc.floor;
	}
	if (pthread_create(&r->thread, NULL, repl_main, r)) {
		close(r->wake_fd);
		free(r);
		return NULL;
	}
	r->thread_started = true;
	return r;
}

void rfs_sloop_wake(struct rfs_sloop *r)
{
	st_wake_thread(r);
}

void rfs_sloop_request_stop(struct rfs_sloop *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	atomic_store(&r->halting, true);
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	st_wake_thread(r);
}

/* Waits (bounded) until the thread has returned; true if it has. */
static bool wait_done(struct rfs_sloop *r, double secs)
{
	struct timespec ts;
	bool done;

	rfs_deadline_in(&ts, secs);
	pthread_mutex_lock(&r->lock);
	while (!r->done)
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT)
			break;
	done = r->done;
	pthread_mutex_unlock(&r->lock);
	return done;
}

/* Says in the log what a stop leaves behind (the next start's status shows it as backlog). */
static void report_left(struct rfs_sloop *r)
{
	uint64_t self, shipped;

	self = rfs_rs_self_seq(r->rs);
	pthread_mutex_lock(&r->lock);
	shipped = r->shipped_seq;
	pthread_mutex_unlock(&r->lock);
	rfs_store_report_left(r->url, self, shipped);
}

int rfs_sloop_stop(struct rfs_sloop *r)
{
	double budget;
	int64_t started;
	bool done = true;

	if (!r)
		return 0;
	rfs_sloop_request_stop(r);
	if (r->thread_started) {
		started = atomic_load(&r->call_started_ns);
		budget = fmin(r->opts->timeout, FINAL_SHIP_MAX);
		if (started && (double)(rfs_mono_ns() - started) / 1e9 >= HUNG_AT_STOP)
			budget = 0;
		done = wait_done(r, budget);
		if (!done) {
			atomic_store(&r->aborting, true);
			done = wait_done(r, ABORT_GRACE);
		}
	}
	report_left(r);
	st_checkpoint(r, true);
	if (!done) {
		/* A store call hangs (a frozen brick); nothing is lost: the journal has it all. */
		rfs_warn("store %s: a call is still hanging; stopping without it", r->url);
		return -EBUSY;
	}
	/* The loop is done with the hint's counters: its summary line, as a disconnect gives. */
	if (r->store.watch)
		rfs_watch_retire(r->store.watch);
	/*
	 * Nothing is freed or closed: the process ends now (its descriptors, the owner lock
	 * with them, go at exit), and its reader thread may still pass on a frame to r.
	 */
	return 0;
}

bool rfs_sloop_hung(struct rfs_sloop *r, double timeout)
{
	int64_t started = atomic_load(&r->call_started_ns);
	double secs = started ? (double)(rfs_mono_ns() - started) / 1e9 : 0;

	/* Setting up a connection (glfs_init) legitimately takes seconds on a busy cluster. */
	return secs > (atomic_load(&r->connecting) ? fmax(timeout, CONNECT_MAX) : timeout);
}

int rfs_sloop_state(struct rfs_sloop *r, struct rfs_buf *out)
{
	size_t i;
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = rfs_link_put_u64(out, r->state);
	if (!rc)
		rc = rfs_link_put_u64(out, (uint64_t)(r->state_since * 1e9));
	if (!rc)
		rc = rfs_link_put_u64(out, r->shipped_seq);
	if (!rc)
		rc = rfs_link_put_u64(out, r->shipped_ops);
	if (!rc)
		rc = rfs_link_put_u64(out, r->snap_newest);
	if (!rc)
		rc = rfs_link_put_u64(out, r->own_seg);
	if (!rc)
		rc = rfs_link_put_str(out, r->last_error);
	if (!rc)
		rc = rfs_link_put_str(out, r->refused_msg);
	if (!rc)
		rc = rfs_link_put_u64(out, r->npeers);
	for (i = 0; !rc && i < r->npeers; i++) {
		const struct peer *p = &r->peers[i];

		rc = rfs_link_put_str(out, p->node);
		if (!rc)
			rc = rfs_link_put_u64(out, p->seg);
		if (!rc)
			rc = rfs_link_put_u64(out, p->offset);
		if (!rc)
			rc = rfs_link_put_u64(out, p->size);
		if (!rc)
			rc = rfs_link_put_u64(out, p->damaged_at != UINT64_MAX);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}
