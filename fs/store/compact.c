/*
 * Compaction: snapshots of the table on the store (one compactor at a time, created with
 * link() so exactly one of racing ones wins), rotation of our log once a snapshot covers it,
 * and starting over from a snapshot (adoption). Called only by the replication thread,
 * except rfs_sloop_compact(), which asks it and waits.
 */
#include "internal.h"

/*
 * A newer snapshot covers (part of) our own log: begin a new segment, so the covered ones
 * stop growing, and delete the segments it covers entirely. Only we write or delete our log.
 */
int st_rotate_own(struct rfs_sloop *r)
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
	rc = st_read_snapshot(r, r->snap_newest, &buf, &len);
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
	rfs_rs_drop_tombstones(r->rs, info.horizon);
	c = rfs_snapshot_cover(&info, r->opts->node);
	/* Covered to its very end: nothing shipped since the compactor read it. */
	whole = c && c->seg == r->own_seg && c->offset >= r->own_size;
	if (c && c->seg >= r->own_seg && r->own_size > 0) {
		struct rfs_sfile *f = NULL;

		st_log_rel(rel, sizeof(rel), r->opts->node, r->own_seg + 1);
		st_call_begin(r);
		rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &f);
		/* Durable before the covered segments go below. */
		if (!rc)
			rc = ops->sync_dir(&r->store, "nodes");
		if (rc && f)
			ops->close(f);
		st_call_end(r);
		if (rc)
			goto out;
		st_call_begin(r);
		ops->close(r->own_log);
		st_call_end(r);
		pthread_mutex_lock(&r->lock);
		r->own_log = f;
		r->own_seg++;
		r->own_size = 0;
		pthread_mutex_unlock(&r->lock);
		st_crash_point(r, "rotate-created");
	}
	/* Every segment before the covered one is entirely in the snapshot. */
	for (seg = r->own_min_seg;
	     c && (seg < c->seg || (whole && seg == c->seg)) && seg < r->own_seg; seg++) {
		st_log_rel(rel, sizeof(rel), r->opts->node, seg);
		st_call_begin(r);
		rc = ops->unlink(&r->store, rel);
		st_call_end(r);
		if (rc)
			goto out;
		r->own_min_seg = seg + 1;
		st_crash_point(r, "rotate-deleting");
	}
	r->snap_seen = r->snap_newest;
out:
	rfs_snapshot_info_free(&info);
	free(buf);
	return rc;
}

/* Is compaction due? Logs grown since the last snapshot much larger than the live table. */
bool st_compaction_due(struct rfs_sloop *r)
{
	uint64_t table_bytes = rfs_rs_table_bytes(r->rs);

	return r->bytes_since_snap > RFS_COMPACT_MIN_BYTES &&
	       r->bytes_since_snap > RFS_COMPACT_RATIO * table_bytes;
}

int st_drop_own_tmp(void *ctx, const char *name)
{
	struct rfs_sloop *r = ctx;
	size_t n = strlen(name), k = strlen(r->opts->node);
	char rel[NAME_MAX + 16];

	if (strncmp(name, ".snap.", 6) == 0 && n > k + 5 && strcmp(name + n - 4, ".tmp") == 0 &&
	    name[n - 5 - k] == '.' && strncmp(name + n - 4 - k, r->opts->node, k) == 0) {
		snprintf(rel, sizeof(rel), "snapshots/%s", name);
		r->store.ops->unlink(&r->store, rel);
	}
	return 0;
}

/* The table as snapshot gen, covering every log where we stand: 0, 1 (msg: not now), -errno. */
static int encode_snapshot(struct rfs_sloop *r, uint64_t gen, const struct rfs_snapshot_info *prev,
			   struct rfs_buf *out, char *msg, size_t msglen)
{
	struct rfs_peer_pos *pos = calloc(r->npeers + 1, sizeof(*pos));
	uint64_t horizon, now;
	struct timespec ts;
	int rc;

