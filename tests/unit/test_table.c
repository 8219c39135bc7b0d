/*
 * table: rfs_table_apply (last writer wins by (time, node id), equal times decided by the
 * node id, idempotence, tombstones that stop older ops from resurrecting a record),
 * rfs_table_prepare_set (HLC time, sequence, birth kept while alive), first-seen render
 * order by (born, origin, key), rmtab_bytes and rfs_table_gnfs_bytes against the rendered
 * lengths (0, 1, 9, 10, 11, 100, 101 records), rfs_table_count_at history, tombstone
 * dropping; a property test (random op sets applied in random orders with duplicates render
 * byte-identical, and equal to an independent model); the mtime rule with a fake clock;
 * the clock-skew bound (an op stamped past max_skew_ns does not move hlc and marks its node,
 * a follow-up on a record stamped ahead does not, local ops still win over it and this
 * node's own stamps never go back).
 */
#include "test.h"

#include <rmtabfs/rmtab_fmt.h>
#include <rmtabfs/table.h>

#define SEC 1000000000ull

static uint64_t fake_ns;

static uint64_t fake_now(void)
{
	return fake_ns;
}

/* A table whose clock is fake_ns from the start. */
static void table_init_fake(struct rfs_table *t, const char *self, uint64_t now)
{
	fake_ns = now;
	assert_int_equal(rfs_table_init(t, self), 0);
	t->now_ns = fake_now;
	/* init read the real clock once; restart its notion of "last change" on ours. */
	t->change_sec = (int64_t)(now / SEC);
}

static struct rfs_op op_of(uint64_t time, const char *node, uint32_t count, uint64_t born,
			   const char *origin, const char *client, const char *path)
{
	struct rfs_op op = {
		.seq = 1,
		.time = time,
		.born = born,
		.count = count,
		.node = node,
		.origin = origin,
		.client = client,
		.path = path,
		.client_len = strlen(client),
		.path_len = strlen(path),
	};

	return op;
}

static int apply(struct rfs_table *t, uint64_t time, const char *node, uint32_t count,
		 uint64_t born, const char *origin, const char *client, const char *path)
{
	struct rfs_op op = op_of(time, node, count, born, origin, client, path);

	return rfs_table_apply(t, &op);
}

static char *render(const struct rfs_table *t)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_table_render_rmtab(t, &b), 0);
	assert_int_equal(b.len, t->rmtab_bytes);
	return rfs_buf_steal(&b, NULL);
}

static char *render_gnfs(const struct rfs_table *t)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_table_render_gnfs(t, &b), 0);
	assert_int_equal(b.len, rfs_table_gnfs_bytes(t));
	return rfs_buf_steal(&b, NULL);
}

static void expect_render(const struct rfs_table *t, const char *want)
{
	char *got = render(t);

	if (strcmp(got, want) != 0)
		fail_msg("rendered:\n%s\nwant:\n%s", got, want);
	free(got);
}

static uint32_t count_of(const struct rfs_table *t, const char *client, const char *path)
{
	struct rfs_record *r = rfs_table_find(t, client, strlen(client), path, strlen(path));

	return r ? r->count : 0;
}

static void test_apply_basic(void **state)
{
	struct rfs_table t;
	uint64_t gen;

	table_init_fake(&t, "self", 100 * SEC);
	expect_render(&t, "");
	assert_int_equal(apply(&t, 10, "a", 2, 10, "a", "::1", "/p"), 1);
	expect_render(&t, ";;1:/p:0x00000002\n");
	assert_int_equal(t.nlive, 1);
	assert_int_equal(t.nrecords, 1);
	/* The same op again: idempotent, nothing changes, not even the generation. */
	gen = t.gen;
	assert_int_equal(apply(&t, 10, "a", 2, 10, "a", "::1", "/p"), 0);
	assert_int_equal(t.gen, gen);
	/* The clock follows every op seen. */
	assert_true(t.hlc >= 10);
	assert_int_equal(rfs_table_node(&t, "a", false)->applied_seq, 1);
	assert_null(rfs_table_node(&t, "zz", false));
	rfs_table_free(&t);
}

static void test_lww(void **state)
{
	/* Two ops on one key, both orders: the later time wins. */
	for (int order = 0; order < 2; order++) {
		struct rfs_table t;

		table_init_fake(&t, "self", SEC);
		if (order == 0) {
			assert_int_equal(apply(&t, 10, "a", 1, 10, "a", "c", "/p"), 1);
			assert_int_equal(apply(&t, 20, "a", 5, 10, "a", "c", "/p"), 1);
		} else {
			assert_int_equal(apply(&t, 20, "a", 5, 10, "a", "c", "/p"), 1);
			assert_int_equal(apply(&t, 10, "a", 1, 10, "a", "c", "/p"), 0);
		}
		assert_int_equal(count_of(&t, "c", "/p"), 5);
		/* An op between them arriving late loses too. */
		assert_int_equal(apply(&t, 15, "z", 9, 10, "a", "c", "/p"), 0);
		assert_int_equal(count_of(&t, "c", "/p"), 5);
		rfs_table_free(&t);
	}
}

