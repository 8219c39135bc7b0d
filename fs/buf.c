/*
 * Growable byte buffer.
 *
 * Invariant: data is either NULL (cap 0) or holds cap bytes with data[len] == '\0' whenever
 * cap > len, so text built here can be handed to string functions. Growth doubles, so
 * appending n bytes costs O(n) amortised. No locks: a buffer belongs to one owner.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/buf.h>

int rfs_buf_reserve(struct rfs_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 / 2 - b->len)
		return -ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int rfs_buf_append(struct rfs_buf *b, const void *data, size_t len)
{
	int rc = rfs_buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int rfs_buf_printf(struct rfs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = rfs_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int rfs_buf_resize(struct rfs_buf *b, size_t len)
{
	if (len > b->len) {
		int rc = rfs_buf_reserve(b, len - b->len);

		if (rc)
			return rc;
		memset(b->data + b->len, 0, len - b->len);
	}
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
	return 0;
}

void rfs_buf_free(struct rfs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *rfs_buf_steal(struct rfs_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
