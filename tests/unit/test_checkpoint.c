/*
 * checkpoint: encode -> write -> load round trips (same rendering, every record with its
 * stamps and tombstones, self_seq, hlc, mtime, peers, imported flag), an empty table, no
 * view.tmp left behind; every change of every byte and every truncation -> -EBADMSG; files
 * whose checksum is right but whose content is not (record count, missing header, damaged
 * op) -> -EBADMSG; no file -> -ENOENT.
 */
#include "test.h"

#include <rmtabfs/checkpoint.h>

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

static void apply(struct rfs_table *t, uint64_t time, const char *node, uint32_t count,
		  uint64_t born, const char *origin, const char *client, const char *path)
{
	struct rfs_op op = {
		.seq = 1,
		.time = time,
		.born = born,
		.count = count,
		.node = node,
		.origin = origin,
		.client = client,
		.path = path,
		.client_len = strlen(client),
		.path_len = strlen(path),
	};

	assert_true(rfs_table_apply(t, &op) >= 0);
}

/* A table with live records, a re-created one, tombstones and odd bytes in keys. */
static void fill(struct rfs_table *t, size_t extra)
{
	struct rfs_op op;

	assert_int_equal(rfs_table_init(t, "self"), 0);
	apply(t, 100, "n2", 2, 90, "n2", "10.0.0.1", "/vol/a");
	apply(t, 101, "n3", 1, 50, "n2", "fe80::1%eth0", "/vol/with space");
	apply(t, 102, "n2", 0, 90, "n2", "gone", "/x");
	apply(t, 103, "n3", 0, 103, "n3", "never-live", "/y");
	apply(t, 104, "n2", 7, 104, "n3", "c", "/p%25\t\xc3\xa9");
	for (size_t i = 0; i < extra; i++) {
		char client[32];

		snprintf(client, sizeof(client), "10.9.%zu.%zu", i / 200, i % 200);
		apply(t, 200 + i, "n4", (uint32_t)(i % 3), 200 + i / 2, "n4", client, "/e");
	}
	/* A local op through prepare_set: self_seq and hlc move. */
	assert_int_equal(rfs_table_prepare_set(t, "me", 2, "/mine", 5, 3, &op), 1);
	assert_int_equal(rfs_table_apply(t, &op), 1);
	t->self_seq = 41;
	rfs_table_mtime(t);
}

static char *render(const struct rfs_table *t)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_table_render_rmtab(t, &b), 0);
	return rfs_buf_steal(&b, NULL);
}

static void expect_equal_tables(const struct rfs_table *a, const struct rfs_table *b)
{
	const struct rfs_record *r;
	char *ra = render(a), *rb = render(b);
	size_t i;

	assert_string_equal(ra, rb);
	free(ra);
	free(rb);
	assert_int_equal(a->nrecords, b->nrecords);
	assert_int_equal(a->nlive, b->nlive);
	assert_int_equal(a->rmtab_bytes, b->rmtab_bytes);
	rfs_table_for_each(a, i, r)
	{
		const struct rfs_record *o = rfs_table_find(b, rfs_record_client(r), r->client_len,
							    rfs_record_path(r), r->path_len);

		assert_non_null(o);
		assert_int_equal(o->count, r->count);
		assert_int_equal(o->time, r->time);
		assert_int_equal(o->born, r->born);
		assert_string_equal(o->writer->name, r->writer->name);
		assert_string_equal(o->origin->name, r->origin->name);
	}
	assert_int_equal(b->self_seq, a->self_seq);
	assert_int_equal(b->hlc, a->hlc);
	assert_string_equal(b->self->name, a->self->name);
}

