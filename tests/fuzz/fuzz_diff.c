/*
 * Fuzz target: the write-session diff (rfs_diff_rmtab, fs/diff.c).
 *
 * Input: "BASE\0NEW" (no NUL: empty base, all of it NEW). BASE is parsed with rt_parse
 * (the entries before a refused line count), folded, and rendered in first-seen order into
 * a valid, unique base as a snapshot would be; NEW is the text a writer left. The diff runs
 *   A  on that rendered base with base_unique = true (the snapshot case),
 *   A' on the same base with base_unique = false,
 *   B  on BASE itself with base_unique = false when all of BASE parses (a base that is
 *      text the session committed before: duplicates, short counts, no last newline),
 * with a base_count callback answering exactly from the folded base.
 *
 * Checks, besides "no crash, no leak, no hang" (ASan/UBSan/libFuzzer):
 *  - NEW parses (rt_parse) exactly when the diff succeeds; when it does not, the diff fails
 *    with -EINVAL on the same line for the same reason and produces no change;
 *  - changes are valid keys, each key once, no flags, never a no-op (the key's base count);
 *  - the base with the changes applied (count 0 removes) equals the folded parse of NEW,
 *    key for key and count for count;
 *  - in A, a change that keeps a record carries the number of a NEW line holding that key.
 * FUZZ_SKIP_KNOWN=1 in the environment skips B when a key's base total is saturated
 * (0xffffffff), the known bug reproduced by regressions/fuzz_diff/saturated-count-committed-base
 * (remove once it is fixed).
 */
#include <stdint.h>

#include <rmtabfs/diff.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int skip_known;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	skip_known = getenv("FUZZ_SKIP_KNOWN") && atoi(getenv("FUZZ_SKIP_KNOWN")) > 0;
	return 0;
}

static int saturated(const struct rfs_entries *map)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (map->v[i].count == RFS_COUNT_MAX)
			return 1;
	return 0;
}

static int entry_key_cmp(const void *a, const void *b)
{
	const struct rfs_entry *x = a, *y = b;

	return rfs_key_cmp(x->client, x->client_len, x->path, x->path_len, y->client, y->client_len,
			   y->path, y->path_len);
}

