/*
 * rmtabctl's command-line arguments: the options of each command and the checks of values
 * that can be judged without the daemon.
 *
 * Invariants: anything that can be checked here (record keys, counts, durations, formats) is,
 * so a bad argument is a usage error (exit 2) and never reaches the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/ctl_args.h>
#include <rmtabfs/ctl_cmd.h>
#include <rmtabfs/ctl_out.h>
#include <rmtabfs/record.h>

static const struct option sub_opts[] = {
	{"client", required_argument, NULL, CTL_OPT_CLIENT},
	{"path", required_argument, NULL, CTL_OPT_PATH},
	{"json", no_argument, NULL, CTL_OPT_JSON},
	{"older-than", required_argument, NULL, CTL_OPT_OLDER},
	{"dry-run", no_argument, NULL, CTL_OPT_DRY},
	{"format", required_argument, NULL, CTL_OPT_FORMAT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int unknown_option(const char *cmd, char **argv, int allowed)
{
	/* optopt: the option's value when its argument is missing, else the unknown short
	 * option character, or 0 for an unknown long one */
	bool ours = optopt > 0 && optopt <= CTL_OPT_LAST && !(optopt & (optopt - 1));

	if (ours && (optopt & allowed))
		return ctl_usage_error("%s: option '%s' needs a value", cmd, argv[optind - 1]);
	if (ours)
		return ctl_usage_error("%s: option '%s' does not apply", cmd, argv[optind - 1]);
	return ctl_usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
}

int ctl_parse_args(const char *cmd, int argc, char **argv, int allowed, struct ctl_args *a)
{
	int ch, idx = -1;

	memset(a, 0, sizeof(*a));
	optind = 0; /* 0, not 1: glibc then resets its permutation state too */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", sub_opts, &idx)) != -1) {
		if (ch == 'h') {
			ctl_usage();
			return ctl_finish_stdout(CTL_EXIT_OK);
		}
		if (ch == '?')
			return unknown_option(cmd, argv, allowed);
		if (!(ch & allowed))
			return ctl_usage_error("%s: option '--%s' does not apply", cmd,
					       sub_opts[idx].name);
		switch (ch) {
		case CTL_OPT_CLIENT:
			a->client = optarg;
			break;
		case CTL_OPT_PATH:
			a->path = optarg;
			break;
		case CTL_OPT_JSON:
			a->json = true;
			break;
		case CTL_OPT_OLDER:
			a->older = optarg;
			break;
		case CTL_OPT_DRY:
			a->dry = true;
			break;
		case CTL_OPT_FORMAT:
			a->format = optarg;
			break;
		}
	}
	a->args = argv + optind;
	a->nargs = argc - optind;
	return -1;
}

int ctl_parse_duration(const char *s, unsigned long long *secs)
{
	unsigned long long v, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	if (v > ULLONG_MAX / mul)
		return -EINVAL;
	*secs = v * mul;
	return 0;
}

int ctl_parse_timeout(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v) || *v < 0 || *v > 86400)
		return -EINVAL;
	return 0;
}

int ctl_parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int ctl_parse_format(const char *cmd, const char *f, bool *gnfs)
{
	if (!f || strcmp(f, "kernel") == 0) {
		*gnfs = false;
		return 0;
	}
	if (strcmp(f, "gnfs") == 0) {
		*gnfs = true;
		return 0;
	}
	ctl_bad_value("%s: unknown format '%s' (kernel or gnfs)", cmd, f);
	return -EINVAL;
}

int ctl_check_key(const char *cmd, const char *client, const char *path)
{
	struct rfs_parse_error err = {0};

	if (rfs_key_check(client, strlen(client), path ? path : "/", path ? strlen(path) : 1,
			  &err)) {
		ctl_bad_value("%s: bad record: %s", cmd, err.reason);
		return -EINVAL;
	}
	return 0;
}
