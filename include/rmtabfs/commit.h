/*
 * The record set's commit path (fs/commit.c): a write session's content, one record or a
 * batch of them become ops of this node, journaled, applied and acknowledged once synced
 * (durability). The record set itself is in core.h.
 */
#ifndef RMTABFS_COMMIT_H
#define RMTABFS_COMMIT_H

#include <rmtabfs/core.h>

/* durability=batch:batch_ms (0: fsync), before the first commit. 0 or -errno. */
int rfs_core_set_durability(struct rfs_core *c, unsigned batch_ms);
/* Syncs the journal (a clean stop with batch: everything acknowledged on disk). */
int rfs_core_flush(struct rfs_core *c);

/*
 * Commits a write session: the difference between base and text becomes ops, journaled
 * and applied. Returns 0 (also when nothing changed), -EINVAL for bad content (err says
 * which line and why; nothing changed), -ENOSPC for the record limit or a full disk, -EIO.
 * who names the writer in log lines.
 */
int rfs_core_commit(struct rfs_core *c, enum rfs_format fmt, struct rfs_base *base,
		    const char *text, size_t len, const char *who, struct rfs_parse_error *err);

/* Sets one record's count (0 removes) as this node; for the control interface. */
int rfs_core_set(struct rfs_core *c, const char *client, const char *path, uint32_t count,
		 bool at_least);

/*
 * Sets many records at once as one commit (rmtabctl import, remove, prune): one journal
 * append and one fdatasync for the whole batch, all or nothing. Each entry's count is the
 * target (0 removes); RFS_ENTRY_AT_LEAST in its flags keeps a higher count. Keys must be
 * checked (rfs_key_check) and unique. Returns 0, -ENOSPC (record limit or full disk; nothing
 * changed), -EIO, -ENOMEM.
 */
int rfs_core_set_many(struct rfs_core *c, struct rfs_entries *changes, const char *who);

#endif
