/*
 * Incarnations of this node's sequence numbers (see include/rmtabfs/incarnation.h).
 *
 * Invariant: statedir/incarnation is replaced atomically and durably (tmp, fsync, rename,
 * fsync of the directory), so after a crash it says either the old or the new floor.
 * No locks: the core calls the file functions under its commit lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmtabfs/checkpoint.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/oplog.h>

#define MAGIC "rmtabfs-incarnation 1\n"

int rfs_incarnation_encode(struct rfs_buf *out, const struct rfs_incarnation *inc)
{
	return rfs_buf_printf(out, MAGIC "floor %llu\nanchored %d\n",
			      (unsigned long long)inc->floor, inc->anchored ? 1 : 0);
}

int rfs_incarnation_parse(const char *text, size_t len, struct rfs_incarnation *inc)
{
	char buf[128], *end;
	unsigned long long floor;
	int anchored, used = 0;

	if (len >= sizeof(buf) || len < strlen(MAGIC) || memcmp(text, MAGIC, strlen(MAGIC)) != 0 ||
	    text[len - 1] != '\n')
		return -EBADMSG;
	memcpy(buf, text, len);
	buf[len] = '\0';
	end = buf + strlen(MAGIC);
	if (sscanf(end, "floor %llu\nanchored %d\n%n", &floor, &anchored, &used) != 2 ||
	    used == 0 || end[used] != '\0' || (anchored != 0 && anchored != 1))
		return -EBADMSG;
	inc->floor = floor;
	inc->anchored = anchored == 1;
	return 0;
}

uint64_t rfs_incarnation_floor(uint64_t now_ns, uint64_t known)
{
	uint64_t f = now_ns > known ? now_ns : known;

	return f ? f : 1;
}

bool rfs_incarnation_conflict(const struct rfs_incarnation *inc, uint64_t store_last)
{
	return !inc->anchored && store_last > inc->floor;
}

struct renumber_ctx {
	struct rfs_buf *out;
	uint64_t next;
	long n;
};

static int renumber_one(void *p, const struct rfs_op *op)
{
	struct renumber_ctx *r = p;
	struct rfs_op copy = *op;

	copy.seq = ++r->next;
	r->n++;
	return rfs_op_encode(r->out, &copy);
}

long rfs_ops_renumber(const char *in, size_t len, uint64_t first, struct rfs_buf *out)
{
	struct renumber_ctx r = {.out = out, .next = first};
	long used = rfs_ops_scan(in, len, renumber_one, &r, NULL, NULL);

	return used < 0 ? used : r.n;
}

int rfs_incarnation_load(int dirfd, struct rfs_incarnation *inc)
{
	char buf[128];
	ssize_t n;
	int fd = openat(dirfd, "incarnation", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	return rfs_incarnation_parse(buf, (size_t)n, inc);
}

int rfs_incarnation_store(int dirfd, const struct rfs_incarnation *inc)
{
	struct rfs_buf b = RFS_BUF_INIT;
	int rc = rfs_incarnation_encode(&b, inc);

	if (!rc)
		rc = rfs_write_atomic(dirfd, "incarnation", b.data, b.len);
	rfs_buf_free(&b);
	return rc;
}
