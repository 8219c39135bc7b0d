/* A growable byte buffer: the one way this project builds text. */
#ifndef RMTABFS_BUF_H
#define RMTABFS_BUF_H

#include <stddef.h>

struct rfs_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define RFS_BUF_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* All return 0 or -ENOMEM; on failure the buffer is unchanged. */
int rfs_buf_reserve(struct rfs_buf *b, size_t extra);
int rfs_buf_append(struct rfs_buf *b, const void *data, size_t len);
int rfs_buf_printf(struct rfs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes the content exactly len bytes long, zero-filling any growth. */
int rfs_buf_resize(struct rfs_buf *b, size_t len);
void rfs_buf_free(struct rfs_buf *b);
/* Hands the storage to the caller (NUL-terminated); the buffer becomes empty. */
char *rfs_buf_steal(struct rfs_buf *b, size_t *len);

#endif
