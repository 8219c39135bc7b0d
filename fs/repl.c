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
 *  - an op counts as shipped (shipped_seq, the state directory's "shipped") only once it is
 *    written to our log and that log fsync'ed; with sync=local the fsync follows the write
 *    within SHIP_SYNC_DELAY (other nodes read the op before it), with sync=store at once;
 *  - the journal is emptied only when the store has every op in it and a checkpoint that
 *    includes them is on disk, both checked under the core's commit lock;
 *  - only this thread calls the store; a hung call (a frozen brick) therefore hangs only
 *    this thread, and the state it reports says so after timeout seconds;
 *  - this node's ops are shipped only once its incarnation is anchored: the store was read
 *    back and holds nothing of ours above the incarnation's floor (renumbered first if it
 *    did), so a lost state directory never reuses a (node, seq) pair; the anchor is recorded
 *    only after a checkpoint holds what was read back (an anchored incarnation is never read
 *    back again);
 *  - stop: long loops (catch-up, tailing, adoption, compaction, the probe child) end at
 *    halting; the last ship ends at aborting; rfs_repl_stop() never waits for a hung call.
 * Lock order: core.commit_lock, then repl.lock, then core.table_lock. No lock a FUSE request
 * may take (repl.lock: status, sync=store waits; the core's locks) is ever held across a
 * store call or a blocking wait; a local commit wakes the thread through an eventfd, with
 * no lock at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/snapshot.h>
#include <rmtabfs/log.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/store.h>

#define CHUNK		    (1u << 20)
#define JOURNAL_RESET_BYTES (4u << 20)
#define CHECKPOINT_EVERY    5.0
#define LIST_EVERY	    1.0
#define DAMAGE_RETRY	    10.0
#define BACKOFF_MAX	    5.0
#define OWNER_CHECK_EVERY   5.0
/* A clean stop ships what is left for at most min(timeout=, this), then gives up on a hung
 * call after ABORT_GRACE more: stop stays under a second in every state. */
#define FINAL_SHIP_MAX 0.5
#define ABORT_GRACE    0.2
/* A store call running this long at stop is taken as hung: no last ship is tried. */
#define HUNG_AT_STOP 0.3
/* With sync=local, ops written to our log are fsync'ed (and only then confirmed) at most
 * this long after the first unsynced one: one sync for a burst instead of one per MOUNT. */
#define SHIP_SYNC_DELAY 0.05
/* With sync=local, a write to our log at most every SHIP_BATCH_DELAY: a burst of MOUNTs becomes
 * a few writes instead of one store round trip (three bricks' work) each. The first op after a
 * quiet spell goes at once. */
#define SHIP_BATCH_DELAY 0.02
/* Compaction: when the logs grew by more than this many times the table since the last
 * snapshot (and at least RFS_COMPACT_MIN_BYTES). */
#define RFS_COMPACT_RATIO     4
#define RFS_COMPACT_MIN_BYTES (1u << 20)

struct peer {
	char node[RFS_NODE_MAX + 1];
	struct rfs_sfile *f;	   /* segment seg, open */
	uint32_t seg;		   /* log segment being read */
	uint64_t offset;	   /* bytes of it applied */
	uint64_t skip;		   /* its ops up to here are in an adopted snapshot */
	uint64_t size;		   /* size of segment seg last seen */
	uint32_t min_seg, max_seg; /* segments present at the last listing */
	bool listed;
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

	/* Wakes the thread without a lock: a local commit never waits for repl.lock. */
	int wake_fd;	       /* eventfd */
	_Atomic bool halting;  /* stop requested: leave long loops, make the last ship */
	_Atomic bool aborting; /* stop now: not even the last ship (a store call hangs) */
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t event;  /* wakes waiters: first attempt done, ship progress, done */
	bool stop;
	bool done; /* the thread has returned (or never ran) */
	bool first_done;
	bool connected; /* backend connected (a glfs_t exists) */
	bool prepared;	/* files open, owner lock held */
	bool slow;	/* a sync=store wait timed out: do not wait again until progress */
	enum rfs_repl_state state;
	double state_since;
	char last_error[256];
	char refused_msg[256];
	uint64_t shipped_seq;  /* confirmed: written to our log and fsync'ed */
	uint64_t written_seq;  /* written to our log, maybe not yet fsync'ed */
	uint64_t ship_off;     /* journal offset of the first op not yet written to the store */
	double unsynced_since; /* when the oldest unconfirmed write was made, 0: none */
	uint32_t own_seg;      /* the segment of our log we append to */
	uint32_t own_min_seg;
	uint64_t own_size;
	struct rfs_sfile *own_log;
	struct rfs_sfile *owner;
	struct peer *peers;
	size_t npeers;
	_Atomic int64_t call_started_ns; /* 0 when no store call is running */
	double last_list;
	double last_checkpoint;
	double last_owner_check;
	double last_ship; /* when ship() last wrote to the store */
	/* compaction */
	uint64_t snap_newest;	   /* highest snapshot generation listed */
	uint64_t snap_seen;	   /* highest one acted on (rotation of our log) */
	bool started;		   /* the store was prepared once in this process */
	bool need_adopt;	   /* a log we read lost segments: start from the snapshot */
	uint64_t adopted_gen;	   /* the snapshot we last started from */
	uint64_t bytes_since_snap; /* log bytes written or read since the newest snapshot */
	bool compact_requested;	   /* rmtabctl compact */
	int compact_result;	   /* of the last requested attempt, 1 while pending */
	char compact_msg[200];
	const char *crash_at; /* tests: die at this step (RMTABFS_TEST_CRASH) */
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

/* Stop was requested: long loops (catch-up, tailing, compaction, adoption) end early. */
static bool stopping(struct rfs_repl *r)
{
	return atomic_load(&r->halting);
}

/* Not even the last ship: the stop path gave up waiting. */
static bool aborting(struct rfs_repl *r)
{
	return atomic_load(&r->aborting);
}

static void wake_thread(struct rfs_repl *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already set: the thread wakes anyway */
	}
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

/* Store name of a log segment: segment 0 is nodes/NODE.log, later ones nodes/NODE.log.N. */
static void log_rel(char *buf, size_t len, const char *node, uint32_t seg)
{
	if (seg == 0)
		snprintf(buf, len, "nodes/%s.log", node);
	else
		snprintf(buf, len, "nodes/%s.log.%u", node, seg);
}

/* The inverse, unambiguous although node ids may hold '.': 0 or -EINVAL. */
static int parse_log_name(const char *name, char *node, uint32_t *seg)
{
	size_t len = strlen(name);
	const char *dot;

	if (len > 4 && strcmp(name + len - 4, ".log") == 0) {
		if (len - 4 > RFS_NODE_MAX)
			return -EINVAL;
		memcpy(node, name, len - 4);
		node[len - 4] = '\0';
		*seg = 0;
	} else {
		char *end;
		unsigned long n;

		dot = strrchr(name, '.');
		if (!dot || dot - name < 5 || strncmp(dot - 4, ".log", 4) != 0 || !dot[1])
			return -EINVAL;
		n = strtoul(dot + 1, &end, 10);
		if (*end || n == 0 || n > UINT32_MAX || (size_t)(dot - 4 - name) > RFS_NODE_MAX)
			return -EINVAL;
		memcpy(node, name, (size_t)(dot - 4 - name));
		node[dot - 4 - name] = '\0';
		*seg = (uint32_t)n;
	}
	return rfs_node_id_valid(node) ? 0 : -EINVAL;
}

/* Tests kill the daemon at a named step of compaction (RMTABFS_TEST_CRASH=step). */
static void crash_point(struct rfs_repl *r, const char *step)
{
	if (r->crash_at && strcmp(r->crash_at, step) == 0) {
		rfs_err("test: crashing at compaction step '%s'", step);
		kill(getpid(), SIGKILL);
	}
}

/* The last sequence number in a log segment (0 if it has no complete op), cutting a
 * torn tail when cut is set (only for our own log: we are its only writer). */
static int segment_last_seq(struct rfs_repl *r, struct rfs_sfile *f, const char *rel, bool cut,
			    uint64_t *last, off_t *size_out)
{
	const struct rfs_store_ops *ops = r->store.ops;
	size_t tail_len, start = 0, end;
	bool partial_first;
	char *tail;
	off_t size;
	ssize_t n;
	int rc;

	*last = 0;
	rc = ops->size(f, &size);
	if (rc)
		return rc;
	*size_out = size;
	tail_len = size > 65536 ? 65536 : (size_t)size;
	if (!tail_len)
		return 0;
	partial_first = (off_t)tail_len < size;
	tail = malloc(tail_len);
	if (!tail)
		return -ENOMEM;
	n = ops->pread(f, tail, tail_len, size - (off_t)tail_len);
	if (n != (ssize_t)tail_len) {
		free(tail);
		return n < 0 ? (int)n : -EIO;
	}
	end = tail_len;
	while (end > 0 && tail[end - 1] != '\n')
		end--;
	if (cut && end < tail_len) {
		rfs_warn("store: cutting a torn last line (%zu bytes) of %s", tail_len - end, rel);
		rc = ops->truncate(f, size - (off_t)(tail_len - end));
		if (rc) {
			free(tail);
			return rc;
		}
		*size_out = size - (off_t)(tail_len - end);
	}
	if (partial_first) {
		char *nl = memchr(tail, '\n', end);

		start = nl ? (size_t)(nl - tail) + 1 : end;
	}
	while (start < end) {
		struct rfs_op op;
		struct rfs_op_scratch sc;
		size_t used = 0;
		long m = rfs_op_decode(tail + start, end - start, &op, &sc, &used);

		if (m > 0 && op.seq > *last)
			*last = op.seq;
		if (used == 0)
			break;
		start += used;
	}
	free(tail);
	return 0;
}

static int list_one(void *ctx, const char *name);

/* Lists nodes/ (log segments of every node) and snapshots/ (the newest generation). */
static int list_store(struct rfs_repl *r)
{
	size_t i;
	int rc;

	for (i = 0; i < r->npeers; i++)
		r->peers[i].listed = false;
	r->own_min_seg = UINT32_MAX;
	call_begin(r);
	rc = r->store.ops->list(&r->store, "nodes", list_one, r);
	if (!rc)
		rc = r->store.ops->list(&r->store, "snapshots", list_one, r);
	call_end(r);
	if (r->own_min_seg == UINT32_MAX)
		r->own_min_seg = r->own_seg;
	r->last_list = now_mono();
	return rc;
}

static int read_snapshot(struct rfs_repl *r, uint64_t gen, char **buf, size_t *len);
static int adopt(struct rfs_repl *r);

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

static int read_own_log(struct rfs_repl *r, uint32_t seg, uint64_t from);
static int confirm(struct rfs_repl *r);
static int read_back(struct rfs_repl *r, const struct rfs_incarnation *inc);
static int catch_up_own(struct rfs_repl *r, uint64_t last);
static int checkpoint_now(struct rfs_repl *r);

/*
 * Makes the store ready for this node: FORMAT, nodes/, the owner lock, and the state of
 * our own log (cutting a torn tail, learning the last sequence it holds).
 */
static int prepare(struct rfs_repl *r)
{
	const struct rfs_store_ops *ops = r->store.ops;
	char rel[128], fmt[64], owner_text[300], host[128];
	size_t len = 0;
	struct rfs_incarnation inc;
	uint64_t last = 0;
	off_t size = 0;
	uint32_t seg;
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
	len = (size_t)snprintf(owner_text, sizeof(owner_text), "host %s pid %d since %lld\n", host,
			       (int)getpid(), (long long)time(NULL));
	if (ops->truncate(r->owner, 0) == 0 && ops->pwrite(r->owner, owner_text, len, 0) > 0)
		ops->fsync(r->owner);

	rc = ops->mkdir(&r->store, "snapshots");
	if (!rc)
		rc = ops->sync_dir(&r->store, ""); /* FORMAT, nodes/, snapshots/ */
	if (rc)
		return rc;
	r->own_seg = 0;
	rc = list_store(r);
	if (rc)
		return rc;
	log_rel(rel, sizeof(rel), r->opts->node, r->own_seg);
	rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &r->own_log);
	if (rc)
		return rc;
	/* The last complete line tells what the store has (a torn one after it is cut). */
	rc = segment_last_seq(r, r->own_log, rel, true, &last, &size);
	if (rc)
		return rc;
	/* A segment just begun holds nothing yet: look in the ones before it. */
	for (seg = r->own_seg; !last && seg > r->own_min_seg; seg--) {
		struct rfs_sfile *f;
		off_t unused;

		log_rel(rel, sizeof(rel), r->opts->node, seg - 1);
		if (ops->open(&r->store, rel, O_RDONLY, &f))
			break;
		rc = segment_last_seq(r, f, rel, false, &last, &unused);
		ops->close(f);
		if (rc)
			return rc;
	}
	if (r->snap_newest) {
		/* Segments all deleted after a snapshot: it says how far our log went. */
		char *buf = NULL;
		size_t blen = 0;
		struct rfs_snapshot_info info;

		if (read_snapshot(r, r->snap_newest, &buf, &blen) == 0 &&
		    rfs_snapshot_parse(buf, blen, &info) == 0) {
			const struct rfs_cover *c = rfs_snapshot_cover(&info, r->opts->node);

			if (c && c->seq > last)
				last = c->seq;
			rfs_snapshot_info_free(&info);
		}
		free(buf);
	}
	/*
	 * The first time in this process: what a killed predecessor appended last may sit on
	 * some replicas of a Gluster volume and not on others (its write never finished), so
	 * readers may or may not see it. Begin a fresh segment, whose replicas agree, and ship
	 * again from what was confirmed (an op twice in a log is harmless: ops are idempotent).
	 */
	if (!r->started && size > 0) {
		struct rfs_sfile *f;

		log_rel(rel, sizeof(rel), r->opts->node, r->own_seg + 1);
		rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &f);
		if (rc)
			return rc;
		ops->close(r->own_log);
		r->own_log = f;
		r->own_seg++;
		size = 0;
	}
	rfs_core_incarnation(r->core, &inc);
	if (rfs_incarnation_conflict(&inc, last)) {
		rc = rfs_core_renumber(r->core, last);
		if (rc)
			return rc;
		rfs_core_incarnation(r->core, &inc);
	}
	if (inc.anchored) {
		if (!r->started && last > rfs_core_shipped(r->core))
			last = rfs_core_shipped(r->core);
		/* Anchored: nothing of ours lies between the store's last op and the floor. */
		if (last < inc.floor)
			last = inc.floor;
	}
	/* Our log segment (and owner file) may be new: their names must outlive a power cut. */
	rc = ops->sync_dir(&r->store, "nodes");
	if (rc)
		return rc;
	/* Back after an error: what we wrote before it counts only once it is synced. */
	if (size > 0) {
		rc = ops->fsync(r->own_log);
		if (rc)
			return rc;
	}
	r->started = true;
	pthread_mutex_lock(&r->lock);
	r->own_size = (uint64_t)size;
	r->shipped_seq = r->written_seq = inc.anchored ? last : inc.floor;
	r->ship_off = 0;
	r->unsynced_since = 0;
	r->prepared = true;
	pthread_mutex_unlock(&r->lock);
	return inc.anchored ? catch_up_own(r, last) : read_back(r, &inc);
}

