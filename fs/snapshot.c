/*
 * Store snapshot format (see include/rmtabfs/snapshot.h).
 *
 * Invariant: a file that parses is complete (a trailing CRC-32C covers every byte before
 * it), so a compactor that dies while writing leaves only a temporary file nobody reads.
 * Pure code, no I/O, no locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/snapshot.h>

#define MAGIC "rmtabfs-snapshot 1\n"

int rfs_snapshot_encode(struct rfs_buf *out, const struct rfs_table *t, uint64_t gen,
			const char *by, uint64_t horizon, const struct rfs_cover *covers,
			size_t ncovers)
{
	const struct rfs_record *r;
	size_t i, n = 0, start = out->len;
	int rc;

	rfs_table_for_each(t, i, r) if (r->count || r->time >= horizon) n++;
	rc = rfs_buf_printf(out, MAGIC "gen %llu\nby %s\nhorizon %llu\n", (unsigned long long)gen,
			    by, (unsigned long long)horizon);
	for (i = 0; !rc && i < ncovers; i++)
		rc = rfs_buf_printf(out, "cover %s %llu %llu %u %llu\n", covers[i].node,
				    (unsigned long long)covers[i].seq,
				    (unsigned long long)covers[i].time, covers[i].seg,
				    (unsigned long long)covers[i].offset);
	if (!rc)
		rc = rfs_buf_printf(out, "records %zu\n", n);
	rfs_table_for_each(t, i, r)
	{
		struct rfs_op op;

		if (rc)
			break;
		if (!r->count && r->time < horizon)
			continue;
		rfs_record_as_op(r, &op);
		rc = rfs_op_encode(out, &op);
	}
	if (!rc)
		rc = rfs_buf_printf(out, "end %08x\n",
				    rfs_crc32c(0, out->data + start, out->len - start));
	return rc;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

int rfs_snapshot_parse(const char *buf, size_t len, struct rfs_snapshot_info *info)
{
	const char *p = buf, *end, *tail;
	char crc[16];
	int rc = -EBADMSG;

	memset(info, 0, sizeof(*info));
	if (len < strlen(MAGIC) + 14 || buf[len - 1] != '\n' ||
	    strncmp(buf, MAGIC, strlen(MAGIC)) != 0)
		return -EBADMSG;
	tail = buf + len - 1;
	while (tail > buf && tail[-1] != '\n')
		tail--;
	snprintf(crc, sizeof(crc), "end %08x\n", rfs_crc32c(0, buf, (size_t)(tail - buf)));
	if ((size_t)(buf + len - tail) != strlen(crc) || memcmp(tail, crc, strlen(crc)) != 0)
		return -EBADMSG;
	end = tail;
	p += strlen(MAGIC);
	while (p < end && strncmp(p, "records ", 8) != 0) {
		const char *e = line_end(p, end);
		char line[256];
		size_t n = (size_t)(e - p);

		if (n >= sizeof(line))
			goto out;
		memcpy(line, p, n);
		line[n] = '\0';
		if (sscanf(line, "gen %llu", (unsigned long long *)&info->gen) == 1) {
		} else if (strncmp(line, "by ", 3) == 0 && n - 3 <= RFS_NODE_MAX) {
			strcpy(info->by, line + 3);
		} else if (sscanf(line, "horizon %llu", (unsigned long long *)&info->horizon) ==
			   1) {
		} else if (strncmp(line, "cover ", 6) == 0) {
			struct rfs_cover c = {0}, *v;
			unsigned long long seq, time, off;
			char node[RFS_NODE_MAX + 2];

			if (sscanf(line, "cover %65s %llu %llu %u %llu", node, &seq, &time, &c.seg,
				   &off) != 5 ||
			    strlen(node) > RFS_NODE_MAX)
				goto out;
			strcpy(c.node, node);
			c.seq = seq;
			c.time = time;
			c.offset = off;
			v = realloc(info->covers, (info->ncovers + 1) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				goto out;
			}
			info->covers = v;
			v[info->ncovers++] = c;
		} else {
			goto out;
		}
		p = e + 1;
	}
	{
		/* The buffer need not end in NUL: read the line from a copy. */
		const char *e = p < end ? line_end(p, end) : end;
		char line[64];
		size_t n = (size_t)(e - p);

		if (p >= end || n >= sizeof(line))
			goto out;
		memcpy(line, p, n);
		line[n] = '\0';
		if (sscanf(line, "records %zu", &info->nrecords) != 1)
			goto out;
	}
	p = line_end(p, end) + 1;
	info->records = p;
	info->records_len = (size_t)(end - p);
	return 0;
out:
	rfs_snapshot_info_free(info);
	return rc;
}

void rfs_snapshot_info_free(struct rfs_snapshot_info *info)
{
	free(info->covers);
	info->covers = NULL;
	info->ncovers = 0;
}

const struct rfs_cover *rfs_snapshot_cover(const struct rfs_snapshot_info *info, const char *node)
{
	size_t i;

	for (i = 0; i < info->ncovers; i++)
		if (strcmp(info->covers[i].node, node) == 0)
			return &info->covers[i];
	return NULL;
}
