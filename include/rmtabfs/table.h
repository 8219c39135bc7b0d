/*
 * The record table: the folded state of every op this node has seen.
 *
 * key (client, path) -> count, first-seen (born) time and node, time and node of the last
 * change. Ops are applied last-writer-wins by (time, node id), so they commute and are
 * idempotent: any two tables that applied the same set of ops are equal. Removals stay as
 * tombstones (count 0) so that an older op arriving later cannot resurrect a record.
 * Not thread-safe: the owner serialises access.
 */
#ifndef RMTABFS_TABLE_H
#define RMTABFS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/oplog.h>
#include <rmtabfs/record.h>

struct rfs_node {
	struct rfs_node *next;
	uint64_t applied_seq;  /* highest sequence number applied from this node */
	uint64_t applied_time; /* the time of that op */
	/*
	 * Clock skew seen in this node's ops: the last op stamped more than max_skew_ns past
	 * our clock (not a follow-up on a record already stamped ahead) was ahead_ns ahead,
	 * seen at our clock's ahead_at (0: never). ahead_new: first sight since a quiet
	 * period, for the caller to log.
	 */
	int64_t ahead_ns;
	uint64_t ahead_at;
	bool ahead_new;
	char name[RFS_NODE_MAX + 1];
};

struct rfs_record {
	struct rfs_record *hnext;	/* hash chain */
	struct rfs_record *prev, *next; /* first-seen order; live records only */
	uint64_t time;			/* time of the winning op */
	uint64_t born;
	const struct rfs_node *writer; /* node of the winning op */
	const struct rfs_node *origin; /* node that created this incarnation */
	uint64_t changed_gen;	       /* table generation of the last change */
	uint64_t prev_gen;	       /* ... of the change before it */
	uint32_t count;		       /* 0: tombstone */
	uint32_t prev_count;
	uint16_t client_len;
	uint16_t path_len;
	char key[]; /* client '\0' path '\0' */
};

static inline const char *rfs_record_client(const struct rfs_record *r)
{
	return r->key;
}

static inline const char *rfs_record_path(const struct rfs_record *r)
{
	return r->key + r->client_len + 1;
}

struct rfs_table {
	struct rfs_record **buckets;
	size_t nbuckets;
	size_t nrecords; /* including tombstones */
	size_t nlive;
	size_t rmtab_bytes; /* size of the rendered rmtab view */
	struct rfs_record *head, *tail;
	struct rfs_node *nodes;
	struct rfs_node *self;
	uint64_t gen; /* bumped on every change of a record */
	uint64_t hlc; /* last hybrid-logical-clock time issued or seen */
	/*
	 * Another node's op stamped more than this past our clock does not move hlc: one node
	 * with a clock ahead must not drag every clock (default RFS_MAX_SKEW_DEFAULT).
	 */
	uint64_t max_skew_ns;
	uint64_t self_seq;	/* last sequence number this node issued */
	int64_t change_sec;	/* wall clock, seconds, of the last change */
	int64_t reported_mtime; /* the mtime rule, see rfs_table_mtime() */
	uint64_t reported_gen;
	/* Clocks, replaceable by tests. */
	uint64_t (*now_ns)(void);
};

#define RFS_COUNT_UNKNOWN    (-1)
#define RFS_MAX_SKEW_DEFAULT 300 /* seconds */
/* A node's skew is news again after this long without sight of it. */
#define RFS_SKEW_QUIET_NS (600ull * 1000000000ull)

int rfs_table_init(struct rfs_table *t, const char *self_node);
void rfs_table_free(struct rfs_table *t);

struct rfs_node *rfs_table_node(struct rfs_table *t, const char *name, bool create);
struct rfs_record *rfs_table_find(const struct rfs_table *t, const char *client, size_t client_len,
				  const char *path, size_t path_len);

/*
 * Applies an op from anywhere. Returns 1 if it changed the table, 0 if not, or -ENOMEM.
 * An op of another node stamped more than max_skew_ns past our clock is applied like any
 * other (every node must reach the same state) but leaves hlc alone and marks its node
 * (ahead_ns, ahead_at), unless it follows a record stamped that far ahead already.
 */
int rfs_table_apply(struct rfs_table *t, const struct rfs_op *op);

/*
 * Prepares the op that sets a key to count on behalf of this node: next HLC time, next
 * sequence number, birth kept while the record stays alive. The op is stamped after the
 * record it replaces even when that record's stamp is ahead of hlc (a skewed node's), so a
 * change always wins over what this node saw; hlc follows such a stamp only within
 * max_skew_ns of our clock (the next change of another key is stamped by our clock again). Returns
 * 1 with *op filled (its strings point at the caller's client/path), or 0 if the table already
 * holds that count. The op is not applied: the caller journals it first, then calls
 * rfs_table_apply().
 */
int rfs_table_prepare_set(struct rfs_table *t, const char *client, size_t client_len,
			  const char *path, size_t path_len, uint32_t count, struct rfs_op *op);

/* Count of a record as it was at generation gen, or RFS_COUNT_UNKNOWN if that is not known. */
int64_t rfs_table_count_at(const struct rfs_record *r, uint64_t gen);

/*
 * Whole-second mtime of the views. After a change it is the time of the change, or one second
 * past the last value reported if that would repeat it; without a change it stays. So a value
 * is never reported for two different contents (rpc.mountd re-reads rmtab only when st_mtime
 * changes), and it runs ahead of the clock only by the number of same-second stat/change
 * alternations.
 */
int64_t rfs_table_mtime(struct rfs_table *t);
/* After a restart: never report a value at or below one reported before it. */
void rfs_table_restore_mtime(struct rfs_table *t, int64_t last_reported);

/* Size of the gNFS rendering, computed without rendering. */
size_t rfs_table_gnfs_bytes(const struct rfs_table *t);

/* Renders the rmtab view (exactly t->rmtab_bytes bytes) or the gNFS view into out. */
int rfs_table_render_rmtab(const struct rfs_table *t, struct rfs_buf *out);
int rfs_table_render_gnfs(const struct rfs_table *t, struct rfs_buf *out);

/* Every record, tombstones included, in hash order. */
#define rfs_table_for_each(t, i, r)                                                                \
	for ((i) = 0; (i) < (t)->nbuckets; (i)++)                                                  \
		for ((r) = (t)->buckets[i]; (r); (r) = (r)->hnext)

/* Builds the op that recreates r exactly (for checkpoints). */
void rfs_record_as_op(const struct rfs_record *r, struct rfs_op *op);

/* The first node newly seen ahead (ahead_new, then cleared): its name and lead, for a log
 * line. False if none. */
bool rfs_table_skew_news(struct rfs_table *t, char *name, size_t len, double *secs);
/* Carries what was seen of other nodes' clocks over to a table that replaces from. */
void rfs_table_keep_skew(struct rfs_table *to, const struct rfs_table *from);

/* Drops tombstones whose removal is older than before_ns. Returns how many. */
size_t rfs_table_drop_tombstones(struct rfs_table *t, uint64_t before_ns);

#endif
