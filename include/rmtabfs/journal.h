/*
 * The local journal (statedir/journal): every op this node originated, in sequence order,
 * one op line each. With durability=fsync (default) an op is acknowledged only after its line
 * is written and fdatasync'ed, so after a crash the journal holds every acknowledged op; with
 * durability=batch:MS a line is fdatasync'ed within MS by a timer (kill -9 loses nothing, the
 * page cache keeps it; a power cut may lose the last MS).
 *
 * Layout: op lines from byte 0, then zeros to the end of the file. The file is preallocated in
 * zero-filled segments and overwritten in place, so the fdatasync after a commit writes data
 * blocks only, never a size or extent change. A journal of an earlier version (no zeros after
 * the lines) reads the same and is extended at open. The end of the journal is the end of the
 * last complete op line: zeros after it are free space, not damage; a torn line there (a line
 * without its newline, or bytes up to the last nonzero one that are no op) was never
 * acknowledged and is zeroed at open.
 *
 * Group commit: rfs_journal_write() (under the caller's commit lock) puts the lines in place
 * and returns a position; rfs_journal_sync() (under no lock) waits until a sync covers that
 * position: the first waiter syncs everything written so far, the others wait for it, so
 * concurrent committers share one fdatasync.
 */
#ifndef RMTABFS_JOURNAL_H
#define RMTABFS_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rmtabfs/oplog.h>

/* The journal grows by this much at a time, zero-filled and synced once. */
#define RFS_JOURNAL_SEGMENT (256u << 10)
/* Longest durability=batch:MS. */
#define RFS_JOURNAL_BATCH_MAX_MS 60000u

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
	/*
	 * What may be read and shipped: complete lines up to size, changed only under the
	 * caller's commit lock (rfs_journal_write, _publish, _reset, _replace). With fsync
	 * the synced lines, with batch every written line.
	 */
	off_t size;
	uint64_t last_seq; /* highest sequence number below size, 0 if none */
	uint64_t ops;	   /* ops below size */
	/* A run with durability=batch on another boot did not stop cleanly: its last
	 * changes may be missing here while the store has them. Set by open. */
	bool unclean_batch;

	/* The rest is journal.c's, under mu (a leaf lock). */
	pthread_mutex_t mu;
	pthread_cond_t synced; /* slsn moved or a sync ended */
	pthread_cond_t wake;   /* the batch timer has work or must stop */
	bool mu_init;
	int dirfd;
	off_t alloc;	     /* file size: lines, then zeros */
	off_t wend;	     /* end of the written lines */
	uint64_t wseq, wops; /* last seq and ops below wend */
	uint64_t wlsn;	     /* bytes ever written (never goes back) */
	uint64_t slsn;	     /* of which on disk */
	off_t send;	     /* wend at the last sync */
	uint64_t sseq, sops; /* wseq, wops at the last sync */
	bool syncing;	     /* a sync (or a reset/replace) is running */
	int err;	     /* a failed sync: every later write refuses */
	uint64_t syncs;	     /* fdatasyncs of commits (statistics) */
	unsigned batch_ms;   /* 0: durability=fsync */
	bool marked;	     /* journal.batch is on disk for this boot */
	bool timer_on, stop;
	bool due;		  /* deadline is set */
	struct timespec deadline; /* CLOCK_MONOTONIC */
	pthread_t timer;
};

/*
 * Opens (creating) dirfd/journal, replays every op through fn, zeroes a torn tail and
 * preallocates. Fails with -EINVAL if an op belongs to another node than self (the state
 * directory is someone else's).
 */
int rfs_journal_open(struct rfs_journal *j, int dirfd, const char *self, rfs_op_fn fn, void *ctx);
/*
 * durability=batch:ms (0: fsync, the default). Before the first write; starts the timer that
 * syncs what is written within ms.
 */
int rfs_journal_set_batch(struct rfs_journal *j, unsigned ms);
/*
 * Puts whole lines after the last ones (growing the file by a segment when needed), without
 * waiting for the disk; *lsn is what rfs_journal_sync() waits for. Caller's commit lock held.
 * On failure the file is as it was and nothing is counted. With batch the lines are
 * published (size) at once.
 */
int rfs_journal_write(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		      uint64_t nops, uint64_t *lsn);
/*
 * Waits until everything up to lsn is on disk, syncing itself if no one else is (group
 * commit). No caller lock needed (none may be held that a sync should not block). 0, or the
 * -errno of a failed sync (then every later write fails too: the kernel may have dropped
 * the pages, so what is on disk is known only at the next open).
 */
int rfs_journal_sync(struct rfs_journal *j, uint64_t lsn);
/* What an acknowledgment waits for: rfs_journal_sync with fsync, nothing with batch. */
int rfs_journal_wait(struct rfs_journal *j, uint64_t lsn);
/* Bytes ever written (for a sync of everything so far). */
uint64_t rfs_journal_lsn(struct rfs_journal *j);
/* Moves size/last_seq/ops up to what may be shipped. Caller's commit lock held. */
void rfs_journal_publish(struct rfs_journal *j);
/* Write, sync and publish in one (caller's commit lock held throughout). */
int rfs_journal_append(struct rfs_journal *j, const void *lines, size_t len, uint64_t last_seq,
		       uint64_t nops);
/*
 * Syncs and publishes everything written and marks the journal clean (a batch run that
 * ends here lost nothing). Caller's commit lock held.
 */
int rfs_journal_clean(struct rfs_journal *j);
/* Reads from a byte offset (for shipping to the store); returns bytes read or -errno. */
ssize_t rfs_journal_read(struct rfs_journal *j, off_t off, void *buf, size_t len);
/*
 * The end of the written lines (size plus what is written but not yet synced with fsync).
 * Caller's commit lock held (it is stable then).
 */
off_t rfs_journal_end(struct rfs_journal *j);
/*
 * Empties the journal once every op in it is both on the store and in a checkpoint; -EBUSY
 * while lines are written but not yet published. Caller's commit lock held.
 */
int rfs_journal_reset(struct rfs_journal *j);
/*
 * Replaces the content with text (complete lines: last_seq, nops), atomically on disk, after
 * syncing what was there. Caller's commit lock held.
 */
int rfs_journal_replace(struct rfs_journal *j, const char *text, size_t len, uint64_t last_seq,
			uint64_t nops);
/* fdatasyncs of commits so far. */
uint64_t rfs_journal_syncs(struct rfs_journal *j);
/* Stops the timer, syncs what is written, marks clean and closes. */
void rfs_journal_close(struct rfs_journal *j);

#endif
