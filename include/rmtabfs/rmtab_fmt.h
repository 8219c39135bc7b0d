/*
 * The nfs-utils rmtab format: "client:path:0x%08x\n", ':' in the client written as ';'.
 * Pure code, no I/O.
 */
#ifndef RMTABFS_RMTAB_FMT_H
#define RMTABFS_RMTAB_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmtabfs/record.h>

/* Bytes of the rendered line, newline included. */
static inline size_t rt_line_len(size_t client_len, size_t path_len)
{
	return client_len + 1 + path_len + 12;
}

/* Writes one line at out (rt_line_len() bytes, no NUL) and returns the end. */
char *rt_render_line(char *out, const char *client, size_t client_len, const char *path,
		     size_t path_len, uint32_t count);

/*
 * Parses rmtab content. Accepts what rpc.mountd accepts (count in hex, decimal or octal,
 * missing count = 1, ';' = ':', a last line without newline) and refuses with -EINVAL, the
 * line number and a reason whatever rpc.mountd would silently truncate or stop at: a line
 * without ':', an empty line, a client over 255 bytes, a path over 1024 bytes or not
 * starting with '/', a NUL, a count of 0, above 0xffffffff or with trailing garbage.
 * A ':' inside the path is kept: the count is taken after the last ':' when what follows
 * is a number. first_line numbers the first line of buf. Entries are appended to out.
 */
int rt_parse(const char *buf, size_t len, unsigned first_line, struct rfs_entries *out,
	     struct rfs_parse_error *err);

/*
 * Could content that starts with head[0..len) parse as rmtab? False only when it cannot: its
 * first line is bad, or no newline comes within the longest valid line. whole: head is the
 * entire content (an empty content parses). Reads nothing beyond head.
 */
bool rt_head_ok(const char *head, size_t len, bool whole);

#endif
