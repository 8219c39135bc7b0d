/*
 * rmtabctl's output: one-line errors on stderr, usage errors, the end of stdout, and the
 * formatting the commands share (times, JSON strings, column widths).
 *
 * Invariants: every error is exactly one line on stderr starting with "rmtabctl: ", written
 * after whatever stdout holds so far (flushed first, so the two interleave as they happened).
 * The last message is kept for the error object of `status --json`. Single-threaded program:
 * the one static buffer needs no lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rmtabfs/buf.h>
#include <rmtabfs/ctl_json.h>
#include <rmtabfs/ctl_out.h>

static char last_message[1024];

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, CTL_PROG ": %s\n", last_message);
}

const char *ctl_last_message(void)
{
	return last_message;
}

static int usage_verror(bool hint, const char *fmt, va_list ap)
{
	fputs(CTL_PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(hint ? " (see '" CTL_PROG " --help')\n" : "\n", stderr);
	return CTL_EXIT_USAGE;
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usage_verror(true, fmt, ap);
	va_end(ap);
	return rc;
}

int ctl_bad_value(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = usage_verror(false, fmt, ap);
	va_end(ap);
	return rc;
}

int ctl_finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_err("cannot write the output: %s", strerror(errno ? errno : EIO));
		return CTL_EXIT_FAIL;
	}
	return status;
}

void ctl_format_time(unsigned long long ns, bool iso, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	size_t n;

	if (!localtime_r(&t, &tm) ||
	    !(n = strftime(out, len, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S", &tm))) {
		snprintf(out, len, "%llu", ns);
		return;
	}
	/* %z gives "+0100"; RFC 3339 (and every JSON consumer's parser) wants "+01:00" */
	if (iso && n >= 5 && n + 2 <= len) {
		memmove(out + n - 1, out + n - 2, 3);
		out[n - 2] = ':';
	}
}

void ctl_json_string(const char *s)
{
	struct rfs_buf b = RFS_BUF_INIT;

	if (rfs_json_string(&b, s) == 0)
		fwrite(b.data, 1, b.len, stdout);
	else
		fputs("null",
		      stdout); /* out of memory: still valid JSON, and stdout's end says so */
	rfs_buf_free(&b);
}

size_t ctl_max_len(size_t a, const char *s)
{
	size_t n = strlen(s);

	return n > a ? n : a;
}
