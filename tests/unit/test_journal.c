/*
 * journal: in a temporary directory, appends then reopens (replay gives every op in order,
 * last_seq, ops, size); the crash test (the last line torn at every byte offset: replay
 * gives exactly the ops before it, the tail is cut, a new append reopens cleanly); a damaged
 * middle line skipped and counted; another node's ops refused; sequence numbers continuing
 * after reopen and reset; a journal larger than the replay buffer; rfs_journal_read; a
 * failed append leaving the file as it was; rfs_ops_scan directly.
 */
#include "test.h"

#include <rmtabfs/buf.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>

struct fixture {
	char dir[4096];
	int dirfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_mkdtemp(f->dir, sizeof(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dirfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->dirfd);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* The op with sequence number seq of node: its fields all derive from seq. */
static struct rfs_op nth_op(const char *node, uint64_t seq, char *client, char *path)
{
	struct rfs_op op = {
		.seq = seq,
		.time = 1000000 + seq * 7,
		.born = 1000000 + seq,
		.count = (uint32_t)(seq % 5),
		.node = node,
		.origin = seq % 2 ? node : "other",
	};

	sprintf(client, "10.0.%llu.%llu", (unsigned long long)(seq / 256),
		(unsigned long long)(seq % 256));
	sprintf(path, "/vol/with space/%llu%%", (unsigned long long)seq);
	op.client = client;
	op.client_len = strlen(client);
	op.path = path;
	op.path_len = strlen(path);
	return op;
}

/* Encodes ops first..last of node into b; ends[i] gets the end offset of each line. */
static void encode_ops(struct rfs_buf *b, const char *node, uint64_t first, uint64_t last,
		       size_t *ends)
{
	for (uint64_t s = first; s <= last; s++) {
		char client[64], path[128];
		struct rfs_op op = nth_op(node, s, client, path);

		assert_int_equal(rfs_op_encode(b, &op), 0);
		if (ends)
			ends[s - first] = b->len;
	}
}

/* Replay collector: checks every op is the expected one for its sequence number. */
struct collect {
	uint64_t seqs[20000];
	size_t n;
	int fail_at; /* return an error at this op (0: never) */
};

static int collect(void *ctx, const struct rfs_op *op)
{
	struct collect *c = ctx;
	char client[64], path[128];
	struct rfs_op want = nth_op("n1", op->seq, client, path);

	if (c->fail_at && (size_t)c->fail_at == c->n + 1)
		return -ENOSPC;
	assert_true(c->n < sizeof(c->seqs) / sizeof(c->seqs[0]));
	assert_int_equal(op->time, want.time);
	assert_int_equal(op->born, want.born);
	assert_int_equal(op->count, want.count);
	assert_string_equal(op->node, "n1");
	assert_string_equal(op->origin, want.origin);
	assert_string_equal(op->client, want.client);
	assert_string_equal(op->path, want.path);
	c->seqs[c->n++] = op->seq;
	return 0;
}

static void expect_seqs(const struct collect *c, const uint64_t *want, size_t n)
{
	assert_int_equal(c->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->seqs[i], want[i]);
}

static void expect_range(const struct collect *c, uint64_t first, uint64_t last)
{
	assert_int_equal(c->n, last - first + 1);
	for (size_t i = 0; i < c->n; i++)
		assert_int_equal(c->seqs[i], first + i);
}

/* The preallocated layout: the file goes on past size, and only zeros follow the lines. */
static void expect_zeros_after(int dirfd, off_t size)
{
	size_t len;
	char *content = test_read_file(dirfd, "journal", &len);

	assert_true(len >= (size_t)size);
	for (size_t i = (size_t)size; i < len; i++)
		if (content[i])
			fail_msg("byte %zu of %zu after the lines (%lld) is %#x, not 0", i, len,
				 (long long)size, (unsigned char)content[i]);
	free(content);
}

/* The same, and the lines are exactly data. */
static void expect_file(int dirfd, const void *data, size_t size)
{
	size_t len;
	char *content = test_read_file(dirfd, "journal", &len);

	assert_true(len >= size);
	assert_memory_equal(content, data, size);
	free(content);
	expect_zeros_after(dirfd, (off_t)size);
}

static void test_append_reopen(void **state)
{
	struct fixture *f = *state;
	struct rfs_journal j;
	struct rfs_buf b = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	char buf[64];

	assert_non_null(c);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	assert_int_equal(j.size, 0);
	assert_int_equal(j.last_seq, 0);
	assert_int_equal(j.ops, 0);
	assert_int_equal(c->n, 0);

	encode_ops(&b, "n1", 1, 3, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 3, 3), 0);
	assert_int_equal(j.size, (off_t)b.len);
	b.len = 0;
	encode_ops(&b, "n1", 4, 5, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 5, 2), 0);
	assert_int_equal(j.last_seq, 5);
	assert_int_equal(j.ops, 5);
	expect_zeros_after(f->dirfd, j.size);

