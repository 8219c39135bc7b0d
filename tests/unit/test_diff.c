/*
 * diff: rfs_diff_rmtab against a base_count that answers from a parse of the base (unchanged
 * text, in-place bump, appends of new and of existing records, deletions, reorders, whole
 * rewrites, no trailing newline, a bad line's absolute number, prefix/suffix trimming on
 * tricky texts, duplicate keys inside and outside the changed lines, a failing base lookup),
 * rfs_diff_gnfs (removals, "at least 1" additions, reorders), and a randomized check that
 * applying the changes to the base equals the folded parse of the new text.
 */
#include "test.h"

#include <rmtabfs/buf.h>
#include <rmtabfs/diff.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/rmtab_fmt.h>

/* The base folded by key: what base_count answers from. */
struct base_index {
	struct rfs_entries folded;
	unsigned lookups;
	bool fail;
};

static int64_t base_count(void *ctx, const char *client, size_t client_len, const char *path,
			  size_t path_len)
{
	struct base_index *b = ctx;

	b->lookups++;
	if (b->fail)
		return -1;
	for (size_t i = 0; i < b->folded.n; i++) {
		const struct rfs_entry *e = &b->folded.v[i];

		if (rfs_key_cmp(e->client, e->client_len, e->path, e->path_len, client, client_len,
				path, path_len) == 0)
			return e->count;
	}
	return 0;
}

static void index_base(struct base_index *b, const char *base, size_t len)
{
	struct rfs_parse_error err = {0};

	memset(b, 0, sizeof(*b));
	assert_int_equal(rt_parse(base, len, 1, &b->folded, &err), 0);
	rfs_entries_fold(&b->folded);
}

/* Runs the diff from exact-size copies (so an over-read shows under the sanitizers). */
static int run_diff(const char *base, size_t base_len, bool unique, const char *text,
		    size_t text_len, struct rfs_entries *out, struct rfs_parse_error *err,
		    struct base_index *idx)
{
	char *b = test_memdup(base, base_len), *t = test_memdup(text, text_len);
	int rc;

	index_base(idx, base, base_len);
	rc = rfs_diff_rmtab(b, base_len, unique, t, text_len, base_count, idx, out, err);
	free(b);
	free(t);
	return rc;
}

/* Diffs two strings, expecting success; both base modes must agree when the base is unique. */
static struct rfs_entries diff(const char *base, const char *text, bool unique)
{
	struct rfs_entries out = {0};
	struct rfs_parse_error err = {0};
	struct base_index idx;
	int rc = run_diff(base, strlen(base), unique, text, strlen(text), &out, &err, &idx);

	if (rc)
		fail_msg("diff failed (%d) at line %u: %s", rc, err.line, err.reason);
	rfs_entries_free(&idx.folded);
	if (unique) {
		struct rfs_entries other = {0};

		rc = run_diff(base, strlen(base), false, text, strlen(text), &other, &err, &idx);
		assert_int_equal(rc, 0);
		assert_int_equal(other.n, out.n);
		for (size_t i = 0; i < out.n; i++) {
			assert_string_equal(other.v[i].client, out.v[i].client);
			assert_string_equal(other.v[i].path, out.v[i].path);
			assert_int_equal(other.v[i].count, out.v[i].count);
		}
		rfs_entries_free(&other);
		rfs_entries_free(&idx.folded);
	}
	return out;
}

static void expect_change(const struct rfs_entries *out, const char *client, const char *path,
			  uint32_t count, uint32_t line)
{
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->v[i].client, client) == 0 && strcmp(out->v[i].path, path) == 0) {
			assert_int_equal(out->v[i].count, count);
			assert_int_equal(out->v[i].flags, 0);
			if (line)
				assert_int_equal(out->v[i].line, line);
			return;
		}
	fail_msg("no change for %s:%s", client, path);
}

#define L1 "10.0.0.1:/vol/a:0x00000001\n"
#define L2 "10.0.0.2:/vol/a:0x00000002\n"
#define L3 ";;1:/vol/b:0x00000001\n"
#define L4 "10.0.0.4:/vol/c:0x00000003\n"

