/*
 * The mount side's answers to the store side's requests (include/rmtabfs/recset.h,
 * rfs_rs_serve): each request frame is decoded, the local record set is called, and the
 * answer encoded (its rc first, then the function's results). The inverse of
 * fs/store/rsclient.c. No state of its own; called only by the link thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/link.h>
#include <rmtabfs/recset.h>

#define JOURNAL_READ_MAX (4u << 20)

static int answer(struct rfs_buf *out, int64_t rc)
{
	return rfs_link_put_u64(out, (uint64_t)rc);
}

/* The positions array of a request (a pointer into the payload, which is aligned). */
static const struct rfs_peer_pos *get_pos(struct rfs_link_rd *rd, size_t *n)
{
	size_t len;
	const char *p = rfs_link_get_bytes(rd, &len);

	if (len % sizeof(struct rfs_peer_pos))
		rd->bad = true;
	*n = len / sizeof(struct rfs_peer_pos);
	return (const struct rfs_peer_pos *)(const void *)p;
}

static int serve_journal_read(struct rfs_rs *rs, struct rfs_link_rd *rd, struct rfs_buf *out)
{
	uint64_t off = rfs_link_get_u64(rd), want = rfs_link_get_u64(rd);
	char *buf;
	ssize_t n;
	int rc;

	if (rd->bad)
		return -EPROTO;
	if (want > JOURNAL_READ_MAX)
		want = JOURNAL_READ_MAX;
	buf = malloc(want ? want : 1);
	if (!buf)
		return answer(out, -ENOMEM);
	n = rfs_rs_journal_read(rs, off, buf, want);
	rc = answer(out, n < 0 ? n : 0);
	if (!rc)
		rc = rfs_link_put_bytes(out, buf, n < 0 ? 0 : (size_t)n);
	free(buf);
	return rc;
}

static int serve_apply(struct rfs_rs *rs, struct rfs_link_rd *rd, struct rfs_buf *out)
{
	char node[RFS_NODE_MAX + 1];
	uint64_t skip;
	const char *ops;
	size_t len;
	bool damaged = false;
	long used;
	int rc;

	rfs_link_get_str(rd, node, sizeof(node));
	skip = rfs_link_get_u64(rd);
	ops = rfs_link_get_bytes(rd, &len);
	if (rd->bad)
		return -EPROTO;
	used = rfs_rs_apply_remote(rs, node, ops, len, skip, &damaged);
	rc = answer(out, used);
	return rc ? rc : rfs_link_put_u64(out, damaged);
}

static int serve_snapshot(struct rfs_rs *rs, struct rfs_link_rd *rd, struct rfs_buf *out)
{
	uint64_t shipped = rfs_link_get_u64(rd), gen = rfs_link_get_u64(rd);
	uint64_t horizon = rfs_link_get_u64(rd);
	struct rfs_buf snap = RFS_BUF_INIT;
	const struct rfs_cover *prev;
	const struct rfs_peer_pos *pos;
	size_t plen, n;
	char msg[200] = "";
	int rc;

	prev = (const struct rfs_cover *)(const void *)rfs_link_get_bytes(rd, &plen);
	pos = get_pos(rd, &n);
	if (rd->bad || plen % sizeof(*prev))
		return -EPROTO;
	rc = rfs_rs_snapshot_encode(rs, shipped, pos, n, prev, plen / sizeof(*prev), gen, horizon,
				    &snap, msg, sizeof(msg));
	rc = answer(out, rc);
	if (!rc)
		rc = rfs_link_put_str(out, msg);
	if (!rc)
		rc = rfs_link_put_bytes(out, snap.data ? snap.data : "", snap.len);
	rfs_buf_free(&snap);
	return rc;
}

static int serve_adopt(struct rfs_rs *rs, struct rfs_link_rd *rd, struct rfs_buf *out)
{
	size_t slen, olen;
	const char *snap = rfs_link_get_bytes(rd, &slen);
	const char *own = rfs_link_get_bytes(rd, &olen);

	if (rd->bad)
		return -EPROTO;
	return answer(out, rfs_rs_adopt(rs, snap, slen, own, olen));
}

