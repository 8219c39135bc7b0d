/*
 * rmtabctl's command-line arguments: each command's options, and the values checked before
 * anything is sent (durations, counts, timeouts, record keys, formats).
 */
#ifndef RMTABFS_CTL_ARGS_H
#define RMTABFS_CTL_ARGS_H

#include <stdbool.h>

/* Options of the commands; each command accepts the ones in its mask. */
enum {
	CTL_OPT_CLIENT = 1 << 0,
	CTL_OPT_PATH = 1 << 1,
	CTL_OPT_JSON = 1 << 2,
	CTL_OPT_OLDER = 1 << 3,
	CTL_OPT_DRY = 1 << 4,
	CTL_OPT_FORMAT = 1 << 5,
	CTL_OPT_LAST = CTL_OPT_FORMAT,
};

struct ctl_args {
	const char *client, *path, *older, *format;
	bool json, dry;
	int nargs;
	char **args; /* positional arguments after the command */
};

/*
 * Parses a command's options (anywhere among its arguments, GNU style; "--" ends them, for a
 * client that starts with '-'); argv[0] is the command. Returns -1 to go on, or the exit
 * status to end with (--help printed, a usage error reported).
 */
int ctl_parse_args(const char *cmd, int argc, char **argv, int allowed, struct ctl_args *a);

/* The daemon's grammar: "30s", "15m", "12h", "7d" or plain seconds. 0 or -EINVAL. */
int ctl_parse_duration(const char *s, unsigned long long *secs);
/* Seconds, 0 to 86400, fractions allowed. 0 or -EINVAL. */
int ctl_parse_timeout(const char *s, double *v);
/* Digits only. 0 or -EINVAL. */
int ctl_parse_ull(const char *s, unsigned long long *v);
/* --format: kernel (or none) or gnfs; a usage error is reported on -EINVAL. */
int ctl_parse_format(const char *cmd, const char *f, bool *gnfs);
/* A record key from the command line (path NULL: client only); a usage error is reported
 * on -EINVAL, so a newline can never split the request into other commands. */
int ctl_check_key(const char *cmd, const char *client, const char *path);

#endif
