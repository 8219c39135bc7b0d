/*
 * journal: in a temporary directory, appends then reopens (replay gives every op in order,
 * last_seq, ops, size); the crash test (the last line torn at every byte offset: replay
 * gives exactly the ops before it, the tail is cut, a new append reopens cleanly); a damaged
 * middle line skipped and counted; another node's ops refused; sequence numbers continuing
 * after reopen and reset; a journal larger than the replay buffer; rfs_journal_read; a
 * failed append leaving the file as it was; rfs_ops_scan directly. The preallocated layout:
 * lines then zeros in whole segments, overwritten in place; a crash at every byte of it (and
 * of a journal of the previous version, without zeros); a write torn out of order; write,
 * sync and publish apart (group commit: one sync covers every write before it; threads
 * committing as the daemon does); durability=batch (published at once, synced by the timer,
 * the unclean-run marker); replace.
 */
#include "test.h"

#include <pthread.h>

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

/* Number of complete lines (ends[]) at or before cut. */
static size_t lines_before(const size_t *ends, size_t n, size_t cut)
{
	size_t k = 0;

	while (k < n && ends[k] <= cut)
		k++;
	return k;
}

/*
 * Layout: a new journal is one zeroed segment; commits overwrite it in place (the size does
 * not change) until a commit needs more, then it grows by whole zeroed segments.
 */
static void test_prealloc_layout(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT, all = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;
	uint64_t seq = 0;

	assert_non_null(c);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_int_equal(test_file_size(f->dirfd, "journal"), RFS_JOURNAL_SEGMENT);
	expect_zeros_after(f->dirfd, 0);
	for (int i = 0; i < 10; i++) {
		b.len = 0;
		encode_ops(&b, "n1", seq + 1, seq + 3, NULL);
		seq += 3;
		assert_int_equal(rfs_journal_append(&j, b.data, b.len, seq, 3), 0);
		assert_int_equal(rfs_buf_append(&all, b.data, b.len), 0);
		assert_int_equal(test_file_size(f->dirfd, "journal"), RFS_JOURNAL_SEGMENT);
	}
	expect_file(f->dirfd, all.data, all.len);
	/* Past the first segment: whole segments, lines then zeros. */
	while (all.len < RFS_JOURNAL_SEGMENT + 1000) {
		b.len = 0;
		encode_ops(&b, "n1", seq + 1, seq + 50, NULL);
		seq += 50;
		assert_int_equal(rfs_journal_append(&j, b.data, b.len, seq, 50), 0);
		assert_int_equal(rfs_buf_append(&all, b.data, b.len), 0);
	}
	assert_int_equal(test_file_size(f->dirfd, "journal") % RFS_JOURNAL_SEGMENT, 0);
	assert_true(test_file_size(f->dirfd, "journal") > (off_t)all.len);
	expect_file(f->dirfd, all.data, all.len);
	assert_int_equal(j.size, (off_t)all.len);
	rfs_journal_close(&j);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_range(c, 1, seq);
	assert_int_equal(j.size, (off_t)all.len);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	rfs_buf_free(&all);
	free(c);
}

/*
 * A crash at any byte of a journal written in place: the file has the lines up to the cut,
 * then zeros (what was never written). Replay gives exactly the complete lines before the
 * cut; the zeros are free space, not damage; a piece of a line is zeroed; the next append
 * lands after the last complete line and everything reopens cleanly. The same for a journal
 * of the previous version (cut by the file's end, no zeros): it is read the same and is
 * preallocated from then on.
 */
static void test_cut_every_byte(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT, file = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	size_t ends[6];

	assert_non_null(c);
	encode_ops(&b, "n1", 1, 6, ends);
	rfs_log_set_level(LOG_CRIT); /* the torn-tail warning would repeat once per cut */
	for (int old = 0; old < 2; old++) {
		for (size_t cut = 0; cut <= b.len; cut++) {
			size_t k = lines_before(ends, 6, cut), at = k ? ends[k - 1] : 0;
			struct rfs_buf more = RFS_BUF_INIT;
			struct rfs_journal j;

			file.len = 0;
			assert_int_equal(rfs_buf_append(&file, b.data, cut), 0);
			if (!old)
				assert_int_equal(rfs_buf_resize(&file, RFS_JOURNAL_SEGMENT), 0);
			test_write_file(f->dirfd, "journal", file.data, file.len);
			c->n = 0;
			assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
			if (c->n != k)
				fail_msg("%s layout, cut at %zu: %zu ops, want %zu",
					 old ? "old" : "preallocated", cut, c->n, k);
			if (k)
				expect_range(c, 1, k);
			assert_int_equal(j.size, (off_t)at);
			assert_int_equal(j.ops, k);
			assert_int_equal(j.last_seq, k);
			expect_file(f->dirfd, b.data, at);
			assert_true(test_file_size(f->dirfd, "journal") >=
				    (off_t)(at + RFS_JOURNAL_SEGMENT / 2));
			/* The lost ops again (never acknowledged), then a clean reopen. */
			if (k < 6) {
				encode_ops(&more, "n1", k + 1, 6, NULL);
				assert_int_equal(
					rfs_journal_append(&j, more.data, more.len, 6, 6 - k), 0);
			}
			rfs_journal_close(&j);
			expect_file(f->dirfd, b.data, b.len);
			c->n = 0;
			assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
			expect_range(c, 1, 6);
			rfs_journal_close(&j);
			rfs_buf_free(&more);
		}
	}
	rfs_log_set_level(LOG_NOTICE);
	rfs_buf_free(&b);
	rfs_buf_free(&file);
	free(c);
}

