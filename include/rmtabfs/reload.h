/*
 * The steps of a planned restart that main.c sequences (see fs/handover.c for the protocol):
 * the old image writes its state and starts the new one; the new one reads it back.
 */
#ifndef RMTABFS_RELOAD_H
#define RMTABFS_RELOAD_H

#include <stddef.h>
#include <sys/types.h>

#include <rmtabfs/handover.h>

struct rfs;
struct fuse_session;

/* Descriptors that cross the exec. */
struct rfs_reload_fds {
	int fuse; /* /dev/fuse */
	int root; /* the directory underneath */
	int ctl;  /* the control socket's listening socket, or -1 */
};

/* The kernel's INIT request, as read at the mount (header and arguments). */
struct rfs_init_req {
	char *data;
	size_t len;
};

/* Reads and handles the session's first request (INIT), keeping a copy. 0 or -errno. */
int rfs_reload_capture_init(struct fuse_session *se, struct rfs_init_req *init);
/* Gives a session that adopted /dev/fuse the INIT the kernel sent to the first image. */
int rfs_reload_prime(struct fuse_session *se, const struct rfs_init_req *init);

/* Old image, FUSE paused: the whole handover image in a memfd; -errno. fds left open. */
int rfs_reload_write(struct rfs *fs, const struct rfs_reload_fds *fds,
		     const struct rfs_init_req *init, struct rfs_ho_out *o);
/* Sets FD_CLOEXEC again on what rfs_reload_write opened up (a handover that failed). */
void rfs_reload_unwrite(struct rfs_ho_out *o);
/*
 * Starts exe with the image and waits until it took over (0, *child set, msg "pid N
 * (version V)") or failed (-errno, msg says why; no child left).
 */
int rfs_reload_spawn(const char *exe, int argc, char **argv, const struct rfs_ho_out *o,
		     pid_t *child, char *msg, size_t len);

/* New image: the header (format, descriptors, INIT). 0 or -errno with msg. */
int rfs_reload_open(int memfd, struct rfs_ho_in *in, struct rfs_reload_fds *fds,
		    struct rfs_init_req *init, char *msg, size_t len);
/* The rest, after the views and the root inode exist. 0 or -errno. */
int rfs_reload_restore(struct rfs *fs, struct rfs_ho_in *in);
/* Tells the old image (pipe fd) the outcome, then closes the pipe. */
void rfs_reload_tell(int fd, const char *line);
void rfs_reload_close(struct rfs_ho_in *in);

#endif
