/*
 * Encoding and decoding of op lines (format in include/rmtabfs/oplog.h).
 *
 * A line is self-checking: its CRC-32C covers every byte before the checksum, so a line torn
 * by a crash (no newline yet) and a line damaged on disk (bad checksum) are told apart and
 * neither ever becomes a record. Text, so an administrator can read a log with less(1).
 * No state apart from the constant CRC table; no locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rmtabfs/oplog.h>

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	uint32_t i, j;

	for (i = 0; i < 256; i++) {
		uint32_t c = i;

		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t rfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

bool rfs_node_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
		if (n >= RFS_NODE_MAX)
			return false;
	}
	return n > 0;
}

static const char hexu[] = "0123456789ABCDEF";

static bool needs_escape(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '%';
}

static int append_escaped(struct rfs_buf *out, const char *s, size_t len)
{
	size_t i;
	int rc = rfs_buf_reserve(out, 3 * len);

	if (rc)
		return rc;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (needs_escape(c)) {
			out->data[out->len++] = '%';
			out->data[out->len++] = hexu[c >> 4];
			out->data[out->len++] = hexu[c & 15];
		} else {
			out->data[out->len++] = (char)c;
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

int rfs_op_encode(struct rfs_buf *out, const struct rfs_op *op)
{
	size_t start = out->len;
	uint32_t crc;
	int rc;

	rc = rfs_buf_printf(out, "s %llu %llu %s %u %llu %s ", (unsigned long long)op->seq,
			    (unsigned long long)op->time, op->node, op->count,
			    (unsigned long long)op->born, op->origin);
	if (!rc)
		rc = append_escaped(out, op->client, op->client_len);
	if (!rc)
		rc = rfs_buf_append(out, " ", 1);
	if (!rc)
		rc = append_escaped(out, op->path, op->path_len);
	if (!rc)
		rc = rfs_buf_append(out, " ", 1);
	if (rc) {
		rfs_buf_resize(out, start);
		return rc;
	}
	crc = rfs_crc32c(0, out->data + start, out->len - start);
	rc = rfs_buf_printf(out, "%08x\n", crc);
	if (rc)
		rfs_buf_resize(out, start);
	return rc;
}

/* Splits off the next space-terminated field; NULL when there is none. */
static const char *next_field(const char **p, const char *end, size_t *len)
{
	const char *start = *p, *sp;

	if (start >= end)
		return NULL;
	sp = memchr(start, ' ', (size_t)(end - start));
	if (!sp)
		return NULL;
	*len = (size_t)(sp - start);
	*p = sp + 1;
	return *len ? start : NULL;
}

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EBADMSG;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int unescape(const char *s, size_t len, char *out, size_t cap, size_t *out_len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EBADMSG;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n >= cap)
			return -EBADMSG;
		out[n++] = c;
	}
	out[n] = '\0';
	*out_len = n;
	return 0;
}

static int copy_node(const char *s, size_t len, char *out)
{
	if (len > RFS_NODE_MAX)
		return -EBADMSG;
	memcpy(out, s, len);
	out[len] = '\0';
	return rfs_node_id_valid(out) ? 0 : -EBADMSG;
}

long rfs_op_decode(const char *buf, size_t len, struct rfs_op *op, struct rfs_op_scratch *s,
		   size_t *consumed)
{
	const char *nl = memchr(buf, '\n', len);
	const char *p = buf, *end, *f;
	size_t flen, line_len;
	uint64_t v, crc_read;
	uint32_t crc;

	if (!nl)
		return -EAGAIN;
	line_len = (size_t)(nl - buf) + 1;
	if (consumed)
		*consumed = line_len;
	/* The last field is 8 hex digits; everything before it is covered by the CRC. */
	if (line_len < 11 || nl[-9] != ' ')
		return -EBADMSG;
	end = nl - 8;
	crc_read = 0;
	for (f = end; f < nl; f++) {
		/*
		 * Only the encoder's lower-case digits: the checksum does not cover itself, so
		 * accepting 'A' for 'a' would let a damaged byte pass.
		 */
		int d = (*f >= 'A' && *f <= 'F') ? -1 : hexval(*f);

		if (d < 0)
			return -EBADMSG;
		crc_read = crc_read << 4 | (unsigned)d;
	}
	crc = rfs_crc32c(0, buf, (size_t)(end - buf));
	if (crc != crc_read)
		return -EBADMSG;

	if (!(f = next_field(&p, end, &flen)) || flen != 1 || f[0] != 's')
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) || parse_u64(f, flen, &op->seq))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) || parse_u64(f, flen, &op->time))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) || copy_node(f, flen, s->node))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) || parse_u64(f, flen, &v) || v > RFS_COUNT_MAX)
		return -EBADMSG;
	op->count = (uint32_t)v;
	if (!(f = next_field(&p, end, &flen)) || parse_u64(f, flen, &op->born))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) || copy_node(f, flen, s->origin))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) ||
	    unescape(f, flen, s->client, RFS_CLIENT_MAX, &op->client_len))
		return -EBADMSG;
	if (!(f = next_field(&p, end, &flen)) ||
	    unescape(f, flen, s->path, RFS_PATH_MAX, &op->path_len))
		return -EBADMSG;
	if (p != end)
		return -EBADMSG;
	if (rfs_key_check(s->client, op->client_len, s->path, op->path_len, NULL))
		return -EBADMSG;
	if (op->seq == 0)
		return -EBADMSG;
	op->node = s->node;
	op->origin = s->origin;
	op->client = s->client;
	op->path = s->path;
	return (long)line_len;
}
