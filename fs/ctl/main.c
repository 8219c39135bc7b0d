/*
 * rmtabctl: the administrator's tool for a running rmtabfs daemon. This file: the global
 * options, the control socket a mount point's daemon listens on, and the command table.
 *
 * rmtabctl talks only to the daemon's control socket (fs/ctl/client.c): it never touches the
 * store or the state directory itself, so every change takes the daemon's one commit path
 * (journal, table, store) and no change can race the daemon behind its back.
 *
 * Invariants: every error is exactly one line on stderr starting with "rmtabctl: "; the exit
 * status is 0 for success, 1 for a failure (daemon unreachable, daemon refused, bad input
 * file, output error) and 2 for a usage error (nothing was sent). Internal helpers return 0
 * or -errno; the command functions return the exit status.
 *
 * Files: main.c (this), args.c (command options, value checks), client.c (the socket),
 * output.c (errors, times, stdout), json.c (JSON, status lines as JSON: pure), status.c
 * (status), records.c (list, add, remove, prune, import, export, compact, restart).
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/ctl_args.h>
#include <rmtabfs/ctl_cmd.h>
#include <rmtabfs/ctl_out.h>
#include <rmtabfs/options.h>

#define DEFAULT_MOUNTPOINT "/var/lib/nfs"
#define DEFAULT_TIMEOUT	   60.0

static const struct ctl_command commands[] = {
	{"status", ctl_cmd_status,
	 "  status [--json]               the daemon, its store, backlog and other nodes\n"
	 "                                (--json: for monitoring, see rmtabctl(8))\n"},
	{"list", ctl_cmd_list,
	 "  list [--client C] [--path P] [--json]\n"
	 "                                the records: client, path, count, origin node,\n"
	 "                                first seen and last change (local time)\n"},
	{"add", ctl_cmd_add,
	 "  add CLIENT PATH [COUNT]       add a record (no COUNT: count at least 1;\n"
	 "                                COUNT: set exactly that count)\n"},
	{"remove", ctl_cmd_remove,
	 "  remove CLIENT [PATH]          remove the record, or every record of CLIENT\n"},
	{"prune", ctl_cmd_prune,
	 "  prune --older-than DURATION [--dry-run]\n"
	 "                                remove records unchanged for DURATION\n"
	 "                                (45s, 90m, 12h, 30d or plain seconds)\n"},
	{"import", ctl_cmd_import,
	 "  import FILE [--format kernel|gnfs]\n"
	 "                                add the records of an rmtab file (kernel, the\n"
	 "                                default) or of a gNFS rmtab file; '-': stdin\n"},
	{"export", ctl_cmd_export,
	 "  export [--format kernel|gnfs] print the records in that format\n"},
	{"compact", ctl_cmd_compact,
	 "  compact                       write a store snapshot now (the log segments it\n"
	 "                                covers are then removed by their nodes)\n"},
	{"restart", ctl_cmd_restart,
	 "  restart                       re-execute the daemon's binary on disk (upgrade)\n"
	 "                                keeping the mount; the old one serves on if the\n"
	 "                                new one cannot take over (exit status 1)\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void ctl_usage(void)
{
	size_t i;

	printf("usage: " CTL_PROG " [-m MOUNTPOINT | -s SOCKET] [-t SECONDS] COMMAND [ARGS]\n"
	       "\n"
	       "Administers the rmtabfs daemon mounted on MOUNTPOINT (default " DEFAULT_MOUNTPOINT
	       ")\nthrough its control socket. Must run as root.\n"
	       "\n"
	       "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fputs(commands[i].help, stdout);
	printf("\n"
	       "options:\n"
	       "  -m, --mountpoint DIR   the daemon mounted on DIR; its socket is\n"
	       "                         " RFS_RUNDIR
	       "/<DIR escaped like systemd-escape --path>.sock\n"
	       "  -s, --socket PATH      the control socket itself (the daemon's -o ctl=PATH)\n"
	       "  -t, --timeout SECONDS  how long to wait for an answer (default %g, 0: no limit)\n"
	       "  -h, --help             this text\n"
	       "  -V, --version          the version\n"
	       "\n"
	       "exit status: 0 success, 1 failure, 2 usage error\n",
	       DEFAULT_TIMEOUT);
}

/*
 * The socket of the daemon mounted on mountpoint. libfuse canonicalizes the daemon's mount
 * point (realpath) and the socket is named after that, so the same is done here, but without
 * looking at the mount point itself: its attributes come from the daemon, and rmtabctl is
 * what one runs when the daemon hangs, so only the parent is resolved and the last component
 * appended. Unless the last component is a symlink (readlink reads the link, never the
 * mount) or "." or "..": then realpath() of the whole. A path that does not resolve is used
 * as given, and the connection then fails with the reason.
 */
