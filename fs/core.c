/*
 * The record set in the daemon (see include/rmtabfs/core.h): its state directory (lock,
 * checkpoint, journal replay at open), the snapshots readers share, the checkpoint and the
 * first start's import. The commit path is in fs/commit.c, what the store side asks for
 * (remote ops, adoption, incarnation) in fs/follow.c; fs/core_int.h is what they share.
 *
 * Invariants:
 *  - an op is written to the journal before it is applied to the table (fs/commit.c), so a
 *    checkpoint first syncs the journal up to its table: it never holds an op a power cut
 *    could take from the journal;
 *  - cur, when set, is the snapshot of table.gen; snapshots never change after creation;
 *  - the mtime a snapshot carries was reported through rfs_table_mtime(), so a file handle
 *    that shows it (fstat) obeys the same never-repeat rule as a stat by name;
 *  - this node's sequence numbers never repeat: a state directory without a checkpoint
 *    starts a new incarnation above the clock, and one not yet anchored is renumbered above
 *    whatever the store holds before it ships (fs/follow.c, fs/incarnation.c).
 * Lock order (for all three files): commit_lock, then checkpoint_lock, then table_lock;
 * rfs_snap.lazy_lock and the journal's own lock are leaves. No lock is held across a call
 * into the store or the on_change/wait_shipped hooks, nor across a commit's journal sync (a
 * checkpoint's sync may hold commit_lock, as a reset always has). With durability=batch (a
 * timer syncs) a journal whose last run was cut by a machine restart starts a new
 * incarnation: what it shipped may be missing from the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/core.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/log.h>
#include <rmtabfs/rmtab_fmt.h>

#include "core_int.h"

/* Snapshots alive in this process and the bytes of their rmtab text (status; memory test). */
static atomic_size_t snaps_live, snaps_bytes;

void rfs_snap_counts(size_t *n, size_t *bytes)
{
	*n = atomic_load(&snaps_live);
	*bytes = atomic_load(&snaps_bytes);
}

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
	atomic_fetch_sub(&snaps_live, 1);
	atomic_fetch_sub(&snaps_bytes, s->len);
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

const struct rfs_entries *rfs_base_folded(struct rfs_base *b, enum rfs_format fmt)
{
	if (b->snap)
		return rfs_snap_folded(b->snap);
	if (!b->folded)
		b->folded = fold_text(fmt, b->text ? b->text : "", b->len);
	return b->folded;
}

void rfs_core_drop_cur_locked(struct rfs_core *c)
{
	if (c->cur && c->cur->gen != c->table.gen) {
		rfs_snap_put(c->cur);
		c->cur = NULL;
	}
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
	atomic_fetch_add(&snaps_live, 1);
	atomic_fetch_add(&snaps_bytes, s->len);
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

uint64_t rfs_core_view_gen(struct rfs_core *c, enum rfs_format fmt, size_t *size, int64_t *mtime)
{
	uint64_t gen;

	pthread_mutex_lock(&c->table_lock);
	*size = fmt == RFS_FMT_RMTAB ? c->table.rmtab_bytes : rfs_table_gnfs_bytes(&c->table);
	*mtime = rfs_table_mtime(&c->table);
	gen = c->table.gen;
	pthread_mutex_unlock(&c->table_lock);
	return gen;
}

size_t rfs_core_nlive(struct rfs_core *c)
{
	size_t n;

	pthread_mutex_lock(&c->table_lock);
	n = c->table.nlive;
	pthread_mutex_unlock(&c->table_lock);
	return n;
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

int rfs_core_replay_op(void *ctx, const struct rfs_op *op)
{
	int rc = rfs_table_apply(ctx, op);

	return rc < 0 ? rc : 0;
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

/* Creates and opens the state directory, takes its lock, opens its shipped file. */
static int open_statedir(struct rfs_core *c, const char *statedir)
{
	int rc;

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
		return rc;
	c->shipped_fd = openat(c->statedir_fd, "shipped", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->shipped_fd < 0) {
		rc = -errno;
		rfs_err("cannot open %s/shipped: %s", statedir, strerror(errno));
		return rc;
	}
	return 0;
}

/*
 * The table from the checkpoint, or empty when there is none or it is damaged; *ck_ok says
 * it was loaded. A checkpoint of another node is an error.
 */
static int load_checkpoint(struct rfs_core *c, const char *statedir, const char *node, bool *ck_ok)
{
	int rc = rfs_table_init(&c->table, node);

	if (rc)
		return rc;
	rc = rfs_checkpoint_load(c->statedir_fd, &c->table, &c->loaded);
	*ck_ok = rc == 0;
	if (rc == 0 && strcmp(c->loaded.node, node) != 0) {
		rfs_err("state directory %s belongs to node '%s', not '%s': use node=%s or another "
			"statedir",
			statedir, c->loaded.node, node, c->loaded.node);
		return -EINVAL;
	}
	if (rc == 0) {
		c->imported = c->loaded.imported;
		rfs_table_restore_mtime(&c->table, c->loaded.mtime);
	} else if (rc != -ENOENT) {
		rfs_err("checkpoint %s/view is damaged (%s): starting from the journal and the "
			"store",
			statedir, strerror(-rc));
		rfs_table_free(&c->table);
		return rfs_table_init(&c->table, node);
	}
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
	rc = open_statedir(c, statedir);
	if (rc && c->statedir_fd < 0)
		return rc; /* nothing to undo yet */
	if (rc)
		goto fail;
	rc = load_checkpoint(c, statedir, node, &ck_ok);
	if (rc)
		goto fail;
	rc = rfs_journal_open(&c->journal, c->statedir_fd, node, rfs_core_replay_op, &c->table);
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
	rc = rfs_core_open_incarnation(c, statedir, ck_ok && !c->journal.unclean_batch);
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
	rc = rfs_core_set_many(c, &found, "import");
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