/*
 * A new incarnation (new, lost or damaged state directory): every op of this node on the
 * store is read back (from the newest snapshot when there is one) before the incarnation
 * counts as anchored and its own ops are shipped above its floor.
 */
static int read_back(struct rfs_repl *r, const struct rfs_incarnation *inc)
{
	uint32_t seg;
	int rc = 0;

	if (r->snap_newest) {
		rc = adopt(r);
	} else {
		rfs_notice("new incarnation of node %s: reading its ops on the store back",
			   r->opts->node);
		for (seg = r->own_min_seg; !rc && seg <= r->own_seg && !stopping(r); seg++)
			rc = read_own_log(r, seg, 0);
	}
	if (!rc && stopping(r))
		rc = -ECANCELED;
	/*
	 * What was read back lives only in the table until a checkpoint holds it, and an
	 * anchored incarnation is never read back again: a crash before the next periodic
	 * checkpoint would leave this node without its own earlier ops for good. So the
	 * checkpoint comes first; a crash between the two only reads back once more.
	 */
	if (!rc)
		rc = checkpoint_now(r);
	if (!rc)
		rc = rfs_core_anchor(r->core);
	if (!rc) {
		rfs_core_note_shipped(r->core, inc->floor);
		rfs_notice("node %s: incarnation anchored; its ops are shipped from seq %llu",
			   r->opts->node, (unsigned long long)inc->floor + 1);
	}
	return rc;
}

