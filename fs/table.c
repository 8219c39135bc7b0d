/*
 * Record table (see include/rmtabfs/table.h).
 *
 * Invariants:
 *  - every record is in exactly one hash chain; live records (count > 0) are also in the
 *    first-seen list, sorted by (born, origin name, client, path), which is the render order
 *    and the same on every node because born/origin travel in the ops;
 *  - rmtab_bytes is the sum of the rendered line lengths of the live records;
 *  - gen grows by one for every effective change; changed_gen/prev_gen let a write session
 *    ask what a record held at the generation it started from;
 *  - hlc never decreases and never moves to a stamp more than max_skew_ns past our clock
 *    (a node whose clock is ahead does not drag ours); below that it follows every stamp;
 *  - a local op is stamped above hlc and above the record it replaces, so it always wins
 *    over what this node has applied for that key, even a record stamped ahead;
 *  - a node's applied_time never exceeds what its ops still to come can be stamped
 *    (compaction's tombstone horizon relies on it), see note_applied_time().
 * Not thread-safe; the daemon holds its table lock around every call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/gnfs_fmt.h>
#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/table.h>

static uint64_t real_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rfs_table_init(struct rfs_table *t, const char *self_node)
{
	memset(t, 0, sizeof(*t));
	t->now_ns = real_now_ns;
	t->max_skew_ns = RFS_MAX_SKEW_DEFAULT * 1000000000ull;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->gen = 1;
	t->self = rfs_table_node(t, self_node, true);
	if (!t->self) {
		free(t->buckets);
		return -ENOMEM;
	}
	t->change_sec = (int64_t)(t->now_ns() / 1000000000ull);
	return 0;
}

void rfs_table_free(struct rfs_table *t)
{
	struct rfs_node *n, *next_node;
	struct rfs_record *r, *next;
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		for (r = t->buckets[i]; r; r = next) {
			next = r->hnext;
			free(r);
		}
	for (n = t->nodes; n; n = next_node) {
		next_node = n->next;
		free(n);
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct rfs_node *rfs_table_node(struct rfs_table *t, const char *name, bool create)
{
	struct rfs_node *n, **link;

	/* Few nodes (one per NFS server): a sorted list keeps status output ordered. */
	for (link = &t->nodes; (n = *link); link = &n->next) {
		int c = strcmp(n->name, name);

		if (c == 0)
			return n;
		if (c > 0)
			break;
	}
	if (!create || strlen(name) > RFS_NODE_MAX)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	strcpy(n->name, name);
	n->next = *link;
	*link = n;
	return n;
}

static size_t bucket_of(const struct rfs_table *t, const char *client, size_t client_len,
			const char *path, size_t path_len)
{
	return rfs_key_hash(client, client_len, path, path_len) & (t->nbuckets - 1);
}

struct rfs_record *rfs_table_find(const struct rfs_table *t, const char *client, size_t client_len,
				  const char *path, size_t path_len)
{
	struct rfs_record *r = t->buckets[bucket_of(t, client, client_len, path, path_len)];

	for (; r; r = r->hnext)
		if (r->client_len == client_len && r->path_len == path_len &&
		    memcmp(r->key, client, client_len) == 0 &&
		    memcmp(rfs_record_path(r), path, path_len) == 0)
			return r;
	return NULL;
}

