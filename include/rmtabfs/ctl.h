/*
 * The control socket: how rmtabctl talks to a running daemon (root only).
 *
 * Request: the command and its arguments, one per line, then an empty line; for "import"
 * the records follow as "client\tpath\tcount" lines and another empty line. Reply: "ok" or
 * "error: MESSAGE" on the first line, then the body; the daemon closes the connection.
 */
#ifndef RMTABFS_CTL_H
#define RMTABFS_CTL_H

#include <stddef.h>

#include <rmtabfs/buf.h>

struct rfs;
struct rfs_ctl;

struct rfs_ctl *rfs_ctl_start(struct rfs *fs, const char *path);
void rfs_ctl_stop(struct rfs_ctl *c);
/* Planned restart: start on the listening socket of the image we replace; that socket. */
struct rfs_ctl *rfs_ctl_start_fd(struct rfs *fs, const char *path, int listen_fd);
int rfs_ctl_fd(const struct rfs_ctl *c);

/* Runs one request (argv) and writes the reply body to out; 0 or -errno with msg set.
 * body/body_len: the records of "import". Exposed for unit tests. */
int rfs_ctl_execute(struct rfs *fs, int argc, char **argv, const char *body, size_t body_len,
		    struct rfs_buf *out, char *msg, size_t msglen);

#endif