static void test_lww_equal_times(void **state)
{
	/* Same time, different nodes: the greater node id wins, in either order. */
	for (int order = 0; order < 2; order++) {
		struct rfs_table t;

		table_init_fake(&t, "self", SEC);
		if (order == 0) {
			apply(&t, 10, "node-a", 3, 10, "node-a", "c", "/p");
			assert_int_equal(apply(&t, 10, "node-b", 7, 10, "node-b", "c", "/p"), 1);
		} else {
			apply(&t, 10, "node-b", 7, 10, "node-b", "c", "/p");
			assert_int_equal(apply(&t, 10, "node-a", 3, 10, "node-a", "c", "/p"), 0);
		}
		assert_int_equal(count_of(&t, "c", "/p"), 7);
		assert_string_equal(rfs_table_find(&t, "c", 1, "/p", 2)->writer->name, "node-b");
		rfs_table_free(&t);
	}
}

static void test_tombstones(void **state)
{
	struct rfs_table t;
	struct rfs_record *r;

	table_init_fake(&t, "self", SEC);
	assert_int_equal(apply(&t, 10, "a", 2, 10, "a", "c", "/p"), 1);
	assert_int_equal(apply(&t, 20, "b", 0, 10, "a", "c", "/p"), 1);
	expect_render(&t, "");
	assert_int_equal(t.nlive, 0);
	assert_int_equal(t.nrecords, 1); /* the tombstone stays */
	/* An older set arriving late must not resurrect it. */
	assert_int_equal(apply(&t, 15, "c", 9, 15, "c", "c", "/p"), 0);
	expect_render(&t, "");
	/* A newer one does. */
	assert_int_equal(apply(&t, 30, "c", 4, 30, "c", "c", "/p"), 1);
	expect_render(&t, "c:/p:0x00000004\n");
	rfs_table_free(&t);

	/* A removal seen before the key ever was: a tombstone, no visible change. */
	table_init_fake(&t, "self", SEC);
	assert_int_equal(apply(&t, 20, "b", 0, 10, "a", "k", "/p"), 0);
	assert_int_equal(t.nrecords, 1);
	assert_int_equal(t.nlive, 0);
	assert_int_equal(apply(&t, 10, "a", 1, 10, "a", "k", "/p"), 0);
	expect_render(&t, "");
	r = rfs_table_find(&t, "k", 1, "/p", 2);
	assert_non_null(r);
	assert_int_equal(r->count, 0);
	/* Tombstone to tombstone with a newer stamp: no visible change either. */
	assert_int_equal(apply(&t, 25, "b", 0, 25, "b", "k", "/p"), 0);
	assert_int_equal(r->time, 25);

	/* Dropping: only tombstones older than the horizon go. */
	assert_int_equal(apply(&t, 40, "a", 3, 40, "a", "live", "/p"), 1);
	assert_int_equal(apply(&t, 50, "a", 0, 40, "a", "live2", "/p"), 0);
	assert_int_equal(rfs_table_drop_tombstones(&t, 26), 1);
	assert_int_equal(t.nrecords, 2);
	assert_null(rfs_table_find(&t, "k", 1, "/p", 2));
	assert_int_equal(rfs_table_drop_tombstones(&t, 1000), 1);
	assert_int_equal(t.nrecords, 1);
	expect_render(&t, "live:/p:0x00000003\n");
	rfs_table_free(&t);
}

