/*
 * What the store side asks of the record set (fs/follow.c, called through fs/recset.c):
 * other nodes' ops, adoption of a store snapshot, and this node's incarnation. The record
 * set itself is in core.h.
 */
#ifndef RMTABFS_FOLLOW_H
#define RMTABFS_FOLLOW_H

#include <rmtabfs/core.h>

/*
 * Applies the complete op lines of another node's log, skipping ops up to skip_seq (already
 * in an adopted snapshot). Stops at the first damaged line or a line of another node.
 * Returns bytes consumed; *damaged is set when it stopped at a damaged line (which is then
 * the next byte).
 */
long rfs_core_apply_remote(struct rfs_core *c, const char *node, const char *buf, size_t len,
			   uint64_t skip_seq, bool *damaged);

struct rfs_snapshot_info;
/*
 * Replaces the table by a store snapshot plus this node's ops after the snapshot's cover of
 * it: own_tail (its log on the store after the cover) and the local journal. Other nodes'
 * ops after their covers are then read again from their logs by the caller.
 */
int rfs_core_adopt(struct rfs_core *c, const struct rfs_snapshot_info *snap, const char *own_tail,
		   size_t own_len);

/* This node's incarnation (include/rmtabfs/incarnation.h). */
int rfs_core_incarnation(struct rfs_core *c, struct rfs_incarnation *inc);
/*
 * The store holds ops of this node above an incarnation not yet anchored: move the floor
 * above store_last and renumber the journal's ops (all of them this incarnation's) from it.
 */
int rfs_core_renumber(struct rfs_core *c, uint64_t store_last);
/* The store was read back and holds nothing above the floor: remember it durably. */
int rfs_core_anchor(struct rfs_core *c);

#endif
