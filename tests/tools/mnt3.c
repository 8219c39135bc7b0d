// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mnt3 — minimal MOUNT v3 client (RFC 1813 appendix I) over libtirpc, to drive a real
 * rpc.mountd from the integration tests and the benchmark.
 *
 *   mnt3 [options] HOST mnt PATH     print "ok" and exit 0 on MNT3_OK, else the mountstat3
 *                                    number and exit 1
 *   mnt3 [options] HOST umnt PATH    print "ok"
 *   mnt3 [options] HOST umntall      print "ok"
 *   mnt3 [options] HOST dump         one "client path" line per entry, in reply order
 *   mnt3 [options] HOST null         print "ok" (NULL procedure, a ping)
 *   mnt3 [options] HOST script       commands from stdin, one per line, over one connection
 *
 * Options: -4/-6 address family (default: from HOST), -u UDP, -b SRCADDR, -p PORT (skip
 * rpcbind), -i unprivileged source port, -a unix|none, -t SECONDS per call, -q quiet script,
 * -S statistics, -v MNT prints "ok fh=HEX flavors=N,..", -h help.
 *
 * The XDR routines are written here by hand so that no rpcsvc header or rpcgen is needed.
 * Invariants: decoding never allocates (fixed buffers sized by the protocol limits, DUMP text
 * goes into one reusable buffer), so a script of thousands of calls costs no per-call heap
 * traffic besides libtirpc's own; every function returns 0 or -errno unless it says otherwise.
 * As root the source port is a reserved one by default, because mountd refuses MNT from
 * ports >= 1024 for exports without "insecure".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rpc/rpc.h>
#include <rpc/rpcb_clnt.h>

#define MOUNTPROG  100005
#define MOUNTVERS3 3
#define MNTPATHLEN 1024
#define MNTNAMLEN  255
#define FHSIZE3	   64

enum mnt3_proc {
	MOUNTPROC3_NULL = 0,
	MOUNTPROC3_MNT = 1,
	MOUNTPROC3_DUMP = 2,
	MOUNTPROC3_UMNT = 3,
	MOUNTPROC3_UMNTALL = 4,
};

/* Reserved ports tried for the source address, as libtirpc and the kernel client do. */
#define RESV_LO 600
#define RESV_HI 1023

struct mnt3_res {
	int32_t status;
	u_int fhlen;
	char fh[FHSIZE3];
	u_int nflavors;
	int32_t flavors[16];
};

/* Growing text buffer reused across DUMP calls: "client path\n" per entry. */
struct textbuf {
	char *p;
	size_t len, cap;
	unsigned int entries;
};

struct opts {
	int family; /* AF_INET, AF_INET6 or AF_UNSPEC (from HOST) */
	bool udp;
	const char *src; /* -b */
	int port;	 /* -p, 0 = ask rpcbind */
	bool insecure;	 /* -i */
	bool auth_none;	 /* -a none */
	int timeout;	 /* -t, seconds */
	bool quiet, stats;
	bool verbose; /* -v: single MNT also prints the handle and flavors */
};

/* ---- XDR ---------------------------------------------------------------------------------- */

/*
 * libtirpc's xdrproc_t is "bool_t (*)(XDR *, ...)" and is called with (xdrs, objp): defining the
 * routines with exactly that type keeps the calls well defined without function-pointer casts.
 */
static void *xdr_obj(va_list ap)
{
	return va_arg(ap, void *);
}

#define XDR_OBJ(var, last)                                                                         \
	do {                                                                                       \
		va_list ap_;                                                                       \
		va_start(ap_, last);                                                               \
		var = xdr_obj(ap_);                                                                \
		va_end(ap_);                                                                       \
	} while (0)

static bool_t xdr_nothing(XDR *x, ...)
{
	(void)x;
	return TRUE;
}

static bool_t xdr_dirpath_enc(XDR *x, ...)
{
	char **pp;

	XDR_OBJ(pp, x);
	return xdr_string(x, pp, MNTPATHLEN);
}

