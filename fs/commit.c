/*
 * The commit path of the record set (include/rmtabfs/commit.h): a write session's content,
 * a control command's records or an import become ops of this node, journaled, then applied.
 *
 * Invariants:
 *  - an op is written to the journal before it is applied to the table, so whatever a reader
 *    has seen survives kill -9 (the page cache keeps it); a failed journal write changes
 *    nothing. Its commit is acknowledged only after the journal's sync covers it (with
 *    durability=fsync), which runs outside commit_lock so that concurrent commits share it
 *    (group commit); until then the op is neither shipped (the journal publishes only synced
 *    lines) nor in a checkpoint (a checkpoint first syncs the journal up to its table);
 *  - journal order is sequence order: commit_lock is held while ops are numbered, written
 *    and applied.
 * Lock order as in core.c: commit_lock, then table_lock. No lock is held across the
 * on_change/wait_shipped hooks, nor across a commit's journal sync.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/core.h>
#include <rmtabfs/diff.h>
#include <rmtabfs/log.h>

#include "core_int.h"

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
	idx = rfs_base_folded(bl->base, RFS_FMT_RMTAB);
	if (!idx)
		return -ENOMEM;
	return folded_count(idx, client, client_len, path, path_len);
}

static int by_line(const void *a, const void *b)
{
	const struct rfs_entry *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* The changes' batch: its ops, their journal lines, and what became of it. */
struct batch {
	struct rfs_op *ops;
	size_t nops;
	struct rfs_buf lines;
	uint64_t seq_before; /* self_seq before numbering, to roll back */
	uint64_t last_seq;
	uint64_t lsn;
	int changed;
};

/*
 * Under commit_lock: numbers and encodes the ops that take the table to the changes'
 * targets. On failure the numbering is rolled back and nothing changed.
 */
static int compute_ops(struct rfs_core *c, const struct rfs_entries *changes, const char *who,
		       struct batch *b)
{
	struct rfs_table *t = &c->table;
	size_t i, live;
	int rc = 0;

	pthread_mutex_lock(&c->table_lock);
	b->seq_before = t->self_seq;
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
					  target, &b->ops[b->nops]) == 1) {
			rc = rfs_op_encode(&b->lines, &b->ops[b->nops]);
			b->last_seq = b->ops[b->nops].seq;
			b->nops++;
		}
	}
	if (rc)
		t->self_seq = b->seq_before;
	pthread_mutex_unlock(&c->table_lock);
	return rc;
}

/* Under commit_lock: applies the journaled ops to the table. */
static int apply_ops(struct rfs_core *c, struct batch *b, const char *who)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&c->table_lock);
	for (i = 0; i < b->nops; i++) {
		int r = rfs_table_apply(&c->table, &b->ops[i]);

		if (r < 0) {
			/* In the journal already: the next start replays it. */
			rfs_err("%s: applying a journaled op failed: %s", who, strerror(-r));
			rc = r;
			break;
		}
		b->changed |= r;
	}
	c->stats.commits++;
	c->stats.ops_local += b->nops;
	rfs_core_drop_cur_locked(c);
	pthread_mutex_unlock(&c->table_lock);
	return rc;
}

/*
 * After commit_lock: waits for the journal's sync to cover the batch (shared with whoever
 * committed meanwhile), publishes it, then tells the hooks.
 */
static int acknowledge(struct rfs_core *c, const struct batch *b, const char *who)
{
	int rc = rfs_journal_wait(&c->journal, b->lsn);

	if (rc) {
		rfs_err("%s: journal sync failed: the change shows here but is not "
			"acknowledged: %s",
			who, strerror(-rc));
	} else {
		pthread_mutex_lock(&c->commit_lock);
		rfs_journal_publish(&c->journal);
		pthread_mutex_unlock(&c->commit_lock);
		rfs_debug("%s: committed %zu op(s), last seq %llu", who, b->nops,
			  (unsigned long long)b->last_seq);
	}
	if (b->changed && c->on_change)
		c->on_change(c->on_change_ctx, true);
	if (!rc && c->wait_shipped)
		c->wait_shipped(c->wait_shipped_ctx, b->last_seq);
	return rc;
}

/*
 * Journals and applies the changes as ops of this node. Holds commit_lock while computing,
 * writing and applying, so journal order is sequence order and the next commit computes
 * against this one's result; the table lock only while computing and applying. The sync
 * that acknowledges it comes after commit_lock, shared with whoever commits meanwhile.
 */
static int commit_changes(struct rfs_core *c, struct rfs_entries *changes, const char *who)
{
	struct batch b = {.lines = RFS_BUF_INIT};
	int rc;

	if (changes->n == 0)
		return 0;
	/* New records are born in the order of their lines, so they keep that order. */
	qsort(changes->v, changes->n, sizeof(*changes->v), by_line);
	b.ops = malloc(changes->n * sizeof(*b.ops));
	if (!b.ops)
		return -ENOMEM;
	pthread_mutex_lock(&c->commit_lock);
	rc = compute_ops(c, changes, who, &b);
	if (rc || b.nops == 0)
		goto out;

	rc = rfs_journal_write(&c->journal, b.lines.data, b.lines.len, b.last_seq, b.nops, &b.lsn);
	if (rc) {
		rfs_err("%s: journal write failed, nothing changed: %s", who, strerror(-rc));
		pthread_mutex_lock(&c->table_lock);
		c->table.self_seq = b.seq_before;
		pthread_mutex_unlock(&c->table_lock);
		goto out;
	}
	rc = apply_ops(c, &b, who);
out:
	pthread_mutex_unlock(&c->commit_lock);
	free(b.ops);
	rfs_buf_free(&b.lines);
	if (b.nops && !rc)
		rc = acknowledge(c, &b, who);
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
		const struct rfs_entries *folded = rfs_base_folded(base, RFS_FMT_GNFS);

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
