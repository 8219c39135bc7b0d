/* Logging: one line per event, to stderr in the foreground, to syslog (daemon facility) otherwise.
 */
#ifndef RMTABFS_LOG_H
#define RMTABFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void rfs_log_init(const char *ident, bool to_syslog, int max_level);
void rfs_log_set_level(int max_level);
bool rfs_log_enabled(int level);
void rfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rfs_err(...)	rfs_log(LOG_ERR, __VA_ARGS__)
#define rfs_warn(...)	rfs_log(LOG_WARNING, __VA_ARGS__)
#define rfs_notice(...) rfs_log(LOG_NOTICE, __VA_ARGS__)
#define rfs_info(...)	rfs_log(LOG_INFO, __VA_ARGS__)
#define rfs_debug(...)                                                                             \
	do {                                                                                       \
		if (rfs_log_enabled(LOG_DEBUG))                                                    \
			rfs_log(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