/* An anchored state directory behind the store (or a new node): catch up with our own ops. */
static int catch_up_own(struct rfs_repl *r, uint64_t last)
{
	uint32_t seg;
	bool behind, fresh;
	int rc = 0;

	pthread_mutex_lock(&r->core->table_lock);
	behind = r->core->table.self_seq < last;
	fresh = r->core->table.nrecords == 0 && r->core->loaded.npeers == 0;
	pthread_mutex_unlock(&r->core->table_lock);
	if (r->snap_newest && (behind || fresh)) {
		/* A new node, or a lost state directory: start from the newest snapshot. */
		rc = adopt(r);
	} else if (behind) {
		rfs_warn("store has ops of this node up to seq %llu that the state directory "
			 "lacks: reading them back",
			 (unsigned long long)last);
		for (seg = r->own_min_seg; !rc && seg <= r->own_seg && !stopping(r); seg++)
			rc = read_own_log(r, seg, 0);
	}
	if (rc)
		return rc;
	if (behind) {
		pthread_mutex_lock(&r->core->commit_lock);
		pthread_mutex_lock(&r->core->table_lock);
		if (r->core->table.self_seq < last)
			r->core->table.self_seq = last;
		pthread_mutex_unlock(&r->core->table_lock);
		pthread_mutex_unlock(&r->core->commit_lock);
	}
	return 0;
}

/* Applies our own ops from one segment of our log, from a byte offset (ops up to skip are
 * left out). For a new or lost state directory; may also collect the bytes into out. */
static int read_own_seg(struct rfs_repl *r, uint32_t seg, uint64_t from, uint64_t skip,
			struct rfs_buf *out)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_sfile *f;
	char rel[160], *buf;
	uint64_t off = from;
	int rc;

	log_rel(rel, sizeof(rel), r->opts->node, seg);
	rc = ops->open(&r->store, rel, O_RDONLY, &f);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	buf = malloc(CHUNK);
	if (!buf) {
		ops->close(f);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;
		size_t pos = 0;
		bool damaged;
		long used;

		if (stopping(r)) {
			rc = -ECANCELED;
			break;
		}
		n = ops->pread(f, buf, CHUNK, (off_t)off);

		if (n <= 0) {
			rc = n < 0 ? (int)n : 0;
			break;
		}
		if (out) {
			/* whole lines only */
			while (pos < (size_t)n) {
				char *nl = memchr(buf + pos, '\n', (size_t)n - pos);

				if (!nl)
					break;
				pos = (size_t)(nl - buf) + 1;
			}
			rc = rfs_buf_append(out, buf, pos);
			if (rc || pos == 0)
				break;
			off += pos;
			continue;
		}
		used = rfs_core_apply_remote(r->core, r->opts->node, buf, (size_t)n, skip,
					     &damaged);
		if (used <= 0)
			break;
		off += (uint64_t)used;
	}
	free(buf);
	ops->close(f);
	return rc;
}