	if (!pos)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	horizon = now - (uint64_t)(r->opts->tombstones * 1e9);
	rc = st_own_positions(r, pos);
	if (!rc)
		rc = rfs_rs_snapshot_encode(r->rs, st_shipped_seq(r), pos, r->npeers + 1,
					    prev->covers, prev->ncovers, gen, horizon, out, msg,
					    msglen);
	free(pos);
	return rc;
}

/*
 * Writes snapshot gen under a temporary name and links it into place (durably). Returns 0,
 * 1 with msg if another node linked gen first, or -errno.
 */
static int write_snapshot(struct rfs_sloop *r, uint64_t gen, const struct rfs_buf *out, char *msg,
			  size_t msglen)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_sfile *f = NULL;
	char tmp[160], rel[64];
	int rc;

	snprintf(tmp, sizeof(tmp), "snapshots/.snap.%012llu.%s.tmp", (unsigned long long)gen,
		 r->opts->node);
	st_snap_rel(rel, sizeof(rel), gen);
	st_call_begin(r);
	ops->unlink(&r->store, tmp);
	rc = ops->open(&r->store, tmp, O_RDWR | O_CREAT, &f);
	if (!rc) {
		ssize_t n = ops->pwrite(f, out->data, out->len, 0);

		rc = n == (ssize_t)out->len ? ops->fsync(f) : (n < 0 ? (int)n : -EIO);
		ops->close(f);
	}
	st_call_end(r);
	if (rc)
		return rc;
	st_crash_point(r, "compact-written");
	st_call_begin(r);
	rc = ops->link(&r->store, tmp, rel);
	ops->unlink(&r->store, tmp);
	/* The snapshot's name must be durable before any node deletes what it covers. */
	if (!rc)
		rc = ops->sync_dir(&r->store, "snapshots");
	st_call_end(r);
	if (rc == -EEXIST) {
		snprintf(msg, msglen, "another node wrote snapshot %llu first",
			 (unsigned long long)gen);
		return 1;
	}
	return rc;
}

/*
 * Writes snapshot GEN+1: the table, which holds exactly the ops up to every log position
 * of ours (no local op unshipped: checked under the commit lock), one compactor at a time
 * (compact.lock), never covering less of any log than the snapshot before it, and created
 * with link() so that of two racing compactors exactly one wins.
 * Returns 0 if written, 1 if there was nothing to do or someone else is at it, or -errno.
 */
int st_compact(struct rfs_sloop *r, char *msg, size_t msglen)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_snapshot_info prev = {0};
	struct rfs_buf out = RFS_BUF_INIT;
	struct rfs_sfile *lock = NULL;
	char cmsg[160], *pbuf = NULL;
	uint64_t gen;
	size_t i, plen;
	int rc;

	snprintf(msg, msglen, "nothing done");
	st_call_begin(r);
	rc = ops->open(&r->store, "compact.lock", O_RDWR | O_CREAT, &lock);
	if (!rc)
		rc = ops->lock(lock);
	st_call_end(r);
	if (rc == -EAGAIN) {
		snprintf(msg, msglen, "another node is compacting");
		rc = 1;
		goto out;
	}
	if (rc)
		goto out;
	st_crash_point(r, "compact-locked");
	/* What a compactor of ours killed between writing and linking left behind. */
	st_call_begin(r);
	ops->list(&r->store, "snapshots", st_drop_own_tmp, r);
	st_call_end(r);
	rc = st_list_store(r);
	if (rc)
		goto out;
	gen = r->snap_newest;
	if (gen) {
		rc = st_read_snapshot(r, gen, &pbuf, &plen);
		if (!rc && rfs_snapshot_parse(pbuf, plen, &prev))
			rc = -EBADMSG;
		if (rc)
			goto out;
	}
	rc = encode_snapshot(r, gen + 1, &prev, &out, cmsg, sizeof(cmsg));
	if (rc == 1)
		snprintf(msg, msglen, "%s", cmsg);
	if (rc)
		goto out;

	rc = write_snapshot(r, gen + 1, &out, msg, msglen);
	if (rc)
		goto out;
	st_crash_point(r, "compact-linked");
	/* Keep the newest two: a reader may be reading the one before. */
	for (i = 0; gen > 1 && i < 16 && gen - 1 > i; i++) {
		char old[64];

		st_snap_rel(old, sizeof(old), gen - 1 - i);
		st_call_begin(r);
		ops->unlink(&r->store, old);
		st_call_end(r);
	}
	st_crash_point(r, "compact-pruned");
	r->snap_newest = gen + 1;
	snprintf(msg, msglen, "snapshot %llu written: %zu bytes, %s", (unsigned long long)gen + 1,
		 out.len, cmsg);
	rfs_notice("compaction: %s", msg);
	rc = 0;
