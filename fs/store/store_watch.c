/*
 * Wake-up hint of a store (include/rmtabfs/store_watch.h, store.h): the eventfd a backend
 * signals when another node may have written, the replication loop's two calls, and the
 * bookkeeping that says whether hints arrive.
 *
 * Invariants: the eventfd lives exactly as long as its struct rfs_watch; hints only grows;
 * signal() touches nothing but the atomics and the eventfd (it runs in a backend's thread, a
 * libgfapi callback among them); everything else runs in the replication thread (the only
 * one that calls the store), so the counters other than hints and broken need no lock. A hint
 * only shortens the wait: the loop polls the store as before, whatever the hint does.
 * No locks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/clock.h>
#include <rmtabfs/log.h>
#include <rmtabfs/store_watch.h>

/* Starting the hint again after a failure: at most this often (s). */
#define WATCH_RETRY 1.0

/* Hint ids: a mark names the hint it was taken under (an address may be reused). */
static _Atomic uint64_t last_id;

struct rfs_watch {
	uint64_t id; /* never 0 */
	int efd;
	_Atomic uint64_t hints; /* signals so far */
	_Atomic bool broken;
	char how[64];
	char advice[256];
	/* replication thread only */
	uint64_t after_hint; /* other nodes' changes found after a hint */
	uint64_t by_poll;    /* ... found by the poll alone */
	uint64_t run;	     /* of those, in a row with no hint at all meanwhile */
	uint64_t run_hints;  /* hints when that run began */
	bool warned;	     /* this run reached RFS_WATCH_MISS_WARN */
};

struct rfs_watch *rfs_watch_new(const char *how, const char *advice)
{
	struct rfs_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		free(w);
		return NULL;
	}
	w->id = atomic_fetch_add(&last_id, 1) + 1;
	snprintf(w->how, sizeof(w->how), "%s", how);
	snprintf(w->advice, sizeof(w->advice), "%s", advice);
	return w;
}

void rfs_watch_retire(struct rfs_watch *w)
{
	rfs_notice("store wake-up hint (%s): %llu hints; other nodes' changes found %llu times "
		   "after a hint, %llu times by the poll alone",
		   w->how, (unsigned long long)atomic_load(&w->hints),
		   (unsigned long long)w->after_hint, (unsigned long long)w->by_poll);
}

void rfs_watch_free(struct rfs_watch *w)
{
	if (!w)
		return;
	rfs_watch_retire(w);
	close(w->efd);
	free(w);
}

void rfs_watch_signal(struct rfs_watch *w)
{
	uint64_t one = 1;

	atomic_fetch_add(&w->hints, 1);
	/* EAGAIN: the counter is full, so it is readable anyway. */
	if (write(w->efd, &one, sizeof(one)) < 0) {
	}
}

void rfs_watch_set_broken(struct rfs_watch *w)
{
	atomic_store(&w->broken, true);
	rfs_watch_signal(w); /* the loop then starts it anew, and looks meanwhile */
}

bool rfs_watch_broken(const struct rfs_watch *w)
{
	return atomic_load(&w->broken);
}

int rfs_watch_fd(const struct rfs_watch *w)
{
	return w->efd;
}

void rfs_watch_get_stats(const struct rfs_watch *w, struct rfs_watch_stats *st)
{
	st->hints = atomic_load(&w->hints);
	st->after_hint = w->after_hint;
	st->by_poll = w->by_poll;
	st->failing = w->warned;
}

void rfs_watch_note_size(struct rfs_store *s, struct rfs_watch_mark *m, off_t size)
{
	struct rfs_watch *w = s->watch;
	uint64_t hints;

	if (!w) {
		m->watch_id = 0;
		return;
	}
	hints = atomic_load(&w->hints);
	if (hints != w->run_hints) { /* a hint came: a run without any is over */
		if (w->warned)
			rfs_notice("store wake-up hint (%s): hints arrive again", w->how);
		w->warned = false;
		w->run = 0;
		w->run_hints = hints;
	}
	if (m->watch_id == w->id && size != m->size) {
		if (hints != m->hints) {
			w->after_hint++;
		} else {
			w->by_poll++;
			if (++w->run == RFS_WATCH_MISS_WARN) {
				w->warned = true;
				rfs_warn("store wake-up hint (%s): the last %d changes of other "
					 "nodes came without a hint, found by the poll only: %s",
					 w->how, RFS_WATCH_MISS_WARN, w->advice);
			}
		}
	}
	m->watch_id = w->id;
	m->hints = hints;
	m->size = size;
}

int rfs_store_watch_fd(struct rfs_store *s)
{
	int rc;

	if (!s->watch_on) {
		if (!s->watch_said) {
			s->watch_said = true;
			rfs_notice("store wake-up hint off (watch=off): other nodes' changes are "
				   "found by the poll alone");
		}
		return -1;
	}
	if (!s->ops->watch || !s->priv)
		return -1;
	if (s->watch && !rfs_watch_broken(s->watch))
		return rfs_watch_fd(s->watch);
	if (s->watch_tried && rfs_mono() - s->watch_tried < WATCH_RETRY)
		return s->watch ? rfs_watch_fd(s->watch) : -1;
	s->watch_tried = rfs_mono();
	rc = s->ops->watch(s, "nodes", s->node ? s->node : "");
	if (rc) {
		rfs_debug("store wake-up hint: cannot start it: %s", strerror(-rc));
		return -1;
	}
	return s->watch ? rfs_watch_fd(s->watch) : -1;
}

void rfs_store_watch_clear(struct rfs_store *s)
{
	uint64_t n;

	if (s->watch && read(rfs_watch_fd(s->watch), &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing left */
	}
}
