/*
 * Fuzz target: the op-line decoder (rfs_op_decode, fs/oplog.c) on arbitrary bytes.
 *
 * A random line almost never carries a right CRC-32C, so the first input byte picks a mode:
 * bit 0 set means "repair": the checksum field of every complete line that has one is
 * rewritten to the right value before decoding, which lets the fuzzer reach the field
 * parsers. The rest of the input is decoded line after line, as rfs_ops_scan does.
 *
 * Checks, besides "no crash, no leak, no hang" (ASan/UBSan/libFuzzer):
 *  - -EAGAIN exactly when no newline is left; otherwise the consumed length is the line's;
 *  - a decoded op has a key that passes rfs_key_check, valid node ids, seq >= 1, strings
 *    NUL-terminated at their lengths;
 *  - re-encoding the op (rfs_op_encode) gives a line that decodes to the same op, whose
 *    re-encoding is byte-identical (the encoding is canonical) and no longer than
 *    RFS_OP_LINE_MAX;
 *  - any proper prefix of that line (a torn write) is -EAGAIN, and one changed byte (damage
 *    chosen by the input) is refused or decodes to the very same op: damage never turns
 *    into a different record;
 *  - rfs_ops_scan over the same buffer sees the same ops and consumes the same bytes.
 */
#include <stdint.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/oplog.h>

#include "fuzz_common.h"

struct op_copy {
	uint64_t seq, time, born;
	uint32_t count;
	char node[RFS_NODE_MAX + 1], origin[RFS_NODE_MAX + 1];
	char client[RFS_CLIENT_MAX + 1], path[RFS_PATH_MAX + 1];
	size_t client_len, path_len;
};

static void op_save(struct op_copy *c, const struct rfs_op *op)
{
	c->seq = op->seq;
	c->time = op->time;
	c->born = op->born;
	c->count = op->count;
	snprintf(c->node, sizeof(c->node), "%s", op->node);
	snprintf(c->origin, sizeof(c->origin), "%s", op->origin);
	memcpy(c->client, op->client, op->client_len);
	c->client[op->client_len] = '\0';
	memcpy(c->path, op->path, op->path_len);
	c->path[op->path_len] = '\0';
	c->client_len = op->client_len;
	c->path_len = op->path_len;
}

static int op_same(const struct op_copy *c, const struct rfs_op *op)
{
	return c->seq == op->seq && c->time == op->time && c->born == op->born &&
	       c->count == op->count && strcmp(c->node, op->node) == 0 &&
	       strcmp(c->origin, op->origin) == 0 && c->client_len == op->client_len &&
	       memcmp(c->client, op->client, c->client_len) == 0 && c->path_len == op->path_len &&
	       memcmp(c->path, op->path, c->path_len) == 0;
}

static void check_op(const struct rfs_op *op, const char *what)
{
	struct rfs_parse_error err = {0};

	FZ_CHECK(rfs_key_check(op->client, op->client_len, op->path, op->path_len, &err) == 0,
		 "%s: key fails rfs_key_check: %s", what, err.reason);
	FZ_CHECK(strlen(op->client) == op->client_len && strlen(op->path) == op->path_len,
		 "%s: strings not NUL-terminated at their lengths", what);
	FZ_CHECK(rfs_node_id_valid(op->node) && rfs_node_id_valid(op->origin),
		 "%s: invalid node id '%s' / '%s'", what, op->node, op->origin);
	FZ_CHECK(op->seq >= 1, "%s: seq 0", what);
}

/* Rewrites the CRC field of each complete line that has the shape for one. */
static void repair_crcs(char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t ll;

		if (!nl)
			break;
		ll = (size_t)(nl - l) + 1;
		if (ll >= 11 && nl[-9] == ' ') {
			char hex[9];

			snprintf(hex, sizeof(hex), "%08x", rfs_crc32c(0, l, ll - 9));
			memcpy(nl - 8, hex, 8);
		}
		pos += ll;
	}
}

struct scan_ctx {
	struct op_copy *ops;
	size_t n, i;
};

static int scan_cb(void *p, const struct rfs_op *op)
{
	struct scan_ctx *sc = p;

	FZ_CHECK(sc->i < sc->n, "rfs_ops_scan delivers more ops (%zu) than decode found",
		 sc->i + 1);
	FZ_CHECK(op_same(&sc->ops[sc->i], op), "rfs_ops_scan op %zu differs", sc->i);
	sc->i++;
	return 0;
}

