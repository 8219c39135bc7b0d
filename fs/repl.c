/*
 * Replication thread (see include/rmtabfs/repl.h, DESIGN §4 and §6).
 *
 * Invariants:
 *  - nodes/SELF.log holds this node's ops in sequence order, each once: before shipping,
 *    the log's last complete line says which sequence the store already has (a torn tail
 *    from a crash is cut first), and only later ops are appended; so reconnecting after an
 *    outage ships the journal's tail exactly once;
 *  - another node's log is applied up to its last complete line and never past a damaged
 *    one; the byte offset reached is saved in the checkpoint so a restart goes on from there;
 *  - the journal is emptied only when the store has every op in it and a checkpoint that
 *    includes them is on disk, both checked under the core's commit lock;
 *  - only this thread calls the store; a hung call (a frozen brick) therefore hangs only
 *    this thread, and the state it reports says so after timeout seconds.
 * Lock order: core.commit_lock, then repl.lock, then core.table_lock. repl.lock is never
 * held across a store call.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/store.h>

#define CHUNK (1u << 20)
#define JOURNAL_RESET_BYTES (4u << 20)
#define CHECKPOINT_EVERY 5.0
#define LIST_EVERY 1.0
#define DAMAGE_RETRY 10.0
#define BACKOFF_MAX 5.0
#define OWNER_CHECK_EVERY 5.0

struct peer {
	char node[RFS_NODE_MAX + 1];
	struct rfs_sfile *f;
	uint64_t offset; /* bytes of its log applied */
	uint64_t size;   /* size last seen */
	uint64_t damaged_at;
	double damaged_retry;
};

