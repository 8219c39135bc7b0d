/*
 * Gluster gNFS's persistent rmtab format (mount3.c + store.c): pairs of lines
 * "hostname-N=client" and "mountpoint-N=path", N from 0 without gaps. Pure code, no I/O.
 */
#ifndef RMTABFS_GNFS_FMT_H
#define RMTABFS_GNFS_FMT_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/record.h>

/* Appends the pair for entry number idx. */
int gn_render_pair(struct rfs_buf *out, uint32_t idx, const char *client, size_t client_len,
		   const char *path, size_t path_len);

/*
 * Parses as gNFS does (first occurrence of a key wins, lines in any order, blank lines
 * skipped, entries read for N = 0, 1, ... until one is missing) but where gNFS would silently
 * stop or ignore (a line without '=', an empty value, a last line without newline, an
 * unknown key, a hostname without its mountpoint, entries after a gap) returns -EINVAL with
 * the line number and a reason. Each entry gets count 1.
 */
int gn_parse(const char *buf, size_t len, struct rfs_entries *out, struct rfs_parse_error *err);

/*
 * Could content that starts with head[0..len) parse as gNFS's format? False only when it
 * cannot: its first non-blank line is not "hostname-…=" or "mountpoint-…=" with a value.
 * whole: head is the entire content.
 */
bool gn_head_ok(const char *head, size_t len, bool whole);

#endif
