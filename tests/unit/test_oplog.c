/*
 * oplog: CRC-32C known answers; rfs_op_encode/rfs_op_decode round trips, escaping of spaces,
 * '%', tabs, control and non-ASCII bytes in client and path, the longest line; -EAGAIN for a
 * line torn at every length; -EBADMSG for every possible change of every single byte (never
 * a different op); lines with a valid checksum but a bad field (node ids, seq 0, counts,
 * numbers, escapes, keys); rfs_node_id_valid.
 */
#include "test.h"

#include <rmtabfs/oplog.h>

static void test_crc32c(void **state)
{
	/* The standard check value of CRC-32C (Castagnoli). */
	assert_int_equal(rfs_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(rfs_crc32c(0, "", 0), 0);
	/* Incremental use gives the same as one call. */
	assert_int_equal(rfs_crc32c(rfs_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_node_id_valid(void **state)
{
	char id[RFS_NODE_MAX + 2];

	assert_true(rfs_node_id_valid("a"));
	assert_true(rfs_node_id_valid("nfs-1.example_COM"));
	assert_true(rfs_node_id_valid("0"));
	memset(id, 'n', RFS_NODE_MAX);
	id[RFS_NODE_MAX] = '\0';
	assert_true(rfs_node_id_valid(id));
	id[RFS_NODE_MAX] = 'n';
	id[RFS_NODE_MAX + 1] = '\0';
	assert_false(rfs_node_id_valid(id));
	assert_false(rfs_node_id_valid(NULL));
	assert_false(rfs_node_id_valid(""));
	assert_false(rfs_node_id_valid("a/b"));
	assert_false(rfs_node_id_valid("a b"));
	assert_false(rfs_node_id_valid("a:b"));
	assert_false(rfs_node_id_valid("a%b"));
	assert_false(rfs_node_id_valid("a\nb"));
	assert_false(rfs_node_id_valid("caf\xc3\xa9"));
}

static struct rfs_op make_op(uint64_t seq, uint64_t time, const char *node, uint32_t count,
			     uint64_t born, const char *origin, const char *client, size_t cl,
			     const char *path, size_t pl)
{
	struct rfs_op op = {
		.seq = seq,
		.time = time,
		.born = born,
		.count = count,
		.node = node,
		.origin = origin,
		.client = client,
		.path = path,
		.client_len = cl,
		.path_len = pl,
	};

	return op;
}

static void expect_same_op(const struct rfs_op *a, const struct rfs_op *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->born, b->born);
	assert_int_equal(a->count, b->count);
	assert_string_equal(a->node, b->node);
	assert_string_equal(a->origin, b->origin);
	assert_int_equal(a->client_len, b->client_len);
	assert_memory_equal(a->client, b->client, a->client_len);
	assert_int_equal(a->path_len, b->path_len);
	assert_memory_equal(a->path, b->path, a->path_len);
	/* The decoder's strings are NUL-terminated. */
	assert_int_equal(b->client[b->client_len], '\0');
	assert_int_equal(b->path[b->path_len], '\0');
}

/* Encodes op, checks the line's shape, decodes it from an exact-size copy. */
static void round_trip(const struct rfs_op *op)
{
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_op_scratch s;
	struct rfs_op got;
	size_t consumed = 0, spaces = 0;
	char *copy;

	assert_int_equal(rfs_buf_append(&b, "prefix", 6), 0);
	assert_int_equal(rfs_op_encode(&b, op), 0);
	assert_memory_equal(b.data, "prefix", 6);
	assert_true(b.len - 6 <= RFS_OP_LINE_MAX);
	assert_int_equal(b.data[b.len - 1], '\n');
	assert_null(memchr(b.data + 6, '\n', b.len - 7));
	assert_null(memchr(b.data + 6, '\0', b.len - 6));
	assert_null(memchr(b.data + 6, '\t', b.len - 6));
	for (size_t i = 6; i < b.len; i++)
		spaces += b.data[i] == ' ';
	assert_int_equal(spaces, 9); /* ten fields */

	copy = test_memdup(b.data + 6, b.len - 6);
	assert_int_equal(rfs_op_decode(copy, b.len - 6, &got, &s, &consumed), (long)(b.len - 6));
	assert_int_equal(consumed, b.len - 6);
	expect_same_op(op, &got);
	free(copy);
	rfs_buf_free(&b);
}

static void test_round_trip(void **state)
{
	static const char path[] = "/p a%th/\tx\x01\x7f\x80\xc3\xa9\xff%25%";
	struct rfs_op op;

	op = make_op(1, 1700000000123456789ull, "n1", 1, 1700000000000000000ull, "n1", "10.0.0.1",
		     8, "/vol", 4);
	round_trip(&op);
	op = make_op(UINT64_MAX, UINT64_MAX, "node.x_Y-9", RFS_COUNT_MAX, UINT64_MAX, "o",
		     "fe80::1%eth0", 12, path, sizeof(path) - 1);
	round_trip(&op);
	/* Removals (count 0) and a born of 0 are valid. */
	op = make_op(7, 5, "a", 0, 0, "b", "a b\tc\xe2\x82\xac", 8, "/", 1);
	round_trip(&op);
}

static void test_escaping(void **state)
{
	struct rfs_op op = make_op(3, 4, "n", 2, 1, "m", "a b%c", 5, "/x\ty\x7f\xc3\xa9", 7);
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_op_encode(&b, &op), 0);
	/* Spaces, '%', tabs and DEL escaped as %XX; bytes above 0x7f kept as they are. */
	assert_non_null(strstr(b.data, " a%20b%25c /x%09y%7F\xc3\xa9 "));
	assert_int_equal(strncmp(b.data, "s 3 4 n 2 1 m ", 14), 0);
	rfs_buf_free(&b);
}

static void test_longest_line(void **state)
{
	char client[RFS_CLIENT_MAX], path[RFS_PATH_MAX], node[RFS_NODE_MAX + 1];
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_op op;
	size_t len;

	memset(client, ' ', sizeof(client));
	path[0] = '/';
	memset(path + 1, '%', sizeof(path) - 1);
	memset(node, 'n', RFS_NODE_MAX);
	node[RFS_NODE_MAX] = '\0';
	op = make_op(UINT64_MAX, UINT64_MAX, node, RFS_COUNT_MAX, UINT64_MAX, node, client,
		     sizeof(client), path, sizeof(path));
	assert_int_equal(rfs_op_encode(&b, &op), 0);
	len = b.len;
	rfs_buf_free(&b);
	/* The header's bound must hold for the longest line the encoder can write. */
	if (len > RFS_OP_LINE_MAX)
		fail_msg("longest op line is %zu bytes, RFS_OP_LINE_MAX says %d", len,
			 (int)RFS_OP_LINE_MAX);
	round_trip(&op);
}

static void test_two_lines(void **state)
{
	struct rfs_op a = make_op(1, 10, "n", 1, 10, "n", "c", 1, "/a", 2);
	struct rfs_op b2 = make_op(2, 11, "n", 2, 10, "n", "c", 1, "/b", 2);
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_op_scratch s;
	struct rfs_op got;
	size_t first;
	long n;

	assert_int_equal(rfs_op_encode(&b, &a), 0);
	first = b.len;
	assert_int_equal(rfs_op_encode(&b, &b2), 0);
	/* Only the first line is decoded; the return value says where the next starts. */
	n = rfs_op_decode(b.data, b.len, &got, &s, NULL);
	assert_int_equal(n, (long)first);
	expect_same_op(&a, &got);
	n = rfs_op_decode(b.data + first, b.len - first, &got, &s, NULL);
	assert_int_equal(n, (long)(b.len - first));
	expect_same_op(&b2, &got);
	rfs_buf_free(&b);
}

static void encode(struct rfs_buf *b, const struct rfs_op *op)
{
	b->len = 0;
	assert_int_equal(rfs_op_encode(b, op), 0);
}

static void test_torn(void **state)
{
	static const char path[] = "/vol/with space/%";
	struct rfs_op op = make_op(42, 1234567890123ull, "node-1", 3, 1234567000000ull, "node-2",
				   "fe80::1%eth0", 12, path, sizeof(path) - 1);
	struct rfs_buf b = RFS_BUF_INIT;

	encode(&b, &op);
	for (size_t len = 0; len < b.len; len++) {
		struct rfs_op_scratch s;
		struct rfs_op got;
		size_t consumed = 12345;
		char *copy = test_memdup(b.data, len);
		long n = rfs_op_decode(copy, len, &got, &s, &consumed);

		if (n != -EAGAIN)
			fail_msg("torn at %zu of %zu: got %ld", len, b.len, n);
		assert_int_equal(consumed, 12345); /* nothing consumed */
		free(copy);
	}
	rfs_buf_free(&b);
}

static void test_flipped_bytes(void **state)
{
	static const char path[] = "/vol/a b";
	struct rfs_op op = make_op(42, 1234567890123ull, "node-1", 3, 1234567000000ull, "node-2",
				   "10.1.2.3", 8, path, sizeof(path) - 1);
	struct rfs_buf b = RFS_BUF_INIT;
	unsigned tried = 0;

	encode(&b, &op);
	/* Every position, every other value a byte can take. */
	for (size_t pos = 0; pos < b.len; pos++) {
		for (unsigned mask = 1; mask < 256; mask++) {
			struct rfs_op_scratch s;
			struct rfs_op got;
			size_t consumed = 0;
			char *copy = test_memdup(b.data, b.len);
			long n;

			copy[pos] = (char)((unsigned char)copy[pos] ^ mask);
			n = rfs_op_decode(copy, b.len, &got, &s, &consumed);
			if (pos == b.len - 1) {
				/* The newline itself is gone: a torn line, not yet complete. */
				if (n != -EAGAIN)
					fail_msg("newline changed to %#x: got %ld",
						 (unsigned char)copy[pos], n);
			} else if (n != -EBADMSG) {
				fail_msg("byte %zu ('%c') changed to %#x: got %ld", pos,
					 b.data[pos], (unsigned char)copy[pos], n);
			} else if (consumed == 0 || consumed > b.len) {
				fail_msg("byte %zu: consumed %zu", pos, consumed);
			}
			free(copy);
			tried++;
		}
	}
	test_note("%u damaged lines refused", tried);
	rfs_buf_free(&b);
}

/* Appends " CRC\n" for whatever body, so that a field error is what the decoder meets. */
static long decode_sealed(const char *body)
{
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_op_scratch s;
	struct rfs_op got;
	long n;

	assert_int_equal(rfs_buf_printf(&b, "%s", body), 0);
	assert_int_equal(rfs_buf_printf(&b, "%08x\n", rfs_crc32c(0, b.data, b.len)), 0);
	n = rfs_op_decode(b.data, b.len, &got, &s, NULL);
	if (n > 0)
		assert_int_equal(n, (long)b.len);
	rfs_buf_free(&b);
	return n;
}

static void test_bad_fields(void **state)
{
	static const char *const bad[] = {
		"s 1 2 a/b 1 1 n c /p ",	/* node with '/' */
		"s 1 2 n 1 1 a/b c /p ",	/* origin with '/' */
		"s 1 2 n 1 1 n:x c /p ",	/* origin with ':' */
		"s 1 2  1 1 n c /p ",		/* empty node */
		"s 1 2 n%20 1 1 n c /p ",	/* escapes are not decoded in node ids */
		"s 0 2 n 1 1 n c /p ",		/* seq 0 */
		"s 1 2 n 4294967296 1 n c /p ", /* count above 0xffffffff */
		"s 1 2 n -1 1 n c /p ",
		"s 18446744073709551616 2 n 1 1 n c /p ", /* above UINT64_MAX */
		"s 1 2x n 1 1 n c /p ",
		"s 1 +2 n 1 1 n c /p ",
		"x 1 2 n 1 1 n c /p ",
		"ss 1 2 n 1 1 n c /p ",
		"s 1 2 n 1 1 n c ",	     /* no path */
		"s 1 2 n 1 1 n c /p extra ", /* one field too many */
		"s 1 2 n 1 1 n c /p  ",	     /* empty extra field */
		"s 1 2 n 1 1 n c%G0 /p ",    /* bad escape */
		"s 1 2 n 1 1 n c%2 /p ",     /* cut escape */
		"s 1 2 n 1 1 n c /p% ",
		"s 1 2 n 1 1 n c%0A /p ",  /* newline in the client */
		"s 1 2 n 1 1 n c%00 /p ",  /* NUL in the client */
		"s 1 2 n 1 1 n c /p%0Aq ", /* newline in the path */
		"s 1 2 n 1 1 n c;d /p ",   /* ';' in the client */
		"s 1 2 n 1 1 n c p ",	   /* relative path */
		"s 1 2 n 1 1 n c %2Fp%00 ",
	};
	char node[RFS_NODE_MAX + 2], body[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = decode_sealed(bad[i]);

		if (n != -EBADMSG)
			fail_msg("'%s' decoded to %ld", bad[i], n);
	}
	/* The same shape with good fields does decode: the refusals above are the fields. */
	assert_true(decode_sealed("s 1 2 n 4294967295 1 n c%3Ad /p ") > 0);
	assert_true(decode_sealed("s 18446744073709551615 2 n 0 0 n c %2Fp%25 ") > 0);

	/* Node ids of 64 and 65 characters. */
	memset(node, 'n', RFS_NODE_MAX + 1);
	node[RFS_NODE_MAX] = '\0';
	snprintf(body, sizeof(body), "s 1 2 %s 1 1 n c /p ", node);
	assert_true(decode_sealed(body) > 0);
	node[RFS_NODE_MAX] = 'n';
	node[RFS_NODE_MAX + 1] = '\0';
	snprintf(body, sizeof(body), "s 1 2 %s 1 1 n c /p ", node);
	assert_int_equal(decode_sealed(body), -EBADMSG);
	snprintf(body, sizeof(body), "s 1 2 n 1 1 %s c /p ", node);
	assert_int_equal(decode_sealed(body), -EBADMSG);
}

static void test_bad_client_length(void **state)
{
	struct rfs_buf b = RFS_BUF_INIT;
	long n;

	/* 256 client bytes once unescaped: one more than the scratch and MNTNAMLEN allow. */
	assert_int_equal(rfs_buf_printf(&b, "s 1 2 n 1 1 n "), 0);
	for (int i = 0; i < RFS_CLIENT_MAX + 1; i++)
		assert_int_equal(rfs_buf_append(&b, "%41", 3), 0);
	assert_int_equal(rfs_buf_printf(&b, " /p "), 0);
	n = decode_sealed(b.data);
	assert_int_equal(n, -EBADMSG);
	rfs_buf_free(&b);

	/* Path of 1025 bytes. */
	assert_int_equal(rfs_buf_printf(&b, "s 1 2 n 1 1 n c /"), 0);
	for (int i = 0; i < RFS_PATH_MAX; i++)
		assert_int_equal(rfs_buf_append(&b, "p", 1), 0);
	assert_int_equal(rfs_buf_printf(&b, " "), 0);
	assert_int_equal(decode_sealed(b.data), -EBADMSG);
	rfs_buf_free(&b);
}

static void test_bad_crc_field(void **state)
{
	struct rfs_op_scratch s;
	struct rfs_op got;
	static const char *const lines[] = {
		"\n",
		"s\n",
		"s 1 2 n 1 1 n c /p 1234567\n", /* seven digits */
		"s 1 2 n 1 1 n c /p123456789\n",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(rfs_op_decode(lines[i], strlen(lines[i]), &got, &s, NULL),
				 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),	      cmocka_unit_test(test_node_id_valid),
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_longest_line),  cmocka_unit_test(test_two_lines),
		cmocka_unit_test(test_torn),	      cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_bad_fields),    cmocka_unit_test(test_bad_client_length),
		cmocka_unit_test(test_bad_crc_field),
	};

	return cmocka_run_group_tests_name("oplog", tests, NULL, NULL);
}