static void test_order(void **state)
{
	struct rfs_table t;
	char *g;

	table_init_fake(&t, "self", SEC);
	/* Render order is (born, origin, key), not arrival order. */
	apply(&t, 100, "a", 1, 30, "a", "k3", "/p");
	apply(&t, 101, "a", 1, 10, "a", "k1", "/p");
	apply(&t, 102, "b", 1, 20, "b", "k2", "/p");
	apply(&t, 103, "b", 1, 20, "a", "k2b", "/p"); /* same born: origin a before b */
	apply(&t, 104, "b", 1, 20, "a", "k2a", "/p"); /* same born and origin: by key */
	expect_render(&t, "k1:/p:0x00000001\n"
			  "k2a:/p:0x00000001\n"
			  "k2b:/p:0x00000001\n"
			  "k2:/p:0x00000001\n"
			  "k3:/p:0x00000001\n");
	/* A count change keeps the birth: the record stays where it is. */
	apply(&t, 200, "c", 5, 10, "a", "k1", "/p");
	expect_render(&t, "k1:/p:0x00000005\n"
			  "k2a:/p:0x00000001\n"
			  "k2b:/p:0x00000001\n"
			  "k2:/p:0x00000001\n"
			  "k3:/p:0x00000001\n");
	/* A new incarnation (new birth) moves it, even with the same count. */
	apply(&t, 201, "c", 5, 201, "c", "k1", "/p");
	expect_render(&t, "k2a:/p:0x00000001\n"
			  "k2b:/p:0x00000001\n"
			  "k2:/p:0x00000001\n"
			  "k3:/p:0x00000001\n"
			  "k1:/p:0x00000005\n");
	/* Removed then re-created: at the end, with its new birth. */
	apply(&t, 300, "a", 0, 20, "a", "k2a", "/p");
	apply(&t, 301, "a", 2, 301, "a", "k2a", "/p");
	expect_render(&t, "k2b:/p:0x00000001\n"
			  "k2:/p:0x00000001\n"
			  "k3:/p:0x00000001\n"
			  "k1:/p:0x00000005\n"
			  "k2a:/p:0x00000002\n");
	g = render_gnfs(&t);
	assert_string_equal(g, "hostname-0=k2b\nmountpoint-0=/p\n"
			       "hostname-1=k2\nmountpoint-1=/p\n"
			       "hostname-2=k3\nmountpoint-2=/p\n"
			       "hostname-3=k1\nmountpoint-3=/p\n"
			       "hostname-4=k2a\nmountpoint-4=/p\n");
	free(g);
	rfs_table_free(&t);
}

static void test_prepare_set(void **state)
{
	struct rfs_table t;
	static const char client[] = "c", path[] = "/p";
	struct rfs_op op, op2;
	uint64_t born;

	table_init_fake(&t, "me", 1000 * SEC);
	/* Nothing to do: the table already holds that count (0 = absent). */
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 0, &op), 0);
	assert_int_equal(t.self_seq, 0);

	assert_int_equal(rfs_table_prepare_set(&t, client, 1, path, 2, 1, &op), 1);
	assert_int_equal(op.time, 1000 * SEC);
	assert_int_equal(op.seq, 1);
	assert_string_equal(op.node, "me");
	assert_string_equal(op.origin, "me");
	assert_int_equal(op.born, op.time);
	assert_int_equal(op.count, 1);
	/* The op's strings are the caller's. */
	assert_ptr_equal(op.client, client);
	assert_ptr_equal(op.path, path);
	/* Not applied yet. */
	assert_int_equal(count_of(&t, "c", "/p"), 0);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 1, &op2), 0);
	born = op.born;

	/* The clock stands still or goes back: the HLC still moves forward. */
	fake_ns = 999 * SEC;
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 3, &op2), 1);
	assert_int_equal(op2.time, op.time + 1);
	assert_int_equal(op2.seq, 2);
	assert_int_equal(op2.born, born); /* alive: birth kept */
	assert_int_equal(rfs_table_apply(&t, &op2), 1);

	/* A remote op from the future: the next local op still wins over it. */
	assert_int_equal(apply(&t, 5000 * SEC, "other", 7, born, "me", "c", "/p"), 1);
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 8, &op), 1);
	assert_true(op.time > 5000 * SEC);
	assert_int_equal(op.born, born);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	assert_int_equal(count_of(&t, "c", "/p"), 8);

	/* Removal keeps the birth; the next set after it starts a new incarnation. */
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 0, &op), 1);
	assert_int_equal(op.count, 0);
	assert_int_equal(op.born, born);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	fake_ns = 6000 * SEC;
	assert_int_equal(rfs_table_prepare_set(&t, "c", 1, "/p", 2, 1, &op), 1);
	assert_int_equal(op.born, op.time);
	assert_int_equal(op.time, 6000 * SEC);
	assert_string_equal(op.origin, "me");
	assert_int_equal(op.seq, t.self_seq);
	assert_int_equal(t.self_seq, 5);
	rfs_table_free(&t);
}

/* n records with keys of varying length; checks both size formulas against renderings. */
static void check_sizes(size_t n)
{
	struct rfs_table t;
	char *r, *g;

	table_init_fake(&t, "self", SEC);
	for (size_t i = 0; i < n; i++) {
		char client[32], path[64];

		snprintf(client, sizeof(client), "10.0.%zu.%zu", i / 7, i);
		snprintf(path, sizeof(path), "/export/%.*s", (int)(i % 13), "abcdefghijklm");
		assert_int_equal(apply(&t, 10 + i, "a", (uint32_t)i + 1, 10 + i, "a", client, path),
				 1);
	}
	/* And a tombstone, which shows in neither. */
	apply(&t, 5, "a", 0, 5, "a", "gone", "/x");
	r = render(&t);
	g = render_gnfs(&t);
	assert_int_equal(strlen(r), t.rmtab_bytes);
	assert_int_equal(strlen(g), rfs_table_gnfs_bytes(&t));
	assert_int_equal(t.nlive, n);
	if (n) {
		char last[32];

		snprintf(last, sizeof(last), "hostname-%zu=", n - 1);
		assert_non_null(strstr(g, last));
	}
	free(r);
	free(g);
	rfs_table_free(&t);
}