/*
 * A write in place torn out of order (a later sector on disk, an earlier one not): the last
 * line has zeros inside. It was never acknowledged: zeroed, not replayed, not counted as
 * damage of acknowledged data; the lines before it stay.
 */
static void test_torn_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT, file = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	size_t ends[4];

	assert_non_null(c);
	encode_ops(&b, "n1", 1, 4, ends);
	rfs_log_set_level(LOG_CRIT);
	for (size_t hole = ends[2]; hole < b.len - 1; hole += 7) {
		struct rfs_journal j;

		file.len = 0;
		assert_int_equal(rfs_buf_append(&file, b.data, b.len), 0);
		assert_int_equal(rfs_buf_resize(&file, RFS_JOURNAL_SEGMENT), 0);
		memset(file.data + ends[2], 0, hole - ends[2] + 1);
		test_write_file(f->dirfd, "journal", file.data, file.len);
		c->n = 0;
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
		expect_range(c, 1, 3);
		assert_int_equal(j.size, (off_t)ends[2]);
		expect_file(f->dirfd, b.data, ends[2]);
		rfs_journal_close(&j);
	}
	rfs_log_set_level(LOG_NOTICE);
	rfs_buf_free(&b);
	rfs_buf_free(&file);
	free(c);
}

/* Written and not yet synced: not published (fsync), reset refuses; a sync covers it. */
static void test_write_sync_publish(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_journal j;
	uint64_t lsn1, lsn2, syncs;

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	encode_ops(&b, "n1", 1, 2, NULL);
	assert_int_equal(rfs_journal_write(&j, b.data, b.len, 2, 2, &lsn1), 0);
	assert_int_equal(j.size, 0);
	assert_int_equal(rfs_journal_end(&j), (off_t)b.len);
	assert_int_equal(rfs_journal_reset(&j), -EBUSY);
	b.len = 0;
	encode_ops(&b, "n1", 3, 3, NULL);
	assert_int_equal(rfs_journal_write(&j, b.data, b.len, 3, 1, &lsn2), 0);
	assert_true(lsn2 > lsn1);
	/* One sync for both (group commit): the first one's wait needs no other. */
	syncs = rfs_journal_syncs(&j);
	assert_int_equal(rfs_journal_sync(&j, lsn2), 0);
	assert_int_equal(rfs_journal_syncs(&j), syncs + 1);
	assert_int_equal(rfs_journal_wait(&j, lsn1), 0);
	assert_int_equal(rfs_journal_syncs(&j), syncs + 1);
	assert_int_equal(j.size, 0); /* until published */
	rfs_journal_publish(&j);
	assert_int_equal(j.size, rfs_journal_end(&j));
	assert_int_equal(j.last_seq, 3);
	assert_int_equal(j.ops, 3);
	assert_int_equal(rfs_journal_reset(&j), 0);
	assert_int_equal(j.size, 0);
	assert_int_equal(j.last_seq, 3);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
}

#define GC_THREADS 6
#define GC_COMMITS 40

struct gc_shared {
	struct rfs_journal *j;
	pthread_mutex_t commit_lock; /* as the daemon's */
	uint64_t seq;
	int failed;
};

