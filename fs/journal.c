/*
 * Local journal (see include/rmtabfs/journal.h): layout, recovery, writing in place, group
 * commit and the durability=batch timer.
 *
 * Invariants: bytes [0, wend) are complete op lines of this node in increasing sequence
 * order (with damaged lines only where the disk lost data), [wend, alloc) are zeros on disk
 * or in the page cache, alloc is the file size. A write goes exactly at wend, so a failed one
 * (EIO) is undone by zeroing it again and never leaves half a line for a later write to glue
 * onto; a failed growth (ENOSPC) is cut back to alloc. send <= wend; size is at most send
 * with fsync (a publish after the sync moves it up), wend with batch.
 * Locking: the caller's commit lock serialises write, publish, reset, replace and clean (so
 * wend and alloc change only under it); mu (a leaf) guards the sync state shared with
 * committers waiting outside that lock and with the timer. No I/O under mu: reset and
 * replace keep sync leaders off the file by holding "syncing" while they work. Reads use
 * pread and may run concurrently with anything (they see whole lines up to a size read
 * under the commit lock; past it lie zeros).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <rmtabfs/checkpoint.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>

/* Below this much free space the journal grows by pages, not segments. */
#define RFS_JOURNAL_LOW_FREE (16ull * RFS_JOURNAL_SEGMENT)

static int marker_state(int dirfd);
static int marker_set(int dirfd);
static void batch_due_locked(struct rfs_journal *j);

long rfs_ops_scan(const char *buf, size_t len, rfs_op_fn fn, void *ctx, size_t *bad,
		  size_t *first_bad)
{
	struct rfs_op_scratch scratch;
	size_t pos = 0;

	while (pos < len) {
		struct rfs_op op;
		size_t used = 0;
		long n = rfs_op_decode(buf + pos, len - pos, &op, &scratch, &used);

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			if (bad && (*bad)++ == 0 && first_bad)
				*first_bad = pos;
			pos += used;
			continue;
		}
		if (fn) {
			int rc = fn(ctx, &op);

			if (rc < 0)
				return rc;
		}
		pos += (size_t)n;
	}
	return (long)pos;
}

struct replay_ctx {
	const char *self;
	rfs_op_fn fn;
	void *ctx;
	struct rfs_journal *j;
	const char *foreign;
	off_t good_end;	 /* file offset after the last op replayed */
	size_t bad;	 /* damaged lines so far */
	size_t good_bad; /* of which before good_end */
	off_t first_bad;
	struct rfs_op_scratch scratch;
};

static void note_bad(struct replay_ctx *rc, off_t at)
{
	if (rc->bad++ == 0)
		rc->first_bad = at;
}

/* Replays the complete lines of buf (file offset base); returns the bytes used or -errno. */
static long replay_buf(struct replay_ctx *rc, const char *buf, size_t len, off_t base)
{
	size_t pos = 0;

	while (pos < len) {
		struct rfs_op op;
		size_t used = 0;
		long n = rfs_op_decode(buf + pos, len - pos, &op, &rc->scratch, &used);

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			note_bad(rc, base + (off_t)pos);
			pos += used;
			continue;
		}
		if (strcmp(op.node, rc->self) != 0) {
			rc->foreign = op.node;
			return -EINVAL;
		}
		if (op.seq > rc->j->wseq)
			rc->j->wseq = op.seq;
		rc->j->wops++;
		if (rc->fn) {
			int r = rc->fn(rc->ctx, &op);

			if (r < 0)
				return r;
		}
		pos += (size_t)n;
		rc->good_end = base + (off_t)pos;
		rc->good_bad = rc->bad;
	}
	return (long)pos;
}

