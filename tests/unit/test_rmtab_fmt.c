/*
 * rmtab_fmt: rt_render_line's exact bytes (':' -> ';' in the client, fixed 10-char count)
 * and rt_parse: counts in hex/decimal/octal, a missing count, ';' -> ':' round trips (IPv6),
 * ':' inside a path, a last line without newline, and every refusal with its line number
 * and reason (no ':', empty line, long client/path, NUL, relative path, count 0, too large,
 * malformed or empty count, a 10 MB line).
 */
#include "test.h"

#include <time.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/rmtab_fmt.h>

/* Renders into a guarded buffer and checks the length and that nothing past it is touched. */
static char *render(const char *client, const char *path, uint32_t count, size_t *len)
{
	size_t n = rt_line_len(strlen(client), strlen(path));
	char *buf = malloc(n + 16), *end;

	assert_non_null(buf);
	memset(buf, 0xa5, n + 16);
	end = rt_render_line(buf, client, strlen(client), path, strlen(path), count);
	assert_ptr_equal(end, buf + n);
	for (size_t i = n; i < n + 16; i++)
		assert_int_equal((unsigned char)buf[i], 0xa5);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void test_render(void **state)
{
	size_t len;
	char *s;

	s = render("10.0.0.1", "/export/vol", 1, &len);
	assert_string_equal(s, "10.0.0.1:/export/vol:0x00000001\n");
	assert_int_equal(len, strlen(s));
	free(s);

	s = render("::1", "/x", 0x2a, &len);
	assert_string_equal(s, ";;1:/x:0x0000002a\n");
	free(s);

	s = render("fe80::1%eth0", "/a:b", 0xffffffffu, &len);
	assert_string_equal(s, "fe80;;1%eth0:/a:b:0xffffffff\n");
	free(s);

	/* The count field is always 10 characters, so mountd can bump it in place. */
	s = render("c", "/p", 0x10000000u, &len);
	assert_string_equal(s, "c:/p:0x10000000\n");
	free(s);
}

/* Parses text that must hold exactly one entry and returns its count. */
static uint32_t parse_one(const char *text, const char *client, const char *path)
{
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	uint32_t count;

	assert_int_equal(rt_parse(text, strlen(text), 1, &e, &err), 0);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].client, client);
	assert_int_equal(e.v[0].client_len, strlen(client));
	assert_string_equal(e.v[0].path, path);
	assert_int_equal(e.v[0].path_len, strlen(path));
	assert_int_equal(e.v[0].line, 1);
	count = e.v[0].count;
	rfs_entries_free(&e);
	return count;
}

static void test_parse_counts(void **state)
{
	assert_int_equal(parse_one("a:/p:0x1f\n", "a", "/p"), 31);
	assert_int_equal(parse_one("a:/p:0X1F\n", "a", "/p"), 31);
	assert_int_equal(parse_one("a:/p:31\n", "a", "/p"), 31);
	assert_int_equal(parse_one("a:/p:037\n", "a", "/p"), 31);
	assert_int_equal(parse_one("a:/p:0x00000001\n", "a", "/p"), 1);
	assert_int_equal(parse_one("a:/p:0xffffffff\n", "a", "/p"), 0xffffffffu);
	assert_int_equal(parse_one("a:/p:4294967295\n", "a", "/p"), 0xffffffffu);
	assert_int_equal(parse_one("a:/p:037777777777\n", "a", "/p"), 0xffffffffu);
	/* No count: 1, as fgetrmtabent. */
	assert_int_equal(parse_one("a:/p\n", "a", "/p"), 1);
	assert_int_equal(parse_one("a:/p", "a", "/p"), 1);
}

