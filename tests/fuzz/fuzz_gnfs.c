/*
 * Fuzz target: the gNFS rmtab parser (gn_parse, fs/gnfs_fmt.c) on arbitrary bytes.
 *
 * Checks, besides "no crash, no leak, no hang" (ASan/UBSan/libFuzzer):
 *  - every entry passes rfs_key_check, is NUL-terminated at its length and counts 1;
 *  - it agrees with a small independent model of gNFS's reading (gnfs_fmt.h: first line
 *    with a key wins, blank lines skipped, entries 0, 1, ... until one is missing, and the
 *    refusals listed there): same verdict, same entries in the same order, same lines;
 *  - on success: rendering the entries with gn_render_pair (pair i for entry i) and parsing
 *    that gives the same entries, and rendering those again gives the same bytes.
 */
#include <stdint.h>

#include "fuzz_common.h"

struct ref_line {
	const char *key, *value;
	size_t key_len, value_len;
};

/* "hostname-N" / "mountpoint-N" with N as "%d" prints it; -1 for any other key. */
static long ref_key_index(const char *key, size_t len, int *is_host)
{
	static const char *const prefix[2] = {"mountpoint-", "hostname-"};
	int h;

	for (h = 0; h < 2; h++) {
		size_t pl = strlen(prefix[h]), i;
		long v = 0;

		if (len <= pl || memcmp(key, prefix[h], pl) != 0)
			continue;
		if (len - pl > 10 || (len - pl > 1 && key[pl] == '0'))
			return -1;
		for (i = pl; i < len; i++) {
			if (key[i] < '0' || key[i] > '9')
				return -1;
			v = v * 10 + (key[i] - '0');
		}
		*is_host = h;
		return v > 0x7fffffffL ? -1 : v;
	}
	return -1;
}

/* First line whose key is exactly the key of (is_host, idx), as gNFS looks it up. */
static long ref_find(const struct ref_line *lines, size_t n, int is_host, long idx)
{
	char key[32];
	size_t i, klen;

	klen = (size_t)snprintf(key, sizeof(key), "%s-%ld", is_host ? "hostname" : "mountpoint",
				idx);
	for (i = 0; i < n; i++)
		if (lines[i].key && lines[i].key_len == klen &&
		    memcmp(lines[i].key, key, klen) == 0)
			return (long)i;
	return -1;
}

/* Returns the number of entries (their lines in host_at/path_at), or -1 if refused. */
static long ref_parse(const char *buf, size_t len, struct ref_line *lines, size_t nlines,
		      long *host_at, long *path_at)
{
	size_t pos = 0, i = 0;
	long n, max_idx = -1;

	if (len && buf[len - 1] != '\n')
		return -1;
	for (; pos < len; i++) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos), *eq;
		size_t ll = (size_t)(nl - l);
		int is_host;
		long idx;

		pos += ll + 1;
		lines[i].key = NULL;
		if (ll == 0)
			continue;
		if (memchr(l, '\0', ll) || !(eq = memchr(l, '=', ll)) || eq + 1 == l + ll)
			return -1;
		lines[i].key = l;
		lines[i].key_len = (size_t)(eq - l);
		lines[i].value = eq + 1;
		lines[i].value_len = ll - lines[i].key_len - 1;
		idx = ref_key_index(l, lines[i].key_len, &is_host);
		if (idx < 0)
			return -1; /* unknown key */
		if (idx > max_idx)
			max_idx = idx;
	}
	FZ_CHECK(i == nlines, "model: %zu lines, expected %zu", i, nlines);
	for (n = 0;; n++) {
		long h = ref_find(lines, nlines, 1, n), p = ref_find(lines, nlines, 0, n);

		if (h < 0 && p < 0)
			break;
		if (h < 0 || p < 0)
			return -1; /* half an entry */
		if (rfs_key_check(lines[h].value, lines[h].value_len, lines[p].value,
				  lines[p].value_len, NULL))
			return -1;
		host_at[n] = h;
		path_at[n] = p;
	}
	if (max_idx >= n)
		return -1; /* entries after a gap */
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct rfs_entries e = {0}, again = {0};
	struct rfs_buf text1 = RFS_BUF_INIT, text2 = RFS_BUF_INIT;
	struct rfs_parse_error err = {0};
	size_t nlf = 0, i;
	struct ref_line *lines;
	long *host_at, *path_at, ref_n;
	int rc;

	for (i = 0; i < size; i++)
		nlf += buf[i] == '\n';
	lines = calloc(nlf + 1, sizeof(*lines));
	host_at = calloc(nlf + 1, sizeof(*host_at));
	path_at = calloc(nlf + 1, sizeof(*path_at));
	FZ_CHECK(lines && host_at && path_at, "out of memory");

	rc = gn_parse(buf, size, &e, &err);
	FZ_CHECK(rc == 0 || rc == -EINVAL, "gn_parse returned %d", rc);
	fz_check_entries(&e, "gn_parse", 0);
	ref_n = ref_parse(buf, size, lines, nlf, host_at, path_at);
	if (ref_n < 0) {
		FZ_CHECK(rc == -EINVAL, "model refuses, parser accepts %zu entries", e.n);
		fz_check_error(&err, fz_count_lines(buf, size), "gn_parse");
		goto out;
	}
	FZ_CHECK(rc == 0, "parser refuses line %u (%s), model accepts %ld entries", err.line,
		 err.reason, ref_n);
	FZ_CHECK(e.n == (size_t)ref_n, "parser: %zu entries, model %ld", e.n, ref_n);
	for (i = 0; i < e.n; i++) {
		const struct ref_line *h = &lines[host_at[i]], *p = &lines[path_at[i]];

		FZ_CHECK(e.v[i].client_len == h->value_len &&
				 memcmp(e.v[i].client, h->value, h->value_len) == 0 &&
				 e.v[i].path_len == p->value_len &&
				 memcmp(e.v[i].path, p->value, p->value_len) == 0,
			 "entry %zu: '%s' '%s' vs model '%.*s' '%.*s'", i, e.v[i].client,
			 e.v[i].path, (int)h->value_len, h->value, (int)p->value_len, p->value);
		FZ_CHECK(e.v[i].count == 1, "entry %zu: count %u", i, e.v[i].count);
		FZ_CHECK(e.v[i].line == (unsigned)host_at[i] + 1, "entry %zu: line %u, model %ld",
			 i, e.v[i].line, host_at[i] + 1);
	}

	/* Round trip through gn_render_pair. */
	fz_render_gnfs(&e, &text1);
	memset(&err, 0, sizeof(err));
	rc = gn_parse(text1.data ? text1.data : "", text1.len, &again, &err);
	FZ_CHECK(rc == 0, "rendered text does not parse: line %u: %s", err.line, err.reason);
	fz_check_entries(&again, "reparsed", 0);
	fz_entries_equal(&e, &again, 0, "parse vs parse(render)");
	for (i = 0; i < again.n; i++)
		FZ_CHECK(again.v[i].line == 2 * i + 1, "rendered entry %zu on line %u", i,
			 again.v[i].line);
	fz_render_gnfs(&again, &text2);
	FZ_CHECK(text1.len == text2.len &&
			 (text1.len == 0 || memcmp(text1.data, text2.data, text1.len) == 0),
		 "rendering is not canonical");
out:
	free(lines);
	free(host_at);
	free(path_at);
	rfs_buf_free(&text1);
	rfs_buf_free(&text2);
	rfs_entries_free(&e);
	rfs_entries_free(&again);
	return 0;
}