static char *socket_for(const char *mountpoint)
{
	char path[PATH_MAX], canon[PATH_MAX], link[8];
	char *slash, *base, *mp = path;
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "%s", mountpoint);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    readlink(path, link, sizeof(link)) >= 0) {
		if (realpath(path, canon))
			mp = canon;
	} else {
		const char *dir = slash == path ? "/" : slash ? path : ".";

		if (slash)
			*slash = '\0';
		if (realpath(dir, canon) && strlen(canon) + 1 + strlen(base) < sizeof(canon)) {
			if (strcmp(canon, "/") != 0)
				strcat(canon, "/");
			strcat(canon, base);
			mp = canon;
		} else if (slash) {
			*slash = '/';
		}
	}
	return rfs_ctl_default_path(mp);
}

/* The global options; -1 to go on, or the exit status. */
static int parse_global(int argc, char **argv, struct ctl_ctx *c, const char **mountpoint,
			const char **sock)
{
	static const struct option opts[] = {
		{"mountpoint", required_argument, NULL, 'm'},
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+m:s:t:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			*mountpoint = optarg;
			break;
		case 's':
			*sock = optarg;
			break;
		case 't':
			if (ctl_parse_timeout(optarg, &c->timeout))
				return ctl_bad_value("bad timeout '%s' (seconds, 0 for no limit)",
						     optarg);
			break;
		case 'h':
			ctl_usage();
			return ctl_finish_stdout(CTL_EXIT_OK);
		case 'V':
			printf(CTL_PROG " %s\n", RFS_VERSION);
			return ctl_finish_stdout(CTL_EXIT_OK);
		default:
			if (optopt == 'm' || optopt == 's' || optopt == 't')
				return ctl_usage_error("option -%c needs a value", optopt);
			return ctl_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (*mountpoint && *sock)
		return ctl_usage_error("-m and -s exclude each other");
	if (optind >= argc)
		return ctl_usage_error("no command given");
	return -1;
}

int main(int argc, char **argv)
{
	struct ctl_ctx c = {.timeout = DEFAULT_TIMEOUT};
	const char *mountpoint = NULL, *sock = NULL;
	char *derived = NULL;
	size_t i;
	int rc;

	/* EPIPE from write() is handled (the daemon's refusal is still read); no signal. */
	signal(SIGPIPE, SIG_IGN);
	rc = parse_global(argc, argv, &c, &mountpoint, &sock);
	if (rc != -1)
		return rc;
	if (sock) {
		c.socket = sock;
	} else {
		c.mountpoint = mountpoint ? mountpoint : DEFAULT_MOUNTPOINT;
		if (!*c.mountpoint)
			return ctl_usage_error("empty mount point");
		derived = socket_for(c.mountpoint);
		if (!derived) {
			ctl_err("out of memory");
			return CTL_EXIT_FAIL;
		}
		c.socket = derived;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == NCOMMANDS) {
		free(derived);
		return ctl_usage_error("unknown command '%s'", argv[optind]);
	}
	rc = commands[i].fn(&c, argc - optind, argv + optind);
	free(derived);
	return rc;
}
