/*
 * Fuzz target: journal replay (rfs_journal_open, fs/journal.c) of a file holding the fuzz
 * input, each replayed op applied to an rfs_table (fs/table.c) as the daemon does.
 *
 * Input: byte 0 is a mode, the rest the journal text. Mode bit 0 "repair": the checksum
 * field of every complete line that has one is rewritten to the right CRC-32C first, so
 * mutated lines still reach the field parsers and the table. Mode bits 6 and 7 both set
 * "filler": a block is inserted into the text at the position given by bytes 1-2 (15 bits);
 * mode bits 1-5 (k) give its size: (k + 1) KiB for k < 27, else 48, 1020, 1024, 1028 or
 * 1040 KiB, the last four around and beyond the journal's 1 MiB read chunk (rare, as they
 * are slow to run); it is zero bytes (a disk that lost a region) or, with bit 7 of byte 2,
 * valid op lines (of distinct records up to 48 KiB, enough to make the table grow; of one
 * record beyond), the last one cut at the block's end.
 * The journal file lives in a private temporary directory ($FZ_TMPDIR, else /dev/shm).
 *
 * Checks, besides "no crash, no leak, no hang" (ASan/UBSan/libFuzzer):
 *  - the outcome equals a straightforward model that decodes the whole file in memory line
 *    by line (damaged lines skipped, an op of another node refuses the journal, the part
 *    after the last newline is a torn tail): same verdict, same op count and last seq, the
 *    file cut exactly after the last complete line (or left untouched when refused), and a
 *    table equal, record by record, to the model's;
 *  - the table holds only valid records: keys pass rfs_key_check, the live list is
 *    consistent and in first-seen order, rmtab_bytes matches, and its rmtab and gNFS
 *    renderings parse back to exactly its live records;
 *  - the cut leaves a clean end: an op appended with rfs_journal_append after opening is
 *    found again by a second open, whose table equals the first one plus that op;
 *  - the replayed ops commute (table.h): applied in reverse order they give the same table,
 *    when no two different ops carry the same (time, node) stamp.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rmtabfs/journal.h>
#include <rmtabfs/oplog.h>
#include <rmtabfs/table.h>

#include "fuzz_common.h"

#define SELF "n1"

static char dir_path[4096];
static int dir_fd = -1;

static void cleanup(void)
{
	char p[4200];

	if (dir_fd >= 0) {
		snprintf(p, sizeof(p), "%s/journal", dir_path);
		unlink(p);
		rmdir(dir_path);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("FZ_TMPDIR");

	fz_quiet();
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir_path, sizeof(dir_path), "%s/fuzz_journal.XXXXXX", base);
	FZ_CHECK(mkdtemp(dir_path), "mkdtemp %s: %s", dir_path, strerror(errno));
	dir_fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FZ_CHECK(dir_fd >= 0, "open %s: %s", dir_path, strerror(errno));
	atexit(cleanup);
	return 0;
}

/* ---- table checks ---- */

static uint64_t now_zero(void)
{
	return 0;
}

static int order_ok(const struct rfs_record *a, const struct rfs_record *b)
{
	int c;

	if (a->born != b->born)
		return a->born < b->born;
	c = strcmp(a->origin->name, b->origin->name);
	if (c)
		return c < 0;
	return rfs_key_cmp(a->key, a->client_len, rfs_record_path(a), a->path_len, b->key,
			   b->client_len, rfs_record_path(b), b->path_len) < 0;
}

