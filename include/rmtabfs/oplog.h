/*
 * Ops and their one-line text form, used by the local journal, the checkpoint and the
 * store's node logs:
 *
 *   s SEQ TIME NODE COUNT BORN ORIGIN CLIENT PATH CRC\n
 *
 * SEQ is the node's sequence number (from 1), TIME the op's hybrid-logical-clock time in ns,
 * COUNT 0 a removal, BORN/ORIGIN the time and node that created this incarnation of the
 * record (they fix its place in first-seen order on every node), CLIENT and PATH escaped so
 * that no field holds a space, newline or '%', CRC the CRC-32C of everything before it, in hex.
 */
#ifndef RMTABFS_OPLOG_H
#define RMTABFS_OPLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/record.h>

struct rfs_op {
	uint64_t seq;
	uint64_t time;
	uint64_t born;
	uint32_t count;
	const char *node;   /* [A-Za-z0-9._-]{1,64} */
	const char *origin; /* idem */
	const char *client; /* canonical key, NUL-terminated */
	const char *path;
	size_t client_len;
	size_t path_len;
};

/* Longest encoded line, newline included. */
#define RFS_OP_LINE_MAX                                                                            \
	(2 + 3 * 21 + 11 + 2 * (RFS_NODE_MAX + 1) + 3 * RFS_CLIENT_MAX + 3 * RFS_PATH_MAX + 16)

/* Storage the decoder fills; the decoded op points into it. */
struct rfs_op_scratch {
	char node[RFS_NODE_MAX + 1];
	char origin[RFS_NODE_MAX + 1];
	char client[RFS_CLIENT_MAX + 1];
	char path[RFS_PATH_MAX + 1];
};

uint32_t rfs_crc32c(uint32_t crc, const void *buf, size_t len);
bool rfs_node_id_valid(const char *id);

/* Appends the line for op. */
int rfs_op_encode(struct rfs_buf *out, const struct rfs_op *op);

/*
 * Decodes the first line of buf[0..len). Returns the bytes consumed (newline included) and
 * fills op; -EAGAIN when no complete line is there yet (a torn last line); -EBADMSG when the
 * line is complete but its checksum or a field is wrong (*consumed then gives its length so
 * a caller may report it). Never produces an op that fails rfs_key_check().
 */
long rfs_op_decode(const char *buf, size_t len, struct rfs_op *op, struct rfs_op_scratch *s,
		   size_t *consumed);

#endif
