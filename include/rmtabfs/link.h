/*
 * The link between the mount side (rmtabfs) and the store side (rmtabfs-store): one
 * SOCK_STREAM socketpair, the store side's end passed as a descriptor at exec. Everything
 * on it is a frame: a header (payload length, type, request id) and a payload. Payloads
 * are fields written one after the other (u64, length-prefixed bytes, fixed structs of this
 * same build: the two sides are always one build, checked by the hello frame); op lines
 * travel as the text they are in the journal and the logs.
 *
 *  store side -> mount side: HELLO; requests RQ_* (one at a time, answered by RESP with
 *    the same id); STATE (what status shows); COMPACTED (answer to COMPACT); PONG.
 *  mount side -> store side: RESP; WAKE (something to ship), COMPACT, STOP, PING.
 */
#ifndef RMTABFS_LINK_H
#define RMTABFS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/buf.h>

/* Bumped with any change of a payload: the mount side refuses another store side. */
#define RFS_LINK_PROTO 1
/* No frame is larger: a journal chunk is 1 MiB, a snapshot with our log's tail far less. */
#define RFS_LINK_MAX_FRAME (256u << 20)

enum rfs_link_type {
	RFS_LK_HELLO = 1,
	RFS_LK_RESP,
	RFS_LK_STATE,
	RFS_LK_COMPACTED,
	RFS_LK_PONG,
	RFS_LK_WAKE,
	RFS_LK_COMPACT,
	RFS_LK_STOP,
	RFS_LK_PING,
	/* requests: the functions of include/rmtabfs/recset.h */
	RFS_RQ_SELF_SEQ = 32,
	RFS_RQ_NODE_APPLIED,
	RFS_RQ_BEHIND,
	RFS_RQ_RAISE_SELF_SEQ,
	RFS_RQ_JOURNAL_POS,
	RFS_RQ_JOURNAL_READ,
	RFS_RQ_APPLY_REMOTE,
	RFS_RQ_ADOPT,
	RFS_RQ_NOTE_SHIPPED,
	RFS_RQ_SHIPPED,
	RFS_RQ_INCARNATION,
	RFS_RQ_RENUMBER,
	RFS_RQ_ANCHOR,
	RFS_RQ_CHECKPOINT,
	RFS_RQ_RESET_JOURNAL,
	RFS_RQ_DROP_TOMBSTONES,
	RFS_RQ_TABLE_BYTES,
	RFS_RQ_LOADED_PEERS,
	RFS_RQ_SNAPSHOT_ENCODE,
};

/* What a STATE frame says of the store (shown by rmtabctl status). */
enum rfs_repl_state {
	RFS_REPL_CONNECTING,
	RFS_REPL_UP,
	RFS_REPL_DOWN,
	RFS_REPL_REFUSED, /* another daemon holds this node id on the store */
};

static inline const char *rfs_repl_state_name(enum rfs_repl_state s)
{
	switch (s) {
	case RFS_REPL_CONNECTING:
		return "connecting";
	case RFS_REPL_UP:
		return "connected";
	case RFS_REPL_DOWN:
		return "down";
	case RFS_REPL_REFUSED:
		return "refused";
	}
	return "?";
}

struct rfs_link_hdr {
	uint32_t len; /* payload bytes after the header */
	uint32_t type;
	uint64_t id;
};

/* Starts a frame in out (appended); rfs_link_end() fills in its length. */
int rfs_link_begin(struct rfs_buf *out, uint32_t type, uint64_t id, size_t *start);
void rfs_link_end(struct rfs_buf *out, size_t start);
int rfs_link_put_u64(struct rfs_buf *out, uint64_t v);
int rfs_link_put_bytes(struct rfs_buf *out, const void *p, size_t len);
int rfs_link_put_str(struct rfs_buf *out, const char *s);

/* Reads a payload field by field; any read past the end sets bad (and returns zeros). */
struct rfs_link_rd {
	const char *p;
	size_t left;
	bool bad;
};

uint64_t rfs_link_get_u64(struct rfs_link_rd *rd);
/* A pointer into the payload and its length (not NUL-terminated). */
const char *rfs_link_get_bytes(struct rfs_link_rd *rd, size_t *len);
/* Copies a string field into buf (truncated to cap - 1). */
void rfs_link_get_str(struct rfs_link_rd *rd, char *buf, size_t cap);

/*
 * Finds a complete frame at the start of buf: 1 (hdr and payload set), 0 (need more bytes)
 * or -EPROTO (a length no frame has).
 */
int rfs_link_parse(const char *buf, size_t len, struct rfs_link_hdr *hdr, const char **payload);

/* Writes all of buf to a blocking descriptor: 0 or -errno. */
int rfs_link_write_all(int fd, const char *buf, size_t len);

#endif
