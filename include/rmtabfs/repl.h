/*
 * Replication as the mount side sees it: a supervised store side process (rmtabfs-store,
 * include/rmtabfs/sloop.h) that ships, tails and compacts, linked by a socketpair
 * (include/rmtabfs/link.h). This module starts it, answers its record-set requests on a
 * link thread, replaces it at once when it exits, crashes or stops answering for timeout=
 * (with backoff when it keeps dying quickly), and keeps what it last reported for status.
 * FUSE requests never wait for it, except with sync=store, and then at most timeout.
 */
#ifndef RMTABFS_REPL_H
#define RMTABFS_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/link.h>

struct rfs_repl;
struct rfs_core;
struct rfs_options;

/*
 * Starts the link thread, which starts the store side; the store is reached in the
 * background. The store side's executable: $RMTABFS_STORE_EXE, else rmtabfs-store beside
 * this executable, else the installed one (RFS_STORE_EXE).
 */
struct rfs_repl *rfs_repl_start(struct rfs_core *core, const struct rfs_options *opts);
/*
 * Waits until the store side's first attempt to reach the store has ended or timeout
 * seconds passed. Returns the state then; with REFUSED, msg says who holds the node id.
 */
enum rfs_repl_state rfs_repl_wait_first(struct rfs_repl *r, double timeout, char *msg,
					size_t msglen);
/* Something to ship, or a reason to look at the other logs now. Never blocks. */
void rfs_repl_wake(struct rfs_repl *r);
/* sync=store: returns once the store has every op up to seq, or after the timeout. */
void rfs_repl_wait_shipped(struct rfs_repl *r, uint64_t seq);
/* Asks for a stop: waiters (rmtabctl compact, sync=store) return. */
void rfs_repl_request_stop(struct rfs_repl *r);
/*
 * Stops: the store side ships and confirms what is left for at most min(timeout=, 0.5 s),
 * then exits (or is killed); a last checkpoint is written. Always returns 0 (the -EBUSY of
 * a hung store call is gone with the store side's own process).
 */
int rfs_repl_stop(struct rfs_repl *r);
/* Writes a store snapshot now (rmtabctl compact); msg says what happened. 0 or -errno. */
int rfs_repl_compact(struct rfs_repl *r, char *msg, size_t msglen);
/* "key: value" lines for rmtabctl status. */
int rfs_repl_status(struct rfs_repl *r, struct rfs_buf *out);

#endif
