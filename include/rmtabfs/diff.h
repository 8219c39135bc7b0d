/*
 * Diff: from the content a writer started from (its base) and the content it wrote, the
 * changes that turn one into the other, as target counts per key. Pure code.
 */
#ifndef RMTABFS_DIFF_H
#define RMTABFS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/record.h>

/*
 * Total count of a key in the whole base text (0 if absent). Must be exact: the caller
 * answers from the table at the base's generation or from an index of the base text.
 */
typedef int64_t (*rfs_base_count_fn)(void *ctx, const char *client, size_t client_len,
				     const char *path, size_t path_len);

/*
 * rmtab content. Only the lines between the longest common prefix and suffix (cut at line
 * boundaries) are parsed, so a one-line in-place bump or an append costs O(changed lines)
 * plus a memcmp. When base_unique is true the base holds each key once (a rendered
 * snapshot) and base_count is consulted only for keys outside the changed lines. A key's
 * new count is the sum of its lines (so `echo c:/p >> rmtab` of an existing record counts
 * one mount more). Changes get the line number of the key's first new line.
 * Returns 0 (changes appended to out, unchanged keys produce nothing), -EINVAL with err
 * set, or -ENOMEM.
 */
int rfs_diff_rmtab(const char *base, size_t base_len, bool base_unique, const char *text,
		   size_t text_len, rfs_base_count_fn base_count, void *ctx,
		   struct rfs_entries *out, struct rfs_parse_error *err);

/*
 * gNFS content against the base's set of keys (folded entries): a key gone is a removal
 * (count 0), a key new is "at least 1" (gNFS has no counts), a key kept is left alone.
 */
int rfs_diff_gnfs(const struct rfs_entries *base_folded, const char *text, size_t text_len,
		  struct rfs_entries *out, struct rfs_parse_error *err);

#endif
