/*
 * view_race: readers of an rmtab view against O_APPEND writers on the same mount.
 *
 *   view_race FILE SECONDS READERS WRITERS
 *
 * Each writer opens FILE as fopen("a") does (O_WRONLY|O_CREAT|O_APPEND), appends one new
 * record and closes it (a commit), again and again; now and then one opens it "r+"
 * (O_RDWR) instead and writes nothing, as rpc.mountd's read of the list does. Each reader
 * opens FILE read-only, fstats it, reads st_size + 1 bytes (as Python's read() and
 * stdio do), then the rest to end of file, and checks that what it got is exactly one
 * committed generation: no NUL byte (the page-cache padding past a short READ), whole
 * lines only, each one a well-formed record, no line twice, and every line an earlier
 * read of the same reader saw (records only come, so a missing one means a mixed or
 * stale read). With more than one reader, the first maps the file privately instead of
 * reading it (st_size bytes, the same checks). Exit status 1 with one line per bad read (at most 20
 * printed), else 0; prints "reads N bad B writes W" either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static atomic_int stop;
static atomic_ulong nreads, nbad, nwrites, nwerr;
static _Thread_local int mapping;

static void bad(const char *what, size_t got, size_t size)
{
	if (atomic_fetch_add(&nbad, 1) < 20)
		fprintf(stderr, "bad read: %s (%zu bytes, fstat said %zu)\n", what, got, size);
}

/* The records seen so far by one reader: a sorted array of line hashes. */
struct seen {
	unsigned long long *h;
	size_t n;
};

static unsigned long long hash(const char *s, size_t n)
{
	unsigned long long h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static int well_formed(const char *l, size_t n)
{
	const char *c1 = memchr(l, ':', n), *c2;

	if (!c1 || c1 == l || c1[1] != '/')
		return 0;
	c2 = memrchr(l, ':', n);
	return c2 > c1 && (size_t)(l + n - c2) == 11 && !memcmp(c2, ":0x", 3);
}

static void check(struct seen *s, const char *buf, size_t len, size_t size)
{
	unsigned long long *h;
	size_t n = 0, i, j;
	const char *p = buf, *e;

	if (memchr(buf, '\0', len)) {
		const char *z = memchr(buf, '\0', len);
		char what[96];

		snprintf(what, sizeof(what), "a NUL byte at %zu, %s", (size_t)(z - buf),
			 mapping ? "mapped" : "read");
		bad(what, len, size);
		return;
	}
	if (len && buf[len - 1] != '\n') {
		bad("not whole lines", len, size);
		return;
	}
	h = malloc((len / 8 + 1) * sizeof(*h));
	if (!h)
		abort();
	for (; p < buf + len; p = e + 1) {
		e = memchr(p, '\n', (size_t)(buf + len - p));
		if (!well_formed(p, (size_t)(e - p))) {
			bad("a malformed line", len, size);
			free(h);
			return;
		}
		h[n++] = hash(p, (size_t)(e - p));
	}
	qsort(h, n, sizeof(*h), cmp);
	for (i = 1; i < n; i++)
		if (h[i] == h[i - 1]) {
			bad("a line twice", len, size);
			free(h);
			return;
		}
	for (i = j = 0; i < s->n; i++) {
		while (j < n && h[j] < s->h[i])
			j++;
		if (j == n || h[j] != s->h[i]) {
			bad("a line an earlier read had is missing", len, size);
			free(h);
			return;
		}
	}
	free(s->h);
	s->h = h;
	s->n = n;
}

/*
 * Reader 0 maps the file privately instead (st_size bytes): the kernel maps even a direct
 * I/O handle through the inode's pages, filled by that handle's READs, which the readers
 * through the pages then read.
 */
static void map_once(struct seen *s)
{
	struct stat st;
	char *m;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		bad(strerror(errno), 0, 0);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!st.st_size) {
		close(fd);
		return;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		bad(strerror(errno), 0, (size_t)st.st_size);
		return;
	}
	atomic_fetch_add(&nreads, 1);
	check(s, m, (size_t)st.st_size, (size_t)st.st_size);
	munmap(m, (size_t)st.st_size);
}

static void *reader(void *arg)
{
	struct seen s = {0};
	size_t cap = 1 << 16;
	char *buf = malloc(cap);

	mapping = arg != NULL;
	while (arg && !stop)
		map_once(&s);
	while (buf && !stop) {
		struct stat st;
		size_t len = 0, size;
		ssize_t r;
		int fd = open(path, O_RDONLY);

		if (fd < 0 || fstat(fd, &st)) {
			bad(strerror(errno), 0, 0);
			if (fd >= 0)
				close(fd);
			continue;
		}
		size = (size_t)st.st_size;
		if (size + 2 > cap) {
			cap = (size + 2) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = read(fd, buf, size + 1);
		while (r > 0) {
			len += (size_t)r;
			if (len + 1 >= cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
			r = read(fd, buf + len, cap - len - 1);
		}
		close(fd);
		if (r < 0) {
			bad(strerror(errno), len, size);
			continue;
		}
		atomic_fetch_add(&nreads, 1);
		check(&s, buf, len, size);
	}
	free(buf);
	free(s.h);
	return NULL;
}

static void *writer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, k = 0;
	char line[128];

	while (!stop) {
		int n, fd;

		if (k % 7 == 3) {
			/* rpc.mountd's "r+" look-up of the list: writable, nothing written. */
			fd = open(path, O_RDWR);
			if (fd < 0 || close(fd)) {
				atomic_fetch_add(&nwerr, 1);
				fprintf(stderr, "r+ open: %s\n", strerror(errno));
			}
			k++;
			continue;
		}
		n = snprintf(line, sizeof(line), "10.99.%u.%u:/export/race/w%u/r%u:0x00000001\n",
			     id % 256, k % 256, id, k);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd)) {
			atomic_fetch_add(&nwerr, 1);
			fprintf(stderr, "append: %s\n", strerror(errno));
		} else {
			atomic_fetch_add(&nwrites, 1);
		}
		k++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[64];
	int secs, nr, nw, i;

	if (argc != 5) {
		fprintf(stderr, "usage: view_race FILE SECONDS READERS WRITERS\n");
		return 2;
	}
	path = argv[1];
	secs = atoi(argv[2]);
	nr = atoi(argv[3]);
	nw = atoi(argv[4]);
	if (secs < 1 || nr < 1 || nw < 0 || nr + nw > 64) {
		fprintf(stderr, "view_race: bad arguments\n");
		return 2;
	}
	for (i = 0; i < nr; i++)
		pthread_create(&t[i], NULL, reader, i == 0 && nr > 1 ? (void *)1 : NULL);
	for (i = 0; i < nw; i++)
		pthread_create(&t[nr + i], NULL, writer, (void *)(uintptr_t)i);
	sleep((unsigned)secs);
	stop = 1;
	for (i = 0; i < nr + nw; i++)
		pthread_join(t[i], NULL);
	printf("reads %lu bad %lu writes %lu write-errors %lu\n", nreads, nbad, nwrites, nwerr);
	return nbad || nwerr ? 1 : 0;
}