struct rfs_repl {
	struct rfs_core *core;
	const struct rfs_options *opts;
	struct rfs_store store;
	char url[PATH_MAX + 64];
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* wakes the thread */
	pthread_cond_t event; /* wakes waiters: first attempt done, ship progress */
	bool stop;
	bool wake;
	bool first_done;
	bool connected; /* backend connected (a glfs_t exists) */
	bool prepared;  /* files open, owner lock held */
	bool slow;      /* a sync=store wait timed out: do not wait again until progress */
	enum rfs_repl_state state;
	double state_since;
	char last_error[256];
	char refused_msg[256];
	uint64_t shipped_seq;
	uint64_t ship_off; /* journal offset of the first op not known shipped */
	uint64_t own_size;
	struct rfs_sfile *own_log;
	struct rfs_sfile *owner;
	struct peer *peers;
	size_t npeers;
	_Atomic int64_t call_started_ns; /* 0 when no store call is running */
	double last_list;
	double last_checkpoint;
	double last_owner_check;
	uint64_t shipped_ops;
	uint64_t shipped_batches;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *rfs_repl_state_name(enum rfs_repl_state s)
{
	switch (s) {
	case RFS_REPL_CONNECTING:
		return "connecting";
	case RFS_REPL_UP:
		return "connected";
	case RFS_REPL_DOWN:
		return "down";
	case RFS_REPL_REFUSED:
		return "refused";
	}
	return "?";
}

/* Store calls are bracketed so that status can tell a hung call. */
static void call_begin(struct rfs_repl *r)
{
	atomic_store(&r->call_started_ns, now_ns());
}

static void call_end(struct rfs_repl *r)
{
	atomic_store(&r->call_started_ns, 0);
}

static uint64_t backlog_locked(struct rfs_repl *r)
{
	uint64_t self;

	pthread_mutex_lock(&r->core->table_lock);
	self = r->core->table.self_seq;
	pthread_mutex_unlock(&r->core->table_lock);
	return self > r->shipped_seq ? self - r->shipped_seq : 0;
}

/* One log line per change of state, not per MOUNT. Called with r->lock held. */
static void set_state(struct rfs_repl *r, enum rfs_repl_state s, int err)
{
	if (err)
		snprintf(r->last_error, sizeof(r->last_error), "%s", strerror(-err));
	if (r->state == s)
		return;
	r->state = s;
	r->state_since = now_mono();
	switch (s) {
	case RFS_REPL_UP:
		rfs_notice("store %s: connected; %llu op(s) of this node still to ship", r->url,
			   (unsigned long long)backlog_locked(r));
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

static void close_files(struct rfs_repl *r)
{
	size_t i;

	call_begin(r);
	if (r->own_log)
		r->store.ops->close(r->own_log);
	if (r->owner)
		r->store.ops->close(r->owner);
	for (i = 0; i < r->npeers; i++)
		if (r->peers[i].f) {
			r->store.ops->close(r->peers[i].f);
			r->peers[i].f = NULL;
		}
	call_end(r);
	r->own_log = r->owner = NULL;
	r->prepared = false;
}

static struct peer *peer_get(struct rfs_repl *r, const char *node)
{
	struct peer *p;
	size_t i;

	for (i = 0; i < r->npeers; i++)
		if (strcmp(r->peers[i].node, node) == 0)
			return &r->peers[i];
	p = realloc(r->peers, (r->npeers + 1) * sizeof(*p));
	if (!p)
		return NULL;
	r->peers = p;
	p = &r->peers[r->npeers++];
	memset(p, 0, sizeof(*p));
	snprintf(p->node, sizeof(p->node), "%s", node);
	p->damaged_at = UINT64_MAX;
	return p;
}

/* Reads the owner file of a node id held by someone else, for the refusal message. */
static void describe_holder(struct rfs_repl *r, const char *rel)
{
	char buf[200];
	size_t len = 0;

	if (rfs_store_read_small(&r->store, rel, buf, sizeof(buf), &len) || !len)
		snprintf(buf, sizeof(buf), "unknown host");
	buf[strcspn(buf, "\n")] = '\0';
	pthread_mutex_lock(&r->lock);
	snprintf(r->refused_msg, sizeof(r->refused_msg),
		 "node id '%s' is already in use by another rmtabfs (%s); each server needs "
		 "its own node=",
		 r->opts->node, buf);
	pthread_mutex_unlock(&r->lock);
}

static int read_own_log(struct rfs_repl *r, uint64_t from, uint64_t to);

/*
 * Makes the store ready for this node: FORMAT, nodes/, the owner lock, and the state of
 * our own log (cutting a torn tail, learning the last sequence it holds).
 */
static int prepare(struct rfs_repl *r)
{
	const struct rfs_store_ops *ops = r->store.ops;
	char rel[128], fmt[64], owner_text[300], host[128];
	size_t len = 0;
	uint64_t last = 0;
	off_t size = 0;
	size_t tail_len;
	char *tail = NULL;
	bool behind;
	int rc;

	rc = rfs_store_read_small(&r->store, "FORMAT", fmt, sizeof(fmt), &len);
	if (rc == -ENOENT) {
		rc = rfs_store_write_small(&r->store, "FORMAT", RFS_STORE_FORMAT,
					   strlen(RFS_STORE_FORMAT));
		if (rc)
			return rc;
	} else if (rc) {
		return rc;
	} else if (strcmp(fmt, RFS_STORE_FORMAT) != 0) {
		fmt[strcspn(fmt, "\n")] = '\0';
		rfs_err("store %s: unknown layout '%s' (expected '%.*s'): refusing to use it",
			r->url, fmt, (int)strlen(RFS_STORE_FORMAT) - 1, RFS_STORE_FORMAT);
		return -EPROTO;
	}
	rc = ops->mkdir(&r->store, "nodes");
	if (rc)
		return rc;

	snprintf(rel, sizeof(rel), "nodes/%s.owner", r->opts->node);
	rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &r->owner);
	if (rc)
		return rc;
	rc = ops->lock(r->owner);
	if (rc == -EAGAIN) {
		ops->close(r->owner);
		r->owner = NULL;
		describe_holder(r, rel);
		return -EADDRINUSE;
	}
	if (rc)
		return rc;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	len = (size_t)snprintf(owner_text, sizeof(owner_text), "host %s pid %d since %lld\n",
			       host, (int)getpid(), (long long)time(NULL));
	if (ops->truncate(r->owner, 0) == 0 && ops->pwrite(r->owner, owner_text, len, 0) > 0)
		ops->fsync(r->owner);

	snprintf(rel, sizeof(rel), "nodes/%s.log", r->opts->node);
	rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &r->own_log);
	if (rc)
		return rc;
	rc = ops->size(r->own_log, &size);
	if (rc)
		return rc;
	/* The last complete line tells what the store has; cut a torn one after it. */
	tail_len = size > 65536 ? 65536 : (size_t)size;
	if (tail_len) {
		bool partial_first = (off_t)tail_len < size;
		size_t start = 0, end;
		ssize_t n;

		tail = malloc(tail_len);
		if (!tail)
			return -ENOMEM;
		n = ops->pread(r->own_log, tail, tail_len, size - (off_t)tail_len);
		if (n != (ssize_t)tail_len) {
			free(tail);
			return n < 0 ? (int)n : -EIO;
		}
		end = tail_len;
		while (end > 0 && tail[end - 1] != '\n')
			end--;
		if (end < tail_len) {
			rfs_warn("store: cutting a torn last line (%zu bytes) of %s",
				 tail_len - end, rel);
			rc = ops->truncate(r->own_log, size - (off_t)(tail_len - end));
			if (rc) {
				free(tail);
				return rc;
			}
			size -= (off_t)(tail_len - end);
		}
		if (partial_first) {
			char *nl = memchr(tail, '\n', end);

			start = nl ? (size_t)(nl - tail) + 1 : end;
		}
		while (start < end) {
			struct rfs_op op;
			struct rfs_op_scratch s;
			size_t used = 0;
			long m = rfs_op_decode(tail + start, end - start, &op, &s, &used);

			if (m > 0 && op.seq > last)
				last = op.seq;
			if (used == 0)
				break;
			start += used;
		}
		free(tail);
	}
	pthread_mutex_lock(&r->lock);
	r->own_size = (uint64_t)size;
	r->shipped_seq = last;
	r->ship_off = 0;
	r->prepared = true;
	pthread_mutex_unlock(&r->lock);

	/* The store knows more of our ops than we do (a lost or new state directory). */
	pthread_mutex_lock(&r->core->table_lock);
	behind = r->core->table.self_seq < last;
	pthread_mutex_unlock(&r->core->table_lock);
	if (behind) {
		rfs_warn("store has ops of this node up to seq %llu that the state directory "
			 "lacks: reading them back",
			 (unsigned long long)last);
		rc = read_own_log(r, 0, (uint64_t)size);
		if (rc)
			return rc;
		pthread_mutex_lock(&r->core->commit_lock);
		pthread_mutex_lock(&r->core->table_lock);
		if (r->core->table.self_seq < last)
			r->core->table.self_seq = last;
		pthread_mutex_unlock(&r->core->table_lock);
		pthread_mutex_unlock(&r->core->commit_lock);
	}
	return 0;
}

static int read_own_log(struct rfs_repl *r, uint64_t from, uint64_t to)
{
	char *buf = malloc(CHUNK);
	uint64_t off = from;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (off < to) {
		size_t want = to - off > CHUNK ? CHUNK : (size_t)(to - off);
		ssize_t n = r->store.ops->pread(r->own_log, buf, want, (off_t)off);
		bool damaged;
		long used;

		if (n <= 0) {
			rc = n < 0 ? (int)n : 0;
			break;
		}
		used = rfs_core_apply_remote(r->core, r->opts->node, buf, (size_t)n, &damaged);
		if (used <= 0)
			break;
		off += (uint64_t)used;
	}
	free(buf);
	return rc;
}

/* Appends the journal's ops the store does not have yet. */
static int ship(struct rfs_repl *r)
{
	struct rfs_core *c = r->core;
	struct rfs_buf batch = RFS_BUF_INIT;
	uint64_t jsize, last_seq, shipped, off;
	char *buf = NULL;
	int rc = 0;

	pthread_mutex_lock(&c->commit_lock);
	jsize = (uint64_t)c->journal.size;
	last_seq = c->journal.last_seq;
	pthread_mutex_unlock(&c->commit_lock);
	pthread_mutex_lock(&r->lock);
	shipped = r->shipped_seq;
	if (r->ship_off > jsize)
		r->ship_off = 0;
	off = r->ship_off;
	pthread_mutex_unlock(&r->lock);
	if (shipped >= last_seq || off >= jsize)
		return 0;
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < jsize && !rc) {
		size_t want = jsize - off > CHUNK ? CHUNK : (size_t)(jsize - off);
		ssize_t n = rfs_journal_read(&c->journal, (off_t)off, buf, want);
		struct rfs_op_scratch s;
		uint64_t top = shipped;
		size_t pos = 0;
		ssize_t w;

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		rfs_buf_resize(&batch, 0);
		while (pos < (size_t)n) {
			struct rfs_op op;
			size_t used = 0;
			long m = rfs_op_decode(buf + pos, (size_t)n - pos, &op, &s, &used);

			if (m == -EAGAIN)
				break;
			if (m > 0 && op.seq > shipped) {
				rc = rfs_buf_append(&batch, buf + pos, (size_t)m);
				if (rc)
					break;
				top = op.seq;
				r->shipped_ops++;
			}
			pos += used;
		}
		if (rc)
			break;
		if (pos == 0) {
			rc = -EIO; /* a line longer than a chunk cannot be in the journal */
			break;
		}
		if (batch.len) {
			call_begin(r);
			w = r->store.ops->pwrite(r->own_log, batch.data, batch.len,
						 (off_t)r->own_size);
			if (w == (ssize_t)batch.len)
				rc = r->store.ops->fsync(r->own_log);
			else
				rc = w < 0 ? (int)w : -EIO;
			call_end(r);
			if (rc) {
				/* Cut what may have landed, so the log holds whole lines only. */
				call_begin(r);
				r->store.ops->truncate(r->own_log, (off_t)r->own_size);
				call_end(r);
				break;
			}
			r->shipped_batches++;
		}
		off += pos;
		shipped = top;
		pthread_mutex_lock(&r->lock);
		r->own_size += batch.len;
		r->shipped_seq = shipped;
		r->ship_off = off;
		r->slow = false;
		pthread_cond_broadcast(&r->event);
		pthread_mutex_unlock(&r->lock);
	}
	free(buf);
	rfs_buf_free(&batch);
	return rc;
}

