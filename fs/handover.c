/*
 * Planned restart (DESIGN §9, README "Upgrading a node"): the handover image and the
 * translation of the kernel's node ids and file handles across it.
 *
 * Protocol (steps in fs/reload.c, sequenced by main.c). The old image forks and the child
 * execs the binary on disk with "--rmtabfs-handover SOCK" (a SOCK_SEQPACKET socketpair) while
 * the old image goes on serving; the new image loads and answers "ready FORMAT VERSION". A
 * binary that cannot start, or reads another format, is refused here and nothing has stopped.
 * Then the old image stops reading /dev/fuse (loop.c: every request it read is answered
 * first), stops replication (last ship, checkpoint) and the notifier, writes its state into a
 * memfd (this format) and sends it with every descriptor the state refers to (SCM_RIGHTS:
 * /dev/fuse, the directory underneath, the control socket, each inode's O_PATH descriptor,
 * each open file's descriptor; the image names them by index). The new image opens the state
 * directory (checkpoint + journal: the record set itself is not in the image), adopts
 * /dev/fuse through a mount point "/dev/fd/N", primes its libfuse session with the kernel's
 * original INIT request, restores inodes, handles and staging files, and answers "ok PID
 * VERSION"; only then does the old image give up its role (it exits without unmounting).
 * Anything else, or the socket's end, leaves the old image serving: it takes its locks back
 * and reads /dev/fuse again. The kernel queues requests meanwhile, so none fails.
 *
 * Why fork first rather than exec in place: a new binary that cannot start (a missing
 * library, a crash while restoring) then costs nothing, since the old image still holds every
 * descriptor and its whole state; exec in place would leave a dead mount. And the exec and
 * the dynamic loading happen before requests wait. The price is a new pid, which the old
 * image announces to systemd (MAINPID=) before it exits.
 *
 * Values the kernel holds (node ids, fh) are addresses in the image that gave them out. The
 * new image registers each restored object under its old value (rfs_ho_map) and translates
 * on every request while any old value is alive; rfs_ho_calloc keeps new objects off live
 * old values, so a value never names two objects. An image started afresh pays one relaxed
 * atomic load per translation.
 *
 * Format (version 1; u64 fields little-endian; byte strings as length + bytes, UINT64_MAX for
 * NULL; descriptors as indexes into those sent along): magic, format, writer's version
 * string, the saved INIT request, descriptors of /dev/fuse, the directory underneath and the
 * control socket, then each module's section (views, inodes, handles, staging files), then an
 * end mark. A change to any section is a new format number: an image only reads its own.
 * Lock: map_lock guards the maps and the handle set; a leaf.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/core.h>
#include <rmtabfs/handover.h>

#ifndef RFS_HANDOVER_FORMAT
#define RFS_HANDOVER_FORMAT 1
#endif
#ifndef RFS_VERSION_STRING
#define RFS_VERSION_STRING RFS_VERSION
#endif

uint32_t rfs_handover_version(void)
{
	return RFS_HANDOVER_FORMAT;
}

const char *rfs_daemon_version(void)
{
	return RFS_VERSION_STRING;
}

/* ---- serialisation ---- */

void rfs_ho_put_u64(struct rfs_ho_out *o, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	if (!o->err)
		o->err = rfs_buf_append(&o->buf, b, sizeof(b));
}

void rfs_ho_put_bytes(struct rfs_ho_out *o, const void *p, size_t n)
{
	rfs_ho_put_u64(o, p ? (uint64_t)n : UINT64_MAX);
	if (p && n && !o->err)
		o->err = rfs_buf_append(&o->buf, p, n);
}

void rfs_ho_put_str(struct rfs_ho_out *o, const char *s)
{
	rfs_ho_put_bytes(o, s, s ? strlen(s) : 0);
}

void rfs_ho_put_fd(struct rfs_ho_out *o, int fd)
{
	int *n;

	if (fd < 0) {
		rfs_ho_put_u64(o, UINT64_MAX);
		return;
	}
	n = realloc(o->fds, (o->nfds + 1) * sizeof(*n));
	if (!n) {
		o->err = o->err ? o->err : -ENOMEM;
		return;
	}
	o->fds = n;
	rfs_ho_put_u64(o, o->nfds);
	n[o->nfds++] = fd;
}

