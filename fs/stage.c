/*
 * Staging files (see include/rmtabfs/stage.h).
 *
 * gNFS writes its list to the fixed name NAME.tmp and renames it over NAME; its POSIX lock
 * does not serialise writers (it drops when gNFS closes a dup of the locked fd, see
 * notes/gluster.md), so two writers truncate and append into the same temporary file and
 * the renamed result is a mix of both lists. Here every thread that creates VIEW.tmp gets a
 * file of its own underneath (".rmtabfs-stage.VIEW.TID.N"), and the names VIEW.tmp resolve,
 * for each request, to the caller thread's file. A thread without one sees the most recent
 * finished file (no writer left) of another thread, so "cp f rmtab.tmp; mv rmtab.tmp rmtab"
 * from two processes still works.
 *
 * Invariants: a staging file is in the list until it is renamed, unlinked, or replaced by a
 * newer one of the same thread; renamed onto its view while its creator still writes it, it
 * commits only if the creator's process holds the view open through this mount (else what it
 * read came from a mount that is gone: unread_rewrite); names of the top directory that resolve
 * here are looked up with entry timeout 0 (positive and negative), so the kernel asks every time.
 * Lock: stages.lock protects the list only; no other lock is taken under it, and no FUSE
 * reply or store call happens under it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/handover.h>
#include <rmtabfs/log.h>
#include <rmtabfs/passthrough.h>
#include <rmtabfs/stage.h>
#include <rmtabfs/view.h>

#define STAGE_PREFIX ".rmtabfs-stage."
/* A finished staging file nobody renamed is removed after this long. */
#define STAGE_ABANDONED_SECS 600

struct stage {
	struct stage *next;
	struct rfs_view *view;
	pid_t tid;
	dev_t dev;
	ino_t ino;
	time_t created;
	unsigned long seq; /* its number in under: tells it from a later stage at its address */
	char under[NAME_MAX + 1];
};

struct rfs_stages {
	pthread_mutex_t lock;
	struct stage *list;
	unsigned long seq;
};

bool rfs_stage_hidden(const char *name)
{
	return strncmp(name, STAGE_PREFIX, strlen(STAGE_PREFIX)) == 0;
}

int rfs_stages_init(struct rfs *fs)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fs->stages = calloc(1, sizeof(*fs->stages));
	if (!fs->stages)
		return -ENOMEM;
	pthread_mutex_init(&fs->stages->lock, NULL);
	/* Leftovers of a daemon that was killed: never renamed, so never committed. */
	fd = openat(fs->root.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)))
		if (rfs_stage_hidden(de->d_name)) {
			rfs_info("removing a staging file left by an earlier run: %s", de->d_name);
			unlinkat(dirfd(d), de->d_name, 0);
		}
	closedir(d);
	return 0;
}

void rfs_stages_destroy(struct rfs *fs)
{
	struct stage *s, *next;

	if (!fs->stages)
		return;
	for (s = fs->stages->list; s; s = next) {
		next = s->next;
		free(s);
	}
	pthread_mutex_destroy(&fs->stages->lock);
	free(fs->stages);
	fs->stages = NULL;
}

struct rfs_view *rfs_stage_view(struct rfs *fs, struct rfs_inode *parent, const char *name)
{
	size_t i;

	if (parent != &fs->root)
		return NULL;
	for (i = 0; i < fs->nviews; i++) {
		size_t n = strlen(fs->views[i]->name);

		if (strncmp(name, fs->views[i]->name, n) == 0 && strcmp(name + n, ".tmp") == 0)
			return fs->views[i];
	}
	return NULL;
}

static bool finished(struct rfs *fs, const struct stage *s)
{
	return s->ino && rfs_inode_writers(fs, s->dev, s->ino) == 0;
}

/*
 * The staging file a request of thread tid means by VIEW.tmp: its own, else the newest
 * finished one. Unlinked from the list when take is set. Called with the lock held.
 */
static struct stage *resolve(struct rfs *fs, struct rfs_view *v, pid_t tid, bool take)
{
	struct stage **link, **found = NULL, **newest = NULL;

	for (link = &fs->stages->list; *link; link = &(*link)->next) {
		struct stage *s = *link;

		if (s->view != v)
			continue;
		if (s->tid == tid) {
			found = link;
			break;
		}
		if ((!newest || s->created >= (*newest)->created) && finished(fs, s))
			newest = link;
	}
	if (!found)
		found = newest;
	if (!found)
		return NULL;
	if (take) {
		struct stage *s = *found;

		*found = s->next;
		return s;
	}
	return *found;
}

static pid_t caller(fuse_req_t req)
{
	return fuse_req_ctx(req)->pid;
}

