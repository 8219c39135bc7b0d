/*
 * The mount side of replication (include/rmtabfs/repl.h): it supervises the store side
 * process (rmtabfs-store) and serves its record-set requests, on one link thread.
 *
 * Invariants:
 *  - FUSE requests never wait for the store side: a commit's wake is an eventfd write (the
 *    link thread turns it into one WAKE frame, coalesced); sync=store waits are bounded by
 *    timeout= and stop at the first one that times out until the store side confirms more;
 *    status reads what the store side last pushed; rmtabctl compact waits at most 60 s;
 *  - the link thread never blocks on the socket (non-blocking, its output buffered), so a
 *    SIGSTOPped or hung store side delays nothing here; it is killed (-9) when it has not
 *    answered for timeout=, and replaced at once when it exits, crashes or is killed, after
 *    a backoff (0.1 s doubling to 5 s) while it keeps dying within QUICK_DEATH seconds;
 *  - what the store side asks is answered by the record set (fs/recset.c, fs/rsserve.c),
 *    which also remembers the log positions of the last checkpoint: a new store side goes on
 *    reading from there (reading an op twice is harmless: ops are idempotent);
 *  - stop: the store side is told to stop (it ships what is left for at most
 *    min(timeout=, 0.5 s) and writes a checkpoint), and killed if it has not exited
 *    STOP_GRACE later; then a last checkpoint here. Under a second in every state.
 * Lock order: repl.lock is a leaf (the link thread calls the record set without it).
 */
#include "storelink.h"

static void poke(struct rfs_repl *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is set already: the link thread wakes anyway */
	}
}

/* Appends one frame to the output (sent when the socket takes it). */
static void queue(struct rfs_repl *r, uint32_t type, uint64_t id, const struct rfs_buf *payload)
{
	size_t start;

	if (rfs_link_begin(&r->out, type, id, &start))
		return;
	if (payload && payload->len && rfs_buf_append(&r->out, payload->data, payload->len)) {
		r->out.len = start;
		return;
	}
	rfs_link_end(&r->out, start);
}

/* A STATE frame: what status shows and sync=store waiters wait for. */
static void on_state(struct rfs_repl *r, const char *p, size_t len)
{
	struct rfs_link_rd rd = {.p = p, .left = len};
	struct peer_st *peers = NULL;
	uint64_t state = rfs_link_get_u64(&rd), since = rfs_link_get_u64(&rd), n, i;
	uint64_t shipped = rfs_link_get_u64(&rd), ops = rfs_link_get_u64(&rd);
	uint64_t snap = rfs_link_get_u64(&rd), seg = rfs_link_get_u64(&rd);
	char err[256], refused[256];

	rfs_link_get_str(&rd, err, sizeof(err));
	rfs_link_get_str(&rd, refused, sizeof(refused));
	n = rfs_link_get_u64(&rd);
	if (rd.bad || state > RFS_REPL_REFUSED || n > 100000)
		return;
	peers = calloc(n ? n : 1, sizeof(*peers));
	for (i = 0; peers && i < n; i++) {
		rfs_link_get_str(&rd, peers[i].node, sizeof(peers[i].node));
		peers[i].seg = (uint32_t)rfs_link_get_u64(&rd);
		peers[i].offset = rfs_link_get_u64(&rd);
		peers[i].size = rfs_link_get_u64(&rd);
		peers[i].damaged = rfs_link_get_u64(&rd) != 0;
	}
	if (!peers || rd.bad) {
		free(peers);
		return;
	}
	pthread_mutex_lock(&r->lock);
	r->state = (enum rfs_repl_state)state;
	r->state_since = (double)since / 1e9;
	if (shipped > r->shipped_seq)
		r->slow = false;
	r->shipped_seq = shipped;
	r->shipped_ops = ops;
	r->snapshot = snap;
	r->own_seg = (uint32_t)seg;
	snprintf(r->last_error, sizeof(r->last_error), "%s", err);
	snprintf(r->refused_msg, sizeof(r->refused_msg), "%s", refused);
	free(r->peers);
	r->peers = peers;
	r->npeers = n;
	r->first_done = true;
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
}

