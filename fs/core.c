/*
 * The record set in the daemon (see include/rmtabfs/core.h).
 *
 * Invariants:
 *  - an op is written to the journal before it is applied to the table, so whatever a reader
 *    has seen survives kill -9 (the page cache keeps it); a failed journal write changes
 *    nothing. Its commit is acknowledged only after the journal's sync covers it (with
 *    durability=fsync), which runs outside commit_lock so that concurrent commits share it
 *    (group commit); until then the op is neither shipped (the journal publishes only synced
 *    lines) nor in a checkpoint (a checkpoint first syncs the journal up to its table);
 *  - cur, when set, is the snapshot of table.gen; snapshots never change after creation;
 *  - the mtime a snapshot carries was reported through rfs_table_mtime(), so a file handle
 *    that shows it (fstat) obeys the same never-repeat rule as a stat by name;
 *  - this node's sequence numbers never repeat: a state directory without a checkpoint
 *    starts a new incarnation above the clock, and one not yet anchored is renumbered above
 *    whatever the store holds before it ships (fs/incarnation.c).
 * Lock order: commit_lock, then checkpoint_lock, then table_lock; rfs_snap.lazy_lock and the
 * journal's own lock are leaves. No lock is held across a call into the store or the
 * on_change/wait_shipped hooks, nor across a commit's journal sync (a checkpoint's sync may
 * hold commit_lock, as a reset always has). With durability=batch (a timer syncs) a journal
 * whose last run was cut by a machine restart starts a new incarnation: what it shipped may
 * be missing from the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/core.h>
#include <rmtabfs/diff.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/log.h>
#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/snapshot.h>

struct rfs_snap *rfs_snap_get(struct rfs_snap *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void rfs_snap_put(struct rfs_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->text);
	free(s->gnfs);
	if (s->folded) {
		rfs_entries_free(s->folded);
		free(s->folded);
	}
	pthread_mutex_destroy(&s->lazy_lock);
	free(s);
}

static struct rfs_entries *fold_text(enum rfs_format fmt, const char *text, size_t len)
{
	struct rfs_entries *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return NULL;
	rc = fmt == RFS_FMT_RMTAB ? rt_parse(text, len, 1, e, NULL) : gn_parse(text, len, e, NULL);
	if (rc) {
		rfs_entries_free(e);
		free(e);
		return NULL;
	}
	rfs_entries_fold(e);
	return e;
}

const struct rfs_entries *rfs_snap_folded(struct rfs_snap *s)
{
	pthread_mutex_lock(&s->lazy_lock);
	if (!s->folded)
		s->folded = fold_text(RFS_FMT_RMTAB, s->text, s->len);
	pthread_mutex_unlock(&s->lazy_lock);
	return s->folded;
}

const char *rfs_snap_gnfs(struct rfs_snap *s, size_t *len)
{
	pthread_mutex_lock(&s->lazy_lock);
	if (!s->gnfs) {
		struct rfs_entries e = {0};
		struct rfs_buf out = RFS_BUF_INIT;
		size_t i;
		int rc = rt_parse(s->text, s->len, 1, &e, NULL);

		/* The snapshot's own rendering, in first-seen order: it always parses. */
		for (i = 0; !rc && i < e.n; i++)
			rc = gn_render_pair(&out, (uint32_t)i, e.v[i].client, e.v[i].client_len,
					    e.v[i].path, e.v[i].path_len);
		if (!rc && !out.data)
			rc = rfs_buf_reserve(&out, 0);
		rfs_entries_free(&e);
		if (rc) {
			rfs_buf_free(&out);
		} else {
			s->gnfs_len = out.len;
			s->gnfs = rfs_buf_steal(&out, NULL);
		}
	}
	pthread_mutex_unlock(&s->lazy_lock);
	*len = s->gnfs_len;
	return s->gnfs;
}

struct rfs_snap *rfs_snap_new(uint64_t gen, int64_t mtime, const char *text, size_t len)
{
	struct rfs_snap *s = calloc(1, sizeof(*s));

	if (!s || !(s->text = malloc(len + 1))) {
		free(s);
		return NULL;
	}
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	s->gen = gen;
	s->mtime = mtime;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lazy_lock, NULL);
	return s;
}

int rfs_core_statedir_lock(struct rfs_core *c, bool take)
{
	char pid[24];
	int n;

	if (flock(c->lock_fd, take ? LOCK_EX | LOCK_NB : LOCK_UN) < 0)
		return -errno;
	if (take) {
		/* A new image that failed may have written its pid there. */
		n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (ftruncate(c->lock_fd, 0) < 0 || pwrite(c->lock_fd, pid, (size_t)n, 0) != n)
			rfs_warn("cannot write our pid into the state directory's lock file");
	}
	return 0;
}

