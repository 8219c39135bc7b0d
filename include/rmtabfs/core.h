/*
 * The record set as the daemon holds it: the table, its snapshots, the local journal, the
 * state directory and its checkpoint (fs/core.c). The commit path is in commit.h, what the
 * store side asks for in follow.h.
 */
#ifndef RMTABFS_CORE_H
#define RMTABFS_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rmtabfs/checkpoint.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/record.h>
#include <rmtabfs/table.h>

/*
 * The table rendered at one generation; immutable once made, shared by every reader of
 * that generation, freed with its last reference.
 */
struct rfs_snap {
	atomic_int refs;
	uint64_t gen;
	int64_t mtime; /* as reported for this content */
	size_t len;
	char *text; /* rmtab format */
	pthread_mutex_t lazy_lock;
	char *gnfs; /* gNFS format, made on first use */
	size_t gnfs_len;
	struct rfs_entries *folded; /* sorted (client, path) -> count, made on first use */
};

struct rfs_snap *rfs_snap_get(struct rfs_snap *s);
/* A snapshot of this rmtab text (a handover restores handles' snapshots); one reference. */
struct rfs_snap *rfs_snap_new(uint64_t gen, int64_t mtime, const char *text, size_t len);
void rfs_snap_put(struct rfs_snap *s);
/* How many snapshots this process holds, and the bytes of their text. */
void rfs_snap_counts(size_t *n, size_t *bytes);
/* The gNFS rendering of the same records; NULL on ENOMEM. */
const char *rfs_snap_gnfs(struct rfs_snap *s, size_t *len);
/* Entries sorted by key; NULL on ENOMEM. */
const struct rfs_entries *rfs_snap_folded(struct rfs_snap *s);

/* What a write session started from: a snapshot, or a text it committed itself. */
struct rfs_base {
	struct rfs_snap *snap; /* set: the base is this snapshot */
	char *text;	       /* otherwise: private copy of committed content */
	size_t len;
	struct rfs_entries *folded; /* index of text, made on first use */
};

void rfs_base_set_snap(struct rfs_base *b, struct rfs_snap *s);
/* Takes a copy of text. Returns 0 or -ENOMEM (the base is then unchanged). */
int rfs_base_set_text(struct rfs_base *b, const char *text, size_t len);
void rfs_base_clear(struct rfs_base *b);

enum rfs_format {
	RFS_FMT_RMTAB,
	RFS_FMT_GNFS,
};

struct rfs_core_stats {
	uint64_t commits;
	uint64_t ops_local;
	uint64_t ops_remote;
	uint64_t refused; /* write sessions refused for bad content */
};

struct rfs_core {
	/*
	 * Lock order: commit_lock, then checkpoint_lock, then table_lock. Never held across a
	 * store call.
	 */
	pthread_mutex_t commit_lock; /* serialises local commits and journal appends/resets */
	pthread_mutex_t table_lock;  /* table, cur, stats, imported */
	struct rfs_table table;
	struct rfs_snap *cur; /* snapshot of table.gen, or NULL until someone asks */
	struct rfs_journal journal;
	struct rfs_core_stats stats;
	int statedir_fd;
	int lock_fd;
	int shipped_fd; /* statedir/shipped */
	bool imported;
	struct rfs_incarnation inc;	 /* under commit_lock */
	pthread_mutex_t checkpoint_lock; /* serialises checkpoint writes (leaf after table_lock) */
	uint64_t checkpoint_gen;	 /* table.gen at the last checkpoint */
	struct rfs_checkpoint_info loaded;
	/* Called after every change of the table, outside the locks. */
	void (*on_change)(void *ctx, bool local);
	void *on_change_ctx;
	/* With sync=store: wait until the store has everything up to seq (bounded). */
	void (*wait_shipped)(void *ctx, uint64_t seq);
	void *wait_shipped_ctx;
};

/*
 * Opens the state directory (creating it), takes its lock (one daemon per directory),
 * loads the checkpoint and replays the journal. Returns 0, or -errno with a log line.
 */
int rfs_core_open(struct rfs_core *c, const char *statedir, const char *node);
/* Gives the state directory's lock up for a handover, or takes it back: 0 or -errno. */
int rfs_core_statedir_lock(struct rfs_core *c, bool take);
void rfs_core_close(struct rfs_core *c);

/*
 * First start over an existing directory: the records of the underlying rmtab (and gNFS
 * file, if named) become records once, so mounting loses nothing a running system knew.
 * Lines that do not parse are logged and skipped. The files are left as they were.
 */
int rfs_core_import(struct rfs_core *c, int dirfd, const char *gnfs_name);

/* The snapshot of the current generation (a new reference). NULL on ENOMEM. */
struct rfs_snap *rfs_core_snap(struct rfs_core *c);
/* Current size and mtime of a view, as getattr reports them. */
void rfs_core_view_attr(struct rfs_core *c, enum rfs_format fmt, size_t *size, int64_t *mtime);
/* The same with the table generation they belong to (its snapshot has that size). */
uint64_t rfs_core_view_gen(struct rfs_core *c, enum rfs_format fmt, size_t *size, int64_t *mtime);

/* Live records now (the store side may change the table meanwhile). */
size_t rfs_core_nlive(struct rfs_core *c);

/*
 * The highest sequence number known on the store, kept in statedir/shipped (not synced: a
 * stale value only makes the next start ship a few ops again).
 */
void rfs_core_note_shipped(struct rfs_core *c, uint64_t seq);
uint64_t rfs_core_shipped(struct rfs_core *c);

/* The bound on other nodes' stamps moving this node's clock (table.h), in seconds. */
void rfs_core_set_max_skew(struct rfs_core *c, double secs);

/* Writes the checkpoint if the table changed since the last one (or if force). */
int rfs_core_checkpoint(struct rfs_core *c, const struct rfs_peer_pos *peers, size_t npeers,
			bool force);

/*
 * The rest of the record set's interface, one header per concern: the commit path
 * (fs/commit.c) and what the store side asks for (fs/follow.c).
 */
#include <rmtabfs/commit.h>
#include <rmtabfs/follow.h>

#endif
