/*
 * The record set as the store side sees it: everything replication needs from the table,
 * the journal and the checkpoint, as functions. The store side never sees the core's locks;
 * each function takes what it needs and returns. Two implementations with one interface:
 * fs/recset.c calls the core in this process (the mount side answers the store side's
 * requests with it), fs/store/rsclient.c turns each call into a request over the socket
 * to the mount side (the store process).
 */
#ifndef RMTABFS_RECSET_H
#define RMTABFS_RECSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/checkpoint.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/snapshot.h>

struct rfs_rs;
struct rfs_core;

/* The record set of core, called in this process. NULL on ENOMEM. */
struct rfs_rs *rfs_rs_local(struct rfs_core *core);
void rfs_rs_free(struct rfs_rs *rs);

/*
 * The store side's record set: each call is a request over the link on fd (link.h),
 * answered by the mount side. A lost link ends the process (the mount side starts a new
 * store side), so the calls never report it.
 */
struct rfs_rs *rfs_rs_remote(int fd);
/* Sends one or more whole frames (for the store side's own messages). 0 or -errno. */
int rfs_rs_send(struct rfs_rs *rs, const char *frames, size_t len);
/* The reader of the link hands over an answer to the request with this id. */
void rfs_rs_deliver(struct rfs_rs *rs, uint64_t id, const char *payload, size_t len);

/* The last sequence number this node issued. */
uint64_t rfs_rs_self_seq(struct rfs_rs *rs);
/* The highest sequence number applied from node (0: none). */
uint64_t rfs_rs_node_applied(struct rfs_rs *rs, const char *node);
/*
 * The store holds ops of ours up to last: behind = the table lacks some of them; fresh =
 * the state holds nothing at all (no record, no peer position): a new node or a lost state.
 */
void rfs_rs_behind(struct rfs_rs *rs, uint64_t last, bool *behind, bool *fresh);
/* The store has our ops up to last: later local ops are numbered above it. */
void rfs_rs_raise_self_seq(struct rfs_rs *rs, uint64_t last);
/* The journal's size in bytes and the sequence number of its last op, read together. */
void rfs_rs_journal_pos(struct rfs_rs *rs, uint64_t *size, uint64_t *last_seq);
/* Reads journal bytes from off: count, 0 at the end, or -errno. */
ssize_t rfs_rs_journal_read(struct rfs_rs *rs, uint64_t off, char *buf, size_t len);
/* rfs_core_apply_remote(): bytes consumed or -errno; *damaged as there. */
long rfs_rs_apply_remote(struct rfs_rs *rs, const char *node, const char *buf, size_t len,
			 uint64_t skip_seq, bool *damaged);
/* rfs_core_adopt() from a snapshot's text (parsed here again) and our own log's tail. */
int rfs_rs_adopt(struct rfs_rs *rs, const char *snap, size_t snap_len, const char *own,
		 size_t own_len);
void rfs_rs_note_shipped(struct rfs_rs *rs, uint64_t seq);
uint64_t rfs_rs_shipped(struct rfs_rs *rs);
int rfs_rs_incarnation(struct rfs_rs *rs, struct rfs_incarnation *inc);
int rfs_rs_renumber(struct rfs_rs *rs, uint64_t store_last);
int rfs_rs_anchor(struct rfs_rs *rs);
/* A checkpoint with these log positions (if the table changed, or if force). */
int rfs_rs_checkpoint(struct rfs_rs *rs, const struct rfs_peer_pos *pos, size_t n, bool force);
/*
 * Empties the journal if the store has every op in it (shipped, checked under the commit
 * lock) and a checkpoint with these positions is written first: 1 if emptied, 0 if not.
 */
int rfs_rs_reset_journal(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			 size_t n);
/* Forgets removals older than horizon (ns), as a snapshot did. */
void rfs_rs_drop_tombstones(struct rfs_rs *rs, uint64_t horizon);
/* About what a snapshot of the table would take, for the compaction trigger. */
uint64_t rfs_rs_table_bytes(struct rfs_rs *rs);
/*
 * The log positions to go on reading from (malloc'ed): those of the last checkpoint written
 * through this record set, else those the state directory held at start.
 */
int rfs_rs_loaded_peers(struct rfs_rs *rs, struct rfs_peer_pos **pos, size_t *n);

/*
 * Encodes snapshot gen of the table into out, if it holds exactly the ops up to the given
 * log positions: pos names every node's log read (ours too: its seg/offset are where our
 * log ends), shipped must equal our last issued sequence (checked under the commit lock),
 * and no node may be covered less than in prev. Returns 0, 1 with msg saying why not now,
 * or -errno.
 */
int rfs_rs_snapshot_encode(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			   size_t n, const struct rfs_cover *prev, size_t nprev, uint64_t gen,
			   uint64_t horizon, struct rfs_buf *out, char *msg, size_t msglen);

/*
 * Mount side: answers one request frame of the store side (type, payload) by calling the
 * local record set rs; the answer's payload (its rc first) is appended to out. 0, or
 * -EPROTO for a request that does not parse, -ENOMEM.
 */
int rfs_rs_serve(struct rfs_rs *rs, uint32_t type, const char *payload, size_t len,
		 struct rfs_buf *out);

#endif