static void test_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 9, 10, 11, 100, 101, 1001};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_sizes(sizes[i]);
}

static void test_sizes_after_removals(void **state)
{
	struct rfs_table t;
	char *g;

	table_init_fake(&t, "self", SEC);
	for (int i = 0; i < 12; i++) {
		char client[16];

		snprintf(client, sizeof(client), "c%d", i);
		apply(&t, 10 + (uint64_t)i, "a", 1, 10, "a", client, "/p");
	}
	for (int i = 0; i < 12; i += 3) {
		char client[16];

		snprintf(client, sizeof(client), "c%d", i);
		apply(&t, 100 + (uint64_t)i, "a", 0, 10, "a", client, "/p");
	}
	/* Growing one key's count keeps the line length (fixed-width count). */
	apply(&t, 200, "a", 0xffffffffu, 10, "a", "c1", "/p");
	g = render_gnfs(&t);
	assert_int_equal(t.nlive, 8);
	assert_null(strstr(g, "hostname-8="));
	assert_non_null(strstr(g, "hostname-7="));
	free(g);
	free(render(&t));
	rfs_table_free(&t);
}

static void test_count_at(void **state)
{
	struct rfs_table t;
	struct rfs_record *r;
	uint64_t g0, g1, g2, g3;

	table_init_fake(&t, "self", SEC);
	g0 = t.gen;
	apply(&t, 10, "a", 1, 10, "a", "c", "/p");
	g1 = t.gen;
	r = rfs_table_find(&t, "c", 1, "/p", 2);
	assert_true(g1 > g0);
	assert_int_equal(rfs_table_count_at(r, g0), 0); /* did not exist */
	assert_int_equal(rfs_table_count_at(r, g1), 1);
	/* Another key's change does not touch this record's history. */
	apply(&t, 11, "a", 9, 11, "a", "other", "/p");
	apply(&t, 20, "a", 5, 10, "a", "c", "/p");
	g2 = t.gen;
	assert_int_equal(rfs_table_count_at(r, g1), 1);
	assert_int_equal(rfs_table_count_at(r, g2 - 1), 1);
	assert_int_equal(rfs_table_count_at(r, g2), 5);
	assert_int_equal(rfs_table_count_at(r, g2 + 100), 5);
	/* Two changes back is no longer known. */
	assert_int_equal(rfs_table_count_at(r, g0), RFS_COUNT_UNKNOWN);
	apply(&t, 30, "a", 0, 10, "a", "c", "/p");
	g3 = t.gen;
	assert_int_equal(rfs_table_count_at(r, g3), 0);
	assert_int_equal(rfs_table_count_at(r, g2), 5);
	assert_int_equal(rfs_table_count_at(r, g1), RFS_COUNT_UNKNOWN);
	/* A newer stamp without a visible change is no change in the history either. */
	apply(&t, 40, "b", 0, 10, "a", "c", "/p");
	assert_int_equal(t.gen, g3);
	assert_int_equal(rfs_table_count_at(r, g2), 5);
	rfs_table_free(&t);
}

/*
 * Property test. An op set is random over a small pool of keys, nodes, times, births and
 * counts (0 included), with (time, node) unique per key as a real HLC guarantees. Applied in
 * random orders with random duplicates, every table must render byte-identically, and equal
 * to a model that picks each key's winner directly.
 */
#define NKEYS  5
#define NNODES 4
#define MAXOPS 40

static const char *const pool_clients[NKEYS] = {"10.0.0.1", "10.0.0.1", "::1", "b", "fe80::9"};
static const char *const pool_paths[NKEYS] = {"/a", "/b", "/a", "/a", "/x:y"};
static const char *const pool_nodes[NNODES] = {"n1", "n2", "alpha", "z"};

struct gen_op {
	int key, node, origin;
	uint64_t time, born;
	uint32_t count;
};

static struct rfs_op gen_to_op(const struct gen_op *g)
{
	return op_of(g->time, pool_nodes[g->node], g->count, g->born, pool_nodes[g->origin],
		     pool_clients[g->key], pool_paths[g->key]);
}

static bool beats(const struct gen_op *a, const struct gen_op *b)
{
	if (a->time != b->time)
		return a->time > b->time;
	return strcmp(pool_nodes[a->node], pool_nodes[b->node]) > 0;
}

