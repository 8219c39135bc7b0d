/*
 * fakeclock.so: an LD_PRELOAD shim for tests that gives one process a wrong wall clock.
 * RFS_FAKE_CLOCK_OFFSET (seconds, may be negative or fractional) is added to CLOCK_REALTIME
 * and CLOCK_REALTIME_COARSE as clock_gettime(), gettimeofday() and time() report them; the
 * monotonic clocks are left alone. pthread_timedjoin_np(), whose deadline is always on the
 * real-time clock, gets the deadline translated back, as a process whose clock is wrong by
 * the offset would see it. It works for calls through the PLT (everything rmtabfs calls
 * itself); glibc's own internal calls bypass it, which no test relies on.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long offset_ns;
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_timedjoin)(pthread_t, void **, const struct timespec *);

__attribute__((constructor)) static void fakeclock_init(void)
{
	const char *s = getenv("RFS_FAKE_CLOCK_OFFSET");

	offset_ns = s ? (long long)(strtod(s, NULL) * 1e9) : 0;
	real_clock_gettime =
		(int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	real_timedjoin = (int (*)(pthread_t, void **, const struct timespec *))dlsym(
		RTLD_NEXT, "pthread_timedjoin_np");
}

static void shift_by(struct timespec *ts, long long by)
{
	long long ns = (long long)ts->tv_sec * 1000000000ll + ts->tv_nsec + by;

	ts->tv_sec = (time_t)(ns / 1000000000ll);
	ts->tv_nsec = (long)(ns % 1000000000ll);
}

static void shift(struct timespec *ts)
{
	shift_by(ts, offset_ns);
}

int pthread_timedjoin_np(pthread_t thread, void **ret, const struct timespec *abstime)
{
	struct timespec real = *abstime;

	if (!real_timedjoin)
		fakeclock_init();
	shift_by(&real, -offset_ns);
	return real_timedjoin(thread, ret, &real);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc;

	if (!real_clock_gettime)
		fakeclock_init();
	rc = real_clock_gettime(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		shift(ts);
	return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;
	/* glibc declares tv nonnull; callers may still pass NULL. */
	volatile struct timeval *out = tv;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -1;
	if (out) {
		out->tv_sec = ts.tv_sec;
		out->tv_usec = ts.tv_nsec / 1000;
	}
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
