/*
 * JSON for rmtabctl: strings from raw bytes, and the daemon's "key: value" status lines as
 * one JSON object (the "status" member of `rmtabctl status --json`, schema in rmtabctl(8)).
 * Pure functions over memory: no I/O, no global state.
 */
#ifndef RMTABFS_CTL_JSON_H
#define RMTABFS_CTL_JSON_H

#include <stddef.h>

#include <rmtabfs/buf.h>

/* The schema_version of `rmtabctl status --json`: raised when a member changes meaning or
 * type (new members do not raise it). */
#define RFS_STATUS_JSON_VERSION 1

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong form, no surrogate, at most
 * U+10FFFF; p NUL-terminated), or 0 when p does not start one. */
int rfs_utf8_len(const unsigned char *p);

/* Appends s as a JSON string: valid UTF-8 as it is, control characters escaped, a byte that
 * is not part of valid UTF-8 as \u00XX (so the output is always valid JSON). 0 or -ENOMEM. */
int rfs_json_string(struct rfs_buf *out, const char *s);

/*
 * Appends the status lines text[0..len) as one JSON object. Keys: the daemon's keys with '-'
 * turned into '_'. The keys rmtabctl knows get their documented type and are always present
 * (null when the daemon did not send them; "peer" and "clock_skew" are arrays, possibly empty);
 * other keys are typed by the shape of their value (integer, number, "N s"/"N s ago" as seconds,
 * "NAME k=v..." as an object, anything else a string) and become an array when repeated.
 * Lines without ": " are skipped. 0 or -ENOMEM (out is then unchanged).
 */
int rfs_status_json(const char *text, size_t len, struct rfs_buf *out);

#endif