static int model_cmp(const struct gen_op *a, const struct gen_op *b)
{
	int c;

	if (a->born != b->born)
		return a->born < b->born ? -1 : 1;
	c = strcmp(pool_nodes[a->origin], pool_nodes[b->origin]);
	if (c)
		return c;
	return rfs_key_cmp(pool_clients[a->key], strlen(pool_clients[a->key]), pool_paths[a->key],
			   strlen(pool_paths[a->key]), pool_clients[b->key],
			   strlen(pool_clients[b->key]), pool_paths[b->key],
			   strlen(pool_paths[b->key]));
}

/* The rmtab an ideal table holds after the ops: each key's winner, live ones by order. */
static char *model_render(const struct gen_op *ops, size_t n)
{
	const struct gen_op *win[NKEYS] = {NULL};
	const struct gen_op *live[NKEYS];
	struct rfs_buf b = RFS_BUF_INIT;
	size_t nlive = 0;

	for (size_t i = 0; i < n; i++)
		if (!win[ops[i].key] || beats(&ops[i], win[ops[i].key]))
			win[ops[i].key] = &ops[i];
	for (int k = 0; k < NKEYS; k++)
		if (win[k] && win[k]->count)
			live[nlive++] = win[k];
	for (size_t i = 1; i < nlive; i++)
		for (size_t j = i; j > 0 && model_cmp(live[j - 1], live[j]) > 0; j--) {
			const struct gen_op *tmp = live[j];

			live[j] = live[j - 1];
			live[j - 1] = tmp;
		}
	for (size_t i = 0; i < nlive; i++) {
		const char *c = pool_clients[live[i]->key], *p = pool_paths[live[i]->key];

		assert_int_equal(rfs_buf_reserve(&b, rt_line_len(strlen(c), strlen(p))), 0);
		b.len = (size_t)(rt_render_line(b.data + b.len, c, strlen(c), p, strlen(p),
						live[i]->count) -
				 b.data);
		b.data[b.len] = '\0'; /* reserve keeps room for it */
	}
	return rfs_buf_steal(&b, NULL);
}

/* Equal tables: the same records, tombstones included, with the same winning stamps. */
static bool same_records(const struct rfs_table *a, const struct rfs_table *b)
{
	const struct rfs_record *r;
	size_t i;

	if (a->nrecords != b->nrecords || a->nlive != b->nlive || a->hlc != b->hlc)
		return false;
	rfs_table_for_each(a, i, r)
	{
		const struct rfs_record *o = rfs_table_find(b, rfs_record_client(r), r->client_len,
							    rfs_record_path(r), r->path_len);

		if (!o || o->count != r->count || o->time != r->time || o->born != r->born ||
		    strcmp(o->writer->name, r->writer->name) != 0 ||
		    strcmp(o->origin->name, r->origin->name) != 0)
			return false;
	}
	return true;
}

static void test_property_commutative(void **state)
{
	static const uint32_t counts[] = {0, 0, 1, 1, 2, 3, 0xffffffffu};
	uint64_t seed = test_seed(0x7461626c65ull);
	struct test_rng rng = {seed};
	unsigned sets = 600;

	for (unsigned iter = 0; iter < sets; iter++) {
		struct gen_op ops[MAXOPS];
		size_t n = 1 + rng_below(&rng, MAXOPS);
		char *want_rmtab = NULL, *want_gnfs = NULL, *model;
		struct rfs_table first;

		for (size_t i = 0; i < n; i++) {
			struct gen_op *g = &ops[i];
			bool unique;

			do {
				g->key = (int)rng_below(&rng, NKEYS);
				g->node = (int)rng_below(&rng, NNODES);
				g->time = 1 + rng_below(&rng, 12); /* many equal times */
				unique = true;
				for (size_t j = 0; j < i; j++)
					if (ops[j].key == g->key && ops[j].node == g->node &&
					    ops[j].time == g->time)
						unique = false;
			} while (!unique);
			g->count = counts[rng_below(&rng, sizeof(counts) / sizeof(counts[0]))];
			g->born = 1 + rng_below(&rng, 4); /* many equal births */
			g->origin = (int)rng_below(&rng, NNODES);
		}
		model = model_render(ops, n);

		for (int perm = 0; perm < 4; perm++) {
			struct gen_op seq[3 * MAXOPS];
			size_t m = n;
			struct rfs_table t;
			char *r, *g;

			memcpy(seq, ops, n * sizeof(ops[0]));
			/* Random duplicates: the same op delivered twice or thrice. */
			for (size_t i = 0; i < n; i++)
				while (rng_below(&rng, 4) == 0 && m < 3 * MAXOPS)
					seq[m++] = ops[i];
			rng_shuffle(&rng, seq, m, sizeof(seq[0]));
			table_init_fake(&t, "self", SEC);
			for (size_t i = 0; i < m; i++) {
				struct rfs_op op = gen_to_op(&seq[i]);

				check_seed(rfs_table_apply(&t, &op) >= 0, seed, "apply failed");
			}
			r = render(&t);
			g = render_gnfs(&t);
			check_seed(perm == 0 || same_records(&t, &first), seed,
				   "set %u order %d: records differ", iter, perm);
			if (!want_rmtab) {
				want_rmtab = r;
				want_gnfs = g;
				check_seed(strcmp(r, model) == 0, seed,
					   "set %u: table\n%s\nmodel\n%s", iter, r, model);
			} else {
				check_seed(strcmp(r, want_rmtab) == 0, seed,
					   "set %u order %d: rmtab\n%s\nfirst order\n%s", iter,
					   perm, r, want_rmtab);
				check_seed(strcmp(g, want_gnfs) == 0, seed,
					   "set %u order %d: gNFS differs", iter, perm);
				free(r);
				free(g);
			}
			if (perm == 0)
				first = t;
			else
				rfs_table_free(&t);
		}
		rfs_table_free(&first);
		free(want_rmtab);
		free(want_gnfs);
		free(model);
	}
	test_note("%u op sets, 4 orders each", sets);
}

