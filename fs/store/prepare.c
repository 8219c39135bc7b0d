/*
 * Reaching the store for this node: FORMAT, the owner lock (one daemon per node id), the
 * state of our own log, and the first read-back of a new incarnation before anything of it
 * is shipped (invariants in loop.c). Called only by the replication thread.
 */
#include "internal.h"

void st_close_files(struct rfs_sloop *r)
{
	size_t i;

	st_call_begin(r);
	if (r->own_log)
		r->store.ops->close(r->own_log);
	if (r->owner)
		r->store.ops->close(r->owner);
	for (i = 0; i < r->npeers; i++)
		if (r->peers[i].f) {
			r->store.ops->close(r->peers[i].f);
			r->peers[i].f = NULL;
		}
	st_call_end(r);
	r->own_log = r->owner = NULL;
	r->prepared = false;
}

/* Reads the owner file of a node id held by someone else, for the refusal message. */
void st_describe_holder(struct rfs_sloop *r, const char *rel)
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

/* FORMAT (written on an empty store, else checked) and nodes/. */
static int prepare_layout(struct rfs_sloop *r)
{
	char fmt[64];
	size_t len = 0;
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
	return r->store.ops->mkdir(&r->store, "nodes");
}

/*
 * Is the holder named by an owner file's text ("host H pid P since T") a mount side of this
 * host that is gone (no such process, a zombie, or a pid reused by something else)? Then
 * what holds the lock is its store side, killed with it and still exiting: wait, do not
 * refuse (a restart right after a kill -9 would otherwise refuse to start).
 */
static bool holder_gone(const char *text)
{
	char host[128], want[128], path[64], comm[32] = "", state = 0;
	int pid;
	FILE *f;

	if (sscanf(text, "host %127s pid %d", host, &pid) != 2 || pid <= 0)
		return false;
	if (gethostname(want, sizeof(want)) < 0 || strncmp(host, want, sizeof(want)) != 0)
		return false;
	if (pid == (int)getppid())
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT;
	if (fscanf(f, "%*d (%31[^)]) %c", comm, &state) != 2)
		state = 0;
	fclose(f);
	return state == 'Z' || state == 'X' || strncmp(comm, "rmtabfs", 7) != 0;
}

/* Says so and returns true when the owner lock's holder is a gone instance of this host. */
static bool gone_holder(struct rfs_sloop *r, const char *rel)
{
	char text[200];
	size_t len = 0;

	if (rfs_store_read_small(&r->store, rel, text, sizeof(text) - 1, &len))
		return false;
	text[len] = '\0';
	if (!holder_gone(text))
		return false;
	text[strcspn(text, "\n")] = '\0';
	rfs_notice("node id '%s': held by a gone instance of this host (%s); waiting for its "
		   "store side to exit",
		   r->opts->node, text);
	return true;
}

/* The owner lock of our node id, held for the whole connection; -EADDRINUSE if taken. */
static int take_owner(struct rfs_sloop *r)
{
	const struct rfs_store_ops *ops = r->store.ops;
	char rel[128], owner_text[300], host[128];
	size_t len;
	int rc;

	snprintf(rel, sizeof(rel), "nodes/%s.owner", r->opts->node);
	rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &r->owner);
	if (rc)
		return rc;
	rc = ops->lock(r->owner);
	if (rc == -EAGAIN) {
		ops->close(r->owner);
		r->owner = NULL;
		if (gone_holder(r, rel))
			return -EBUSY;
		st_describe_holder(r, rel);
		return -EADDRINUSE;
	}
	if (rc)
		return rc;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	/* The mount side's pid (our parent): the process an administrator knows. */
	len = (size_t)snprintf(owner_text, sizeof(owner_text), "host %s pid %d since %lld\n", host,
			       (int)getppid(), (long long)time(NULL));
	if (ops->truncate(r->owner, 0) == 0 && ops->pwrite(r->owner, owner_text, len, 0) > 0)
		ops->fsync(r->owner);

	rc = ops->mkdir(&r->store, "snapshots");
	if (!rc)
		rc = ops->sync_dir(&r->store, ""); /* FORMAT, nodes/, snapshots/ */
	return rc;
}

/* The last sequence our log holds (*last) and the size of the segment we append to. */
static int own_log_state(struct rfs_sloop *r, uint64_t *last_out, off_t *size_out)
{
	const struct rfs_store_ops *ops = r->store.ops;
	char rel[128];
	uint64_t last = 0;
	off_t size = 0;
	uint32_t seg;
	int rc;

	r->own_seg = 0;
	rc = st_list_store(r);
	if (rc)
		return rc;
	st_log_rel(rel, sizeof(rel), r->opts->node, r->own_seg);
	rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &r->own_log);
	if (rc)
		return rc;
	/* The last complete line tells what the store has (a torn one after it is cut). */
	rc = st_segment_last_seq(r, r->own_log, rel, true, &last, &size);
	if (rc)
		return rc;
	/* A segment just begun holds nothing yet: look in the ones before it. */
	for (seg = r->own_seg; !last && seg > r->own_min_seg; seg--) {
		struct rfs_sfile *f;
		off_t unused;

		st_log_rel(rel, sizeof(rel), r->opts->node, seg - 1);
		if (ops->open(&r->store, rel, O_RDONLY, &f))
			break;
		rc = st_segment_last_seq(r, f, rel, false, &last, &unused);
		ops->close(f);
		if (rc)
			return rc;
	}
	if (r->snap_newest) {
		/* Segments all deleted after a snapshot: it says how far our log went. */
		char *buf = NULL;
		size_t blen = 0;
		struct rfs_snapshot_info info;

		if (st_read_snapshot(r, r->snap_newest, &buf, &blen) == 0 &&
		    rfs_snapshot_parse(buf, blen, &info) == 0) {
			const struct rfs_cover *c = rfs_snapshot_cover(&info, r->opts->node);

			if (c && c->seq > last)
				last = c->seq;
			rfs_snapshot_info_free(&info);
		}
		free(buf);
	}
	/*
	 * What a killed predecessor appended last, or what we appended before the error that
	 * brought us back here, may sit on some replicas of a Gluster volume and not on others
	 * (its write never finished), so readers may or may not see it; and the size read now
	 * may be a replica's that is behind. Appending at that size overwrote, on the replicas
	 * that had more, the middle of lines readers had applied or would read (CI chaos-gluster:
	 * two logs "damaged" for every node that read them afterwards). So every (re)connection
	 * begins a fresh segment, whose replicas agree, and ships again from what was confirmed
	 * (an op twice in a log is harmless: ops are idempotent).
	 */
	if (size > 0) {
		struct rfs_sfile *f;

		st_log_rel(rel, sizeof(rel), r->opts->node, r->own_seg + 1);
		rc = ops->open(&r->store, rel, O_RDWR | O_CREAT, &f);
		if (rc)
			return rc;
		ops->close(r->own_log);
		r->own_log = f;
		r->own_seg++;
		size = 0;
	}
	*last_out = last;
	*size_out = size;
	return 0;
}