static void test_unchanged(void **state)
{
	struct rfs_entries out = diff(L1 L2 L3, L1 L2 L3, true);

	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
	out = diff("", "", true);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
}

static void test_bump_in_place(void **state)
{
	struct rfs_entries out = diff(L1 L2 L3, L1 "10.0.0.2:/vol/a:0x00000003\n" L3, true);

	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.2", "/vol/a", 3, 2);
	rfs_entries_free(&out);
}

static void test_append(void **state)
{
	struct rfs_entries out = diff(L1 L2 L3, L1 L2 L3 L4, true);

	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.4", "/vol/c", 3, 4);
	rfs_entries_free(&out);

	/* `echo c:/p >> rmtab` of an existing record: one mount more. */
	out = diff(L1 L2 L3, L1 L2 L3 "10.0.0.2:/vol/a\n", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.2", "/vol/a", 3, 4);
	rfs_entries_free(&out);

	/* To an empty base. */
	out = diff("", L1, true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.1", "/vol/a", 1, 1);
	rfs_entries_free(&out);
}

static void test_delete(void **state)
{
	struct rfs_entries out = diff(L1 L2 L3, L1 L3, true);

	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.2", "/vol/a", 0, 0);
	rfs_entries_free(&out);

	out = diff(L1 L2 L3, "", true);
	assert_int_equal(out.n, 3);
	expect_change(&out, "10.0.0.1", "/vol/a", 0, 0);
	expect_change(&out, "10.0.0.2", "/vol/a", 0, 0);
	expect_change(&out, "::1", "/vol/b", 0, 0);
	rfs_entries_free(&out);
}

static void test_reorder(void **state)
{
	struct rfs_entries out = diff(L1 L2 L3 L4, L4 L2 L1 L3, true);

	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
	/* Reformatted counts are the same counts. */
	out = diff(L1 L2, "10.0.0.2:/vol/a:2\n10.0.0.1:/vol/a\n", true);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
}

static void test_rewrite(void **state)
{
	struct rfs_entries out = diff(L1 L2, L3 L4, true);

	assert_int_equal(out.n, 4);
	expect_change(&out, "10.0.0.1", "/vol/a", 0, 0);
	expect_change(&out, "10.0.0.2", "/vol/a", 0, 0);
	expect_change(&out, "::1", "/vol/b", 1, 1);
	expect_change(&out, "10.0.0.4", "/vol/c", 3, 2);
	rfs_entries_free(&out);
}

static void test_no_trailing_newline(void **state)
{
	struct rfs_entries out = diff(L1 L2, L1 "10.0.0.2:/vol/a:0x00000002", true);

	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
	out = diff(L1 L2, L1 "10.0.0.2:/vol/a:0x00000005", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.2", "/vol/a", 5, 2);
	rfs_entries_free(&out);
	/* The base without one, the text with one. */
	out = diff(L1 "10.0.0.2:/vol/a:0x2", L1 L2, false);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
	out = diff(L1 "10.0.0.2:/vol/a:0x2", L1 L2 L3, false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "::1", "/vol/b", 1, 3);
	rfs_entries_free(&out);
}

static void expect_bad(const char *base, const char *text, unsigned line, const char *reason)
{
	struct rfs_entries out = {0};
	struct rfs_parse_error err = {0};
	struct base_index idx;
	int rc = run_diff(base, strlen(base), true, text, strlen(text), &out, &err, &idx);

	assert_int_equal(rc, -EINVAL);
	if (err.line != line || !strstr(err.reason, reason))
		fail_msg("got line %u '%s', want line %u '%s'", err.line, err.reason, line, reason);
	rfs_entries_free(&out);
	rfs_entries_free(&idx.folded);
}

static void test_bad_line(void **state)
{
	struct rfs_buf base = RFS_BUF_INIT, text = RFS_BUF_INIT;

	/* A bad line in the middle: its number counts the unchanged lines before it. */
	expect_bad(L1 L2 L3 L4, L1 L2 "garbage\n" L4, 3, "no ':'");
	expect_bad(L1 L2 L3 L4, L1 L2 L3 L4 "\n", 5, "empty line");
	expect_bad(L1 L2 L3, "x:/p:0\n" L2 L3, 1, "count 0");
	for (int i = 0; i < 100; i++)
		assert_int_equal(
			rfs_buf_printf(&base, "10.1.%d.%d:/v:0x00000001\n", i / 250, i % 250), 0);
	assert_int_equal(rfs_buf_append(&text, base.data, base.len), 0);
	/* Line 73 gets a relative path. */
	memcpy(strstr(text.data, "10.1.0.72:/v") + 10, "v", 1);
	expect_bad(base.data, text.data, 73, "does not start with '/'");
	rfs_buf_free(&base);
	rfs_buf_free(&text);
}

static void test_trimming(void **state)
{
	struct rfs_entries out;

	/* Change in the first line. */
	out = diff(L1 L2 L3, "10.0.0.1:/vol/a:0x00000004\n" L2 L3, true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.1", "/vol/a", 4, 1);
	rfs_entries_free(&out);

	/* Change in the last line. */
	out = diff(L1 L2 L3, L1 L2 ";;1:/vol/b:0x00000009\n", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "::1", "/vol/b", 9, 3);
	rfs_entries_free(&out);

	/* Lines sharing a prefix: only the count differs, deep into the line. */
	out = diff("a:/p:0x00000001\na:/p/q:0x00000001\n", "a:/p:0x00000001\na:/p/q:0x00000011\n",
		   true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p/q", 0x11, 2);
	rfs_entries_free(&out);

	/* Lines sharing a suffix: the first of two lines ending alike is deleted. */
	out = diff("a:/p:0x00000001\nb:/p:0x00000001\n", "b:/p:0x00000001\n", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 0, 0);
	rfs_entries_free(&out);

	/* A line whose end matches the next line's end, changed at its start. */
	out = diff("xa:/p:0x00000001\nb:/p:0x00000001\n", "ya:/p:0x00000001\nb:/p:0x00000001\n",
		   true);
	assert_int_equal(out.n, 2);
	expect_change(&out, "xa", "/p", 0, 0);
	expect_change(&out, "ya", "/p", 1, 1);
	rfs_entries_free(&out);

	/* The common tail starts a line in one text but is the end of a line in the other. */
	out = diff("ab:/p:0x00000001\n", "c:/q:0x00000001\nb:/p:0x00000001\n", true);
	assert_int_equal(out.n, 3);
	expect_change(&out, "ab", "/p", 0, 0);
	expect_change(&out, "c", "/q", 1, 1);
	expect_change(&out, "b", "/p", 1, 2);
	rfs_entries_free(&out);
	out = diff("c:/q:0x00000001\nb:/p:0x00000001\n", "ab:/p:0x00000001\n", true);
	assert_int_equal(out.n, 3);
	expect_change(&out, "ab", "/p", 1, 1);
	rfs_entries_free(&out);

	/* A duplicate of the line above inserted: prefix and suffix overlap in the base. */
	out = diff("a:/p:0x00000001\nc:/p:0x00000001\n",
		   "a:/p:0x00000001\na:/p:0x00000001\nc:/p:0x00000001\n", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 2, 2);
	rfs_entries_free(&out);

	/* The same, deleting one of two identical lines. */
	out = diff("a:/p:0x1\na:/p:0x1\na:/p:0x1\n", "a:/p:0x1\na:/p:0x1\n", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 2, 0);
	rfs_entries_free(&out);

	/* A count that grows a digit: the common prefix stops inside the line. */
	out = diff("a:/p:0x1\nb:/q:0x1\n", "a:/p:0x10\nb:/q:0x1\n", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 16, 1);
	rfs_entries_free(&out);

	/* Text that is the base minus its last byte(s). */
	out = diff("a:/p:0x12\n", "a:/p:0x1\n", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 1, 1);
	rfs_entries_free(&out);
	out = diff("a:/p:0x1\nb:/q:0x11\n", "a:/p:0x1\nb:/q:0x1", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "b", "/q", 1, 2);
	rfs_entries_free(&out);
}

static void test_duplicates_across_region(void **state)
{
	struct rfs_entries out;

	/* Unique (rendered) base; a copy of a record outside the changed lines added inside. */
	out = diff(L1 L2 L3, L1 L2 L3 "10.0.0.1:/vol/a:0x00000003\n", true);
	assert_int_equal(out.n, 1);
	expect_change(&out, "10.0.0.1", "/vol/a", 4, 4);
	rfs_entries_free(&out);

	/* Non-unique base: one copy stays outside the change, the other is rewritten. */
	out = diff("a:/p:0x1\nb:/q:0x1\na:/p:0x2\n", "a:/p:0x1\nb:/q:0x1\na:/p:0x5\n", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 6, 3);
	rfs_entries_free(&out);

	/* ... and removed: the copy outside survives. */
	out = diff("a:/p:0x1\nb:/q:0x1\na:/p:0x2\n", "a:/p:0x1\nb:/q:0x1\n", false);
	assert_int_equal(out.n, 1);
	expect_change(&out, "a", "/p", 1, 0);
	rfs_entries_free(&out);

	/* Moved from inside to outside the region: nothing changes. */
	out = diff("a:/p:0x1\nb:/q:0x1\nc:/r:0x1\n", "b:/q:0x1\na:/p:0x1\nc:/r:0x1\n", false);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);
}

static void test_base_lookup_fails(void **state)
{
	struct rfs_entries out = {0};
	struct rfs_parse_error err = {0};
	struct base_index idx;
	const char *base = L1 L2, *text = L1 L2 L3;
	int rc;

	index_base(&idx, base, strlen(base));
	idx.fail = true;
	rc = rfs_diff_rmtab(base, strlen(base), true, text, strlen(text), base_count, &idx, &out,
			    &err);
	assert_int_equal(rc, -EIO);
	assert_int_equal(err.line, 3);
	rfs_entries_free(&out);

	/* A unique base is not asked about keys inside the changed lines. */
	idx.lookups = 0;
	idx.fail = false;
	rc = rfs_diff_rmtab(base, strlen(base), true, L1 "10.0.0.2:/vol/a:0x00000007\n",
			    strlen(L1) + strlen(L2), base_count, &idx, &out, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(idx.lookups, 0);
	expect_change(&out, "10.0.0.2", "/vol/a", 7, 2);
	rfs_entries_free(&out);
	rfs_entries_free(&idx.folded);
}

/* ---- gNFS ---- */

static struct rfs_entries gnfs_diff(const char *base, const char *text, int want_rc,
				    struct rfs_parse_error *err)
{
	struct rfs_entries folded = {0}, out = {0};

	assert_int_equal(gn_parse(base, strlen(base), &folded, err), 0);
	rfs_entries_fold(&folded);
	assert_int_equal(rfs_diff_gnfs(&folded, text, strlen(text), &out, err), want_rc);
	rfs_entries_free(&folded);
	return out;
}

#define G0 "hostname-0=a\nmountpoint-0=/p\n"
#define G1 "hostname-1=b\nmountpoint-1=/q\n"
#define G2 "hostname-2=c\nmountpoint-2=/r\n"

static void test_gnfs(void **state)
{
	struct rfs_parse_error err = {0};
	struct rfs_entries out;

	out = gnfs_diff(G0 G1, G0 G1, 0, &err);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);

	/* The same keys at other indices: nothing. */
	out = gnfs_diff(G0 G1, "hostname-0=b\nmountpoint-0=/q\nhostname-1=a\nmountpoint-1=/p\n", 0,
			&err);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);

	/* b gone, c new: a removal and an "at least 1". */
	out = gnfs_diff(G0 G1, G0 "hostname-1=c\nmountpoint-1=/r\n", 0, &err);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0].client, "b");
	assert_int_equal(out.v[0].count, 0);
	assert_int_equal(out.v[0].flags, 0);
	assert_string_equal(out.v[1].client, "c");
	assert_int_equal(out.v[1].count, 1);
	assert_int_equal(out.v[1].flags, RFS_ENTRY_AT_LEAST);
	assert_int_equal(out.v[1].line, 3);
	rfs_entries_free(&out);

	/* Everything removed. */
	out = gnfs_diff(G0 G1 G2, "", 0, &err);
	assert_int_equal(out.n, 3);
	for (size_t i = 0; i < out.n; i++)
		assert_int_equal(out.v[i].count, 0);
	rfs_entries_free(&out);

	/* A duplicate pair in the new text is still one key. */
	out = gnfs_diff(G0, G0 "hostname-1=a\nmountpoint-1=/p\n", 0, &err);
	assert_int_equal(out.n, 0);
	rfs_entries_free(&out);

	/* Bad text: refused with the line, nothing produced. */
	out = gnfs_diff(G0 G1, G0 "hostname-1=b\n", -EINVAL, &err);
	assert_int_equal(out.n, 0);
	assert_int_equal(err.line, 3);
	rfs_entries_free(&out);
}

/* ---- randomized ---- */

struct line {
	int key;
	uint32_t count;
	int style; /* how the count is written */
};

/* Keys whose lines are prefixes and suffixes of each other ("ab:/x" ends like "b:/x"). */
#define RKEYS 9
static const char *const rclients[RKEYS] = {"10.0.0.1", "10.0.0.1", "10.0.0.10", "::1",	    "a",
					    "ab",	"b",	    "fe80::1%e", "10.0.0.1"};
static const char *const rpaths[RKEYS] = {"/v", "/v/", "/v", "/v", "/x:1", "/x", "/x", "/v", "/w"};

static void render_lines(struct rfs_buf *b, const struct line *lines, size_t n, bool last_nl)
{
	b->len = 0;
	for (size_t i = 0; i < n; i++) {
		const struct line *l = &lines[i];
		char cl[32];
		size_t k;

		for (k = 0; rclients[l->key][k]; k++)
			cl[k] = rclients[l->key][k] == ':' ? ';' : rclients[l->key][k];
		cl[k] = '\0';
		switch (l->style) {
		case 0:
			assert_int_equal(
				rfs_buf_printf(b, "%s:%s:0x%08x\n", cl, rpaths[l->key], l->count),
				0);
			break;
		case 1:
			assert_int_equal(
				rfs_buf_printf(b, "%s:%s:%u\n", cl, rpaths[l->key], l->count), 0);
			break;
		case 2:
			assert_int_equal(
				rfs_buf_printf(b, "%s:%s:0%o\n", cl, rpaths[l->key], l->count), 0);
			break;
		default:
			if (l->count == 1 && !strchr(rpaths[l->key], ':')) {
				assert_int_equal(rfs_buf_printf(b, "%s:%s\n", cl, rpaths[l->key]),
						 0);
			} else {
				assert_int_equal(rfs_buf_printf(b, "%s:%s:0x%x\n", cl,
								rpaths[l->key], l->count),
						 0);
			}
		}
	}
	if (!last_nl && b->len)
		b->data[--b->len] = '\0';
}

/* base + changes == new text, both as folded maps; and no change is a no-op. */
static void check_random(uint64_t seed, int iter, const char *base, size_t base_len, bool unique,
			 const char *text, size_t text_len)
{
	struct rfs_entries out = {0}, want = {0};
	struct rfs_parse_error err = {0};
	struct base_index idx;
	uint64_t result[RKEYS] = {0}, expected[RKEYS] = {0};
	int rc = run_diff(base, base_len, unique, text, text_len, &out, &err, &idx);

	check_seed(rc == 0, seed, "iteration %d: diff failed: %s", iter, err.reason);
	assert_int_equal(rt_parse(text, text_len, 1, &want, &err), 0);
	rfs_entries_fold(&want);
	for (int k = 0; k < RKEYS; k++) {
		result[k] = base_count(&idx, rclients[k], strlen(rclients[k]), rpaths[k],
				       strlen(rpaths[k]));
		expected[k] = 0;
		for (size_t i = 0; i < want.n; i++)
			if (strcmp(want.v[i].client, rclients[k]) == 0 &&
			    strcmp(want.v[i].path, rpaths[k]) == 0)
				expected[k] = want.v[i].count;
	}
	for (size_t i = 0; i < out.n; i++) {
		int k;

		for (k = 0; k < RKEYS; k++)
			if (strcmp(out.v[i].client, rclients[k]) == 0 &&
			    strcmp(out.v[i].path, rpaths[k]) == 0)
				break;
		check_seed(k < RKEYS, seed, "iteration %d: change for an unknown key", iter);
		check_seed(out.v[i].count != result[k], seed,
			   "iteration %d: change of %s:%s to its own count %u", iter, rclients[k],
			   rpaths[k], out.v[i].count);
		result[k] = out.v[i].count;
	}
	for (int k = 0; k < RKEYS; k++)
		check_seed(result[k] == expected[k], seed,
			   "iteration %d: %s:%s is %llu after the changes, text says %llu\n"
			   "base:\n%.*s\ntext:\n%.*s",
			   iter, rclients[k], rpaths[k], (unsigned long long)result[k],
			   (unsigned long long)expected[k], (int)base_len, base, (int)text_len,
			   text);
	rfs_entries_free(&out);
	rfs_entries_free(&want);
	rfs_entries_free(&idx.folded);
}

static void test_random(void **state)
{
	uint64_t seed = test_seed(0x64696666ull);
	struct test_rng rng = {seed};
	struct rfs_buf base = RFS_BUF_INIT, text = RFS_BUF_INIT;
	int iters = 2000;

	for (int iter = 0; iter < iters; iter++) {
		struct line b[RKEYS * 2], t[RKEYS * 3];
		size_t nb = 0, nt;
		/* Half the time a rendered base (each key once), else hand-written duplicates. */
		bool unique = rng_below(&rng, 2) == 0;
		int edits = 1 + (int)rng_below(&rng, 4);

		for (int k = 0; k < RKEYS; k++) {
			int copies = unique ? (int)rng_below(&rng, 2) : (int)rng_below(&rng, 3);

			for (int c = 0; c < copies; c++) {
				b[nb].key = k;
				b[nb].count = 1 + (uint32_t)rng_below(&rng, 3);
				b[nb].style = unique ? 0 : (int)rng_below(&rng, 4);
				nb++;
			}
		}
		rng_shuffle(&rng, b, nb, sizeof(b[0]));
		render_lines(&base, b, nb, unique || rng_below(&rng, 4));
		memcpy(t, b, nb * sizeof(b[0]));
		nt = nb;
		for (int e = 0; e < edits; e++) {
			size_t i = nt ? (size_t)rng_below(&rng, nt) : 0;

			switch (rng_below(&rng, 6)) {
			case 0: /* bump or lower a count in place */
				if (nt)
					t[i].count = 1 + (uint32_t)rng_below(&rng, 4);
				break;
			case 1: /* delete a line */
				if (nt) {
					memmove(&t[i], &t[i + 1], (nt - i - 1) * sizeof(t[0]));
					nt--;
				}
				break;
			case 2: /* insert a line, maybe a key already there */
				if (nt < RKEYS * 3) {
					i = (size_t)rng_below(&rng, nt + 1);
					memmove(&t[i + 1], &t[i], (nt - i) * sizeof(t[0]));
					t[i].key = (int)rng_below(&rng, RKEYS);
					t[i].count = 1 + (uint32_t)rng_below(&rng, 3);
					t[i].style = (int)rng_below(&rng, 4);
					nt++;
				}
				break;
			case 3: /* swap two lines */
				if (nt) {
					size_t j = (size_t)rng_below(&rng, nt);
					struct line tmp = t[i];

					t[i] = t[j];
					t[j] = tmp;
				}
				break;
			case 4: /* rewrite a count in another notation */
				if (nt)
					t[i].style = (int)rng_below(&rng, 4);
				break;
			default: /* replace a line's key */
				if (nt)
					t[i].key = (int)rng_below(&rng, RKEYS);
			}
		}
		render_lines(&text, t, nt, rng_below(&rng, 5) != 0);
		check_random(seed, iter, base.data ? base.data : "", base.len, unique,
			     text.data ? text.data : "", text.len);
	}
	test_note("%d random edits checked", iters);
	rfs_buf_free(&base);
	rfs_buf_free(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_bump_in_place),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_bad_line),
		cmocka_unit_test(test_trimming),
		cmocka_unit_test(test_duplicates_across_region),
		cmocka_unit_test(test_base_lookup_fails),
		cmocka_unit_test(test_gnfs),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
