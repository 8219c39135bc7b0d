/*
 * The mount side's replication module, private to fs/storelink.c (the link thread, the
 * frames, the API of include/rmtabfs/repl.h) and fs/storechild.c (starting, reaping and
 * replacing the store side process). See storelink.c for the invariants and lock order.
 */
#ifndef RMTABFS_STORELINK_H
#define RMTABFS_STORELINK_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/clock.h>
#include <rmtabfs/core.h>
#include <rmtabfs/link.h>
#include <rmtabfs/log.h>
#include <rmtabfs/options.h>
#include <rmtabfs/recset.h>
#include <rmtabfs/repl.h>
#include <rmtabfs/sloop.h>
#include <rmtabfs/store.h>

#define BACKOFF_MIN    0.1
#define BACKOFF_MAX    5.0
#define QUICK_DEATH    2.0 /* a store side that dies sooner than this is restarted after backoff */
#define FINAL_SHIP_MAX 0.5
#define STOP_GRACE     0.35 /* beyond the last ship: its report, checkpoint and exit */
#define COMPACT_WAIT   60

struct peer_st {
	char node[RFS_NODE_MAX + 1];
	uint32_t seg;
	uint64_t offset, size;
	bool damaged;
};

struct rfs_repl {
	struct rfs_core *core;
	struct rfs_rs *rs;
	const struct rfs_options *opts;
	char exe[PATH_MAX];
	char url[PATH_MAX + 64];
	pthread_t thread;
	bool thread_started;
	int wake_fd; /* eventfd: commits and requests for the link thread */

	pthread_mutex_t lock; /* everything below up to "link thread only" */
	pthread_cond_t event;
	bool stop, done, first_done, slow;
	enum rfs_repl_state state;
	double state_since;
	uint64_t shipped_seq, shipped_ops, snapshot;
	uint32_t own_seg;
	char last_error[256], refused_msg[256];
	struct peer_st *peers;
	size_t npeers;
	time_t mount_started;
	pid_t pid; /* the store side, 0: none */
	time_t child_started;
	unsigned restarts;
	char last_exit[160];
	uint64_t compact_asked, compact_sent, compact_done;
	int compact_rc;
	char compact_msg[200];

	/* link thread only */
	int sock;
	struct rfs_buf in, out, scratch;
	double started, last_heard, last_ping, backoff, next_spawn, stop_deadline;
	bool stop_sent, wake_pending, killed, hello_ok;
	bool clean_stop; /* the store side stopped when told (and said what it left) */
	char kill_reason[96];
};

/* fs/storechild.c: the store side process; all called by the link thread only. */
void rfs_sc_find_exe(struct rfs_repl *r);
/* Starts a store side with its end of a new socketpair as descriptor 3: 0 or -errno. */
int rfs_sc_spawn(struct rfs_repl *r);
/* The store side is gone (its link ended): reap it, note why, plan the next one. */
void rfs_sc_child_gone(struct rfs_repl *r);
/* Kills it (-9) for the reason fmt (with secs), then as rfs_sc_child_gone(). */
void rfs_sc_kill_child(struct rfs_repl *r, const char *fmt, double secs);

#endif
