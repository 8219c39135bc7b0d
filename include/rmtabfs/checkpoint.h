/*
 * The checkpoint (statedir/view): the folded table, tombstones included, with this node's
 * last sequence number, its clock, the last mtime reported, and for every other node how far
 * its log has been read. Written atomically (tmp + fsync + rename); read at start so the
 * mount serves the last known view at once, before the store is reachable.
 */
#ifndef RMTABFS_CHECKPOINT_H
#define RMTABFS_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/table.h>

/* Where reading another node's log stands. */
struct rfs_peer_pos {
	char node[RFS_NODE_MAX + 1];
	uint32_t seg;	 /* log segment being read */
	uint64_t offset; /* bytes of that segment already applied */
	uint64_t skip;	 /* ops up to this sequence are in an adopted snapshot already */
};

struct rfs_checkpoint_info {
	char node[RFS_NODE_MAX + 1];
	bool imported; /* the underlying rmtab was imported once already */
	int64_t mtime;
	uint64_t self_seq;
	struct rfs_peer_pos *peers; /* malloc'ed */
	size_t npeers;
};

int rfs_checkpoint_encode(struct rfs_buf *out, const struct rfs_table *t, bool imported,
			  const struct rfs_peer_pos *peers, size_t npeers);
/* Writes dirfd/view atomically and durably. */
int rfs_checkpoint_write(int dirfd, const char *data, size_t len);
/* Writes dirfd/name atomically and durably: NAME.tmp, fsync, rename, fsync of the directory. */
int rfs_write_atomic(int dirfd, const char *name, const char *data, size_t len);
/*
 * Loads dirfd/view into an empty table. -ENOENT if there is none; -EBADMSG if it is damaged
 * (the caller then starts from the journal and the store alone).
 */
int rfs_checkpoint_load(int dirfd, struct rfs_table *t, struct rfs_checkpoint_info *info);
void rfs_checkpoint_info_free(struct rfs_checkpoint_info *info);

#endif
