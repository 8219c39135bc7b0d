/*
 * Incarnations of a node id's sequence numbers (DESIGN §9 "sequence numbers never repeat").
 *
 * A state directory whose last sequence number is not known for certain (new, lost, or its
 * checkpoint gone) starts a new incarnation: its sequence numbers begin above a floor taken
 * from the real-time clock in nanoseconds. Issuing one op takes far longer than a
 * nanosecond (it is encoded, journaled and written), so no earlier incarnation of the
 * node id can have reached the clock's value at our start, unless the clock was set back
 * across the loss. That case is caught when the store answers: until an incarnation is
 * "anchored" (the store was seen to hold nothing of ours above the floor), nothing of it
 * is shipped; if the store does hold more, the floor moves above the store's last op and
 * the journal's ops are renumbered before anything is shipped.
 *
 * The op-line format does not change: a sequence number is just larger. State directories
 * of earlier versions (a checkpoint but no incarnation file) keep their numbering (floor 0,
 * anchored), and stores need no upgrade.
 */
#ifndef RMTABFS_INCARNATION_H
#define RMTABFS_INCARNATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/buf.h>

struct rfs_incarnation {
	uint64_t floor; /* this incarnation's ops have sequence numbers above it */
	bool anchored;	/* the store was checked: it holds nothing of ours above floor */
};

/* The file's text ("rmtabfs-incarnation 1\nfloor N\nanchored 0|1\n"). */
int rfs_incarnation_encode(struct rfs_buf *out, const struct rfs_incarnation *inc);
/* 0, or -EBADMSG if the text is not a complete incarnation file. */
int rfs_incarnation_parse(const char *text, size_t len, struct rfs_incarnation *inc);

/*
 * The floor of a new incarnation: above the clock (ns), above every sequence number known
 * (known: the state directory's or the store's highest), never 0.
 */
uint64_t rfs_incarnation_floor(uint64_t now_ns, uint64_t known);

/*
 * Does the store's highest op of this node (store_last) collide with an incarnation that has
 * not been anchored yet? Then it must be renumbered before shipping.
 */
bool rfs_incarnation_conflict(const struct rfs_incarnation *inc, uint64_t store_last);

/*
 * Rewrites complete op lines with sequence numbers first+1, first+2, ... in their order
 * (every other field and the checksum as they belong). Returns the number of ops written to
 * out, or -errno; damaged lines are dropped (the journal's replay reported them already).
 */
long rfs_ops_renumber(const char *in, size_t len, uint64_t first, struct rfs_buf *out);

/* dirfd/incarnation: load (-ENOENT if absent, -EBADMSG if damaged), store durably. */
int rfs_incarnation_load(int dirfd, struct rfs_incarnation *inc);
int rfs_incarnation_store(int dirfd, const struct rfs_incarnation *inc);

#endif