uint64_t rfs_ho_get_u64(struct rfs_ho_in *in)
{
	uint64_t v = 0;
	int i;

	if (in->err || in->len - in->pos < 8) {
		in->err = -EINVAL;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v |= (uint64_t)(unsigned char)in->p[in->pos + (size_t)i] << (8 * i);
	in->pos += 8;
	return v;
}

const char *rfs_ho_get_bytes(struct rfs_ho_in *in, size_t *n)
{
	uint64_t len = rfs_ho_get_u64(in);
	const char *p;

	*n = 0;
	if (in->err || len == UINT64_MAX)
		return NULL;
	if (len > in->len - in->pos) {
		in->err = -EINVAL;
		return NULL;
	}
	p = in->p + in->pos;
	in->pos += (size_t)len;
	*n = (size_t)len;
	return p;
}

char *rfs_ho_get_str(struct rfs_ho_in *in)
{
	size_t n;
	const char *p = rfs_ho_get_bytes(in, &n);
	char *s;

	if (!p)
		return NULL;
	s = malloc(n + 1);
	if (!s) {
		in->err = -ENOMEM;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int rfs_ho_get_fd(struct rfs_ho_in *in)
{
	uint64_t i = rfs_ho_get_u64(in);

	if (in->err || i == UINT64_MAX)
		return -1;
	if (i >= in->nfds || in->fds[i] < 0) {
		in->err = -EBADF;
		return -1;
	}
	return in->fds[i];
}

/* ---- value maps: open addressing, linear probing, keys never 0 ---- */

struct map {
	uint64_t *keys, *vals;
	size_t cap, n;
};

static size_t slot(const struct map *m, uint64_t k)
{
	return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (m->cap - 1);
}

static int map_put(struct map *m, uint64_t k, uint64_t v);

static int map_grow(struct map *m)
{
	struct map g = {0};
	size_t i;

	g.cap = m->cap ? m->cap * 2 : 64;
	g.keys = calloc(g.cap, sizeof(*g.keys));
	g.vals = calloc(g.cap, sizeof(*g.vals));
	if (!g.keys || !g.vals) {
		free(g.keys);
		free(g.vals);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++)
		if (m->keys[i])
			map_put(&g, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = g;
	return 0;
}

static int map_put(struct map *m, uint64_t k, uint64_t v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && map_grow(m))
		return -ENOMEM;
	for (i = slot(m, k); m->keys[i] && m->keys[i] != k; i = (i + 1) & (m->cap - 1))
		;
	if (!m->keys[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
	return 0;
}

static uint64_t map_get(const struct map *m, uint64_t k)
{
	size_t i;

	if (!m->n)
		return 0;
	for (i = slot(m, k); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k)
			return m->vals[i];
	return 0;
}

/* Deletion with backward shift: no tombstones. */
static bool map_del(struct map *m, uint64_t k)
{
	size_t i, j, h;

	if (!m->n)
		return false;
	for (i = slot(m, k); m->keys[i] != k; i = (i + 1) & (m->cap - 1))
		if (!m->keys[i])
			return false;
	for (j = i;;) {
		m->keys[i] = 0;
		for (;;) {
			j = (j + 1) & (m->cap - 1);
			if (!m->keys[j])
				goto done;
			h = slot(m, m->keys[j]);
			/* j's entry may move to i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
				continue;
			break;
		}
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		i = j;
	}
done:
	m->n--;
	return true;
}

static pthread_rwlock_t map_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct map old_to_obj, obj_to_old, handles;
static atomic_size_t nold; /* old values alive: 0 for an image started afresh */

void rfs_ho_map(uint64_t old_value, void *obj)
{
	pthread_rwlock_wrlock(&map_lock);
	if (map_put(&old_to_obj, old_value, (uintptr_t)obj) == 0 &&
	    map_put(&obj_to_old, (uintptr_t)obj, old_value) == 0)
		atomic_store(&nold, old_to_obj.n);
	pthread_rwlock_unlock(&map_lock);
}

void *rfs_ho_ptr(uint64_t value)
{
	uint64_t obj;

	if (!atomic_load_explicit(&nold, memory_order_relaxed))
		return (void *)(uintptr_t)value;
	pthread_rwlock_rdlock(&map_lock);
	obj = map_get(&old_to_obj, value);
	pthread_rwlock_unlock(&map_lock);
	return (void *)(uintptr_t)(obj ? obj : value);
}

uint64_t rfs_ho_id(const void *obj)
{
	uint64_t old;

	if (!atomic_load_explicit(&nold, memory_order_relaxed))
		return (uintptr_t)obj;
	pthread_rwlock_rdlock(&map_lock);
	old = map_get(&obj_to_old, (uintptr_t)obj);
	pthread_rwlock_unlock(&map_lock);
	return old ? old : (uintptr_t)obj;
}

void rfs_ho_unmap(const void *obj)
{
	uint64_t old;

	if (!atomic_load_explicit(&nold, memory_order_relaxed))
		return;
	pthread_rwlock_wrlock(&map_lock);
	old = map_get(&obj_to_old, (uintptr_t)obj);
	if (old) {
		map_del(&obj_to_old, (uintptr_t)obj);
		map_del(&old_to_obj, old);
		atomic_store(&nold, old_to_obj.n);
	}
	pthread_rwlock_unlock(&map_lock);
}

void *rfs_ho_calloc(size_t size)
{
	void *p = calloc(1, size), *held[16];
	int nheld = 0;

	if (!atomic_load_explicit(&nold, memory_order_relaxed))
		return p;
	/* Rare: keep a block whose address is a live old value until another one comes. */
	pthread_rwlock_rdlock(&map_lock);
	while (p && map_get(&old_to_obj, (uintptr_t)p)) {
		if (nheld == 16) {
			free(p); /* the allocator insists: fail this one request (ENOMEM) */
			p = NULL;
			break;
		}
		held[nheld++] = p;
		p = calloc(1, size);
	}
	pthread_rwlock_unlock(&map_lock);
	while (nheld)
		free(held[--nheld]);
	return p;
}

void rfs_ho_track(void *handle)
{
	pthread_rwlock_wrlock(&map_lock);
	if (map_put(&handles, (uintptr_t)handle, 1))
		handle = NULL; /* out of memory: a handover then refuses (counts differ) */
	pthread_rwlock_unlock(&map_lock);
}

void rfs_ho_untrack(void *handle)
{
	pthread_rwlock_wrlock(&map_lock);
	map_del(&handles, (uintptr_t)handle);
	pthread_rwlock_unlock(&map_lock);
	rfs_ho_unmap(handle);
}

/* The open handles, for the handover (the FUSE loop is paused: none comes or goes). */
size_t rfs_ho_handles(void ***out)
{
	size_t i, n = 0;

	pthread_rwlock_rdlock(&map_lock);
	*out = calloc(handles.n + 1, sizeof(**out));
	for (i = 0; *out && i < handles.cap; i++)
		if (handles.keys[i])
			(*out)[n++] = (void *)(uintptr_t)handles.keys[i];
	pthread_rwlock_unlock(&map_lock);
	return n;
}

/* ---- snapshots and bases of write sessions (core.h types, through core functions) ---- */

void rfs_ho_put_snap(struct rfs_ho_out *o, struct rfs_snap *s)
{
	rfs_ho_put_u64(o, s ? 1 : 0);
	if (!s)
		return;
	rfs_ho_put_u64(o, s->gen);
	rfs_ho_put_u64(o, (uint64_t)s->mtime);
	rfs_ho_put_bytes(o, s->text, s->len);
}

struct rfs_snap *rfs_ho_get_snap(struct rfs_ho_in *in)
{
	uint64_t gen, mtime;
	const char *text;
	size_t len;
	struct rfs_snap *s;

	if (!rfs_ho_get_u64(in))
		return NULL;
	gen = rfs_ho_get_u64(in);
	mtime = rfs_ho_get_u64(in);
	text = rfs_ho_get_bytes(in, &len);
	if (in->err)
		return NULL;
	s = rfs_snap_new(gen, (int64_t)mtime, text ? text : "", len);
	if (!s)
		in->err = -ENOMEM;
	return s;
}

void rfs_ho_put_base(struct rfs_ho_out *o, const struct rfs_base *b)
{
	rfs_ho_put_snap(o, b->snap);
	rfs_ho_put_bytes(o, b->snap ? NULL : b->text, b->len);
}

void rfs_ho_get_base(struct rfs_ho_in *in, struct rfs_base *b)
{
	struct rfs_snap *s = rfs_ho_get_snap(in);
	size_t len;
	const char *text = rfs_ho_get_bytes(in, &len);

	rfs_base_clear(b);
	if (s) {
		rfs_base_set_snap(b, s);
		rfs_snap_put(s);
	} else if (text && rfs_base_set_text(b, text, len)) {
		in->err = -ENOMEM;
	}
}
