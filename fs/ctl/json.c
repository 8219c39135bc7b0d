/*
 * JSON for rmtabctl: raw bytes as JSON strings, and the daemon's status lines ("key: value",
 * fs/ctl.c and the store side's status) as one JSON object for monitoring.
 *
 * Invariants: the output is always valid JSON whatever bytes the daemon sends; a key
 * listed in known[] always has the same JSON type (its documented one, or null when absent,
 * or [] for a list), so a monitoring rule written against one daemon keeps working against
 * another that sends fewer lines; any other key (a newer daemon's, the store process's) is
 * passed on with a type inferred from its value, so rmtabctl need not be changed when the
 * daemon grows a line. The schema is documented in rmtabctl(8); keep both in step.
 * Pure: no I/O, no global state, no locks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rmtabfs/ctl_json.h>

int rfs_utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int rfs_json_string(struct rfs_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = out->len;
	int rc = rfs_buf_append(out, "\"", 1);

	while (!rc && *p) {
		int n = *p >= 0x80 ? rfs_utf8_len(p) : 1;

		if (*p == '"' || *p == '\\')
			rc = rfs_buf_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			rc = rfs_buf_printf(out, "\\u%04x", *p);
		else
			rc = rfs_buf_append(out, p, (size_t)n);
		p += n ? n : 1;
	}
	if (!rc)
		rc = rfs_buf_append(out, "\"", 1);
	if (rc)
		out->len = start;
	return rc;
}

/* ---- values ---- */

/* Digits of a 64-bit integer without a leading zero (JSON refuses those): "0", "-12",
 * "18446744073709551615". */
static bool int_digits(const char *p, size_t n)
{
	if (n == 0 || n > 20 || (n > 1 && *p == '0'))
		return false;
	/* 20 digits: no more than UINT64_MAX (sequence numbers use the whole range) */
	return n < 20 || strncmp(p, "18446744073709551615", 20) <= 0;
}

/* An integer: the daemon's counters, sequence numbers, sizes. */
static bool is_int(const char *s)
{
	const char *p = s + (*s == '-');
	size_t n = strspn(p, "0123456789");

	return int_digits(p, n) && !p[n];
}

/* An integer or a decimal fraction ("1.5", "-0.25"): the forms the daemon prints. */
static bool is_number(const char *s)
{
	const char *p = s + (*s == '-');
	size_t n = strspn(p, "0123456789"), f;

	if (!int_digits(p, n))
		return false;
	if (!p[n])
		return true;
	if (p[n] != '.')
		return false;
	f = strspn(p + n + 1, "0123456789");
	return f > 0 && f <= 9 && !p[n + 1 + f];
}

/* A duration: "N s" or "N s ago" (with_unit), or also plain "N" seconds. Writes the
 * number's text into num. */
static bool is_seconds(const char *s, bool unit_needed, char *num, size_t numlen)
{
	size_t n = strcspn(s, " ");

	if (n >= numlen)
		return false;
	memcpy(num, s, n);
	num[n] = '\0';
	if (!is_number(num))
		return false;
	if (!s[n])
		return !unit_needed;
	return strcmp(s + n, " s") == 0 || strcmp(s + n, " s ago") == 0;
}

static int put_number(struct rfs_buf *out, const char *s)
{
	/* is_number() took out leading zeros, exponents and everything JSON refuses */
	return rfs_buf_append(out, s, strlen(s));
}

/* A record field value: a number when it is one, else a string. */
static int put_scalar(struct rfs_buf *out, const char *s)
{
	return is_number(s) ? put_number(out, s) : rfs_json_string(out, s);
}

/* A key as JSON wants it for jq's .name: '-' becomes '_'. */
static int put_key(struct rfs_buf *out, const char *key, size_t len)
{
	char name[128];
	size_t i;

	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	for (i = 0; i < len; i++)
		name[i] = key[i] == '-' ? '_' : key[i];
	name[len] = '\0';
	return rfs_json_string(out, name);
}

/* ---- records: "NAME k=v k=v flag" ---- */

static bool is_word(const char *t, size_t n)
{
	size_t i;

	if (!n || t[0] < 'a' || t[0] > 'z')
		return false;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || t[i] == '-' || t[i] == '_'))
			return false;
	return true;
}

/* Does v look like "NAME k=v ..." (at least one k=v after the name, otherwise only bare
 * lower-case words as flags)? Free text is rarely that regular. */
static bool is_record(const char *v)
{
	const char *t = v + strcspn(v, " ");
	bool kv = false;

	if (!*t || strchr(v, '\t'))
		return false;
	while (*t == ' ') {
		size_t n;
		const char *eq;

		t++;
		n = strcspn(t, " ");
		eq = memchr(t, '=', n);
		if (eq && eq > t)
			kv = true;
		else if (!is_word(t, n))
			return false;
		t += n;
	}
	return kv && !*t;
}

