/*
 * Framing of the link between the mount side and the store side (include/rmtabfs/link.h).
 * Pure encoding and decoding plus one blocking write helper; no state, no locks.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rmtabfs/link.h>

int rfs_link_begin(struct rfs_buf *out, uint32_t type, uint64_t id, size_t *start)
{
	struct rfs_link_hdr h = {.len = 0, .type = type, .id = id};

	*start = out->len;
	return rfs_buf_append(out, &h, sizeof(h));
}

void rfs_link_end(struct rfs_buf *out, size_t start)
{
	uint32_t len = (uint32_t)(out->len - start - sizeof(struct rfs_link_hdr));

	memcpy(out->data + start, &len, sizeof(len));
}

int rfs_link_put_u64(struct rfs_buf *out, uint64_t v)
{
	return rfs_buf_append(out, &v, sizeof(v));
}

int rfs_link_put_bytes(struct rfs_buf *out, const void *p, size_t len)
{
	int rc = rfs_link_put_u64(out, len);

	return rc ? rc : rfs_buf_append(out, p, len);
}

int rfs_link_put_str(struct rfs_buf *out, const char *s)
{
	return rfs_link_put_bytes(out, s, strlen(s));
}

uint64_t rfs_link_get_u64(struct rfs_link_rd *rd)
{
	uint64_t v;

	if (rd->bad || rd->left < sizeof(v)) {
		rd->bad = true;
		return 0;
	}
	memcpy(&v, rd->p, sizeof(v));
	rd->p += sizeof(v);
	rd->left -= sizeof(v);
	return v;
}

const char *rfs_link_get_bytes(struct rfs_link_rd *rd, size_t *len)
{
	uint64_t n = rfs_link_get_u64(rd);
	const char *p = rd->p;

	if (rd->bad || n > rd->left) {
		rd->bad = true;
		*len = 0;
		return "";
	}
	rd->p += n;
	rd->left -= n;
	*len = (size_t)n;
	return p;
}

void rfs_link_get_str(struct rfs_link_rd *rd, char *buf, size_t cap)
{
	size_t n;
	const char *p = rfs_link_get_bytes(rd, &n);

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

int rfs_link_parse(const char *buf, size_t len, struct rfs_link_hdr *hdr, const char **payload)
{
	if (len < sizeof(*hdr))
		return 0;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->len > RFS_LINK_MAX_FRAME)
		return -EPROTO;
	if (len - sizeof(*hdr) < hdr->len)
		return 0;
	*payload = buf + sizeof(*hdr);
	return 1;
}

int rfs_link_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}