static void on_compacted(struct rfs_repl *r, uint64_t id, const char *p, size_t len)
{
	struct rfs_link_rd rd = {.p = p, .left = len};
	int64_t rc = (int64_t)rfs_link_get_u64(&rd);

	pthread_mutex_lock(&r->lock);
	rfs_link_get_str(&rd, r->compact_msg, sizeof(r->compact_msg));
	r->compact_rc = rd.bad ? -EPROTO : (int)rc;
	if (id > r->compact_done)
		r->compact_done = id;
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
}

static bool on_hello(struct rfs_repl *r, const char *p, size_t len)
{
	struct rfs_link_rd rd = {.p = p, .left = len};
	uint64_t proto = rfs_link_get_u64(&rd);
	char version[64];

	rfs_link_get_str(&rd, version, sizeof(version));
	if (rd.bad || proto != RFS_LINK_PROTO || strcmp(version, RFS_VERSION) != 0) {
		rfs_err("store side %s is another build (version %s, link %llu; expected %s, %d)",
			r->exe, version, (unsigned long long)proto, RFS_VERSION, RFS_LINK_PROTO);
		return false;
	}
	r->hello_ok = true;
	return true;
}

/* Answers a record-set request; the payload is copied first (aligned for the arrays). */
static int on_request(struct rfs_repl *r, const struct rfs_link_hdr *h, const char *p)
{
	struct rfs_buf ans = RFS_BUF_INIT;
	int rc;

	rfs_buf_resize(&r->scratch, 0);
	rc = rfs_buf_append(&r->scratch, p, h->len);
	if (!rc)
		rc = rfs_rs_serve(r->rs, h->type, r->scratch.data ? r->scratch.data : "", h->len,
				  &ans);
	if (!rc)
		queue(r, RFS_LK_RESP, h->id, &ans);
	if (!rc && h->type == RFS_RQ_NOTE_SHIPPED && h->len >= sizeof(uint64_t)) {
		uint64_t seq;

		/* Confirmed on the store: sync=store waiters need not wait for the next push. */
		memcpy(&seq, r->scratch.data, sizeof(seq));
		pthread_mutex_lock(&r->lock);
		if (seq > r->shipped_seq) {
			r->shipped_seq = seq;
			r->slow = false;
			pthread_cond_broadcast(&r->event);
		}
		pthread_mutex_unlock(&r->lock);
	}
	rfs_buf_free(&ans);
	return rc;
}

/* One frame from the store side: false if the link must end. */
static bool on_frame(struct rfs_repl *r, const struct rfs_link_hdr *h, const char *p)
{
	r->last_heard = rfs_mono();
	if (!r->hello_ok && h->type != RFS_LK_HELLO)
		return false;
	switch (h->type) {
	case RFS_LK_HELLO:
		return on_hello(r, p, h->len);
	case RFS_LK_STATE:
		on_state(r, p, h->len);
		return true;
	case RFS_LK_COMPACTED:
		on_compacted(r, h->id, p, h->len);
		return true;
	case RFS_LK_PONG:
		return true;
	}
	if (h->type >= RFS_RQ_SELF_SEQ) {
		int rc = on_request(r, h, p);

		/* It waited for us, not we for it. */
		r->last_heard = rfs_mono();
		if (rc)
			rfs_err("store side: request %u not answered: %s", h->type, strerror(-rc));
		return rc == 0;
	}
	return false;
}

