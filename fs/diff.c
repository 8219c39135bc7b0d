/*
 * Write-session diff (see include/rmtabfs/diff.h).
 *
 * Invariant: applying the produced target counts to the base yields exactly the multiset of
 * records the new text describes; keys whose total does not change produce nothing, so
 * concurrent changes by others to keys this writer did not touch are never overwritten.
 * No state, no locks.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rmtabfs/diff.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/rmtab_fmt.h>

static unsigned count_lines(const char *p, size_t len)
{
	unsigned n = 0;
	const char *end = p + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/*
 * Length of the common prefix (suffix) of a and b, both at least n long. A session usually
 * differs from its base in one line of a long text: whole blocks go through memcmp first.
 */
#define CMP_BLOCK 256

static size_t common_prefix(const char *a, const char *b, size_t n)
{
	size_t i = 0;

	while (n - i >= CMP_BLOCK && memcmp(a + i, b + i, CMP_BLOCK) == 0)
		i += CMP_BLOCK;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* a_end and b_end point just past the texts; n is at most the shorter one's length. */
static size_t common_suffix(const char *a_end, const char *b_end, size_t n)
{
	size_t i = 0;

	while (n - i >= CMP_BLOCK &&
	       memcmp(a_end - i - CMP_BLOCK, b_end - i - CMP_BLOCK, CMP_BLOCK) == 0)
		i += CMP_BLOCK;
	while (i < n && a_end[-1 - (ptrdiff_t)i] == b_end[-1 - (ptrdiff_t)i])
		i++;
	return i;
}

static int key_cmp_entries(const struct rfs_entry *a, const struct rfs_entry *b)
{
	return rfs_key_cmp(a->client, a->client_len, a->path, a->path_len, b->client, b->client_len,
			   b->path, b->path_len);
}

/* Count of a key in a folded list (0 if absent). */
static uint64_t folded_find(const struct rfs_entries *e, const struct rfs_entry *key)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp_entries(&e->v[mid], key);

		if (c == 0)
			return e->v[mid].count;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int emit(struct rfs_entries *out, const struct rfs_entry *e, uint64_t target, uint32_t flags)
{
	int rc =
		rfs_entries_add(out, e->client, e->client_len, e->path, e->path_len,
				target > RFS_COUNT_MAX ? RFS_COUNT_MAX : (uint32_t)target, e->line);

	if (!rc)
		out->v[out->n - 1].flags = flags;
	return rc;
}

/* The base as the merge-walk sees it: its unchanged prefix and suffix, and how to count. */
struct diff_base {
	const char *base;
	size_t base_len, pre, suf;
	bool base_unique;
	rfs_base_count_fn base_count;
	void *ctx;
	struct rfs_entries outside_f; /* prefix and suffix, folded; parsed on first need */
	bool outside_parsed;
};

/*
 * The key's total count in the base, and how many of those lie outside the middle (in_old
 * lie inside). 0, or -errno with err set.
 */
static int base_counts(struct diff_base *d, const struct rfs_entry *key, uint64_t in_old,
		       uint64_t *total, uint64_t *outside, struct rfs_parse_error *err)
{
	int rc;

	if (d->base_unique && in_old) {
		*total = in_old;
	} else {
		int64_t b = d->base_count(d->ctx, key->client, key->client_len, key->path,
					  key->path_len);

		if (b < 0 || (uint64_t)b < in_old) {
			rfs_parse_error_set(err, key->line, "base lookup failed");
			return -EIO;
		}
		*total = (uint64_t)b;
	}
	if (*total >= RFS_COUNT_MAX && !d->base_unique) {
		/*
		 * A saturated total says nothing about the lines outside the middle: count
		 * them in the unchanged prefix and suffix instead (rare: parsed once, only
		 * when some key reaches the cap).
		 */
		if (!d->outside_parsed) {
			rc = rt_parse(d->base, d->pre, 1, &d->outside_f, NULL);
			if (!rc)
				rc = rt_parse(d->base + d->base_len - d->suf, d->suf, 1,
					      &d->outside_f, NULL);
			if (rc) {
				rfs_parse_error_set(err, 0, "base content unreadable");
				return rc;
			}
			rfs_entries_fold(&d->outside_f);
			d->outside_parsed = true;
		}
		*outside = folded_find(&d->outside_f, key);
	} else {
		*outside = *total - in_old;
	}
	return 0;
}

int rfs_diff_rmtab(const char *base, size_t base_len, bool base_unique, const char *text,
		   size_t text_len, rfs_base_count_fn base_count, void *ctx,
		   struct rfs_entries *out, struct rfs_parse_error *err)
{
	struct rfs_entries old_mid = {0}, new_mid = {0};
	struct diff_base d = {.base = base,
			      .base_len = base_len,
			      .base_unique = base_unique,
			      .base_count = base_count,
			      .ctx = ctx};
	size_t min_len = base_len < text_len ? base_len : text_len;
	size_t pre = 0, suf = 0, i = 0, j = 0;
	int rc;

	/* Common prefix, cut back to the start of a line. */
	pre = common_prefix(base, text, min_len);
	while (pre > 0 && base[pre - 1] != '\n')
		pre--;
	/* Common suffix of whole lines in both texts, not overlapping the prefix. */
	suf = common_suffix(base + base_len, text + text_len, min_len - pre);
	while (suf > 0 && !((base_len - suf == pre || base[base_len - suf - 1] == '\n') &&
			    (text_len - suf == pre || text[text_len - suf - 1] == '\n')))
		suf--;
	d.pre = pre;
	d.suf = suf;

	rc = rt_parse(base + pre, base_len - pre - suf, 1, &old_mid, NULL);
	if (rc) {
		/* The base was accepted before; failing here means memory or a bug. */
		rfs_parse_error_set(err, 0, "base content unreadable");
		goto out;
	}
	rc = rt_parse(text + pre, text_len - pre - suf, 1 + count_lines(text, pre), &new_mid, err);
	if (rc)
		goto out;
	rfs_entries_fold(&old_mid);
	rfs_entries_fold(&new_mid);

	/* Merge-walk both sorted middles. */
	while (i < old_mid.n || j < new_mid.n) {
		const struct rfs_entry *o = i < old_mid.n ? &old_mid.v[i] : NULL;
		const struct rfs_entry *n = j < new_mid.n ? &new_mid.v[j] : NULL;
		const struct rfs_entry *key;
		uint64_t in_old = 0, in_new = 0, total, outside, target;
		int c;

		if (o && n)
			c = key_cmp_entries(o, n);
		else
			c = o ? -1 : 1;
		if (c <= 0) {
			in_old = o->count;
			i++;
		}
		if (c >= 0) {
			in_new = n->count;
			j++;
		}
		key = c >= 0 ? n : o;
		rc = base_counts(&d, key, in_old, &total, &outside, err);
		if (rc)
			goto out;
		target = outside + in_new;
		if (target > RFS_COUNT_MAX)
			target = RFS_COUNT_MAX;
		if (target == total)
			continue;
		rc = emit(out, key, target, 0);
		if (rc)
			goto out;
	}
out:
	rfs_entries_free(&old_mid);
	rfs_entries_free(&new_mid);
	rfs_entries_free(&d.outside_f);
	return rc;
}

int rfs_diff_gnfs(const struct rfs_entries *base_folded, const char *text, size_t text_len,
		  struct rfs_entries *out, struct rfs_parse_error *err)
{
	struct rfs_entries next = {0};
	size_t i = 0, j = 0;
	int rc;

	rc = gn_parse(text, text_len, &next, err);
	if (rc)
		goto out;
	rfs_entries_fold(&next);
	while (i < base_folded->n || j < next.n) {
		const struct rfs_entry *o = i < base_folded->n ? &base_folded->v[i] : NULL;
		const struct rfs_entry *n = j < next.n ? &next.v[j] : NULL;
		int c = o && n ? key_cmp_entries(o, n) : (o ? -1 : 1);

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			rc = emit(out, o, 0, 0);
			i++;
		} else {
			rc = emit(out, n, 1, RFS_ENTRY_AT_LEAST);
			j++;
		}
		if (rc)
			goto out;
	}
out:
	rfs_entries_free(&next);
	return rc;
}