/* ---- the mtime rule ---- */

static struct rfs_node *node_of(struct rfs_table *t, const char *name)
{
	struct rfs_node *n = rfs_table_node(t, name, false);

	assert_non_null(n);
	return n;
}

static void test_skew_bound(void **state)
{
	const uint64_t now = 1000000 * SEC, hour = 3600 * SEC;
	struct rfs_table t;
	struct rfs_op op;
	uint64_t hlc, last;

	(void)state;
	table_init_fake(&t, "a", now);
	assert_int_equal(t.max_skew_ns, RFS_MAX_SKEW_DEFAULT * SEC);
	/* Within the bound: the clock follows, nothing is noted. */
	assert_int_equal(apply(&t, now + 10 * SEC, "b", 1, now + 10 * SEC, "b", "c1", "/p"), 1);
	assert_true(t.hlc == now + 10 * SEC);
	assert_int_equal(node_of(&t, "b")->ahead_at, 0);
	/* An hour ahead: applied as stamped, the clock stays, the node is noted once. */
	hlc = t.hlc;
	assert_int_equal(apply(&t, now + hour, "c", 1, now + hour, "c", "c2", "/p"), 1);
	assert_int_equal(count_of(&t, "c2", "/p"), 1);
	assert_true(t.hlc == hlc);
	assert_true(node_of(&t, "c")->ahead_ns == (int64_t)hour);
	assert_true(node_of(&t, "c")->ahead_at == now);
	{
		char name[RFS_NODE_MAX + 1];
		double secs = 0;
		struct rfs_table other;

		assert_true(rfs_table_skew_news(&t, name, sizeof(name), &secs));
		assert_string_equal(name, "c");
		assert_true(secs > 3599 && secs < 3601);
		assert_false(rfs_table_skew_news(&t, name, sizeof(name), &secs));
		table_init_fake(&other, "a", now);
		rfs_table_keep_skew(&other, &t);
		assert_true(node_of(&other, "c")->ahead_ns == (int64_t)hour);
		assert_false(node_of(&other, "c")->ahead_new);
		rfs_table_free(&other);
	}
	fake_ns += SEC;
	assert_int_equal(
		apply(&t, now + hour + 5 * SEC, "c", 1, now + hour + 5 * SEC, "c", "c3", "/p"), 1);
	assert_false(node_of(&t, "c")->ahead_new); /* still the same episode */
	assert_true(t.hlc == hlc);

	/* Another node's change stamped just after c's record: a follow-up, not its clock. */
	assert_int_equal(apply(&t, now + hour + 1, "d", 2, now + hour, "c", "c2", "/p"), 1);
	assert_int_equal(node_of(&t, "d")->ahead_at, 0);

	/*
	 * A local change of a record stamped ahead still wins; our clock stays ours, and so
	 * does what we say our later ops cannot be older than.
	 */
	assert_int_equal(rfs_table_prepare_set(&t, "c2", 2, "/p", 2, 0, &op), 1);
	assert_true(op.time > now + hour + 1);
	assert_true(t.hlc == hlc + 1);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	assert_int_equal(count_of(&t, "c2", "/p"), 0);
	assert_true(t.hlc == hlc + 1);
	assert_true(node_of(&t, "a")->applied_time <= t.hlc);
	last = op.time;
	assert_int_equal(rfs_table_prepare_set(&t, "new", 3, "/p", 2, 1, &op), 1);
	assert_true(op.time < last && op.time == hlc + 2);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	/* Another node's follow-up (one past our record) does not raise its applied_time. */
	assert_int_equal(apply(&t, last + 1, "e", 0, now + hour, "c", "c2", "/p"), 0);
	assert_int_equal(node_of(&t, "e")->applied_time, 0);
	/* A stamp past the bound counts up to the bound only. */
	assert_true(node_of(&t, "c")->applied_time <= fake_ns + RFS_MAX_SKEW_DEFAULT * SEC);
	assert_true(node_of(&t, "c")->applied_time > fake_ns);

	/* Quiet for longer than RFS_SKEW_QUIET_NS: news again. */
	fake_ns += RFS_SKEW_QUIET_NS + SEC;
	assert_int_equal(apply(&t, fake_ns + hour, "c", 1, fake_ns + hour, "c", "c4", "/p"), 1);
	assert_true(node_of(&t, "c")->ahead_new);
	rfs_table_free(&t);

	/* This node's own ops (journal replay) move its clock within the bound only. */
	table_init_fake(&t, "a", now);
	assert_int_equal(apply(&t, now + 10 * SEC, "a", 1, now + 10 * SEC, "a", "k", "/p"), 1);
	assert_true(t.hlc == now + 10 * SEC);
	assert_int_equal(apply(&t, now + hour, "a", 2, now, "a", "k", "/p"), 1);
	assert_true(t.hlc == now + 10 * SEC);
	assert_int_equal(node_of(&t, "a")->ahead_at, 0);
	rfs_table_free(&t);

	/* A clock behind: others' current stamps do not drag it, but our changes win. */
	table_init_fake(&t, "late", now - hour);
	assert_int_equal(apply(&t, now, "b", 1, now, "b", "k", "/p"), 1);
	assert_true(t.hlc < now - hour + RFS_MAX_SKEW_DEFAULT * SEC);
	assert_true(node_of(&t, "b")->ahead_ns == (int64_t)hour);
	assert_int_equal(rfs_table_prepare_set(&t, "k", 1, "/p", 2, 0, &op), 1);
	assert_true(op.time > now);
	assert_int_equal(rfs_table_apply(&t, &op), 1);
	assert_int_equal(count_of(&t, "k", "/p"), 0);
	rfs_table_free(&t);

	/* No bound (max_skew_ns 0): the old behaviour, the clock follows everything. */
	table_init_fake(&t, "a", now);
	t.max_skew_ns = 0;
	assert_int_equal(apply(&t, now + hour, "c", 1, now + hour, "c", "k", "/p"), 1);
	assert_true(t.hlc == now + hour);
	assert_int_equal(node_of(&t, "c")->ahead_at, 0);
	rfs_table_free(&t);
}

