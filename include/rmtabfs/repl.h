/*
 * Replication: the one thread that talks to the store. It ships this node's journal to
 * nodes/NODE.log, tails every other node's log into the table, keeps the owner lock, writes
 * checkpoints and empties the journal when the store and a checkpoint hold everything.
 * FUSE requests never wait for it, except with sync=store, and then at most timeout.
 */
#ifndef RMTABFS_REPL_H
#define RMTABFS_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/core.h>
#include <rmtabfs/options.h>

struct rfs_repl;

enum rfs_repl_state {
	RFS_REPL_CONNECTING,
	RFS_REPL_UP,
	RFS_REPL_DOWN,
	RFS_REPL_REFUSED, /* another daemon holds this node id on the store */
};

const char *rfs_repl_state_name(enum rfs_repl_state s);

/* Starts the thread; the store is reached in the background. */
struct rfs_repl *rfs_repl_start(struct rfs_core *core, const struct rfs_options *opts);
/*
 * Waits until the first attempt to reach the store has ended or timeout seconds passed.
 * Returns the state then; with REFUSED, msg says who holds the node id.
 */
enum rfs_repl_state rfs_repl_wait_first(struct rfs_repl *r, double timeout, char *msg,
					size_t msglen);
/* Something to ship, or a reason to look at the other logs now. */
void rfs_repl_wake(struct rfs_repl *r);
/* sync=store: returns once the store has every op up to seq, or after the timeout. */
void rfs_repl_wait_shipped(struct rfs_repl *r, uint64_t seq);
/* Asks the thread to stop: its long loops end and waiters (rmtabctl compact) return. */
void rfs_repl_request_stop(struct rfs_repl *r);
/*
 * Stops the thread: it ships and confirms what is left for at most min(timeout=, 0.5 s),
 * the log names what stays behind, and a last checkpoint is written. Returns 0 once the
 * thread is joined and everything freed, or -EBUSY when a store call hangs: the thread is
 * left running and nothing is freed, so the caller must end the process (_exit) without
 * freeing what the thread uses (the core, the notifier).
 */
int rfs_repl_stop(struct rfs_repl *r);
/* Writes a store snapshot now (rmtabctl compact); msg says what happened. 0 or -errno. */
int rfs_repl_compact(struct rfs_repl *r, char *msg, size_t msglen);
/* "key: value" lines for rmtabctl status. */
int rfs_repl_status(struct rfs_repl *r, struct rfs_buf *out);

#endif
