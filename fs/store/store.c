/*
 * Store specs: parsing and describing them (both sides: options, status, the store side's
 * arguments). Pure parsing; no state, no locks. Backends: fs/store/backend.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <config.h>
#include <rmtabfs/log.h>
#include <rmtabfs/store.h>

static int fail(char *err, size_t errlen, const char *msg, const char *text)
{
	snprintf(err, errlen, "bad store '%s': %s", text, msg);
	return -EINVAL;
}

static bool clean_path(const char *p)
{
	/* Absolute, no "." or ".." components, no empty components except a trailing '/'. */
	const char *c = p;

	if (*c != '/')
		return false;
	while (*c) {
		const char *next;
		size_t n;

		while (*c == '/')
			c++;
		next = strchr(c, '/');
		n = next ? (size_t)(next - c) : strlen(c);
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
	}
	return true;
}

int rfs_store_spec_parse(const char *text, struct rfs_store_spec *spec, char *err, size_t errlen)
{
	memset(spec, 0, sizeof(*spec));
	if (strncmp(text, "dir:", 4) == 0) {
		const char *p = text + 4;

		spec->kind = RFS_STORE_DIR;
		if (!clean_path(p) || strlen(p) >= sizeof(spec->path))
			return fail(err, errlen, "dir: needs an absolute path", text);
		strcpy(spec->path, p);
		return 0;
	}
	if (strncmp(text, "gluster://", 10) == 0) {
		const char *p = text + 10, *slash = strchr(p, '/'), *vol, *dir;
		char servers[1024];
		char *save = NULL, *tok;
		size_t vlen;

		spec->kind = RFS_STORE_GLUSTER;
		if (!slash || slash == p || (size_t)(slash - p) >= sizeof(servers))
			return fail(err, errlen,
				    "expected gluster://SERVER[,SERVER...]/VOLUME[/dir]", text);
		memcpy(servers, p, (size_t)(slash - p));
		servers[slash - p] = '\0';
		for (tok = strtok_r(servers, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *colon = strrchr(tok, ':');
			int port = 24007;

			if (spec->nservers == RFS_STORE_MAX_SERVERS)
				return fail(err, errlen, "too many servers", text);
			if (colon && !strchr(colon + 1, ']') && strchr(tok, ':') == colon) {
				char *end;
				long v = strtol(colon + 1, &end, 10);

				if (*end || v <= 0 || v > 65535)
					return fail(err, errlen, "bad port", text);
				port = (int)v;
				*colon = '\0';
			}
			if (!*tok || strlen(tok) >= sizeof(spec->servers[0]))
				return fail(err, errlen, "bad server name", text);
			strcpy(spec->servers[spec->nservers], tok);
			spec->ports[spec->nservers++] = port;
		}
		if (spec->nservers == 0)
			return fail(err, errlen, "no server", text);
		vol = slash + 1;
		dir = strchr(vol, '/');
		vlen = dir ? (size_t)(dir - vol) : strlen(vol);
		if (vlen == 0 || vlen >= sizeof(spec->volume))
			return fail(err, errlen, "no volume name", text);
		memcpy(spec->volume, vol, vlen);
		spec->volume[vlen] = '\0';
		if (strspn(spec->volume, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789_-.") != vlen)
			return fail(err, errlen, "bad volume name", text);
		strcpy(spec->path, dir && dir[1] ? dir : "/");
		if (!clean_path(spec->path))
			return fail(err, errlen, "bad directory inside the volume", text);
		return 0;
	}
	return fail(err, errlen, "use dir:/PATH or gluster://SERVER/VOLUME[/dir]", text);
}

void rfs_store_describe(const struct rfs_store_spec *spec, char *buf, size_t len)
{
	size_t i, n;

	if (spec->kind == RFS_STORE_DIR) {
		snprintf(buf, len, "dir:%s", spec->path);
		return;
	}
	n = (size_t)snprintf(buf, len, "gluster://");
	/* A port other than glusterd's default is part of where the store is. */
	for (i = 0; i < spec->nservers && n < len; i++) {
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", spec->servers[i]);
		if (spec->ports[i] != 24007 && n < len)
			n += (size_t)snprintf(buf + n, len - n, ":%d", spec->ports[i]);
	}
	if (n < len)
		snprintf(buf + n, len - n, "/%s%s", spec->volume,
			 strcmp(spec->path, "/") ? spec->path : "");
}

void rfs_store_report_left(const char *url, uint64_t self, uint64_t shipped)
{
	if (self > shipped)
		rfs_warn("stopping with %llu op(s) of this node not confirmed on the store %s "
			 "(seq %llu-%llu): they are in the local journal and shipped at the next "
			 "start",
			 (unsigned long long)(self - shipped), url, (unsigned long long)shipped + 1,
			 (unsigned long long)self);
	else
		rfs_notice("stopping: every op of this node is on the store (up to seq %llu)",
			   (unsigned long long)shipped);
}