static int read_own_log(struct rfs_repl *r, uint32_t seg, uint64_t from)
{
	return read_own_seg(r, seg, from, 0, NULL);
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
	shipped = r->written_seq;
	if (r->ship_off > jsize)
		r->ship_off = 0;
	off = r->ship_off;
	pthread_mutex_unlock(&r->lock);
	if (shipped >= last_seq || off >= jsize)
		return 0;
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < jsize && !rc && !aborting(r)) {
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
			/*
			 * No newline in a whole chunk: damage the journal's replay already
			 * reported and skipped. Skip it here too, to the next newline.
			 */
			char *nl = memchr(buf, '\n', (size_t)n);

			pos = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
		}
		if (batch.len) {
			call_begin(r);
			w = r->store.ops->pwrite(r->own_log, batch.data, batch.len,
						 (off_t)r->own_size);
			if (w != (ssize_t)batch.len)
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
		r->bytes_since_snap += batch.len;
		r->written_seq = shipped;
		r->ship_off = off;
		if (!r->unsynced_since && shipped > r->shipped_seq)
			r->unsynced_since = now_mono();
		pthread_mutex_unlock(&r->lock);
	}
	free(buf);
	rfs_buf_free(&batch);
	/* sync=store: a MOUNT is waiting for exactly this confirmation. */
	if (!rc && r->opts->sync == RFS_SYNC_STORE)
		rc = confirm(r);
	return rc;
}

/*
 * Makes what ship() wrote durable on the store, then confirms it: shipped_seq, the state
 * directory's record of it, and sync=store waiters all follow only a successful fsync. A
 * failure is a store error like any other: the files are closed, and prepare() takes what
 * the log holds from its last line again (and syncs it) before anything more is shipped.
 */
