/*
 * nfs-utils rmtab format (support/nfs/rmtab.c behaviour, reimplemented).
 *
 * Rendering is what fputrmtabent writes: the count field is always 10 characters, which is
 * what lets rpc.mountd bump a count in place with a write of the same length. Parsing is
 * stricter than fgetrmtabent: every input it would silently truncate or stop at is an
 * error with a line number, because our caller turns the content into cluster-wide records
 * and a silently dropped line would be a silently dropped mount. No state, no locks.
 */
#include <errno.h>
#include <string.h>

#include <rmtabfs/rmtab_fmt.h>

static const char hexdigits[] = "0123456789abcdef";

char *rt_render_line(char *out, const char *client, size_t client_len, const char *path,
		     size_t path_len, uint32_t count)
{
	size_t i;
	int shift;

	for (i = 0; i < client_len; i++)
		*out++ = client[i] == ':' ? ';' : client[i];
	*out++ = ':';
	memcpy(out, path, path_len);
	out += path_len;
	*out++ = ':';
	*out++ = '0';
	*out++ = 'x';
	for (shift = 28; shift >= 0; shift -= 4)
		*out++ = hexdigits[(count >> shift) & 0xf];
	*out++ = '\n';
	return out;
}

/*
 * strtol(s, NULL, 0) without its silences: the whole field must be a number that fits.
 * Returns 0 and the value, or -EINVAL.
 */
static int parse_count(const char *s, size_t len, uint64_t *value)
{
	unsigned base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (len == 0)
		return -EINVAL;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (len > 1 && s[0] == '0') {
		base = 8;
		i = 1;
	}
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		v = v * base + d;
		if (v > RFS_COUNT_MAX + 1ull)
			v = RFS_COUNT_MAX + 1ull; /* saturate: reported as too large */
	}
	*value = v;
	return 0;
}

static int parse_line(const char *line, size_t len, unsigned lineno, struct rfs_entries *out,
		      struct rfs_parse_error *err)
{
	char client[RFS_CLIENT_MAX + 1];
	const char *colon, *path, *last;
	size_t client_len, path_len, i;
	uint64_t count = 1;
	int rc;

	if (len == 0) {
		rfs_parse_error_set(err, lineno, "empty line");
		return -EINVAL;
	}
	if (memchr(line, '\0', len)) {
		rfs_parse_error_set(err, lineno, "NUL byte");
		return -EINVAL;
	}
	colon = memchr(line, ':', len);
	if (!colon) {
		rfs_parse_error_set(err, lineno, "no ':' separator");
		return -EINVAL;
	}
	client_len = (size_t)(colon - line);
	if (client_len > RFS_CLIENT_MAX) {
		rfs_parse_error_set(err, lineno, "client of %zu bytes (limit %d)", client_len,
				    RFS_CLIENT_MAX);
		return -EINVAL;
	}
	for (i = 0; i < client_len; i++)
		client[i] = line[i] == ';' ? ':' : line[i];
	path = colon + 1;
	path_len = len - client_len - 1;
	/*
	 * The count follows the last ':' (so a ':' inside a path survives a round trip).
	 * What follows it is the count when it is a number, an error when it starts like
	 * one but is not (mountd would read "0x1fzz" as 31 and drop the rest), and part of
	 * the path otherwise.
	 */
	last = memrchr(path, ':', path_len);
	if (last) {
		const char *field = last + 1;
		size_t field_len = (size_t)(line + len - field);

		if (field_len == 0) {
			rfs_parse_error_set(err, lineno, "empty count");
			return -EINVAL;
		}
		if (parse_count(field, field_len, &count) == 0) {
			path_len = (size_t)(last - path);
		} else if (field[0] >= '0' && field[0] <= '9') {
			rfs_parse_error_set(err, lineno, "malformed count");
			return -EINVAL;
		} else {
			count = 1;
		}
	}
	if (count == 0) {
		rfs_parse_error_set(err, lineno, "count 0");
		return -EINVAL;
	}
	if (count > RFS_COUNT_MAX) {
		rfs_parse_error_set(err, lineno, "count above 0xffffffff");
		return -EINVAL;
	}
	if (err)
		err->line = lineno;
	rc = rfs_key_check(client, client_len, path, path_len, err);
	if (rc)
		return rc;
	rc = rfs_entries_add(out, client, client_len, path, path_len, (uint32_t)count, lineno);
	if (rc)
		rfs_parse_error_set(err, lineno, "out of memory");
	return rc;
}

int rt_parse(const char *buf, size_t len, unsigned first_line, struct rfs_entries *out,
	     struct rfs_parse_error *err)
{
	unsigned lineno = first_line;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		int rc;

		/* No valid line is this long; say so before scanning megabytes of it. */
		if (line_len > rt_line_len(RFS_CLIENT_MAX, RFS_PATH_MAX) + 8) {
			rfs_parse_error_set(err, lineno, "line of %zu bytes (limit %zu)", line_len,
					    rt_line_len(RFS_CLIENT_MAX, RFS_PATH_MAX));
			return -EINVAL;
		}
		rc = parse_line(buf + pos, line_len, lineno, out, err);
		if (rc)
			return rc;
		pos += line_len + (nl ? 1 : 0);
		lineno++;
	}
	return 0;
}

bool rt_head_ok(const char *head, size_t len, bool whole)
{
	struct rfs_entries e = {0};
	const char *nl = memchr(head, '\n', len);
	size_t max = rt_line_len(RFS_CLIENT_MAX, RFS_PATH_MAX) + 8;
	int rc;

	if (len == 0)
		return true;
	if (!nl && !whole)
		return len <= max; /* the first line goes on beyond what was read */
	rc = rt_parse(head, nl ? (size_t)(nl - head) + 1 : len, 1, &e, NULL);
	rfs_entries_free(&e);
	/* Only bad content says "cannot"; out of memory says nothing. */
	return rc != -EINVAL;
}