static const struct rfs_peer_pos peers[] = {
	{.node = "n2", .offset = 1234},
	{.node = "n3", .seg = 2, .offset = 0, .skip = 7},
	{.node = "a-very.long_node-id-0123456789",
	 .seg = UINT32_MAX,
	 .offset = UINT64_MAX,
	 .skip = UINT64_MAX},
};

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct rfs_checkpoint_info info;
	struct rfs_table t, back;
	struct rfs_buf b = RFS_BUF_INIT;

	fill(&t, 30);
	assert_int_equal(rfs_checkpoint_encode(&b, &t, true, peers, 3), 0);
	assert_int_equal(rfs_checkpoint_write(f->dirfd, b.data, b.len), 0);
	assert_int_equal(faccessat(f->dirfd, "view.tmp", F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(rfs_table_init(&back, "self"), 0);
	assert_int_equal(rfs_checkpoint_load(f->dirfd, &back, &info), 0);
	expect_equal_tables(&t, &back);
	assert_string_equal(info.node, "self");
	assert_true(info.imported);
	assert_int_equal(info.self_seq, 41);
	assert_int_equal(info.mtime, t.reported_mtime);
	assert_int_equal(info.npeers, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(info.peers[i].node, peers[i].node);
		assert_int_equal(info.peers[i].offset, peers[i].offset);
		assert_int_equal(info.peers[i].seg, peers[i].seg);
		assert_int_equal(info.peers[i].skip, peers[i].skip);
	}
	rfs_checkpoint_info_free(&info);
	assert_null(info.peers);
	rfs_table_free(&back);

	/* Written again over the old one, with other header values. */
	b.len = 0;
	t.self_seq = 99;
	t.reported_mtime = -5;
	assert_int_equal(rfs_checkpoint_encode(&b, &t, false, NULL, 0), 0);
	assert_int_equal(rfs_checkpoint_write(f->dirfd, b.data, b.len), 0);
	assert_int_equal(rfs_table_init(&back, "self"), 0);
	assert_int_equal(rfs_checkpoint_load(f->dirfd, &back, &info), 0);
	expect_equal_tables(&t, &back);
	assert_false(info.imported);
	assert_int_equal(info.self_seq, 99);
	assert_int_equal(info.mtime, -5);
	assert_int_equal(info.npeers, 0);
	rfs_checkpoint_info_free(&info);
	rfs_table_free(&back);
	rfs_table_free(&t);
	rfs_buf_free(&b);
}

static void test_empty_table(void **state)
{
	struct fixture *f = *state;
	struct rfs_checkpoint_info info;
	struct rfs_table t, back;
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_table_init(&t, "solo"), 0);
	assert_int_equal(rfs_checkpoint_encode(&b, &t, false, NULL, 0), 0);
	assert_int_equal(rfs_checkpoint_write(f->dirfd, b.data, b.len), 0);
	assert_int_equal(rfs_table_init(&back, "solo"), 0);
	assert_int_equal(rfs_checkpoint_load(f->dirfd, &back, &info), 0);
	expect_equal_tables(&t, &back);
	assert_int_equal(back.nrecords, 0);
	rfs_checkpoint_info_free(&info);
	rfs_table_free(&back);
	rfs_table_free(&t);
	rfs_buf_free(&b);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	struct rfs_checkpoint_info info;
	struct rfs_table t;

	assert_int_equal(rfs_table_init(&t, "self"), 0);
	assert_int_equal(rfs_checkpoint_load(f->dirfd, &t, &info), -ENOENT);
	assert_null(info.peers);
	rfs_table_free(&t);
}

static int load_file(int dirfd)
{
	struct rfs_checkpoint_info info;
	struct rfs_table t;
	int rc;

	assert_int_equal(rfs_table_init(&t, "self"), 0);
	rc = rfs_checkpoint_load(dirfd, &t, &info);
	if (rc == 0)
		rfs_checkpoint_info_free(&info);
	else
		assert_null(info.peers);
	rfs_table_free(&t);
	return rc;
}

/*
 * A small checkpoint whose trailing checksum starts with a '0' digit, so that a reader
 * that skips leading blanks or a '+' in front of it would let some damage pass.
 */
static void small_checkpoint(struct rfs_buf *b)
{
	struct rfs_peer_pos p = {.node = "n2"};
	struct rfs_table t;

	assert_int_equal(rfs_table_init(&t, "self"), 0);
	apply(&t, 100, "n2", 2, 90, "n2", "10.0.0.1", "/v");
	apply(&t, 102, "n2", 0, 90, "n2", "gone", "/x");
	for (;; p.offset++) {
		b->len = 0;
		assert_int_equal(rfs_checkpoint_encode(b, &t, true, &p, 1), 0);
		if (b->data[b->len - 9] == '0')
			break;
	}
	rfs_table_free(&t);
}

