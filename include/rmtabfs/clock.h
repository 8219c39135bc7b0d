/*
 * The monotonic clock in the forms the daemon's waits use: seconds as a double, nanoseconds,
 * and an absolute deadline for pthread_cond_timedwait on a CLOCK_MONOTONIC condition.
 */
#ifndef RMTABFS_CLOCK_H
#define RMTABFS_CLOCK_H

#include <math.h>
#include <stdint.h>
#include <time.h>

static inline double rfs_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int64_t rfs_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ts = now + secs on the monotonic clock. */
static inline void rfs_deadline_in(struct timespec *ts, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	secs += (double)ts->tv_nsec / 1e9;
	ts->tv_sec += (time_t)secs;
	ts->tv_nsec = (long)((secs - floor(secs)) * 1e9);
}

#endif
