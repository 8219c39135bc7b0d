/*
 * gNFS rmtab format (glusterfs xlators/nfs/server/src/mount3.c, libglusterfs store.c;
 * reimplemented from their documented behaviour).
 *
 * gNFS reads this file after every lock and writes back what it read, so a file it parses
 * only in part is a file whose tail it erases. We therefore render exactly what it expects
 * (indices from 0, no gaps, every line newline-terminated) and refuse, rather than
 * truncate, anything gNFS would stop at. No state, no locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/gnfs_fmt.h>

int gn_render_pair(struct rfs_buf *out, uint32_t idx, const char *client, size_t client_len,
		   const char *path, size_t path_len)
{
	int rc = rfs_buf_printf(out, "hostname-%u=", idx);

	if (!rc)
		rc = rfs_buf_append(out, client, client_len);
	if (!rc)
		rc = rfs_buf_printf(out, "\nmountpoint-%u=", idx);
	if (!rc)
		rc = rfs_buf_append(out, path, path_len);
	if (!rc)
		rc = rfs_buf_append(out, "\n", 1);
	return rc;
}

struct gn_slot {
	const char *host, *path;
	size_t host_len, path_len;
	unsigned host_line, path_line;
};

/* "hostname-N" / "mountpoint-N" with N written as gNFS's "%d" writes it. */
static int parse_key(const char *key, size_t len, int *is_host, unsigned long *idx)
{
	const char *digits;
	size_t ndigits, i;
	unsigned long v = 0;

	if (len > 9 && memcmp(key, "hostname-", 9) == 0) {
		*is_host = 1;
		digits = key + 9;
		ndigits = len - 9;
	} else if (len > 11 && memcmp(key, "mountpoint-", 11) == 0) {
		*is_host = 0;
		digits = key + 11;
		ndigits = len - 11;
	} else {
		return -EINVAL;
	}
	if (ndigits > 9 || (ndigits > 1 && digits[0] == '0'))
		return -EINVAL;
	for (i = 0; i < ndigits; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(digits[i] - '0');
	}
	*idx = v;
	return 0;
}

/* One non-empty line (without its newline) into its slot. 0 or -EINVAL, err says why. */
static int parse_line(const char *line, size_t line_len, unsigned lineno, struct gn_slot *slots,
		      size_t nslots, struct rfs_parse_error *err)
{
	const char *eq, *value;
	size_t key_len, value_len;
	unsigned long idx;
	int is_host;

	if (memchr(line, '\0', line_len)) {
		rfs_parse_error_set(err, lineno, "NUL byte");
		return -EINVAL;
	}
	eq = memchr(line, '=', line_len);
	if (!eq) {
		rfs_parse_error_set(err, lineno, "no '=' (gNFS stops reading here)");
		return -EINVAL;
	}
	key_len = (size_t)(eq - line);
	value = eq + 1;
	value_len = line_len - key_len - 1;
	if (value_len == 0) {
		rfs_parse_error_set(err, lineno, "empty value (gNFS stops reading here)");
		return -EINVAL;
	}
	if (parse_key(line, key_len, &is_host, &idx)) {
		rfs_parse_error_set(err, lineno, "unknown key '%.*s'",
				    (int)(key_len > 40 ? 40 : key_len), line);
		return -EINVAL;
	}
	if (idx >= nslots) {
		rfs_parse_error_set(err, lineno, "index %lu leaves a gap", idx);
		return -EINVAL;
	}
	/* First match wins, as gf_store_retrieve_value scanning from the start. */
	if (is_host && !slots[idx].host) {
		slots[idx].host = value;
		slots[idx].host_len = value_len;
		slots[idx].host_line = lineno;
	} else if (!is_host && !slots[idx].path) {
		slots[idx].path = value;
		slots[idx].path_len = value_len;
		slots[idx].path_line = lineno;
	}
	return 0;
}

/* The filled slots, from index 0 to the first gap, as entries; nothing may follow the gap. */
static int slots_to_entries(const struct gn_slot *slots, size_t nslots, struct rfs_entries *out,
			    struct rfs_parse_error *err)
{
	size_t n;
	int rc;

	for (n = 0; n < nslots; n++) {
		const struct gn_slot *s = &slots[n];

		if (!s->host && !s->path)
			break;
		if (!s->host || !s->path) {
			rfs_parse_error_set(err, s->host ? s->host_line : s->path_line,
					    "entry %zu lacks its %s", n,
					    s->host ? "mountpoint" : "hostname");
			return -EINVAL;
		}
		/*
		 * The two halves may be far apart: blame the client on its hostname line and
		 * the path on its mountpoint line.
		 */
		if (err)
			err->line = s->host_line;
		rc = rfs_key_check(s->host, s->host_len, "/", 1, err);
		if (!rc && err)
			err->line = s->path_line;
		if (!rc)
			rc = rfs_key_check(s->host, s->host_len, s->path, s->path_len, err);
		if (rc)
			return rc;
		rc = rfs_entries_add(out, s->host, s->host_len, s->path, s->path_len, 1,
				     s->host_line);
		if (rc)
			return rc;
	}
	for (; n < nslots; n++) {
		if (slots[n].host || slots[n].path) {
			rfs_parse_error_set(err,
					    slots[n].host ? slots[n].host_line : slots[n].path_line,
					    "entry %zu follows a gap (gNFS stops at the gap)", n);
			return -EINVAL;
		}
	}
	return 0;
}

int gn_parse(const char *buf, size_t len, struct rfs_entries *out, struct rfs_parse_error *err)
{
	struct gn_slot *slots = NULL;
	size_t nslots = 0, pos = 0, n;
	unsigned lineno = 1;
	int rc = 0;

	/* Indices above the number of lines can only be gaps: bound the table by it. */
	for (n = 0; n < len; n++)
		nslots += buf[n] == '\n';
	if (len && buf[len - 1] != '\n') {
		rfs_parse_error_set(err, (unsigned)nslots + 1,
				    "last line has no newline (gNFS ignores it)");
		return -EINVAL;
	}
	if (nslots) {
		slots = calloc(nslots, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
	}
	for (; pos < len && !rc; lineno++) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = (size_t)(nl - line);

		pos += line_len + 1;
		if (line_len == 0)
			continue; /* gNFS skips a line that is just "\n" */
		rc = parse_line(line, line_len, lineno, slots, nslots, err);
	}
	if (!rc)
		rc = slots_to_entries(slots, nslots, out, err);
	free(slots);
	return rc;
}

/* Can a line starting with p[0..n) start with key? A short incomplete line: maybe. */
static bool key_possible(const char *p, size_t n, const char *key, bool complete)
{
	size_t k = strlen(key);

	return memcmp(p, key, n < k ? n : k) == 0 && (n >= k || !complete);
}

bool gn_head_ok(const char *head, size_t len, bool whole)
{
	const char *line, *nl;
	size_t pos = 0, n;

	while (pos < len && head[pos] == '\n')
		pos++;
	if (pos == len)
		return true;
	line = head + pos;
	nl = memchr(line, '\n', len - pos);
	n = nl ? (size_t)(nl - line) : len - pos;
	if (!key_possible(line, n, "hostname-", nl || whole) &&
	    !key_possible(line, n, "mountpoint-", nl || whole))
		return false;
	/* A complete first line needs its '='. */
	return memchr(line, '=', n) != NULL || (!nl && !whole);
}
