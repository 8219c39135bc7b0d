/*
 * rmtabctl's client of the daemon's control socket (protocol: include/rmtabfs/ctl.h).
 */
#ifndef RMTABFS_CTL_CLIENT_H
#define RMTABFS_CTL_CLIENT_H

#include <rmtabfs/buf.h>

struct ctl_ctx {
	const char *socket;	/* resolved control socket path */
	const char *mountpoint; /* for the hint in messages; NULL with -s */
	double timeout;		/* seconds to wait for the daemon; 0: forever */
};

/* Why the last ctl_call() failed: the "kind" of the error object of `status --json`. */
enum ctl_failure {
	CTL_FAIL_NONE,
	CTL_FAIL_UNREACHABLE, /* no daemon listens (connect failed) */
	CTL_FAIL_TIMEOUT,     /* no answer within -t */
	CTL_FAIL_IO,	      /* reading the answer failed */
	CTL_FAIL_PROTOCOL,    /* closed without an answer, or an answer not in the protocol */
	CTL_FAIL_REFUSED,     /* the daemon answered "error: ..." */
	CTL_FAIL_NOMEM,
};

struct ctl_failure_info {
	enum ctl_failure kind;
	int err; /* the errno behind it, or 0 */
};

/*
 * Sends one request (args one per line, an empty line, then for import the body and another
 * empty line) and reads the reply. On "ok" the body is appended to out and 0 returned; every
 * failure has been reported on stderr (one line) and recorded for ctl_last_failure() when
 * this returns -errno (-EREMOTEIO: the daemon answered with an error).
 */
int ctl_call(const struct ctl_ctx *c, const char *const *args, int nargs,
	     const struct rfs_buf *body, struct rfs_buf *out);

struct ctl_failure_info ctl_last_failure(void);
/* "unreachable", "timeout", ...: the names rmtabctl(8) documents. */
const char *ctl_failure_name(enum ctl_failure kind);

#endif
