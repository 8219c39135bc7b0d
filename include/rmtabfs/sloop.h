/*
 * The replication loop of the store side (rmtabfs-store, fs/store/): the one thread that
 * talks to the store. It ships this node's journal to nodes/NODE.log, tails every other
 * node's log into the record set, keeps the owner lock, writes checkpoints and empties the
 * journal when the store and a checkpoint hold everything. The record set is reached only
 * through include/rmtabfs/recset.h (requests to the mount side).
 */
#ifndef RMTABFS_SLOOP_H
#define RMTABFS_SLOOP_H

#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/store.h>
#include <rmtabfs/recset.h>

struct rfs_sloop;

/* What the store side is told by the mount side's options (include/rmtabfs/options.h). */
struct rfs_sloop_opts {
	const char *node;
	const char *store; /* spec as given */
	const char *statedir;
	struct rfs_store_spec spec;
	double timeout;	   /* seconds a store call may take before it counts as hung */
	double poll;	   /* seconds between checks of other nodes' logs */
	double tombstones; /* seconds a removal is kept in store snapshots at least */
	bool sync_store;   /* sync=store: confirm every ship at once */
	bool watch;	   /* use the store's wake-up hint (watch=on) */
};

/* The store side's exit status after a failed connect (the mount side names it so). */
#define RFS_STORE_EXIT_CONNECT 4
/* ... and after losing the link to the mount side. */
#define RFS_STORE_EXIT_LINK 3

/*
 * Starts the thread; the store is reached in the background. initial: the state the mount
 * side showed before this process (a change from it is logged, a repeat is not). on_round
 * is called (outside every lock) after each round of work: the state to report may have
 * changed.
 */
struct rfs_sloop *rfs_sloop_start(struct rfs_rs *rs, const struct rfs_sloop_opts *opts,
				  enum rfs_repl_state initial,
				  void (*on_round)(struct rfs_sloop *r, void *ctx), void *ctx);
/* Something to ship, or a reason to look at the other logs now. */
void rfs_sloop_wake(struct rfs_sloop *r);
/* Asks the thread to stop: its long loops end and rfs_sloop_compact() returns. */
void rfs_sloop_request_stop(struct rfs_sloop *r);
/*
 * Stops the thread: it ships and confirms what is left for at most min(timeout=, 0.5 s),
 * the log names what stays behind, and a last checkpoint is written. Returns 0, or -EBUSY
 * when a store call hangs. Either way nothing is freed: the caller ends the process.
 */
int rfs_sloop_stop(struct rfs_sloop *r);
/* Writes a store snapshot now (rmtabctl compact); msg says what happened. 0 or -errno. */
int rfs_sloop_compact(struct rfs_sloop *r, char *msg, size_t msglen);
/*
 * Has the store call running now taken longer than timeout seconds (a connect: longer than
 * 20 s or timeout)? Then pings go unanswered and the mount side replaces this process.
 */
bool rfs_sloop_hung(struct rfs_sloop *r, double timeout);
/*
 * The state the mount side shows (a STATE frame's payload, link.h): state, since (ns of
 * CLOCK_MONOTONIC), shipped seq, shipped ops, newest snapshot, our log segment, last error,
 * refusal, then per peer: node, segment, offset, size, damaged.
 */
int rfs_sloop_state(struct rfs_sloop *r, struct rfs_buf *out);

#endif