	/* What was written reads back from any offset. */
	assert_int_equal(rfs_journal_read(&j, 0, buf, 2), 2);
	assert_memory_equal(buf, "s ", 2);
	/* Past the lines: the preallocated zeros. */
	assert_int_equal(rfs_journal_read(&j, j.size, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	rfs_journal_close(&j);
	assert_int_equal(j.fd, -1);
	rfs_journal_close(&j); /* twice is harmless */

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_range(c, 1, 5);
	assert_int_equal(j.last_seq, 5);
	assert_int_equal(j.ops, 5);
	expect_zeros_after(f->dirfd, j.size);
	rfs_journal_close(&j);

	/* No callback: still counts. */
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_int_equal(j.last_seq, 5);
	assert_int_equal(j.ops, 5);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	free(c);
}

static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	size_t ends[6], last_start;
	struct collect *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	encode_ops(&b, "n1", 1, 6, ends);
	last_start = ends[4];
	/* The torn-tail warning would repeat once per offset. */
	rfs_log_set_level(LOG_ERR);
	for (size_t cut = last_start; cut < b.len; cut++) {
		struct rfs_journal j;
		struct rfs_buf more = RFS_BUF_INIT;
		size_t bad = 0;
		char *content;
		size_t len;

		test_write_file(f->dirfd, "journal", b.data, cut);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		/* Exactly the complete ops, never a piece of the torn one. */
		expect_range(c, 1, 5);
		assert_int_equal(j.last_seq, 5);
		assert_int_equal(j.ops, 5);
		assert_int_equal(j.size, (off_t)last_start);
		expect_file(f->dirfd, b.data, last_start);

		/* The op is written again (it was never acknowledged) and all reopens cleanly. */
		encode_ops(&more, "n1", 6, 6, NULL);
		assert_int_equal(rfs_journal_append(&j, more.data, more.len, 6, 1), 0);
		rfs_journal_close(&j);
		expect_file(f->dirfd, b.data, b.len);
		content = test_read_file(f->dirfd, "journal", &len);
		assert_int_equal(rfs_ops_scan(content, len, NULL, NULL, &bad, NULL), (long)b.len);
		assert_int_equal(bad, 0);
		free(content);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		expect_range(c, 1, 6);
		rfs_journal_close(&j);
		rfs_buf_free(&more);
	}
	rfs_log_set_level(LOG_NOTICE);
	rfs_buf_free(&b);
	free(c);
}

static void test_damaged_middle(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	size_t ends[5], bad = 0, first_bad = 0;
	struct collect *c = calloc(1, sizeof(*c));
	static const uint64_t want[] = {1, 2, 4, 5};
	struct rfs_journal j;

	assert_non_null(c);
	encode_ops(&b, "n1", 1, 5, ends);
	b.data[ends[1] + 10] ^= 0x04; /* inside line 3 */
	test_write_file(f->dirfd, "journal", b.data, b.len);
	assert_int_equal(rfs_ops_scan(b.data, b.len, NULL, NULL, &bad, &first_bad), (long)b.len);
	assert_int_equal(bad, 1);
	assert_int_equal(first_bad, ends[1]);

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_seqs(c, want, 4);
	assert_int_equal(j.ops, 4);
	assert_int_equal(j.last_seq, 5);
	/* The damaged line stays (it is evidence), the file is not cut. */
	assert_int_equal(j.size, (off_t)b.len);
	expect_file(f->dirfd, b.data, b.len);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	free(c);
}

static void test_foreign_ops(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_journal j;

	encode_ops(&b, "n1", 1, 2, NULL);
	encode_ops(&b, "n2", 3, 3, NULL);
	test_write_file(f->dirfd, "journal", b.data, b.len);
	rfs_log_set_level(LOG_CRIT); /* the refusal is logged; expected here */
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), -EINVAL);
	rfs_log_set_level(LOG_NOTICE);
	assert_int_equal(j.fd, -1);
	/* Nothing was cut or changed. */
	assert_int_equal(test_file_size(f->dirfd, "journal"), (off_t)b.len);
	rfs_buf_free(&b);
}

