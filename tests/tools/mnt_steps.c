// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mnt_steps — where the time of one rpc.mountd MNT goes, step by step, on a state directory.
 *
 *   mnt_steps DIR COUNT
 *
 * Repeats COUNT times the file system side of mountd's mountlist_add() for a new client, as
 * notes/nfs-utils.md §3 lists it: lock .rmtab.lock (F_SETLKW), fopen(rmtab, "r+") and read it
 * all with fgets and an ftell per line, fclose, fopen(rmtab, "a"), fseek to the end, one line
 * written, fclose (rmtabfs commits here), close the lock file. Prints the mean microseconds of
 * each step, and the same read without the per-line ftell (the lseek(2) glibc makes for it).
 * For the benchmark (scripts/bench.sh, phase "steps"): run on ext4 and on rmtabfs with the same
 * records, the difference per step is what rmtabfs costs there. Exit 0, or 1 on an I/O error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOCK, READ, CLOSE_R, APPEND, CLOSE_A, UNLOCK, READ_NOFTELL, NSTEPS };

static const char *const step_names[NSTEPS] = {
	"lock", "open+read", "close(r+)", "open(a)+write", "close(a)", "unlock", "read-no-ftell",
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Reads the whole file as mountd does; with_ftell adds its ftell() per line. 0 or -1. */
static int read_all(FILE *f, int with_ftell)
{
	char line[2048];

	while (fgets(line, sizeof(line), f))
		if (with_ftell && ftell(f) < 0)
			return -1;
	return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
	double sum[NSTEPS] = {0}, t[NSTEPS + 1];
	char lock_path[4096], rmtab_path[4096];
	long count, i;
	int s;

	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: mnt_steps DIR COUNT\n");
		return 2;
	}
	snprintf(lock_path, sizeof(lock_path), "%s/.rmtab.lock", argv[1]);
	snprintf(rmtab_path, sizeof(rmtab_path), "%s/rmtab", argv[1]);
	for (i = 0; i < count; i++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int lock_fd;
		FILE *f;

		t[0] = now_us();
		lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock_fd < 0 || fcntl(lock_fd, F_SETLKW, &fl) < 0)
			goto fail;
		t[1] = now_us();
		f = fopen(rmtab_path, "r+");
		if (!f || read_all(f, 1))
			goto fail;
		t[2] = now_us();
		fclose(f);
		t[3] = now_us();
		f = fopen(rmtab_path, "a");
		if (!f || fseek(f, 0, SEEK_END) < 0)
			goto fail;
		fprintf(f, "192.168.%ld.%ld:/steps/e%07ld:0x00000001\n", i / 256 % 256, i % 256, i);
		t[4] = now_us();
		if (fclose(f))
			goto fail;
		t[5] = now_us();
		close(lock_fd);
		t[6] = now_us();
		f = fopen(rmtab_path, "r");
		if (!f || read_all(f, 0))
			goto fail;
		fclose(f);
		t[7] = now_us();
		for (s = 0; s < NSTEPS; s++)
			sum[s] += t[s + 1] - t[s];
	}
	for (s = 0; s < NSTEPS; s++)
		printf("%s %.0f\n", step_names[s], sum[s] / (double)count);
	printf("mnt_total %.0f\n",
	       (sum[LOCK] + sum[READ] + sum[CLOSE_R] + sum[APPEND] + sum[CLOSE_A] + sum[UNLOCK]) /
		       (double)count);
	return 0;
fail:
	perror(rmtab_path);
	return 1;
}
