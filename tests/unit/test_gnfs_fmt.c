/*
 * gnfs_fmt: gn_render_pair's exact lines (N from 0) and gn_parse as gNFS reads (first match
 * wins, any line order, blank lines skipped), plus every refusal where gNFS would silently
 * stop or ignore: no '=', empty value, last line without newline, unknown keys, a hostname
 * without its mountpoint and the reverse, entries after a gap, NUL, and keys rfs_key_check
 * refuses (';' in the client, relative path).
 */
#include "test.h"

#include <rmtabfs/gnfs_fmt.h>

static void test_render(void **state)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(gn_render_pair(&b, 0, "10.0.0.1", 8, "/vol", 4), 0);
	assert_int_equal(gn_render_pair(&b, 1, "::1", 3, "/vol/sub", 8), 0);
	assert_int_equal(gn_render_pair(&b, 10, "h", 1, "/a=b", 4), 0);
	assert_string_equal(b.data, "hostname-0=10.0.0.1\n"
				    "mountpoint-0=/vol\n"
				    "hostname-1=::1\n"
				    "mountpoint-1=/vol/sub\n"
				    "hostname-10=h\n"
				    "mountpoint-10=/a=b\n");
	assert_int_equal(b.len, strlen(b.data));
	rfs_buf_free(&b);
}

static struct rfs_entries parse_ok(const char *text)
{
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	size_t len = strlen(text);
	char *copy = test_memdup(text, len);
	int rc = gn_parse(copy, len, &e, &err);

	if (rc)
		fail_msg("refused (%d) at line %u: %s", rc, err.line, err.reason);
	free(copy);
	return e;
}

static void expect_entry(const struct rfs_entries *e, size_t i, const char *client,
			 const char *path, unsigned line)
{
	assert_true(i < e->n);
	assert_string_equal(e->v[i].client, client);
	assert_int_equal(e->v[i].client_len, strlen(client));
	assert_string_equal(e->v[i].path, path);
	assert_int_equal(e->v[i].path_len, strlen(path));
	assert_int_equal(e->v[i].count, 1);
	assert_int_equal(e->v[i].line, line);
}

static void test_parse_canonical(void **state)
{
	struct rfs_entries e = parse_ok("hostname-0=10.0.0.1\nmountpoint-0=/vol\n"
					"hostname-1=fe80::1\nmountpoint-1=/vol/a=b\n");

	assert_int_equal(e.n, 2);
	expect_entry(&e, 0, "10.0.0.1", "/vol", 1);
	expect_entry(&e, 1, "fe80::1", "/vol/a=b", 3);
	rfs_entries_free(&e);

	e = parse_ok("");
	assert_int_equal(e.n, 0);
	rfs_entries_free(&e);
	e = parse_ok("\n\n");
	assert_int_equal(e.n, 0);
	rfs_entries_free(&e);
}

static void test_parse_order_free(void **state)
{
	/* Any line order; entries come out by index; a blank line counts for line numbers. */
	struct rfs_entries e = parse_ok("mountpoint-1=/b\n"
					"\n"
					"hostname-0=a\n"
					"mountpoint-0=/a\n"
					"hostname-1=b\n");

	assert_int_equal(e.n, 2);
	expect_entry(&e, 0, "a", "/a", 3);
	expect_entry(&e, 1, "b", "/b", 5);
	rfs_entries_free(&e);
}

static void test_parse_first_match_wins(void **state)
{
	struct rfs_entries e = parse_ok("hostname-0=first\n"
					"mountpoint-0=/one\n"
					"hostname-0=second\n"
					"mountpoint-0=/two\n");

	assert_int_equal(e.n, 1);
	expect_entry(&e, 0, "first", "/one", 1);
	rfs_entries_free(&e);
}

static void test_parse_blank_lines(void **state)
{
	struct rfs_entries e = parse_ok("\n\nhostname-0=h\n\n\nmountpoint-0=/p\n\n");

	assert_int_equal(e.n, 1);
	expect_entry(&e, 0, "h", "/p", 3);
	rfs_entries_free(&e);
}

static void expect_refusal(const char *text, size_t len, unsigned line, const char *reason)
{
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	char *copy = test_memdup(text, len);

	if (gn_parse(copy, len, &e, &err) != -EINVAL)
		fail_msg("accepted: '%s'", text);
	if (err.line != line || !strstr(err.reason, reason))
		fail_msg("'%s': got line %u '%s', want line %u '%s'", text, err.line, err.reason,
			 line, reason);
	free(copy);
	rfs_entries_free(&e);
}