static bool_t xdr_mountres3_dec(XDR *x, ...)
{
	struct mnt3_res *r;
	u_int i, n;
	int32_t skip;
	char *fhp;

	XDR_OBJ(r, x);
	fhp = r->fh;
	r->fhlen = 0;
	r->nflavors = 0;
	if (!xdr_int32_t(x, &r->status))
		return FALSE;
	if (r->status != 0)
		return TRUE;
	if (!xdr_bytes(x, &fhp, &r->fhlen, FHSIZE3) || !xdr_u_int(x, &n))
		return FALSE;
	for (i = 0; i < n; i++) {
		int32_t *dst = i < 16 ? &r->flavors[i] : &skip;

		if (!xdr_int32_t(x, dst))
			return FALSE;
	}
	r->nflavors = n < 16 ? n : 16;
	return TRUE;
}

static int textbuf_reserve(struct textbuf *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *p;

	if (t->len + more <= t->cap)
		return 0;
	while (cap < t->len + more)
		cap *= 2;
	p = realloc(t->p, cap);
	if (!p)
		return -ENOMEM;
	t->p = p;
	t->cap = cap;
	return 0;
}

/* mountlist is an XDR optional-data chain: (TRUE, hostname, directory)* FALSE. */
static bool_t xdr_mountlist_dec(XDR *x, ...)
{
	char host[MNTNAMLEN + 1], dir[MNTPATHLEN + 1];
	char *hp = host, *dp = dir;
	struct textbuf *t;
	bool_t more;
	size_t hl, dl;

	XDR_OBJ(t, x);
	t->len = 0;
	t->entries = 0;
	for (;;) {
		if (!xdr_bool(x, &more))
			return FALSE;
		if (!more)
			return TRUE;
		if (!xdr_string(x, &hp, MNTNAMLEN) || !xdr_string(x, &dp, MNTPATHLEN))
			return FALSE;
		hl = strlen(host);
		dl = strlen(dir);
		if (textbuf_reserve(t, hl + dl + 2))
			return FALSE;
		memcpy(t->p + t->len, host, hl);
		t->p[t->len + hl] = ' ';
		memcpy(t->p + t->len + hl + 1, dir, dl);
		t->p[t->len + hl + 1 + dl] = '\n';
		t->len += hl + dl + 2;
		t->entries++;
	}
}

/* ---- connection --------------------------------------------------------------------------- */