/* A committer as the daemon's: number and write under the lock, wait for the sync outside. */
static void *gc_committer(void *p)
{
	struct gc_shared *g = p;

	for (int i = 0; i < GC_COMMITS; i++) {
		struct rfs_buf b = RFS_BUF_INIT;
		uint64_t lsn = 0;
		int rc;

		pthread_mutex_lock(&g->commit_lock);
		g->seq++;
		encode_ops(&b, "n1", g->seq, g->seq, NULL);
		rc = rfs_journal_write(g->j, b.data, b.len, g->seq, 1, &lsn);
		pthread_mutex_unlock(&g->commit_lock);
		if (!rc)
			rc = rfs_journal_wait(g->j, lsn);
		if (!rc) {
			pthread_mutex_lock(&g->commit_lock);
			rfs_journal_publish(g->j);
			/* Acknowledged: on disk, so published. */
			if ((uint64_t)g->j->size < lsn)
				rc = -EPROTO;
			pthread_mutex_unlock(&g->commit_lock);
		}
		if (rc)
			g->failed = rc;
		rfs_buf_free(&b);
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;
	struct gc_shared g = {.j = &j};
	pthread_t t[GC_THREADS];
	uint64_t syncs;

	assert_non_null(c);
	pthread_mutex_init(&g.commit_lock, NULL);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	for (int i = 0; i < GC_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, gc_committer, &g), 0);
	for (int i = 0; i < GC_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(g.failed, 0);
	syncs = rfs_journal_syncs(&j);
	assert_true(syncs >= 1 && syncs <= GC_THREADS * GC_COMMITS);
	printf("# group commit: %d commits by %d threads, %llu fdatasync(s)\n",
	       GC_THREADS * GC_COMMITS, GC_THREADS, (unsigned long long)syncs);
	assert_int_equal(j.ops, GC_THREADS * GC_COMMITS);
	rfs_journal_close(&j);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_range(c, 1, GC_THREADS * GC_COMMITS);
	rfs_journal_close(&j);
	pthread_mutex_destroy(&g.commit_lock);
	free(c);
}

static void write_marker(int dirfd, const char *id)
{
	test_write_file(dirfd, "journal.batch", id, strlen(id));
}

static bool marker_exists(int dirfd)
{
	return faccessat(dirfd, "journal.batch", F_OK, 0) == 0;
}

/*
 * durability=batch: a write is published at once (shipped) and acknowledged without a sync;
 * the timer syncs it by itself; the run's marker is on disk while lines may be unsynced and
 * gone after a clean close. A marker of another boot makes open report an unclean batch run;
 * one of this boot (a process killed, the kernel's pages intact) does not.
 */
static void test_batch(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_journal j;
	char id[64] = "";
	uint64_t lsn;
	int fd, waited = 0;

	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_false(j.unclean_batch);
	assert_int_equal(rfs_journal_set_batch(&j, RFS_JOURNAL_BATCH_MAX_MS + 1), -EINVAL);
	assert_int_equal(rfs_journal_set_batch(&j, 1000), 0);
	assert_false(marker_exists(f->dirfd));
	encode_ops(&b, "n1", 1, 2, NULL);
	assert_int_equal(rfs_journal_write(&j, b.data, b.len, 2, 2, &lsn), 0);
	assert_int_equal(j.size, (off_t)b.len); /* published before any sync */
	assert_int_equal(j.last_seq, 2);
	assert_true(marker_exists(f->dirfd));
	assert_int_equal(rfs_journal_wait(&j, lsn), 0); /* no sync for an acknowledgment */
	/* The timer syncs within 1 s; allow a loaded machine 10. */
	while (rfs_journal_syncs(&j) == 0 && waited++ < 1000)
		usleep(10000);
	assert_int_equal(rfs_journal_syncs(&j), 1);
	rfs_journal_close(&j);
	assert_false(marker_exists(f->dirfd));

	/* Another boot's marker: the machine went down with a batch run's lines in its cache. */
	write_marker(f->dirfd, "00000000-0000-0000-0000-000000000000\n");
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_true(j.unclean_batch);
	rfs_journal_close(&j);
	assert_true(marker_exists(f->dirfd)); /* until the caller has dealt with it */
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	assert_true(j.unclean_batch);
	assert_int_equal(rfs_journal_clean(&j), 0);
	assert_false(j.unclean_batch);
	assert_false(marker_exists(f->dirfd));
	rfs_journal_close(&j);

	/* This boot's marker: only the process died. */
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		assert_true(read(fd, id, sizeof(id) - 1) > 0);
		close(fd);
		write_marker(f->dirfd, id);
		assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
		assert_false(j.unclean_batch);
		assert_false(marker_exists(f->dirfd));
		rfs_journal_close(&j);
	}
	rfs_buf_free(&b);
}

/* Replace (renumbering): the new text, preallocated, atomically. */
static void test_replace(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct collect *c = calloc(1, sizeof(*c));
	struct rfs_journal j;

	assert_non_null(c);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", NULL, NULL), 0);
	encode_ops(&b, "n1", 1, 3, NULL);
	assert_int_equal(rfs_journal_append(&j, b.data, b.len, 3, 3), 0);
	b.len = 0;
	encode_ops(&b, "n1", 11, 14, NULL);
	assert_int_equal(rfs_journal_replace(&j, b.data, b.len, 14, 4), 0);
	assert_int_equal(j.size, (off_t)b.len);
	assert_int_equal(j.last_seq, 14);
	expect_file(f->dirfd, b.data, b.len);
	assert_true(test_file_size(f->dirfd, "journal") >= (off_t)b.len + RFS_JOURNAL_SEGMENT / 2);
	rfs_journal_close(&j);
	assert_int_equal(rfs_journal_open(&j, f->dirfd, "n1", collect, c), 0);
	expect_range(c, 11, 14);
	rfs_journal_close(&j);
	rfs_buf_free(&b);
	free(c);
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
		cmocka_unit_test_setup_teardown(test_prealloc_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_sync_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
