/*
 * store_watch: the wake-up hint of a store. Its bookkeeping (a grown log counts as found after
 * a hint or by the poll alone; a run of RFS_WATCH_MISS_WARN without any hint marks it failing
 * until a hint comes); rfs_store_watch_fd off, without a connection, and retried at most once a
 * second; the dir: backend's inotify hint in a temporary directory: another node's write,
 * create or rename into nodes/ makes the descriptor readable, this node's own files
 * (SELF.log, SELF.log.N, SELF.owner) do not, a node whose id starts like ours is not taken for
 * us, and nodes/ moved away breaks the hint, which then starts anew on the new nodes/.
 */
#include "test.h"

#include <poll.h>
#include <time.h>

#include <rmtabfs/store.h>
#include <rmtabfs/store_watch.h>

/* Is fd readable within ms? */
static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_bookkeeping(void **state)
{
	struct rfs_store s = {0};
	struct rfs_watch_mark a = {0}, b = {0};
	struct rfs_watch_stats st;
	int i;

	s.watch = rfs_watch_new("test", "advice");
	assert_non_null(s.watch);
	assert_false(readable(rfs_watch_fd(s.watch), 0));
	/* First looks: nothing to compare with. */
	rfs_watch_note_size(&s, &a, 100);
	rfs_watch_note_size(&s, &b, 7);
	rfs_watch_get_stats(s.watch, &st);
	assert_int_equal(st.after_hint + st.by_poll, 0);
	/* A hint, then both grown: both after a hint; the descriptor was readable. */
	rfs_watch_signal(s.watch);
	assert_true(readable(rfs_watch_fd(s.watch), 0));
	rfs_watch_note_size(&s, &a, 150);
	rfs_watch_note_size(&s, &b, 9);
	/* Unchanged: not counted. */
	rfs_watch_note_size(&s, &a, 150);
	rfs_watch_get_stats(s.watch, &st);
	assert_int_equal(st.hints, 1);
	assert_int_equal(st.after_hint, 2);
	assert_int_equal(st.by_poll, 0);
	/* Grown with no hint: by the poll; a run of them marks the hint failing. */
	for (i = 1; i < RFS_WATCH_MISS_WARN; i++)
		rfs_watch_note_size(&s, &a, 150 + i);
	rfs_watch_get_stats(s.watch, &st);
	assert_int_equal(st.by_poll, RFS_WATCH_MISS_WARN - 1);
	assert_false(st.failing);
	rfs_watch_note_size(&s, &b, 10);
	rfs_watch_get_stats(s.watch, &st);
	assert_true(st.failing);
	/* A hint ends it, and a shorter run does not start it again. */
	rfs_watch_signal(s.watch);
	rfs_watch_note_size(&s, &a, 400);
	rfs_watch_get_stats(s.watch, &st);
	assert_false(st.failing);
	assert_int_equal(st.after_hint, 3);
	for (i = 1; i < RFS_WATCH_MISS_WARN; i++)
		rfs_watch_note_size(&s, &a, 400 + i);
	rfs_watch_get_stats(s.watch, &st);
	assert_false(st.failing);
	/* A file last looked at under another hint is not compared. */
	rfs_watch_free(s.watch);
	s.watch = rfs_watch_new("test 2", "advice");
	assert_non_null(s.watch);
	rfs_watch_note_size(&s, &a, 999);
	rfs_watch_get_stats(s.watch, &st);
	assert_int_equal(st.after_hint + st.by_poll, 0);
	rfs_watch_free(s.watch);
	/* Without a hint nothing is recorded. */
	s.watch = NULL;
	rfs_watch_note_size(&s, &a, 1);
	assert_int_equal(a.watch_id, 0);
}

struct fixture {
	char dir[4096];
	struct rfs_store s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rfs_store_spec spec;
	char text[4200], err[256];