static void test_parse_ipv6_round_trip(void **state)
{
	static const char *const lines[] = {
		";;1:/export:0x00000002\n",
		"fe80;;1%eth0:/e:0x00000001\n",
		"2001;db8;;7:/vol/a b:0x00000003\n",
	};
	static const char *const clients[] = {"::1", "fe80::1%eth0", "2001:db8::7"};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct rfs_entries e = {0};
		struct rfs_parse_error err = {0};
		char out[128];
		char *end;

		assert_int_equal(rt_parse(lines[i], strlen(lines[i]), 1, &e, &err), 0);
		assert_int_equal(e.n, 1);
		assert_string_equal(e.v[0].client, clients[i]);
		end = rt_render_line(out, e.v[0].client, e.v[0].client_len, e.v[0].path,
				     e.v[0].path_len, e.v[0].count);
		assert_int_equal(end - out, strlen(lines[i]));
		assert_memory_equal(out, lines[i], strlen(lines[i]));
		rfs_entries_free(&e);
	}
}

static void test_parse_colon_in_path(void **state)
{
	size_t len;
	char *s = render("c", "/a:b:7", 3, &len);

	/* The count is taken after the last ':'; the ones before stay in the path. */
	assert_int_equal(parse_one(s, "c", "/a:b:7"), 3);
	free(s);
	/* Not a number after the last ':': part of the path, count 1. */
	assert_int_equal(parse_one("c:/a:b\n", "c", "/a:b"), 1);
	assert_int_equal(parse_one("c:/a:-1\n", "c", "/a:-1"), 1);
}

static void test_parse_lines(void **state)
{
	const char *text = "a:/p:0x2\nb:/q:0x00000003\n;;1:/r";
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};

	/* A last line without newline is accepted; first_line numbers the lines. */
	assert_int_equal(rt_parse(text, strlen(text), 40, &e, &err), 0);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.v[0].client, "a");
	assert_int_equal(e.v[0].count, 2);
	assert_int_equal(e.v[0].line, 40);
	assert_string_equal(e.v[1].path, "/q");
	assert_int_equal(e.v[1].count, 3);
	assert_int_equal(e.v[1].line, 41);
	assert_string_equal(e.v[2].client, "::1");
	assert_int_equal(e.v[2].count, 1);
	assert_int_equal(e.v[2].line, 42);

	/* Appends to what the list holds; empty input adds nothing. */
	assert_int_equal(rt_parse("d:/s\n", 5, 1, &e, &err), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(rt_parse("", 0, 1, &e, &err), 0);
	assert_int_equal(e.n, 4);
	rfs_entries_free(&e);
}

static void test_parse_limits_accepted(void **state)
{
	char client[RFS_CLIENT_MAX + 1], path[RFS_PATH_MAX + 1];
	size_t len;
	char *s;

	memset(client, 'c', RFS_CLIENT_MAX);
	client[RFS_CLIENT_MAX] = '\0';
	path[0] = '/';
	memset(path + 1, 'p', RFS_PATH_MAX - 1);
	path[RFS_PATH_MAX] = '\0';
	s = render(client, path, 9, &len);
	assert_int_equal(parse_one(s, client, path), 9);
	free(s);
}

struct refusal {
	const char *text;
	size_t len; /* 0: strlen */
	unsigned line;
	const char *reason; /* substring */
};

static void expect_refusal(const char *text, size_t len, unsigned first_line, unsigned line,
			   const char *reason)
{
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {.line = 9999};
	char *copy = test_memdup(text, len);

	if (rt_parse(copy, len, first_line, &e, &err) != -EINVAL)
		fail_msg("accepted: '%.*s'", (int)(len > 60 ? 60 : len), text);
	if (err.line != line || !strstr(err.reason, reason))
		fail_msg("'%.*s': got line %u '%s', want line %u '%s'", (int)(len > 60 ? 60 : len),
			 text, err.line, err.reason, line, reason);
	free(copy);
	rfs_entries_free(&e);
}

