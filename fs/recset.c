/*
 * The record set's store-facing functions, called in this process (include/rmtabfs/recset.h).
 * They are the only code outside the record set's own files (core.c, commit.c, follow.c)
 * that takes its locks, each for one short step; none calls the store or waits. Lock order
 * as in core.h: commit_lock, then checkpoint_lock, then table_lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/core.h>
#include <rmtabfs/log.h>
#include <rmtabfs/recset.h>

struct rfs_rs {
	struct rfs_core *core;
	/*
	 * The log positions of the last checkpoint written through us: where a store side
	 * started after this one goes on reading (under pos_lock, a leaf).
	 */
	pthread_mutex_t pos_lock;
	struct rfs_peer_pos *pos;
	size_t npos;
	bool have_pos;
};

struct rfs_rs *rfs_rs_local(struct rfs_core *core)
{
	struct rfs_rs *rs = calloc(1, sizeof(*rs));

	if (rs) {
		rs->core = core;
		pthread_mutex_init(&rs->pos_lock, NULL);
	}
	return rs;
}

void rfs_rs_free(struct rfs_rs *rs)
{
	if (!rs)
		return;
	free(rs->pos);
	pthread_mutex_destroy(&rs->pos_lock);
	free(rs);
}

static void remember_pos(struct rfs_rs *rs, const struct rfs_peer_pos *pos, size_t n)
{
	struct rfs_peer_pos *copy = malloc(n ? n * sizeof(*pos) : 1);

	if (!copy)
		return; /* the older positions stay: reading from them again is harmless */
	if (n)
		memcpy(copy, pos, n * sizeof(*pos));
	pthread_mutex_lock(&rs->pos_lock);
	free(rs->pos);
	rs->pos = copy;
	rs->npos = n;
	rs->have_pos = true;
	pthread_mutex_unlock(&rs->pos_lock);
}

uint64_t rfs_rs_self_seq(struct rfs_rs *rs)
{
	uint64_t seq;

	pthread_mutex_lock(&rs->core->table_lock);
	seq = rs->core->table.self_seq;
	pthread_mutex_unlock(&rs->core->table_lock);
	return seq;
}

uint64_t rfs_rs_node_applied(struct rfs_rs *rs, const char *node)
{
	struct rfs_node *n;
	uint64_t seq = 0;

	pthread_mutex_lock(&rs->core->table_lock);
	n = rfs_table_node(&rs->core->table, node, false);
	if (n)
		seq = n->applied_seq;
	pthread_mutex_unlock(&rs->core->table_lock);
	return seq;
}

void rfs_rs_behind(struct rfs_rs *rs, uint64_t last, bool *behind, bool *fresh)
{
	struct rfs_core *c = rs->core;

	pthread_mutex_lock(&c->table_lock);
	*behind = c->table.self_seq < last;
	*fresh = c->table.nrecords == 0 && c->loaded.npeers == 0;
	pthread_mutex_unlock(&c->table_lock);
}

void rfs_rs_raise_self_seq(struct rfs_rs *rs, uint64_t last)
{
	struct rfs_core *c = rs->core;

	/* Under the commit lock: no local op is numbered while it moves. */
	pthread_mutex_lock(&c->commit_lock);
	pthread_mutex_lock(&c->table_lock);
	if (c->table.self_seq < last)
		c->table.self_seq = last;
	pthread_mutex_unlock(&c->table_lock);
	pthread_mutex_unlock(&c->commit_lock);
}

void rfs_rs_journal_pos(struct rfs_rs *rs, uint64_t *size, uint64_t *last_seq)
{
	struct rfs_core *c = rs->core;

	/* Commits change both under commit_lock. */
	pthread_mutex_lock(&c->commit_lock);
	*size = (uint64_t)c->journal.size;
	*last_seq = c->journal.last_seq;
	pthread_mutex_unlock(&c->commit_lock);
}

ssize_t rfs_rs_journal_read(struct rfs_rs *rs, uint64_t off, char *buf, size_t len)
{
	return rfs_journal_read(&rs->core->journal, (off_t)off, buf, len);
}

long rfs_rs_apply_remote(struct rfs_rs *rs, const char *node, const char *buf, size_t len,
			 uint64_t skip_seq, bool *damaged)
{
	return rfs_core_apply_remote(rs->core, node, buf, len, skip_seq, damaged);
}

int rfs_rs_adopt(struct rfs_rs *rs, const char *snap, size_t snap_len, const char *own,
		 size_t own_len)
{
	struct rfs_snapshot_info info;
	int rc = rfs_snapshot_parse(snap, snap_len, &info);

	if (rc)
		return rc;
	rc = rfs_core_adopt(rs->core, &info, own, own_len);
	rfs_snapshot_info_free(&info);
	return rc;
}

void rfs_rs_note_shipped(struct rfs_rs *rs, uint64_t seq)
{
	rfs_core_note_shipped(rs->core, seq);
}

uint64_t rfs_rs_shipped(struct rfs_rs *rs)
{
	return rfs_core_shipped(rs->core);
}

int rfs_rs_incarnation(struct rfs_rs *rs, struct rfs_incarnation *inc)
{
	return rfs_core_incarnation(rs->core, inc);
}