void rfs_base_set_snap(struct rfs_base *b, struct rfs_snap *s)
{
	rfs_base_clear(b);
	b->snap = rfs_snap_get(s);
}

int rfs_base_set_text(struct rfs_base *b, const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	rfs_base_clear(b);
	b->text = copy;
	b->len = len;
	return 0;
}

void rfs_base_clear(struct rfs_base *b)
{
	rfs_snap_put(b->snap);
	free(b->text);
	if (b->folded) {
		rfs_entries_free(b->folded);
		free(b->folded);
	}
	memset(b, 0, sizeof(*b));
}

static const struct rfs_entries *base_folded(struct rfs_base *b, enum rfs_format fmt)
{
	if (b->snap)
		return rfs_snap_folded(b->snap);
	if (!b->folded)
		b->folded = fold_text(fmt, b->text ? b->text : "", b->len);
	return b->folded;
}

static int64_t folded_count(const struct rfs_entries *e, const char *client, size_t client_len,
			    const char *path, size_t path_len)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rfs_entry *m = &e->v[mid];
		int c = rfs_key_cmp(m->client, m->client_len, m->path, m->path_len, client,
				    client_len, path, path_len);

		if (c == 0)
			return m->count;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

struct base_lookup {
	struct rfs_core *core;
	struct rfs_base *base;
};

/* Count of a key in the base: from the table's history when it knows, else from an index. */
static int64_t base_count(void *ctx, const char *client, size_t client_len, const char *path,
			  size_t path_len)
{
	struct base_lookup *bl = ctx;
	const struct rfs_entries *idx;

	if (bl->base->snap) {
		int64_t v = 0;
		struct rfs_record *r;

		pthread_mutex_lock(&bl->core->table_lock);
		r = rfs_table_find(&bl->core->table, client, client_len, path, path_len);
		if (r)
			v = rfs_table_count_at(r, bl->base->snap->gen);
		pthread_mutex_unlock(&bl->core->table_lock);
		if (v != RFS_COUNT_UNKNOWN)
			return v;
	}
	idx = base_folded(bl->base, RFS_FMT_RMTAB);
	if (!idx)
		return -ENOMEM;
	return folded_count(idx, client, client_len, path, path_len);
}

static void drop_cur_locked(struct rfs_core *c)
{
	if (c->cur && c->cur->gen != c->table.gen) {
		rfs_snap_put(c->cur);
		c->cur = NULL;
	}
}

