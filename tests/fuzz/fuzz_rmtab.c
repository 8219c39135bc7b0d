/*
 * Fuzz target: the rmtab parser (rt_parse, fs/rmtab_fmt.c) on arbitrary bytes.
 *
 * Checks, besides "no crash, no leak, no hang" (ASan/UBSan/libFuzzer):
 *  - every entry it produces passes rfs_key_check, is NUL-terminated at its length and has a
 *    count in 1..0xffffffff, also the entries appended before a refused line;
 *  - it agrees with a small independent model of the format written from the header's
 *    rules (rmtab_fmt.h): same verdict, same entries, same refused line number;
 *  - on success: one entry per line, numbered from first_line; rendering the entries with
 *    rt_render_line and parsing that gives the same entries (keys, counts, lines), and
 *    rendering those again gives the same bytes (the rendering is canonical).
 */
#include <stdint.h>

#include "fuzz_common.h"

/* rt_parse's line limit: rt_line_len(RFS_CLIENT_MAX, RFS_PATH_MAX) + 8 (checked at start). */
#define LINE_LIMIT (RFS_CLIENT_MAX + 1 + RFS_PATH_MAX + 12 + 8)

struct ref_entry {
	char client[RFS_CLIENT_MAX + 1];
	size_t client_len;
	const char *path;
	size_t path_len;
	uint64_t count;
};

/* The model: the rules of rmtab_fmt.h, written without looking at the parser's code. */
static int ref_line(const char *l, size_t len, struct ref_entry *out)
{
	const char *colon, *rest, *last;
	size_t rest_len, i;

	if (len > LINE_LIMIT || len == 0 || memchr(l, '\0', len))
		return -1;
	colon = memchr(l, ':', len);
	if (!colon || (size_t)(colon - l) > RFS_CLIENT_MAX || colon == l)
		return -1;
	out->client_len = (size_t)(colon - l);
	for (i = 0; i < out->client_len; i++)
		out->client[i] = l[i] == ';' ? ':' : l[i];
	out->client[out->client_len] = '\0';
	rest = colon + 1;
	rest_len = len - out->client_len - 1;
	out->path = rest;
	out->path_len = rest_len;
	out->count = 1;
	last = memrchr(rest, ':', rest_len);
	if (last) {
		char field[LINE_LIMIT + 1], *end;
		size_t flen = (size_t)(rest + rest_len - last - 1);
		unsigned long long v;

		if (flen == 0)
			return -1; /* "empty count" */
		if (last[1] >= '0' && last[1] <= '9') {
			/* Starts like a number: must be one (strtol base 0), 1..0xffffffff. */
			memcpy(field, last + 1, flen);
			field[flen] = '\0';
			errno = 0;
			v = strtoull(field, &end, 0);
			if (end != field + flen || errno == ERANGE || v == 0 || v > 0xffffffffull)
				return -1;
			out->count = v;
			out->path_len = (size_t)(last - rest);
		}
	}
	if (out->path_len == 0 || out->path[0] != '/' || out->path_len > RFS_PATH_MAX)
		return -1;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FZ_CHECK(LINE_LIMIT == rt_line_len(RFS_CLIENT_MAX, RFS_PATH_MAX) + 8,
		 "LINE_LIMIT out of date");
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct rfs_entries e = {0}, again = {0};
	struct rfs_parse_error err = {0};
	size_t pos = 0, i, len1, len2;
	unsigned lineno = 1, nlines = fz_count_lines(buf, size);
	unsigned ref_bad = 0;
	char *text1, *text2;
	int rc;

	rc = rt_parse(buf, size, 1, &e, &err);
	FZ_CHECK(rc == 0 || rc == -EINVAL, "rt_parse returned %d", rc);
	fz_check_entries(&e, "rt_parse", 0);

	/* Walk the model over the same lines; the parser's entries must be its entries. */
	for (i = 0; pos < size; lineno++) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t line_len = nl ? (size_t)(nl - buf - pos) : size - pos;
		struct ref_entry r;

		if (ref_line(buf + pos, line_len, &r)) {
			ref_bad = lineno;
			break;
		}
		FZ_CHECK(i < e.n, "line %u is valid for the model but the parser stopped", lineno);
		FZ_CHECK(e.v[i].client_len == r.client_len &&
				 memcmp(e.v[i].client, r.client, r.client_len) == 0,
			 "line %u: client '%s' vs model '%s'", lineno, e.v[i].client, r.client);
		FZ_CHECK(e.v[i].path_len == r.path_len &&
				 memcmp(e.v[i].path, r.path, r.path_len) == 0,
			 "line %u: path '%s' vs model '%.*s'", lineno, e.v[i].path, (int)r.path_len,
			 r.path);
		FZ_CHECK(e.v[i].count == r.count, "line %u: count %u vs model %llu", lineno,
			 e.v[i].count, (unsigned long long)r.count);
		FZ_CHECK(e.v[i].line == lineno, "entry %zu: line %u, expected %u", i, e.v[i].line,
			 lineno);
		i++;
		pos += line_len + (nl ? 1 : 0);
	}
	if (ref_bad) {
		FZ_CHECK(rc == -EINVAL, "model refuses line %u, parser accepts", ref_bad);
		FZ_CHECK(err.line == ref_bad, "parser refuses line %u (%s), model line %u",
			 err.line, err.reason, ref_bad);
		FZ_CHECK(e.n == i, "parser appended %zu entries before refusing, model %zu", e.n,
			 i);
		fz_check_error(&err, nlines, "rt_parse");
		goto out;
	}
	FZ_CHECK(rc == 0, "parser refuses line %u (%s), model accepts everything", err.line,
		 err.reason);
	FZ_CHECK(e.n == i && e.n == nlines, "%zu entries for %u lines", e.n, nlines);

	/* Round trip: render, parse again, same entries; render again, same bytes. */
	text1 = fz_render_rmtab(&e, &len1);
	memset(&err, 0, sizeof(err));
	rc = rt_parse(text1, len1, 1, &again, &err);
	FZ_CHECK(rc == 0, "rendered text does not parse: line %u: %s", err.line, err.reason);
	fz_check_entries(&again, "reparsed", 0);
	fz_entries_equal(&e, &again, 1, "parse vs parse(render)");
	text2 = fz_render_rmtab(&again, &len2);
	FZ_CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0, "rendering is not canonical");
	free(text1);
	free(text2);
out:
	rfs_entries_free(&e);
	rfs_entries_free(&again);
	return 0;
}
