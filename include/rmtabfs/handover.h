/*
 * Planned restart (DESIGN §9): the running image hands its FUSE session and the state that
 * gives meaning to the kernel's node ids and file handles to a new image of the binary on
 * disk, without unmounting. See fs/handover.c for the protocol.
 */
#ifndef RMTABFS_HANDOVER_H
#define RMTABFS_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/buf.h>

struct rfs;

/* argv[1] of an image started by a handover: "--rmtabfs-handover FD ..." */
#define RFS_HANDOVER_ARG "--rmtabfs-handover"

/* The format this binary writes and the only one it reads. */
uint32_t rfs_handover_version(void);
/* The daemon's version string (status, --version, log lines of a reload). */
const char *rfs_daemon_version(void);

/* Writing the handover image: any failure sticks in err (checked once at the end). */
struct rfs_ho_out {
	struct rfs_buf buf;
	int err;
	int *fds; /* the descriptors the image refers to, by index, sent along */
	size_t nfds;
	int memfd;
};
void rfs_ho_put_u64(struct rfs_ho_out *o, uint64_t v);
void rfs_ho_put_bytes(struct rfs_ho_out *o, const void *p, size_t n);
void rfs_ho_put_str(struct rfs_ho_out *o, const char *s); /* NULL allowed */
/* A descriptor the new image gets too (-1: none): sent with the image (SCM_RIGHTS). */
void rfs_ho_put_fd(struct rfs_ho_out *o, int fd);

/* Reading it back: past the end or on bad data, err is set and zeros come back. */
struct rfs_ho_in {
	const char *p;
	size_t len, pos;
	int err;
	int *fds; /* received with the image, in the order they were put */
	size_t nfds;
};
uint64_t rfs_ho_get_u64(struct rfs_ho_in *in);
/* Points into the image (valid until it is unmapped); NULL for a NULL string. */
const char *rfs_ho_get_bytes(struct rfs_ho_in *in, size_t *n);
/* A malloc'ed NUL-terminated copy, or NULL (also for a NULL string). */
char *rfs_ho_get_str(struct rfs_ho_in *in);
/* A descriptor received with the image (the new image owns it), or -1. */
int rfs_ho_get_fd(struct rfs_ho_in *in);

/*
 * Node ids and file handles are addresses of our objects. After a handover the kernel still
 * uses the previous image's addresses: the objects restored from it are registered under
 * their old values, translated on every request, and no new object may be allocated at an
 * address that is still a live old value.
 */
void rfs_ho_map(uint64_t old_value, void *obj);
/* The object a value from the kernel (node id, fh) names. */
void *rfs_ho_ptr(uint64_t value);
/* The value the kernel knows obj by. */
uint64_t rfs_ho_id(const void *obj);
/* obj is gone (forgotten, released): its old value may be reused. */
void rfs_ho_unmap(const void *obj);
/* calloc(1, size) at an address that is no live old value. */
void *rfs_ho_calloc(size_t size);

/* Snapshots and write-session bases (base: cleared, then filled). */
struct rfs_snap;
struct rfs_base;
void rfs_ho_put_snap(struct rfs_ho_out *o, struct rfs_snap *s);
struct rfs_snap *rfs_ho_get_snap(struct rfs_ho_in *in); /* one reference, or NULL */
void rfs_ho_put_base(struct rfs_ho_out *o, const struct rfs_base *b);
void rfs_ho_get_base(struct rfs_ho_in *in, struct rfs_base *b);

/* Open file handles (struct rfs_handle), for the handover to find them all. */
void rfs_ho_track(void *handle);
void rfs_ho_untrack(void *handle); /* also unmaps */
/* The tracked handles: a malloc'ed array (NULL on ENOMEM) and its length. */
size_t rfs_ho_handles(void ***out);

#endif
