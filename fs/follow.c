/*
 * What the store side asks of the record set (include/rmtabfs/follow.h; called through
 * fs/recset.c): other nodes' ops, adoption of a store snapshot, and this node's incarnation
 * (its start, renumbering, anchoring).
 *
 * Invariants:
 *  - this node's sequence numbers never repeat: a state directory without a checkpoint
 *    starts a new incarnation above the clock, and one not yet anchored is renumbered above
 *    whatever the store holds before it ships (fs/incarnation.c);
 *  - an adoption swaps the whole table under commit_lock, so no local op is numbered or
 *    journaled between reading the journal and the swap.
 * Lock order as in core.c: commit_lock, then table_lock. No store call and no hook under a
 * lock: the store side hands in what it read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rmtabfs/core.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/log.h>
#include <rmtabfs/snapshot.h>

#include "core_int.h"

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
	rfs_core_drop_cur_locked(c);
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
int rfs_core_open_incarnation(struct rfs_core *c, const char *statedir, bool ck_ok)
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

/* Fills the new table with the snapshot's records and this node's ops after its cover. */
static int adopt_build(struct rfs_core *c, const struct rfs_snapshot_info *snap,
		       const char *own_tail, size_t own_len, struct rfs_table *fresh,
		       struct adopt_ctx *a)
{
	const struct rfs_cover *self_cover;
	size_t bad = 0;
	long used;

	fresh->max_skew_ns = c->table.max_skew_ns;
	self_cover = rfs_snapshot_cover(snap, fresh->self->name);
	a->t = fresh;
	a->skip = self_cover ? self_cover->seq : 0;
	used = rfs_ops_scan(snap->records, snap->records_len, rfs_core_replay_op, fresh, &bad,
			    NULL);
	if (used < 0 || bad)
		return used < 0 ? (int)used : -EBADMSG;
	used = rfs_ops_scan(own_tail, own_len, adopt_own, a, NULL, NULL);
	return used < 0 ? (int)used : 0;
}

/*
 * Under commit_lock and table_lock: the fresh table takes the snapshot's covers and what
 * must go on from the old one, and replaces it; *old receives the old table.
 */
static void adopt_swap_locked(struct rfs_core *c, const struct rfs_snapshot_info *snap,
			      struct rfs_table *fresh, struct rfs_table *old)
{
	struct rfs_record *r;
	size_t i;

	for (i = 0; i < snap->ncovers; i++) {
		struct rfs_node *n = rfs_table_node(fresh, snap->covers[i].node, true);

		if (n && snap->covers[i].seq > n->applied_seq) {
			n->applied_seq = snap->covers[i].seq;
			n->applied_time = snap->covers[i].time;
		}
	}
	if (c->table.self_seq > fresh->self_seq)
		fresh->self_seq = c->table.self_seq;
	if (c->table.hlc > fresh->hlc)
		fresh->hlc = c->table.hlc;
	/*
	 * Generations go on from the old table's, and no record can say what it held at an
	 * earlier one: write sessions started before fall back to their base text.
	 */
	fresh->gen += c->table.gen;
	rfs_table_for_each(fresh, i, r) r->changed_gen = r->prev_gen = fresh->gen;
	fresh->reported_mtime = c->table.reported_mtime;
	fresh->reported_gen = 0;
	fresh->now_ns = c->table.now_ns;
	rfs_table_keep_skew(fresh, &c->table);
	*old = c->table;
	c->table = *fresh;
	memset(fresh, 0, sizeof(*fresh));
	rfs_snap_put(c->cur);
	c->cur = NULL;
}

int rfs_core_adopt(struct rfs_core *c, const struct rfs_snapshot_info *snap, const char *own_tail,
		   size_t own_len)
{
	struct rfs_table fresh, old;
	struct adopt_ctx a;
	char *journal = NULL;
	size_t jlen, live;
	int rc = rfs_table_init(&fresh, c->table.self->name);

	if (rc)
		return rc;
	rc = adopt_build(c, snap, own_tail, own_len, &fresh, &a);
	if (rc)
		goto out;

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
	adopt_swap_locked(c, snap, &fresh, &old);
	live = c->table.nlive;
	pthread_mutex_unlock(&c->table_lock);
	pthread_mutex_unlock(&c->commit_lock);
	rfs_table_free(&old);
	rfs_notice("adopted store snapshot %llu by %s: %zu live record(s)",
		   (unsigned long long)snap->gen, snap->by, live);
	if (c->on_change)
		c->on_change(c->on_change_ctx, false);
	rc = 0;
out:
	free(journal);
	if (fresh.buckets)
		rfs_table_free(&fresh);
	return rc;
}
