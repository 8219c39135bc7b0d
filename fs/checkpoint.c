/*
 * Checkpoint file (see include/rmtabfs/checkpoint.h). Format, one item a line:
 *
 *   rmtabfs-view 1
 *   node NODE
 *   seq SELF_SEQ
 *   hlc TIME
 *   mtime SECONDS
 *   imported 0|1
 *   peer NODE SEG OFFSET SKIP   (one per other node: where reading its log stands)
 *   records N
 *   <N op lines, one per record, tombstones included>
 *   end CRC32C                  (of every byte before this line)
 *
 * Invariant: a file that loads is complete and undamaged (the trailing CRC covers it), so
 * a crash while writing can only leave the previous checkpoint in place. No locks: the
 * caller encodes under its table lock and writes outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/checkpoint.h>
#include <rmtabfs/journal.h>

#define MAGIC "rmtabfs-view 1\n"

static int encode_record(struct rfs_buf *out, const struct rfs_record *r)
{
	struct rfs_op op;

	rfs_record_as_op(r, &op);
	return rfs_op_encode(out, &op);
}

int rfs_checkpoint_encode(struct rfs_buf *out, const struct rfs_table *t, bool imported,
			  const struct rfs_peer_pos *peers, size_t npeers)
{
	const struct rfs_record *r;
	size_t i, n = 0, mark;
	int rc;

	rc = rfs_buf_printf(out, MAGIC "node %s\nseq %llu\nhlc %llu\nmtime %lld\nimported %d\n",
			    t->self->name, (unsigned long long)t->self_seq,
			    (unsigned long long)t->hlc, (long long)t->reported_mtime,
			    imported ? 1 : 0);
	for (i = 0; !rc && i < npeers; i++)
		rc = rfs_buf_printf(out, "peer %s %u %llu %llu\n", peers[i].node, peers[i].seg,
				    (unsigned long long)peers[i].offset,
				    (unsigned long long)peers[i].skip);
	if (!rc)
		rc = rfs_buf_printf(out, "records %zu\n", t->nrecords);
	/*
	 * Live records in first-seen order, so that loading appends each at the tail of the
	 * list (hash order made every insert walk the list: 1.2 s at 10 000 records, a minute
	 * at 100 000); then the tombstones, which are in no list. Hash order for everything if
	 * the list and the table ever disagree (the load then still checks the count).
	 */
	mark = out->len;
	for (r = t->head; r && !rc; r = r->next, n++)
		rc = encode_record(out, r);
	rfs_table_for_each(t, i, r)
	{
		if (rc)
			break;
		if (!r->count) {
			rc = encode_record(out, r);
			n++;
		}
	}
	if (!rc && n != t->nrecords) {
		out->len = mark;
		rfs_table_for_each(t, i, r)
		{
			if (rc)
				break;
			rc = encode_record(out, r);
		}
	}
	if (!rc)
		rc = rfs_buf_printf(out, "end %08x\n", rfs_crc32c(0, out->data, out->len));
	return rc;
}

int rfs_write_atomic(int dirfd, const char *name, const char *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	size_t done = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = -errno;
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	/* The rename itself must survive a power cut before later steps rely on it. */
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
fail:
	close(fd);
	unlinkat(dirfd, tmp, 0);
	return rc;
}

int rfs_checkpoint_write(int dirfd, const char *data, size_t len)
{
	return rfs_write_atomic(dirfd, "view", data, len);
}

static int read_all(int dirfd, const char *name, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t done = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	*out = buf;
	*len = done;
	return 0;
}

/* Next header line "KEY VALUE\n" into value; returns 0 or -EBADMSG. */
static int header(const char **p, const char *end, const char *key, char *value, size_t cap)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t vlen;

	if (!nl || (size_t)(nl - *p) <= klen + 1 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ' ')
		return -EBADMSG;
	vlen = (size_t)(nl - *p) - klen - 1;
	if (vlen >= cap)
		return -EBADMSG;
	memcpy(value, *p + klen + 1, vlen);
	value[vlen] = '\0';
	*p = nl + 1;
	return 0;
}

static int header_u64(const char **p, const char *end, const char *key, unsigned long long *v)
{
	char value[32], *e;

	if (header(p, end, key, value, sizeof(value)))
		return -EBADMSG;
	errno = 0;
	*v = strtoull(value, &e, 10);
	return (*e || errno) ? -EBADMSG : 0;
}

static int apply_record(void *ctx, const struct rfs_op *op)
{
	int rc = rfs_table_apply(ctx, op);

	return rc < 0 ? rc : 0;
}

