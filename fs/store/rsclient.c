/*
 * The record set on the store side (include/rmtabfs/recset.h): every call becomes a
 * request frame to the mount side, which calls the real record set and answers with the
 * request's id. The replication thread is the only caller, so at most one request is out
 * at a time; the process's reader thread (store/main.c) delivers the answer.
 * A lost link (the mount side died or stops us) ends the process at once: nothing of the
 * store side's state outlives it, and the mount side starts a fresh one.
 * Locks: send_lock (whole frames, from any thread), then lock (the answer slot).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmtabfs/link.h>
#include <rmtabfs/log.h>
#include <rmtabfs/recset.h>
#include <rmtabfs/sloop.h>

struct rfs_rs {
	int fd;
	pthread_mutex_t send_lock;
	pthread_mutex_t lock;
	pthread_cond_t answered;
	uint64_t next_id;
	uint64_t want_id; /* the request out, 0: none */
	bool have;
	struct rfs_buf answer;
};

struct rfs_rs *rfs_rs_remote(int fd)
{
	struct rfs_rs *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->fd = fd;
	rs->next_id = 1;
	pthread_mutex_init(&rs->send_lock, NULL);
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->answered, NULL);
	return rs;
}

void rfs_rs_free(struct rfs_rs *rs)
{
	if (!rs)
		return;
	rfs_buf_free(&rs->answer);
	free(rs);
}

int rfs_rs_send(struct rfs_rs *rs, const char *frames, size_t len)
{
	int rc;

	pthread_mutex_lock(&rs->send_lock);
	rc = rfs_link_write_all(rs->fd, frames, len);
	pthread_mutex_unlock(&rs->send_lock);
	return rc;
}

void rfs_rs_deliver(struct rfs_rs *rs, uint64_t id, const char *payload, size_t len)
{
	pthread_mutex_lock(&rs->lock);
	if (id == rs->want_id) {
		rfs_buf_resize(&rs->answer, 0);
		if (rfs_buf_append(&rs->answer, payload, len) == 0) {
			rs->have = true;
			pthread_cond_broadcast(&rs->answered);
		}
	}
	pthread_mutex_unlock(&rs->lock);
}

static void __attribute__((noreturn)) lost(int rc)
{
	rfs_err("store side: link to the mount side lost (%s): exiting", strerror(-rc));
	_exit(RFS_STORE_EXIT_LINK);
}

/* A request frame of type with payload req; the answer's rc field and the rest into rd. */
static int64_t call(struct rfs_rs *rs, uint32_t type, const struct rfs_buf *req,
		    struct rfs_link_rd *rd)
{
	struct rfs_buf f = RFS_BUF_INIT;
	size_t start;
	uint64_t id;
	int rc;

	pthread_mutex_lock(&rs->lock);
	id = rs->next_id++;
	rs->want_id = id;
	rs->have = false;
	pthread_mutex_unlock(&rs->lock);
	rc = rfs_link_begin(&f, type, id, &start);
	if (!rc && req && req->len)
		rc = rfs_buf_append(&f, req->data, req->len);
	if (rc)
		lost(rc);
	rfs_link_end(&f, start);
	rc = rfs_rs_send(rs, f.data, f.len);
	rfs_buf_free(&f);
	if (rc)
		lost(rc);
	pthread_mutex_lock(&rs->lock);
	while (!rs->have)
		pthread_cond_wait(&rs->answered, &rs->lock);
	rs->want_id = 0;
	pthread_mutex_unlock(&rs->lock);
	/* Only this thread reads the answer until its next request. */
	rd->p = rs->answer.data;
	rd->left = rs->answer.len;
	rd->bad = false;
	return (int64_t)rfs_link_get_u64(rd);
}

/* A request whose payload is up to three u64 and whose answer is the rc alone. */
static int64_t call_u64(struct rfs_rs *rs, uint32_t type, uint64_t a)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_u64(&req, a))
		lost(-ENOMEM);
	rc = call(rs, type, &req, &rd);
	rfs_buf_free(&req);
	return rc;
}

uint64_t rfs_rs_self_seq(struct rfs_rs *rs)
{
	return (uint64_t)call_u64(rs, RFS_RQ_SELF_SEQ, 0);
}

uint64_t rfs_rs_node_applied(struct rfs_rs *rs, const char *node)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_str(&req, node))
		lost(-ENOMEM);
	rc = call(rs, RFS_RQ_NODE_APPLIED, &req, &rd);
	rfs_buf_free(&req);
	return (uint64_t)rc;
}

void rfs_rs_behind(struct rfs_rs *rs, uint64_t last, bool *behind, bool *fresh)
{
	int64_t v = call_u64(rs, RFS_RQ_BEHIND, last);

	*behind = v & 1;
	*fresh = v & 2;
}

void rfs_rs_raise_self_seq(struct rfs_rs *rs, uint64_t last)
{
	call_u64(rs, RFS_RQ_RAISE_SELF_SEQ, last);
}

void rfs_rs_journal_pos(struct rfs_rs *rs, uint64_t *size, uint64_t *last_seq)
{
	struct rfs_link_rd rd;

	call(rs, RFS_RQ_JOURNAL_POS, NULL, &rd);
	*size = rfs_link_get_u64(&rd);
	*last_seq = rfs_link_get_u64(&rd);
}

ssize_t rfs_rs_journal_read(struct rfs_rs *rs, uint64_t off, char *buf, size_t len)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	const char *data;
	size_t n;
	int64_t rc;

	if (rfs_link_put_u64(&req, off) || rfs_link_put_u64(&req, len))
		lost(-ENOMEM);
	rc = call(rs, RFS_RQ_JOURNAL_READ, &req, &rd);
	rfs_buf_free(&req);
	if (rc < 0)
		return (ssize_t)rc;
	data = rfs_link_get_bytes(&rd, &n);
	if (rd.bad || n > len)
		return -EPROTO;
	memcpy(buf, data, n);
	return (ssize_t)n;
}