out:
	if (lock) {
		st_call_begin(r);
		ops->close(lock);
		st_call_end(r);
	}
	if (rc < 0)
		snprintf(msg, msglen, "compaction failed: %s", strerror(-rc));
	rfs_snapshot_info_free(&prev);
	free(pbuf);
	rfs_buf_free(&out);
	return rc;
}

/*
 * Starts over from the newest snapshot: the table becomes the snapshot plus our own ops
 * after its cover of us, and every other log is read on from its cover.
 */
int st_adopt(struct rfs_sloop *r)
{
	struct rfs_snapshot_info info;
	struct rfs_buf own = RFS_BUF_INIT;
	const struct rfs_cover *c;
	char *buf = NULL;
	size_t len, i;
	uint32_t seg;
	int rc;

	rc = st_read_snapshot(r, r->snap_newest, &buf, &len);
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
		rc = st_read_own_seg(r, seg, c && seg == c->seg ? c->offset : 0, 0, &own);
	if (!rc && st_stopping(r))
		rc = -ECANCELED;
	if (!rc)
		rc = rfs_rs_adopt(r->rs, buf, len, own.data ? own.data : "", own.len);
	if (!rc) {
		/* Files closed first, outside repl.lock: a close is a store call too. */
		st_call_begin(r);
		for (i = 0; i < r->npeers; i++)
			if (r->peers[i].f) {
				r->store.ops->close(r->peers[i].f);
				r->peers[i].f = NULL;
			}
		st_call_end(r);
		pthread_mutex_lock(&r->lock);
		/* Every node the snapshot covers is read on from its cover... */
		for (i = 0; i < info.ncovers; i++)
			if (strcmp(info.covers[i].node, r->opts->node) != 0)
				st_peer_get(r, info.covers[i].node);
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

int rfs_sloop_compact(struct rfs_sloop *r, char *msg, size_t msglen)
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
	st_wake_thread(r);
	rfs_deadline_in(&ts, 60);
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
int st_snapshots(struct rfs_sloop *r)
{
	char msg[200];
	bool requested;
	int rc = 0;

	if (st_stopping(r))
		return 0;
	pthread_mutex_lock(&r->lock);
	requested = r->compact_requested;
	pthread_mutex_unlock(&r->lock);
	/* Our log is closed (rotation) or read into a snapshot only with its writes synced. */
	if ((r->need_adopt && r->snap_newest) || r->snap_newest > r->snap_seen || requested ||
	    st_compaction_due(r)) {
		rc = st_confirm(r);
		if (rc)
			return rc;
	}
	if (r->need_adopt && r->snap_newest) {
		rc = st_adopt(r);
		if (rc)
			return rc;
	}
	rc = st_rotate_own(r);
	if (rc)
		return rc;
	if (!requested && !st_compaction_due(r))
		return 0;
	/*
	 * A snapshot must hold exactly what the logs hold: not while this node has ops still
	 * to ship (checked again under the commit lock). Under steady load the loop comes back
	 * right after the next ship, so this costs nothing but a try later.
	 */
	if (!requested && st_backlog(r))
		return 0;
	rc = st_compact(r, msg, sizeof(msg));
	if (rc == 0)
		rc = st_rotate_own(r);
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