void stage_lookup(fuse_req_t req, struct rfs_view *v)
{
	struct rfs *fs = v->fs;
	char under[NAME_MAX + 1] = "";
	struct fuse_entry_param e;
	struct stage *s;
	int rc;

	pthread_mutex_lock(&fs->stages->lock);
	s = resolve(fs, v, caller(req), false);
	if (s)
		snprintf(under, sizeof(under), "%s", s->under);
	pthread_mutex_unlock(&fs->stages->lock);
	if (!under[0]) {
		/* Nothing staged for this caller: negative, and not cached. */
		memset(&e, 0, sizeof(e));
		fuse_reply_entry(req, &e);
		return;
	}
	rc = rfs_inode_lookup(fs, &fs->root, under, &e);
	if (rc == -ENOENT) {
		memset(&e, 0, sizeof(e));
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rfs_inode_of(fs, e.ino)->top = true;
	e.entry_timeout = 0;
	if (fuse_reply_entry(req, &e) == -ENOENT)
		rfs_inode_forget(fs, rfs_inode_of(fs, e.ino), 1);
}

/* Removes finished staging files nobody renamed for a long time. Lock held. */
static void drop_abandoned(struct rfs *fs, time_t now)
{
	struct stage **link = &fs->stages->list;

	while (*link) {
		struct stage *s = *link;

		if (now - s->created > STAGE_ABANDONED_SECS && finished(fs, s)) {
			rfs_info("removing %s.tmp staged %ld s ago and never renamed",
				 s->view->name, (long)(now - s->created));
			unlinkat(fs->root.fd, s->under, 0);
			*link = s->next;
			free(s);
		} else {
			link = &s->next;
		}
	}
}

void stage_create(fuse_req_t req, struct rfs_view *v, mode_t mode, struct fuse_file_info *fi)
{
	struct rfs *fs = v->fs;
	struct stage *s = calloc(1, sizeof(*s)), *old, **link;
	char under[NAME_MAX + 1];
	unsigned long seq;
	struct stat st;
	pid_t tid = caller(req);
	int rc;

	if (!s) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	s->view = v;
	s->tid = tid;
	s->created = time(NULL);
	pthread_mutex_lock(&fs->stages->lock);
	s->seq = seq = ++fs->stages->seq;
	snprintf(s->under, sizeof(s->under), STAGE_PREFIX "%s.%d.%lu", v->name, (int)tid, seq);
	memcpy(under, s->under, sizeof(under));
	/* A thread starting over replaces what it staged before. */
	for (old = fs->stages->list; old; old = old->next)
		if (old->view == v && old->tid == tid)
			break;
	if (old) {
		unlinkat(fs->root.fd, old->under, 0);
		old->tid = 0; /* unreachable; freed by drop_abandoned or never used */
		old->created = 0;
	}
	drop_abandoned(fs, s->created);
	/*
	 * Listed before the create is replied: the caller's next request (mountd renames at
	 * once) may reach another worker thread before this one returns.
	 */
	s->next = fs->stages->list;
	fs->stages->list = s;
	pthread_mutex_unlock(&fs->stages->lock);

	/*
	 * From the reply on, s may be gone: the caller's rename, on another worker thread, takes
	 * it off the list and frees it. Only the local copies are used until s is found on the
	 * list again (by address and number), under the lock.
	 */
	rc = pt_create(req, &fs->root, under, mode, fi);
	if (rc == 0 && fstatat(fs->root.fd, under, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	pthread_mutex_lock(&fs->stages->lock);
	for (link = &fs->stages->list; *link; link = &(*link)->next)
		if (*link == s && s->seq == seq)
			break;
	if (*link && rc == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	} else if (*link) {
		*link = s->next;
		free(s);
	}
	pthread_mutex_unlock(&fs->stages->lock);
}

/*
 * rpc.mountd's UMNT and gNFS rename their file onto the view while they still hold it open,
 * and write their list after: what they read of the view decides it. Read through a mount
 * that is gone (rmtabfs was restarted between their read and their rename), the read failed
 * and the list they write is empty or cut short; committed, it would remove every record
 * they did not see, on every node. Such a rewrite is refused (EBUSY, not ESTALE, which the
 * kernel retries; and a log line); the change it carried (one UMNT) is not made, and the
 * staged file is removed. The file is unread when its writer is the caller and holds it open
 * still, and the caller's process holds no handle of the view. s is off the list (ours).
 */
static bool unread_rewrite(fuse_req_t req, struct stage *s, struct rfs_view *target)
{
	struct rfs *fs = target->fs;
	char who[128];

	if (s->tid != caller(req) || (s->ino && rfs_inode_writers(fs, s->dev, s->ino) == 0))
		return false;
	if (rfs_view_read_by(target, caller(req)))
		return false;
	rfs_req_who(req, target->name, who, sizeof(who));
	rfs_err("%s: refused: %s.tmp renamed onto it before it is written, by a process that has "
		"not read %s through this mount (it read it before rmtabfs restarted): the list "
		"it writes may lack records, nothing changed",
		who, s->view->name, target->name);
	return true;
}

/* Removes the caller's staged file from the list and hands it over; replies ENOENT if none. */
static struct stage *take_stage(fuse_req_t req, struct rfs_view *v)
{
	struct rfs *fs = v->fs;
	struct stage *s;

	pthread_mutex_lock(&fs->stages->lock);
	s = resolve(fs, v, caller(req), true);
	pthread_mutex_unlock(&fs->stages->lock);
	if (!s)
		fuse_reply_err(req, ENOENT);
	return s;
}

void stage_rename(fuse_req_t req, struct rfs_view *v, struct rfs_inode *newparent,
		  const char *newname, unsigned int flags)
{
	struct rfs *fs = v->fs;
	struct rfs_view *target = rfs_view_named(fs, newparent, newname);
	struct stage *s = take_stage(req, v);
	int rc;

	if (!s)
		return;
	if (target && unread_rewrite(req, s, target)) {
		/* Gone with it: its writer's fd stays valid, and no later create finds it. */
		unlinkat(fs->root.fd, s->under, 0);
		free(s);
		fuse_reply_err(req, EBUSY);
		return;
	}
	if (target) {
		rc = vf_rename_onto(req, &fs->root, s->under, target, flags);
	} else {
		rc = renameat2(fs->root.fd, s->under, newparent->fd, newname, flags) < 0 ? -errno
											 : 0;
		fuse_reply_err(req, -rc);
	}
	if (rc == 0) {
		free(s);
		return;
	}
	/* Refused (bad content): the file stays staged, as a refused rename leaves a file. */
	pthread_mutex_lock(&fs->stages->lock);
	s->next = fs->stages->list;
	fs->stages->list = s;
	pthread_mutex_unlock(&fs->stages->lock);
}

void stage_unlink(fuse_req_t req, struct rfs_view *v)
{
	struct rfs *fs = v->fs;
	struct stage *s = take_stage(req, v);
	int rc;

	if (!s)
		return;
	rc = unlinkat(fs->root.fd, s->under, 0) < 0 ? errno : 0;
	free(s);
	fuse_reply_err(req, rc);
}

/* The handover: the staging files in use (a new image must not remove them as leftovers). */
int rfs_stages_save(struct rfs *fs, struct rfs_ho_out *o)
{
	struct stage *s;
	uint64_t n = 0;
	size_t v;

	pthread_mutex_lock(&fs->stages->lock);
	for (s = fs->stages->list; s; s = s->next)
		n++;
	rfs_ho_put_u64(o, n);
	rfs_ho_put_u64(o, fs->stages->seq);
	for (s = fs->stages->list; s; s = s->next) {
		for (v = 0; v < fs->nviews && fs->views[v] != s->view; v++)
			;
		rfs_ho_put_u64(o, v);
		rfs_ho_put_u64(o, (uint64_t)s->tid);
		rfs_ho_put_u64(o, s->dev);
		rfs_ho_put_u64(o, s->ino);
		rfs_ho_put_u64(o, (uint64_t)s->created);
		rfs_ho_put_str(o, s->under);
	}
	pthread_mutex_unlock(&fs->stages->lock);
	return o->err;
}

/* In place of rfs_stages_init in an image started by a handover. */
int rfs_stages_restore(struct rfs *fs, struct rfs_ho_in *in)
{
	struct stage **tail;
	uint64_t n, i;

	fs->stages = calloc(1, sizeof(*fs->stages));
	if (!fs->stages)
		return -ENOMEM;
	pthread_mutex_init(&fs->stages->lock, NULL);
	tail = &fs->stages->list;
	n = rfs_ho_get_u64(in);
	fs->stages->seq = (unsigned long)rfs_ho_get_u64(in);
	for (i = 0; i < n && !in->err; i++) {
		struct stage *s = calloc(1, sizeof(*s));
		uint64_t v = rfs_ho_get_u64(in);
		char *under;

		if (!s)
			return -ENOMEM;
		s->tid = (pid_t)rfs_ho_get_u64(in);
		s->dev = (dev_t)rfs_ho_get_u64(in);
		s->ino = (ino_t)rfs_ho_get_u64(in);
		s->created = (time_t)rfs_ho_get_u64(in);
		under = rfs_ho_get_str(in);
		if (in->err || v >= fs->nviews || !under || strlen(under) > NAME_MAX) {
			free(under);
			free(s);
			return in->err ? in->err : -EINVAL;
		}
		s->view = fs->views[v];
		snprintf(s->under, sizeof(s->under), "%s", under);
		free(under);
		*tail = s;
		tail = &s->next;
	}
	return in->err;
}
