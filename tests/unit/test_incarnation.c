/*
 * incarnation: the file's text (round trip, every damaged form refused); the floor of a new
 * incarnation (above the clock and everything known, never 0); the conflict rule (only an
 * unanchored incarnation below the store's last op); renumbering op lines (fields and
 * order kept, checksums valid, sequence numbers contiguous from the floor, damaged lines
 * dropped); and the core's choice at open: a new state directory starts above the clock,
 * one without its checkpoint starts a new incarnation whose journal is renumbered above
 * everything before, an intact one keeps its numbering, an earlier version's is kept as is.
 */
#include "test.h"

#include <time.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/core.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>
#include <rmtabfs/oplog.h>

static void test_file_round_trip(void **state)
{
	struct rfs_incarnation in = {.floor = 1764700000123456789ull, .anchored = true}, out;
	struct rfs_buf b = RFS_BUF_INIT;

	(void)state;
	assert_int_equal(rfs_incarnation_encode(&b, &in), 0);
	assert_int_equal(rfs_incarnation_parse(b.data, b.len, &out), 0);
	assert_true(out.floor == in.floor);
	assert_true(out.anchored);
	in.anchored = false;
	in.floor = 0;
	rfs_buf_resize(&b, 0);
	assert_int_equal(rfs_incarnation_encode(&b, &in), 0);
	assert_int_equal(rfs_incarnation_parse(b.data, b.len, &out), 0);
	assert_true(out.floor == 0 && !out.anchored);
	/* Every prefix is incomplete: refused (a torn write cannot pass for a floor). */
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(rfs_incarnation_parse(b.data, i, &out), -EBADMSG);
	rfs_buf_free(&b);
}

static void test_file_damaged(void **state)
{
	static const char *bad[] = {
		"",
		"rmtabfs-incarnation 2\nfloor 5\nanchored 1\n",
		"rmtabfs-incarnation 1\nfloor x\nanchored 1\n",
		"rmtabfs-incarnation 1\nfloor 5\nanchored 2\n",
		"rmtabfs-incarnation 1\nfloor 5\nanchored 1\nextra\n",
		"rmtabfs-incarnation 1\nanchored 1\nfloor 5\n",
	};
	struct rfs_incarnation out;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(rfs_incarnation_parse(bad[i], strlen(bad[i]), &out), -EBADMSG);
}

static void test_floor(void **state)
{
	struct rfs_incarnation inc = {.floor = 100, .anchored = false};

	(void)state;
	assert_true(rfs_incarnation_floor(1000, 5) == 1000);
	/* Clock behind what is known (set back): above the known one. */
	assert_true(rfs_incarnation_floor(1000, 5000) == 5000);
	assert_true(rfs_incarnation_floor(0, 0) == 1);
	assert_false(rfs_incarnation_conflict(&inc, 100));
	assert_true(rfs_incarnation_conflict(&inc, 101));
	inc.anchored = true;
	assert_false(rfs_incarnation_conflict(&inc, 1u << 30));
}

static void add_op(struct rfs_buf *b, uint64_t seq, const char *client, uint32_t count)
{
	struct rfs_op op = {.seq = seq,
			    .time = 1000 + seq,
			    .born = 7,
			    .count = count,
			    .node = "n1",
			    .origin = "n2",
			    .client = client,
			    .client_len = strlen(client),
			    .path = "/export/a b",
			    .path_len = 11};

	assert_int_equal(rfs_op_encode(b, &op), 0);
}

struct collect {
	uint64_t seq[8];
	char client[8][32];
	uint32_t count[8];
	size_t n;
};

static int collect_one(void *p, const struct rfs_op *op)
{
	struct collect *c = p;

	assert_true(c->n < 8);
	c->seq[c->n] = op->seq;
	snprintf(c->client[c->n], sizeof(c->client[0]), "%s", op->client);
	c->count[c->n] = op->count;
	assert_string_equal(op->node, "n1");
	assert_string_equal(op->origin, "n2");
	assert_true(op->born == 7);
	assert_string_equal(op->path, "/export/a b");
	c->n++;
	return 0;
}