static void test_parse_refusals(void **state)
{
	static const char nul[] = "hostname-0=a\0b\nmountpoint-0=/p\n";
	static const struct {
		const char *text;
		unsigned line;
		const char *reason;
	} cases[] = {
		{"hostname-0=a\nmountpoint-0\n", 2, "no '='"},
		{"# comment\nhostname-0=a\nmountpoint-0=/p\n", 1, "no '='"},
		{"hostname-0=\nmountpoint-0=/p\n", 1, "empty value"},
		{"hostname-0=a\nmountpoint-0=\n", 2, "empty value"},
		{"hostname-0=a\nmountpoint-0=/p", 2, "no newline"},
		{"hostname-0=a", 1, "no newline"},
		{"#x=y\nhostname-0=a\nmountpoint-0=/p\n", 1, "unknown key"},
		{"hostname-0=a\nmountpoint-0=/p\nhostname-01=b\n", 3, "unknown key"},
		{"hostname-=a\n", 1, "unknown key"},
		{"hostname-x=a\n", 1, "unknown key"},
		{"hostname-1a=a\n", 1, "unknown key"},
		{"Hostname-0=a\n", 1, "unknown key"},
		{"hostname-0 =a\n", 1, "unknown key"},
		{"=hostname-0=a\n", 1, "unknown key"},
		{"hostname-1234567890=a\n", 1, "unknown key"},
		{"hostname-0=a\n", 1, "lacks its mountpoint"},
		{"hostname-0=a\nmountpoint-0=/a\nmountpoint-1=/b\n", 3, "lacks its hostname"},
		{"hostname-0=a\nmountpoint-0=/a\nhostname-2=c\nmountpoint-2=/c\n", 3,
		 "follows a gap"},
		{"hostname-1=b\nmountpoint-1=/b\n", 1, "follows a gap"},
		{"hostname-0=a\nmountpoint-0=/a\nhostname-7=c\nmountpoint-7=/c\n", 3,
		 "leaves a gap"},
		{"hostname-0=a;b\nmountpoint-0=/p\n", 1, "';'"},
		{"mountpoint-0=p\nhostname-0=a\n", 1, "does not start with '/'"},
		{"mountpoint-0=/p\nhostname-0=a;b\n", 2, "';'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refusal(cases[i].text, strlen(cases[i].text), cases[i].line,
			       cases[i].reason);
	expect_refusal(nul, sizeof(nul) - 1, 1, "NUL");
}

static void test_parse_long_fields(void **state)
{
	struct rfs_buf b = RFS_BUF_INIT;
	char big[RFS_PATH_MAX + 2];

	memset(big, 'c', RFS_CLIENT_MAX + 1);
	assert_int_equal(gn_render_pair(&b, 0, big, RFS_CLIENT_MAX + 1, "/p", 2), 0);
	expect_refusal(b.data, b.len, 1, "client of 256 bytes");
	rfs_buf_free(&b);

	big[0] = '/';
	memset(big + 1, 'p', RFS_PATH_MAX);
	assert_int_equal(gn_render_pair(&b, 0, "c", 1, big, RFS_PATH_MAX + 1), 0);
	expect_refusal(b.data, b.len, 2, "path of 1025 bytes");
	rfs_buf_free(&b);
}

/* Random keys rendered pair by pair parse back to the same list, in order. */
static void test_round_trip_random(void **state)
{
	static const char chars[] = "0123456789abcdef.:%-_ =#/;";
	uint64_t seed = test_seed(0x676e6673ull);
	struct test_rng rng = {seed};

	for (int iter = 0; iter < 200; iter++) {
		char clients[12][40], paths[12][60];
		struct rfs_buf b = RFS_BUF_INIT;
		struct rfs_entries e = {0};
		struct rfs_parse_error err = {0};
		size_t n = rng_below(&rng, 12);

		for (size_t k = 0; k < n; k++) {
			size_t cl = 1 + rng_below(&rng, 39), pl = 1 + rng_below(&rng, 59);

			for (size_t c = 0; c < cl; c++) {
				char ch = chars[rng_below(&rng, sizeof(chars) - 1)];

				clients[k][c] = ch == ';' ? ':' : ch;
			}
			clients[k][cl] = '\0';
			paths[k][0] = '/';
			for (size_t c = 1; c < pl; c++)
				paths[k][c] = chars[rng_below(&rng, sizeof(chars) - 1)];
			paths[k][pl] = '\0';
			assert_int_equal(
				gn_render_pair(&b, (uint32_t)k, clients[k], cl, paths[k], pl), 0);
		}
		check_seed(gn_parse(b.data, b.len, &e, &err) == 0, seed, "iteration %d: %s", iter,
			   err.reason);
		check_seed(e.n == n, seed, "iteration %d: %zu entries", iter, e.n);
		for (size_t k = 0; k < n; k++)
			check_seed(strcmp(e.v[k].client, clients[k]) == 0 &&
					   strcmp(e.v[k].path, paths[k]) == 0 &&
					   e.v[k].line == 2 * k + 1,
				   seed, "iteration %d entry %zu differs", iter, k);
		rfs_entries_free(&e);
		rfs_buf_free(&b);
	}
}

/* gn_head_ok: false only for content no gNFS view could accept. */
static void test_head_ok(void **state)
{
	char longline[4096];

	(void)state;
	assert_true(gn_head_ok("", 0, true));
	assert_true(gn_head_ok("\n\n", 2, true));
	assert_true(gn_head_ok("hostname-0=a\nmountpoint-0=/p\n", 29, true));
	assert_true(gn_head_ok("mountpoint-0=/p\n", 16, true));
	assert_true(gn_head_ok("\nhostname-0=a\n", 14, true));
	assert_true(gn_head_ok("host", 4, false)); /* the rest may follow */
	assert_true(gn_head_ok("hostname-0", 10, false));
	assert_false(gn_head_ok("host", 4, true));
	assert_false(gn_head_ok("hostname-0\n", 11, true)); /* no '=' */
	assert_false(gn_head_ok("/export\t*(rw)\n", 15, true));
	assert_false(gn_head_ok("\x07\0\0\0", 4, true));
	assert_false(gn_head_ok("10.0.0.1:/p\n", 12, false));
	memset(longline, 'x', sizeof(longline));
	assert_false(gn_head_ok(longline, sizeof(longline), false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_parse_canonical),
		cmocka_unit_test(test_parse_order_free),
		cmocka_unit_test(test_parse_first_match_wins),
		cmocka_unit_test(test_parse_blank_lines),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_long_fields),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_head_ok),
	};

	return cmocka_run_group_tests_name("gnfs_fmt", tests, NULL, NULL);
}