static int confirm(struct rfs_repl *r)
{
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&r->lock);
	seq = r->written_seq;
	pthread_mutex_unlock(&r->lock);
	if (seq <= r->shipped_seq || !r->own_log)
		return 0;
	call_begin(r);
	rc = r->store.ops->fsync(r->own_log);
	call_end(r);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	r->shipped_seq = seq;
	rfs_core_note_shipped(r->core, seq);
	r->slow = false;
	pthread_cond_broadcast(&r->event);
	r->unsynced_since = 0;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int list_one(void *ctx, const char *name)
{
	struct rfs_repl *r = ctx;
	char node[RFS_NODE_MAX + 1];
	struct peer *p;
	uint32_t seg;

	if (strncmp(name, "snap.", 5) == 0) {
		char *end;
		unsigned long long gen = strtoull(name + 5, &end, 10);

		if (!*end && gen > r->snap_newest)
			r->snap_newest = gen;
		return 0;
	}
	if (parse_log_name(name, node, &seg))
		return 0;
	if (strcmp(node, r->opts->node) == 0) {
		if (seg > r->own_seg)
			r->own_seg = seg;
		if (seg < r->own_min_seg)
			r->own_min_seg = seg;
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	p = peer_get(r, node);
	if (p && !p->listed) {
		p->listed = true;
		p->min_seg = p->max_seg = seg;
	} else if (p) {
		if (seg < p->min_seg)
			p->min_seg = seg;
		if (seg > p->max_seg)
			p->max_seg = seg;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Applies what other nodes appended since last time, segment after segment. */
static int tail_peers(struct rfs_repl *r)
{
	double t = now_mono();
	char *buf = NULL;
	size_t i;
	int rc = 0;

	if (t - r->last_list >= LIST_EVERY) {
		rc = list_store(r);
		if (rc)
			return rc;
	}
	for (i = 0; i < r->npeers && !rc && !stopping(r); i++) {
		struct peer *p = &r->peers[i];
		char rel[160];
		off_t size = 0;

		if (p->damaged_at != UINT64_MAX && t < p->damaged_retry)
			continue;
		if (!p->f) {
			log_rel(rel, sizeof(rel), p->node, p->seg);
			call_begin(r);
			rc = r->store.ops->open(&r->store, rel, O_RDONLY, &p->f);
			call_end(r);
			if (rc == -ENOENT) {
				rc = 0;
				if (p->listed && p->seg < p->min_seg) {
					/*
					 * Removed after a snapshot covered it. If that is the
					 * snapshot we started from, go on with the next segment;
					 * else start over from the newest one.
					 */
					if (r->adopted_gen && r->adopted_gen == r->snap_newest) {
						pthread_mutex_lock(&r->lock);
						p->seg = p->min_seg;
						p->offset = 0;
						pthread_mutex_unlock(&r->lock);
						i--;
					} else {
						r->need_adopt = true;
					}
				}
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
		while (p->offset < (uint64_t)size && !stopping(r)) {
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
			used = rfs_core_apply_remote(r->core, p->node, buf, (size_t)n, p->skip,
						     &damaged);
			if (used < 0) {
				rc = (int)used;
				break;
			}
			pthread_mutex_lock(&r->lock);
			p->offset += (uint64_t)used;
			r->bytes_since_snap += (uint64_t)used;
			pthread_mutex_unlock(&r->lock);
			if (damaged) {
				if (p->damaged_at != p->offset)
					rfs_err("log of node %s is damaged at byte %llu of segment "
						"%u: "
						"its later ops are not applied until it is "
						"repaired",
						p->node, (unsigned long long)p->offset, p->seg);
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
		/* Read to its end and the node has begun a later segment: go on there. */
		if (!rc && p->offset == (uint64_t)size && p->listed && p->max_seg > p->seg &&
		    p->damaged_at == UINT64_MAX) {
			call_begin(r);
			r->store.ops->close(p->f);
			call_end(r);
			pthread_mutex_lock(&r->lock);
			p->f = NULL;
			p->seg++;
			p->offset = 0;
			pthread_mutex_unlock(&r->lock);
			i--; /* the same peer again */
		}
	}
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ compaction -- */

static void snap_rel(char *buf, size_t len, uint64_t gen)
{
	snprintf(buf, len, "snapshots/snap.%012llu", (unsigned long long)gen);
}

static int read_snapshot(struct rfs_repl *r, uint64_t gen, char **buf, size_t *len)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_buf out = RFS_BUF_INIT;
	struct rfs_sfile *f;
	char rel[64];
	off_t size, off = 0;
	int rc;

	snap_rel(rel, sizeof(rel), gen);
	call_begin(r);
	rc = ops->open(&r->store, rel, O_RDONLY, &f);
	if (!rc) {
		rc = ops->size(f, &size);
		if (!rc)
			rc = rfs_buf_reserve(&out, (size_t)size);
		while (!rc && off < size) {
			ssize_t n = ops->pread(f, out.data + off, (size_t)(size - off), off);

			if (n <= 0)
				rc = n < 0 ? (int)n : -EIO;
			else
				off += n;
		}
		ops->close(f);
	}
	call_end(r);
	if (rc) {
		rfs_buf_free(&out);
		return rc;
	}
	out.len = (size_t)off;
	out.data[out.len] = '\0';
	*buf = rfs_buf_steal(&out, len);
	return 0;
}

/*
 * A newer snapshot covers (part of) our own log: begin a new segment, so the covered ones
 * stop growing, and delete the segments it covers entirely. Only we write or delete our log.
 */
static int rotate_own(struct rfs_repl *r)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_snapshot_info info;
	const struct rfs_cover *c;
	char *buf = NULL, rel[160];
	bool whole;
	size_t len;
	uint32_t seg;
	int rc;

	if (!r->snap_newest || r->snap_newest == r->snap_seen)
		return 0;
	rc = read_snapshot(r, r->snap_newest, &buf, &len);
	if (rc == -ENOENT)
		return 0; /* replaced meanwhile: next listing */
	if (rc)
		return rc;
	if (rfs_snapshot_parse(buf, len, &info)) {
		rfs_err("store snapshot %llu is damaged: ignoring it",
			(unsigned long long)r->snap_newest);
		free(buf);
		r->snap_seen = r->snap_newest;
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	r->bytes_since_snap = 0;
	pthread_mutex_unlock(&r->lock);
	/* Removals the snapshot forgot are forgotten here too: memory stays bounded. */
	pthread_mutex_lock(&r->core->table_lock);
	rfs_table_drop_tombstones(&r->core->table, info.horizon);
	pthread_mutex_unlock(&r->core->table_lock);
	c = rfs_snapshot_cover(&info, r->opts->node);
	/* Covered to its very end: nothing shipped since the compactor read it. */
	whole = c && c->seg == r->own_seg && c->offset >= r->own_size;
	if (c && c->seg >= r->own_seg && r->own_size > 0) {
		struct rfs_sfile *f = NULL;

		log_rel(rel, sizeof(rel), r->opts->node, r->own_seg + 1);
		call_begin(r);
		rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &f);
		/* Durable before the covered segments go below. */
		if (!rc)
			rc = ops->sync_dir(&r->store, "nodes");
		if (rc && f)
			ops->close(f);
		call_end(r);
		if (rc)
			goto out;
		call_begin(r);
		ops->close(r->own_log);
		call_end(r);
		pthread_mutex_lock(&r->lock);
		r->own_log = f;
		r->own_seg++;
		r->own_size = 0;
		pthread_mutex_unlock(&r->lock);
		crash_point(r, "rotate-created");
	}
	/* Every segment before the covered one is entirely in the snapshot. */
	for (seg = r->own_min_seg;
	     c && (seg < c->seg || (whole && seg == c->seg)) && seg < r->own_seg; seg++) {
		log_rel(rel, sizeof(rel), r->opts->node, seg);
		call_begin(r);
		rc = ops->unlink(&r->store, rel);
		call_end(r);
		if (rc)
			goto out;
		r->own_min_seg = seg + 1;
		crash_point(r, "rotate-deleting");
	}
	r->snap_seen = r->snap_newest;
out:
	rfs_snapshot_info_free(&info);
	free(buf);
	return rc;
}

static uint64_t backlog(struct rfs_repl *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = backlog_locked(r);
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Is compaction due? Logs grown since the last snapshot much larger than the live table. */
static bool compaction_due(struct rfs_repl *r)
{
	size_t table_bytes;

	pthread_mutex_lock(&r->core->table_lock);
	table_bytes = r->core->table.rmtab_bytes + 64 * r->core->table.nlive;
	pthread_mutex_unlock(&r->core->table_lock);
	return r->bytes_since_snap > RFS_COMPACT_MIN_BYTES &&
	       r->bytes_since_snap > RFS_COMPACT_RATIO * table_bytes;
}

static int drop_own_tmp(void *ctx, const char *name)
{
	struct rfs_repl *r = ctx;
	size_t n = strlen(name), k = strlen(r->opts->node);
	char rel[NAME_MAX + 16];

	if (strncmp(name, ".snap.", 6) == 0 && n > k + 5 && strcmp(name + n - 4, ".tmp") == 0 &&
	    name[n - 5 - k] == '.' && strncmp(name + n - 4 - k, r->opts->node, k) == 0) {
		snprintf(rel, sizeof(rel), "snapshots/%s", name);
		r->store.ops->unlink(&r->store, rel);
	}
	return 0;
}

/*
 * Writes snapshot GEN+1: the table, which holds exactly the ops up to every log position
 * of ours (no local op unshipped: checked under the commit lock), one compactor at a time
 * (compact.lock), never covering less of any log than the snapshot before it, and created
 * with link() so that of two racing compactors exactly one wins.
 * Returns 0 if written, 1 if there was nothing to do or someone else is at it, or -errno.
 */
static int compact(struct rfs_repl *r, char *msg, size_t msglen)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_snapshot_info prev = {0};
	struct rfs_buf out = RFS_BUF_INIT;
	struct rfs_cover *covers = NULL;
	struct rfs_sfile *lock = NULL, *f = NULL;
	char tmp[160], rel[64], *pbuf = NULL;
	uint64_t gen, horizon, now;
	size_t ncovers = 0, i, plen;
	struct timespec ts;
	int rc;

	snprintf(msg, msglen, "nothing done");
	call_begin(r);
	rc = ops->open(&r->store, "compact.lock", O_RDWR | O_CREAT, &lock);
	if (!rc)
		rc = ops->lock(lock);
	call_end(r);
	if (rc == -EAGAIN) {
		snprintf(msg, msglen, "another node is compacting");
		rc = 1;
		goto out;
	}
	if (rc)
		goto out;
	crash_point(r, "compact-locked");
	/* What a compactor of ours killed between writing and linking left behind. */
	call_begin(r);
	ops->list(&r->store, "snapshots", drop_own_tmp, r);
	call_end(r);
	rc = list_store(r);
	if (rc)
		goto out;
	gen = r->snap_newest;
	if (gen) {
		rc = read_snapshot(r, gen, &pbuf, &plen);
		if (!rc && rfs_snapshot_parse(pbuf, plen, &prev))
			rc = -EBADMSG;
		if (rc)
			goto out;
	}
	covers = calloc(r->npeers + 1, sizeof(*covers));
	if (!covers) {
		rc = -ENOMEM;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	horizon = now - (uint64_t)(r->opts->tombstones * 1e9);

	pthread_mutex_lock(&r->core->commit_lock);
	pthread_mutex_lock(&r->lock);
	pthread_mutex_lock(&r->core->table_lock);
	if (r->shipped_seq != r->core->table.self_seq) {
		snprintf(msg, msglen, "this node still has ops to ship");
		rc = 1;
	}
	for (i = 0; !rc && i <= r->npeers; i++) {
		struct rfs_cover *c = &covers[ncovers];
		const char *name = i < r->npeers ? r->peers[i].node : r->opts->node;
		struct rfs_node *n = rfs_table_node(&r->core->table, name, false);

		if (!n || !n->applied_seq)
			continue;
		snprintf(c->node, sizeof(c->node), "%s", name);
		c->seq = n->applied_seq;
		c->time = n->applied_time;
		c->seg = i < r->npeers ? r->peers[i].seg : r->own_seg;
		c->offset = i < r->npeers ? r->peers[i].offset : r->own_size;
		/*
		 * Tombstones may go once every log has passed them: no op still to come
		 * from any node can be older than its last one here.
		 */
		if (c->time < horizon)
			horizon = c->time;
		ncovers++;
	}
	for (i = 0; !rc && i < prev.ncovers; i++) {
		const struct rfs_cover *mine = NULL;
		size_t j;

		for (j = 0; j < ncovers; j++)
			if (strcmp(covers[j].node, prev.covers[i].node) == 0)
				mine = &covers[j];
		if (!mine || mine->seq < prev.covers[i].seq) {
			snprintf(msg, msglen,
				 "this node has not read as far as snapshot %llu "
				 "(node %s)",
				 (unsigned long long)gen, prev.covers[i].node);
			rc = 1;
		}
	}
	if (!rc)
		rc = rfs_snapshot_encode(&out, &r->core->table, gen + 1, r->opts->node, horizon,
					 covers, ncovers);
	pthread_mutex_unlock(&r->core->table_lock);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->core->commit_lock);
	if (rc)
		goto out;

	snprintf(tmp, sizeof(tmp), "snapshots/.snap.%012llu.%s.tmp", (unsigned long long)gen + 1,
		 r->opts->node);
	snap_rel(rel, sizeof(rel), gen + 1);
	call_begin(r);
	ops->unlink(&r->store, tmp);
	rc = ops->open(&r->store, tmp, O_RDWR | O_CREAT, &f);
	if (!rc) {
		ssize_t n = ops->pwrite(f, out.data, out.len, 0);

		rc = n == (ssize_t)out.len ? ops->fsync(f) : (n < 0 ? (int)n : -EIO);
		ops->close(f);
	}
	call_end(r);
	if (rc)
		goto out;
	crash_point(r, "compact-written");
	call_begin(r);
	rc = ops->link(&r->store, tmp, rel);
	ops->unlink(&r->store, tmp);
	/* The snapshot's name must be durable before any node deletes what it covers. */
	if (!rc)
		rc = ops->sync_dir(&r->store, "snapshots");
	call_end(r);
	if (rc == -EEXIST) {
		snprintf(msg, msglen, "another node wrote snapshot %llu first",
			 (unsigned long long)gen + 1);
		rc = 1;
		goto out;
	}
	if (rc)
		goto out;
	crash_point(r, "compact-linked");
	/* Keep the newest two: a reader may be reading the one before. */
	for (i = 0; gen > 1 && i < 16 && gen - 1 > i; i++) {
		char old[64];

		snap_rel(old, sizeof(old), gen - 1 - i);
		call_begin(r);
		ops->unlink(&r->store, old);
		call_end(r);
	}
	crash_point(r, "compact-pruned");
	r->snap_newest = gen + 1;
	snprintf(msg, msglen, "snapshot %llu written: %zu bytes, %zu node log(s) covered",
		 (unsigned long long)gen + 1, out.len, ncovers);
	rfs_notice("compaction: %s", msg);
	rc = 0;
out:
	if (lock) {
		call_begin(r);
		ops->close(lock);
		call_end(r);
	}
	if (rc < 0)
		snprintf(msg, msglen, "compaction failed: %s", strerror(-rc));
	rfs_snapshot_info_free(&prev);
	free(pbuf);
	free(covers);
	rfs_buf_free(&out);
	return rc;
}

/*
 * Starts over from the newest snapshot: the table becomes the snapshot plus our own ops
 * after its cover of us, and every other log is read on from its cover.
 */
static int adopt(struct rfs_repl *r)
{
	struct rfs_snapshot_info info;
	struct rfs_buf own = RFS_BUF_INIT;
	const struct rfs_cover *c;
	char *buf = NULL;
	size_t len, i;
	uint32_t seg;
	int rc;

	rc = read_snapshot(r, r->snap_newest, &buf, &len);
	if (rc)
		return rc;
	rc = rfs_snapshot_parse(buf, len, &info);
	if (rc) {
		rfs_err("store snapshot %llu is damaged: cannot start from it",
			(unsigned long long)r->snap_newest);
		free(buf);
		return rc;
	}
	c = rfs_snapshot_cover(&info, r->opts->node);
	for (seg = c ? c->seg : r->own_min_seg; !rc && seg <= r->own_seg; seg++)
		rc = read_own_seg(r, seg, c && seg == c->seg ? c->offset : 0, 0, &own);
	if (!rc && stopping(r))
		rc = -ECANCELED;
	if (!rc)
		rc = rfs_core_adopt(r->core, &info, own.data ? own.data : "", own.len);
	if (!rc) {
		/* Files closed first, outside repl.lock: a close is a store call too. */
		call_begin(r);
		for (i = 0; i < r->npeers; i++)
			if (r->peers[i].f) {
				r->store.ops->close(r->peers[i].f);
				r->peers[i].f = NULL;
			}
		call_end(r);
		pthread_mutex_lock(&r->lock);
		/* Every node the snapshot covers is read on from its cover... */
		for (i = 0; i < info.ncovers; i++)
			if (strcmp(info.covers[i].node, r->opts->node) != 0)
				peer_get(r, info.covers[i].node);
		for (i = 0; i < r->npeers; i++) {
			struct peer *p = &r->peers[i];
			const struct rfs_cover *pc = rfs_snapshot_cover(&info, p->node);

			/* ...and a node it does not cover had no op then: from its start. */
			p->seg = pc ? pc->seg : (p->listed ? p->min_seg : 0);
			p->offset = pc ? pc->offset : 0;
			p->skip = pc ? pc->seq : 0;
			p->damaged_at = UINT64_MAX;
		}
		r->need_adopt = false;
		r->adopted_gen = r->snap_newest;
		r->bytes_since_snap = 0;
		pthread_mutex_unlock(&r->lock);
	}
	rfs_snapshot_info_free(&info);
	rfs_buf_free(&own);
	free(buf);
	return rc;
}

int rfs_repl_compact(struct rfs_repl *r, char *msg, size_t msglen)
{
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->state != RFS_REPL_UP) {
		snprintf(msg, msglen, "the store is %s", rfs_repl_state_name(r->state));
		pthread_mutex_unlock(&r->lock);
		return -ENOTCONN;
	}
	r->compact_requested = true;
	r->compact_result = 1;
	wake_thread(r);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 60;
	while (r->compact_requested && !r->stop)
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT)
			break;
	rc = r->compact_requested ? -ETIMEDOUT : r->compact_result;
	snprintf(msg, msglen, "%s",
		 r->compact_requested ? "no answer within 60 s" : r->compact_msg);
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : 0;
}

/* Once per loop: follow snapshots, start over from one when needed, compact when due. */
static int snapshots(struct rfs_repl *r)
{
	char msg[200];
	bool requested;
	int rc = 0;

	if (stopping(r))
		return 0;
	pthread_mutex_lock(&r->lock);
	requested = r->compact_requested;
	pthread_mutex_unlock(&r->lock);
	/* Our log is closed (rotation) or read into a snapshot only with its writes synced. */
	if ((r->need_adopt && r->snap_newest) || r->snap_newest > r->snap_seen || requested ||
	    compaction_due(r)) {
		rc = confirm(r);
		if (rc)
			return rc;
	}
	if (r->need_adopt && r->snap_newest) {
		rc = adopt(r);
		if (rc)
			return rc;
	}
	rc = rotate_own(r);
	if (rc)
		return rc;
	if (!requested && !compaction_due(r))
		return 0;
	/*
	 * A snapshot must hold exactly what the logs hold: not while this node has ops still
	 * to ship (checked again under the commit lock). Under steady load the loop comes back
	 * right after the next ship, so this costs nothing but a try later.
	 */
	if (!requested && backlog(r))
		return 0;
	rc = compact(r, msg, sizeof(msg));
	if (rc == 0)
		rc = rotate_own(r);
	pthread_mutex_lock(&r->lock);
	if (requested) {
		r->compact_requested = false;
		r->compact_result = rc;
		snprintf(r->compact_msg, sizeof(r->compact_msg), "%s", msg);
		pthread_cond_broadcast(&r->event);
	} else if (rc == 1) {
		/* Not now (someone else, or a backlog): wait for more growth before trying. */
		r->bytes_since_snap /= 2;
	}
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : 0;
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
		pos[i].seg = r->peers[i].seg;
		pos[i].offset = r->peers[i].offset;
		pos[i].skip = r->peers[i].skip;
	}
	if (pos)
		*n = r->npeers;
	pthread_mutex_unlock(&r->lock);
	return pos;
}

/* A checkpoint now, whatever changed since the last one: 0 or -errno. */
static int checkpoint_now(struct rfs_repl *r)
{
	size_t n;
	struct rfs_peer_pos *pos = peer_positions(r, &n);
	int rc = pos ? rfs_core_checkpoint(r->core, pos, n, true) : -ENOMEM;

	free(pos);
	r->last_checkpoint = now_mono();
	return rc;
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
	uint64_t shipped, jsize, jlast;
	size_t n;

	pthread_mutex_lock(&r->lock);
	shipped = r->shipped_seq;
	pthread_mutex_unlock(&r->lock);
	/* A cheap pre-check; commits change both under commit_lock, so read them under it. */
	pthread_mutex_lock(&c->commit_lock);
	jsize = (uint64_t)c->journal.size;
	jlast = c->journal.last_seq;
	pthread_mutex_unlock(&c->commit_lock);
	if (jsize < JOURNAL_RESET_BYTES || shipped < jlast)
		return;
	pos = peer_positions(r, &n);
	if (!pos)
		return;
	pthread_mutex_lock(&c->commit_lock);
	if (shipped >= c->journal.last_seq && rfs_core_checkpoint(c, pos, n, true) == 0 &&
	    rfs_journal_reset(&c->journal) == 0) {
		pthread_mutex_lock(&r->lock);
		r->ship_off = 0;
		pthread_mutex_unlock(&r->lock);
		rfs_info("journal emptied: everything is on the store and in the checkpoint");
	}
	pthread_mutex_unlock(&c->commit_lock);
	free(pos);
}

/* Has the journal ops not yet written to the store? */
static bool unshipped(struct rfs_repl *r)
{
	uint64_t last, written;

	pthread_mutex_lock(&r->core->commit_lock);
	last = r->core->journal.last_seq;
	pthread_mutex_unlock(&r->core->commit_lock);
	pthread_mutex_lock(&r->lock);
	written = r->written_seq;
	pthread_mutex_unlock(&r->lock);
	return last > written;
}

/*
 * A clean stop: what was acknowledged goes to the store and is confirmed, unless the store
 * is down or the stop path gave up (then it stays in the journal and is named in the log).
 */
static void final_ship(struct rfs_repl *r)
{
	int rc;

	if (!r->prepared || aborting(r))
		return;
	rc = ship(r);
	if (!rc && !aborting(r))
		rc = confirm(r);
	if (rc && !aborting(r))
		rfs_warn("store %s: last ship at stop failed: %s", r->url, strerror(-rc));
}

static void *repl_main(void *arg)
{
	struct rfs_repl *r = arg;
	double backoff = 0.1;
	size_t i;

	/* Go on reading other logs where the checkpoint left them. */
	for (i = 0; i < r->core->loaded.npeers; i++) {
		struct peer *p = peer_get(r, r->core->loaded.peers[i].node);

		if (p) {
			p->seg = r->core->loaded.peers[i].seg;
			p->offset = r->core->loaded.peers[i].offset;
			p->skip = r->core->loaded.peers[i].skip;
		}
	}
	r->last_checkpoint = now_mono();
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		double wait = r->opts->poll, ship_in;
		int rc = 0;

		pthread_mutex_unlock(&r->lock);
		if (!r->connected && !stopping(r)) {
			call_begin(r);
			rc = r->store.ops->connect(&r->store);
			call_end(r);
			if (!rc)
				r->connected = true;
		}
		if (!rc && !r->prepared && !stopping(r)) {
			rc = prepare(r);
			if (rc)
				close_files(r);
		}
		ship_in = 0;
		if (!rc && r->prepared) {
			double since = now_mono() - r->last_ship;

			if (r->opts->sync == RFS_SYNC_STORE || since >= SHIP_BATCH_DELAY) {
				uint64_t before = r->written_seq;

				rc = ship(r);
				if (r->written_seq != before)
					r->last_ship = now_mono();
			} else if (unshipped(r)) {
				ship_in = SHIP_BATCH_DELAY - since;
			}
		}
		if (!rc && r->prepared && r->unsynced_since &&
		    now_mono() - r->unsynced_since >= SHIP_SYNC_DELAY)
			rc = confirm(r);
		if (!rc && r->prepared && !stopping(r))
			rc = tail_peers(r);
		if (!rc && r->prepared && !stopping(r))
			rc = check_owner(r);
		if (!rc && r->prepared)
			rc = snapshots(r);
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
			if (r->unsynced_since)
				wait = fmax(0.0, fmin(wait, r->unsynced_since + SHIP_SYNC_DELAY -
								    now_mono()));
			if (ship_in > 0)
				wait = fmin(wait, ship_in);
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
	final_ship(r);
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
	r->state = RFS_REPL_CONNECTING;
	r->state_since = now_mono();
	r->crash_at = getenv("RMTABFS_TEST_CRASH");
	snprintf(r->last_error, sizeof(r->last_error), "none");
	/* Before the first prepare: what the state directory says is on the store already. */
	{
		struct rfs_incarnation inc;
		uint64_t shipped = rfs_core_shipped(core);

		rfs_core_incarnation(core, &inc);
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
	wake_thread(r);
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

void rfs_repl_request_stop(struct rfs_repl *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	atomic_store(&r->halting, true);
	pthread_cond_broadcast(&r->event);
	pthread_mutex_unlock(&r->lock);
	wake_thread(r);
}

/* Waits (bounded) until the thread has returned; true if it has. */
static bool wait_done(struct rfs_repl *r, double secs)
{
	struct timespec ts;
	bool done;

	deadline_in(&ts, secs);
	pthread_mutex_lock(&r->lock);
	while (!r->done)
		if (pthread_cond_timedwait(&r->event, &r->lock, &ts) == ETIMEDOUT)
			break;
	done = r->done;
	pthread_mutex_unlock(&r->lock);
	return done;
}

/* Says in the log what a stop leaves behind (the next start's status shows it as backlog). */
static void report_left(struct rfs_repl *r)
{
	uint64_t self, shipped;

	pthread_mutex_lock(&r->core->table_lock);
	self = r->core->table.self_seq;
	pthread_mutex_unlock(&r->core->table_lock);
	pthread_mutex_lock(&r->lock);
	shipped = r->shipped_seq;
	pthread_mutex_unlock(&r->lock);
	if (self > shipped)
		rfs_warn("stopping with %llu op(s) of this node not confirmed on the store %s "
			 "(seq %llu-%llu): they are in the local journal and shipped at the next "
			 "start",
			 (unsigned long long)(self - shipped), r->url,
			 (unsigned long long)shipped + 1, (unsigned long long)self);
	else
		rfs_notice("stopping: every op of this node is on the store (up to seq %llu)",
			   (unsigned long long)shipped);
}

int rfs_repl_stop(struct rfs_repl *r)
{
	double budget;
	int64_t started;
	bool done = true;

	if (!r)
		return 0;
	rfs_repl_request_stop(r);
	if (r->thread_started) {
		started = atomic_load(&r->call_started_ns);
		budget = fmin(r->opts->timeout, FINAL_SHIP_MAX);
		if (started && (double)(now_ns() - started) / 1e9 >= HUNG_AT_STOP)
			budget = 0;
		done = wait_done(r, budget);
		if (!done) {
			atomic_store(&r->aborting, true);
			done = wait_done(r, ABORT_GRACE);
		}
	}
	report_left(r);
	checkpoint(r, true);
	if (!done) {
		/*
		 * A store call hangs (a frozen brick) and cannot be interrupted. Nothing is lost
		 * (the journal has it all); the caller must end the process without freeing
		 * what the thread may still touch when the call returns.
		 */
		rfs_warn("store %s: a call is still hanging; stopping without it", r->url);
		return -EBUSY;
	}
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	if (r->prepared)
		close_files(r);
	if (r->connected)
		r->store.ops->disconnect(&r->store, true);
	free(r->peers);
	close(r->wake_fd);
	pthread_cond_destroy(&r->event);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return 0;
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
	rc = rfs_buf_printf(
		out,
		"store: %s\n"
		"state: %s\n"
		"state-since: %.1f s ago\n"
		"last-error: %s\n"
		"last-seq: %llu\n"
		"shipped-seq: %llu\n"
		"backlog: %llu\n"
		"shipped-ops: %llu\n",
		r->url, stuck > r->opts->timeout ? "down" : rfs_repl_state_name(r->state),
		now_mono() - r->state_since, r->last_error, (unsigned long long)self_seq,
		(unsigned long long)r->shipped_seq,
		(unsigned long long)(self_seq > r->shipped_seq ? self_seq - r->shipped_seq : 0),
		(unsigned long long)r->shipped_ops);
	if (!rc)
		rc = rfs_buf_printf(out, "snapshot: %llu\nlog-segment: %u\n",
				    (unsigned long long)r->snap_newest, r->own_seg);
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
		rc = rfs_buf_printf(
			out, "peer: %s seq=%llu segment=%u offset=%llu behind=%llu%s\n", p->node,
			(unsigned long long)seq, p->seg, (unsigned long long)p->offset,
			(unsigned long long)(p->size > p->offset ? p->size - p->offset : 0),
			p->damaged_at != UINT64_MAX ? " damaged" : "");
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}
