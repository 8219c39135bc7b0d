/*
 * The commit path of the core (fs/core.c) over a real state directory: committers in threads
 * share syncs and lose nothing (every record, every op in sequence order after a reopen);
 * durability=batch acknowledges without a sync and a clean close leaves everything on disk;
 * a batch run cut by a machine restart (its marker names another boot) starts a new
 * incarnation at the next open, above everything it had, while a process death on the same
 * boot does not.
 */
#include "test.h"

#include <pthread.h>

#include <rmtabfs/core.h>
#include <rmtabfs/incarnation.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>

#define THREADS	   6
#define PER_THREAD 30

struct worker {
	struct rfs_core *c;
	int id;
	int rc;
};

static void *commit_some(void *p)
{
	struct worker *w = p;

	for (int i = 0; i < PER_THREAD && !w->rc; i++) {
		char client[32], path[32];

		snprintf(client, sizeof(client), "10.0.%d.%d", w->id, i);
		snprintf(path, sizeof(path), "/export/t%d", w->id);
		w->rc = rfs_core_set(w->c, client, path, (uint32_t)i + 1, false);
	}
	return NULL;
}

static int check_order(void *p, const struct rfs_op *op)
{
	uint64_t *last = p;

	if (op->seq != *last + 1)
		return -EPROTO;
	*last = op->seq;
	return 0;
}

static void test_concurrent_commits(void **state)
{
	struct rfs_core c;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char dir[4096];
	uint64_t last, first, syncs;
	char client[32];
	size_t len;
	char *text;
	int dirfd;

	(void)state;
	test_mkdtemp(dir, sizeof(dir));
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	first = c.table.self_seq;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.c = &c, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, commit_some, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	syncs = rfs_journal_syncs(&c.journal);
	printf("# %d commits by %d threads: %llu journal fdatasync(s)\n", THREADS * PER_THREAD,
	       THREADS, (unsigned long long)syncs);
	assert_true(syncs >= 1 && syncs <= THREADS * PER_THREAD);
	assert_int_equal(c.table.nlive, THREADS * PER_THREAD);
	/* Acknowledged means published: everything can be shipped. */
	assert_int_equal(c.journal.ops, THREADS * PER_THREAD);
	assert_int_equal(c.journal.size, rfs_journal_end(&c.journal));
	assert_true(c.journal.last_seq == first + THREADS * PER_THREAD);
	rfs_core_close(&c);

	/* On disk: every op, in sequence order with no gap. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	text = test_read_file(dirfd, "journal", &len);
	last = first;
	assert_true(rfs_ops_scan(text, len, check_order, &last, NULL, NULL) > 0);
	assert_true(last == first + THREADS * PER_THREAD);
	free(text);
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	assert_int_equal(c.table.nlive, THREADS * PER_THREAD);
	for (int i = 0; i < THREADS; i++) {
		char path[32];
		struct rfs_record *r;

		/* Each thread's last record, with its count. */
		snprintf(path, sizeof(path), "/export/t%d", i);
		snprintf(client, sizeof(client), "10.0.%d.%d", i, PER_THREAD - 1);
		r = rfs_table_find(&c.table, client, strlen(client), path, strlen(path));
		assert_non_null(r);
		assert_int_equal(r->count, PER_THREAD);
	}
	rfs_core_close(&c);
	close(dirfd);
	test_rmtree(dir);
}

static void write_marker(const char *dir, const char *id)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dirfd >= 0);
	test_write_file(dirfd, "journal.batch", id, strlen(id));
	close(dirfd);
}

static bool marker_exists(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/journal.batch", dir);
	return access(p, F_OK) == 0;
}

static void test_batch(void **state)
{
	struct rfs_core c;
	struct rfs_incarnation inc;
	char dir[4096], id[64] = "";
	uint64_t last, floor0;
	int fd;

	(void)state;
	test_mkdtemp(dir, sizeof(dir));
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	assert_int_equal(rfs_core_anchor(&c), 0);
	assert_int_equal(rfs_core_set_durability(&c, 60000), 0);
	for (int i = 0; i < 5; i++) {
		char client[32];

		snprintf(client, sizeof(client), "10.1.0.%d", i);
		assert_int_equal(rfs_core_set(&c, client, "/b", 1, false), 0);
	}
	/* Acknowledged without a sync (the timer is a minute away), shippable at once. */
	assert_int_equal(rfs_journal_syncs(&c.journal), 0);
	assert_int_equal(c.journal.ops, 5);
	assert_true(marker_exists(dir));
	last = c.table.self_seq;
	rfs_core_incarnation(&c, &inc);
	floor0 = inc.floor;
	assert_int_equal(rfs_core_flush(&c), 0); /* a clean stop */
	assert_false(marker_exists(dir));
	rfs_core_close(&c);

	/* Same boot (the process died, the kernel kept the pages): nothing to do. */
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		assert_true(read(fd, id, sizeof(id) - 1) > 0);
		close(fd);
		write_marker(dir, id);
		assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
		rfs_core_incarnation(&c, &inc);
		assert_true(inc.floor == floor0 && inc.anchored);
		assert_true(c.table.self_seq == last);
		assert_false(marker_exists(dir));
		rfs_core_close(&c);
	}

	/* Another boot: the last changes may be on the store only; a new incarnation. */
	write_marker(dir, "00000000-0000-0000-0000-000000000000\n");
	rfs_log_set_level(LOG_ERR);
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_log_set_level(LOG_NOTICE);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor > last);
	assert_false(inc.anchored);
	assert_int_equal(c.table.nlive, 5);
	assert_false(marker_exists(dir));
	rfs_core_close(&c);
	/* Dealt with: the next open goes on in that incarnation. */
	assert_int_equal(rfs_core_open(&c, dir, "n1"), 0);
	rfs_core_incarnation(&c, &inc);
	assert_true(inc.floor > last);
	rfs_core_close(&c);
	test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_commits),
		cmocka_unit_test(test_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