static void test_parse_refusals(void **state)
{
	static const struct refusal cases[] = {
		{"nocolon\n", 0, 1, "no ':'"},
		{"a:/p:0x1\nnocolon\nb:/q\n", 0, 2, "no ':'"},
		{"a:/p:0x1\n# comment\n", 0, 2, "no ':'"},
		{"\n", 0, 1, "empty line"},
		{"a:/p:0x1\n\nb:/q:0x1\n", 0, 2, "empty line"},
		{"a:/p\0x:0x1\n", 11, 1, "NUL"},
		{"a:/p:0x1\nb:/q:0x1\0\n", 19, 2, "NUL"},
		{"a:p:0x1\n", 0, 1, "does not start with '/'"},
		{"a::0x1\n", 0, 1, "does not start with '/'"},
		{":/p:0x1\n", 0, 1, "empty client"},
		{"a:/p:0\n", 0, 1, "count 0"},
		{"a:/p:00\n", 0, 1, "count 0"},
		{"a:/p:0x00000000\n", 0, 1, "count 0"},
		{"a:/p:0x100000000\n", 0, 1, "above 0xffffffff"},
		{"a:/p:4294967296\n", 0, 1, "above 0xffffffff"},
		{"a:/p:040000000000\n", 0, 1, "above 0xffffffff"},
		{"a:/p:99999999999999999999999999\n", 0, 1, "above 0xffffffff"},
		/* 2^64 + 1: a parser that wraps instead of saturating would read 1. */
		{"a:/p:18446744073709551617\n", 0, 1, "above 0xffffffff"},
		{"a:/p:0x10000000000000001\n", 0, 1, "above 0xffffffff"},
		{"a:/p:0x1fzz\n", 0, 1, "malformed count"},
		{"a:/p:12abc\n", 0, 1, "malformed count"},
		{"a:/p:09\n", 0, 1, "malformed count"},
		{"a:/p:0x\n", 0, 1, "malformed count"},
		{"a:/p:0x1 \n", 0, 1, "malformed count"},
		{"a:/p:\n", 0, 1, "empty count"},
		{"a:/p:0x1\nb:/q:", 0, 2, "empty count"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct refusal *c = &cases[i];

		expect_refusal(c->text, c->len ? c->len : strlen(c->text), 1, c->line, c->reason);
	}
	/* Line numbers count from first_line. */
	expect_refusal("a:/p\nb:/q\nbad\n", 14, 7, 9, "no ':'");
}

static void test_parse_long_fields(void **state)
{
	char buf[RFS_PATH_MAX + 64];
	size_t n;

	/* Client of 256 bytes. */
	memset(buf, 'c', RFS_CLIENT_MAX + 1);
	n = RFS_CLIENT_MAX + 1;
	n += (size_t)sprintf(buf + n, ":/p:0x1\n");
	expect_refusal(buf, n, 1, 1, "client of 256 bytes");

	/* Path of 1025 bytes, on line 2. */
	n = (size_t)sprintf(buf, "a:/x\nb:/");
	memset(buf + n, 'p', RFS_PATH_MAX);
	n += RFS_PATH_MAX;
	n += (size_t)sprintf(buf + n, ":0x1\n");
	expect_refusal(buf, n, 1, 2, "path of 1025 bytes");
}

static void test_parse_huge_line(void **state)
{
	size_t len = 10u << 20;
	char *buf = malloc(len);
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	struct timespec t0, t1;
	double secs;

	assert_non_null(buf);
	memset(buf, 'a', len);
	memcpy(buf, "10.0.0.1:/", 10);
	buf[len - 1] = '\n';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rt_parse(buf, len, 1, &e, &err), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.reason, "line of"));
	assert_int_equal(e.n, 0);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* One memchr, not a per-byte parse: generous even under sanitizers. */
	if (secs > 0.5)
		fail_msg("10 MB line took %.3f s to refuse", secs);

	/* Without any newline at all. */
	memset(&err, 0, sizeof(err));
	buf[len - 1] = 'a';
	assert_int_equal(rt_parse(buf, len, 1, &e, &err), -EINVAL);
	assert_int_equal(err.line, 1);
	free(buf);
}

