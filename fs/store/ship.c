/*
 * Shipping: the journal's ops the store lacks are appended to our log, then fsync'ed and
 * only then confirmed (shipped_seq, the state directory's "shipped", sync=store waiters).
 * Also the checkpoints and the emptying of the journal, which depend on what is shipped.
 * Called only by the replication thread; r->lock only around the fields status reads.
 */
#include "internal.h"

uint64_t st_backlog_locked(struct rfs_sloop *r)
{
	uint64_t self;

	self = rfs_rs_self_seq(r->rs);
	return self > r->shipped_seq ? self - r->shipped_seq : 0;
}

/*
 * The whole op lines of buf[0..n) above shipped, into batch (emptied first); *top is the
 * last sequence taken, *pos the bytes of buf used.
 */
static int collect(struct rfs_sloop *r, const char *buf, size_t n, uint64_t shipped,
		   struct rfs_buf *batch, uint64_t *top, size_t *pos)
{
	struct rfs_op_scratch s;
	int rc;

	rfs_buf_resize(batch, 0);
	while (*pos < n) {
		struct rfs_op op;
		size_t used = 0;
		long m = rfs_op_decode(buf + *pos, n - *pos, &op, &s, &used);

		if (m == -EAGAIN)
			break;
		if (m > 0 && op.seq > shipped) {
			rc = rfs_buf_append(batch, buf + *pos, (size_t)m);
			if (rc)
				return rc;
			*top = op.seq;
			r->shipped_ops++;
		}
		*pos += used;
	}
	return 0;
}

/* Appends the journal's ops the store does not have yet. */
int st_ship(struct rfs_sloop *r)
{
	struct rfs_buf batch = RFS_BUF_INIT;
	uint64_t jsize, last_seq, shipped, off;
	char *buf = NULL;
	int rc = 0;

	rfs_rs_journal_pos(r->rs, &jsize, &last_seq);
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
	while (off < jsize && !rc && !st_aborting(r)) {
		size_t want = jsize - off > CHUNK ? CHUNK : (size_t)(jsize - off);
		ssize_t n = rfs_rs_journal_read(r->rs, off, buf, want);
		uint64_t top = shipped;
		size_t pos = 0;
		ssize_t w;

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		rc = collect(r, buf, (size_t)n, shipped, &batch, &top, &pos);
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
			st_call_begin(r);
			w = r->store.ops->pwrite(r->own_log, batch.data, batch.len,
						 (off_t)r->own_size);
			if (w != (ssize_t)batch.len)
				rc = w < 0 ? (int)w : -EIO;
			st_call_end(r);
			if (rc) {
				/* Cut what may have landed, so the log holds whole lines only. */
				st_call_begin(r);
				r->store.ops->truncate(r->own_log, (off_t)r->own_size);
				st_call_end(r);
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
			r->unsynced_since = rfs_mono();
		pthread_mutex_unlock(&r->lock);
	}
	free(buf);
	rfs_buf_free(&batch);
	/* sync=store: a MOUNT is waiting for exactly this confirmation. */
	if (!rc && r->opts->sync_store)
		rc = st_confirm(r);
	return rc;
}

/*
 * Makes what st_ship() wrote durable on the store, then confirms it: shipped_seq, the state
 * directory's record of it, and sync=store waiters all follow only a successful fsync. A
 * failure is a store error like any other: the files are closed, and st_prepare() takes what
 * the log holds from its last line again (and syncs it) before anything more is shipped.
 */
int st_confirm(struct rfs_sloop *r)
{
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&r->lock);
	seq = r->written_seq;
	pthread_mutex_unlock(&r->lock);
	if (seq <= r->shipped_seq || !r->own_log)
		return 0;
	st_call_begin(r);
	rc = r->store.ops->fsync(r->own_log);
	st_call_end(r);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	r->shipped_seq = seq;
	rfs_rs_note_shipped(r->rs, seq);
	pthread_cond_broadcast(&r->event);
	r->unsynced_since = 0;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

uint64_t st_backlog(struct rfs_sloop *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = st_backlog_locked(r);
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t st_shipped_seq(struct rfs_sloop *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->shipped_seq;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Where every log stands, ours last (npeers + 1 entries): what a snapshot covers. */
int st_own_positions(struct rfs_sloop *r, struct rfs_peer_pos *pos)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i <= r->npeers; i++) {
		const char *name = i < r->npeers ? r->peers[i].node : r->opts->node;

		snprintf(pos[i].node, sizeof(pos[i].node), "%s", name);
		pos[i].seg = i < r->npeers ? r->peers[i].seg : r->own_seg;
		pos[i].offset = i < r->npeers ? r->peers[i].offset : r->own_size;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

struct rfs_peer_pos *st_peer_positions(struct rfs_sloop *r, size_t *n)
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
int st_checkpoint_now(struct rfs_sloop *r)
{
	size_t n;
	struct rfs_peer_pos *pos = st_peer_positions(r, &n);
	int rc = pos ? rfs_rs_checkpoint(r->rs, pos, n, true) : -ENOMEM;

	free(pos);
	r->last_checkpoint = rfs_mono();
	return rc;
}

void st_checkpoint(struct rfs_sloop *r, bool force)
{
	size_t n;
	struct rfs_peer_pos *pos = st_peer_positions(r, &n);

	if (pos)
		rfs_rs_checkpoint(r->rs, pos, n, force);
	free(pos);
	r->last_checkpoint = rfs_mono();
}

/* Empties the journal once the store and a checkpoint hold all of it. */
void st_maybe_reset_journal(struct rfs_sloop *r)
{
	struct rfs_peer_pos *pos;
	uint64_t shipped, jsize, jlast;
	size_t n;

	shipped = st_shipped_seq(r);
	/* A cheap pre-check; the record set checks again under its commit lock. */
	rfs_rs_journal_pos(r->rs, &jsize, &jlast);
	if (jsize < JOURNAL_RESET_BYTES || shipped < jlast)
		return;
	pos = st_peer_positions(r, &n);
	if (!pos)
		return;
	if (rfs_rs_reset_journal(r->rs, shipped, pos, n) == 1) {
		pthread_mutex_lock(&r->lock);
		r->ship_off = 0;
		pthread_mutex_unlock(&r->lock);
		rfs_info("journal emptied: everything is on the store and in the checkpoint");
	}
	free(pos);
}

/* Has the journal ops not yet written to the store? */
bool st_unshipped(struct rfs_sloop *r)
{
	uint64_t size, last, written;

	rfs_rs_journal_pos(r->rs, &size, &last);
	pthread_mutex_lock(&r->lock);
	written = r->written_seq;
	pthread_mutex_unlock(&r->lock);
	return last > written;
}

/*
 * A clean stop: what was acknowledged goes to the store and is confirmed, unless the store
 * is down or the stop path gave up (then it stays in the journal and is named in the log).
 */
void st_final_ship(struct rfs_sloop *r)
{
	int rc;

	if (!r->prepared || st_aborting(r))
		return;
	rc = st_ship(r);
	if (!rc && !st_aborting(r))
		rc = st_confirm(r);
	if (rc && !st_aborting(r))
		rfs_warn("store %s: last ship at stop failed: %s", r->url, strerror(-rc));
}
