/*
 * Keys, limits and entry lists shared by the formats, the diff and the table.
 *
 * Invariants: every entry in an rfs_entries passed rfs_key_check(); its strings live in the
 * list's arena and are NUL-terminated; after rfs_entries_fold() the list is sorted by key
 * (client bytes, then path bytes) and holds each key once. No locks: lists have one owner.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/record.h>

void rfs_parse_error_set(struct rfs_parse_error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
}

int rfs_key_check(const char *client, size_t client_len, const char *path, size_t path_len,
		  struct rfs_parse_error *err)
{
	unsigned line = err ? err->line : 0;

	if (client_len == 0) {
		rfs_parse_error_set(err, line, "empty client");
		return -EINVAL;
	}
	if (client_len > RFS_CLIENT_MAX) {
		rfs_parse_error_set(err, line, "client of %zu bytes (limit %d)", client_len,
				    RFS_CLIENT_MAX);
		return -EINVAL;
	}
	if (memchr(client, '\0', client_len) || memchr(client, '\n', client_len)) {
		rfs_parse_error_set(err, line, "client holds a NUL or newline");
		return -EINVAL;
	}
	if (memchr(client, ';', client_len)) {
		rfs_parse_error_set(err, line, "client holds ';' (rmtab cannot represent it)");
		return -EINVAL;
	}
	if (path_len == 0 || path[0] != '/') {
		rfs_parse_error_set(err, line, "path does not start with '/'");
		return -EINVAL;
	}
	if (path_len > RFS_PATH_MAX) {
		rfs_parse_error_set(err, line, "path of %zu bytes (limit %d)", path_len,
				    RFS_PATH_MAX);
		return -EINVAL;
	}
	if (memchr(path, '\0', path_len) || memchr(path, '\n', path_len)) {
		rfs_parse_error_set(err, line, "path holds a NUL or newline");
		return -EINVAL;
	}
	return 0;
}

struct rfs_arena_chunk {
	struct rfs_arena_chunk *next;
	size_t size;
	char data[];
};

#define ARENA_CHUNK (64 * 1024 - sizeof(struct rfs_arena_chunk))

char *rfs_arena_strndup(struct rfs_arena *a, const char *s, size_t len)
{
	struct rfs_arena_chunk *c = a->head;
	char *p;

	if (!c || c->size - a->used < len + 1) {
		size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->next = a->head;
		a->head = c;
		a->used = 0;
	}
	p = c->data + a->used;
	memcpy(p, s, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

void rfs_arena_free(struct rfs_arena *a)
{
	struct rfs_arena_chunk *c = a->head;

	while (c) {
		struct rfs_arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

int rfs_entries_add(struct rfs_entries *e, const char *client, size_t client_len, const char *path,
		    size_t path_len, uint32_t count, uint32_t line)
{
	struct rfs_entry *ent;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct rfs_entry *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	ent = &e->v[e->n];
	ent->client = rfs_arena_strndup(&e->arena, client, client_len);
	ent->path = rfs_arena_strndup(&e->arena, path, path_len);
	if (!ent->client || !ent->path)
		return -ENOMEM;
	ent->client_len = (uint32_t)client_len;
	ent->path_len = (uint32_t)path_len;
	ent->count = count;
	ent->line = line;
	ent->flags = 0;
	e->n++;
	return 0;
}

void rfs_entries_free(struct rfs_entries *e)
{
	free(e->v);
	rfs_arena_free(&e->arena);
	memset(e, 0, sizeof(*e));
}

int rfs_key_cmp(const char *c1, size_t c1len, const char *p1, size_t p1len, const char *c2,
		size_t c2len, const char *p2, size_t p2len)
{
	size_t n = c1len < c2len ? c1len : c2len;
	int r = memcmp(c1, c2, n);

	if (r)
		return r;
	if (c1len != c2len)
		return c1len < c2len ? -1 : 1;
	n = p1len < p2len ? p1len : p2len;
	r = memcmp(p1, p2, n);
	if (r)
		return r;
	if (p1len != p2len)
		return p1len < p2len ? -1 : 1;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct rfs_entry *x = a, *y = b;
	int r = rfs_key_cmp(x->client, x->client_len, x->path, x->path_len, y->client,
			    y->client_len, y->path, y->path_len);

	if (r)
		return r;
	/* Stable across equal keys so folding keeps the first line number. */
	return x->line < y->line ? -1 : x->line > y->line;
}

void rfs_entries_fold(struct rfs_entries *e)
{
	size_t i, out = 0;

	if (e->n < 2)
		return;
	qsort(e->v, e->n, sizeof(*e->v), entry_cmp);
	for (i = 1; i < e->n; i++) {
		struct rfs_entry *prev = &e->v[out];
		struct rfs_entry *cur = &e->v[i];

		if (rfs_key_cmp(prev->client, prev->client_len, prev->path, prev->path_len,
				cur->client, cur->client_len, cur->path, cur->path_len) == 0) {
			uint64_t sum = (uint64_t)prev->count + cur->count;

			prev->count = sum > RFS_COUNT_MAX ? RFS_COUNT_MAX : (uint32_t)sum;
		} else {
			e->v[++out] = *cur;
		}
	}
	e->n = out + 1;
}

/* FNV-1a, 64 bit: short keys, no need for anything stronger in a private table. */
uint64_t rfs_key_hash(const char *client, size_t client_len, const char *path, size_t path_len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < client_len; i++)
		h = (h ^ (unsigned char)client[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (i = 0; i < path_len; i++)
		h = (h ^ (unsigned char)path[i]) * 0x100000001b3ull;
	return h;
}