static void check_table(const struct rfs_table *t)
{
	const struct rfs_record *r, *prev = NULL;
	struct rfs_buf text = RFS_BUF_INIT, gtext = RFS_BUF_INIT;
	struct rfs_entries e = {0};
	struct rfs_parse_error err = {0};
	size_t i, nrec = 0, nlive = 0, bytes = 0, k;

	rfs_table_for_each(t, i, r)
	{
		FZ_CHECK(rfs_key_check(r->key, r->client_len, rfs_record_path(r), r->path_len,
				       &err) == 0,
			 "record with an invalid key: %s", err.reason);
		FZ_CHECK(r->key[r->client_len] == '\0' && strlen(rfs_record_path(r)) == r->path_len,
			 "record key not NUL-terminated");
		FZ_CHECK(r->writer && r->origin && rfs_node_id_valid(r->writer->name) &&
				 rfs_node_id_valid(r->origin->name),
			 "record with a bad writer/origin node");
		FZ_CHECK(rfs_table_find(t, r->key, r->client_len, rfs_record_path(r),
					r->path_len) == r,
			 "record not found by its own key (duplicate key?)");
		nrec++;
		nlive += r->count > 0;
	}
	FZ_CHECK(nrec == t->nrecords, "%zu records in the hash, nrecords %zu", nrec, t->nrecords);
	FZ_CHECK(nlive == t->nlive, "%zu live records in the hash, nlive %zu", nlive, t->nlive);
	for (k = 0, r = t->head; r; r = r->next, k++) {
		FZ_CHECK(k < nlive, "live list longer than the live records (cycle?)");
		FZ_CHECK(r->count > 0, "tombstone in the live list");
		FZ_CHECK(r->prev == prev, "live list: broken prev link");
		FZ_CHECK(!prev || order_ok(prev, r), "live list out of first-seen order");
		bytes += rt_line_len(r->client_len, r->path_len);
		prev = r;
	}
	FZ_CHECK(k == nlive && t->tail == prev, "live list has %zu records, nlive %zu", k, nlive);
	FZ_CHECK(bytes == t->rmtab_bytes, "rmtab_bytes %zu, lines make %zu", t->rmtab_bytes, bytes);

	/* The views: render, parse back, exactly the live records in list order. */
	FZ_OK(rfs_table_render_rmtab(t, &text));
	FZ_CHECK(text.len == t->rmtab_bytes, "rmtab view of %zu bytes, rmtab_bytes %zu", text.len,
		 t->rmtab_bytes);
	FZ_CHECK(rt_parse(text.data ? text.data : "", text.len, 1, &e, &err) == 0,
		 "rmtab view does not parse: line %u: %s", err.line, err.reason);
	FZ_CHECK(e.n == nlive, "rmtab view: %zu entries, %zu live records", e.n, nlive);
	for (k = 0, r = t->head; r; r = r->next, k++)
		FZ_CHECK(e.v[k].client_len == r->client_len &&
				 memcmp(e.v[k].client, r->key, r->client_len) == 0 &&
				 e.v[k].path_len == r->path_len &&
				 memcmp(e.v[k].path, rfs_record_path(r), r->path_len) == 0 &&
				 e.v[k].count == r->count,
			 "rmtab view line %zu differs from its record", k + 1);
	rfs_entries_free(&e);
	FZ_OK(rfs_table_render_gnfs(t, &gtext));
	FZ_CHECK(gtext.len == rfs_table_gnfs_bytes(t), "gNFS view of %zu bytes, computed %zu",
		 gtext.len, rfs_table_gnfs_bytes(t));
	FZ_CHECK(gn_parse(gtext.data ? gtext.data : "", gtext.len, &e, &err) == 0,
		 "gNFS view does not parse: line %u: %s", err.line, err.reason);
	FZ_CHECK(e.n == nlive, "gNFS view: %zu entries, %zu live records", e.n, nlive);
	rfs_entries_free(&e);
	rfs_buf_free(&text);
	rfs_buf_free(&gtext);
}