static void test_callback_error(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;

	assert_non_null(c);
	encode_ops(&b, "n1", 1, 4, NULL);
	test_write_file(f->dirfd, "journal", b.data, b.len);
	c->fail_at = 3;
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), -ENOSPC);
	assert_int_equal(j.fd, -1);
	expect_range(c, 1, 2);
	rfs_buf_free(&b);
	free(c);
}

static void test_seq_continues(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;

	assert_non_null(c);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	encode_ops(&b, "n1", 1, 7, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 7, 7), 0);
	rfs_journal_close(&j);

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_int_equal(j.last_seq, 7);
	/* The next op continues from last_seq. */
	b.len = 0;
	encode_ops(&b, "n1", j.last_seq + 1, j.last_seq + 1, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 8, 1), 0);

	/* Reset empties the file, but the sequence goes on. */
	assert_int_equal(rfs_journal_reset(&j), 0);
	assert_int_equal(j.size, 0);
	assert_int_equal(j.ops, 0);
	assert_int_equal(j.last_seq, 8);
	expect_zeros_after(f->dirfd, 0);
	assert_int_equal(test_file_size(f->dirfd, "journal"), RFS_JOURNAL_SEGMENT);
	b.len = 0;
	encode_ops(&b, "n1", 9, 10, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 10, 2), 0);
	assert_int_equal(j.size, (off_t)b.len);
	rfs_journal_close(&j);

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_range(c, 9, 10);
	assert_int_equal(j.last_seq, 10);
	assert_int_equal(j.ops, 2);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	free(c);
}

static void test_large(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;
	uint64_t n = 20000;

	/* More than the 1 MiB replay buffer, so lines straddle its refills. */
	assert_non_null(c);
	encode_ops(&b, "n1", 1, n, NULL);
	assert_true(b.len > (1u << 20) + (1u << 18));
	test_write_file(f->dirfd, "journal", b.data, b.len - 5); /* and a torn tail */
	rfs_log_set_level(LOG_ERR);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	rfs_log_set_level(LOG_NOTICE);
	expect_range(c, 1, n - 1);
	assert_int_equal(j.last_seq, n - 1);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	free(c);
}

/*
 * A damaged run without any newline longer than the replay buffer (a disk that lost a region
 * to zeros): one damaged line if a newline ends it, a torn tail if the file ends first. The
 * acknowledged ops after it must survive either way, whatever the run's length around 1 MiB.
 */