/* Offset after the last nonzero byte below size: beyond it the file is free space. */
static int data_end(int fd, off_t size, off_t *end)
{
	char buf[65536];
	off_t at = size;

	while (at > 0) {
		size_t want = at > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)at;
		ssize_t n = pread(fd, buf, want, at - (off_t)want);

		if (n < 0)
			return -errno;
		if ((size_t)n != want)
			return -EIO;
		for (size_t i = want; i > 0; i--)
			if (buf[i - 1]) {
				*end = at - (off_t)want + (off_t)i;
				return 0;
			}
		at -= (off_t)want;
	}
	*end = 0;
	return 0;
}

/*
 * Streams [0, end) through replay_buf. An op line never exceeds RFS_OP_LINE_MAX, far below
 * chunk, so a full buffer without a newline is a damaged run (a region lost to zeros): skip
 * to its newline, one damaged line however long, rather than take it and every
 * acknowledged op after it for a torn tail.
 */
static int replay_file(struct replay_ctx *rc, int fd, off_t end)
{
	size_t chunk = 1 << 20, have = 0;
	char *buf = malloc(chunk);
	off_t off = 0, skip_from = -1;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t want = chunk - have;
		ssize_t n = 0;

		if (off + (off_t)have + (off_t)want > end)
			want = (size_t)(end - off - (off_t)have);
		if (want) {
			n = pread(fd, buf + have, want, off + (off_t)have);
			if (n < 0) {
				r = -errno;
				break;
			}
		}
		have += (size_t)n;
		if (skip_from >= 0) {
			const char *nl = memchr(buf, '\n', have);
			size_t drop = nl ? (size_t)(nl - buf) + 1 : have;

			if (nl) {
				note_bad(rc, skip_from);
				skip_from = -1;
			}
			memmove(buf, buf + drop, have - drop);
			off += (off_t)drop;
			have -= drop;
		}
		if (skip_from < 0) {
			long used = replay_buf(rc, buf, have, off);

			if (used < 0) {
				r = (int)used;
				break;
			}
			memmove(buf, buf + used, have - (size_t)used);
			off += used;
			have -= (size_t)used;
		}
		if (have == chunk) {
			skip_from = off;
			off += (off_t)have;
			have = 0;
		} else if (n == 0) {
			break;
		}
	}
	free(buf);
	return r;
}

/* Writes zeros over [from, to) (no sync). */
static int zero_range(int fd, off_t from, off_t to)
{
	static const char zeros[65536];

	while (from < to) {
		size_t want =
			to - from > (off_t)sizeof(zeros) ? sizeof(zeros) : (size_t)(to - from);
		ssize_t n = pwrite(fd, zeros, want, from);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		from += n;
	}
	return 0;
}

/*
 * Grows the file from *alloc to to with zeros that are on disk (written, not just reserved:
 * an unwritten extent would make the first sync after an overwrite commit an extent change).
 * On failure the file is cut back to *alloc.
 */
static int grow_to(int fd, off_t *alloc, off_t to)
{
	int rc = 0;

	if (to <= *alloc)
		return 0;
	/* Reserve first: ENOSPC before a byte is written (not every file system can). */
	if (fallocate(fd, 0, *alloc, to - *alloc) < 0 && errno != EOPNOTSUPP)
		rc = -errno;
	if (!rc)
		rc = zero_range(fd, *alloc, to);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	if (rc) {
		if (ftruncate(fd, *alloc) < 0)
			rfs_err("journal: cannot cut back a failed growth: %s", strerror(errno));
		return rc;
	}
	*alloc = to;
	return 0;
}

/*
 * Makes room for need bytes: to whole segments past want (want >= need), or, on a file system
 * with less than RFS_JOURNAL_LOW_FREE free or too full for a segment, to just need (in
 * pages): preallocation is for speed only and never takes the last of a small disk, which
 * then refuses changes as late as without it.
 */
