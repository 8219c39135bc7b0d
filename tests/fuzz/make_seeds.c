/*
 * Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small,
 * realistic inputs - rmtab lines as rpc.mountd writes them (IPv6 ";;1" clients included),
 * gNFS files, op lines made by rfs_op_encode, journals with torn and damaged lines - plus a
 * few near misses. Not a fuzz target: built and run by `scripts/fuzz.sh --make-seeds`, whose
 * output is committed; rerun it when a format changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/oplog.h>
#include <rmtabfs/rmtab_fmt.h>

static const char *root;

static void die(const char *what)
{
	fprintf(stderr, "make_seeds: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

static void puts_(const char *target, const char *name, const char *text)
{
	put(target, name, text, strlen(text));
}

/* A seed of a target whose first byte is a mode. */
static void put_mode(const char *target, const char *name, unsigned char mode, const char *text,
		     size_t len)
{
	char *b = malloc(len + 1);

	if (!b)
		die("malloc");
	b[0] = (char)mode;
	memcpy(b + 1, text, len);
	put(target, name, b, len + 1);
	free(b);
}

static void put_mode_s(const char *target, const char *name, unsigned char mode, const char *text)
{
	put_mode(target, name, mode, text, strlen(text));
}

static void op(struct rfs_buf *out, uint64_t seq, uint64_t time, const char *node, uint32_t count,
	       uint64_t born, const char *origin, const char *client, const char *path)
{
	struct rfs_op o = {.seq = seq,
			   .time = time,
			   .node = node,
			   .count = count,
			   .born = born,
			   .origin = origin,
			   .client = client,
			   .client_len = strlen(client),
			   .path = path,
			   .path_len = strlen(path)};

	if (rfs_op_encode(out, &o))
		die("rfs_op_encode");
}

static void rmtab_seeds(void)
{
	const char *t = "fuzz_rmtab";
	char line[2048], client[RFS_CLIENT_MAX + 1], path[RFS_PATH_MAX + 1];
	char *end;

	puts_(t, "mountd",
	      "192.168.1.10:/export/home:0x00000001\n"
	      "10.0.0.5:/srv/nfs:0x00000003\n"
	      "client.example.com:/export/home:0x00000002\n");
	puts_(t, "ipv6",
	      "fe80;;1:/export:0x00000001\n;;1:/data:0x00000002\n"
	      "2001;db8;;5:/srv/nfs4:0x00000001\n;;ffff;192.168.1.1:/x:0x00000001\n");
	puts_(t, "counts",
	      "host1:/a:12\nhost2:/b:017\nhost3:/c\nhost4:/d:0X1F\nh5:/e:0xffffffff\n");
	puts_(t, "colon-path", "c:/a:b:0x00000001\nc:/a:b\nc:/x::0x00000002\nc:/p:q:7\n");
	puts_(t, "torn", "h:/p:0x00000001\nh2:/q:0x0000");
	puts_(t, "no-newline", "h:/p:0x00000001");
	puts_(t, "bad-count", "c:/p:0x1zz\n");
	puts_(t, "count-zero", "c:/p:0x00000000\n");
	puts_(t, "count-big", "c:/p:4294967296\n");
	puts_(t, "empty-line", "a:/x:0x00000001\n\nb:/y:0x00000001\n");
	puts_(t, "no-colon", "a:/x:0x00000001\njustaname\n");
	puts_(t, "relative", "a:export:0x00000001\n");
	puts_(t, "nul", "a:/x\0y:0x00000001\n");
	memset(client, 'c', RFS_CLIENT_MAX);
	memset(path, 'p', RFS_PATH_MAX);
	path[0] = '/';
	end = rt_render_line(line, client, RFS_CLIENT_MAX, path, RFS_PATH_MAX, 1);
	put(t, "limits", line, (size_t)(end - line));
	/* A line longer than any rendered line: refused before it is even split. */
	memset(line, 'p', 1400);
	memcpy(line, "c:/", 3);
	line[1400] = '\n';
	put(t, "line-too-long", line, 1401);
	/* One byte over the client limit. */
	memset(line, 'c', RFS_CLIENT_MAX + 1);
	memcpy(line + RFS_CLIENT_MAX + 1, ":/p:0x00000001\n", 15);
	put(t, "client-too-long", line, RFS_CLIENT_MAX + 1 + 15);
}

