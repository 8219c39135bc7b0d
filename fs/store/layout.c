/*
 * The store's layout (include/rmtabfs/store.h): names of log segments and snapshots and
 * helpers that read them. No state of their own.
 */
#include "internal.h"

/* Store name of a log segment: segment 0 is nodes/NODE.log, later ones nodes/NODE.log.N. */
void st_log_rel(char *buf, size_t len, const char *node, uint32_t seg)
{
	if (seg == 0)
		snprintf(buf, len, "nodes/%s.log", node);
	else
		snprintf(buf, len, "nodes/%s.log.%u", node, seg);
}

/* The inverse, unambiguous although node ids may hold '.': 0 or -EINVAL. */
int st_parse_log_name(const char *name, char *node, uint32_t *seg)
{
	size_t len = strlen(name);
	const char *dot;

	if (len > 4 && strcmp(name + len - 4, ".log") == 0) {
		if (len - 4 > RFS_NODE_MAX)
			return -EINVAL;
		memcpy(node, name, len - 4);
		node[len - 4] = '\0';
		*seg = 0;
	} else {
		char *end;
		unsigned long n;

		dot = strrchr(name, '.');
		if (!dot || dot - name < 5 || strncmp(dot - 4, ".log", 4) != 0 || !dot[1])
			return -EINVAL;
		n = strtoul(dot + 1, &end, 10);
		if (*end || n == 0 || n > UINT32_MAX || (size_t)(dot - 4 - name) > RFS_NODE_MAX)
			return -EINVAL;
		memcpy(node, name, (size_t)(dot - 4 - name));
		node[dot - 4 - name] = '\0';
		*seg = (uint32_t)n;
	}
	return rfs_node_id_valid(node) ? 0 : -EINVAL;
}

/* Tests kill the daemon at a named step of compaction (RMTABFS_TEST_CRASH=step). */
void st_crash_point(struct rfs_sloop *r, const char *step)
{
	if (r->crash_at && strcmp(r->crash_at, step) == 0) {
		rfs_err("test: crashing at compaction step '%s'", step);
		kill(getpid(), SIGKILL);
	}
}

/* The last sequence number in a log segment (0 if it has no complete op), cutting a
 * torn tail when cut is set (only for our own log: we are its only writer). */
int st_segment_last_seq(struct rfs_sloop *r, struct rfs_sfile *f, const char *rel, bool cut,
			uint64_t *last, off_t *size_out)
{
	const struct rfs_store_ops *ops = r->store.ops;
	size_t tail_len, start = 0, end;
	bool partial_first;
	char *tail;
	off_t size;
	ssize_t n;
	int rc;

	*last = 0;
	rc = ops->size(f, &size);
	if (rc)
		return rc;
	*size_out = size;
	tail_len = size > 65536 ? 65536 : (size_t)size;
	if (!tail_len)
		return 0;
	partial_first = (off_t)tail_len < size;
	tail = malloc(tail_len);
	if (!tail)
		return -ENOMEM;
	n = ops->pread(f, tail, tail_len, size - (off_t)tail_len);
	if (n != (ssize_t)tail_len) {
		free(tail);
		return n < 0 ? (int)n : -EIO;
	}
	end = tail_len;
	while (end > 0 && tail[end - 1] != '\n')
		end--;
	if (cut && end < tail_len) {
		rfs_warn("store: cutting a torn last line (%zu bytes) of %s", tail_len - end, rel);
		rc = ops->truncate(f, size - (off_t)(tail_len - end));
		if (rc) {
			free(tail);
			return rc;
		}
		*size_out = size - (off_t)(tail_len - end);
	}
	if (partial_first) {
		char *nl = memchr(tail, '\n', end);

		start = nl ? (size_t)(nl - tail) + 1 : end;
	}
	while (start < end) {
		struct rfs_op op;
		struct rfs_op_scratch sc;
		size_t used = 0;
		long m = rfs_op_decode(tail + start, end - start, &op, &sc, &used);

		if (m > 0 && op.seq > *last)
			*last = op.seq;
		if (used == 0)
			break;
		start += used;
	}
	free(tail);
	return 0;
}

/* Applies our own ops from one segment of our log, from a byte offset (ops up to skip are
 * left out). For a new or lost state directory; may also collect the bytes into out. */
int st_read_own_seg(struct rfs_sloop *r, uint32_t seg, uint64_t from, uint64_t skip,
		    struct rfs_buf *out)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_sfile *f;
	char rel[160], *buf;
	uint64_t off = from;
	int rc;

	st_log_rel(rel, sizeof(rel), r->opts->node, seg);
	rc = ops->open(&r->store, rel, O_RDONLY, &f);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	buf = malloc(CHUNK);
	if (!buf) {
		ops->close(f);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;
		size_t pos = 0;
		bool damaged;
		long used;

		if (st_stopping(r)) {
			rc = -ECANCELED;
			break;
		}
		n = ops->pread(f, buf, CHUNK, (off_t)off);

		if (n <= 0) {
			rc = n < 0 ? (int)n : 0;
			break;
		}
		if (out) {
			/* whole lines only */
			while (pos < (size_t)n) {
				char *nl = memchr(buf + pos, '\n', (size_t)n - pos);

				if (!nl)
					break;
				pos = (size_t)(nl - buf) + 1;
			}
			rc = rfs_buf_append(out, buf, pos);
			if (rc || pos == 0)
				break;
			off += pos;
			continue;
		}
		used = rfs_rs_apply_remote(r->rs, r->opts->node, buf, (size_t)n, skip, &damaged);
		if (used <= 0)
			break;
		off += (uint64_t)used;
	}
	free(buf);
	ops->close(f);
	return rc;
}

int st_read_own_log(struct rfs_sloop *r, uint32_t seg, uint64_t from)
{
	return st_read_own_seg(r, seg, from, 0, NULL);
}

void st_snap_rel(char *buf, size_t len, uint64_t gen)
{
	snprintf(buf, len, "snapshots/snap.%012llu", (unsigned long long)gen);
}

int st_read_snapshot(struct rfs_sloop *r, uint64_t gen, char **buf, size_t *len)
{
	const struct rfs_store_ops *ops = r->store.ops;
	struct rfs_buf out = RFS_BUF_INIT;
	struct rfs_sfile *f;
	char rel[64];
	off_t size, off = 0;
	int rc;

	st_snap_rel(rel, sizeof(rel), gen);
	st_call_begin(r);
	rc = ops->open(&r->store, rel, O_RDONLY, &f);
	if (!rc) {
		rc = ops->size(f, &size);
		if (!rc)
			rc = rfs_buf_reserve(&out, (size_t)size);
		while (!rc && off < size) {
			ssize_t n = ops->pread(f, out.data + off, (size_t)(size - off), off);

			if (n <= 0)
				rc = n < 0 ? (int)n : -EIO;
			else
				off += n;
		}
		ops->close(f);
	}
	st_call_end(r);
	if (rc) {
		rfs_buf_free(&out);
		return rc;
	}
	out.len = (size_t)off;
	out.data[out.len] = '\0';
	*buf = rfs_buf_steal(&out, len);
	return 0;
}