long rfs_rs_apply_remote(struct rfs_rs *rs, const char *node, const char *buf, size_t len,
			 uint64_t skip_seq, bool *damaged)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_str(&req, node) || rfs_link_put_u64(&req, skip_seq) ||
	    rfs_link_put_bytes(&req, buf, len))
		lost(-ENOMEM);
	rc = call(rs, RFS_RQ_APPLY_REMOTE, &req, &rd);
	rfs_buf_free(&req);
	*damaged = rfs_link_get_u64(&rd) != 0;
	return (long)rc;
}

int rfs_rs_adopt(struct rfs_rs *rs, const char *snap, size_t snap_len, const char *own,
		 size_t own_len)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_bytes(&req, snap, snap_len) || rfs_link_put_bytes(&req, own, own_len))
		lost(-ENOMEM);
	rc = call(rs, RFS_RQ_ADOPT, &req, &rd);
	rfs_buf_free(&req);
	return (int)rc;
}

void rfs_rs_note_shipped(struct rfs_rs *rs, uint64_t seq)
{
	call_u64(rs, RFS_RQ_NOTE_SHIPPED, seq);
}

uint64_t rfs_rs_shipped(struct rfs_rs *rs)
{
	return (uint64_t)call_u64(rs, RFS_RQ_SHIPPED, 0);
}

int rfs_rs_incarnation(struct rfs_rs *rs, struct rfs_incarnation *inc)
{
	struct rfs_link_rd rd;
	int64_t rc = call(rs, RFS_RQ_INCARNATION, NULL, &rd);

	inc->floor = rfs_link_get_u64(&rd);
	inc->anchored = rfs_link_get_u64(&rd) != 0;
	return (int)rc;
}

int rfs_rs_renumber(struct rfs_rs *rs, uint64_t store_last)
{
	return (int)call_u64(rs, RFS_RQ_RENUMBER, store_last);
}

int rfs_rs_anchor(struct rfs_rs *rs)
{
	return (int)call_u64(rs, RFS_RQ_ANCHOR, 0);
}

static void put_pos(struct rfs_buf *req, const struct rfs_peer_pos *pos, size_t n)
{
	if (rfs_link_put_bytes(req, pos, n * sizeof(*pos)))
		lost(-ENOMEM);
}

int rfs_rs_checkpoint(struct rfs_rs *rs, const struct rfs_peer_pos *pos, size_t n, bool force)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_u64(&req, force))
		lost(-ENOMEM);
	put_pos(&req, pos, n);
	rc = call(rs, RFS_RQ_CHECKPOINT, &req, &rd);
	rfs_buf_free(&req);
	return (int)rc;
}

int rfs_rs_reset_journal(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			 size_t n)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	int64_t rc;

	if (rfs_link_put_u64(&req, shipped))
		lost(-ENOMEM);
	put_pos(&req, pos, n);
	rc = call(rs, RFS_RQ_RESET_JOURNAL, &req, &rd);
	rfs_buf_free(&req);
	return (int)rc;
}

void rfs_rs_drop_tombstones(struct rfs_rs *rs, uint64_t horizon)
{
	call_u64(rs, RFS_RQ_DROP_TOMBSTONES, horizon);
}

uint64_t rfs_rs_table_bytes(struct rfs_rs *rs)
{
	return (uint64_t)call_u64(rs, RFS_RQ_TABLE_BYTES, 0);
}

int rfs_rs_loaded_peers(struct rfs_rs *rs, struct rfs_peer_pos **pos, size_t *n)
{
	struct rfs_link_rd rd;
	const char *data;
	size_t len;
	int64_t rc = call(rs, RFS_RQ_LOADED_PEERS, NULL, &rd);

	*n = 0;
	*pos = NULL;
	if (rc < 0)
		return (int)rc;
	data = rfs_link_get_bytes(&rd, &len);
	if (rd.bad || len % sizeof(**pos))
		return -EPROTO;
	*pos = malloc(len ? len : 1);
	if (!*pos)
		return -ENOMEM;
	memcpy(*pos, data, len);
	*n = len / sizeof(**pos);
	return 0;
}

int rfs_rs_snapshot_encode(struct rfs_rs *rs, uint64_t shipped, const struct rfs_peer_pos *pos,
			   size_t n, const struct rfs_cover *prev, size_t nprev, uint64_t gen,
			   uint64_t horizon, struct rfs_buf *out, char *msg, size_t msglen)
{
	struct rfs_buf req = RFS_BUF_INIT;
	struct rfs_link_rd rd;
	const char *data;
	size_t len;
	int64_t rc;

	if (rfs_link_put_u64(&req, shipped) || rfs_link_put_u64(&req, gen) ||
	    rfs_link_put_u64(&req, horizon) ||
	    rfs_link_put_bytes(&req, prev, nprev * sizeof(*prev)))
		lost(-ENOMEM);
	put_pos(&req, pos, n);
	rc = call(rs, RFS_RQ_SNAPSHOT_ENCODE, &req, &rd);
	rfs_buf_free(&req);
	rfs_link_get_str(&rd, msg, msglen);
	data = rfs_link_get_bytes(&rd, &len);
	if (rd.bad)
		return -EPROTO;
	if (rc == 0 && rfs_buf_append(out, data, len))
		return -ENOMEM;
	return (int)rc;
}