/*
 * Makes the store ready for this node: FORMAT, nodes/, the owner lock, and the state of
 * our own log (cutting a torn tail, learning the last sequence it holds).
 */
int st_prepare(struct rfs_sloop *r)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_incarnation inc;
	uint64_t last = 0;
	off_t size = 0;
	int rc;

	rc = prepare_layout(r);
	if (!rc)
		rc = take_owner(r);
	if (!rc)
		rc = own_log_state(r, &last, &size);
	if (rc)
		return rc;
	rfs_rs_incarnation(r->rs, &inc);
	if (rfs_incarnation_conflict(&inc, last)) {
		rc = rfs_rs_renumber(r->rs, last);
		if (rc)
			return rc;
		rfs_rs_incarnation(r->rs, &inc);
	}
	if (inc.anchored) {
		/*
		 * Ship again what was never confirmed. Back after an error, what we confirmed
		 * is on the store even when the replica read now is behind: from there on.
		 */
		if (r->started)
			last = r->shipped_seq;
		else if (last > rfs_rs_shipped(r->rs))
			last = rfs_rs_shipped(r->rs);
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
	return inc.anchored ? st_catch_up_own(r, last) : st_read_back(r, &inc);
}

/*
 * A new incarnation (new, lost or damaged state directory): every op of this node on the
 * store is read back (from the newest snapshot when there is one) before the incarnation
 * counts as anchored and its own ops are shipped above its floor.
 */
int st_read_back(struct rfs_sloop *r, const struct rfs_incarnation *inc)
{
	uint32_t seg;
	int rc = 0;

	if (r->snap_newest) {
		rc = st_adopt(r);
	} else {
		rfs_notice("new incarnation of node %s: reading its ops on the store back",
			   r->opts->node);
		for (seg = r->own_min_seg; !rc && seg <= r->own_seg && !st_stopping(r); seg++)
			rc = st_read_own_log(r, seg, 0);
	}
	if (!rc && st_stopping(r))
		rc = -ECANCELED;
	/*
	 * What was read back lives only in the table until a checkpoint holds it, and an
	 * anchored incarnation is never read back again: a crash before the next periodic
	 * checkpoint would leave this node without its own earlier ops for good. So the
	 * checkpoint comes first; a crash between the two only reads back once more.
	 */
	if (!rc)
		rc = st_checkpoint_now(r);
	if (!rc)
		rc = rfs_rs_anchor(r->rs);
	if (!rc) {
		rfs_rs_note_shipped(r->rs, inc->floor);
		rfs_notice("node %s: incarnation anchored; its ops are shipped from seq %llu",
			   r->opts->node, (unsigned long long)inc->floor + 1);
	}
	return rc;
}

/* An anchored state directory behind the store (or a new node): catch up with our own ops. */
int st_catch_up_own(struct rfs_sloop *r, uint64_t last)
{
	uint32_t seg;
	bool behind, fresh;
	int rc = 0;

	rfs_rs_behind(r->rs, last, &behind, &fresh);
	if (r->snap_newest && (behind || fresh)) {
		/* A new node, or a lost state directory: start from the newest snapshot. */
		rc = st_adopt(r);
	} else if (behind) {
		rfs_warn("store has ops of this node up to seq %llu that the state directory "
			 "lacks: reading them back",
			 (unsigned long long)last);
		for (seg = r->own_min_seg; !rc && seg <= r->own_seg && !st_stopping(r); seg++)
			rc = st_read_own_log(r, seg, 0);
	}
	if (rc)
		return rc;
	if (behind)
		rfs_rs_raise_self_seq(r->rs, last);
	return 0;
}

/*
 * The owner lock can vanish without an error (every brick restarted) and then be taken by
 * a second daemon with our node id: take it again now and then, which also tells.
 */
int st_check_owner(struct rfs_sloop *r)
{
	char rel[128];
	int rc;

	if (rfs_mono() - r->last_owner_check < OWNER_CHECK_EVERY)
		return 0;
	r->last_owner_check = rfs_mono();
	st_call_begin(r);
	rc = r->store.ops->lock(r->owner);
	st_call_end(r);
	if (rc == -EAGAIN) {
		snprintf(rel, sizeof(rel), "nodes/%s.owner", r->opts->node);
		st_describe_holder(r, rel);
		return -EADDRINUSE;
	}
	return rc;
}