static void tables_equal(const struct rfs_table *a, const struct rfs_table *b, const char *what)
{
	const struct rfs_record *r;
	const struct rfs_node *n, *m;
	struct rfs_buf ta = RFS_BUF_INIT, tb = RFS_BUF_INIT;
	size_t i;

	FZ_CHECK(a->nrecords == b->nrecords && a->nlive == b->nlive,
		 "%s: %zu/%zu records/live vs %zu/%zu", what, a->nrecords, a->nlive, b->nrecords,
		 b->nlive);
	FZ_CHECK(a->hlc == b->hlc, "%s: hlc %llu vs %llu", what, (unsigned long long)a->hlc,
		 (unsigned long long)b->hlc);
	rfs_table_for_each(a, i, r)
	{
		const struct rfs_record *s =
			rfs_table_find(b, r->key, r->client_len, rfs_record_path(r), r->path_len);

		FZ_CHECK(s, "%s: record '%s' '%s' missing", what, r->key, rfs_record_path(r));
		FZ_CHECK(s->count == r->count && s->time == r->time && s->born == r->born &&
				 strcmp(s->writer->name, r->writer->name) == 0 &&
				 strcmp(s->origin->name, r->origin->name) == 0,
			 "%s: record '%s' '%s' differs", what, r->key, rfs_record_path(r));
	}
	for (n = a->nodes, m = b->nodes; n && m; n = n->next, m = m->next)
		FZ_CHECK(strcmp(n->name, m->name) == 0 && n->applied_seq == m->applied_seq,
			 "%s: node '%s' seq %llu vs '%s' seq %llu", what, n->name,
			 (unsigned long long)n->applied_seq, m->name,
			 (unsigned long long)m->applied_seq);
	FZ_CHECK(!n && !m, "%s: different node lists", what);
	FZ_OK(rfs_table_render_rmtab(a, &ta));
	FZ_OK(rfs_table_render_rmtab(b, &tb));
	FZ_CHECK(ta.len == tb.len && (!ta.len || memcmp(ta.data, tb.data, ta.len) == 0),
		 "%s: rmtab views differ", what);
	rfs_buf_free(&ta);
	rfs_buf_free(&tb);
}

/* ---- the input ---- */

static void repair_crcs(char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t ll;

		if (!nl)
			break;
		ll = (size_t)(nl - l) + 1;
		if (ll >= 11 && nl[-9] == ' ') {
			char hex[9];

			snprintf(hex, sizeof(hex), "%08x", rfs_crc32c(0, l, ll - 9));
			memcpy(nl - 8, hex, 8);
		}
		pos += ll;
	}
}

/*
 * fill bytes of valid op lines, the last one cut. Up to 48 KiB: ~45-byte lines, each a
 * different record (enough to make the table grow past its first 1024 buckets). Beyond:
 * ~1 KiB lines of one record (few ops per MiB: these inputs are about the read chunk, and
 * must stay fast). Built once per size and kept.
 */
static const char *filler_lines(size_t fill)
{
	static struct {
		size_t fill;
		char *data;
	} cache[32]; /* one per filler size */
	static char pad[961];
	struct rfs_buf lines = RFS_BUF_INIT;
	char path[1024];
	size_t i, slot;

	for (i = 0; i < 32; i++) {
		if (cache[i].fill == fill)
			return cache[i].data;
		if (!cache[i].fill)
			break;
	}
	FZ_CHECK(i < 32, "more filler sizes than cache slots");
	slot = i;
	if (!pad[0]) {
		memset(pad, 'p', sizeof(pad) - 1);
		pad[0] = '/';
	}
	for (i = 0; lines.len < fill; i++) {
		int n = fill > 48 * 1024 ? snprintf(path, sizeof(path), "/f/big%s", pad)
					 : snprintf(path, sizeof(path), "/f/%06zu", i);
		struct rfs_op op = {.seq = i + 1,
				    .time = i + 1,
				    .born = i + 1,
				    .count = (uint32_t)(1 + i % 3),
				    .node = SELF,
				    .origin = SELF,
				    .client = "filler",
				    .client_len = 6,
				    .path = path,
				    .path_len = (size_t)n};

		FZ_OK(rfs_op_encode(&lines, &op));
	}
	cache[slot].fill = fill;
	cache[slot].data = lines.data;
	return lines.data;
}

