/*
 * Backend selection and small helpers over a backend (store side only: these are the calls
 * that reach a store). No state, no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <config.h>
#include <rmtabfs/store.h>

int rfs_store_init(struct rfs_store *s, const struct rfs_store_spec *spec)
{
	memset(s, 0, sizeof(*s));
	s->spec = *spec;
	if (spec->kind == RFS_STORE_DIR) {
		s->ops = &rfs_store_dir_ops;
		return 0;
	}
#if HAVE_GLUSTER
	s->ops = &rfs_store_gluster_ops;
	return 0;
#else
	return -ENOTSUP;
#endif
}

int rfs_store_read_small(struct rfs_store *s, const char *rel, char *buf, size_t cap, size_t *len)
{
	struct rfs_sfile *f;
	ssize_t n;
	int rc = s->ops->open(s, rel, O_RDONLY, &f);

	if (rc)
		return rc;
	n = s->ops->pread(f, buf, cap - 1, 0);
	s->ops->close(f);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int rfs_store_write_small(struct rfs_store *s, const char *rel, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	struct rfs_sfile *f;
	ssize_t n;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", rel);
	rc = s->ops->open(s, tmp, O_RDWR | O_CREAT, &f);
	if (rc)
		return rc;
	rc = s->ops->truncate(f, 0);
	if (!rc) {
		n = s->ops->pwrite(f, data, len, 0);
		rc = n < 0 ? (int)n : (size_t)n != len ? -EIO : 0;
	}
	if (!rc)
		rc = s->ops->fsync(f);
	s->ops->close(f);
	if (!rc)
		rc = s->ops->rename(s, tmp, rel);
	if (rc) {
		s->ops->unlink(s, tmp);
		return rc;
	}
	{
		char dir[PATH_MAX];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", rel);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		return s->ops->sync_dir(s, dir);
	}
}
