/*
 * record: rfs_key_check's limits and refusals (empty, too long, NUL, newline, ';' in the
 * client, relative path) with the caller's line kept; rfs_entries_fold (sorted, one entry
 * per key, counts summed and capped at 0xffffffff, first line kept); rfs_key_cmp ordering;
 * the arena behind entry strings; rfs_key_hash stability.
 */
#include "test.h"

#include <rmtabfs/record.h>

static void expect_key_refused(const char *client, size_t cl, const char *path, size_t pl,
			       const char *reason)
{
	struct rfs_parse_error err = {.line = 17};

	assert_int_equal(rfs_key_check(client, cl, path, pl, &err), -EINVAL);
	if (!strstr(err.reason, reason))
		fail_msg("reason '%s', want '%s'", err.reason, reason);
	assert_int_equal(err.line, 17);
	/* No error structure: still refused. */
	assert_int_equal(rfs_key_check(client, cl, path, pl, NULL), -EINVAL);
}

static void test_key_check(void **state)
{
	char client[RFS_CLIENT_MAX + 2], path[RFS_PATH_MAX + 2];
	struct rfs_parse_error err = {0};

	memset(client, 'c', sizeof(client));
	path[0] = '/';
	memset(path + 1, 'p', sizeof(path) - 1);

	assert_int_equal(rfs_key_check("10.0.0.1", 8, "/vol", 4, &err), 0);
	assert_int_equal(rfs_key_check("fe80::1%eth0", 12, "/a:b c", 6, NULL), 0);
	assert_int_equal(rfs_key_check(client, RFS_CLIENT_MAX, path, RFS_PATH_MAX, &err), 0);
	assert_int_equal(rfs_key_check("c", 1, "/", 1, &err), 0);

	expect_key_refused("", 0, "/p", 2, "empty client");
	expect_key_refused(client, RFS_CLIENT_MAX + 1, "/p", 2, "client of 256 bytes");
	expect_key_refused("a\0b", 3, "/p", 2, "NUL or newline");
	expect_key_refused("a\nb", 3, "/p", 2, "NUL or newline");
	expect_key_refused("a;b", 3, "/p", 2, "';'");
	expect_key_refused("c", 1, "", 0, "does not start with '/'");
	expect_key_refused("c", 1, "p/q", 3, "does not start with '/'");
	expect_key_refused("c", 1, path, RFS_PATH_MAX + 1, "path of 1025 bytes");
	expect_key_refused("c", 1, "/a\0b", 4, "NUL or newline");
	expect_key_refused("c", 1, "/a\nb", 4, "NUL or newline");
}

static void test_parse_error_set(void **state)
{
	struct rfs_parse_error err = {0};
	char longer[300];

	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	rfs_parse_error_set(&err, 5, "%s", longer);
	assert_int_equal(err.line, 5);
	assert_int_equal(strlen(err.reason), sizeof(err.reason) - 1);
	rfs_parse_error_set(NULL, 5, "ignored"); /* must not crash */
}

static void add(struct rfs_entries *e, const char *client, const char *path, uint32_t count,
		uint32_t line)
{
	assert_int_equal(
		rfs_entries_add(e, client, strlen(client), path, strlen(path), count, line), 0);
}

static void expect(const struct rfs_entries *e, size_t i, const char *client, const char *path,
		   uint32_t count, uint32_t line)
{
	assert_true(i < e->n);
	assert_string_equal(e->v[i].client, client);
	assert_string_equal(e->v[i].path, path);
	assert_int_equal(e->v[i].count, count);
	assert_int_equal(e->v[i].line, line);
}

static void test_fold(void **state)
{
	struct rfs_entries e = {0};

	rfs_entries_fold(&e); /* empty: nothing to do, no crash */
	assert_int_equal(e.n, 0);
	add(&e, "b", "/x", 4, 1);
	rfs_entries_fold(&e);
	assert_int_equal(e.n, 1);
	expect(&e, 0, "b", "/x", 4, 1);

	add(&e, "a", "/y", 1, 2);
	add(&e, "b", "/x", 3, 3);
	add(&e, "a", "/x", 2, 4);
	add(&e, "b", "/x", 0xfffffffau, 5); /* 4 + 3 + 0xfffffffa overflows: capped */
	add(&e, "a", "/y", 5, 6);
	add(&e, "ab", "/", 1, 7);
	rfs_entries_fold(&e);
	assert_int_equal(e.n, 4);
	expect(&e, 0, "a", "/x", 2, 4);
	expect(&e, 1, "a", "/y", 6, 2);
	expect(&e, 2, "ab", "/", 1, 7);
	expect(&e, 3, "b", "/x", RFS_COUNT_MAX, 1);
	rfs_entries_free(&e);
	assert_null(e.v);
	assert_int_equal(e.n, 0);

	/* Exactly the cap is not an overflow. */
	add(&e, "c", "/p", 0xfffffffeu, 9);
	add(&e, "c", "/p", 1, 3);
	rfs_entries_fold(&e);
	assert_int_equal(e.n, 1);
	expect(&e, 0, "c", "/p", 0xffffffffu, 3);
	rfs_entries_free(&e);
}

