/*
 * Helpers shared by the libFuzzer targets in this directory: a check that aborts (so
 * libFuzzer reports a crash and saves the input), entry-list checks and comparisons, and the
 * rmtab/gNFS renderers the round-trip invariants use. Header-only: each target is one .c
 * file linked with the project's sources by scripts/fuzz.sh.
 */
#ifndef RMTABFS_FUZZ_COMMON_H
#define RMTABFS_FUZZ_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/log.h>
#include <rmtabfs/record.h>
#include <rmtabfs/rmtab_fmt.h>

/* A broken invariant: say which and abort, so libFuzzer keeps the input as a crash. */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "\nFUZZ INVARIANT BROKEN at %s:%d: %s\n  ", __FILE__,      \
				__LINE__, #cond);                                                  \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Only ENOMEM may make a library call fail where the input was fine. */
#define FZ_OK(expr)                                                                                \
	do {                                                                                       \
		int fz_rc_ = (expr);                                                               \
		FZ_CHECK(fz_rc_ == 0, "%s returned %d", #expr, fz_rc_);                            \
	} while (0)

static inline void fz_quiet(void)
{
	/* Every level is <= LOG_EMERG (0): -1 silences the daemon's log entirely. */
	rfs_log_set_level(-1);
}

/* One entry as the rest of the code expects it: valid key, NUL-terminated, sane count. */
static inline void fz_check_entry(const struct rfs_entry *e, const char *what, size_t i,
				  int count_may_be_zero)
{
	struct rfs_parse_error err = {0};

	FZ_CHECK(e->client && e->path, "%s[%zu]: NULL string", what, i);
	FZ_CHECK(rfs_key_check(e->client, e->client_len, e->path, e->path_len, &err) == 0,
		 "%s[%zu]: key fails rfs_key_check: %s", what, i, err.reason);
	FZ_CHECK(strlen(e->client) == e->client_len && strlen(e->path) == e->path_len,
		 "%s[%zu]: string not NUL-terminated at its length", what, i);
	FZ_CHECK(count_may_be_zero || e->count >= 1, "%s[%zu]: count 0", what, i);
}

static inline void fz_check_entries(const struct rfs_entries *e, const char *what,
				    int count_may_be_zero)
{
	size_t i;

	FZ_CHECK(e->n <= e->cap, "%s: n %zu > cap %zu", what, e->n, e->cap);
	for (i = 0; i < e->n; i++)
		fz_check_entry(&e->v[i], what, i, count_may_be_zero);
}

static inline int fz_same_key(const struct rfs_entry *a, const struct rfs_entry *b)
{
	return rfs_key_cmp(a->client, a->client_len, a->path, a->path_len, b->client, b->client_len,
			   b->path, b->path_len) == 0;
}

/* Same keys, counts and (if check_lines) line numbers, in the same order. */
static inline void fz_entries_equal(const struct rfs_entries *a, const struct rfs_entries *b,
				    int check_lines, const char *what)
{
	size_t i;

	FZ_CHECK(a->n == b->n, "%s: %zu entries vs %zu", what, a->n, b->n);
	for (i = 0; i < a->n; i++) {
		const struct rfs_entry *x = &a->v[i], *y = &b->v[i];

		FZ_CHECK(fz_same_key(x, y), "%s: entry %zu: key '%s' '%s' vs '%s' '%s'", what, i,
			 x->client, x->path, y->client, y->path);
		FZ_CHECK(x->count == y->count, "%s: entry %zu ('%s' '%s'): count %u vs %u", what, i,
			 x->client, x->path, x->count, y->count);
		FZ_CHECK(!check_lines || x->line == y->line,
			 "%s: entry %zu ('%s' '%s'): line %u vs %u", what, i, x->client, x->path,
			 x->line, y->line);
	}
}

/* The rmtab text of a list, one rendered line per entry, in list order (malloc'ed). */
static inline char *fz_render_rmtab(const struct rfs_entries *e, size_t *len)
{
	size_t i, total = 0;
	char *buf, *p;

	for (i = 0; i < e->n; i++)
		total += rt_line_len(e->v[i].client_len, e->v[i].path_len);
	buf = malloc(total + 1);
	FZ_CHECK(buf, "out of memory");
	p = buf;
	for (i = 0; i < e->n; i++) {
		char *end = rt_render_line(p, e->v[i].client, e->v[i].client_len, e->v[i].path,
					   e->v[i].path_len, e->v[i].count);

		FZ_CHECK(end == p + rt_line_len(e->v[i].client_len, e->v[i].path_len),
			 "rt_render_line wrote %td bytes, rt_line_len says %zu", end - p,
			 rt_line_len(e->v[i].client_len, e->v[i].path_len));
		p = end;
	}
	*p = '\0';
	*len = total;
	return buf;
}

/* The gNFS text of a list: pair i for entry i. */
static inline void fz_render_gnfs(const struct rfs_entries *e, struct rfs_buf *out)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		FZ_OK(gn_render_pair(out, (uint32_t)i, e->v[i].client, e->v[i].client_len,
				     e->v[i].path, e->v[i].path_len));
}

static inline void fz_check_error(const struct rfs_parse_error *err, unsigned max_line,
				  const char *what)
{
	FZ_CHECK(memchr(err->reason, '\0', sizeof(err->reason)) != NULL,
		 "%s: reason not NUL-terminated", what);
	FZ_CHECK(err->reason[0] != '\0', "%s: error without a reason", what);
	FZ_CHECK(err->line <= max_line, "%s: error line %u beyond the input's %u lines", what,
		 err->line, max_line);
}

static inline unsigned fz_count_lines(const char *p, size_t len)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += p[i] == '\n';
	return n + (len && p[len - 1] != '\n');
}

#endif