static void test_renumber(void **state)
{
	struct rfs_buf in = RFS_BUF_INIT, out = RFS_BUF_INIT;
	struct collect c = {0};
	size_t bad = 0;

	(void)state;
	add_op(&in, 3, "h1", 1);
	add_op(&in, 4, "h2", 0);
	rfs_buf_append(&in, "s garbage line\n", 15); /* damaged: dropped */
	add_op(&in, 9, "h3", 5);
	assert_int_equal(rfs_ops_renumber(in.data, in.len, 1000000, &out), 3);
	assert_true(rfs_ops_scan(out.data, out.len, collect_one, &c, &bad, NULL) == (long)out.len);
	assert_int_equal(bad, 0);
	assert_int_equal(c.n, 3);
	assert_true(c.seq[0] == 1000001 && c.seq[1] == 1000002 && c.seq[2] == 1000003);
	assert_string_equal(c.client[0], "h1");
	assert_string_equal(c.client[1], "h2");
	assert_string_equal(c.client[2], "h3");
	assert_true(c.count[0] == 1 && c.count[1] == 0 && c.count[2] == 5);
	/* Nothing in, nothing out. */
	rfs_buf_resize(&out, 0);
	assert_int_equal(rfs_ops_renumber("", 0, 5, &out), 0);
	assert_int_equal(out.len, 0);
	rfs_buf_free(&in);
	rfs_buf_free(&out);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int first_seq(void *p, const struct rfs_op *op)
{
	uint64_t *first = p;

	if (!*first)
		*first = op->seq;
	return 0;
}

static uint64_t journal_first_seq(int dirfd)
{
	size_t len;
	char *text = test_read_file(dirfd, "journal", &len);
	uint64_t first = 0;

	rfs_ops_scan(text, len, first_seq, &first, NULL, NULL);
	free(text);
	return first;
}

static void test_core_open(void **state)
{
	struct rfs_core c;
	struct rfs_incarnation inc;
	char dir[4096];
	uint64_t before, floor1, last1;
	int dirfd;

	(void)state;
	test_mkdtemp(dir, sizeof(dir));
	/* A new state directory: above the clock, not anchored. */
	before = now_ns();
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor >= before);
	assert_false(inc.anchored);
	floor1 = inc.floor;
	assert_true(c.table.self_seq == floor1);
	assert_int_equal(rfs_core_set(&c, "h1", "/a", 1, false), 0);
	assert_int_equal(rfs_core_set(&c, "h2", "/a", 1, false), 0);
	last1 = c.table.self_seq;
	assert_true(last1 == floor1 + 2);
	rfs_core_close(&c);

	/* Intact (checkpoint written at the incarnation's start): numbering goes on. */
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor == floor1 && !inc.anchored);
	assert_true(c.table.self_seq == last1);
	assert_int_equal(rfs_core_anchor(&c), 0);
	rfs_core_close(&c);
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.anchored);
	rfs_core_close(&c);

	/* Checkpoint lost: a new incarnation, the journal renumbered above the old one. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(unlinkat(dirfd, "view", 0), 0);
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor >= last1 && !inc.anchored);
	assert_true(c.table.self_seq == inc.floor + 2);
	assert_true(journal_first_seq(dirfd) == inc.floor + 1);
	assert_int_equal(c.table.nlive, 2);
	/* The store shows more of ours (clock set back): renumbered above it. */
	assert_int_equal(rfs_core_renumber(&c, inc.floor + 1000000000000ull), 0);
	floor1 = inc.floor + 1000000000000ull;
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor >= floor1);
	assert_true(journal_first_seq(dirfd) == inc.floor + 1);
	assert_true(c.table.self_seq == inc.floor + 2);
	assert_int_equal(rfs_core_set(&c, "h3", "/a", 1, false), 0);
	assert_true(c.table.self_seq == inc.floor + 3);
	rfs_core_close(&c);

	/* Everything lost: above the clock again. */
	close(dirfd);
	test_rmtree(dir);
	test_mkdtemp(dir, sizeof(dir));
	before = now_ns();
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor >= before && c.table.self_seq == inc.floor);
	rfs_core_close(&c);

	/* An earlier version's state directory (no incarnation file): kept as it was. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(unlinkat(dirfd, "incarnation", 0), 0);
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor == 0 && inc.anchored);
	rfs_core_close(&c);
	close(dirfd);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_round_trip), cmocka_unit_test(test_file_damaged),
		cmocka_unit_test(test_floor),		cmocka_unit_test(test_renumber),
		cmocka_unit_test(test_core_open),
	};

	rfs_log_init("test", false, LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
