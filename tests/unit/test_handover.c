/*
 * handover: the serialisation primitives (round trip of every field kind, NULL strings,
 * descriptors by index, truncation at every byte fails cleanly) and the translation of the
 * kernel's old values (rfs_ho_map/ptr/id/unmap) against a model: random maps and unmaps
 * exercise the backward-shift deletion of the open-addressing maps, and rfs_ho_calloc never
 * returns an address that is a live old value. A view's pending redirects (a thread answered
 * ESTALE whose retry has not come) go over a handover with the inodes.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>

#include <rmtabfs/handover.h>
#include <rmtabfs/vgen.h>
#include <rmtabfs/view.h>

static void test_round_trip(void **state)
{
	struct rfs_ho_out o = {.memfd = -1};
	struct rfs_ho_in in = {0};
	int fds[2] = {7, 9};
	size_t n;
	const char *p;
	char *s;

	(void)state;
	rfs_ho_put_u64(&o, 0);
	rfs_ho_put_u64(&o, UINT64_MAX - 1);
	rfs_ho_put_str(&o, "hello");
	rfs_ho_put_str(&o, NULL);
	rfs_ho_put_bytes(&o, "", 0);
	rfs_ho_put_fd(&o, 7);
	rfs_ho_put_fd(&o, -1);
	rfs_ho_put_fd(&o, 9);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.nfds, 2);
	assert_int_equal(o.fds[0], 7);
	assert_int_equal(o.fds[1], 9);

	in.p = o.buf.data;
	in.len = o.buf.len;
	in.fds = fds;
	in.nfds = 2;
	assert_int_equal(rfs_ho_get_u64(&in), 0);
	assert_true(rfs_ho_get_u64(&in) == UINT64_MAX - 1);
	s = rfs_ho_get_str(&in);
	assert_string_equal(s, "hello");
	free(s);
	assert_null(rfs_ho_get_str(&in));
	p = rfs_ho_get_bytes(&in, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(rfs_ho_get_fd(&in), 7);
	assert_int_equal(rfs_ho_get_fd(&in), -1);
	assert_int_equal(rfs_ho_get_fd(&in), 9);
	assert_int_equal(in.err, 0);
	assert_int_equal(in.pos, in.len);
	/* Past the end: an error, and zeros. */
	assert_int_equal(rfs_ho_get_u64(&in), 0);
	assert_int_equal(in.err, -EINVAL);
	free(o.fds);
	rfs_buf_free(&o.buf);
}

/* Every prefix of an image fails with an error, never reads past its end. */
static void test_truncated(void **state)
{
	struct rfs_ho_out o = {.memfd = -1};
	size_t cut;

	(void)state;
	rfs_ho_put_str(&o, "a string of some length");
	rfs_ho_put_u64(&o, 42);
	rfs_ho_put_bytes(&o, "xyz", 3);
	for (cut = 0; cut < o.buf.len; cut++) {
		struct rfs_ho_in in = {.p = o.buf.data, .len = cut};
		char *s = rfs_ho_get_str(&in);
		size_t n;

		rfs_ho_get_u64(&in);
		rfs_ho_get_bytes(&in, &n);
		assert_int_not_equal(in.err, 0);
		assert_true(in.pos <= cut);
		free(s);
	}
	rfs_buf_free(&o.buf);
}

/* A descriptor index beyond those received is an error, not a wild number. */
static void test_fd_out_of_range(void **state)
{
	struct rfs_ho_out o = {.memfd = -1};
	struct rfs_ho_in in = {0};

	(void)state;
	rfs_ho_put_fd(&o, 3);
	in.p = o.buf.data;
	in.len = o.buf.len;
	assert_int_equal(rfs_ho_get_fd(&in), -1);
	assert_int_equal(in.err, -EBADF);
	free(o.fds);
	rfs_buf_free(&o.buf);
}

#define NOBJ 3000