static void change(struct rfs_table *t, uint32_t count)
{
	struct rfs_op op;

	assert_int_equal(rfs_table_prepare_set(t, "c", 1, "/p", 2, count, &op), 1);
	assert_int_equal(rfs_table_apply(t, &op), 1);
}

static void test_mtime_rule(void **state)
{
	struct rfs_table t;

	table_init_fake(&t, "self", 100 * SEC);
	assert_int_equal(rfs_table_mtime(&t), 100);
	fake_ns = 100 * SEC + SEC / 2;
	/* Stays put without changes, even as the clock moves. */
	assert_int_equal(rfs_table_mtime(&t), 100);

	/* Change, stat, change in the same second, stat: +1 each time. */
	change(&t, 1);
	assert_int_equal(rfs_table_mtime(&t), 101);
	assert_int_equal(rfs_table_mtime(&t), 101);
	fake_ns = 100 * SEC + SEC * 7 / 10;
	change(&t, 2);
	assert_int_equal(rfs_table_mtime(&t), 102);
	fake_ns = 100 * SEC + SEC * 8 / 10;
	change(&t, 3);
	assert_int_equal(rfs_table_mtime(&t), 103);

	/* No changes: stays, however far the clock goes. */
	fake_ns = 105 * SEC;
	assert_int_equal(rfs_table_mtime(&t), 103);
	/* A change once the clock has passed: the change's own second. */
	change(&t, 4);
	fake_ns = 106 * SEC;
	assert_int_equal(rfs_table_mtime(&t), 105);

	/* Ten changes in one second, then one stat: exactly that second, no run-ahead. */
	for (uint32_t i = 0; i < 10; i++) {
		fake_ns = 200 * SEC + i * (SEC / 10);
		change(&t, 10 + i);
	}
	fake_ns = 201 * SEC;
	assert_int_equal(rfs_table_mtime(&t), 200);
	assert_int_equal(rfs_table_mtime(&t), 200);

	/* Ops that change nothing visible do not move it. */
	assert_int_equal(apply(&t, 1, "old", 99, 1, "old", "c", "/p"), 0);
	assert_int_equal(apply(&t, 1, "old", 0, 1, "old", "never", "/seen"), 0);
	fake_ns = 300 * SEC;
	assert_int_equal(rfs_table_mtime(&t), 200);
	/* A remote change counts like a local one. */
	assert_int_equal(apply(&t, t.hlc + 1, "zz", 77, 1, "zz", "c", "/p"), 1);
	assert_int_equal(rfs_table_mtime(&t), 300);
	rfs_table_free(&t);
}