static int list_one(void *ctx, const char *name)
{
	struct rfs_repl *r = ctx;
	size_t len = strlen(name);
	char node[RFS_NODE_MAX + 1];

	if (len <= 4 || len - 4 > RFS_NODE_MAX || strcmp(name + len - 4, ".log") != 0)
		return 0;
	memcpy(node, name, len - 4);
	node[len - 4] = '\0';
	if (!rfs_node_id_valid(node) || strcmp(node, r->opts->node) == 0)
		return 0;
	pthread_mutex_lock(&r->lock);
	peer_get(r, node);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Applies what other nodes appended since last time. */
static int tail_peers(struct rfs_repl *r)
{
	double t = now_mono();
	char *buf = NULL;
	size_t i;
	int rc = 0;

	if (t - r->last_list >= LIST_EVERY) {
		call_begin(r);
		rc = r->store.ops->list(&r->store, "nodes", list_one, r);
		call_end(r);
		if (rc)
			return rc;
		r->last_list = t;
	}
	for (i = 0; i < r->npeers && !rc; i++) {
		struct peer *p = &r->peers[i];
		char rel[128];
		off_t size = 0;

		if (p->damaged_at != UINT64_MAX && t < p->damaged_retry)
			continue;
		if (!p->f) {
			snprintf(rel, sizeof(rel), "nodes/%s.log", p->node);
			call_begin(r);
			rc = r->store.ops->open(&r->store, rel, O_RDONLY, &p->f);
			call_end(r);
			if (rc == -ENOENT) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
		}
		call_begin(r);
		rc = r->store.ops->size(p->f, &size);
		call_end(r);
		if (rc)
			break;
		if ((uint64_t)size < p->offset) {
			rfs_warn("log of node %s shrank (%lld < %llu bytes): reading it again from "
				 "the start",
				 p->node, (long long)size, (unsigned long long)p->offset);
			pthread_mutex_lock(&r->lock);
			p->offset = 0;
			pthread_mutex_unlock(&r->lock);
		}
		pthread_mutex_lock(&r->lock);
		p->size = (uint64_t)size;
		pthread_mutex_unlock(&r->lock);
		while (p->offset < (uint64_t)size) {
			size_t want = (uint64_t)size - p->offset > CHUNK
					      ? CHUNK
					      : (size_t)((uint64_t)size - p->offset);
			bool damaged = false;
			ssize_t n;
			long used;

			if (!buf && !(buf = malloc(CHUNK))) {
				rc = -ENOMEM;
				break;
			}
			call_begin(r);
			n = r->store.ops->pread(p->f, buf, want, (off_t)p->offset);
			call_end(r);
			if (n < 0) {
				rc = (int)n;
				break;
			}
			if (n == 0)
				break;
			used = rfs_core_apply_remote(r->core, p->node, buf, (size_t)n, &damaged);
			if (used < 0) {
				rc = (int)used;
				break;
			}
			pthread_mutex_lock(&r->lock);
			p->offset += (uint64_t)used;
			pthread_mutex_unlock(&r->lock);
			if (damaged) {
				if (p->damaged_at != p->offset)
					rfs_err("log of node %s is damaged at byte %llu: its later ops "
						"are not applied until it is repaired",
						p->node, (unsigned long long)p->offset);
				p->damaged_at = p->offset;
				p->damaged_retry = t + DAMAGE_RETRY;
				break;
			}
			if (p->damaged_at != UINT64_MAX) {
				rfs_notice("log of node %s readable again at byte %llu", p->node,
					   (unsigned long long)p->damaged_at);
				p->damaged_at = UINT64_MAX;
			}
			if (used == 0)
				break; /* a torn last line: complete next time */
		}
	}
	free(buf);
	return rc;
}

/*
 * The owner lock can vanish without an error (every brick restarted) and then be taken by
 * a second daemon with our node id: take it again now and then, which also tells.
 */
static int check_owner(struct rfs_repl *r)
{
	char rel[128];
	int rc;

	if (now_mono() - r->last_owner_check < OWNER_CHECK_EVERY)
		return 0;
	r->last_owner_check = now_mono();
	call_begin(r);
	rc = r->store.ops->lock(r->owner);
	call_end(r);
	if (rc == -EAGAIN) {
		snprintf(rel, sizeof(rel), "nodes/%s.owner", r->opts->node);
		describe_holder(r, rel);
		return -EADDRINUSE;
	}
	return rc;
}

static struct rfs_peer_pos *peer_positions(struct rfs_repl *r, size_t *n)
{
	struct rfs_peer_pos *pos;
	size_t i;

	pthread_mutex_lock(&r->lock);
	pos = calloc(r->npeers ? r->npeers : 1, sizeof(*pos));
	*n = 0;
	for (i = 0; pos && i < r->npeers; i++) {
		snprintf(pos[i].node, sizeof(pos[i].node), "%s", r->peers[i].node);
		pos[i].offset = r->peers[i].offset;
	}
	if (pos)
		*n = r->npeers;
	pthread_mutex_unlock(&r->lock);
	return pos;
}

static void checkpoint(struct rfs_repl *r, bool force)
{
	size_t n;
	struct rfs_peer_pos *pos = peer_positions(r, &n);

	if (pos)
		rfs_core_checkpoint(r->core, pos, n, force);
	free(pos);
	r->last_checkpoint = now_mono();
}

/* Empties the journal once the store and a checkpoint hold all of it. */
static void maybe_reset_journal(struct rfs_repl *r)
{
	struct rfs_core *c = r->core;
	struct rfs_peer_pos *pos;
	uint64_t shipped;
	size_t n;

	pthread_mutex_lock(&r->lock);
	shipped = r->shipped_seq;
	pthread_mutex_unlock(&r->lock);
	if ((uint64_t)c->journal.size < JOURNAL_RESET_BYTES || shipped < c->journal.last_seq)
		return;
	pos = peer_positions(r, &n);
	if (!pos)
		return;
	pthread_mutex_lock(&c->commit_lock);
	if (shipped >= c->journal.last_seq &&
	    rfs_core_checkpoint(c, pos, n, true) == 0 && rfs_journal_reset(&c->journal) == 0) {
		pthread_mutex_lock(&r->lock);
		r->ship_off = 0;
		pthread_mutex_unlock(&r->lock);
		rfs_info("journal emptied: everything is on the store and in the checkpoint");
	}
	pthread_mutex_unlock(&c->commit_lock);
	free(pos);
}

static void *repl_main(void *arg)
{
	struct rfs_repl *r = arg;
	double backoff = 0.1;
	size_t i;

	/* Go on reading other logs where the checkpoint left them. */
	for (i = 0; i < r->core->loaded.npeers; i++) {
		struct peer *p = peer_get(r, r->core->loaded.peers[i].node);

		if (p)
			p->offset = r->core->loaded.peers[i].offset;
	}
	r->last_checkpoint = now_mono();
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		double wait = r->opts->poll;
		int rc = 0;

		pthread_mutex_unlock(&r->lock);
		if (!r->connected) {
			call_begin(r);
			rc = r->store.ops->connect(&r->store);
			call_end(r);
			if (!rc)
				r->connected = true;
		}
		if (!rc && !r->prepared) {
			rc = prepare(r);
			if (rc)
				close_files(r);
		}
		if (!rc)
			rc = ship(r);
		if (!rc)
			rc = tail_peers(r);
		if (!rc)
			rc = check_owner(r);
		if (now_mono() - r->last_checkpoint >= CHECKPOINT_EVERY)
			checkpoint(r, false);
		if (!rc)
			maybe_reset_journal(r);

		pthread_mutex_lock(&r->lock);
		if (rc == -EADDRINUSE) {
			set_state(r, RFS_REPL_REFUSED, rc);
			wait = 10;
		} else if (rc) {
			set_state(r, RFS_REPL_DOWN, rc);
			wait = backoff;
			backoff = fmin(backoff * 2, BACKOFF_MAX);
		} else {
			set_state(r, RFS_REPL_UP, 0);
			backoff = 0.1;
		}
		if (rc && r->prepared) {
			pthread_mutex_unlock(&r->lock);
			close_files(r);
			pthread_mutex_lock(&r->lock);
		}
		if (!r->first_done) {
			r->first_done = true;
			pthread_cond_broadcast(&r->event);
		}
		if (!r->wake && !r->stop) {
			struct timespec ts;
			double secs;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			secs = (double)ts.tv_nsec / 1e9 + wait;
			ts.tv_sec += (time_t)secs;
			ts.tv_nsec = (long)((secs - floor(secs)) * 1e9);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		}
		r->wake = false;
	}
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
	if (rfs_store_init(&r->store, &opts->spec)) {
		rfs_err("store %s: not supported by this build", opts->store);
		free(r);
		return NULL;
	}
	snprintf(r->store.logfile, sizeof(r->store.logfile), "%s/gfapi.log", opts->statedir);
	rfs_store_describe(&opts->spec, r->url, sizeof(r->url));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_cond_init(&r->event, &ca);
	pthread_condattr_destroy(&ca);
	r->state = RFS_REPL_CONNECTING;
	r->state_since = now_mono();
	snprintf(r->last_error, sizeof(r->last_error), "none");
	if (pthread_create(&r->thread, NULL, repl_main, r)) {
		free(r);
		return NULL;
	}
	r->thread_started = true;
	return r;
}