static void gnfs_seeds(void)
{
	const char *t = "fuzz_gnfs";

	puts_(t, "gnfs",
	      "hostname-0=192.168.1.10\nmountpoint-0=/export/home\n"
	      "hostname-1=10.0.0.5\nmountpoint-1=/srv/nfs\n");
	puts_(t, "ipv6",
	      "hostname-0=fe80::1\nmountpoint-0=/vol0\nhostname-1=::1\n"
	      "mountpoint-1=/vol0/sub\n");
	puts_(t, "order-dups",
	      "mountpoint-1=/b\n\nhostname-1=h2\nhostname-0=h1\n"
	      "mountpoint-0=/a\nhostname-0=dup\n");
	puts_(t, "gap", "hostname-0=a\nmountpoint-0=/a\nhostname-2=c\nmountpoint-2=/c\n");
	puts_(t, "half", "hostname-0=a\nmountpoint-0=/a\nhostname-1=b\n");
	puts_(t, "no-newline", "hostname-0=a\nmountpoint-0=/a");
	puts_(t, "odd-keys", "hostname-00=a\nmountpoint-0==x\n");
	puts_(t, "semicolon", "hostname-0=a;b\nmountpoint-0=/a\n");
	puts_(t, "blank", "\n\n");
}

static void oplog_seeds(void)
{
	const char *t = "fuzz_oplog";
	struct rfs_buf b = RFS_BUF_INIT;
	char node64[RFS_NODE_MAX + 1];

	op(&b, 1, 1700000000123456789ull, "nfs1", 1, 1700000000123456789ull, "nfs1", "192.168.1.10",
	   "/export/home");
	put_mode(t, "one", 0, b.data, b.len);
	op(&b, 2, 1700000000223456789ull, "nfs1", 0, 1700000000123456789ull, "nfs1", "192.168.1.10",
	   "/export/home");
	op(&b, 3, 1700000000323456789ull, "nfs-2.example", 2, 1700000000000000000ull, "nfs1",
	   "fe80::1", "/srv/with space/%percent");
	put_mode(t, "three", 0, b.data, b.len);
	put_mode(t, "three-repair", 1, b.data, b.len);
	put_mode(t, "three-damage", 0x20, b.data, b.len);
	rfs_buf_resize(&b, 0);
	memset(node64, 'n', RFS_NODE_MAX);
	node64[RFS_NODE_MAX] = '\0';
	op(&b, UINT64_MAX, UINT64_MAX, node64, 0xffffffffu, UINT64_MAX, node64, "c\tl\x7f",
	   "/\x01\x1f\xff");
	put_mode(t, "extremes", 0, b.data, b.len);
	put_mode(t, "torn", 0, b.data, b.len - 5);
	b.data[10] ^= 1;
	put_mode(t, "bad-crc", 0, b.data, b.len);
	/* Near misses for the repair mode: fields the decoder must refuse. */
	put_mode_s(t, "seq-zero", 1, "s 0 5 n1 1 5 n1 c /p 00000000\n");
	put_mode_s(t, "semicolon", 1, "s 1 5 n1 1 5 n1 c%3Bd /p 00000000\n");
	put_mode_s(t, "bad-escape", 1, "s 1 5 n1 1 5 n1 c%4 /p 00000000\n");
	put_mode_s(t, "node-too-long", 1,
		   "s 1 5 nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn 1 5 n1 "
		   "c /p 00000000\n");
	rfs_buf_free(&b);
}