/* Random lists: fold == a straightforward quadratic count per key. */
static void test_fold_random(void **state)
{
	static const char *const clients[] = {"a", "b", "a:b", "ab", "\x80"};
	static const char *const paths[] = {"/", "/p", "/p/", "/q"};
	uint64_t seed = test_seed(0x666f6c64ull);
	struct test_rng rng = {seed};

	for (int iter = 0; iter < 300; iter++) {
		uint64_t want[5][4] = {{0}};
		struct rfs_entries e = {0};
		size_t n = rng_below(&rng, 40), live = 0;

		for (size_t k = 0; k < n; k++) {
			size_t c = rng_below(&rng, 5), p = rng_below(&rng, 4);
			uint32_t count =
				rng_below(&rng, 8) ? 1 + (uint32_t)rng_below(&rng, 9) : 0x80000000u;

			add(&e, clients[c], paths[p], count, (uint32_t)k + 1);
			want[c][p] += count;
		}
		rfs_entries_fold(&e);
		for (size_t c = 0; c < 5; c++)
			for (size_t p = 0; p < 4; p++)
				live += want[c][p] != 0;
		check_seed(e.n == live, seed, "iteration %d: %zu entries, want %zu", iter, e.n,
			   live);
		for (size_t k = 0; k < e.n; k++) {
			size_t c, p;
			uint64_t sum;

			for (c = 0; strcmp(clients[c], e.v[k].client); c++)
				;
			for (p = 0; strcmp(paths[p], e.v[k].path); p++)
				;
			sum = want[c][p] > RFS_COUNT_MAX ? RFS_COUNT_MAX : want[c][p];

			check_seed(e.v[k].count == sum, seed, "iteration %d: count of %s %s", iter,
				   clients[c], paths[p]);
			if (k)
				check_seed(rfs_key_cmp(e.v[k - 1].client, e.v[k - 1].client_len,
						       e.v[k - 1].path, e.v[k - 1].path_len,
						       e.v[k].client, e.v[k].client_len,
						       e.v[k].path, e.v[k].path_len) < 0,
					   seed, "iteration %d: not sorted at %zu", iter, k);
		}
		rfs_entries_free(&e);
	}
}

static int cmp(const char *c1, const char *p1, const char *c2, const char *p2)
{
	int r = rfs_key_cmp(c1, strlen(c1), p1, strlen(p1), c2, strlen(c2), p2, strlen(p2));
	int back = rfs_key_cmp(c2, strlen(c2), p2, strlen(p2), c1, strlen(c1), p1, strlen(p1));

	/* Antisymmetric, whatever the magnitude. */
	assert_int_equal(r<0, back> 0);
	assert_int_equal(r == 0, back == 0);
	return r;
}

static void test_key_cmp(void **state)
{
	assert_int_equal(cmp("a", "/p", "a", "/p"), 0);
	/* Client first, whatever the paths. */
	assert_true(cmp("a", "/z", "b", "/a") < 0);
	/* A shorter client that is a prefix sorts first, even against a smaller path. */
	assert_true(cmp("a", "/z", "ab", "/a") < 0);
	/* Same client: path order, prefix first. */
	assert_true(cmp("a", "/p", "a", "/q") < 0);
	assert_true(cmp("a", "/p", "a", "/p/") < 0);
	/* Bytes are unsigned. */
	assert_true(cmp("a", "/p", "\x80", "/p") < 0);
	assert_true(cmp("c", "/\x7f", "c", "/\xff") < 0);
	/* Lengths matter, not NUL termination: "a\0" vs "a" with explicit lengths. */
	assert_true(rfs_key_cmp("a", 1, "/p", 2, "a\0", 2, "/p", 2) < 0);
}

static void test_arena(void **state)
{
	struct rfs_entries e = {0};
	char big[200000];

	memset(big, 'b', sizeof(big));
	big[0] = '/';
	/* Enough entries to span several arena chunks, and one string bigger than a chunk. */
	for (uint32_t i = 0; i < 5000; i++) {
		char client[32];

		snprintf(client, sizeof(client), "client-%u", i);
		add(&e, client, "/some/path/of/moderate/length", i + 1, i + 1);
		if (i == 2500)
			assert_int_equal(rfs_entries_add(&e, "big", 3, big, sizeof(big), 1, 0), 0);
	}
	for (uint32_t i = 0, k = 0; i < 5000; i++, k++) {
		char client[32];

		if (i == 2501)
			k++; /* the big one */
		snprintf(client, sizeof(client), "client-%u", i);
		expect(&e, k, client, "/some/path/of/moderate/length", i + 1, i + 1);
	}
	assert_int_equal(e.v[2501].path_len, sizeof(big));
	assert_memory_equal(e.v[2501].path, big, sizeof(big));
	assert_int_equal(e.v[2501].path[sizeof(big)], '\0');
	rfs_entries_free(&e);
}

static void test_key_hash(void **state)
{
	uint64_t h = rfs_key_hash("10.0.0.1", 8, "/vol", 4);

	assert_true(h == rfs_key_hash("10.0.0.1", 8, "/vol", 4));
	/* The separator keeps "ab" + "/c" apart from "a" + "b/c". */
	assert_true(rfs_key_hash("ab", 2, "/c", 2) != rfs_key_hash("a", 1, "b/c", 3));
	assert_true(h != rfs_key_hash("10.0.0.1", 8, "/vol2", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_check), cmocka_unit_test(test_parse_error_set),
		cmocka_unit_test(test_fold),	  cmocka_unit_test(test_fold_random),
		cmocka_unit_test(test_key_cmp),	  cmocka_unit_test(test_arena),
		cmocka_unit_test(test_key_hash),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
