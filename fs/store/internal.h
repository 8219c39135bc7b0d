/*
 * The replication code's own state, shared by the files of fs/store/ (not a public header).
 * One thread runs all of it; r->lock guards what status and sync=store waiters read.
 */
#ifndef RMTABFS_STORE_INTERNAL_H
#define RMTABFS_STORE_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/clock.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/snapshot.h>
#include <rmtabfs/log.h>
#include <rmtabfs/recset.h>
#include <rmtabfs/link.h>
#include <rmtabfs/sloop.h>
#include <rmtabfs/store.h>

#define CHUNK		    (1u << 20)
#define JOURNAL_RESET_BYTES (4u << 20)
#define CHECKPOINT_EVERY    5.0
#define LIST_EVERY	    1.0
#define DAMAGE_RETRY	    10.0
#define BACKOFF_MAX	    5.0
#define OWNER_CHECK_EVERY   5.0
#define LATE_WATCH	    120.0
#define LATE_EVERY	    1.0
/* A connect taking longer than this (or timeout=, if longer) counts as hung. */
#define CONNECT_MAX 20.0
/* A clean stop ships what is left for at most min(timeout=, this), then gives up on a hung
 * call after ABORT_GRACE more: stop stays under a second in every state. */
#define FINAL_SHIP_MAX 0.5
#define ABORT_GRACE    0.2
/* A store call running this long at stop is taken as hung: no last ship is tried. */
#define HUNG_AT_STOP 0.3
/* With sync=local, ops written to our log are fsync'ed (and only then confirmed) at most
 * this long after the first unsynced one: one sync for a burst instead of one per MOUNT. */
#define SHIP_SYNC_DELAY 0.05
/* With sync=local, a write to our log at most every SHIP_BATCH_DELAY: a burst of MOUNTs becomes
 * a few writes instead of one store round trip (three bricks' work) each. The first op after a
 * quiet spell goes at once. */
#define SHIP_BATCH_DELAY 0.02
/* Compaction: when the logs grew by more than this many times the table since the last
 * snapshot (and at least RFS_COMPACT_MIN_BYTES). */
#define RFS_COMPACT_RATIO     4
#define RFS_COMPACT_MIN_BYTES (1u << 20)

struct peer {
	char node[RFS_NODE_MAX + 1];
	struct rfs_sfile *f;	   /* segment seg, open */
	uint32_t seg;		   /* log segment being read */
	uint64_t offset;	   /* bytes of it applied */
	uint64_t skip;		   /* its ops up to here are in an adopted snapshot */
	uint64_t size;		   /* size of segment seg last seen */
	uint32_t min_seg, max_seg; /* segments present at the last listing */
	bool listed;
	uint64_t damaged_at;
	double damaged_retry;
	/* The segment it went on from, the size read of it, until when to look again (tail.c). */
	uint32_t late_seg;
	uint64_t late_size;
	double late_until, late_next;
};

struct rfs_sloop {
	struct rfs_rs *rs; /* the record set, asked through functions only */
	const struct rfs_sloop_opts *opts;
	void (*on_round)(struct rfs_sloop *r,
			 void *ctx); /* after each round, outside the lock: state to push */
	void *on_round_ctx;
	struct rfs_store store;
	char url[PATH_MAX + 64];
	pthread_t thread;
	bool thread_started;

	/* Wakes the thread without a lock (the link's WAKE frames, stop). */
	int wake_fd;	       /* eventfd */
	_Atomic bool halting;  /* stop requested: leave long loops, make the last ship */
	_Atomic bool aborting; /* stop now: not even the last ship (a store call hangs) */
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t event;  /* wakes waiters: compaction done, thread done */
	bool stop;
	bool done;	     /* the thread has returned (or never ran) */
	bool connected;	     /* backend connected (a glfs_t exists) */
	bool connect_failed; /* the process ends after this round */
	bool prepared;	     /* files open, owner lock held */
	enum rfs_repl_state state;
	double state_since;
	char last_error[256];
	char refused_msg[256];
	uint64_t shipped_seq;  /* confirmed: written to our log and fsync'ed */
	uint64_t written_seq;  /* written to our log, maybe not yet fsync'ed */
	uint64_t ship_off;     /* journal offset of the first op not yet written to the store */
	double unsynced_since; /* when the oldest unconfirmed write was made, 0: none */
	uint32_t own_seg;      /* the segment of our log we append to */
	uint32_t own_min_seg;
	uint64_t own_size;
	struct rfs_sfile *own_log;
	struct rfs_sfile *owner;
	struct peer *peers;
	size_t npeers;
	_Atomic int64_t call_started_ns; /* 0 when no store call is running */
	_Atomic bool connecting;	 /* that call is the connect */
	double last_list;
	double last_checkpoint;
	double last_owner_check;
	double last_ship; /* when st_ship() last wrote to the store */
	/* compaction */
	uint64_t snap_newest;	   /* highest snapshot generation listed */
	uint64_t snap_seen;	   /* highest one acted on (rotation of our log) */
	bool started;		   /* the store was prepared once in this process */
	bool need_adopt;	   /* a log we read lost segments: start from the snapshot */
	uint64_t adopted_gen;	   /* the snapshot we last started from */
	uint64_t bytes_since_snap; /* log bytes written or read since the newest snapshot */
	bool compact_requested;	   /* rmtabctl compact */
	int compact_result;	   /* of the last requested attempt, 1 while pending */
	char compact_msg[200];
	const char *crash_at;	      /* tests: die at this step (RMTABFS_TEST_CRASH) */
	_Atomic uint64_t shipped_ops; /* read by the state push on another thread */
	uint64_t shipped_batches;
};