static void journal_seeds(void)
{
	const char *t = "fuzz_journal";
	struct rfs_buf b = RFS_BUF_INIT;
	size_t good;

	op(&b, 1, 1000, "n1", 1, 1000, "n1", "192.168.1.10", "/export/home");
	op(&b, 2, 1001, "n1", 1, 1001, "n1", "fe80::1", "/export");
	op(&b, 3, 1002, "n1", 2, 1000, "n1", "192.168.1.10", "/export/home");
	op(&b, 4, 1003, "n1", 0, 1001, "n1", "fe80::1", "/export");
	put_mode(t, "clean", 0, b.data, b.len);
	good = b.len;
	op(&b, 5, 1004, "n1", 1, 1004, "n1", "10.0.0.5", "/srv/nfs");
	put_mode(t, "torn", 0, b.data, b.len - 7);
	b.data[good + 3] ^= 0x10; /* damage line 5 */
	op(&b, 6, 1005, "n1", 3, 1005, "n1", "10.0.0.6", "/srv/nfs");
	put_mode(t, "damaged-middle", 0, b.data, b.len);
	put_mode(t, "damaged-repair", 1, b.data, b.len);
	rfs_buf_resize(&b, good);
	op(&b, 5, 1004, "n2", 1, 1004, "n2", "10.0.0.5", "/srv/nfs");
	put_mode(t, "foreign", 0, b.data, b.len);
	rfs_buf_resize(&b, good);
	/* Filler at position 0x0100: 1 KiB of op lines or zeros, 28 KiB of op lines. */
	{
		char *f = malloc(good + 2);

		if (!f)
			die("malloc");
		f[0] = 0x00;
		f[1] = (char)0x81;
		memcpy(f + 2, b.data, good);
		put_mode(t, "filler-lines", 0xc1, f, good + 2);
		put_mode(t, "filler-lines-28k", 0xc1 | 27 << 1, f, good + 2);
		f[1] = 0x01;
		put_mode(t, "filler-zeros", 0xc1, f, good + 2);
		free(f);
	}
	put_mode(t, "empty", 0, "", 0);
	rfs_buf_free(&b);
}

static void diff_seeds(void)
{
	const char *t = "fuzz_diff";
	static const char base[] = "192.168.1.10:/export/home:0x00000001\n"
				   "fe80;;1:/export:0x00000001\n"
				   "10.0.0.5:/srv/nfs:0x00000002\n";
	char buf[4096];
	int n;

#define SEED(name, ...)                                                                            \
	do {                                                                                       \
		n = snprintf(buf, sizeof(buf), __VA_ARGS__);                                       \
		put(t, name, buf, (size_t)n);                                                      \
	} while (0)
	/* The NUL separates BASE from NEW: write it with a placeholder, then patch. */
#define SEEDZ(name, b, nw)                                                                         \
	do {                                                                                       \
		size_t bl = strlen(b), nl = strlen(nw);                                            \
		memcpy(buf, b, bl);                                                                \
		buf[bl] = '\0';                                                                    \
		memcpy(buf + bl + 1, nw, nl);                                                      \
		put(t, name, buf, bl + 1 + nl);                                                    \
	} while (0)
	SEEDZ("bump-in-place", base,
	      "192.168.1.10:/export/home:0x00000002\nfe80;;1:/export:0x00000001\n"
	      "10.0.0.5:/srv/nfs:0x00000002\n");
	SEEDZ("append", base,
	      "192.168.1.10:/export/home:0x00000001\nfe80;;1:/export:0x00000001\n"
	      "10.0.0.5:/srv/nfs:0x00000002\n10.0.0.9:/srv/nfs\n");
	SEEDZ("echo-existing", base,
	      "192.168.1.10:/export/home:0x00000001\nfe80;;1:/export:0x00000001\n"
	      "10.0.0.5:/srv/nfs:0x00000002\n192.168.1.10:/export/home\n");
	SEEDZ("remove-middle", base,
	      "192.168.1.10:/export/home:0x00000001\n10.0.0.5:/srv/nfs:0x00000002\n");
	SEEDZ("truncate", base, "");
	SEEDZ("bad-line", base,
	      "192.168.1.10:/export/home:0x00000001\nfe80;;1:/export:0x0000000g\n"
	      "10.0.0.5:/srv/nfs:0x00000002\n");
	SEEDZ("raw-base", "a:/x\na:/x:2\nb:/y:0x00000001\nc:/z", "a:/x\nb:/y:0x00000001\nc:/z:5");
	SEEDZ("reorder", base,
	      "10.0.0.5:/srv/nfs:0x00000002\nfe80;;1:/export:0x00000001\n"
	      "192.168.1.10:/export/home:0x00000001\n");
	SEED("no-base", "h:/p:0x00000001\n;;1:/q\n");
	SEEDZ("saturate", "c:/p:0xffffffff\nd:/q:0x00000001\n",
	      "c:/p:0xffffffff\nd:/q:0x00000001\nc:/p:1\n");
#undef SEED
#undef SEEDZ
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		die(root);
	rmtab_seeds();
	gnfs_seeds();
	oplog_seeds();
	journal_seeds();
	diff_seeds();
	return 0;
}
