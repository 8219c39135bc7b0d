/*
 * Shared between the record set's own files (core.c, commit.c, follow.c) and nothing else:
 * other modules ask through include/rmtabfs/core.h, commit.h and follow.h.
 */
#ifndef RMTABFS_CORE_INT_H
#define RMTABFS_CORE_INT_H

#include <stdbool.h>

#include <rmtabfs/core.h>

/* The base's entries sorted by key (made on first use); NULL on ENOMEM. */
const struct rfs_entries *rfs_base_folded(struct rfs_base *b, enum rfs_format fmt);
/* Under table_lock: forgets cur once the table moved past it. */
void rfs_core_drop_cur_locked(struct rfs_core *c);
/* An rfs_ops_scan/journal replay callback applying each op to the table ctx. */
int rfs_core_replay_op(void *ctx, const struct rfs_op *op);
/*
 * At open (no thread yet): which incarnation the state directory is in; ck_ok says a
 * checkpoint was loaded and the journal is whole. 0 or -errno with a log line.
 */
int rfs_core_open_incarnation(struct rfs_core *c, const char *statedir, bool ck_ok);

#endif