/* Random keys, rendered and parsed back: identical keys, counts and order. */
static void test_round_trip_random(void **state)
{
	static const char cchars[] = "0123456789abcdef.:%-_ [];";
	static const char pchars[] = "abc/:; #%=\t\x80\xff"
				     "0123456789";
	uint64_t seed = test_seed(0x7274666d74ull);
	struct test_rng rng = {seed};

	for (int iter = 0; iter < 300; iter++) {
		char clients[8][RFS_CLIENT_MAX + 1], paths[8][RFS_PATH_MAX + 1];
		uint32_t counts[8];
		struct rfs_buf text = RFS_BUF_INIT;
		struct rfs_entries e = {0};
		struct rfs_parse_error err = {0};
		size_t n = 1 + rng_below(&rng, 8);

		for (size_t k = 0; k < n; k++) {
			size_t cl = 1 + rng_below(&rng, rng_below(&rng, 4) ? 20 : RFS_CLIENT_MAX);
			size_t pl = 1 + rng_below(&rng, rng_below(&rng, 4) ? 30 : RFS_PATH_MAX);

			for (size_t c = 0; c < cl; c++) {
				char ch = cchars[rng_below(&rng, sizeof(cchars) - 1)];

				clients[k][c] = ch == ';' ? ':' : ch; /* a real ';' is no key */
			}
			clients[k][cl] = '\0';
			paths[k][0] = '/';
			for (size_t c = 1; c < pl; c++)
				paths[k][c] = pchars[rng_below(&rng, sizeof(pchars) - 1)];
			paths[k][pl] = '\0';
			counts[k] = rng_below(&rng, 3) ? 1 + (uint32_t)rng_below(&rng, 5)
						       : 1 + (uint32_t)rng_below(&rng, 0xffffffffu);
			assert_int_equal(rfs_buf_reserve(&text, rt_line_len(cl, pl)), 0);
			text.len = (size_t)(rt_render_line(text.data + text.len, clients[k], cl,
							   paths[k], pl, counts[k]) -
					    text.data);
		}
		check_seed(rt_parse(text.data, text.len, 1, &e, &err) == 0, seed,
			   "iteration %d: %s (line %u)", iter, err.reason, err.line);
		check_seed(e.n == n, seed, "iteration %d: %zu entries", iter, e.n);
		for (size_t k = 0; k < n; k++) {
			check_seed(strcmp(e.v[k].client, clients[k]) == 0 &&
					   strcmp(e.v[k].path, paths[k]) == 0 &&
					   e.v[k].count == counts[k] && e.v[k].line == k + 1,
				   seed, "iteration %d entry %zu differs", iter, k);
		}
		rfs_entries_free(&e);
		rfs_buf_free(&text);
	}
}

/* rt_head_ok: false only for content whose first line rmtab cannot take. */
static void test_head_ok(void **state)
{
	char longline[2048];

	(void)state;
	assert_true(rt_head_ok("", 0, true));
	assert_true(rt_head_ok("10.0.0.1:/p:0x00000001\n", 23, true));
	assert_true(rt_head_ok("10.0.0.1:/p\nbad", 16, false)); /* only the first line counts */
	assert_true(rt_head_ok("10.0.0.1:/p", 11, true));	/* no newline at the end */
	assert_true(rt_head_ok("10.0.0.1:/p", 11, false));	/* may go on */
	assert_false(rt_head_ok("/export\t*(rw,sync)\n", 20, true));
	assert_false(rt_head_ok("/export\t*(rw,uuid=1:2:3:4)\n", 28, true));
	assert_false(rt_head_ok("\x07\0\0\0", 4, true));
	assert_false(rt_head_ok("hello\n", 6, false));
	assert_false(rt_head_ok("\n10.0.0.1:/p\n", 13, true)); /* an empty line is refused */
	memset(longline, 'a', sizeof(longline));
	longline[0] = 'c';
	longline[1] = ':';
	longline[2] = '/';
	assert_false(rt_head_ok(longline, sizeof(longline), false));
	assert_true(rt_head_ok(longline, 200, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_parse_counts),
		cmocka_unit_test(test_parse_ipv6_round_trip),
		cmocka_unit_test(test_parse_colon_in_path),
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_parse_limits_accepted),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_long_fields),
		cmocka_unit_test(test_parse_huge_line),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_head_ok),
	};

	return cmocka_run_group_tests_name("rmtab_fmt", tests, NULL, NULL);
}
