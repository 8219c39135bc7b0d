/*
 * Store snapshots (compaction): the folded table of the whole cluster as one file,
 * snapshots/snap.GEN, with for every node how far into its log it reaches (the "cover").
 * A node that reads a snapshot starts tailing each log at its cover; a node whose log
 * segments are entirely covered by the newest snapshot may delete them.
 *
 *   rmtabfs-snapshot 1
 *   gen GEN
 *   by NODE
 *   horizon TIME                 tombstones older than this were dropped
 *   cover NODE SEQ TIME SEG OFFSET      (per node: last op covered, its time, where it ends)
 *   records N
 *   <N op lines>
 *   end CRC32C
 */
#ifndef RMTABFS_SNAPSHOT_H
#define RMTABFS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/table.h>

struct rfs_cover {
	char node[RFS_NODE_MAX + 1];
	uint64_t seq;  /* last op of that node the snapshot includes */
	uint64_t time; /* its time */
	uint32_t seg;  /* log segment and byte offset just after it */
	uint64_t offset;
};

struct rfs_snapshot_info {
	uint64_t gen;
	char by[RFS_NODE_MAX + 1];
	uint64_t horizon;
	struct rfs_cover *covers; /* malloc'ed */
	size_t ncovers;
	size_t nrecords;
	const char *records; /* op lines, pointing into the parsed buffer */
	size_t records_len;
};

/* Every live record and every tombstone not older than horizon. */
int rfs_snapshot_encode(struct rfs_buf *out, const struct rfs_table *t, uint64_t gen,
			const char *by, uint64_t horizon, const struct rfs_cover *covers,
			size_t ncovers);
/* Checks the whole file (CRC) before anything; -EBADMSG if damaged. */
int rfs_snapshot_parse(const char *buf, size_t len, struct rfs_snapshot_info *info);
void rfs_snapshot_info_free(struct rfs_snapshot_info *info);
const struct rfs_cover *rfs_snapshot_cover(const struct rfs_snapshot_info *info, const char *node);

#endif
