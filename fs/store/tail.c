/*
 * Tailing: lists the store's logs and applies what other nodes appended, segment after
 * segment, never past a damaged line. Called only by the replication thread.
 *
 * A segment read to its end once its node has begun the next one is left, but its size is
 * looked at again for a while (late_tail): Gluster has shown a segment short and whole later
 * (a replica that was behind, after bricks died in turn; CI chaos run), and going on for
 * good would skip its last ops on this node for ever. Applying them late is never wrong: ops
 * are idempotent and commute.
 */
#include "internal.h"

struct peer *st_peer_get(struct rfs_sloop *r, const char *node)
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

/* Lists nodes/ (log segments of every node) and snapshots/ (the newest generation). */
int st_list_store(struct rfs_sloop *r)
{
	size_t i;
	int rc;

	for (i = 0; i < r->npeers; i++)
		r->peers[i].listed = false;
	r->own_min_seg = UINT32_MAX;
	st_call_begin(r);
	rc = r->store.ops->list(&r->store, "nodes", st_list_one, r);
	if (!rc)
		rc = r->store.ops->list(&r->store, "snapshots", st_list_one, r);
	st_call_end(r);
	if (r->own_min_seg == UINT32_MAX)
		r->own_min_seg = r->own_seg;
	r->last_list = rfs_mono();
	return rc;
}