static int entry_line_cmp(const void *a, const void *b)
{
	const struct rfs_entry *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Entry of a sorted, unique list with the key, or NULL. */
static const struct rfs_entry *find(const struct rfs_entry *v, size_t n, const char *client,
				    size_t client_len, const char *path, size_t path_len)
{
	struct rfs_entry key = {.client = client,
				.client_len = (uint32_t)client_len,
				.path = path,
				.path_len = (uint32_t)path_len};

	return n ? bsearch(&key, v, n, sizeof(*v), entry_key_cmp) : NULL;
}

struct lookup {
	const struct rfs_entries *map; /* folded base */
	unsigned long calls;
};

static int64_t base_count(void *ctx, const char *client, size_t client_len, const char *path,
			  size_t path_len)
{
	struct lookup *l = ctx;
	const struct rfs_entry *e = find(l->map->v, l->map->n, client, client_len, path, path_len);

	FZ_CHECK(rfs_key_check(client, client_len, path, path_len, NULL) == 0,
		 "base_count asked for an invalid key");
	l->calls++;
	return e ? e->count : 0;
}

static void copy_entries(struct rfs_entries *dst, const struct rfs_entries *src)
{
	size_t i;

	for (i = 0; i < src->n; i++) {
		FZ_OK(rfs_entries_add(dst, src->v[i].client, src->v[i].client_len, src->v[i].path,
				      src->v[i].path_len, src->v[i].count, src->v[i].line));
		dst->v[dst->n - 1].flags = src->v[i].flags;
	}
}

/*
 * One diff run and its checks. map: folded base; newp: NEW parsed unfolded (if new_rc == 0),
 * newf: folded.
 */
static void run(const char *mode, const char *base, size_t base_len, bool unique,
		const struct rfs_entries *map, const char *text, size_t text_len, int new_rc,
		const struct rfs_parse_error *new_err, const struct rfs_entries *newp,
		const struct rfs_entries *newf)
{
	struct rfs_entries out = {0}, res = {0};
	struct rfs_parse_error err = {0};
	struct lookup l = {.map = map};
	struct rfs_entry *sorted = NULL;
	size_t i;
	int rc;

	rc = rfs_diff_rmtab(base, base_len, unique, text, text_len, base_count, &l, &out, &err);
	if (new_rc) {
		FZ_CHECK(rc == -EINVAL, "%s: NEW does not parse (line %u: %s), diff returns %d",
			 mode, new_err->line, new_err->reason, rc);
		FZ_CHECK(err.line == new_err->line && strcmp(err.reason, new_err->reason) == 0,
			 "%s: diff refuses line %u (%s), rt_parse line %u (%s)", mode, err.line,
			 err.reason, new_err->line, new_err->reason);
		FZ_CHECK(out.n == 0, "%s: %zu changes from a refused text", mode, out.n);
		goto out;
	}
	FZ_CHECK(rc == 0, "%s: NEW parses, diff returns %d (line %u: %s)", mode, rc, err.line,
		 err.reason);
	fz_check_entries(&out, mode, 1);

	/* Each key once, no flags, never a no-op. */
	if (out.n) {
		sorted = malloc(out.n * sizeof(*sorted));
		FZ_CHECK(sorted, "out of memory");
		memcpy(sorted, out.v, out.n * sizeof(*sorted));
		qsort(sorted, out.n, sizeof(*sorted), entry_key_cmp);
	}
	for (i = 0; i < out.n; i++) {
		const struct rfs_entry *c = &sorted[i], *b;

		FZ_CHECK(i == 0 || !fz_same_key(&sorted[i - 1], c),
			 "%s: key '%s' '%s' changed twice", mode, c->client, c->path);
		FZ_CHECK(c->flags == 0, "%s: change with flags %u", mode, c->flags);
		b = find(map->v, map->n, c->client, c->client_len, c->path, c->path_len);
		FZ_CHECK(c->count != (b ? b->count : 0), "%s: no-op change of '%s' '%s' to %u",
			 mode, c->client, c->path, c->count);
		if (unique && c->count > 0) {
			size_t k;

			for (k = 0; k < newp->n; k++)
				if (newp->v[k].line == c->line && fz_same_key(&newp->v[k], c))
					break;
			FZ_CHECK(k < newp->n,
				 "%s: change of '%s' '%s' names line %u, which does "
				 "not hold that key",
				 mode, c->client, c->path, c->line);
		}
	}

	/* Apply to the base: the result must be NEW, folded. */
	for (i = 0; i < map->n; i++) {
		const struct rfs_entry *b = &map->v[i];
		const struct rfs_entry *c =
			find(sorted, out.n, b->client, b->client_len, b->path, b->path_len);
		uint32_t count = c ? c->count : b->count;

		if (count)
			FZ_OK(rfs_entries_add(&res, b->client, b->client_len, b->path, b->path_len,
					      count, 0));
	}
	for (i = 0; i < out.n; i++) {
		const struct rfs_entry *c = &sorted[i];

		if (c->count &&
		    !find(map->v, map->n, c->client, c->client_len, c->path, c->path_len))
			FZ_OK(rfs_entries_add(&res, c->client, c->client_len, c->path, c->path_len,
					      c->count, 0));
	}
	rfs_entries_fold(&res);
	fz_entries_equal(&res, newf, 0, mode);
out:
	free(sorted);
	rfs_entries_free(&out);
	rfs_entries_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *zero = memchr(in, '\0', size);
	size_t src_len = zero ? (size_t)(zero - in) : 0;
	size_t text_len = zero ? size - src_len - 1 : size;
	struct rfs_entries srcp = {0}, map = {0}, order = {0}, newp = {0}, newf = {0};
	struct rfs_parse_error new_err = {0};
	char *src, *text, *base;
	size_t base_len;
	int src_rc, new_rc;

	/* Exact-size heap copies, so ASan sees a read past either end. */
	src = malloc(src_len ? src_len : 1);
	text = malloc(text_len ? text_len : 1);
	FZ_CHECK(src && text, "out of memory");
	memcpy(src, in, src_len);
	memcpy(text, zero ? zero + 1 : in, text_len);

	/* The base: what BASE parses to, folded, rendered in first-seen order. */
	src_rc = rt_parse(src, src_len, 1, &srcp, NULL);
	copy_entries(&map, &srcp);
	rfs_entries_fold(&map);
	copy_entries(&order, &map);
	if (order.n > 1)
		qsort(order.v, order.n, sizeof(*order.v), entry_line_cmp);
	base = fz_render_rmtab(&order, &base_len);

	new_rc = rt_parse(text, text_len, 1, &newp, &new_err);
	FZ_CHECK(new_rc == 0 || new_rc == -EINVAL, "rt_parse: %d", new_rc);
	copy_entries(&newf, &newp);
	rfs_entries_fold(&newf);

	run("A (rendered base, unique)", base, base_len, true, &map, text, text_len, new_rc,
	    &new_err, &newp, &newf);
	run("A' (rendered base, not unique)", base, base_len, false, &map, text, text_len, new_rc,
	    &new_err, &newp, &newf);
	if (src_rc == 0 && !(skip_known && saturated(&map)))
		run("B (committed text base)", src, src_len, false, &map, text, text_len, new_rc,
		    &new_err, &newp, &newf);

	free(base);
	free(src);
	free(text);
	rfs_entries_free(&srcp);
	rfs_entries_free(&map);
	rfs_entries_free(&order);
	rfs_entries_free(&newp);
	rfs_entries_free(&newf);
	return 0;
}