/* Encode, decode again, compare; tear it and damage it. */
static void round_trip(const struct rfs_op *op, const struct op_copy *orig, uint8_t dmg_pos,
		       uint8_t dmg_xor)
{
	struct rfs_buf line = RFS_BUF_INIT, line2 = RFS_BUF_INIT;
	struct rfs_op_scratch s;
	struct rfs_op op2, op3;
	size_t used = 0, k;
	long n;

	FZ_OK(rfs_op_encode(&line, op));
	FZ_CHECK(line.len <= RFS_OP_LINE_MAX, "encoded line of %zu bytes > RFS_OP_LINE_MAX %d",
		 line.len, (int)RFS_OP_LINE_MAX);
	FZ_CHECK(memchr(line.data, '\n', line.len) == line.data + line.len - 1,
		 "encoded line holds a newline before its end");
	n = rfs_op_decode(line.data, line.len, &op2, &s, &used);
	FZ_CHECK(n == (long)line.len && used == line.len,
		 "re-encoded line does not decode: %ld (len %zu): %s", n, line.len, line.data);
	check_op(&op2, "re-decoded");
	FZ_CHECK(op_same(orig, &op2), "re-decoded op differs: %s", line.data);
	FZ_OK(rfs_op_encode(&line2, &op2));
	FZ_CHECK(line.len == line2.len && memcmp(line.data, line2.data, line.len) == 0,
		 "encoding not canonical:\n  %s  %s", line.data, line2.data);

	/* Torn: every proper prefix, stepping so long lines stay cheap. */
	for (k = 0; k < line.len; k += 1 + k / 16) {
		n = rfs_op_decode(line.data, k, &op3, &s, NULL);
		FZ_CHECK(n == -EAGAIN, "prefix of %zu/%zu bytes decodes to %ld", k, line.len, n);
	}
	/* Damaged: one byte changed. */
	if (dmg_xor) {
		size_t at = dmg_pos % line.len;

		line.data[at] ^= (char)dmg_xor;
		n = rfs_op_decode(line.data, line.len, &op3, &s, &used);
		if (n > 0) {
			check_op(&op3, "damaged");
			FZ_CHECK(op_same(orig, &op3),
				 "a line with byte %zu changed decodes to a different op: %s", at,
				 line.data);
		} else {
			FZ_CHECK(n == -EBADMSG || n == -EAGAIN, "damaged line: %ld", n);
		}
	}
	rfs_buf_free(&line);
	rfs_buf_free(&line2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfs_op_scratch s;
	struct op_copy *ops;
	struct scan_ctx sc = {0};
	size_t pos = 0, nops = 0, len, nlf = 0, i, bad = 0, first_bad = 0, bad_seen = 0;
	size_t scan_first_bad = (size_t)-1;
	uint8_t mode, dmg_pos, dmg_xor;
	char *buf;
	long scanned;

	if (size < 1)
		return 0;
	mode = data[0];
	/* Damage parameters come from the mode byte so they do not disturb the text. */
	dmg_xor = (uint8_t)(mode & 0xfe);
	dmg_pos = (uint8_t)(size * 31 + mode);
	len = size - 1;
	/* An exact-size heap copy, so ASan sees any read past the end. */
	buf = malloc(len ? len : 1);
	FZ_CHECK(buf, "out of memory");
	memcpy(buf, data + 1, len);
	if (mode & 1)
		repair_crcs(buf, len);
	for (i = 0; i < len; i++)
		nlf += buf[i] == '\n';
	ops = calloc(nlf + 1, sizeof(*ops));
	FZ_CHECK(ops, "out of memory");

	while (pos < len) {
		struct rfs_op op;
		size_t used = (size_t)-1;
		const char *nl = memchr(buf + pos, '\n', len - pos);
		long n = rfs_op_decode(buf + pos, len - pos, &op, &s, &used);

		if (!nl) {
			FZ_CHECK(n == -EAGAIN, "no newline left, decode says %ld", n);
			break;
		}
		FZ_CHECK(n != -EAGAIN, "a newline is there, decode says -EAGAIN");
		FZ_CHECK(used == (size_t)(nl - buf - pos) + 1, "consumed %zu, line is %zu", used,
			 (size_t)(nl - buf - pos) + 1);
		if (n < 0) {
			FZ_CHECK(n == -EBADMSG, "decode returned %ld", n);
			if (bad_seen++ == 0)
				first_bad = pos;
			pos += used;
			continue;
		}
		FZ_CHECK((size_t)n == used, "returned %ld, consumed %zu", n, used);
		check_op(&op, "decoded");
		op_save(&ops[nops], &op);
		round_trip(&op, &ops[nops], dmg_pos, dmg_xor);
		nops++;
		pos += (size_t)n;
	}

	sc.ops = ops;
	sc.n = nops;
	scanned = rfs_ops_scan(buf, len, scan_cb, &sc, &bad, &scan_first_bad);
	FZ_CHECK(scanned == (long)pos, "rfs_ops_scan consumed %ld, decode loop %zu", scanned, pos);
	FZ_CHECK(sc.i == nops, "rfs_ops_scan delivered %zu ops, decode loop %zu", sc.i, nops);
	FZ_CHECK(bad == bad_seen, "rfs_ops_scan counts %zu damaged lines, decode loop %zu", bad,
		 bad_seen);
	FZ_CHECK(!bad || scan_first_bad == first_bad, "first damaged line at %zu, expected %zu",
		 scan_first_bad, first_bad);
	free(ops);
	free(buf);
	return 0;
}