int st_list_one(void *ctx, const char *name)
{
	struct rfs_sloop *r = ctx;
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
	if (st_parse_log_name(name, node, &seg))
		return 0;
	if (strcmp(node, r->opts->node) == 0) {
		if (seg > r->own_seg)
			r->own_seg = seg;
		if (seg < r->own_min_seg)
			r->own_min_seg = seg;
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	p = st_peer_get(r, node);
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

/*
 * Opens the segment of p's log we read. Returns 0 (open), 1 (nothing to read now), 2 (the
 * segment was gone, its position moved on: try this peer again) or -errno.
 */
static int open_peer(struct rfs_sloop *r, struct peer *p)
{
	char rel[160];
	int rc;

	st_log_rel(rel, sizeof(rel), p->node, p->seg);
	st_call_begin(r);
	rc = r->store.ops->open(&r->store, rel, O_RDONLY, &p->f);
	st_call_end(r);
	if (rc != -ENOENT)
		return rc;
	if (!p->listed || p->seg >= p->min_seg)
		return 1;
	/*
	 * Removed after a snapshot covered it. If that is the snapshot we started from, go on
	 * with the next segment; else start over from the newest one.
	 */
	if (r->adopted_gen && r->adopted_gen == r->snap_newest) {
		pthread_mutex_lock(&r->lock);
		p->seg = p->min_seg;
		p->offset = 0;
		pthread_mutex_unlock(&r->lock);
		return 2;
	}
	r->need_adopt = true;
	return 1;
}

/* Notes a damaged line at p's position, or that it is readable again. */
static void note_damage(struct peer *p, bool damaged, double t)
{
	if (damaged) {
		if (p->damaged_at != p->offset)
			rfs_err("log of node %s is damaged at byte %llu of segment %u: its later "
				"ops are not applied until it is repaired",
				p->node, (unsigned long long)p->offset, p->seg);
		p->damaged_at = p->offset;
		p->damaged_retry = t + DAMAGE_RETRY;
	} else if (p->damaged_at != UINT64_MAX) {
		rfs_notice("log of node %s readable again at byte %llu", p->node,
			   (unsigned long long)p->damaged_at);
		p->damaged_at = UINT64_MAX;
	}
}

/* Applies p's segment from its position up to size (whole lines, never past damage). */
static int read_peer(struct rfs_sloop *r, struct peer *p, uint64_t size, char **buf, double t)
{
	while (p->offset < size && !st_stopping(r)) {
		size_t want = size - p->offset > CHUNK ? CHUNK : (size_t)(size - p->offset);
		bool damaged = false;
		ssize_t n;
		long used;

		if (!*buf && !(*buf = malloc(CHUNK)))
			return -ENOMEM;
		st_call_begin(r);
		n = r->store.ops->pread(p->f, *buf, want, (off_t)p->offset);
		st_call_end(r);
		if (n <= 0)
			return (int)n;
		used = rfs_rs_apply_remote(r->rs, p->node, *buf, (size_t)n, p->skip, &damaged);
		if (used < 0)
			return (int)used;
		pthread_mutex_lock(&r->lock);
		p->offset += (uint64_t)used;
		r->bytes_since_snap += (uint64_t)used;
		pthread_mutex_unlock(&r->lock);
		note_damage(p, damaged, t);
		if (damaged || used == 0)
			break; /* used == 0: a torn last line, complete next time */
	}
	return 0;
}

/* Reads what p appended. Returns 0, 2 (go on with p's next segment now) or -errno. */
static int tail_one(struct rfs_sloop *r, struct peer *p, char **buf, double t)
{
	off_t size = 0;
	int rc;

	if (!p->f) {
		rc = open_peer(r, p);
		if (rc)
			return rc == 1 ? 0 : rc;
	}
	st_call_begin(r);
	rc = r->store.ops->size(p->f, &size);
	st_call_end(r);
	if (rc)
		return rc;
	pthread_mutex_lock(&r->lock);
	if ((uint64_t)size < p->offset) {
		rfs_warn("log of node %s shrank (%lld < %llu bytes): reading it again from the "
			 "start",
			 p->node, (long long)size, (unsigned long long)p->offset);
		p->offset = 0;
	}
	p->size = (uint64_t)size;
	pthread_mutex_unlock(&r->lock);
	rc = read_peer(r, p, (uint64_t)size, buf, t);
	if (rc)
		return rc;
	/* Read to its end and the node has begun a later segment: go on there. */
	if (p->offset == (uint64_t)size && p->listed && p->max_seg > p->seg &&
	    p->damaged_at == UINT64_MAX) {
		st_call_begin(r);
		r->store.ops->close(p->f);
		st_call_end(r);
		pthread_mutex_lock(&r->lock);
		p->f = NULL;
		p->late_seg = p->seg;
		p->late_size = (uint64_t)size;
		p->late_until = t + LATE_WATCH;
		p->late_next = t + LATE_EVERY;
		p->seg++;
		p->offset = 0;
		pthread_mutex_unlock(&r->lock);
		return 2;
	}
	return 0;
}

/* Applies what a segment p went on from gained since (see the top). 0 or -errno. */
static int late_tail(struct rfs_sloop *r, struct peer *p, char **buf, double t)
{
	struct rfs_sfile *f = NULL;
	uint64_t off = p->late_size;
	bool damaged = false;
	off_t size = 0;
	char rel[160];
	int rc;

	if (!p->late_until || t < p->late_next)
		return 0;
	p->late_next = t + LATE_EVERY;
	if (t >= p->late_until) {
		p->late_until = 0;
		return 0;
	}
	st_log_rel(rel, sizeof(rel), p->node, p->late_seg);
	st_call_begin(r);
	rc = r->store.ops->open(&r->store, rel, O_RDONLY, &f);
	if (!rc)
		rc = r->store.ops->size(f, &size);
	st_call_end(r);
	if (rc == -ENOENT)
		p->late_until = 0; /* covered by a snapshot and removed */
	if (rc || (uint64_t)size <= off)
		goto out;
	rfs_warn("log of node %s: segment %u grew from %llu to %lld bytes after this node had gone "
		 "on to segment %u (a replica that was behind): applying the rest",
		 p->node, p->late_seg, (unsigned long long)off, (long long)size, p->late_seg + 1);
	if (!*buf && !(*buf = malloc(CHUNK)))
		rc = -ENOMEM;
	while (!rc && !damaged && off < (uint64_t)size && !st_stopping(r)) {
		size_t want = size - off > CHUNK ? CHUNK : (size_t)(size - off);
		ssize_t n;
		long used;

		st_call_begin(r);
		n = r->store.ops->pread(f, *buf, want, (off_t)off);
		st_call_end(r);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		used = rfs_rs_apply_remote(r->rs, p->node, *buf, (size_t)n, p->skip, &damaged);
		if (used <= 0) {
			rc = used < 0 ? (int)used : 0;
			break;
		}
		off += (uint64_t)used;
	}
	p->late_size = off;
out:
	if (f) {
		st_call_begin(r);
		r->store.ops->close(f);
		st_call_end(r);
	}
	return rc;
}

/* Applies what other nodes appended since last time, segment after segment. */
int st_tail_peers(struct rfs_sloop *r)
{
	double t = rfs_mono();
	char *buf = NULL;
	size_t i;
	int rc = 0;

	if (t - r->last_list >= LIST_EVERY) {
		rc = st_list_store(r);
		if (rc)
			return rc;
	}
	for (i = 0; i < r->npeers && !st_stopping(r); i++) {
		struct peer *p = &r->peers[i];

		if (p->damaged_at != UINT64_MAX && t < p->damaged_retry)
			continue;
		rc = tail_one(r, p, &buf, t);
		if (!rc)
			rc = late_tail(r, p, &buf, t);
		if (rc == 2) {
			rc = 0;
			i--; /* the same peer again */
		} else if (rc) {
			break;
		}
	}
	free(buf);
	return rc;
}