static int grow(int fd, off_t *alloc, off_t need, off_t want)
{
	off_t seg = RFS_JOURNAL_SEGMENT, page = 4096;
	struct statvfs vfs;
	int rc = -ENOSPC;

	if (need <= *alloc && want <= *alloc)
		return 0;
	if (fstatvfs(fd, &vfs) < 0 || (uint64_t)vfs.f_bavail * vfs.f_frsize >= RFS_JOURNAL_LOW_FREE)
		rc = grow_to(fd, alloc, (want + seg - 1) / seg * seg);
	if (rc == -ENOSPC || rc == -EDQUOT)
		rc = grow_to(fd, alloc, (need + page - 1) / page * page);
	return rc;
}

static void init_sync_state(struct rfs_journal *j)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->synced, &ca);
	pthread_cond_init(&j->wake, &ca);
	pthread_condattr_destroy(&ca);
	j->mu_init = true;
}

/* After the replay: zero a torn tail, make room, and put everything on disk. */
static int settle(struct rfs_journal *j, const struct replay_ctx *rc, off_t dend)
{
	struct stat st;
	int r;

	if (dend > rc->good_end) {
		/* Never acknowledged: zero it for the next write. */
		rfs_warn("journal: zeroing a torn last line of %lld bytes at byte %lld",
			 (long long)(dend - rc->good_end), (long long)rc->good_end);
		r = zero_range(j->fd, rc->good_end, dend);
		if (r)
			return r;
	}
	if (fstat(j->fd, &st) < 0)
		return -errno;
	j->alloc = st.st_size;
	/* What an earlier run wrote may be in the page cache only (batch, then kill -9). */
	if (fdatasync(j->fd) < 0)
		return -errno;
	r = grow(j->fd, &j->alloc, rc->good_end, rc->good_end + RFS_JOURNAL_SEGMENT / 2);
	if (r == -ENOSPC || r == -EDQUOT) {
		/* The first write grows it as far as it needs, or is refused. */
		rfs_warn("journal: no room to preallocate: %s", strerror(-r));
		r = 0;
	}
	return r;
}