/* flags: the bare words this key may carry, always present as true/false. */
static int put_record(struct rfs_buf *out, const char *v, const char *namekey,
		      const char *const *flags)
{
	const char *t = v;
	bool first = true;
	int rc = rfs_buf_append(out, "{", 1), i;

	while (!rc && *t) {
		size_t n = strcspn(t, " ");
		const char *eq = memchr(t, '=', n);
		char *tok = strndup(t, n);

		if (!tok)
			return -ENOMEM;
		rc = rfs_buf_append(out, first ? "" : ", ", first ? 0 : 2);
		if (!rc && t == v && !eq) {
			rc = rfs_json_string(out, namekey);
			if (!rc)
				rc = rfs_buf_append(out, ": ", 2);
			if (!rc)
				rc = rfs_json_string(out, tok);
		} else if (!rc && eq) {
			rc = put_key(out, tok, (size_t)(eq - t));
			if (!rc)
				rc = rfs_buf_append(out, ": ", 2);
			if (!rc)
				rc = put_scalar(out, tok + (eq - t) + 1);
		} else if (!rc) {
			rc = put_key(out, tok, n);
			if (!rc)
				rc = rfs_buf_append(out, ": true", 6);
		}
		free(tok);
		first = false;
		t += n;
		t += strspn(t, " ");
	}
	/* the known flags that were not there */
	for (i = 0; !rc && flags && flags[i]; i++) {
		size_t fl = strlen(flags[i]);
		const char *p = v;
		bool seen = false;

		while ((p = strstr(p, flags[i]))) {
			if ((p == v || p[-1] == ' ') && (!p[fl] || p[fl] == ' '))
				seen = true;
			p += fl;
		}
		if (!seen) {
			rc = rfs_buf_append(out, first ? "" : ", ", first ? 0 : 2);
			if (!rc)
				rc = put_key(out, flags[i], fl);
			if (!rc)
				rc = rfs_buf_append(out, ": false", 7);
			first = false;
		}
	}
	return rc ? rc : rfs_buf_append(out, "}", 1);
}

/* ---- the known keys ---- */

enum jtype { J_STR, J_INT, J_SECS, J_LIST };

static const char *const peer_flags[] = {"damaged", NULL};

static const struct known {
	const char *key;
	enum jtype type;
	const char *namekey;	  /* J_LIST: the member for the first word */
	const char *const *flags; /* J_LIST: bare words always given as booleans */
} known[] = {
	{"node", J_STR, NULL, NULL},	       {"mountpoint", J_STR, NULL, NULL},
	{"statedir", J_STR, NULL, NULL},       {"version", J_STR, NULL, NULL},
	{"records", J_INT, NULL, NULL},	       {"tombstones", J_INT, NULL, NULL},
	{"journal-ops", J_INT, NULL, NULL},    {"commits", J_INT, NULL, NULL},
	{"ops-local", J_INT, NULL, NULL},      {"ops-remote", J_INT, NULL, NULL},
	{"refused-writes", J_INT, NULL, NULL}, {"gnfs-view", J_STR, NULL, NULL},
	{"clock-skew", J_LIST, "node", NULL},  {"clock-hlc-ahead", J_SECS, NULL, NULL},
	{"clock-note", J_STR, NULL, NULL},     {"store", J_STR, NULL, NULL},
	{"state", J_STR, NULL, NULL},	       {"state-since", J_SECS, NULL, NULL},
	{"last-error", J_STR, NULL, NULL},     {"last-seq", J_INT, NULL, NULL},
	{"shipped-seq", J_INT, NULL, NULL},    {"backlog", J_INT, NULL, NULL},
	{"shipped-ops", J_INT, NULL, NULL},    {"snapshot", J_INT, NULL, NULL},
	{"log-segment", J_INT, NULL, NULL},    {"stuck-call", J_SECS, NULL, NULL},
	{"refused", J_STR, NULL, NULL},	       {"peer", J_LIST, "node", peer_flags},
};

#define NKNOWN (sizeof(known) / sizeof(known[0]))

struct line {
	const char *key, *val;
};

static const struct known *find_known(const char *key)
{
	size_t i;

	for (i = 0; i < NKNOWN; i++)
		if (strcmp(known[i].key, key) == 0)
			return &known[i];
	return NULL;
}

/* One value of a known key, in its type; a value not in its documented form (a daemon
 * that changed) is passed as a string rather than guessed at. */