static char *build_file(const uint8_t *data, size_t size, size_t *len)
{
	uint8_t mode = data[0];
	int filler = (mode & 0xc0) == 0xc0 && size >= 3;
	size_t hdr = filler ? 3 : 1, rest_len, fill = 0, at = 0;
	char *rest, *file;

	rest_len = size - hdr;
	rest = malloc(rest_len + 1);
	FZ_CHECK(rest, "out of memory");
	memcpy(rest, data + hdr, rest_len);
	if (mode & 1)
		repair_crcs(rest, rest_len);
	if (filler) {
		size_t k = (mode >> 1) & 0x1f;

		static const size_t big[5] = {48, 1020, 1024, 1028, 1040};

		fill = (k < 27 ? k + 1 : big[k - 27]) * 1024;
		at = (size_t)(data[1] | (data[2] & 0x7f) << 8) % (rest_len + 1);
	}
	*len = rest_len + fill;
	file = malloc(*len + 1);
	FZ_CHECK(file, "out of memory");
	memcpy(file, rest, at);
	if (fill && (data[2] & 0x80)) {
		memcpy(file + at, filler_lines(fill), fill);
	} else if (fill) {
		memset(file + at, 0, fill);
	}
	memcpy(file + at + fill, rest + at, rest_len - at);
	free(rest);
	return file;
}