int rfs_journal_open(struct rfs_journal *j, int dirfd, const char *self, rfs_op_fn fn, void *ctx)
{
	struct replay_ctx *rctx = calloc(1, sizeof(*rctx));
	struct stat st;
	off_t dend = 0;
	int rc, marker;

	memset(j, 0, sizeof(*j));
	j->fd = j->dirfd = -1;
	if (!rctx)
		return -ENOMEM;
	*rctx = (struct replay_ctx){.self = self, .fn = fn, .ctx = ctx, .j = j};
	j->fd = openat(dirfd, "journal", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = -errno;
		goto fail;
	}
	j->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (j->dirfd < 0 || fstat(j->fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = data_end(j->fd, st.st_size, &dend);
	if (!rc)
		rc = replay_file(rctx, j->fd, dend);
	if (rc) {
		if (rctx->foreign)
			rfs_err("journal holds ops of node '%s', not '%s': wrong state "
				"directory or node id",
				rctx->foreign, self);
		goto fail;
	}
	if (rctx->good_bad)
		rfs_err("journal: %zu damaged line(s) skipped, first at byte %lld", rctx->good_bad,
			(long long)rctx->first_bad);
	marker = marker_state(j->dirfd);
	j->unclean_batch = marker == 2;
	rc = settle(j, rctx, dend);
	if (rc)
		goto fail;
	if (marker == 1)
		unlinkat(j->dirfd, "journal.batch", 0); /* synced by settle(): nothing lost */
	j->wend = j->send = j->size = rctx->good_end;
	j->sseq = j->last_seq = j->wseq;
	j->sops = j->ops = j->wops;
	init_sync_state(j);
	free(rctx);
	return 0;
fail:
	free(rctx);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->dirfd = -1;
	return rc;
}

int rfs_journal_write(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		      uint64_t nops, uint64_t *lsn)
{
	const char *p = lines;
	size_t done = 0;
	int rc;

	pthread_mutex_lock(&j->mu);
	rc = j->err;
	pthread_mutex_unlock(&j->mu);
	if (rc)
		return rc;
	if (j->wend + (off_t)len > j->alloc) {
		rc = grow(j->fd, &j->alloc, j->wend + (off_t)len,
			  j->wend + (off_t)len + RFS_JOURNAL_SEGMENT / 2);
		if (rc)
			return rc;
	}
	if (j->batch_ms && !j->marked) {
		rc = marker_set(j->dirfd);
		if (rc)
			return rc;
		j->marked = true;
	}
	while (done < len) {
		ssize_t n = pwrite(j->fd, p + done, len - done, j->wend + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto undo;
		}
		done += (size_t)n;
	}
	pthread_mutex_lock(&j->mu);
	j->wend += (off_t)len;
	j->wseq = last_seq;
	j->wops += nops;
	j->wlsn += len;
	*lsn = j->wlsn;
	batch_due_locked(j);
	pthread_mutex_unlock(&j->mu);
	if (j->batch_ms)
		rfs_journal_publish(j);
	return 0;
undo:
	/* Leave no partial line behind; if even this fails, open() zeroes it next time. */
	if (done && zero_range(j->fd, j->wend, j->wend + (off_t)done) < 0)
		rfs_err("journal: cannot undo a failed write: %s", strerror(errno));
	return rc;
}

void rfs_journal_publish(struct rfs_journal *j)
{
	pthread_mutex_lock(&j->mu);
	if (j->batch_ms) {
		j->size = j->wend;
		j->last_seq = j->wseq;
		j->ops = j->wops;
	} else {
		j->size = j->send;
		j->last_seq = j->sseq;
		j->ops = j->sops;
	}
	pthread_mutex_unlock(&j->mu);
}

int rfs_journal_append(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		       uint64_t nops)
{
	uint64_t lsn;
	int rc = rfs_journal_write(j, lines, len, last_seq, nops, &lsn);

	if (!rc)
		rc = rfs_journal_sync(j, lsn);
	if (!rc)
		rfs_journal_publish(j);
	return rc;
}

ssize_t rfs_journal_read(struct rfs_journal *j, off_t off, void *buf, size_t len)
{
	ssize_t n = pread(j->fd, buf, len, off);

	return n < 0 ? -errno : n;
}

off_t rfs_journal_end(struct rfs_journal *j)
{
	return j->wend;
}

/*
 * Cut to nothing, then one zeroed segment: a crash in between leaves an empty or a zeroed
 * file, never old lines after new ones. The truncate is the metadata change an overwrite in
 * place (zeroing the lines) would avoid, but that would not be atomic.
 */
int rfs_journal_reset(struct rfs_journal *j)
{
	off_t alloc = 0;
	int rc = 0;

	pthread_mutex_lock(&j->mu);
	if (j->wend != j->size || j->syncing)
		rc = -EBUSY;
	else
		j->syncing = true; /* keeps leaders and the timer off the file */
	pthread_mutex_unlock(&j->mu);
	if (rc)
		return rc;
	if (ftruncate(j->fd, 0) < 0 || fdatasync(j->fd) < 0)
		rc = -errno;
	if (!rc)
		rc = grow(j->fd, &alloc, 0, RFS_JOURNAL_SEGMENT);
	pthread_mutex_lock(&j->mu);
	if (!rc) {
		j->alloc = alloc;
		j->wend = j->send = j->size = 0;
		j->wops = j->sops = j->ops = 0;
		j->slsn = j->wlsn;
	} else {
		/* The lines are gone or not: the next open says; write nothing more here. */
		j->err = rc;
		rfs_err("journal: reset failed, no further change is accepted: %s", strerror(-rc));
	}
	j->syncing = false;
	pthread_cond_broadcast(&j->synced);
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int rfs_journal_replace(struct rfs_journal *j, const char *text, size_t len, uint64_t last_seq,
			uint64_t nops)
{
	off_t alloc;
	struct stat st;
	int fd = -1, rc;

	rc = rfs_journal_sync(j, rfs_journal_lsn(j));
	if (rc)
		return rc;
	pthread_mutex_lock(&j->mu);
	while (j->syncing)
		pthread_cond_wait(&j->synced, &j->mu);
	j->syncing = true;
	pthread_mutex_unlock(&j->mu);
	rc = rfs_write_atomic(j->dirfd, "journal", text, len);
	if (rc)
		goto out;
	/* From here the old file is gone: a failure leaves this descriptor on nothing. */
	fd = openat(j->dirfd, "journal", O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		rc = -errno;
	if (!rc) {
		alloc = st.st_size;
		rc = grow(fd, &alloc, (off_t)len, (off_t)len + RFS_JOURNAL_SEGMENT / 2);
	}
	if (rc) {
		pthread_mutex_lock(&j->mu);
		j->err = rc;
		pthread_mutex_unlock(&j->mu);
		rfs_err("journal: replaced but not reopened, no further change is accepted: %s",
			strerror(-rc));
	}
out:
	pthread_mutex_lock(&j->mu);
	if (!rc) {
		close(j->fd);
		j->fd = fd;
		fd = -1;
		j->alloc = alloc;
		j->wend = j->send = j->size = (off_t)len;
		j->wseq = j->sseq = j->last_seq = last_seq;
		j->wops = j->sops = j->ops = nops;
		j->slsn = j->wlsn;
	}
	j->syncing = false;
	pthread_cond_broadcast(&j->synced);
	pthread_mutex_unlock(&j->mu);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The boot this kernel's page cache belongs to: what survives kill -9, not a power cut. */
static void boot_id(char *out, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/*
 * journal.batch names the boot of a run that wrote with durability=batch and has not yet
 * stopped cleanly. Found at open with another boot's id (or unreadable, or no id to compare):
 * the machine went down with lines in the page cache only, which the store may have.
 * Found with this boot's id: the process died but the kernel kept its pages, which open
 * syncs, so nothing was lost. Returns 0 (none), 1 (this boot), 2 (another boot).
 */
static int marker_state(int dirfd)
{
	char now[64], was[64];
	int fd = openat(dirfd, "journal.batch", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : 2;
	n = read(fd, was, sizeof(was) - 1);
	close(fd);
	was[n > 0 ? n : 0] = '\0';
	was[strcspn(was, "\n")] = '\0';
	boot_id(now, sizeof(now));
	return now[0] && strcmp(now, was) == 0 ? 1 : 2;
}

static int marker_set(int dirfd)
{
	char id[64];
	int fd, rc = 0;
	size_t len;

	boot_id(id, sizeof(id));
	len = strlen(id);
	id[len++] = '\n';
	fd = openat(dirfd, "journal.batch", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, id, len) != (ssize_t)len || fdatasync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (!rc && fsync(dirfd) < 0)
		rc = -errno;
	return rc;
}

static void marker_clear(struct rfs_journal *j)
{
	if (unlinkat(j->dirfd, "journal.batch", 0) < 0 && errno != ENOENT)
		rfs_warn("journal: cannot remove journal.batch: %s", strerror(errno));
	j->marked = false;
	j->unclean_batch = false;
}

/* One fdatasync for everything written so far, mu held (dropped across the sync). */
static void lead_sync_locked(struct rfs_journal *j)
{
	uint64_t target = j->wlsn, seq = j->wseq, ops = j->wops;
	off_t end = j->wend;
	int fd = j->fd, rc = 0;

	j->syncing = true;
	pthread_mutex_unlock(&j->mu);
	if (fdatasync(fd) < 0)
		rc = -errno;
	pthread_mutex_lock(&j->mu);
	j->syncing = false;
	j->syncs++;
	if (rc) {
		if (!j->err)
			rfs_err("journal: fdatasync failed, no further change is accepted until a "
				"restart: %s",
				strerror(-rc));
		j->err = rc;
	} else {
		j->slsn = target;
		j->send = end;
		j->sseq = seq;
		j->sops = ops;
	}
	pthread_cond_broadcast(&j->synced);
}

int rfs_journal_sync(struct rfs_journal *j, uint64_t lsn)
{
	int rc;

	pthread_mutex_lock(&j->mu);
	while (j->slsn < lsn && !j->err) {
		if (j->syncing)
			pthread_cond_wait(&j->synced, &j->mu);
		else
			lead_sync_locked(j);
	}
	rc = j->slsn >= lsn ? 0 : j->err;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int rfs_journal_wait(struct rfs_journal *j, uint64_t lsn)
{
	return j->batch_ms ? 0 : rfs_journal_sync(j, lsn);
}

uint64_t rfs_journal_lsn(struct rfs_journal *j)
{
	uint64_t lsn;

	pthread_mutex_lock(&j->mu);
	lsn = j->wlsn;
	pthread_mutex_unlock(&j->mu);
	return lsn;
}

uint64_t rfs_journal_syncs(struct rfs_journal *j)
{
	uint64_t n;

	pthread_mutex_lock(&j->mu);
	n = j->syncs;
	pthread_mutex_unlock(&j->mu);
	return n;
}

/* A write with batch: the timer syncs it within batch_ms (a deadline already set is earlier). */
static void batch_due_locked(struct rfs_journal *j)
{
	if (!j->batch_ms || j->due)
		return;
	clock_gettime(CLOCK_MONOTONIC, &j->deadline);
	j->deadline.tv_sec += j->batch_ms / 1000;
	j->deadline.tv_nsec += (long)(j->batch_ms % 1000) * 1000000L;
	if (j->deadline.tv_nsec >= 1000000000L) {
		j->deadline.tv_sec++;
		j->deadline.tv_nsec -= 1000000000L;
	}
	j->due = true;
	pthread_cond_signal(&j->wake);
}

static bool passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *batch_timer(void *p)
{
	struct rfs_journal *j = p;

	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		if (!j->due) {
			pthread_cond_wait(&j->wake, &j->mu);
			continue;
		}
		if (!passed(&j->deadline)) {
			pthread_cond_timedwait(&j->wake, &j->mu, &j->deadline);
			continue;
		}
		/* Lines written from here on set a new deadline. */
		j->due = false;
		while (j->syncing)
			pthread_cond_wait(&j->synced, &j->mu);
		if (j->slsn < j->wlsn && !j->err)
			lead_sync_locked(j);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

int rfs_journal_set_batch(struct rfs_journal *j, unsigned ms)
{
	int rc;

	if (j->timer_on || ms > RFS_JOURNAL_BATCH_MAX_MS)
		return -EINVAL;
	j->batch_ms = ms;
	if (!ms)
		return 0;
	rc = pthread_create(&j->timer, NULL, batch_timer, j);
	if (rc) {
		j->batch_ms = 0;
		return -rc;
	}
	j->timer_on = true;
	return 0;
}

int rfs_journal_clean(struct rfs_journal *j)
{
	int rc = rfs_journal_sync(j, rfs_journal_lsn(j));

	if (rc)
		return rc;
	rfs_journal_publish(j);
	marker_clear(j);
	return 0;
}

void rfs_journal_close(struct rfs_journal *j)
{
	if (!j->mu_init)
		return; /* never opened, or closed already */
	if (j->timer_on) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_signal(&j->wake);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->timer, NULL);
		j->timer_on = false;
	}
	/* A clean stop syncs what batch left in the page cache. */
	if (j->fd >= 0 && rfs_journal_sync(j, rfs_journal_lsn(j)) == 0 && j->marked)
		marker_clear(j);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->synced);
	pthread_mutex_destroy(&j->mu);
	j->mu_init = false;
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->dirfd = -1;
}
