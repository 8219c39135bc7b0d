/*
 * Shared helpers of the unit tests: the cmocka includes, a fixed-seed PRNG (failures
 * reproduce; RFS_TEST_SEED overrides the seed), TAP-safe notes, temporary directories and
 * whole-file helpers. Everything is static inline so each test program takes what it uses.
 */
#ifndef RMTABFS_TEST_H
#define RMTABFS_TEST_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * meson reads stdout as TAP: a free-form line there fails the run, so notes are TAP
 * comments. Failure messages (fail_msg) go to stderr and are shown by --print-errorlogs.
 */
#define test_note(...)                                                                             \
	do {                                                                                       \
		printf("# ");                                                                      \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
	} while (0)

/* An assertion that names the seed, so a randomized failure can be replayed. */
#define check_seed(cond, seed, ...)                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			test_note("failed: %s (replay with RFS_TEST_SEED=%llu)", #cond,            \
				  (unsigned long long)(seed));                                     \
			fail_msg(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

/* splitmix64: tiny, good enough, and the same sequence on every machine. */
struct test_rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct test_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for test purposes; n > 0. */
static inline uint64_t rng_below(struct test_rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

/* The base seed: fixed, unless RFS_TEST_SEED says otherwise. */
static inline uint64_t test_seed(uint64_t fixed)
{
	const char *s = getenv("RFS_TEST_SEED");

	return s && *s ? strtoull(s, NULL, 0) : fixed;
}

/* Fisher-Yates shuffle of n elements of size sz. */
static inline void rng_shuffle(struct test_rng *r, void *base, size_t n, size_t sz)
{
	char *b = base, tmp[256];
	size_t i;

	assert_true(sz <= sizeof(tmp));
	for (i = n; i > 1; i--) {
		size_t j = (size_t)rng_below(r, i);

		memcpy(tmp, b + (i - 1) * sz, sz);
		memcpy(b + (i - 1) * sz, b + j * sz, sz);
		memcpy(b + j * sz, tmp, sz);
	}
}

/* A fresh directory under $TMPDIR (or /tmp); path must hold PATH_MAX bytes. */
static inline void test_mkdtemp(char *path, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(path, cap, "%s/rfs-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(path));
}

static inline int test_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p) < 0 ? -1 : 0;
}

static inline void test_rmtree(const char *path)
{
	assert_int_equal(nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Replaces dirfd/name with exactly data[0..len). */
static inline void test_write_file(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Reads dirfd/name into a malloc'ed, NUL-terminated buffer. */
static inline char *test_read_file(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static inline off_t test_file_size(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, 0), 0);
	return st.st_size;
}

/* A copy of exactly len bytes, so that the sanitizers see any read past the end. */
static inline char *test_memdup(const void *p, size_t len)
{
	char *c = malloc(len ? len : 1);

	assert_non_null(c);
	if (len)
		memcpy(c, p, len);
	return c;
}

#endif