static int put_known(struct rfs_buf *out, const struct known *k, const char *v)
{
	char num[32];

	switch (k->type) {
	case J_INT:
		return is_int(v) ? put_number(out, v) : rfs_json_string(out, v);
	case J_SECS:
		return is_seconds(v, false, num, sizeof(num)) ? put_number(out, num)
							      : rfs_json_string(out, v);
	case J_LIST:
		return put_record(out, v, k->namekey, k->flags);
	case J_STR:
		break;
	}
	return rfs_json_string(out, v);
}

/* A value of a key rmtabctl does not know, typed by its shape. */
static int put_inferred(struct rfs_buf *out, const char *v)
{
	char num[32];

	if (is_number(v))
		return put_number(out, v);
	if (is_seconds(v, true, num, sizeof(num)))
		return put_number(out, num);
	if (is_record(v))
		return put_record(out, v, "name", NULL);
	return rfs_json_string(out, v);
}

/* Every value of key (lines[from..]) as one member: a list, a single value or null. */
static int put_member(struct rfs_buf *out, const struct line *l, size_t n, size_t from,
		      const struct known *k, bool *comma)
{
	size_t i, count = 0;
	bool list = k ? k->type == J_LIST : false;
	int rc;

	for (i = from; i < n; i++)
		count += strcmp(l[i].key, l[from].key) == 0;
	list |= count > 1;
	rc = rfs_buf_append(out, *comma ? ",\n  " : "\n  ", *comma ? 4 : 3);
	if (!rc)
		rc = put_key(out, l[from].key, strlen(l[from].key));
	if (!rc)
		rc = rfs_buf_append(out, list ? ": [" : ": ", list ? 3 : 2);
	for (i = from, count = 0; !rc && i < n; i++) {
		if (strcmp(l[i].key, l[from].key) != 0)
			continue;
		if (count++)
			rc = rfs_buf_append(out, ", ", 2);
		if (!rc)
			rc = k ? put_known(out, k, l[i].val) : put_inferred(out, l[i].val);
		if (!list)
			break;
	}
	if (!rc && list)
		rc = rfs_buf_append(out, "]", 1);
	*comma = true;
	return rc;
}

/* Splits text (copied) into lines; lines without ": " are not status lines. */
static int split_lines(const char *text, size_t len, char **copy, struct line **lp, size_t *np)
{
	struct line *l = NULL;
	size_t n = 0, cap = 0;
	char *p, *end;

	*copy = malloc(len + 1);
	if (!*copy)
		return -ENOMEM;
	memcpy(*copy, text, len);
	(*copy)[len] = '\0';
	for (p = *copy; *p; p = end) {
		char *sep;

		end = strchr(p, '\n');
		end = end ? (*end = '\0', end + 1) : p + strlen(p);
		sep = strstr(p, ": ");
		if (!sep || sep == p)
			continue;
		*sep = '\0';
		if (n == cap) {
			struct line *nl = realloc(l, (cap + 32) * sizeof(*l));

			if (!nl) {
				free(l);
				free(*copy);
				return -ENOMEM;
			}
			l = nl;
			cap += 32;
		}
		l[n++] = (struct line){.key = p, .val = sep + 2};
	}
	*lp = l;
	*np = n;
	return 0;
}

int rfs_status_json(const char *text, size_t len, struct rfs_buf *out)
{
	struct line *l = NULL;
	size_t n = 0, i, j, start = out->len;
	char *copy = NULL;
	bool comma = false;
	int rc;

	rc = split_lines(text, len, &copy, &l, &n);
	if (rc)
		return rc;
	rc = rfs_buf_append(out, "{", 1);
	/* the known keys first, in a fixed order */
	for (i = 0; !rc && i < NKNOWN; i++) {
		for (j = 0; j < n && strcmp(l[j].key, known[i].key) != 0; j++)
			;
		if (j < n) {
			rc = put_member(out, l, n, j, &known[i], &comma);
			continue;
		}
		rc = rfs_buf_append(out, comma ? ",\n  " : "\n  ", comma ? 4 : 3);
		if (!rc)
			rc = put_key(out, known[i].key, strlen(known[i].key));
		if (!rc)
			rc = known[i].type == J_LIST ? rfs_buf_append(out, ": []", 4)
						     : rfs_buf_append(out, ": null", 6);
		comma = true;
	}
	/* then the others in the daemon's order, each once */
	for (i = 0; !rc && i < n; i++) {
		if (find_known(l[i].key))
			continue;
		for (j = 0; j < i && strcmp(l[j].key, l[i].key) != 0; j++)
			;
		if (j == i)
			rc = put_member(out, l, n, i, NULL, &comma);
	}
	if (!rc)
		rc = rfs_buf_append(out, "\n}", 2);
	if (rc)
		out->len = start;
	free(l);
	free(copy);
	return rc;
}