static void grow(struct rfs_table *t)
{
	size_t n = t->nbuckets * 2, i;
	struct rfs_record **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (i = 0; i < t->nbuckets; i++) {
		struct rfs_record *r = t->buckets[i], *next;

		for (; r; r = next) {
			size_t k = rfs_key_hash(r->key, r->client_len, rfs_record_path(r),
						r->path_len) &
				   (n - 1);

			next = r->hnext;
			r->hnext = b[k];
			b[k] = r;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* Order of the first-seen list. */
static int order_cmp(const struct rfs_record *a, const struct rfs_record *b)
{
	int c;

	if (a->born != b->born)
		return a->born < b->born ? -1 : 1;
	c = strcmp(a->origin->name, b->origin->name);
	if (c)
		return c;
	return rfs_key_cmp(a->key, a->client_len, rfs_record_path(a), a->path_len, b->key,
			   b->client_len, rfs_record_path(b), b->path_len);
}

static void list_insert(struct rfs_table *t, struct rfs_record *r)
{
	struct rfs_record *after = t->tail;

	/* New records are nearly always the youngest: search from the tail. */
	while (after && order_cmp(after, r) > 0)
		after = after->prev;
	r->prev = after;
	r->next = after ? after->next : t->head;
	if (r->next)
		r->next->prev = r;
	else
		t->tail = r;
	if (after)
		after->next = r;
	else
		t->head = r;
	t->nlive++;
	t->rmtab_bytes += rt_line_len(r->client_len, r->path_len);
}

static void list_remove(struct rfs_table *t, struct rfs_record *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		t->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		t->tail = r->prev;
	r->prev = r->next = NULL;
	t->nlive--;
	t->rmtab_bytes -= rt_line_len(r->client_len, r->path_len);
}

static void note_change(struct rfs_table *t, struct rfs_record *r)
{
	r->prev_gen = r->changed_gen;
	r->changed_gen = ++t->gen;
	t->change_sec = (int64_t)(t->now_ns() / 1000000000ull);
}

/*
 * Moves hlc for an op stamped time by writer (r: the key's record, if any), within the
 * bound, and notes a node whose stamps run ahead of our clock.
 */
static void note_time(struct rfs_table *t, struct rfs_node *writer, const struct rfs_record *r,
		      uint64_t time)
{
	uint64_t now;

	if (time <= t->hlc)
		return;
	if (!t->max_skew_ns) {
		t->hlc = time;
		return;
	}
	now = t->now_ns();
	if (time <= now + t->max_skew_ns) {
		t->hlc = time;
		return;
	}
	if (writer == t->self)
		return; /* our own change stamped after a record ahead */
	/* A change stamped just after a record already ahead says nothing of its node's clock. */
	if (r && r->time > now + t->max_skew_ns && time - r->time <= t->max_skew_ns)
		return;
	if (!writer->ahead_at || now - writer->ahead_at > RFS_SKEW_QUIET_NS)
		writer->ahead_new = true;
	writer->ahead_ns = (int64_t)(time - now);
	writer->ahead_at = now;
}

/*
 * applied_time: what the writer's ops still to come cannot be older than (compaction drops
 * tombstones older than every node's). A node's stamps grow with its own clock (hlc), but a
 * change of a record stamped ahead is stamped just after that record, above the node's
 * clock: such a follow-up (exactly one past our record, or our own op above our hlc) does
 * not raise it, and a stamp past the bound counts only up to the bound.
 */
static void note_applied_time(struct rfs_table *t, struct rfs_node *writer,
			      const struct rfs_record *r, uint64_t time)
{
	if (writer == t->self) {
		if (time > t->hlc)
			time = t->hlc;
	} else if (t->max_skew_ns) {
		uint64_t bound = t->now_ns() + t->max_skew_ns;

		if (r && time == r->time + 1)
			return;
		if (time > bound)
			time = bound;
	}
	if (time > writer->applied_time)
		writer->applied_time = time;
}

/* Does an op stamped (time, node) beat the record's current value? */
static bool op_wins(const struct rfs_record *r, uint64_t time, const char *node)
{
	if (time != r->time)
		return time > r->time;
	return strcmp(node, r->writer->name) > 0;
}

int rfs_table_apply(struct rfs_table *t, const struct rfs_op *op)
{
	struct rfs_node *writer, *origin;
	struct rfs_record *r;
	bool was_live, order_changed;

	writer = rfs_table_node(t, op->node, true);
	origin = rfs_table_node(t, op->origin, true);
	if (!writer || !origin)
		return -ENOMEM;
	r = rfs_table_find(t, op->client, op->client_len, op->path, op->path_len);
	note_time(t, writer, r, op->time);
	if (op->seq > writer->applied_seq) {
		writer->applied_seq = op->seq;
		note_applied_time(t, writer, r, op->time);
	}
	if (!r) {
		size_t b;

		r = calloc(1, sizeof(*r) + op->client_len + op->path_len + 2);
		if (!r)
			return -ENOMEM;
		memcpy(r->key, op->client, op->client_len);
		memcpy(r->key + op->client_len + 1, op->path, op->path_len);
		r->client_len = (uint16_t)op->client_len;
		r->path_len = (uint16_t)op->path_len;
		r->time = op->time;
		r->writer = writer;
		r->born = op->born;
		r->origin = origin;
		r->count = op->count;
		b = bucket_of(t, op->client, op->client_len, op->path, op->path_len);
		r->hnext = t->buckets[b];
		t->buckets[b] = r;
		t->nrecords++;
		if (r->count == 0) {
			/* A tombstone for a key never seen live: nothing visible changes. */
			r->changed_gen = r->prev_gen = 0;
		} else {
			note_change(t, r);
			list_insert(t, r);
		}
		if (t->nrecords > t->nbuckets)
			grow(t);
		return r->count ? 1 : 0;
	}
	if (!op_wins(r, op->time, op->node))
		return 0;
	was_live = r->count > 0;
	order_changed = was_live && op->count > 0 && (r->born != op->born || r->origin != origin);
	if (order_changed || (was_live && op->count == 0))
		list_remove(t, r);
	r->time = op->time;
	r->writer = writer;
	if (op->count == r->count && !order_changed) {
		r->born = op->born;
		r->origin = origin;
		return 0; /* same visible value, newer stamp */
	}
	r->prev_count = r->count;
	r->count = op->count;
	r->born = op->born;
	r->origin = origin;
	note_change(t, r);
	if (r->count > 0 && (!was_live || order_changed))
		list_insert(t, r);
	return 1;
}

static uint64_t hlc_next(struct rfs_table *t)
{
	uint64_t now = t->now_ns();

	t->hlc = now > t->hlc ? now : t->hlc + 1;
	return t->hlc;
}

int rfs_table_prepare_set(struct rfs_table *t, const char *client, size_t client_len,
			  const char *path, size_t path_len, uint32_t count, struct rfs_op *op)
{
	struct rfs_record *r = rfs_table_find(t, client, client_len, path, path_len);
	uint32_t cur = r ? r->count : 0;

	if (cur == count)
		return 0;
	op->time = hlc_next(t);
	if (r && r->time >= op->time) {
		/* After what it replaces; our clock follows only within the bound. */
		op->time = r->time + 1;
		if (!t->max_skew_ns || op->time <= t->now_ns() + t->max_skew_ns)
			t->hlc = op->time;
	}
	op->seq = ++t->self_seq;
	op->node = t->self->name;
	op->count = count;
	if (r && (cur > 0 || count == 0)) {
		op->born = r->born;
		op->origin = r->origin->name;
	} else {
		op->born = op->time;
		op->origin = t->self->name;
	}
	op->client = client;
	op->client_len = client_len;
	op->path = path;
	op->path_len = path_len;
	return 1;
}

int64_t rfs_table_count_at(const struct rfs_record *r, uint64_t gen)
{
	if (r->changed_gen <= gen)
		return r->count;
	if (r->prev_gen <= gen)
		return r->prev_count;
	return RFS_COUNT_UNKNOWN;
}

int64_t rfs_table_mtime(struct rfs_table *t)
{
	if (t->gen != t->reported_gen) {
		int64_t m = t->change_sec;

		if (m <= t->reported_mtime)
			m = t->reported_mtime + 1;
		t->reported_mtime = m;
		t->reported_gen = t->gen;
	}
	return t->reported_mtime;
}

void rfs_table_restore_mtime(struct rfs_table *t, int64_t last_reported)
{
	if (last_reported > t->reported_mtime)
		t->reported_mtime = last_reported;
	/* Whatever a reader saw before the restart, the next report must differ from it. */
	t->reported_gen = 0;
	t->change_sec = (int64_t)(t->now_ns() / 1000000000ull);
}

int rfs_table_render_rmtab(const struct rfs_table *t, struct rfs_buf *out)
{
	const struct rfs_record *r;
	char *p;
	int rc = rfs_buf_reserve(out, t->rmtab_bytes);

	if (rc)
		return rc;
	p = out->data + out->len;
	for (r = t->head; r; r = r->next)
		p = rt_render_line(p, r->key, r->client_len, rfs_record_path(r), r->path_len,
				   r->count);
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* Total number of decimal digits of 0, 1, ..., n-1. */
static size_t digits_upto(size_t n)
{
	size_t total = 0, lo = 0, width = 1, hi = 10;

	while (lo < n) {
		size_t top = n < hi ? n : hi;

		total += (top - lo) * width;
		lo = hi;
		hi *= 10;
		width++;
	}
	return total;
}

size_t rfs_table_gnfs_bytes(const struct rfs_table *t)
{
	/* Per record: rmtab line (client + path + 13) - 13 + "hostname-=\n" + "mountpoint-=\n". */
	return t->rmtab_bytes + 11 * t->nlive + 2 * digits_upto(t->nlive);
}

int rfs_table_render_gnfs(const struct rfs_table *t, struct rfs_buf *out)
{
	const struct rfs_record *r;
	uint32_t idx = 0;
	int rc = 0;

	for (r = t->head; r && !rc; r = r->next)
		rc = gn_render_pair(out, idx++, r->key, r->client_len, rfs_record_path(r),
				    r->path_len);
	return rc;
}

void rfs_record_as_op(const struct rfs_record *r, struct rfs_op *op)
{
	op->seq = 1;
	op->time = r->time;
	op->node = r->writer->name;
	op->count = r->count;
	op->born = r->born;
	op->origin = r->origin->name;
	op->client = r->key;
	op->client_len = r->client_len;
	op->path = rfs_record_path(r);
	op->path_len = r->path_len;
}

size_t rfs_table_drop_tombstones(struct rfs_table *t, uint64_t before_ns)
{
	size_t i, dropped = 0;

	for (i = 0; i < t->nbuckets; i++) {
		struct rfs_record **link = &t->buckets[i], *r;

		while ((r = *link)) {
			if (r->count == 0 && r->time < before_ns) {
				*link = r->hnext;
				free(r);
				t->nrecords--;
				dropped++;
			} else {
				link = &r->hnext;
			}
		}
	}
	return dropped;
}

bool rfs_table_skew_news(struct rfs_table *t, char *name, size_t len, double *secs)
{
	struct rfs_node *n;

	for (n = t->nodes; n; n = n->next)
		if (n->ahead_new) {
			n->ahead_new = false;
			snprintf(name, len, "%s", n->name);
			*secs = (double)n->ahead_ns / 1e9;
			return true;
		}
	return false;
}

void rfs_table_keep_skew(struct rfs_table *to, const struct rfs_table *from)
{
	const struct rfs_node *o;

	for (o = from->nodes; o; o = o->next) {
		struct rfs_node *n;

		if (!o->ahead_at || !(n = rfs_table_node(to, o->name, true)))
			continue;
		if (o->ahead_at > n->ahead_at) {
			n->ahead_ns = o->ahead_ns;
			n->ahead_at = o->ahead_at;
		}
	}
}
