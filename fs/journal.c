/*
 * Local journal (see include/rmtabfs/journal.h).
 *
 * Invariants: the file is a sequence of complete op lines of this node, in increasing
 * sequence order, possibly followed (only after a crash) by one torn line that open() cuts;
 * size is the length of the complete part and the next append goes exactly there, so a
 * failed append (ENOSPC, EIO) is undone by truncating back to size and never leaves half a
 * line for a later append to glue onto.
 * Locking: the caller serialises appends and resets (the daemon's commit lock); reads use
 * pread and may run concurrently with an append (they see whole lines up to a size read
 * under that lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>

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
};

static int replay_one(void *p, const struct rfs_op *op)
{
	struct replay_ctx *rc = p;

	if (strcmp(op->node, rc->self) != 0) {
		rc->foreign = op->node;
		return -EINVAL;
	}
	if (op->seq > rc->j->last_seq)
		rc->j->last_seq = op->seq;
	rc->j->ops++;
	return rc->fn ? rc->fn(rc->ctx, op) : 0;
}

int rfs_journal_open(struct rfs_journal *j, int dirfd, const char *self, rfs_op_fn fn, void *ctx)
{
	struct replay_ctx rctx = {.self = self, .fn = fn, .ctx = ctx, .j = j};
	size_t chunk = 1 << 20, have = 0, bad = 0, first_bad = 0;
	char *buf = NULL;
	off_t off = 0, skip_from = -1;
	int rc = 0;

	memset(j, 0, sizeof(*j));
	j->fd = openat(dirfd, "journal", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0)
		return -errno;
	buf = malloc(chunk);
	if (!buf) {
		rc = -ENOMEM;
		goto fail;
	}
	/*
	 * Stream through the file; an op line never exceeds RFS_OP_LINE_MAX, far below chunk.
	 * A full buffer without a newline is therefore a damaged run (a region lost to zeros):
	 * skip to its newline, one damaged line however long, rather than take it and every
	 * acknowledged op after it for a torn tail. skip_from is where such a run started.
	 */
	for (;;) {
		ssize_t n = pread(j->fd, buf + have, chunk - have, off + (off_t)have);

		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		have += (size_t)n;
		if (skip_from >= 0) {
			const char *nl = memchr(buf, '\n', have);
			size_t drop = nl ? (size_t)(nl - buf) + 1 : have;

			if (nl && bad++ == 0)
				first_bad = (size_t)skip_from;
			if (nl)
				skip_from = -1;
			memmove(buf, buf + drop, have - drop);
			off += (off_t)drop;
			have -= drop;
		}
		if (skip_from < 0) {
			size_t bad_before = bad;
			long used = rfs_ops_scan(buf, have, replay_one, &rctx, &bad, &first_bad);

			if (used < 0) {
				rc = (int)used;
				if (rctx.foreign)
					rfs_err("journal holds ops of node '%s', not '%s': wrong "
						"state directory or node id",
						rctx.foreign, self);
				goto fail;
			}
			/* rfs_ops_scan counts from the buffer's start, the log from the file's. */
			if (!bad_before && bad)
				first_bad += (size_t)off;
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
	if (skip_from >= 0) {
		/* The run reaches the end of the file: a torn tail, cut where it starts. */
		have = (size_t)(off - skip_from);
		off = skip_from;
	}
	if (bad)
		rfs_err("journal: %zu damaged line(s) skipped, first at byte %lld", bad,
			(long long)first_bad);
	if (have) {
		/* A torn line: never acknowledged, cut it so the next append starts clean. */
		rfs_warn("journal: cutting a torn last line of %zu bytes at byte %lld", have,
			 (long long)off);
		if (ftruncate(j->fd, off) < 0 || fdatasync(j->fd) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	j->size = off;
	free(buf);
	return 0;
fail:
	free(buf);
	close(j->fd);
	j->fd = -1;
	return rc;
}

int rfs_journal_append(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		       uint64_t nops)
{
	const char *p = lines;
	size_t done = 0;
	int rc;

	while (done < len) {
		ssize_t n = pwrite(j->fd, p + done, len - done, j->size + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto undo;
		}
		done += (size_t)n;
	}
	if (fdatasync(j->fd) < 0) {
		rc = -errno;
		goto undo;
	}
	j->size += (off_t)len;
	j->last_seq = last_seq;
	j->ops += nops;
	return 0;
undo:
	/* Leave no partial line behind; if even this fails, open() cuts it next time. */
	if (ftruncate(j->fd, j->size) < 0)
		rfs_err("journal: cannot cut a failed append: %s", strerror(errno));
	return rc;
}

ssize_t rfs_journal_read(struct rfs_journal *j, off_t off, void *buf, size_t len)
{
	ssize_t n = pread(j->fd, buf, len, off);

	return n < 0 ? -errno : n;
}

int rfs_journal_reset(struct rfs_journal *j)
{
	if (ftruncate(j->fd, 0) < 0 || fdatasync(j->fd) < 0)
		return -errno;
	j->size = 0;
	j->ops = 0;
	return 0;
}

void rfs_journal_close(struct rfs_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}