/*
 * The whole file ends in a checksum line over everything before it: *tail is then where
 * that line starts. False if the file is damaged.
 */
static bool checksum_ok(const char *buf, size_t len, const char **tail)
{
	char end_line[16];
	const char *t;

	if (len < 14 || buf[len - 1] != '\n')
		return false;
	t = buf + len - 1;
	while (t > buf && t[-1] != '\n')
		t--;
	/*
	 * Compare with the line as encoded, byte for byte: strtoul would also take " 1f", "+1f",
	 * "0x1f" or "1F" for "01f", so a damaged checksum line could still load.
	 */
	snprintf(end_line, sizeof(end_line), "end %08x\n", rfs_crc32c(0, buf, (size_t)(t - buf)));
	if ((size_t)(buf + len - t) != strlen(end_line) ||
	    memcmp(t, end_line, strlen(end_line)) != 0)
		return false;
	*tail = t;
	return true;
}

/* The "peer NODE SEG OFFSET SKIP" (or older "peer NODE OFFSET") lines into info. */
static int parse_peers(const char **p, const char *end, struct rfs_checkpoint_info *info)
{
	char value[RFS_NODE_MAX + 32];

	while (strncmp(*p, "peer ", 5) == 0) {
		struct rfs_peer_pos *np;
		char *sp;

		if (header(p, end, "peer", value, sizeof(value)))
			return -EBADMSG;
		sp = strchr(value, ' ');
		if (!sp || (size_t)(sp - value) > RFS_NODE_MAX)
			return -EBADMSG;
		np = realloc(info->peers, (info->npeers + 1) * sizeof(*np));
		if (!np)
			return -ENOMEM;
		info->peers = np;
		memcpy(np[info->npeers].node, value, (size_t)(sp - value));
		np[info->npeers].node[sp - value] = '\0';
		{
			unsigned long long a = 0, b = 0, c = 0;
			int n = sscanf(sp + 1, "%llu %llu %llu", &a, &b, &c);

			np[info->npeers].seg = 0;
			np[info->npeers].skip = 0;
			if (n == 3) {
				np[info->npeers].seg = (uint32_t)a;
				np[info->npeers].offset = b;
				np[info->npeers].skip = c;
			} else if (n == 1) {
				np[info->npeers].offset = a;
			} else {
				return -EBADMSG;
			}
		}
		info->npeers++;
	}
	return 0;
}

int rfs_checkpoint_load(int dirfd, struct rfs_table *t, struct rfs_checkpoint_info *info)
{
	unsigned long long seq, hlc, imported, nrec, mtime;
	const char *p, *end, *tail;
	char value[RFS_NODE_MAX + 32];
	size_t len = 0, bad = 0;
	char *buf = NULL;
	long used;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = read_all(dirfd, "view", &buf, &len);
	if (rc)
		return rc;
	/* Check the whole file before believing any of it. */
	rc = -EBADMSG;
	if (!checksum_ok(buf, len, &tail))
		goto out;
	if (strncmp(buf, MAGIC, strlen(MAGIC)) != 0)
		goto out;
	p = buf + strlen(MAGIC);
	end = tail;
	if (header(&p, end, "node", info->node, sizeof(info->node)) ||
	    header_u64(&p, end, "seq", &seq) || header_u64(&p, end, "hlc", &hlc) ||
	    header(&p, end, "mtime", value, sizeof(value)) ||
	    header_u64(&p, end, "imported", &imported))
		goto out;
	mtime = strtoull(value, NULL, 10);
	info->mtime = (int64_t)mtime;
	info->imported = imported != 0;
	info->self_seq = seq;
	rc = parse_peers(&p, end, info);
	if (rc)
		goto out;
	rc = -EBADMSG;
	if (header_u64(&p, end, "records", &nrec))
		goto out;
	used = rfs_ops_scan(p, (size_t)(end - p), apply_record, t, &bad, NULL);
	if (used < 0) {
		rc = (int)used;
		goto out;
	}
	if (bad || p + used != end || t->nrecords != nrec)
		goto out;
	if (seq > t->self_seq)
		t->self_seq = seq;
	if (hlc > t->hlc)
		t->hlc = hlc;
	rc = 0;
out:
	free(buf);
	if (rc)
		rfs_checkpoint_info_free(info);
	return rc;
}

void rfs_checkpoint_info_free(struct rfs_checkpoint_info *info)
{
	free(info->peers);
	info->peers = NULL;
	info->npeers = 0;
}
