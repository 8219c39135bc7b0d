/*
 * rmtabctl's commands. Each takes the connection settings and its own argv (argv[0] is the
 * command's name) and returns the exit status (CTL_EXIT_*). A new command is a function here
 * and one row of the table in fs/ctl/main.c (its name, the function, its --help lines).
 */
#ifndef RMTABFS_CTL_CMD_H
#define RMTABFS_CTL_CMD_H

#include <rmtabfs/ctl_client.h>

typedef int ctl_cmd_fn(const struct ctl_ctx *c, int argc, char **argv);

struct ctl_command {
	const char *name;
	ctl_cmd_fn *fn;
	/* its lines of --help: "  NAME [ARGS]   what it does\n", continuation lines indented
	 * to the description column (32) */
	const char *help;
};

/* The usage text (--help), on stdout. */
void ctl_usage(void);

/* fs/ctl/status.c */
ctl_cmd_fn ctl_cmd_status;
/* fs/ctl/records.c */
ctl_cmd_fn ctl_cmd_list, ctl_cmd_add, ctl_cmd_remove, ctl_cmd_prune, ctl_cmd_import, ctl_cmd_export,
	ctl_cmd_compact, ctl_cmd_restart;

#endif