/* Reads what the store side sent and handles every complete frame: false when it ended. */
static bool read_link(struct rfs_repl *r)
{
	size_t used = 0;
	bool ok = true;

	for (;;) {
		ssize_t n;

		if (rfs_buf_reserve(&r->in, 65536))
			return false;
		n = read(r->sock, r->in.data + r->in.len, r->in.cap - r->in.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		r->in.len += (size_t)n;
		if (r->in.len - used >= 4u << 20)
			break; /* handle these first */
	}
	for (;;) {
		struct rfs_link_hdr h;
		const char *p;
		int rc = rfs_link_parse(r->in.data + used, r->in.len - used, &h, &p);

		if (rc < 0)
			ok = false;
		if (rc <= 0 || !ok)
			break;
		ok = on_frame(r, &h, p);
		used += sizeof(h) + h.len;
	}
	memmove(r->in.data, r->in.data + used, r->in.len - used);
	r->in.len -= used;
	return ok;
}

/* Writes what the socket takes now; false when the link is broken. */
static bool write_link(struct rfs_repl *r)
{
	while (r->out.len) {
		ssize_t n = send(r->sock, r->out.data, r->out.len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		memmove(r->out.data, r->out.data + n, r->out.len - (size_t)n);
		r->out.len -= (size_t)n;
	}
	if (r->wake_pending) {
		/* Coalesced: one WAKE, sent only once the socket had room for everything else. */
		r->wake_pending = false;
		queue(r, RFS_LK_WAKE, 0, NULL);
		return write_link(r);
	}
	return true;
}

/* Timers of a running store side: stop, heartbeat, compaction. False if it was killed. */
static bool tend_child(struct rfs_repl *r, bool stop, double *wait)
{
	double t = rfs_mono(), ping_every = fmax(0.05, fmin(r->opts->timeout / 4, 1.0));
	uint64_t want;

	if (stop && !r->stop_sent) {
		queue(r, RFS_LK_STOP, 0, NULL);
		r->stop_sent = true;
		r->stop_deadline = t + fmin(r->opts->timeout, FINAL_SHIP_MAX) + STOP_GRACE;
	}
	if (stop && t >= r->stop_deadline) {
		rfs_sc_kill_child(r, "killed: did not stop within %.2f s",
				  fmin(r->opts->timeout, FINAL_SHIP_MAX) + STOP_GRACE);
		return false;
	}
	if (!stop && t - r->last_heard > r->opts->timeout) {
		rfs_sc_kill_child(r, "killed: no answer for %.1f s", t - r->last_heard);
		return false;
	}
	if (t - r->last_ping >= ping_every) {
		queue(r, RFS_LK_PING, 0, NULL);
		r->last_ping = t;
	}
	pthread_mutex_lock(&r->lock);
	want = r->compact_asked;
	if (want > r->compact_sent && r->hello_ok) {
		r->compact_sent = want;
		pthread_mutex_unlock(&r->lock);
		queue(r, RFS_LK_COMPACT, want, NULL);
	} else {
		pthread_mutex_unlock(&r->lock);
	}
	*wait = fmin(*wait, ping_every);
	if (stop)
		*wait = fmin(*wait, fmax(0.0, r->stop_deadline - t));
	return true;
}

/* One wait for the socket, the eventfd or a timer, and what they brought. */
static void link_wait(struct rfs_repl *r, double wait)
{
	struct pollfd pfd[2] = {
		{.fd = r->wake_fd, .events = POLLIN},
		{.fd = r->sock, .events = (short)(POLLIN | (r->out.len ? POLLOUT : 0))},
	};
	uint64_t n;

	if (poll(pfd, r->sock >= 0 ? 2 : 1, (int)ceil(wait * 1000)) <= 0)
		return;
	if ((pfd[0].revents & POLLIN) && read(r->wake_fd, &n, sizeof(n)) == sizeof(n) &&
	    r->sock >= 0)
		r->wake_pending = true;
	if (r->sock < 0)
		return;
	if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && !read_link(r)) {
		rfs_sc_child_gone(r);
		return;
	}
	if (!write_link(r))
		rfs_sc_child_gone(r);
}

static void *link_main(void *arg)
{
	struct rfs_repl *r = arg;

	for (;;) {
		double wait = 1.0, t = rfs_mono();
		bool stop;
		int rc;

		pthread_mutex_lock(&r->lock);
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop && r->sock < 0)
			break;
		if (!stop && r->sock < 0 && t >= r->next_spawn) {
			rc = rfs_sc_spawn(r);
			if (rc) {
				rfs_err("cannot start the store side %s: %s", r->exe,
					strerror(-rc));
				r->backoff = fmin(r->backoff * 2, BACKOFF_MAX);
				r->next_spawn = t + r->backoff;
			}
		}
		if (r->sock >= 0 && !tend_child(r, stop, &wait))
			continue;
		if (r->sock < 0)
			wait = fmin(wait, fmax(0.0, r->next_spawn - t));
		if (r->sock >= 0 && r->out.len && !write_link(r)) {
			rfs_sc_child_gone(r);
			continue;
		}
		link_wait(r, wait);
	}
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct rfs_repl *rfs_repl_start(struct rfs_core *core, const struct rfs_options *opts)
{
	struct rfs_repl *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->core = core;
	r->opts = opts;
	r->sock = -1;
	r->backoff = BACKOFF_MIN;
	r->rs = rfs_rs_local(core);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!r->rs || r->wake_fd < 0) {
		rfs_err("cannot start replication: %s", strerror(r->rs ? errno : ENOMEM));
		goto fail;
	}
	rfs_sc_find_exe(r);
	rfs_store_describe(&opts->spec, r->url, sizeof(r->url));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->event, &ca);
	pthread_condattr_destroy(&ca);
	r->state = RFS_REPL_CONNECTING;
	r->state_since = rfs_mono();
	r->mount_started = time(NULL);
	r->shipped_seq = rfs_core_shipped(core);
	snprintf(r->last_error, sizeof(r->last_error), "none");
	snprintf(r->last_exit, sizeof(r->last_exit), "none");
	if (pthread_create(&r->thread, NULL, link_main, r))
		goto fail;
	r->thread_started = true;
	return r;