int rfs_rs_renumber(struct rfs_rs *rs, uint64_t store_last)
{
	return rfs_core_renumber(rs->core, store_last);
}

int rfs_rs_anchor(struct rfs_rs *rs)
{
	return rfs_core_anchor(rs->core);
}

int rfs_rs_checkpoint(struct rfs_rs *rs, const struct rfs_peer_pos *pos, size_t n, bool force)
{
	int rc = rfs_core_checkpoint(rs->core, pos, n, force);

	if (!rc)
		remember_pos(rs, pos, n);
	return rc;
}

int rfs_rs_reset_journal(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			 size_t n)
{
	struct rfs_core *c = rs->core;
	int rc = 0;

	/* Under the commit lock: no op can join the journal between the check and the reset. */
	pthread_mutex_lock(&c->commit_lock);
	if (shipped >= c->journal.last_seq && rfs_core_checkpoint(c, pos, n, true) == 0 &&
	    rfs_journal_reset(&c->journal) == 0)
		rc = 1;
	pthread_mutex_unlock(&c->commit_lock);
	if (rc)
		remember_pos(rs, pos, n);
	return rc;
}

void rfs_rs_drop_tombstones(struct rfs_rs *rs, uint64_t horizon)
{
	pthread_mutex_lock(&rs->core->table_lock);
	rfs_table_drop_tombstones(&rs->core->table, horizon);
	pthread_mutex_unlock(&rs->core->table_lock);
}

uint64_t rfs_rs_table_bytes(struct rfs_rs *rs)
{
	uint64_t n;

	pthread_mutex_lock(&rs->core->table_lock);
	n = rs->core->table.rmtab_bytes + 64 * (uint64_t)rs->core->table.nlive;
	pthread_mutex_unlock(&rs->core->table_lock);
	return n;
}

int rfs_rs_loaded_peers(struct rfs_rs *rs, struct rfs_peer_pos **pos, size_t *n)
{
	const struct rfs_checkpoint_info *l = &rs->core->loaded;
	const struct rfs_peer_pos *from = l->peers;
	size_t count = l->npeers;
	int rc = 0;

	pthread_mutex_lock(&rs->pos_lock);
	if (rs->have_pos) {
		from = rs->pos;
		count = rs->npos;
	}
	*n = 0;
	*pos = calloc(count ? count : 1, sizeof(**pos));
	if (!*pos)
		rc = -ENOMEM;
	else if (count)
		memcpy(*pos, from, count * sizeof(**pos));
	if (!rc)
		*n = count;
	pthread_mutex_unlock(&rs->pos_lock);
	return rc;
}

/* Under table_lock: the covers of every log read, and the tombstone horizon they allow. */
static int covers_locked(struct rfs_core *c, const struct rfs_peer_pos *pos, size_t n,
			 struct rfs_cover *covers, size_t *ncovers, uint64_t *horizon)
{
	size_t i;

	*ncovers = 0;
	for (i = 0; i < n; i++) {
		struct rfs_cover *cv = &covers[*ncovers];
		struct rfs_node *nd = rfs_table_node(&c->table, pos[i].node, false);

		if (!nd || !nd->applied_seq)
			continue;
		snprintf(cv->node, sizeof(cv->node), "%s", pos[i].node);
		cv->seq = nd->applied_seq;
		cv->time = nd->applied_time;
		cv->seg = pos[i].seg;
		cv->offset = pos[i].offset;
		/*
		 * Tombstones may go once every log has passed them: no op still to come from
		 * any node can be older than its last one here.
		 */
		if (cv->time < *horizon)
			*horizon = cv->time;
		(*ncovers)++;
	}
	return 0;
}

int rfs_rs_snapshot_encode(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			   size_t n, const struct rfs_cover *prev, size_t nprev, uint64_t gen,
			   uint64_t horizon, struct rfs_buf *out, char *msg, size_t msglen)
{
	struct rfs_core *c = rs->core;
	struct rfs_cover *covers = calloc(n ? n : 1, sizeof(*covers));
	size_t ncovers = 0, i, j;
	int rc = 0;

	if (!covers)
		return -ENOMEM;
	pthread_mutex_lock(&c->commit_lock);
	pthread_mutex_lock(&c->table_lock);
	if (shipped != c->table.self_seq) {
		snprintf(msg, msglen, "this node still has ops to ship");
		rc = 1;
	}
	if (!rc)
		covers_locked(c, pos, n, covers, &ncovers, &horizon);
	for (i = 0; !rc && i < nprev; i++) {
		const struct rfs_cover *mine = NULL;

		for (j = 0; j < ncovers; j++)
			if (strcmp(covers[j].node, prev[i].node) == 0)
				mine = &covers[j];
		if (!mine || mine->seq < prev[i].seq) {
			snprintf(msg, msglen,
				 "this node has not read as far as snapshot %llu (node %s)",
				 (unsigned long long)gen - 1, prev[i].node);
			rc = 1;
		}
	}
	if (!rc)
		rc = rfs_snapshot_encode(out, &c->table, gen, c->table.self->name, horizon, covers,
					 ncovers);
	pthread_mutex_unlock(&c->table_lock);
	pthread_mutex_unlock(&c->commit_lock);
	if (!rc)
		snprintf(msg, msglen, "%zu node log(s) covered", ncovers);
	free(covers);
	return rc;
}
