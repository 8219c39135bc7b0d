/*
 * Directories of the passthrough (passthrough.c): opendir, readdir(plus), releasedir,
 * fsyncdir, after libfuse's passthrough_ll.c.
 *
 * Invariants: a directory handle reads the whole listing underneath once, at its first
 * readdir from offset 0 (and again at a rewind), so offsets stay valid while entries come
 * and go; the views are listed by their names with their own attributes; every handler
 * replies exactly once.
 * Locks: rfs_handle.dir_lock guards a handle's listing; inodes.lock inside
 * rfs_inode_lookup for readdirplus entries. None is held across a reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/view.h>

void pt_free_listing(struct rfs_handle *h)
{
	size_t i;

	for (i = 0; i < h->nentries; i++)
		free(h->entries[i].name);
	free(h->entries);
	h->entries = NULL;
	h->nentries = 0;
}

/*
 * Reads the whole directory once (at offset 0), so offsets are our own indexes: the top
 * directory must hide the files the views replace and add the views, which a stream of
 * the underlying offsets cannot do reliably.
 */
static int load_listing(struct rfs *fs, struct rfs_handle *h)
{
	struct rfs_inode *dir = h->inode;
	size_t cap = 0, i;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	pt_free_listing(h);
	fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		struct rfs_dirent *ent;

		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (dir == &fs->root &&
		    (rfs_view_named(fs, dir, de->d_name) || rfs_stage_hidden(de->d_name)))
			continue; /* hidden by the view of that name, or a private staging file */
		if (h->nentries == cap) {
			struct rfs_dirent *n;

			cap = cap ? cap * 2 : 32;
			n = realloc(h->entries, cap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			h->entries = n;
		}
		ent = &h->entries[h->nentries];
		ent->name = strdup(de->d_name);
		if (!ent->name) {
			rc = -ENOMEM;
			break;
		}
		ent->ino = de->d_ino;
		ent->type = de->d_type;
		ent->view = NULL;
		h->nentries++;
	}
	closedir(d);
	for (i = 0; !rc && dir == &fs->root && i < fs->nviews; i++) {
		struct rfs_dirent *n = realloc(h->entries, (h->nentries + 1) * sizeof(*n));

		if (!n) {
			rc = -ENOMEM;
			break;
		}
		h->entries = n;
		n[h->nentries].name = strdup(fs->views[i]->name);
		if (!n[h->nentries].name) {
			rc = -ENOMEM;
			break;
		}
		n[h->nentries].view = fs->views[i];
		n[h->nentries].type = DT_REG;
		n[h->nentries].ino = 0;
		h->nentries++;
	}
	return rc;
}

void pt_opendir(fuse_req_t req, struct rfs_inode *inode, struct fuse_file_info *fi)
{
	struct rfs_handle *h = rfs_ho_calloc(sizeof(*h));

	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->kind = RFS_H_DIR;
	h->inode = inode;
	h->fd = -1;
	pthread_mutex_init(&h->dir_lock, NULL);
	rfs_ho_track(h);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		pthread_mutex_destroy(&h->dir_lock);
		rfs_ho_untrack(h);
		free(h);
	}
}

void pt_readdir(fuse_req_t req, struct rfs_handle *h, size_t size, off_t off, bool plus)
{
	struct rfs *fs = rfs_from_req(req);
	char *buf, *p;
	size_t rem = size, i;
	int rc = 0;

	buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->dir_lock);
	if (off == 0 || !h->entries)
		rc = load_listing(fs, h);
	p = buf;
	for (i = (size_t)off; !rc && i < h->nentries; i++) {
		struct rfs_dirent *d = &h->entries[i];
		size_t used;

		if (plus) {
			struct fuse_entry_param e;
			bool dot = strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0;

			memset(&e, 0, sizeof(e));
			if (d->view) {
				/* The name's entry as a LOOKUP gives it: another inode here would
				 * replace a cached generation's dentry and drop its pages. */
				rc = rfs_view_entry(d->view, fuse_req_ctx(req)->pid, &e);
				if (rc)
					break;
			} else if (dot) {
				e.attr.st_ino = d->ino;
				e.attr.st_mode = (mode_t)d->type << 12;
			} else {
				rc = rfs_inode_lookup(fs, h->inode, d->name, &e);
				if (rc == -ENOENT) { /* gone since the listing */
					rc = 0;
					continue;
				}
				if (rc)
					break;
				if (h->inode == &fs->root) {
					rfs_inode_of(fs, e.ino)->top = true;
					e.entry_timeout = 0;
				}
			}
			used = fuse_add_direntry_plus(req, p, rem, d->name, &e, (off_t)i + 1);
			if (used > rem) {
				if (!dot) /* a view's generation inode too */
					rfs_inode_forget(fs, rfs_inode_of(fs, e.ino), 1);
				break;
			}
		} else {
			struct stat st = {.st_ino = d->ino, .st_mode = (mode_t)d->type << 12};

			if (d->view)
				rfs_view_stat(d->view, &st);
			used = fuse_add_direntry(req, p, rem, d->name, &st, (off_t)i + 1);
			if (used > rem)
				break;
		}
		p += used;
		rem -= used;
	}
	pthread_mutex_unlock(&h->dir_lock);
	/* Entries already placed are replied even if a later one failed. */
	if (rc && rem == size)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void pt_releasedir(fuse_req_t req, struct rfs_handle *h)
{
	pt_free_listing(h);
	pthread_mutex_destroy(&h->dir_lock);
	rfs_ho_untrack(h);
	free(h);
	fuse_reply_err(req, 0);
}

void pt_fsyncdir(fuse_req_t req, struct rfs_handle *h, int datasync)
{
	int fd = openat(h->inode->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		rc = errno;
	close(fd);
	fuse_reply_err(req, rc);
}
