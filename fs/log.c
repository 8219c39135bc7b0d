/*
 * Logging for the daemon and the tools.
 *
 * A busy NFS server must stay quiet: nothing here is called per MOUNT at the default level
 * (notice). Lines go to stderr when in the foreground and to syslog(LOG_DAEMON) otherwise;
 * the libfuse log is routed through the same function so there is one place to look.
 * Invariant: a log line is written with a single write(2)/syslog(3) call so concurrent
 * threads never interleave inside a line. No locks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/log.h>

static bool log_to_syslog;
static int log_max_level = LOG_NOTICE;
static const char *log_ident = "rmtabfs";

void rfs_log_init(const char *ident, bool to_syslog, int max_level)
{
	log_ident = ident;
	log_to_syslog = to_syslog;
	log_max_level = max_level;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void rfs_log_set_level(int max_level)
{
	log_max_level = max_level;
}

bool rfs_log_enabled(int level)
{
	return level <= log_max_level;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void rfs_log(int level, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	if (!rfs_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_to_syslog) {
		syslog(level, "%s", msg);
	} else {
		char line[1700];
		struct timespec ts;
		struct tm tm;
		int n;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s[%d]: %s: %s\n",
			     tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
			     (int)getpid(), level_name(level), msg);
		if (n > (int)sizeof(line) - 1)
			n = sizeof(line) - 1;
		if (write(STDERR_FILENO, line, n) < 0) {
			/* Nowhere else to report it. */
		}
	}
}