static void deadline_in(struct timespec *ts, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	secs += (double)ts->tv_nsec / 1e9;
	ts->tv_sec += (time_t)secs;
	ts->tv_nsec = (long)((secs - floor(secs)) * 1e9);
}

enum rfs_repl_state rfs_repl_wait_first(struct rfs_repl *r, double timeout, char *msg,
					size_t msglen)
{
	struct timespec ts;
	enum rfs_repl_state s;

	deadline_in(&ts, timeout);
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
	pthread_mutex_lock(&r->lock);
	r->wake = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void rfs_repl_wait_shipped(struct rfs_repl *r, uint64_t seq)
{
	struct timespec ts;

	rfs_repl_wake(r);
	deadline_in(&ts, r->opts->timeout);
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

void rfs_repl_stop(struct rfs_repl *r)
{
	struct timespec ts;
	bool joined = false;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	if (r->thread_started) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		joined = pthread_timedjoin_np(r->thread, NULL, &ts) == 0;
	}
	checkpoint(r, true);
	if (!joined) {
		/* A store call hangs (frozen brick): nothing is lost, the journal has it all. */
		rfs_warn("store %s: a call is still hanging; stopping without it", r->url);
		return;
	}
	if (r->prepared)
		close_files(r);
	if (r->connected)
		r->store.ops->disconnect(&r->store, true);
	free(r->peers);
	pthread_cond_destroy(&r->cond);
	pthread_cond_destroy(&r->event);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rfs_repl_status(struct rfs_repl *r, struct rfs_buf *out)
{
	int64_t started = atomic_load(&r->call_started_ns);
	double stuck = started ? (double)(now_ns() - started) / 1e9 : 0;
	uint64_t self_seq;
	size_t i;
	int rc;

	pthread_mutex_lock(&r->core->table_lock);
	self_seq = r->core->table.self_seq;
	pthread_mutex_unlock(&r->core->table_lock);
	pthread_mutex_lock(&r->lock);
	rc = rfs_buf_printf(out,
			    "store: %s\n"
			    "state: %s\n"
			    "state-since: %.1f s ago\n"
			    "last-error: %s\n"
			    "last-seq: %llu\n"
			    "shipped-seq: %llu\n"
			    "backlog: %llu\n"
			    "shipped-ops: %llu\n",
			    r->url,
			    stuck > r->opts->timeout ? "down" : rfs_repl_state_name(r->state),
			    now_mono() - r->state_since, r->last_error,
			    (unsigned long long)self_seq, (unsigned long long)r->shipped_seq,
			    (unsigned long long)(self_seq > r->shipped_seq
							 ? self_seq - r->shipped_seq
							 : 0),
			    (unsigned long long)r->shipped_ops);
	if (!rc && stuck > r->opts->timeout)
		rc = rfs_buf_printf(out, "stuck-call: %.1f s\n", stuck);
	if (!rc && r->state == RFS_REPL_REFUSED)
		rc = rfs_buf_printf(out, "refused: %s\n", r->refused_msg);
	for (i = 0; !rc && i < r->npeers; i++) {
		struct peer *p = &r->peers[i];
		struct rfs_node *n;
		uint64_t seq = 0;

		pthread_mutex_lock(&r->core->table_lock);
		n = rfs_table_node(&r->core->table, p->node, false);
		if (n)
			seq = n->applied_seq;
		pthread_mutex_unlock(&r->core->table_lock);
		rc = rfs_buf_printf(out, "peer: %s seq=%llu offset=%llu behind=%llu%s\n", p->node,
				    (unsigned long long)seq, (unsigned long long)p->offset,
				    (unsigned long long)(p->size > p->offset ? p->size - p->offset
									     : 0),
				    p->damaged_at != UINT64_MAX ? " damaged" : "");
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}