/* Store calls are bracketed so that status can tell a hung call. */
static inline void st_call_begin(struct rfs_sloop *r)
{
	atomic_store(&r->call_started_ns, rfs_mono_ns());
}

static inline void st_call_end(struct rfs_sloop *r)
{
	atomic_store(&r->call_started_ns, 0);
}

/* Stop was requested: long loops (catch-up, tailing, compaction, adoption) end early. */
static inline bool st_stopping(struct rfs_sloop *r)
{
	return atomic_load(&r->halting);
}

/* Not even the last ship: the stop path gave up waiting. */
static inline bool st_aborting(struct rfs_sloop *r)
{
	return atomic_load(&r->aborting);
}

/* loop.c: the state machine */
void st_wake_thread(struct rfs_sloop *r);
void st_set_state(struct rfs_sloop *r, enum rfs_repl_state s, int err);

/* prepare.c: reaching the store, the owner lock, anchoring */
void st_close_files(struct rfs_sloop *r);
void st_describe_holder(struct rfs_sloop *r, const char *rel);
int st_prepare(struct rfs_sloop *r);
int st_read_back(struct rfs_sloop *r, const struct rfs_incarnation *inc);
int st_catch_up_own(struct rfs_sloop *r, uint64_t last);
int st_check_owner(struct rfs_sloop *r);

/* ship.c: shipping our journal, checkpoints */
uint64_t st_backlog_locked(struct rfs_sloop *r);
int st_ship(struct rfs_sloop *r);
int st_confirm(struct rfs_sloop *r);
uint64_t st_backlog(struct rfs_sloop *r);
uint64_t st_shipped_seq(struct rfs_sloop *r);
int st_own_positions(struct rfs_sloop *r, struct rfs_peer_pos *pos);
struct rfs_peer_pos *st_peer_positions(struct rfs_sloop *r, size_t *n);
int st_checkpoint_now(struct rfs_sloop *r);
void st_checkpoint(struct rfs_sloop *r, bool force);
void st_maybe_reset_journal(struct rfs_sloop *r);
bool st_unshipped(struct rfs_sloop *r);
void st_final_ship(struct rfs_sloop *r);

/* tail.c: reading the other nodes' logs */
struct peer *st_peer_get(struct rfs_sloop *r, const char *node);
int st_list_store(struct rfs_sloop *r);
int st_list_one(void *ctx, const char *name);
int st_tail_peers(struct rfs_sloop *r);

/* compact.c: snapshots, rotation, adoption */
int st_rotate_own(struct rfs_sloop *r);
bool st_compaction_due(struct rfs_sloop *r);
int st_drop_own_tmp(void *ctx, const char *name);
int st_compact(struct rfs_sloop *r, char *msg, size_t msglen);
int st_adopt(struct rfs_sloop *r);
int st_snapshots(struct rfs_sloop *r);

/* layout.c: store names and segment helpers */
void st_log_rel(char *buf, size_t len, const char *node, uint32_t seg);
int st_parse_log_name(const char *name, char *node, uint32_t *seg);
void st_crash_point(struct rfs_sloop *r, const char *step);
int st_segment_last_seq(struct rfs_sloop *r, struct rfs_sfile *f, const char *rel, bool cut,
			uint64_t *last, off_t *size_out);
int st_read_own_seg(struct rfs_sloop *r, uint32_t seg, uint64_t from, uint64_t skip,
		    struct rfs_buf *out);
int st_read_own_log(struct rfs_sloop *r, uint32_t seg, uint64_t from);
void st_snap_rel(char *buf, size_t len, uint64_t gen);
int st_read_snapshot(struct rfs_sloop *r, uint64_t gen, char **buf, size_t *len);

#endif