static int serve_small(struct rfs_rs *rs, uint32_t type, struct rfs_link_rd *rd,
		       struct rfs_buf *out)
{
	struct rfs_incarnation inc;
	struct rfs_peer_pos *lp;
	char node[RFS_NODE_MAX + 1];
	uint64_t a, b;
	bool x, y;
	int rc;

	switch (type) {
	case RFS_RQ_SELF_SEQ:
		return answer(out, (int64_t)rfs_rs_self_seq(rs));
	case RFS_RQ_NODE_APPLIED:
		rfs_link_get_str(rd, node, sizeof(node));
		return answer(out, (int64_t)rfs_rs_node_applied(rs, node));
	case RFS_RQ_BEHIND:
		rfs_rs_behind(rs, rfs_link_get_u64(rd), &x, &y);
		return answer(out, (x ? 1 : 0) | (y ? 2 : 0));
	case RFS_RQ_RAISE_SELF_SEQ:
		rfs_rs_raise_self_seq(rs, rfs_link_get_u64(rd));
		return answer(out, 0);
	case RFS_RQ_JOURNAL_POS:
		rfs_rs_journal_pos(rs, &a, &b);
		rc = answer(out, 0);
		if (!rc)
			rc = rfs_link_put_u64(out, a);
		return rc ? rc : rfs_link_put_u64(out, b);
	case RFS_RQ_NOTE_SHIPPED:
		rfs_rs_note_shipped(rs, rfs_link_get_u64(rd));
		return answer(out, 0);
	case RFS_RQ_SHIPPED:
		return answer(out, (int64_t)rfs_rs_shipped(rs));
	case RFS_RQ_INCARNATION:
		rc = answer(out, rfs_rs_incarnation(rs, &inc));
		if (!rc)
			rc = rfs_link_put_u64(out, inc.floor);
		return rc ? rc : rfs_link_put_u64(out, inc.anchored);
	case RFS_RQ_RENUMBER:
		return answer(out, rfs_rs_renumber(rs, rfs_link_get_u64(rd)));
	case RFS_RQ_ANCHOR:
		return answer(out, rfs_rs_anchor(rs));
	case RFS_RQ_DROP_TOMBSTONES:
		rfs_rs_drop_tombstones(rs, rfs_link_get_u64(rd));
		return answer(out, 0);
	case RFS_RQ_TABLE_BYTES:
		return answer(out, (int64_t)rfs_rs_table_bytes(rs));
	case RFS_RQ_LOADED_PEERS:
		rc = rfs_rs_loaded_peers(rs, &lp, &a);
		if (rc)
			return answer(out, rc);
		rc = answer(out, 0);
		if (!rc)
			rc = rfs_link_put_bytes(out, lp, a * sizeof(*lp));
		free(lp);
		return rc;
	}
	return -EPROTO;
}

int rfs_rs_serve(struct rfs_rs *rs, uint32_t type, const char *payload, size_t len,
		 struct rfs_buf *out)
{
	struct rfs_link_rd rd = {.p = payload, .left = len, .bad = false};
	const struct rfs_peer_pos *pos;
	uint64_t a;
	size_t n;

	switch (type) {
	case RFS_RQ_JOURNAL_READ:
		return serve_journal_read(rs, &rd, out);
	case RFS_RQ_APPLY_REMOTE:
		return serve_apply(rs, &rd, out);
	case RFS_RQ_ADOPT:
		return serve_adopt(rs, &rd, out);
	case RFS_RQ_SNAPSHOT_ENCODE:
		return serve_snapshot(rs, &rd, out);
	case RFS_RQ_CHECKPOINT:
	case RFS_RQ_RESET_JOURNAL:
		a = rfs_link_get_u64(&rd);
		pos = get_pos(&rd, &n);
		if (rd.bad)
			return -EPROTO;
		if (type == RFS_RQ_CHECKPOINT)
			return answer(out, rfs_rs_checkpoint(rs, pos, n, a != 0));
		return answer(out, rfs_rs_reset_journal(rs, a, pos, n));
	}
	if (serve_small(rs, type, &rd, out) == -EPROTO || rd.bad)
		return -EPROTO;
	return 0;
}
