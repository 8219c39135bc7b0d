/*
 * The local journal (statedir/journal): every op this node originated, in sequence order,
 * one op line each. An op is acknowledged only after its line is written and fdatasync'ed,
 * so after a crash the journal holds every acknowledged op; a torn last line is an op that
 * was never acknowledged and is cut off when the journal is opened.
 */
#ifndef RMTABFS_JOURNAL_H
#define RMTABFS_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include <rmtabfs/oplog.h>

typedef int (*rfs_op_fn)(void *ctx, const struct rfs_op *op);

/*
 * Decodes the complete op lines of buf, calling fn for each. Returns the bytes consumed (up
 * to the end of the last complete line) or fn's negative result. Damaged lines are skipped
 * and counted in *bad (the first one's offset in *first_bad) so the caller can log them.
 */
long rfs_ops_scan(const char *buf, size_t len, rfs_op_fn fn, void *ctx, size_t *bad,
		  size_t *first_bad);

struct rfs_journal {
	int fd;
	off_t size;	   /* bytes of complete lines */
	uint64_t last_seq; /* highest sequence number in the file, 0 if none */
	uint64_t ops;	   /* ops in the file */
};

/*
 * Opens (creating) dirfd/journal, replays every op through fn and cuts off a torn tail.
 * Fails with -EINVAL if an op belongs to another node than self (the state directory is
 * someone else's).
 */
int rfs_journal_open(struct rfs_journal *j, int dirfd, const char *self, rfs_op_fn fn, void *ctx);
/* Appends whole lines and makes them durable; on failure the file is as it was. */
int rfs_journal_append(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		       uint64_t nops);
/* Reads from a byte offset (for shipping to the store); returns bytes read or -errno. */
ssize_t rfs_journal_read(struct rfs_journal *j, off_t off, void *buf, size_t len);
/* Empties the journal once every op in it is both on the store and in a checkpoint. */
int rfs_journal_reset(struct rfs_journal *j);
void rfs_journal_close(struct rfs_journal *j);

#endif
