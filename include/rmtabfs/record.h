/*
 * Records: the (client, path) keys every view shows, their limits, and lists of parsed entries.
 */
#ifndef RMTABFS_RECORD_H
#define RMTABFS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MNTNAMLEN: a longer client makes the whole DUMP reply fail to encode, for every caller. */
#define RFS_CLIENT_MAX 255
/* MNTPATHLEN. */
#define RFS_PATH_MAX  1024
#define RFS_NODE_MAX  64
#define RFS_COUNT_MAX 0xffffffffu
/* Cluster-wide number of live records; beyond it a commit fails with ENOSPC. */
#define RFS_RECORDS_MAX 500000
/* Largest content a write session may hold: more than RFS_RECORDS_MAX long lines. */
#define RFS_VIEW_MAX_BYTES (96u << 20)

/* Why a key or a line was refused: line number (1-based, 0 if none) and a reason. */
struct rfs_parse_error {
	unsigned line;
	char reason[120];
};

void rfs_parse_error_set(struct rfs_parse_error *err, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Checks a canonical key (client with real ':' as mountd has it in memory). Returns 0 or
 * -EINVAL with err->reason set. A client may not hold ';' (rmtab writes ':' as ';', so a real
 * ';' could never be read back), NUL or newline; a path must start with '/'.
 */
int rfs_key_check(const char *client, size_t client_len, const char *path, size_t path_len,
		  struct rfs_parse_error *err);

/* Bump allocator for the strings of parsed entries: pointers stay valid until it is freed. */
struct rfs_arena {
	struct rfs_arena_chunk *head;
	size_t used;
};

char *rfs_arena_strndup(struct rfs_arena *a, const char *s, size_t len);
void rfs_arena_free(struct rfs_arena *a);

struct rfs_entry {
	const char *client; /* canonical: ':' as ':' */
	const char *path;
	uint32_t client_len;
	uint32_t path_len;
	uint32_t count; /* 1..RFS_COUNT_MAX (0 in a change: remove); a gNFS entry counts 1 */
	uint32_t line;	/* where it was parsed from, for messages */
	uint32_t flags; /* RFS_ENTRY_* */
};

/* In a change: make the count at least this (gNFS adds a client; it does not know counts). */
#define RFS_ENTRY_AT_LEAST 1u

struct rfs_entries {
	struct rfs_entry *v;
	size_t n;
	size_t cap;
	struct rfs_arena arena;
};

int rfs_entries_add(struct rfs_entries *e, const char *client, size_t client_len, const char *path,
		    size_t path_len, uint32_t count, uint32_t line);
void rfs_entries_free(struct rfs_entries *e);
/* Sorts by key and folds duplicate keys into one entry whose count is the capped sum. */
void rfs_entries_fold(struct rfs_entries *e);
int rfs_key_cmp(const char *c1, size_t c1len, const char *p1, size_t p1len, const char *c2,
		size_t c2len, const char *p2, size_t p2len);

/* Hash of a key, the same everywhere (table, indexes). */
uint64_t rfs_key_hash(const char *client, size_t client_len, const char *path, size_t path_len);

#endif