static void test_flipped_bytes(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	unsigned tried = 0;
	int fd;

	small_checkpoint(&b);
	test_write_file(f->dirfd, "view", b.data, b.len);
	assert_int_equal(load_file(f->dirfd), 0);
	fd = openat(f->dirfd, "view", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* Every position, every other value: patched in place and restored. */
	for (size_t pos = 0; pos < b.len; pos++) {
		for (unsigned mask = 1; mask < 256; mask++) {
			char c = (char)((unsigned char)b.data[pos] ^ mask);
			int rc;

			assert_int_equal(pwrite(fd, &c, 1, (off_t)pos), 1);
			rc = load_file(f->dirfd);
			if (rc != -EBADMSG)
				fail_msg("byte %zu ('%c') changed to %#x: load gave %d", pos,
					 b.data[pos], (unsigned char)c, rc);
			tried++;
		}
		assert_int_equal(pwrite(fd, b.data + pos, 1, (off_t)pos), 1);
	}
	close(fd);
	assert_int_equal(load_file(f->dirfd), 0);
	test_note("%u damaged checkpoints refused", tried);
	rfs_buf_free(&b);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct rfs_buf b = RFS_BUF_INIT;
	struct rfs_table t;

	fill(&t, 3);
	assert_int_equal(rfs_checkpoint_encode(&b, &t, true, peers, 2), 0);
	rfs_table_free(&t);
	for (size_t len = 0; len < b.len; len++) {
		int rc;

		test_write_file(f->dirfd, "view", b.data, len);
		rc = load_file(f->dirfd);
		if (rc != -EBADMSG)
			fail_msg("cut at %zu of %zu: load gave %d", len, b.len, rc);
	}
	/* And one byte too many. */
	assert_int_equal(rfs_buf_append(&b, "\n", 1), 0);
	test_write_file(f->dirfd, "view", b.data, b.len);
	assert_int_equal(load_file(f->dirfd), -EBADMSG);
	rfs_buf_free(&b);
}

/* Rewrites the trailing "end CRC" line so that only the content is wrong. */
static void reseal(struct rfs_buf *b)
{
	char *end = b->data + b->len - 1;

	while (end > b->data && end[-1] != '\n')
		end--;
	b->len = (size_t)(end - b->data);
	assert_int_equal(rfs_buf_printf(b, "end %08x\n", rfs_crc32c(0, b->data, b->len)), 0);
}

static void replace(struct rfs_buf *b, const char *from, const char *to)
{
	char *p = strstr(b->data, from);
	size_t fl = strlen(from), tl = strlen(to), tail;

	assert_non_null(p);
	tail = b->len - (size_t)(p - b->data) - fl;
	assert_int_equal(rfs_buf_reserve(b, tl), 0);
	p = strstr(b->data, from);
	memmove(p + tl, p + fl, tail + 1);
	memcpy(p, to, tl);
	b->len = b->len - fl + tl;
}

static void test_sealed_but_wrong(void **state)
{
	struct fixture *f = *state;
	static const char *const edits[][2] = {
		{"records 3\n", "records 4\n"},
		{"records 3\n", "records 2\n"},
		{"records 3\n", "records x\n"},
		{"records 3\n", ""},
		{"node self\n", ""},
		{"node self\n", "node \n"},
		{"seq 41\n", "seq 41x\n"},
		{"hlc ", "clh "},
		{"imported 1\n", "imported\n"},
		{"rmtabfs-view 1\n", "rmtabfs-view 2\n"},
		{"peer n2 0 1234 0\n", "peer n2\n"},
		{"peer n2 0 1234 0\n",
		 "peer a-node-id-much-longer-than-sixty-four-characters-is-not-a-node-id 1\n"},
		{" /vol/a ", " /vol/a  "},
		{" 10.0.0.1 ", " 10.0.0.1%zz "},
	};
	struct rfs_buf b = RFS_BUF_INIT, e = RFS_BUF_INIT;
	struct rfs_table t;

	assert_int_equal(rfs_table_init(&t, "self"), 0);
	apply(&t, 100, "n2", 2, 90, "n2", "10.0.0.1", "/vol/a");
	apply(&t, 101, "n2", 0, 90, "n2", "gone", "/x");
	apply(&t, 102, "n2", 1, 90, "n2", "c", "/vol/b");
	t.self_seq = 41;
	assert_int_equal(rfs_checkpoint_encode(&b, &t, true, peers, 1), 0);
	rfs_table_free(&t);
	/* The unedited, resealed file loads: the edits below are what breaks it. */
	e.len = 0;
	assert_int_equal(rfs_buf_append(&e, b.data, b.len), 0);
	reseal(&e);
	assert_int_equal(e.len, b.len);
	assert_memory_equal(e.data, b.data, b.len);
	test_write_file(f->dirfd, "view", e.data, e.len);
	assert_int_equal(load_file(f->dirfd), 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		int rc;

		e.len = 0;
		assert_int_equal(rfs_buf_append(&e, b.data, b.len), 0);
		replace(&e, edits[i][0], edits[i][1]);
		reseal(&e);
		test_write_file(f->dirfd, "view", e.data, e.len);
		rc = load_file(f->dirfd);
		if (rc != -EBADMSG)
			fail_msg("edit '%s' -> '%s': load gave %d", edits[i][0], edits[i][1], rc);
	}
	rfs_buf_free(&b);
	rfs_buf_free(&e);
}

static void test_write_fails(void **state)
{
	/* A state directory that is not there: the error comes back, nothing is written. */
	assert_int_equal(rfs_checkpoint_write(-1, "x", 1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_but_wrong, setup, teardown),
		cmocka_unit_test(test_write_fails),
	};

	return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