static void test_mtime_restore(void **state)
{
	struct rfs_table t;

	/* Restarted with the clock behind what was reported: the next value is above it. */
	table_init_fake(&t, "self", 50 * SEC);
	rfs_table_restore_mtime(&t, 1000);
	assert_int_equal(rfs_table_mtime(&t), 1001);
	assert_int_equal(rfs_table_mtime(&t), 1001);
	change(&t, 1);
	assert_int_equal(rfs_table_mtime(&t), 1002);
	rfs_table_free(&t);

	/* Clock ahead: its second, still above the restored value. */
	table_init_fake(&t, "self", 5000 * SEC);
	rfs_table_restore_mtime(&t, 1000);
	assert_int_equal(rfs_table_mtime(&t), 5000);
	rfs_table_free(&t);

	/* Restored value equal to the clock's second: must not repeat it. */
	table_init_fake(&t, "self", 5000 * SEC);
	rfs_table_restore_mtime(&t, 5000);
	assert_int_equal(rfs_table_mtime(&t), 5001);
	rfs_table_free(&t);

	/* Reported once, then a restore of an older value does not go back. */
	table_init_fake(&t, "self", 700 * SEC);
	assert_int_equal(rfs_table_mtime(&t), 700);
	rfs_table_restore_mtime(&t, 10);
	assert_true(rfs_table_mtime(&t) > 700);
	rfs_table_free(&t);
}

/*
 * Random walks of changes, stats and clock steps: a reported value never stands for two
 * contents, values never decrease, and the lead over the clock is at most the number of
 * stat/change alternations within one second.
 */
static void test_mtime_random(void **state)
{
	uint64_t seed = test_seed(0x6d74696d65ull);
	struct test_rng rng = {seed};

	for (int walk = 0; walk < 200; walk++) {
		struct rfs_table t;
		int64_t last = 0, values[400];
		char *contents[400];
		size_t nvalues = 0;
		uint32_t count = 1;
		unsigned alternations = 0;
		bool changed_since_stat = false;

		table_init_fake(&t, "self", 1000 * SEC);
		for (int step = 0; step < 300; step++) {
			unsigned what = (unsigned)rng_below(&rng, 10);

			if (what < 4) {
				change(&t, count = count % 5 + 1);
				changed_since_stat = true;
			} else if (what < 8) {
				int64_t m = rfs_table_mtime(&t);
				char *content = render(&t);
				size_t i;

				check_seed(m >= last, seed, "walk %d: mtime went back", walk);
				if (changed_since_stat && m > (int64_t)(fake_ns / SEC))
					alternations++;
				check_seed(m <= (int64_t)(fake_ns / SEC) + alternations, seed,
					   "walk %d: mtime %lld runs ahead of %llu by more than %u",
					   walk, (long long)m, (unsigned long long)(fake_ns / SEC),
					   alternations);
				for (i = 0; i < nvalues && values[i] != m; i++)
					;
				if (i < nvalues) {
					check_seed(strcmp(contents[i], content) == 0, seed,
						   "walk %d: mtime %lld for two contents", walk,
						   (long long)m);
					free(content);
				} else {
					values[nvalues] = m;
					contents[nvalues++] = content;
				}
				last = m;
				changed_since_stat = false;
			} else {
				fake_ns += rng_below(&rng, 3) ? rng_below(&rng, SEC / 2)
							      : rng_below(&rng, 3 * SEC);
				/* A full second without anything pending: no more lead needed. */
			}
		}
		for (size_t i = 0; i < nvalues; i++)
			free(contents[i]);
		rfs_table_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_basic),	cmocka_unit_test(test_lww),
		cmocka_unit_test(test_lww_equal_times), cmocka_unit_test(test_tombstones),
		cmocka_unit_test(test_order),		cmocka_unit_test(test_prepare_set),
		cmocka_unit_test(test_sizes),		cmocka_unit_test(test_sizes_after_removals),
		cmocka_unit_test(test_count_at),	cmocka_unit_test(test_property_commutative),
		cmocka_unit_test(test_mtime_rule),	cmocka_unit_test(test_mtime_restore),
		cmocka_unit_test(test_mtime_random),	cmocka_unit_test(test_skew_bound),
	};

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