fail:
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	rfs_rs_free(r->rs);
	free(r);
	return NULL;
}

enum rfs_repl_state rfs_repl_wait_first(struct rfs_repl *r, double timeout, char *msg,
					size_t msglen)
{
	struct timespec ts;
	enum rfs_repl_state s;

	rfs_deadline_in(&ts, timeout);
	pthread_mutex_lock(&r->lock);
	while (!r->first_done)
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT)
			break;
	s = r->state;
	if (msg)
		snprintf(msg, msglen, "%s", s == RFS_REPL_REFUSED ? r->refused_msg : r->last_error);
	pthread_mutex_unlock(&r->lock);
	return s;
}

void rfs_repl_wake(struct rfs_repl *r)
{
	poke(r);
}

void rfs_repl_wait_shipped(struct rfs_repl *r, uint64_t seq)
{
	struct timespec ts;

	poke(r);
	rfs_deadline_in(&ts, r->opts->timeout);
	pthread_mutex_lock(&r->lock);
	while (r->shipped_seq < seq && r->state == RFS_REPL_UP && !r->slow && !r->stop) {
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT) {
			/* Safe in the journal; later requests stop waiting until progress. */
			r->slow = true;
			rfs_warn("store %s: no confirmation within %.1f s; acknowledging from the "
				 "local journal until it catches up",
				 r->url, r->opts->timeout);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

void rfs_repl_request_stop(struct rfs_repl *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	poke(r);
}

/*
 * Says in the log what a stop leaves behind (the next start's status shows it as backlog),
 * unless the store side said it itself at its clean stop.
 */
static void report_left(struct rfs_repl *r)
{
	uint64_t self = rfs_rs_self_seq(r->rs), shipped = r->shipped_seq;
	struct rfs_incarnation inc;

	if (r->clean_stop)
		return;
	if (rfs_rs_incarnation(r->rs, &inc) == 0 && inc.floor > shipped)
		shipped = inc.floor;
	rfs_store_report_left(r->url, self, shipped);
}

int rfs_repl_stop(struct rfs_repl *r)
{
	struct rfs_peer_pos *pos = NULL;
	size_t n = 0;

	if (!r)
		return 0;
	rfs_repl_request_stop(r);
	if (r->thread_started)
		pthread_join(r->thread,
			     NULL); /* bounded: the store side is killed at its deadline */
	report_left(r);
	/* The positions the store side's last checkpoint named: nothing read later is lost. */
	if (rfs_rs_loaded_peers(r->rs, &pos, &n) == 0)
		rfs_core_checkpoint(r->core, pos, n, true);
	free(pos);
	rfs_buf_free(&r->in);
	rfs_buf_free(&r->out);
	rfs_buf_free(&r->scratch);
	free(r->peers);
	rfs_rs_free(r->rs);
	close(r->wake_fd);
	pthread_cond_destroy(&r->event);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return 0;
}

int rfs_repl_compact(struct rfs_repl *r, char *msg, size_t msglen)
{
	struct timespec ts;
	uint64_t mine;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->state != RFS_REPL_UP) {
		snprintf(msg, msglen, "the store is %s", rfs_repl_state_name(r->state));
		pthread_mutex_unlock(&r->lock);
		return -ENOTCONN;
	}
	mine = ++r->compact_asked;
	poke(r);
	rfs_deadline_in(&ts, COMPACT_WAIT);
	while (r->compact_done < mine && !r->stop)
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT)
			break;
	if (r->compact_done < mine) {
		snprintf(msg, msglen, "%s", r->stop ? "stopping" : "no answer within 60 s");
		rc = -ETIMEDOUT;
	} else {
		snprintf(msg, msglen, "%s", r->compact_msg);
		rc = r->compact_rc;
	}
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : 0;
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The two processes: pids, start times, restarts, why the last store side ended. */
static int status_processes(struct rfs_repl *r, struct rfs_buf *out)
{
	char mount_t[32], child_t[32] = "none", pid[16] = "none";
	int rc;

	iso_time(r->mount_started, mount_t, sizeof(mount_t));
	if (r->pid > 0) {
		iso_time(r->child_started, child_t, sizeof(child_t));
		snprintf(pid, sizeof(pid), "%d", (int)r->pid);
	}
	rc = rfs_buf_printf(out,
			    "mount-side-pid: %d\n"
			    "mount-side-started: %s\n"
			    "store-side-pid: %s\n"
			    "store-side-started: %s\n"
			    "store-side-restarts: %u\n"
			    "store-side-last-exit: %s\n",
			    (int)getpid(), mount_t, pid, child_t, r->restarts, r->last_exit);
	return rc;
}

int rfs_repl_status(struct rfs_repl *r, struct rfs_buf *out)
{
	uint64_t self_seq = rfs_rs_self_seq(r->rs);
	size_t i, n;
	struct peer_st *peers;
	uint64_t *seqs;
	int rc;

	/* The peers' applied sequences come from the record set, outside repl.lock. */
	pthread_mutex_lock(&r->lock);
	n = r->npeers;
	peers = calloc(n ? n : 1, sizeof(*peers));
	if (peers && n)
		memcpy(peers, r->peers, n * sizeof(*peers));
	pthread_mutex_unlock(&r->lock);
	seqs = calloc(n ? n : 1, sizeof(*seqs));
	if (!peers || !seqs) {
		free(peers);
		free(seqs);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		seqs[i] = rfs_rs_node_applied(r->rs, peers[i].node);
	pthread_mutex_lock(&r->lock);
	rc = rfs_buf_printf(
		out,
		"store: %s\n"
		"state: %s\n"
		"state-since: %.1f s ago\n"
		"last-error: %s\n"
		"last-seq: %llu\n"
		"shipped-seq: %llu\n"
		"backlog: %llu\n"
		"shipped-ops: %llu\n"
		"snapshot: %llu\n"
		"log-segment: %u\n",
		r->url, rfs_repl_state_name(r->state), rfs_mono() - r->state_since, r->last_error,
		(unsigned long long)self_seq, (unsigned long long)r->shipped_seq,
		(unsigned long long)(self_seq > r->shipped_seq ? self_seq - r->shipped_seq : 0),
		(unsigned long long)r->shipped_ops, (unsigned long long)r->snapshot, r->own_seg);
	if (!rc && r->state == RFS_REPL_REFUSED)
		rc = rfs_buf_printf(out, "refused: %s\n", r->refused_msg);
	if (!rc)
		rc = status_processes(r, out);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; !rc && i < n; i++)
		rc = rfs_buf_printf(out, "peer: %s seq=%llu segment=%u offset=%llu behind=%llu%s\n",
				    peers[i].node, (unsigned long long)seqs[i], peers[i].seg,
				    (unsigned long long)peers[i].offset,
				    (unsigned long long)(peers[i].size > peers[i].offset
								 ? peers[i].size - peers[i].offset
								 : 0),
				    peers[i].damaged ? " damaged" : "");
	free(peers);
	free(seqs);
	return rc;
}