	assert_non_null(f);
	test_mkdtemp(f->dir, sizeof(f->dir));
	snprintf(text, sizeof(text), "dir:%s/store", f->dir);
	assert_int_equal(rfs_store_spec_parse(text, &spec, err, sizeof(err)), 0);
	assert_int_equal(rfs_store_init(&f->s, &spec), 0);
	f->s.node = "n1";
	f->s.watch_on = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->s.ops->disconnect(&f->s, false);
	assert_null(f->s.watch);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* Appends to nodes/name through the store (as a node writes its log). */
static void store_append(struct rfs_store *s, const char *name)
{
	struct rfs_sfile *f;
	char rel[256];
	off_t size;

	snprintf(rel, sizeof(rel), "nodes/%s", name);
	assert_int_equal(s->ops->open(s, rel, O_RDWR | O_CREAT, &f), 0);
	assert_int_equal(s->ops->size(f, &size), 0);
	assert_int_equal(s->ops->pwrite(f, "op\n", 3, size), 3);
	s->ops->close(f);
}

/* A hint for each of these, and none for our own files. */
static void expect_hints(struct fixture *f, int fd)
{
	static const char *const others[] = {"n2.log",	"n2.log.3",	"n1.log.log",
					     "n1x.log", "n1.log.2.log", "n2.owner"};
	static const char *const own[] = {"n1.log", "n1.log.1", "n1.log.17", "n1.owner"};
	char from[4200], to[4200];
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		store_append(&f->s, own[i]);
	assert_false(readable(fd, 300));
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		store_append(&f->s, others[i]);
		if (!readable(fd, 5000))
			fail_msg("no hint for a write to nodes/%s", others[i]);
		/* Its create, write and close may come as several hints: let them all come. */
		usleep(100 * 1000);
		rfs_store_watch_clear(&f->s);
		/* Our own writes in between wake nobody. */
		store_append(&f->s, own[i % 4]);
		if (readable(fd, 100))
			fail_msg("a hint for our own nodes/%s", own[i % 4]);
	}
	/* A file renamed into nodes/ (as a copy made elsewhere). */
	snprintf(from, sizeof(from), "%s/store/n3.tmp", f->dir);
	snprintf(to, sizeof(to), "%s/store/nodes/n3.log", f->dir);
	test_write_file(AT_FDCWD, from, "x\n", 2);
	assert_int_equal(rename(from, to), 0);
	assert_true(readable(fd, 5000));
	usleep(100 * 1000);
	rfs_store_watch_clear(&f->s);
	assert_false(readable(fd, 0));
}

static void test_dir_hint(void **state)
{
	struct fixture *f = *state;
	char old[4200], cur[4200];
	int fd, fd2;

	/* Not connected: none. */
	assert_int_equal(rfs_store_watch_fd(&f->s), -1);
	assert_int_equal(f->s.ops->connect(&f->s), 0);
	/* No nodes/ yet: none, and no new try within a second. */
	assert_int_equal(rfs_store_watch_fd(&f->s), -1);
	assert_int_equal(f->s.ops->mkdir(&f->s, "nodes"), 0);
	assert_int_equal(rfs_store_watch_fd(&f->s), -1);
	usleep(1100 * 1000);
	fd = rfs_store_watch_fd(&f->s);
	assert_true(fd >= 0);
	assert_int_equal(rfs_store_watch_fd(&f->s), fd); /* the same while it works */
	expect_hints(f, fd);

	/* nodes/ moved away: a hint (look now), the watch broken, then watched anew. */
	snprintf(cur, sizeof(cur), "%s/store/nodes", f->dir);
	snprintf(old, sizeof(old), "%s/store/nodes.old", f->dir);
	assert_int_equal(rename(cur, old), 0);
	assert_true(readable(fd, 5000));
	assert_int_equal(mkdir(cur, 0755), 0);
	f->s.watch_tried = 0; /* the one-second pause is tested above */
	fd2 = rfs_store_watch_fd(&f->s);
	assert_true(fd2 >= 0);
	assert_false(readable(fd2, 0));
	expect_hints(f, fd2);
}

static void test_off(void **state)
{
	struct fixture *f = *state;

	f->s.watch_on = false;
	assert_int_equal(f->s.ops->connect(&f->s), 0);
	assert_int_equal(f->s.ops->mkdir(&f->s, "nodes"), 0);
	assert_int_equal(rfs_store_watch_fd(&f->s), -1);
	assert_null(f->s.watch);
	rfs_store_watch_clear(&f->s); /* harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bookkeeping),
		cmocka_unit_test_setup_teardown(test_dir_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
	};

	return cmocka_run_group_tests_name("store_watch", tests, NULL, NULL);
}
