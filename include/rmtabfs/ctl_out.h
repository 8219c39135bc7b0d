/*
 * rmtabctl's output: the one-line error messages, the exit statuses, the end of stdout, and
 * the pieces of the tables and JSON (times, strings).
 */
#ifndef RMTABFS_CTL_OUT_H
#define RMTABFS_CTL_OUT_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_PROG "rmtabctl"

enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* One line "rmtabctl: MESSAGE" on stderr; the message is also kept for ctl_last_message(). */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The text of the last ctl_err() ("" if none): for the error object of --json. */
const char *ctl_last_message(void);

/* Wrong command line shape: the message, a pointer to --help; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A value that cannot be right (a count, a key, a duration): the message says why. Also a
 * usage error (nothing has been sent to the daemon): returns CTL_EXIT_USAGE. */
int ctl_bad_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends the program's output: a full disk or a closed pipe is a failure (CTL_EXIT_FAIL),
 * not a success; otherwise returns status. */
int ctl_finish_stdout(int status);

/* ns since the epoch as "2024-11-25 11:47:03" (local time) or, iso, as RFC 3339
 * "2024-11-25T11:47:03+01:00"; the plain number if the time cannot be converted. */
void ctl_format_time(unsigned long long ns, bool iso, char *out, size_t len);

/* s as a JSON string on stdout (see rfs_json_string). */
void ctl_json_string(const char *s);

/* The larger of a and strlen(s): column widths. */
size_t ctl_max_len(size_t a, const char *s);

#endif