static void test_long_damaged_run(void **state)
{
	static const size_t runs[] = {1000,	      (1u << 20) - 300, (1u << 20) - 1, 1u << 20,
				      (1u << 20) + 1, 3u << 19,		5u << 20};
	struct fixture *f = *state;
	struct rfs_buf a = RFS_BUF_INIT, b = RFS_BUF_INIT, file = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	encode_ops(&a, "n1", 1, 3, NULL);
	encode_ops(&b, "n1", 4, 5, NULL);
	rfs_log_set_level(LOG_CRIT);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		struct rfs_journal j;
		size_t bad = 0, first_bad = 0;

		/* A, the run and its newline, B: B is kept, the run is one damaged line. */
		file.len = 0;
		assert_int_equal(rfs_buf_append(&file, a.data, a.len), 0);
		assert_int_equal(rfs_buf_resize(&file, a.len + runs[i]), 0);
		assert_int_equal(rfs_buf_append(&file, "\n", 1), 0);
		assert_int_equal(rfs_buf_append(&file, b.data, b.len), 0);
		assert_int_equal(rfs_ops_scan(file.data, file.len, NULL, NULL, &bad, &first_bad),
				 (long)file.len);
		assert_int_equal(bad, 1);
		assert_int_equal(first_bad, a.len);
		test_write_file(f->dirfd, "journal", file.data, file.len);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		if (c->n != 5)
			fail_msg("run of %zu bytes: %zu ops replayed, want 5", runs[i], c->n);
		expect_range(c, 1, 5);
		assert_int_equal(j.last_seq, 5);
		assert_int_equal(j.size, (off_t)file.len);
		expect_file(f->dirfd, file.data, file.len);
		rfs_journal_close(&j);

		/* A and the run up to the end of the file: a torn tail, cut where it starts. */
		test_write_file(f->dirfd, "journal", file.data, a.len + runs[i]);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		expect_range(c, 1, 3);
		assert_int_equal(j.size, (off_t)a.len);
		expect_file(f->dirfd, a.data, a.len);
		/* And the next append lands cleanly after A. */
		assert_int_equal(rfs_journal_append(&j, b.data, b.len, 5, 2), 0);
		rfs_journal_close(&j);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		expect_range(c, 1, 5);
		rfs_journal_close(&j);
	}
	rfs_log_set_level(LOG_NOTICE);
	rfs_buf_free(&a);
	rfs_buf_free(&b);
	rfs_buf_free(&file);
	free(c);
}

static void test_failed_append(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_journal j;
	off_t size;
	int rw;

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	encode_ops(&b, "n1", 1, 2, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 2, 2), 0);
	size = j.size;
	/* A descriptor that cannot write: the append fails and changes nothing. */
	rw = j.fd;
	j.fd = openat(f->dirfd, "journal", O_RDONLY | O_CLOEXEC);
	assert_true(j.fd >= 0);
	b.len = 0;
	encode_ops(&b, "n1", 3, 3, NULL);
	rfs_log_set_level(LOG_CRIT);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 3, 1), -EBADF);
	rfs_log_set_level(LOG_NOTICE);
	assert_int_equal(j.size, size);
	assert_int_equal(j.last_seq, 2);
	assert_int_equal(j.ops, 2);
	expect_zeros_after(f->dirfd, size);
	close(j.fd);
	j.fd = rw;
	/* The good descriptor appends at the same place. */
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 3, 1), 0);
	rfs_journal_close(&j);
	rfs_buf_free(&b);

	/* A state directory that cannot be opened at all. */
	assert_int_equal(rfs_journal_open(&j, -1, "n1", NULL, NULL), -EBADF);
}

static int count_ops(void *ctx, const struct rfs_op *op)
{
	(*(size_t *)ctx)++;
	return 0;
}

static int stop_at_two(void *ctx, const struct rfs_op *op)
{
	return op->seq == 2 ? -E2BIG : 0;
}

static void test_ops_scan(void **state)
{
	struct rfs_buf b = RFS_BUF_INIT;
	size_t ends[3], bad = 0, first_bad = 99, n = 0;

	encode_ops(&b, "n1", 1, 3, ends);
	/* A torn tail is left for later: consumed stops at the last complete line. */
	assert_int_equal(rfs_ops_scan(b.data, b.len - 1, count_ops, &n, &bad, &first_bad),
			 (long)ends[1]);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	assert_int_equal(first_bad, 99);
	/* Two damaged lines: both counted, the first one's offset kept. */
	b.data[3] ^= 1;
	b.data[ends[1] + 3] ^= 1;
	n = 0;
	assert_int_equal(rfs_ops_scan(b.data, b.len, count_ops, &n, &bad, &first_bad), (long)b.len);
	assert_int_equal(n, 1);
	assert_int_equal(bad, 2);
	assert_int_equal(first_bad, 0);
	b.data[3] ^= 1;
	b.data[ends[1] + 3] ^= 1;
	/* The callback's error stops the scan. */
	assert_int_equal(rfs_ops_scan(b.data, b.len, stop_at_two, NULL, NULL, NULL), -E2BIG);
	assert_int_equal(rfs_ops_scan(b.data, 0, count_ops, &n, NULL, NULL), 0);
	rfs_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_damaged_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_append, setup, teardown),
		cmocka_unit_test(test_ops_scan),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
