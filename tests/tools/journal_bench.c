// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal_bench — what one commit of the local journal costs, side by side.
 *
 *   journal_bench DIR [COUNT [THREADS]]
 *
 * In DIR (a fresh directory on the file system of the state directory), COUNT commits of one
 * op line (~110 bytes, an MNT's size) each, timed per commit:
 *   append    the previous layout: pwrite at the end of a growing file, then fdatasync (which
 *             also commits the size change);
 *   in-place  rfs_journal_append: overwrite in a preallocated zeroed segment, then fdatasync;
 *   group     THREADS committers at once as the daemon commits (write under a commit lock,
 *             sync outside it): commits per second and fdatasyncs per commit, against the same
 *             threads each doing its own in-place commit under the lock (no sharing).
 * Prints mean and p50/p99 microseconds and the ratios. Numbers, never assertions.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/journal.h>
#include <rmtabfs/log.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void line(struct rfs_buf *b, uint64_t seq)
{
	char client[64], path[96];
	struct rfs_op op = {.seq = seq,
			    .time = 1700000000000000000ull + seq,
			    .born = seq,
			    .count = 1,
			    .node = "bench",
			    .origin = "bench"};

	snprintf(client, sizeof(client), "10.%u.%u.%u", (unsigned)(seq >> 16) & 255,
		 (unsigned)(seq >> 8) & 255, (unsigned)seq & 255);
	snprintf(path, sizeof(path), "/export/a/d%05llu", (unsigned long long)seq);
	op.client = client;
	op.client_len = strlen(client);
	op.path = path;
	op.path_len = strlen(path);
	b->len = 0;
	if (rfs_op_encode(b, &op)) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n, double *mean_out)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%-10s %8.1f %8.1f %8.1f\n", name, sum / n, t[n / 2], t[(int)(n * 0.99)]);
	*mean_out = sum / n;
}

static void bench_append(int dirfd, int n, double *t)
{
	struct rfs_buf b = RFS_BUF_INIT;
	int fd = openat(dirfd, "append", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	off_t end = 0;

	if (fd < 0 || fsync(dirfd) < 0) {
		perror("append");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		double t0;

		line(&b, (uint64_t)i + 1);
		t0 = now_us();
		if (pwrite(fd, b.data, b.len, end) != (ssize_t)b.len || fdatasync(fd) < 0) {
			perror("append");
			exit(1);
		}
		t[i] = now_us() - t0;
		end += (off_t)b.len;
	}
	close(fd);
	rfs_buf_free(&b);
}

static void bench_in_place(struct rfs_journal *j, int n, double *t, uint64_t *seq)
{
	struct rfs_buf b = RFS_BUF_INIT;

	for (int i = 0; i < n; i++) {
		double t0;

		line(&b, ++*seq);
		t0 = now_us();
		if (rfs_journal_append(j, b.data, b.len, *seq, 1)) {
			fprintf(stderr, "rfs_journal_append failed\n");
			exit(1);
		}
		t[i] = now_us() - t0;
	}
	rfs_buf_free(&b);
}

struct group {
	struct rfs_journal *j;
	pthread_mutex_t lock;
	uint64_t seq;
	int per_thread;
	int share; /* 1: sync outside the lock (group commit); 0: append under it */
};

static void *committer(void *p)
{
	struct group *g = p;
	struct rfs_buf b = RFS_BUF_INIT;

	for (int i = 0; i < g->per_thread; i++) {
		uint64_t lsn = 0;
		int rc;

		pthread_mutex_lock(&g->lock);
		line(&b, ++g->seq);
		if (g->share) {
			rc = rfs_journal_write(g->j, b.data, b.len, g->seq, 1, &lsn);
			pthread_mutex_unlock(&g->lock);
			if (!rc)
				rc = rfs_journal_sync(g->j, lsn);
			if (!rc) {
				pthread_mutex_lock(&g->lock);
				rfs_journal_publish(g->j);
				pthread_mutex_unlock(&g->lock);
			}
		} else {
			rc = rfs_journal_append(g->j, b.data, b.len, g->seq, 1);
			pthread_mutex_unlock(&g->lock);
		}
		if (rc) {
			fprintf(stderr, "commit failed: %s\n", strerror(-rc));
			exit(1);
		}
	}
	rfs_buf_free(&b);
	return NULL;
}

static double bench_group(struct rfs_journal *j, uint64_t *seq, int threads, int n, int share,
			  uint64_t *syncs)
{
	struct group g = {.j = j, .seq = *seq, .per_thread = n / threads, .share = share};
	pthread_t *t = calloc((size_t)threads, sizeof(*t));
	uint64_t s0 = rfs_journal_syncs(j);
	double t0;

	pthread_mutex_init(&g.lock, NULL);
	t0 = now_us();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, committer, &g);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	t0 = now_us() - t0;
	*syncs = rfs_journal_syncs(j) - s0;
	*seq = g.seq;
	pthread_mutex_destroy(&g.lock);
	free(t);
	return (double)g.per_thread * threads / (t0 / 1e6);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 2000, threads = argc > 3 ? atoi(argv[3]) : 8;
	double *t, m_append, m_place, rate_own, rate_shared;
	struct rfs_journal j;
	uint64_t seq = 0, syncs_own, syncs_shared;
	int dirfd;

	if (argc < 2 || n < 10 || threads < 1) {
		fprintf(stderr, "usage: journal_bench DIR [COUNT [THREADS]]\n");
		return 2;
	}
	rfs_log_set_level(LOG_ERR);
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t = calloc((size_t)n, sizeof(*t));
	if (dirfd < 0 || !t || rfs_journal_open(&j, dirfd, "bench", NULL, NULL)) {
		perror(argv[1]);
		return 1;
	}
	printf("one commit of one op line, %d times, microseconds\n", n);
	printf("%-10s %8s %8s %8s\n", "layout", "mean", "p50", "p99");
	bench_append(dirfd, n, t);
	report("append", t, n, &m_append);
	bench_in_place(&j, n, t, &seq);
	report("in-place", t, n, &m_place);
	printf("in-place/append mean: %.2f\n", m_place / m_append);
	rate_own = bench_group(&j, &seq, threads, n, 0, &syncs_own);
	rate_shared = bench_group(&j, &seq, threads, n, 1, &syncs_shared);
	printf("%d threads, %d commits: each its own sync %.0f commits/s (%.2f syncs/commit); "
	       "group commit %.0f commits/s (%.2f syncs/commit); ratio %.2f\n",
	       threads, n / threads * threads, rate_own,
	       (double)syncs_own / (n / threads * threads), rate_shared,
	       (double)syncs_shared / (n / threads * threads), rate_shared / rate_own);
	rfs_journal_close(&j);
	free(t);
	return 0;
}