static void write_journal(const char *buf, size_t len)
{
	int fd = openat(dir_fd, "journal", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	FZ_CHECK(fd >= 0, "create journal: %s", strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		FZ_CHECK(n > 0, "write journal: %s", strerror(errno));
		done += (size_t)n;
	}
	close(fd);
}

static bool all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static char *read_journal(size_t *len)
{
	int fd = openat(dir_fd, "journal", O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	FZ_CHECK(fd >= 0 && fstat(fd, &st) == 0, "read journal: %s", strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	FZ_CHECK(buf, "out of memory");
	FZ_CHECK(pread(fd, buf, (size_t)st.st_size, 0) == st.st_size, "short read");
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static int apply_cb(void *ctx, const struct rfs_op *op)
{
	int rc = rfs_table_apply(ctx, op);

	FZ_CHECK(rc >= 0, "rfs_table_apply: %d", rc);
	return 0;
}

/* The model: decode the whole file in memory, line by line. */
#define MODEL_KEEP 2000 /* ops kept for the order check; more are only counted */

struct op_copy {
	uint64_t seq, time, born;
	uint32_t count;
	size_t client_len, path_len;
	char node[RFS_NODE_MAX + 1], origin[RFS_NODE_MAX + 1];
	char client[RFS_CLIENT_MAX + 1], path[RFS_PATH_MAX + 1];
};

struct model {
	int foreign;
	size_t end; /* end of the last complete line */
	uint64_t ops, last_seq;
	struct op_copy *kept; /* the first MODEL_KEEP ops */
	size_t kept_cap;
};

static void op_keep(struct model *m, const struct rfs_op *op)
{
	struct op_copy *c;

	if (m->ops >= MODEL_KEEP)
		return;
	if (m->ops == m->kept_cap) {
		m->kept_cap = m->kept_cap ? 2 * m->kept_cap : 16;
		m->kept = realloc(m->kept, m->kept_cap * sizeof(*m->kept));
		FZ_CHECK(m->kept, "out of memory");
	}
	c = &m->kept[m->ops];
	c->seq = op->seq;
	c->time = op->time;
	c->born = op->born;
	c->count = op->count;
	c->client_len = op->client_len;
	c->path_len = op->path_len;
	memcpy(c->node, op->node, strlen(op->node) + 1);
	memcpy(c->origin, op->origin, strlen(op->origin) + 1);
	memcpy(c->client, op->client, op->client_len + 1);
	memcpy(c->path, op->path, op->path_len + 1);
}

static struct rfs_op kept_op(const struct op_copy *c)
{
	struct rfs_op op = {.seq = c->seq,
			    .time = c->time,
			    .born = c->born,
			    .count = c->count,
			    .node = c->node,
			    .origin = c->origin,
			    .client = c->client,
			    .path = c->path,
			    .client_len = c->client_len,
			    .path_len = c->path_len};

	return op;
}

static int by_stamp(const void *a, const void *b)
{
	const struct op_copy *x = *(const struct op_copy *const *)a;
	const struct op_copy *y = *(const struct op_copy *const *)b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->node, y->node);
}

static int same_value(const struct op_copy *x, const struct op_copy *y)
{
	return x->count == y->count && x->born == y->born && strcmp(x->origin, y->origin) == 0 &&
	       x->client_len == y->client_len && x->path_len == y->path_len &&
	       memcmp(x->client, y->client, x->client_len) == 0 &&
	       memcmp(x->path, y->path, x->path_len) == 0;
}

/*
 * table.h: ops applied last-writer-wins by (time, node) commute. So the model's ops applied
 * in reverse order must give the same table - unless two different ops carry the same
 * stamp, which a node's clock never issues (then the order decides, and that is allowed).
 */
static void check_commute(const struct model *m, const struct rfs_table *ref)
{
	size_t n = (size_t)m->ops, i;
	const struct op_copy **sorted;
	struct rfs_table rev;

	if (n < 2 || n > MODEL_KEEP)
		return;
	sorted = malloc(n * sizeof(*sorted));
	FZ_CHECK(sorted, "out of memory");
	for (i = 0; i < n; i++)
		sorted[i] = &m->kept[i];
	qsort(sorted, n, sizeof(*sorted), by_stamp);
	for (i = 1; i < n; i++)
		if (by_stamp(&sorted[i - 1], &sorted[i]) == 0 &&
		    !same_value(sorted[i - 1], sorted[i]))
			break;
	free(sorted);
	if (i < n)
		return;
	FZ_OK(rfs_table_init(&rev, SELF));
	rev.now_ns = now_zero;
	for (i = n; i-- > 0;) {
		struct rfs_op op = kept_op(&m->kept[i]);

		FZ_CHECK(rfs_table_apply(&rev, &op) >= 0, "rfs_table_apply failed");
	}
	check_table(&rev);
	tables_equal(ref, &rev, "ops in file order vs reverse order");
	rfs_table_free(&rev);
}

static void model_replay(const char *buf, size_t len, struct rfs_table *t, struct model *m)
{
	struct rfs_op_scratch s;
	size_t pos = 0;

	size_t valid_end = 0;

	memset(m, 0, sizeof(*m));
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll, used = 0;
		struct rfs_op op;
		long n;

		if (!nl)
			break;
		ll = (size_t)(nl - buf - pos) + 1;
		n = rfs_op_decode(buf + pos, ll, &op, &s, &used);
		FZ_CHECK(used == ll && (n == (long)ll || n == -EBADMSG),
			 "decode of a %zu-byte line: %ld, consumed %zu", ll, n, used);
		if (n > 0) {
			if (strcmp(op.node, SELF) != 0) {
				m->foreign = 1;
				return;
			}
			FZ_CHECK(rfs_table_apply(t, &op) >= 0, "model: rfs_table_apply failed");
			op_keep(m, &op);
			m->ops++;
			if (op.seq > m->last_seq)
				m->last_seq = op.seq;
			valid_end = pos + ll;
		}
		pos += ll;
	}
	/*
	 * The journal ends after its last valid line: written in place, a torn write can leave
	 * complete-looking damaged lines after it, which open zeroes (damage before it is
	 * skipped and kept).
	 */
	m->end = valid_end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfs_table t, ref, t3;
	struct rfs_journal j, j3;
	struct model m;
	size_t len, after_len;
	char *file, *after;
	int rc;

	if (size < 1)
		return 0;
	file = build_file(data, size, &len);
	write_journal(file, len);

	FZ_OK(rfs_table_init(&t, SELF));
	FZ_OK(rfs_table_init(&ref, SELF));
	t.now_ns = ref.now_ns = now_zero;
	model_replay(file, len, &ref, &m);
	rc = rfs_journal_open(&j, dir_fd, SELF, apply_cb, &t);
	after = read_journal(&after_len);

	if (m.foreign) {
		FZ_CHECK(rc == -EINVAL, "journal with another node's op: open returned %d", rc);
		FZ_CHECK(after_len == len && memcmp(after, file, len) == 0,
			 "a refused journal was modified");
		goto out;
	}
	FZ_CHECK(rc == 0, "open returned %d (model: %llu ops up to byte %zu)", rc,
		 (unsigned long long)m.ops, m.end);
	FZ_CHECK(j.size == (off_t)m.end,
		 "journal cut at byte %lld, the last complete line ends at byte %zu (file %zu)",
		 (long long)j.size, m.end, len);
	/* The complete lines, then only zeros: the preallocated rest (a torn tail is zeroed). */
	FZ_CHECK(after_len >= m.end && memcmp(after, file, m.end) == 0 &&
			 all_zero(after + m.end, after_len - m.end),
		 "file is %zu bytes after open, expected the first %zu of %zu then zeros",
		 after_len, m.end, len);
	FZ_CHECK(j.ops == m.ops && j.last_seq == m.last_seq,
		 "open: %llu ops, last seq %llu; model %llu, %llu", (unsigned long long)j.ops,
		 (unsigned long long)j.last_seq, (unsigned long long)m.ops,
		 (unsigned long long)m.last_seq);
	check_table(&t);
	tables_equal(&t, &ref, "open vs model");
	check_commute(&m, &ref);

	/* Append after the cut, open again: the new op must be there, glued to nothing. */
	{
		uint64_t seq = j.last_seq == UINT64_MAX ? UINT64_MAX : j.last_seq + 1;
		struct rfs_op op = {.seq = seq,
				    .time = t.hlc == UINT64_MAX ? UINT64_MAX : t.hlc + 1,
				    .born = 7,
				    .count = 3,
				    .node = SELF,
				    .origin = SELF,
				    .client = "fz-appended",
				    .client_len = 11,
				    .path = "/appended",
				    .path_len = 9};
		struct rfs_buf line = RFS_BUF_INIT;
		uint64_t ops_before = j.ops;

		FZ_OK(rfs_op_encode(&line, &op));
		FZ_OK(rfs_journal_append(&j, line.data, line.len, seq, 1));
		rfs_journal_close(&j);
		FZ_CHECK(rfs_table_apply(&t, &op) >= 0, "rfs_table_apply failed");
		FZ_OK(rfs_table_init(&t3, SELF));
		t3.now_ns = now_zero;
		rc = rfs_journal_open(&j3, dir_fd, SELF, apply_cb, &t3);
		FZ_CHECK(rc == 0, "reopen after an append: %d", rc);
		FZ_CHECK(j3.ops == ops_before + 1 && j3.size == (off_t)(m.end + line.len),
			 "reopen: %llu ops, %lld bytes; expected %llu, %zu",
			 (unsigned long long)j3.ops, (long long)j3.size,
			 (unsigned long long)ops_before + 1, m.end + line.len);
		check_table(&t3);
		tables_equal(&t, &t3, "first open + append vs reopen");
		rfs_journal_close(&j3);
		rfs_table_free(&t3);
		rfs_buf_free(&line);
	}
out:
	rfs_journal_close(&j);
	rfs_table_free(&t);
	rfs_table_free(&ref);
	free(m.kept);
	free(after);
	free(file);
	return 0;
}