static int by_line(const void *a, const void *b)
{
	const struct rfs_entry *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Journals and applies the changes as ops of this node. Holds commit_lock while computing,
 * writing and applying, so journal order is sequence order and the next commit computes
 * against this one's result; the table lock only while computing and applying. The sync
 * that acknowledges it comes after commit_lock, shared with whoever commits meanwhile.
 */
static int commit_changes(struct rfs_core *c, struct rfs_entries *changes, const char *who)
{
	struct rfs_buf lines = RFS_BUF_INIT;
	struct rfs_op *ops = NULL;
	struct rfs_table *t = &c->table;
	uint64_t seq_before, last_seq = 0, lsn = 0;
	size_t i, nops = 0, live;
	int rc = 0, changed = 0;

	if (changes->n == 0)
		return 0;
	/* New records are born in the order of their lines, so they keep that order. */
	qsort(changes->v, changes->n, sizeof(*changes->v), by_line);
	ops = malloc(changes->n * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	pthread_mutex_lock(&c->commit_lock);
	pthread_mutex_lock(&c->table_lock);
	seq_before = t->self_seq;
	live = t->nlive;
	for (i = 0; i < changes->n && !rc; i++) {
		const struct rfs_entry *ch = &changes->v[i];
		struct rfs_record *r =
			rfs_table_find(t, ch->client, ch->client_len, ch->path, ch->path_len);
		uint32_t cur = r ? r->count : 0;
		uint32_t target = ch->count;

		if (ch->flags & RFS_ENTRY_AT_LEAST)
			target = cur > target ? cur : target;
		if (target == cur)
			continue;
		if (cur == 0 && ++live > RFS_RECORDS_MAX) {
			rfs_err("%s: refused: more than %d records", who, RFS_RECORDS_MAX);
			rc = -ENOSPC;
			break;
		}
		if (target == 0)
			live--;
		if (rfs_table_prepare_set(t, ch->client, ch->client_len, ch->path, ch->path_len,
					  target, &ops[nops]) == 1) {
			rc = rfs_op_encode(&lines, &ops[nops]);
			last_seq = ops[nops].seq;
			nops++;
		}
	}
	if (rc)
		t->self_seq = seq_before;
	pthread_mutex_unlock(&c->table_lock);
	if (rc || nops == 0)
		goto out;

	rc = rfs_journal_write(&c->journal, lines.data, lines.len, last_seq, nops, &lsn);
	if (rc) {
		rfs_err("%s: journal write failed, nothing changed: %s", who, strerror(-rc));
		pthread_mutex_lock(&c->table_lock);
		t->self_seq = seq_before;
		pthread_mutex_unlock(&c->table_lock);
		goto out;
	}
	pthread_mutex_lock(&c->table_lock);
	for (i = 0; i < nops; i++) {
		int r = rfs_table_apply(t, &ops[i]);

		if (r < 0) {
			/* In the journal already: the next start replays it. */
			rfs_err("%s: applying a journaled op failed: %s", who, strerror(-r));
			rc = r;
			break;
		}
		changed |= r;
	}
	c->stats.commits++;
	c->stats.ops_local += nops;
	drop_cur_locked(c);
	pthread_mutex_unlock(&c->table_lock);
out:
	pthread_mutex_unlock(&c->commit_lock);
	free(ops);
	rfs_buf_free(&lines);
	if (nops && !rc) {
		rc = rfs_journal_wait(&c->journal, lsn);
		if (rc) {
			rfs_err("%s: journal sync failed: the change shows here but is not "
				"acknowledged: %s",
				who, strerror(-rc));
		} else {
			pthread_mutex_lock(&c->commit_lock);
			rfs_journal_publish(&c->journal);
			pthread_mutex_unlock(&c->commit_lock);
			rfs_debug("%s: committed %zu op(s), last seq %llu", who, nops,
				  (unsigned long long)last_seq);
		}
		if (changed && c->on_change)
			c->on_change(c->on_change_ctx, true);
		if (!rc && c->wait_shipped)
			c->wait_shipped(c->wait_shipped_ctx, last_seq);
	}
	return rc;
}

int rfs_core_commit(struct rfs_core *c, enum rfs_format fmt, struct rfs_base *base,
		    const char *text, size_t len, const char *who, struct rfs_parse_error *err)
{
	struct base_lookup bl = {.core = c, .base = base};
	struct rfs_entries changes = {0};
	int rc;

	memset(err, 0, sizeof(*err));
	if (fmt == RFS_FMT_RMTAB) {
		const char *btext = base->snap ? base->snap->text : (base->text ? base->text : "");
		size_t blen = base->snap ? base->snap->len : base->len;

		rc = rfs_diff_rmtab(btext, blen, base->snap != NULL, text, len, base_count, &bl,
				    &changes, err);
	} else {
		const struct rfs_entries *folded = base_folded(base, RFS_FMT_GNFS);

		rc = folded ? rfs_diff_gnfs(folded, text, len, &changes, err) : -ENOMEM;
	}
	if (rc == -EINVAL) {
		pthread_mutex_lock(&c->table_lock);
		c->stats.refused++;
		pthread_mutex_unlock(&c->table_lock);
		rfs_err("%s: refused, nothing changed: line %u: %s", who, err->line, err->reason);
		goto out;
	}
	if (rc)
		goto out;
	rc = commit_changes(c, &changes, who);
out:
	rfs_entries_free(&changes);
	return rc;
}

int rfs_core_set(struct rfs_core *c, const char *client, const char *path, uint32_t count,
		 bool at_least)
{
	struct rfs_entries changes = {0};
	struct rfs_parse_error err = {0};
	int rc = rfs_key_check(client, strlen(client), path, strlen(path), &err);

	if (rc)
		return rc;
	rc = rfs_entries_add(&changes, client, strlen(client), path, strlen(path), count, 0);
	if (!rc) {
		if (at_least)
			changes.v[0].flags = RFS_ENTRY_AT_LEAST;
		rc = commit_changes(c, &changes, "control");
	}
	rfs_entries_free(&changes);
	return rc;
}

int rfs_core_set_many(struct rfs_core *c, struct rfs_entries *changes, const char *who)
{
	return commit_changes(c, changes, who);
}

long rfs_core_apply_remote(struct rfs_core *c, const char *node, const char *buf, size_t len,
			   uint64_t skip_seq, bool *damaged)
{
	struct rfs_op_scratch scratch;
	size_t pos = 0;
	uint64_t nops = 0;
	int changed = 0;
	char skew_name[RFS_NODE_MAX + 1];
	double skew_s = 0;
	bool skewed;

	*damaged = false;
	pthread_mutex_lock(&c->table_lock);
	while (pos < len) {
		struct rfs_op op;
		long n = rfs_op_decode(buf + pos, len - pos, &op, &scratch, NULL);
		int r;

		/* No valid line is that long: damage, not a line still being written. */
		if (n == -EAGAIN && len - pos <= RFS_OP_LINE_MAX)
			break;
		if (n < 0 || strcmp(op.node, node) != 0) {
			*damaged = true;
			break;
		}
		pos += (size_t)n;
		if (op.seq <= skip_seq)
			continue;
		r = rfs_table_apply(&c->table, &op);
		if (r < 0)
			break;
		changed |= r;
		nops++;
	}
	c->stats.ops_remote += nops;
	drop_cur_locked(c);
	skewed = rfs_table_skew_news(&c->table, skew_name, sizeof(skew_name), &skew_s);
	pthread_mutex_unlock(&c->table_lock);
	if (skewed)
		rfs_warn("clock skew: changes of node %s are stamped %.0f s ahead of this node's "
			 "clock (maxskew %.0f s): applied, but this node's clock does not follow "
			 "them; check the clocks (NTP) of %s and of this node",
			 skew_name, skew_s, (double)c->table.max_skew_ns / 1e9, skew_name);
	if (changed && c->on_change)
		c->on_change(c->on_change_ctx, false);
	return (long)pos;
}

struct rfs_snap *rfs_core_snap(struct rfs_core *c)
{
	struct rfs_buf text = RFS_BUF_INIT;
	struct rfs_snap *s;

	pthread_mutex_lock(&c->table_lock);
	if (c->cur && c->cur->gen == c->table.gen) {
		s = rfs_snap_get(c->cur);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || rfs_table_render_rmtab(&c->table, &text) ||
	    (!text.data && rfs_buf_reserve(&text, 0))) {
		free(s);
		rfs_buf_free(&text);
		s = NULL;
		goto out;
	}
	atomic_init(&s->refs, 2); /* one for cur, one for the caller */
	pthread_mutex_init(&s->lazy_lock, NULL);
	s->gen = c->table.gen;
	s->mtime = rfs_table_mtime(&c->table);
	s->text = rfs_buf_steal(&text, &s->len);
	rfs_snap_put(c->cur);
	c->cur = s;
out:
	pthread_mutex_unlock(&c->table_lock);
	return s;
}

void rfs_core_view_attr(struct rfs_core *c, enum rfs_format fmt, size_t *size, int64_t *mtime)
{
	pthread_mutex_lock(&c->table_lock);
	*size = fmt == RFS_FMT_RMTAB ? c->table.rmtab_bytes : rfs_table_gnfs_bytes(&c->table);
	*mtime = rfs_table_mtime(&c->table);
	pthread_mutex_unlock(&c->table_lock);
}

int rfs_core_checkpoint(struct rfs_core *c, const struct rfs_peer_pos *peers, size_t npeers,
			bool force)
{
	struct rfs_buf buf = RFS_BUF_INIT;
	uint64_t gen, lsn;
	int rc;

	/* Two writers (the replication thread, the stop path) would share view.tmp. */
	pthread_mutex_lock(&c->checkpoint_lock);
	pthread_mutex_lock(&c->table_lock);
	if (!force && c->table.gen == c->checkpoint_gen) {
		pthread_mutex_unlock(&c->table_lock);
		pthread_mutex_unlock(&c->checkpoint_lock);
		return 0;
	}
	gen = c->table.gen;
	/* Every op in the table is written by now (write, then apply). */
	lsn = rfs_journal_lsn(&c->journal);
	rc = rfs_checkpoint_encode(&buf, &c->table, c->imported, peers, npeers);
	pthread_mutex_unlock(&c->table_lock);
	/* No op in a checkpoint that a power cut could take from the journal. */
	if (!rc)
		rc = rfs_journal_sync(&c->journal, lsn);
	if (!rc)
		rc = rfs_checkpoint_write(c->statedir_fd, buf.data, buf.len);
	if (rc)
		rfs_err("cannot write the checkpoint: %s", strerror(-rc));
	else
		c->checkpoint_gen = gen;
	pthread_mutex_unlock(&c->checkpoint_lock);
	rfs_buf_free(&buf);
	return rc;
}

void rfs_core_set_max_skew(struct rfs_core *c, double secs)
{
	pthread_mutex_lock(&c->table_lock);
	c->table.max_skew_ns = (uint64_t)(secs * 1e9);
	pthread_mutex_unlock(&c->table_lock);
}

void rfs_core_note_shipped(struct rfs_core *c, uint64_t seq)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%020llu\n", (unsigned long long)seq);

	/* Fixed width: one pwrite replaces the old value whole. */
	if (pwrite(c->shipped_fd, buf, (size_t)n, 0) != n)
		rfs_debug("cannot note the shipped sequence: %s", strerror(errno));
}

uint64_t rfs_core_shipped(struct rfs_core *c)
{
	char buf[32];
	ssize_t n = pread(c->shipped_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

static int replay_op(void *ctx, const struct rfs_op *op)
{
	int rc = rfs_table_apply(ctx, op);

	return rc < 0 ? rc : 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Gives the journal's ops the sequence numbers floor+1, floor+2, ... and this node's next op
 * the one after them. Called with commit_lock held (or before any thread exists): a local
 * disk rewrite, never a store call. The journal is replaced before the incarnation file
 * names the new floor, so a crash in between leaves ops above the old floor, which the next
 * check renumbers again.
 */
static int renumber_journal(struct rfs_core *c, uint64_t floor)
{
	struct rfs_buf out = RFS_BUF_INIT;
	size_t len;
	char *text;
	long n = 0;
	/* Every written line, synced and published. */
	int rc = rfs_journal_sync(&c->journal, rfs_journal_lsn(&c->journal));

	if (rc)
		return rc;
	rfs_journal_publish(&c->journal);
	len = (size_t)c->journal.size;
	text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	if (len && rfs_journal_read(&c->journal, 0, text, len) != (ssize_t)len)
		rc = -EIO;
	if (!rc && len) {
		n = rfs_ops_renumber(text, len, floor, &out);
		if (n < 0)
			rc = (int)n;
	}
	if (!rc && len)
		rc = rfs_journal_replace(&c->journal, out.data ? out.data : "", out.len,
					 n ? floor + (uint64_t)n : 0, (uint64_t)n);
	free(text);
	rfs_buf_free(&out);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->table_lock);
	c->table.self_seq = floor + (uint64_t)n;
	if (n)
		c->table.self->applied_seq = c->table.self_seq;
	pthread_mutex_unlock(&c->table_lock);
	return 0;
}

/*
 * Which incarnation the state directory is in. Its last sequence number is certain only
 * with a checkpoint (the journal holds every op after it); without one (new, lost, damaged)
 * a new incarnation begins above the clock and above everything known locally.
 */
static int open_incarnation(struct rfs_core *c, const char *statedir, bool ck_ok)
{
	struct rfs_incarnation inc = {0};
	int rc = rfs_incarnation_load(c->statedir_fd, &inc);
	uint64_t known;

	if (rc == 0 && ck_ok) {
		c->inc = inc;
		if (c->table.self_seq < inc.floor)
			c->table.self_seq = inc.floor;
		return 0;
	}
	if (rc == -ENOENT && ck_ok) {
		/* Written by an earlier version: its numbering is certain and on the store. */
		c->inc.floor = 0;
		c->inc.anchored = true;
		return rfs_incarnation_store(c->statedir_fd, &c->inc);
	}
	if (rc && rc != -ENOENT)
		rfs_warn("%s/incarnation is damaged: starting a new incarnation", statedir);
	/* Everything known locally: what is left of the directory may still say something. */
	known = c->table.self_seq > inc.floor ? c->table.self_seq : inc.floor;
	if (rfs_core_shipped(c) > known)
		known = rfs_core_shipped(c);
	c->inc.floor = rfs_incarnation_floor(realtime_ns(), known);
	c->inc.anchored = false;
	rc = renumber_journal(c, c->inc.floor);
	if (!rc)
		rc = rfs_incarnation_store(c->statedir_fd, &c->inc);
	if (!rc)
		rc = rfs_core_checkpoint(c, NULL, 0, true);
	if (rc) {
		rfs_err("cannot start a new incarnation in %s: %s", statedir, strerror(-rc));
		return rc;
	}
	rfs_notice("state directory %s: new incarnation, sequence numbers from %llu (this "
		   "node's ops on the store are read back when it answers)",
		   statedir, (unsigned long long)c->inc.floor + 1);
	return 0;
}

int rfs_core_incarnation(struct rfs_core *c, struct rfs_incarnation *inc)
{
	pthread_mutex_lock(&c->commit_lock);
	*inc = c->inc;
	pthread_mutex_unlock(&c->commit_lock);
	return 0;
}

int rfs_core_renumber(struct rfs_core *c, uint64_t store_last)
{
	struct rfs_incarnation inc;
	int rc;

	pthread_mutex_lock(&c->commit_lock);
	inc.floor = rfs_incarnation_floor(realtime_ns(), store_last);
	inc.anchored = false;
	rc = renumber_journal(c, inc.floor);
	if (!rc)
		rc = rfs_incarnation_store(c->statedir_fd, &inc);
	if (!rc)
		c->inc = inc;
	pthread_mutex_unlock(&c->commit_lock);
	if (rc)
		rfs_err("cannot renumber the journal: %s", strerror(-rc));
	else
		rfs_warn(
			"the store holds ops of this node up to seq %llu, above this incarnation's "
			"start (was the clock set back?): unshipped ops renumbered from %llu",
			(unsigned long long)store_last, (unsigned long long)inc.floor + 1);
	return rc;
}

int rfs_core_anchor(struct rfs_core *c)
{
	struct rfs_incarnation inc;
	int rc = 0;

	pthread_mutex_lock(&c->commit_lock);
	inc = c->inc;
	if (!inc.anchored) {
		inc.anchored = true;
		rc = rfs_incarnation_store(c->statedir_fd, &inc);
		if (!rc)
			c->inc = inc;
	}
	pthread_mutex_unlock(&c->commit_lock);
	return rc;
}

static int lock_statedir(struct rfs_core *c, const char *statedir)
{
	char pid[32];
	ssize_t n;

	c->lock_fd = openat(c->statedir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0) {
		rfs_err("cannot open %s/lock: %s", statedir, strerror(errno));
		return -errno;
	}
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(c->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rfs_err("state directory %s is in use by another rmtabfs (pid %s)", statedir,
			pid[0] ? pid : "?");
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(c->lock_fd, 0) < 0 || pwrite(c->lock_fd, pid, (size_t)n, 0) != n)
		rfs_warn("cannot write %s/lock: %s", statedir, strerror(errno));
	return 0;
}

int rfs_core_open(struct rfs_core *c, const char *statedir, const char *node)
{
	bool ck_ok;
	int rc;

	memset(c, 0, sizeof(*c));
	c->statedir_fd = c->lock_fd = c->shipped_fd = -1;
	c->journal.fd = -1;
	pthread_mutex_init(&c->commit_lock, NULL);
	pthread_mutex_init(&c->table_lock, NULL);
	pthread_mutex_init(&c->checkpoint_lock, NULL);
	if (mkdir(statedir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		rfs_err("cannot create state directory %s: %s", statedir, strerror(errno));
		return rc;
	}
	c->statedir_fd = open(statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->statedir_fd < 0) {
		rc = -errno;
		rfs_err("cannot open state directory %s: %s", statedir, strerror(errno));
		return rc;
	}
	rc = lock_statedir(c, statedir);
	if (rc)
		goto fail;
	c->shipped_fd = openat(c->statedir_fd, "shipped", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->shipped_fd < 0) {
		rc = -errno;
		rfs_err("cannot open %s/shipped: %s", statedir, strerror(errno));
		goto fail;
	}
	rc = rfs_table_init(&c->table, node);
	if (rc)
		goto fail;
	rc = rfs_checkpoint_load(c->statedir_fd, &c->table, &c->loaded);
	ck_ok = rc == 0;
	if (rc == 0 && strcmp(c->loaded.node, node) != 0) {
		rfs_err("state directory %s belongs to node '%s', not '%s': use node=%s or another "
			"statedir",
			statedir, c->loaded.node, node, c->loaded.node);
		rc = -EINVAL;
		goto fail;
	}
	if (rc == 0) {
		c->imported = c->loaded.imported;
		rfs_table_restore_mtime(&c->table, c->loaded.mtime);
	} else if (rc != -ENOENT) {
		rfs_err("checkpoint %s/view is damaged (%s): starting from the journal and the "
			"store",
			statedir, strerror(-rc));
		rfs_table_free(&c->table);
		rc = rfs_table_init(&c->table, node);
		if (rc)
			goto fail;
	}
	rc = rfs_journal_open(&c->journal, c->statedir_fd, node, replay_op, &c->table);
	if (rc) {
		if (rc != -EINVAL)
			rfs_err("cannot open journal in %s: %s", statedir, strerror(-rc));
		goto fail;
	}
	/* lock, shipped and journal may be new: the journal is emptied on the strength of
	 * fdatasyncs of a file whose name must be on disk too. */
	if (fsync(c->statedir_fd) < 0) {
		rc = -errno;
		rfs_err("cannot sync state directory %s: %s", statedir, strerror(errno));
		goto fail;
	}
	if (c->journal.last_seq > c->table.self_seq)
		c->table.self_seq = c->journal.last_seq;
	c->checkpoint_gen = 0;
	if (c->journal.unclean_batch)
		rfs_warn("%s: a run with durability=batch did not stop cleanly before a restart of "
			 "the machine: its last changes may be missing here; starting a new "
			 "incarnation (they are read back from the store)",
			 statedir);
	rc = open_incarnation(c, statedir, ck_ok && !c->journal.unclean_batch);
	if (!rc && c->journal.unclean_batch)
		rc = rfs_journal_clean(&c->journal);
	if (rc)
		goto fail;
	rfs_info("state: %zu live record(s), %zu tombstone(s), journal %llu op(s), last seq %llu",
		 c->table.nlive, c->table.nrecords - c->table.nlive,
		 (unsigned long long)c->journal.ops, (unsigned long long)c->table.self_seq);
	return 0;
fail:
	rfs_core_close(c);
	return rc;
}

int rfs_core_set_durability(struct rfs_core *c, unsigned batch_ms)
{
	int rc = rfs_journal_set_batch(&c->journal, batch_ms);

	if (rc)
		rfs_err("cannot start the journal's sync timer: %s", strerror(-rc));
	else if (batch_ms)
		rfs_info("durability=batch:%u: changes are on this node's disk within %u ms",
			 batch_ms, batch_ms);
	return rc;
}

int rfs_core_flush(struct rfs_core *c)
{
	int rc;

	pthread_mutex_lock(&c->commit_lock);
	rc = rfs_journal_clean(&c->journal);
	pthread_mutex_unlock(&c->commit_lock);
	if (rc)
		rfs_err("cannot sync the journal: %s", strerror(-rc));
	return rc;
}

void rfs_core_close(struct rfs_core *c)
{
	rfs_snap_put(c->cur);
	c->cur = NULL;
	rfs_journal_close(&c->journal);
	if (c->table.buckets)
		rfs_table_free(&c->table);
	rfs_checkpoint_info_free(&c->loaded);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->shipped_fd >= 0)
		close(c->shipped_fd);
	if (c->statedir_fd >= 0)
		close(c->statedir_fd);
	c->lock_fd = c->statedir_fd = c->shipped_fd = -1;
	pthread_mutex_destroy(&c->commit_lock);
	pthread_mutex_destroy(&c->table_lock);
	pthread_mutex_destroy(&c->checkpoint_lock);
}

/* Reads a whole file below dirfd; -ENOENT if absent. */
static int slurp(int dirfd, const char *name, struct rfs_buf *out)
{
	char chunk[65536];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > RFS_VIEW_MAX_BYTES) {
			rc = -EFBIG;
			break;
		}
		rc = rfs_buf_append(out, chunk, (size_t)n);
		if (rc)
			break;
	}
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int rfs_core_import(struct rfs_core *c, int dirfd, const char *gnfs_name)
{
	struct rfs_entries found = {0};
	struct rfs_buf text = RFS_BUF_INIT;
	size_t pos = 0, skipped = 0, i;
	unsigned lineno = 1;
	int rc;

	if (c->imported)
		return 0;
	rc = slurp(dirfd, "rmtab", &text);
	if (rc && rc != -ENOENT) {
		rfs_err("import: cannot read the underlying rmtab: %s", strerror(-rc));
		goto out;
	}
	/* Line by line, so one bad line costs only itself. */
	while (pos < text.len) {
		const char *nl = memchr(text.data + pos, '\n', text.len - pos);
		size_t n = nl ? (size_t)(nl - text.data - pos) : text.len - pos;
		struct rfs_parse_error err;

		if (n && rt_parse(text.data + pos, n, lineno, &found, &err)) {
			rfs_warn("import: underlying rmtab line %u skipped: %s", lineno,
				 err.reason);
			skipped++;
		}
		pos += n + 1;
		lineno++;
	}
	if (gnfs_name) {
		struct rfs_parse_error err;
		struct rfs_entries g = {0};

		rfs_buf_resize(&text, 0);
		rc = slurp(dirfd, gnfs_name, &text);
		if (rc == 0 && gn_parse(text.data ? text.data : "", text.len, &g, &err) == 0) {
			for (i = 0; i < g.n && !rc; i++)
				rc = rfs_entries_add(&found, g.v[i].client, g.v[i].client_len,
						     g.v[i].path, g.v[i].path_len, 1, 0);
		} else if (rc == 0) {
			rfs_warn("import: underlying %s not imported: line %u: %s", gnfs_name,
				 err.line, err.reason);
		} else if (rc != -ENOENT) {
			rfs_warn("import: cannot read underlying %s: %s", gnfs_name, strerror(-rc));
		}
		rfs_entries_free(&g);
	}
	rfs_entries_fold(&found);
	for (i = 0; i < found.n; i++)
		found.v[i].flags = RFS_ENTRY_AT_LEAST;
	rc = commit_changes(c, &found, "import");
	if (rc)
		goto out;
	if (found.n || skipped)
		rfs_notice("imported %zu record(s) from the underlying directory (%zu line(s) "
			   "skipped); the files underneath are left as they were",
			   found.n, skipped);
	pthread_mutex_lock(&c->table_lock);
	c->imported = true;
	pthread_mutex_unlock(&c->table_lock);
	rc = rfs_core_checkpoint(c, NULL, 0, true);
out:
	rfs_entries_free(&found);
	rfs_buf_free(&text);
	return rc;
}

struct adopt_ctx {
	struct rfs_table *t;
	uint64_t skip; /* this node's ops up to here are in the snapshot */
};

static int adopt_own(void *p, const struct rfs_op *op)
{
	struct adopt_ctx *a = p;
	int rc;

	if (op->seq <= a->skip)
		return 0;
	rc = rfs_table_apply(a->t, op);
	return rc < 0 ? rc : 0;
}

int rfs_core_adopt(struct rfs_core *c, const struct rfs_snapshot_info *snap, const char *own_tail,
		   size_t own_len)
{
	const struct rfs_cover *self_cover;
	struct rfs_table fresh, old;
	struct adopt_ctx a;
	struct rfs_record *r;
	char *journal = NULL;
	size_t i, bad = 0, jlen;
	long used;
	int rc;

	rc = rfs_table_init(&fresh, c->table.self->name);
	if (rc)
		return rc;
	fresh.max_skew_ns = c->table.max_skew_ns;
	self_cover = rfs_snapshot_cover(snap, fresh.self->name);
	a.t = &fresh;
	a.skip = self_cover ? self_cover->seq : 0;
	used = rfs_ops_scan(snap->records, snap->records_len, replay_op, &fresh, &bad, NULL);
	if (used < 0 || bad) {
		rc = used < 0 ? (int)used : -EBADMSG;
		goto out;
	}
	used = rfs_ops_scan(own_tail, own_len, adopt_own, &a, NULL, NULL);
	if (used < 0) {
		rc = (int)used;
		goto out;
	}

	/* No local commit while the journal's ops are folded in and the tables swap. */
	pthread_mutex_lock(&c->commit_lock);
	/* Every written line: the table holds those not yet synced too. */
	jlen = (size_t)rfs_journal_end(&c->journal);
	journal = malloc(jlen + 1);
	if (!journal) {
		pthread_mutex_unlock(&c->commit_lock);
		rc = -ENOMEM;
		goto out;
	}
	if (rfs_journal_read(&c->journal, 0, journal, jlen) != (ssize_t)jlen) {
		pthread_mutex_unlock(&c->commit_lock);
		rc = -EIO;
		goto out;
	}
	rfs_ops_scan(journal, jlen, adopt_own, &a, NULL, NULL);

	pthread_mutex_lock(&c->table_lock);
	for (i = 0; i < snap->ncovers; i++) {
		struct rfs_node *n = rfs_table_node(&fresh, snap->covers[i].node, true);

		if (n && snap->covers[i].seq > n->applied_seq) {
			n->applied_seq = snap->covers[i].seq;
			n->applied_time = snap->covers[i].time;
		}
	}
	if (c->table.self_seq > fresh.self_seq)
		fresh.self_seq = c->table.self_seq;
	if (c->table.hlc > fresh.hlc)
		fresh.hlc = c->table.hlc;
	/*
	 * Generations go on from the old table's, and no record can say what it held at an
	 * earlier one: write sessions started before fall back to their base text.
	 */
	fresh.gen += c->table.gen;
	rfs_table_for_each(&fresh, i, r) r->changed_gen = r->prev_gen = fresh.gen;
	fresh.reported_mtime = c->table.reported_mtime;
	fresh.reported_gen = 0;
	fresh.now_ns = c->table.now_ns;
	rfs_table_keep_skew(&fresh, &c->table);
	old = c->table;
	c->table = fresh;
	memset(&fresh, 0, sizeof(fresh));
	rfs_snap_put(c->cur);
	c->cur = NULL;
	pthread_mutex_unlock(&c->table_lock);
	pthread_mutex_unlock(&c->commit_lock);
	rfs_table_free(&old);
	rfs_notice("adopted store snapshot %llu by %s: %zu live record(s)",
		   (unsigned long long)snap->gen, snap->by, c->table.nlive);
	if (c->on_change)
		c->on_change(c->on_change_ctx, false);
	rc = 0;
out:
	free(journal);
	if (fresh.buckets)
		rfs_table_free(&fresh);
	return rc;
}