static int resolve(const char *name, int family, struct sockaddr_storage *ss, socklen_t *len)
{
	/* No AI_ADDRCONFIG: it hides ::1 in a namespace whose only interface is lo. */
	struct addrinfo hints = {.ai_family = family}, *ai;
	int rc;

	rc = getaddrinfo(name, NULL, &hints, &ai);
	if (rc) {
		fprintf(stderr, "mnt3: %s: %s\n", name, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static const char *netid(const struct opts *o, int family)
{
	if (family == AF_INET6)
		return o->udp ? "udp6" : "tcp6";
	return o->udp ? "udp" : "tcp";
}

/* Ask the rpcbind on HOST where MOUNT v3 listens for this transport. */
static int lookup_port(const struct opts *o, const char *host, int family,
		       struct sockaddr_storage *srv, socklen_t *len)
{
	struct netconfig *nc = getnetconfigent(netid(o, family));
	struct netbuf nb = {.maxlen = sizeof(*srv), .buf = srv};

	if (!nc) {
		fprintf(stderr, "mnt3: no netconfig entry %s\n", netid(o, family));
		return -ENOENT;
	}
	if (!rpcb_getaddr(MOUNTPROG, MOUNTVERS3, nc, &nb, host)) {
		/* clnt_spcreateerror("") gives ": RPC: ..." without a newline. */
		fprintf(stderr, "mnt3: rpcbind on %s%s\n", host, clnt_spcreateerror(""));
		freenetconfigent(nc);
		return -EHOSTUNREACH;
	}
	freenetconfigent(nc);
	*len = nb.len;
	return 0;
}

/*
 * Bind (reserved port unless -i) and, for TCP, connect.  A reserved port still in TIME_WAIT
 * from an earlier run makes bind or connect fail with EADDRINUSE/EADDRNOTAVAIL: try the next.
 */
static int open_socket(const struct opts *o, const struct sockaddr_storage *srv, socklen_t srvlen)
{
	struct sockaddr_storage local;
	socklen_t llen = srvlen;
	int type = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	int start, i, fd, rc, one = 1;
	bool resv = !o->insecure && geteuid() == 0;
	const int nresv = RESV_HI - RESV_LO + 1;

	memset(&local, 0, sizeof(local));
	local.ss_family = srv->ss_family;
	if (o->src) {
		rc = resolve(o->src, srv->ss_family, &local, &llen);
		if (rc)
			return rc;
		if (local.ss_family != srv->ss_family) {
			fprintf(stderr, "mnt3: %s is not of the server's address family\n", o->src);
			return -EAFNOSUPPORT;
		}
	}
	start = (int)(getpid() % nresv);
	for (i = 0; i < (resv ? nresv : 1); i++) {
		fd = socket(srv->ss_family, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		set_port(&local, resv ? RESV_LO + (start + i) % nresv : 0);
		rc = 0;
		if ((resv || o->src) && bind(fd, (struct sockaddr *)&local, llen) < 0)
			rc = -errno;
		if (!rc && !o->udp && connect(fd, (const struct sockaddr *)srv, srvlen) < 0)
			rc = -errno;
		if (!rc)
			return fd;
		close(fd);
		if (rc != -EADDRINUSE && rc != -EADDRNOTAVAIL)
			return rc;
	}
	return -EADDRINUSE;
}

static int mnt3_connect(const struct opts *o, const char *host, CLIENT **out)
{
	struct sockaddr_storage srv;
	struct timeval tv = {.tv_sec = 1};
	socklen_t len;
	struct netbuf nb;
	CLIENT *cl;
	int family = o->family, rc, fd;

	memset(&srv, 0, sizeof(srv));
	if (family == AF_UNSPEC) {
		struct in6_addr a6;

		family = inet_pton(AF_INET6, host, &a6) == 1 ? AF_INET6 : AF_INET;
	}
	if (o->port) {
		rc = resolve(host, family, &srv, &len);
		if (rc)
			return rc;
		set_port(&srv, o->port);
	} else {
		rc = lookup_port(o, host, family, &srv, &len);
		if (rc)
			return rc;
	}
	fd = open_socket(o, &srv, len);
	if (fd < 0) {
		fprintf(stderr, "mnt3: socket to %s: %s\n", host, strerror(-fd));
		return fd;
	}
	nb.len = nb.maxlen = len;
	nb.buf = &srv;
	if (o->udp)
		cl = clnt_dg_create(fd, &nb, MOUNTPROG, MOUNTVERS3, 0, 0);
	else
		cl = clnt_vc_create(fd, &nb, MOUNTPROG, MOUNTVERS3, 0, 0);
	if (!cl) {
		fprintf(stderr, "mnt3: %s\n", clnt_spcreateerror(host));
		close(fd);
		return -ECONNREFUSED;
	}
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	if (o->udp)
		clnt_control(cl, CLSET_RETRY_TIMEOUT, (char *)&tv);
	auth_destroy(cl->cl_auth);
	cl->cl_auth = o->auth_none ? authnone_create() : authunix_create_default();
	if (!cl->cl_auth) {
		clnt_destroy(cl);
		return -ENOMEM;
	}
	*out = cl;
	return 0;
}

/* ---- commands ----------------------------------------------------------------------------- */

enum kind { K_MNT, K_UMNT, K_UMNTALL, K_DUMP, K_NULL, K_SLEEP, K_NR };

static const char *const kind_name[K_NR] = {"mnt", "umnt", "umntall", "dump", "null", "sleep"};

struct kstats {
	uint32_t *lat_us; /* doubling array, sorted only at the end */
	size_t n, cap;
	uint64_t first_ns, last_ns, busy_ns;
};

struct ctx {
	const struct opts *o;
	CLIENT *cl;
	struct textbuf dump;
	struct mnt3_res res;
	struct kstats ks[K_NR];
	int worst; /* 0 all fine, 1 some MNT refused, 2 RPC or usage errors */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int kstats_add(struct kstats *k, uint64_t t0, uint64_t t1)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		uint32_t *p = realloc(k->lat_us, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		k->lat_us = p;
		k->cap = cap;
	}
	k->lat_us[k->n++] = (uint32_t)((t1 - t0) / 1000u);
	if (!k->first_ns)
		k->first_ns = t0;
	k->last_ns = t1;
	k->busy_ns += t1 - t0;
	return 0;
}

/* Returns the RPC status; *mstat gets the mountstat3 for MNT. */
static enum clnt_stat do_call(struct ctx *c, enum kind k, const char *path, int32_t *mstat)
{
	struct timeval tv = {.tv_sec = c->o->timeout};
	char *p = (char *)path;

	*mstat = 0;
	switch (k) {
	case K_MNT: {
		enum clnt_stat st = clnt_call(c->cl, MOUNTPROC3_MNT, xdr_dirpath_enc, &p,
					      xdr_mountres3_dec, &c->res, tv);

		if (st == RPC_SUCCESS)
			*mstat = c->res.status;
		return st;
	}
	case K_UMNT:
		return clnt_call(c->cl, MOUNTPROC3_UMNT, xdr_dirpath_enc, &p, xdr_nothing, NULL,
				 tv);
	case K_UMNTALL:
		return clnt_call(c->cl, MOUNTPROC3_UMNTALL, xdr_nothing, NULL, xdr_nothing, NULL,
				 tv);
	case K_DUMP:
		return clnt_call(c->cl, MOUNTPROC3_DUMP, xdr_nothing, NULL, xdr_mountlist_dec,
				 &c->dump, tv);
	case K_NULL:
		return clnt_call(c->cl, MOUNTPROC3_NULL, xdr_nothing, NULL, xdr_nothing, NULL, tv);
	default:
		return RPC_FAILED;
	}
}

static int parse_kind(const char *w, enum kind *k)
{
	int i;

	for (i = 0; i < K_NR; i++) {
		if (!strcmp(w, kind_name[i])) {
			*k = (enum kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool needs_arg(enum kind k)
{
	return k == K_MNT || k == K_UMNT || k == K_SLEEP;
}

/* One script line: "mnt /x ok 123us", "mnt /x 13 98us", "dump 2 40us" + "  client path"... */
static void script_line(struct ctx *c, char *line)
{
	char *arg = NULL, *sp;
	enum clnt_stat st;
	uint64_t t0, t1;
	int32_t ms;
	enum kind k;

	sp = strchr(line, ' ');
	if (sp) {
		*sp = 0;
		arg = sp + 1;
	}
	if (!*line || line[0] == '#')
		return;
	if (parse_kind(line, &k) || needs_arg(k) != (arg != NULL)) {
		fprintf(stderr, "mnt3: bad script line: %s%s%s\n", line, arg ? " " : "",
			arg ? arg : "");
		c->worst = 2;
		return;
	}
	if (k == K_SLEEP) {
		long ms_ = strtol(arg, NULL, 10);
		struct timespec ts = {.tv_sec = ms_ / 1000, .tv_nsec = (ms_ % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		if (!c->o->quiet)
			printf("sleep %ld\n", ms_);
		return;
	}
	t0 = now_ns();
	st = do_call(c, k, arg, &ms);
	t1 = now_ns();
	if (st != RPC_SUCCESS) {
		c->worst = 2;
		printf("%s%s%s rpcerr %s\n", kind_name[k], arg ? " " : "", arg ? arg : "",
		       clnt_sperrno(st));
		return;
	}
	if (kstats_add(&c->ks[k], t0, t1))
		c->worst = 2;
	if (k == K_MNT && ms != 0 && c->worst < 1)
		c->worst = 1;
	if (c->o->quiet)
		return;
	if (k == K_MNT && ms != 0)
		printf("mnt %s %d %uus\n", arg, ms, (unsigned int)((t1 - t0) / 1000u));
	else if (k == K_DUMP)
		printf("dump %u %uus\n", c->dump.entries, (unsigned int)((t1 - t0) / 1000u));
	else
		printf("%s%s%s ok %uus\n", kind_name[k], arg ? " " : "", arg ? arg : "",
		       (unsigned int)((t1 - t0) / 1000u));
	if (k == K_DUMP) {
		char *s = c->dump.p, *e = c->dump.p + c->dump.len;

		while (s < e) {
			char *nl = memchr(s, '\n', (size_t)(e - s));

			printf("  %.*s\n", (int)(nl - s), s);
			s = nl + 1;
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t pct(const uint32_t *v, size_t n, unsigned int p)
{
	size_t r = (n * p + 99) / 100;

	return v[r ? r - 1 : 0];
}

static void print_stats(struct ctx *c)
{
	int i;

	for (i = 0; i < K_NR; i++) {
		struct kstats *k = &c->ks[i];
		double span;

		if (!k->n)
			continue;
		qsort(k->lat_us, k->n, sizeof(*k->lat_us), cmp_u32);
		span = (double)(k->last_ns - k->first_ns) / 1e9;
		printf("stats %s count=%zu ops/s=%.1f p50=%uus p99=%uus wall=%.3fs busy=%.3fs\n",
		       kind_name[i], k->n, span > 0 ? (double)k->n / span : 0.0,
		       pct(k->lat_us, k->n, 50), pct(k->lat_us, k->n, 99), span,
		       (double)k->busy_ns / 1e9);
	}
}

static int run_script(struct ctx *c)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		script_line(c, line);
		/* Line-buffer results so a coprocess driver can read them as they come. */
		if (!c->o->quiet)
			fflush(stdout);
	}
	free(line);
	if (c->o->stats)
		print_stats(c);
	return c->worst;
}

static int run_one(struct ctx *c, enum kind k, const char *path)
{
	enum clnt_stat st;
	int32_t ms;

	st = do_call(c, k, path, &ms);
	if (st != RPC_SUCCESS) {
		fprintf(stderr, "mnt3: %s: %s\n", kind_name[k], clnt_sperrno(st));
		return 2;
	}
	if (k == K_MNT && ms != 0) {
		printf("%d\n", ms);
		return 1;
	}
	if (k == K_DUMP) {
		fwrite(c->dump.p, 1, c->dump.len, stdout);
	} else if (k == K_MNT && c->o->verbose) {
		u_int i;

		printf("ok fh=");
		for (i = 0; i < c->res.fhlen; i++)
			printf("%02x", (unsigned char)c->res.fh[i]);
		printf(" flavors=");
		for (i = 0; i < c->res.nflavors; i++)
			printf("%s%d", i ? "," : "", c->res.flavors[i]);
		printf("\n");
	} else {
		printf("ok\n");
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mnt3 [-4|-6] [-u] [-b SRCADDR] [-p PORT] [-i] [-a unix|none] [-t SEC]\n"
		"            [-q] [-S] [-v]\n"
		"            HOST {mnt PATH | umnt PATH | umntall | dump | null | script}\n"
		"  script: stdin lines 'mnt PATH', 'umnt PATH', 'umntall', 'dump', 'null',\n"
		"          'sleep MS', all over one client connection\n"
		"  exit: 0 ok, 1 a MNT was refused (mountstat3 printed), 2 RPC or usage error\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.family = AF_UNSPEC, .timeout = 10};
	struct ctx c = {.o = &o};
	enum kind k = K_NULL;
	int ch, rc, i;

	while ((ch = getopt(argc, argv, "46ub:p:ia:t:qSvh")) != -1) {
		switch (ch) {
		case '4':
			o.family = AF_INET;
			break;
		case '6':
			o.family = AF_INET6;
			break;
		case 'u':
			o.udp = true;
			break;
		case 'b':
			o.src = optarg;
			break;
		case 'p':
			o.port = atoi(optarg);
			break;
		case 'i':
			o.insecure = true;
			break;
		case 'a':
			if (strcmp(optarg, "none") && strcmp(optarg, "unix")) {
				usage(stderr);
				return 2;
			}
			o.auth_none = !strcmp(optarg, "none");
			break;
		case 't':
			o.timeout = atoi(optarg);
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'S':
			o.stats = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind + 1], "script")) {
		if (parse_kind(argv[optind + 1], &k) || k == K_SLEEP ||
		    argc - optind != (needs_arg(k) ? 3 : 2)) {
			usage(stderr);
			return 2;
		}
	}
	rc = mnt3_connect(&o, argv[optind], &c.cl);
	if (rc)
		return 2;
	if (!strcmp(argv[optind + 1], "script"))
		rc = run_script(&c);
	else
		rc = run_one(&c, k, needs_arg(k) ? argv[optind + 2] : NULL);
	auth_destroy(c.cl->cl_auth);
	c.cl->cl_auth = NULL;
	clnt_destroy(c.cl);
	free(c.dump.p);
	for (i = 0; i < K_NR; i++)
		free(c.ks[i].lat_us);
	if (fflush(stdout) && !rc)
		rc = 2;
	return rc;
}
