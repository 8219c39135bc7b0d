/*
 * ctl_json: rmtabctl's JSON strings and the status lines -> JSON object conversion
 * (fs/ctl/json.c): the daemon's real lines typed as rmtabctl(8) documents (integers, seconds,
 * peers and skewed nodes as arrays of objects, absent known keys as null or []), keys it does
 * not know typed by their shape (the store process's lines), repeated keys as arrays, bytes
 * that are not UTF-8 and control characters escaped, and for random input always valid JSON
 * (checked by a small validator here).
 */
#include "test.h"

#include <rmtabfs/buf.h>
#include <rmtabfs/ctl_json.h>

/* ---- a strict JSON validator (RFC 8259), enough to catch what a consumer would reject ---- */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *value(const char *p, int depth);

static const char *string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20)
			return NULL;
		if (ch == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
				continue;
			}
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
			p++;
			continue;
		}
		if (ch >= 0x80) {
			int n = rfs_utf8_len((const unsigned char *)p);

			if (!n)
				return NULL;
			p += n;
			continue;
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *members(const char *p, int depth, char close, bool obj)
{
	p = ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (obj) {
			p = string(ws(p));
			if (!p)
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = value(p, depth + 1);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *value(const char *p, int depth)
{
	p = ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{')
		return members(p + 1, depth, '}', true);
	if (*p == '[')
		return members(p + 1, depth, ']', false);
	if (*p == '"')
		return string(p);
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	return number(p);
}

static bool valid_json(const char *s)
{
	const char *end = value(s, 0);

	return end && !*ws(end);
}

/* ---- helpers ---- */

/* The JSON of the lines, NUL-terminated; freed by the caller. */
static char *convert(const char *lines)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_status_json(lines, strlen(lines), &b), 0);
	assert_int_equal(rfs_buf_append(&b, "", 1), 0);
	if (!valid_json(b.data))
		fail_msg("not valid JSON:\n%s", b.data);
	return b.data;
}

#define assert_has(json, member)                                                                   \
	do {                                                                                       \
		if (!strstr((json), (member)))                                                     \
			fail_msg("no %s in\n%s", (member), (json));                                \
	} while (0)

/* The daemon's lines as fs/ctl.c and fs/repl.c write them today. */
static const char daemon_lines[] = "node: n1\n"
				   "mountpoint: /var/lib/nfs\n"
				   "statedir: /var/lib/rmtabfs\n"
				   "version: 0.9.0\n"
				   "records: 12\n"
				   "tombstones: 0\n"
				   "journal-ops: 40\n"
				   "commits: 20\n"
				   "ops-local: 30\n"
				   "ops-remote: 7\n"
				   "refused-writes: 1\n"
				   "gnfs-view: off\n"
				   "clock-skew: n3 ahead=42 ago=5\n"
				   "clock-hlc-ahead: 42\n"
				   "store: dir:/srv/store\n"
				   "state: connected\n"
				   "state-since: 12.5 s ago\n"
				   "last-error: \n"
				   "last-seq: 1796310348504842780\n"
				   "shipped-seq: 30\n"
				   "backlog: 1\n"
				   "shipped-ops: 29\n"
				   "snapshot: 3\n"
				   "log-segment: 2\n"
				   "stuck-call: 7.0 s\n"
				   "peer: n2 seq=5 segment=1 offset=300 behind=0\n"
				   "peer: n3 seq=9 segment=2 offset=10 behind=20 damaged\n";

static void test_daemon_lines_typed(void **state)
{
	char *j = convert(daemon_lines);

	assert_has(j, "\"node\": \"n1\"");
	assert_has(j, "\"mountpoint\": \"/var/lib/nfs\"");
	assert_has(j, "\"version\": \"0.9.0\"");
	assert_has(j, "\"records\": 12,");
	assert_has(j, "\"journal_ops\": 40,");
	assert_has(j, "\"ops_local\": 30,");
	assert_has(j, "\"refused_writes\": 1,");
	assert_has(j, "\"gnfs_view\": \"off\"");
	assert_has(j, "\"state_since\": 12.5,");
	assert_has(j, "\"stuck_call\": 7.0,");
	assert_has(j, "\"clock_hlc_ahead\": 42,");
	assert_has(j, "\"last_error\": \"\"");
	assert_has(j, "\"backlog\": 1,");
	assert_has(j, "\"last_seq\": 1796310348504842780,"); /* 64-bit, as it is */
	assert_has(j, "\"clock_skew\": [{\"node\": \"n3\", \"ahead\": 42, \"ago\": 5}]");
	assert_has(j, "\"peer\": [{\"node\": \"n2\", \"seq\": 5, \"segment\": 1, \"offset\": 300, "
		      "\"behind\": 0, \"damaged\": false}, {\"node\": \"n3\", \"seq\": 9, "
		      "\"segment\": 2, \"offset\": 10, \"behind\": 20, \"damaged\": true}]");
	/* absent known keys: null, present for a stable schema */
	assert_has(j, "\"refused\": null");
	assert_has(j, "\"clock_note\": null");
	free(j);
}

static void test_absent_keys(void **state)
{
	/* a daemon without a store: no store keys, no peers */
	char *j = convert("node: solo\nrecords: 0\n");

	assert_has(j, "\"node\": \"solo\"");
	assert_has(j, "\"store\": null");
	assert_has(j, "\"state_since\": null");
	assert_has(j, "\"backlog\": null");
	assert_has(j, "\"peer\": []");
	assert_has(j, "\"clock_skew\": []");
	free(j);
	j = convert("");
	assert_has(j, "\"node\": null");
	free(j);
}

static void test_known_key_in_another_form(void **state)
{
	/* a value not in its documented form is passed as a string, not guessed at */
	char *j = convert("records: many\nbacklog: 007\nstate-since: soon\nnode: 123\n");

	assert_has(j, "\"records\": \"many\"");
	assert_has(j, "\"backlog\": \"007\"");
	assert_has(j, "\"state_since\": \"soon\"");
	assert_has(j, "\"node\": \"123\""); /* a node name stays a string */
	free(j);
}

/* Lines rmtabctl does not know (the store side's process, a newer daemon): typed by shape,
 * after the known keys, in the daemon's order. */
static void test_unknown_keys_inferred(void **state)
{
	char *j = convert("store-pid: 4242\n"
			  "store-started: 2026-12-03T15:00:00+00:00\n"
			  "store-uptime: 61.5 s\n"
			  "store-restarts: 0\n"
			  "store-last-exit: killed by signal 9 (SIGKILL)\n"
			  "store-ratio: -0.25\n"
			  "store-process: worker pid=12 restarts=2 state=running stopped\n"
			  "reason: code=3\n"
			  "odd: 1e5\n"
			  "zeros: 0012\n"
			  "max: 18446744073709551615\n"
			  "above: 18446744073709551616\n");

	assert_has(j, "\"store_pid\": 4242");
	assert_has(j, "\"store_started\": \"2026-12-03T15:00:00+00:00\"");
	assert_has(j, "\"store_uptime\": 61.5");
	assert_has(j, "\"store_restarts\": 0");
	assert_has(j, "\"store_last_exit\": \"killed by signal 9 (SIGKILL)\"");
	assert_has(j, "\"store_ratio\": -0.25");
	assert_has(j, "\"store_process\": {\"name\": \"worker\", \"pid\": 12, \"restarts\": 2, "
		      "\"state\": \"running\", \"stopped\": true}");
	assert_has(j, "\"reason\": \"code=3\""); /* one word: not a record */
	assert_has(j, "\"odd\": \"1e5\"");
	assert_has(j, "\"zeros\": \"0012\"");
	assert_has(j, "\"max\": 18446744073709551615");
	assert_has(j, "\"above\": \"18446744073709551616\"");
	assert_true(strstr(j, "\"store_pid\"") < strstr(j, "\"zeros\""));
	assert_true(strstr(j, "\"peer\"") < strstr(j, "\"store_pid\""));
	free(j);
}

static void test_repeated_unknown_key_is_array(void **state)
{
	char *j = convert("worker: 1\nnode: n\nworker: 2\nworker: three\nsingle: x\n");

	assert_has(j, "\"worker\": [1, 2, \"three\"]");
	assert_has(j, "\"single\": \"x\"");
	/* a known single-valued key that repeats shows all its values rather than hide one */
	free(j);
	j = convert("node: a\nnode: b\n");
	assert_has(j, "\"node\": [\"a\", \"b\"]");
	free(j);
}

/* A record with tokens far longer than any buffer: every byte kept, still one object. */
static void test_long_tokens(void **state)
{
	struct rfs_buf in = RFS_BUF_INIT;
	char *j;

	assert_int_equal(rfs_buf_printf(&in, "peer: %0900d seq=%0700d k=", 7, 1), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(rfs_buf_append(&in, "v", 1), 0);
	assert_int_equal(rfs_buf_append(&in, " damaged\n", 10), 0);
	assert_int_equal(rfs_buf_append(&in, "", 1), 0);
	j = convert(in.data);
	assert_non_null(strstr(j, "\"peer\": [{\"node\": \"000"));
	assert_non_null(strstr(j, "07\", \"seq\": \"000")); /* leading zeros: a string */
	assert_non_null(strstr(j, "vvv\", \"damaged\": true}]"));
	free(j);
	rfs_buf_free(&in);
}

static void test_escaping(void **state)
{
	char *j = convert("last-error: open \"x\\y\": \x01\x7f caf\xe9 ok\xc3\xa9 \xed\xa0\x80\n"
			  "weird\x01key: \t\n"
			  "no separator line\n"
			  ": empty key\n");

	assert_has(j, "\"last_error\": \"open \\\"x\\\\y\\\": \\u0001\\u007f caf\\u00e9 "
		      "ok\xc3\xa9 \\u00ed\\u00a0\\u0080\"");
	assert_has(j, "\"weird\\u0001key\": \"\\u0009\"");
	assert_null(strstr(j, "separator"));
	assert_null(strstr(j, "empty key"));
	free(j);
}

static void test_json_string(void **state)
{
	struct rfs_buf b = RFS_BUF_INIT;

	assert_int_equal(rfs_json_string(&b, "a\"b\\c\nd\xf0\x9f\x98\x80\xf4\x90\x80\x80"), 0);
	assert_int_equal(rfs_buf_append(&b, "", 1), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\xf0\x9f\x98\x80\\u00f4\\u0090\\u0080"
				    "\\u0080\"");
	rfs_buf_free(&b);
	assert_int_equal(rfs_utf8_len((const unsigned char *)"\xc3\xa9"), 2);
	assert_int_equal(rfs_utf8_len((const unsigned char *)"\xc0\x80"), 0);	  /* overlong */
	assert_int_equal(rfs_utf8_len((const unsigned char *)"\xe0\x80\x80"), 0); /* overlong */
	assert_int_equal(rfs_utf8_len((const unsigned char *)"\xed\xa0\x80"), 0); /* surrogate */
	assert_int_equal(rfs_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf"), 4);
	/* the validator the other cases rely on rejects what a consumer would */
	assert_true(valid_json("{\"a\": [1, -2.5, \"x\", true, null, {}]}"));
	assert_false(valid_json("{\"a\": 01}"));
	assert_false(valid_json("{\"a\": }"));
	assert_false(valid_json("{\"a\": 1,}"));
	assert_false(valid_json("\"\x01\""));
	assert_false(valid_json("\"\xff\""));
	assert_false(valid_json("[1] 2"));
}

/* Whatever bytes arrive, the output is valid JSON (random lines built from a small
 * alphabet that hits every branch: separators, '=', digits, dots, high bytes). */
static void test_random_input_valid_json(void **state)
{
	static const char alpha[] = "ab-=:. 0123456789sago\n\"\\\x01\xc3\xa9\xff\xed\xa0\x80\t";
	uint64_t seed = test_seed(16);
	struct test_rng rng = {seed};
	char text[512];
	int round;

	for (round = 0; round < 3000; round++) {
		size_t n = (size_t)rng_below(&rng, sizeof(text) - 1), i;
		struct rfs_buf b = RFS_BUF_INIT;

		for (i = 0; i < n; i++)
			text[i] = alpha[rng_below(&rng, sizeof(alpha) - 1)];
		text[n] = '\0';
		if (round % 3 == 0 && n > 20)
			memcpy(text, "peer: x seq=1 bad\n", 18);
		assert_int_equal(rfs_status_json(text, n, &b), 0);
		assert_int_equal(rfs_buf_append(&b, "", 1), 0);
		check_seed(valid_json(b.data), seed, "round %d: not valid JSON for %zu bytes:\n%s",
			   round, n, b.data);
		rfs_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_lines_typed),
		cmocka_unit_test(test_absent_keys),
		cmocka_unit_test(test_known_key_in_another_form),
		cmocka_unit_test(test_unknown_keys_inferred),
		cmocka_unit_test(test_repeated_unknown_key_is_array),
		cmocka_unit_test(test_long_tokens),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_random_input_valid_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
