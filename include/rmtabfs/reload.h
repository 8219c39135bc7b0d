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

/* The new image, started before anything stops (exec and loading cost no request time). */
struct rfs_reload_child {
	pid_t pid;
	int sock; /* SOCK_SEQPACKET to it */
};
/*
 * Starts exe and waits until it is loaded and says it reads our handover format: 0, or
 * -errno with msg saying why (no child left, nothing of ours touched).
 */
int rfs_reload_start(const char *exe, int argc, char **argv, struct rfs_reload_child *c, char *msg,
		     size_t len);
/* Old image, FUSE paused: the whole handover image in a memfd; -errno. */
int rfs_reload_write(struct rfs *fs, const struct rfs_reload_fds *fds,
		     const struct rfs_init_req *init, struct rfs_ho_out *o);
/* Frees what rfs_reload_write made (the descriptors it lists stay open). */
void rfs_reload_unwrite(struct rfs_ho_out *o);
/*
 * Sends the image and its descriptors and waits until the new image took over (0, msg
 * "PID (version V)") or failed (-errno, msg says why; the child is gone).
 */
int rfs_reload_handover(struct rfs_reload_child *c, const struct rfs_ho_out *o, char *msg,
			size_t len);
/* Ends a started child that is not needed (kill, wait). */
void rfs_reload_abort(struct rfs_reload_child *c);

/* New image: says it is loaded ("ready FORMAT VERSION"). */
void rfs_reload_ready(int sock);
/* Receives the image and its descriptors, checks the header. 0 or -errno with msg. */
int rfs_reload_receive(int sock, struct rfs_ho_in *in, struct rfs_reload_fds *fds,
		       struct rfs_init_req *init, char *msg, size_t len);
/* The rest, after the views and the root inode exist. 0 or -errno. */
int rfs_reload_restore(struct rfs *fs, struct rfs_ho_in *in);
/* Tells the old image the outcome ("ok PID (version V)" or "error: WHY"), closes sock. */
void rfs_reload_tell(int sock, const char *line);
void rfs_reload_close(struct rfs_ho_in *in);

#endif