static void test_translation_model(void **state)
{
	static char objs[NOBJ][8];
	static uint64_t old[NOBJ];
	static bool live[NOBJ];
	uint64_t seed = test_seed(17);
	struct test_rng r = {seed};
	size_t i, step;

	(void)state;
	/* Before any map: values are the addresses themselves. */
	assert_ptr_equal(rfs_ho_ptr((uintptr_t)objs[0]), objs[0]);
	assert_int_equal(rfs_ho_id(objs[0]), (uintptr_t)objs[0]);
	for (i = 0; i < NOBJ; i++) {
		/* Old values: distinct, never 0, clustered so probes collide. */
		old[i] = 0x10000 + (i * 64) + (rng_below(&r, 4) << 3);
		rfs_ho_map(old[i], objs[i]);
		live[i] = true;
	}
	for (step = 0; step < 20000; step++) {
		i = (size_t)rng_below(&r, NOBJ);
		if (live[i] && rng_below(&r, 3) == 0) {
			rfs_ho_unmap(objs[i]);
			live[i] = false;
		} else if (!live[i] && rng_below(&r, 2) == 0) {
			rfs_ho_map(old[i], objs[i]);
			live[i] = true;
		}
		if (step % 1000)
			continue;
		for (i = 0; i < NOBJ; i++) {
			void *p = rfs_ho_ptr(old[i]);

			check_seed(live[i] ? p == objs[i] : p == (void *)(uintptr_t)old[i], seed,
				   "old value %zu maps wrong after %zu steps", i, step);
			check_seed(rfs_ho_id(objs[i]) ==
					   (live[i] ? old[i] : (uint64_t)(uintptr_t)objs[i]),
				   seed, "object %zu has the wrong value after %zu steps", i, step);
		}
	}
	for (i = 0; i < 64; i++) {
		void *p = rfs_ho_calloc(48);

		assert_non_null(p);
		assert_ptr_equal(rfs_ho_ptr((uintptr_t)p), p);
		free(p);
	}
	for (i = 0; i < NOBJ; i++)
		if (live[i])
			rfs_ho_unmap(objs[i]);
	assert_ptr_equal(rfs_ho_ptr(old[0]), (void *)(uintptr_t)old[0]);
}

static void test_tracked_handles(void **state)
{
	static int h[10];
	void **all;
	size_t n, i;

	(void)state;
	for (i = 0; i < 10; i++)
		rfs_ho_track(&h[i]);
	rfs_ho_untrack(&h[3]);
	rfs_ho_untrack(&h[7]);
	n = rfs_ho_handles(&all);
	assert_non_null(all);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++)
		assert_true(all[i] != &h[3] && all[i] != &h[7]);
	free(all);
	for (i = 0; i < 10; i++)
		rfs_ho_untrack(&h[i]);
	n = rfs_ho_handles(&all);
	assert_int_equal(n, 0);
	free(all);
}

/*
 * A writable open answered ESTALE just before a planned restart: the kernel's retry reaches
 * the new image, which must hand that thread a private inode (without it the retry is
 * refused again and the open fails: an rpc.mountd MNT whose record is never written).
 */
static void test_vgen_redirect_survives(void **state)
{
	static struct rfs_view v1, v2;
	struct rfs_vgens g1, g2;
	struct rfs_ho_out o = {.memfd = -1};
	struct rfs_ho_in in = {0};
	struct rfs_vgen *vg, *priv, *again;
	bool cache, nomem;

	(void)state;
	rfs_vgens_init(&g1);
	rfs_vgens_init(&g2);
	vg = rfs_vgen_get(&g1, &v1, 1, 10, 0);
	assert_non_null(vg);
	/* 4242's append was refused; 4343's r+ was refused and its retry's LOOKUP came. */
	assert_int_equal(rfs_vgen_open(&g1, vg, 1, O_WRONLY | O_APPEND, 4242, &cache), -ESTALE);
	assert_int_equal(rfs_vgen_open(&g1, vg, 1, O_RDWR, 4343, &cache), -ESTALE);
	priv = rfs_vgen_private(&g1, &v1, 4343, 10, 0, &nomem);
	assert_non_null(priv);

	assert_int_equal(rfs_vgens_save(&g1, &o), 0);
	in.p = o.buf.data;
	in.len = o.buf.len;
	assert_int_equal(rfs_vgens_restore(&g2, &v2, &in), 0);
	assert_int_equal(in.pos, in.len);

	again = rfs_vgen_private(&g2, &v2, 4242, 10, 0, &nomem);
	assert_non_null(again);
	assert_int_equal(again->owner, 4242);
	again = rfs_vgen_private(&g2, &v2, 4343, 10, 0, &nomem);
	assert_non_null(again);
	assert_true(rfs_ho_id(again) == rfs_ho_id(priv)); /* the inode the kernel was given */
	assert_null(rfs_vgen_private(&g2, &v2, 4444, 10, 0, &nomem));
	assert_false(nomem);

	rfs_vgens_destroy(&g2);
	rfs_vgens_destroy(&g1);
	rfs_buf_free(&o.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_fd_out_of_range),
		cmocka_unit_test(test_translation_model),
		cmocka_unit_test(test_tracked_handles),
		cmocka_unit_test(test_vgen_redirect_survives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
