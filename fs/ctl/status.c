/*
 * rmtabctl status: the daemon's "key: value" status lines (fs/ctl.c, the store side's status)
 * shown in words for a person, or with --json as one object for monitoring.
 *
 * Invariants: every line the daemon sends is shown, whether rmtabctl knows its key or not
 * (unknown keys as "key: value" after the rest, and as inferred members in the JSON: see
 * fs/ctl/json.c), so a newer daemon's lines are never hidden. With --json, stdout holds one
 * JSON document whatever happened, also when the daemon cannot be reached (then "ok": false,
 * an "error" object, exit status 1; the one-line message still goes to stderr).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <config.h>
#include <rmtabfs/buf.h>
#include <rmtabfs/ctl_args.h>
#include <rmtabfs/ctl_cmd.h>
#include <rmtabfs/ctl_json.h>
#include <rmtabfs/ctl_out.h>

/* The daemon's "key: value" lines, in their order; "used" marks what has been shown. */
struct kv_line {
	char *key, *val;
	bool used;
};

struct kv {
	struct kv_line *v;
	size_t n;
};

/* The first value of key not shown yet (a key may repeat: "peer"). */
static const char *kv_get(struct kv *kv, const char *key)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (!kv->v[i].used && strcmp(kv->v[i].key, key) == 0) {
			kv->v[i].used = true;
			return kv->v[i].val;
		}
	return NULL;
}

/* Splits text in place; lines without ": " are not status lines and are skipped. */
static int kv_parse(char *text, struct kv *kv)
{
	size_t cap = 0;
	char *p, *end;

	for (p = text; *p; p = end) {
		char *sep;

		end = strchr(p, '\n');
		end = end ? (*end = '\0', end + 1) : p + strlen(p);
		sep = strstr(p, ": ");
		if (!sep)
			continue;
		*sep = '\0';
		if (kv->n == cap) {
			struct kv_line *v = realloc(kv->v, (cap + 32) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			kv->v = v;
			cap += 32;
		}
		kv->v[kv->n++] = (struct kv_line){.key = p, .val = sep + 2};
	}
	return 0;
}

#define STATUS_FMT "%-13s "

/* "peer: NAME seq=N offset=N behind=N [damaged]": one row of the nodes table. */
static void status_peer(char *val, int wnode)
{
	char *name, *seq = NULL, *behind = NULL, *tok, *save = NULL;
	bool damaged = false;

	name = strtok_r(val, " ", &save);
	while ((tok = strtok_r(NULL, " ", &save))) {
		if (strncmp(tok, "seq=", 4) == 0)
			seq = tok + 4;
		else if (strncmp(tok, "behind=", 7) == 0)
			behind = tok + 7;
		else if (strcmp(tok, "damaged") == 0)
			damaged = true;
	}
	printf("  %-*s  %-10s  ", wnode, name ? name : "?", seq ? seq : "?");
	if (!behind)
		printf("unknown");
	else if (strcmp(behind, "0") == 0)
		printf("up to date");
	else
		printf("%s byte(s) of its log not read yet", behind);
	printf("%s\n", damaged ? "; log damaged, reading stopped (see the daemon's log)" : "");
}

/* Clock skew the daemon saw (see rfs_ctl's status_clock), in words. */
static void status_clock(struct kv *kv)
{
	const char *v;

	while ((v = kv_get(kv, "clock-skew"))) {
		char name[80] = "?";
		double ahead = 0, ago = 0;

		sscanf(v, "%79s ahead=%lf ago=%lf", name, &ahead, &ago);
		printf(STATUS_FMT "node %s stamps its changes %.0f s ahead of this node's clock "
				  "(seen %.0f s ago): applied, but this node's clock does not "
				  "follow them past maxskew=\n",
		       "clock skew:", name, ahead, ago);
	}
	if ((v = kv_get(kv, "clock-hlc-ahead")))
		printf(STATUS_FMT "this node's own stamps run %s s ahead of its clock: it changed "
				  "records stamped ahead by a skewed node\n",
		       "clock skew:", v);
	if ((v = kv_get(kv, "clock-note")))
		printf(STATUS_FMT "%s\n", "clock skew:", v);
}

/* node, mount point, store, backlog, records... : the summary lines. */
static void status_summary(struct kv *kv, const char *node, const char *backlog)
{
	const char *v, *state, *since, *records, *tomb;

	printf(STATUS_FMT "%s\n", "node:", node ? node : "?");
	if ((v = kv_get(kv, "mountpoint")))
		printf(STATUS_FMT "%s\n", "mount point:", v);
	state = kv_get(kv, "state");
	since = kv_get(kv, "state-since");
	if ((v = kv_get(kv, "store")))
		printf(STATUS_FMT "%s: %s%s%s%s\n", "store:", v, state ? state : "state unknown",
		       since ? " (changed " : "", since ? since : "", since ? ")" : "");
	else
		printf(STATUS_FMT "%s\n", "store:", "none (this daemon does not replicate)");
	if ((v = kv_get(kv, "stuck-call")))
		printf(STATUS_FMT "a store call has been hanging for %s\n", "warning:", v);
	if ((v = kv_get(kv, "refused")))
		printf(STATUS_FMT "%s\n", "refused:", v);
	if (backlog)
		printf(STATUS_FMT "%s op(s) of this node not on the store yet\n",
		       "backlog:", backlog);
	if ((v = kv_get(kv, "last-error")))
		printf(STATUS_FMT "%s\n", "last error:", *v ? v : "none");
	records = kv_get(kv, "records");
	tomb = kv_get(kv, "tombstones");
	if (records)
		printf(STATUS_FMT "%s (plus %s tombstone(s) of removed records)\n",
		       "records:", records, tomb ? tomb : "0");
	if ((v = kv_get(kv, "journal-ops")))
		printf(STATUS_FMT "%s op(s) in the local journal\n", "journal:", v);
	if ((v = kv_get(kv, "gnfs-view")))
		printf(STATUS_FMT "%s\n", "gNFS view:", v);
	if ((v = kv_get(kv, "statedir")))
		printf(STATUS_FMT "%s\n", "state dir:", v);
	if ((v = kv_get(kv, "version")))
		printf(STATUS_FMT "%s\n", "version:", v);
}

/* Every node seen: this one (what it has shipped), then the others (what we read). */
static void status_nodes(struct kv *kv, const char *node, const char *backlog)
{
	const char *last = kv_get(kv, "last-seq"), *shipped = kv_get(kv, "shipped-seq");
	int wnode = node ? (int)strlen(node) : 4;
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (!kv->v[i].used && strcmp(kv->v[i].key, "peer") == 0 &&
		    (int)strcspn(kv->v[i].val, " ") > wnode)
			wnode = (int)strcspn(kv->v[i].val, " ");
	wnode = wnode < 4 ? 4 : wnode;
	printf("nodes:\n  %-*s  %-10s  %s\n", wnode, "NODE", "LAST SEQ", "BEHIND");
	printf("  %-*s  %-10s  ", wnode, node ? node : "?", last ? last : "?");
	if (!backlog)
		printf("(this node)\n");
	else if (strcmp(backlog, "0") == 0)
		printf("(this node) all shipped\n");
	else
		printf("(this node) %s op(s) to ship, store has up to %s\n", backlog,
		       shipped ? shipped : "?");
	for (i = 0; i < kv->n; i++)
		if (!kv->v[i].used && strcmp(kv->v[i].key, "peer") == 0) {
			kv->v[i].used = true;
			status_peer(kv->v[i].val, wnode);
		}
}

/* The counters on one line, then anything a newer daemon reports, as it came. */
static void status_rest(struct kv *kv)
{
	static const char *const counters[] = {"commits", "ops-local", "ops-remote",
					       "refused-writes", "shipped-ops"};
	const char *v;
	bool any = false;
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if ((v = kv_get(kv, counters[i]))) {
			if (any)
				printf(", ");
			else
				printf(STATUS_FMT, "counters:");
			printf("%s %s", counters[i], v);
			any = true;
		}
	if (any)
		putchar('\n');
	for (i = 0; i < kv->n; i++)
		if (!kv->v[i].used)
			printf("%s: %s\n", kv->v[i].key, kv->v[i].val);
}

static int status_text(struct rfs_buf *out)
{
	struct kv kv = {0};
	const char *node, *backlog;

	if (rfs_buf_append(out, "", 1) || kv_parse(out->data, &kv)) {
		ctl_err("out of memory");
		free(kv.v);
		return CTL_EXIT_FAIL;
	}
	node = kv_get(&kv, "node");
	backlog = kv_get(&kv, "backlog");
	status_summary(&kv, node, backlog);
	status_nodes(&kv, node, backlog);
	status_clock(&kv);
	status_rest(&kv);
	free(kv.v);
	return ctl_finish_stdout(CTL_EXIT_OK);
}

/* The status object, indented one level deeper (a raw newline only ever separates members:
 * strings carry theirs escaped). */
static int nested_status(struct rfs_buf *j, const struct rfs_buf *lines)
{
	struct rfs_buf o = RFS_BUF_INIT;
	size_t i;
	int rc;

	rc = rfs_status_json(lines->data ? lines->data : "", lines->len, &o);
	for (i = 0; !rc && i < o.len; i++)
		rc = o.data[i] == '\n' ? rfs_buf_append(j, "\n  ", 3)
				       : rfs_buf_append(j, o.data + i, 1);
	rfs_buf_free(&o);
	return rc;
}

/*
 * The --json document: {"schema_version", "ok", "socket", "error", "status"}; status is the
 * daemon's lines (rfs_status_json) or null, error null or {"kind", "errno", "message"}.
 */
static int status_json(const struct ctl_ctx *c, bool ok, const struct rfs_buf *lines)
{
	struct rfs_buf j = RFS_BUF_INIT;
	int rc;

	rc = rfs_buf_printf(&j, "{\n  \"schema_version\": %d,\n  \"ok\": %s,\n  \"socket\": ",
			    RFS_STATUS_JSON_VERSION, ok ? "true" : "false");
	if (!rc)
		rc = rfs_json_string(&j, c->socket);
	if (!rc && ok)
		rc = rfs_buf_printf(&j, ",\n  \"error\": null,\n  \"status\": ");
	if (!rc && ok)
		rc = nested_status(&j, lines);
	if (!rc && !ok) {
		struct ctl_failure_info f = ctl_last_failure();
		const char *name = f.err ? strerrorname_np(f.err) : NULL;

		rc = rfs_buf_printf(&j, ",\n  \"error\": {\"kind\": \"%s\", \"errno\": ",
				    ctl_failure_name(f.kind));
		if (!rc)
			rc = name ? rfs_json_string(&j, name) : rfs_buf_printf(&j, "null");
		if (!rc)
			rc = rfs_buf_printf(&j, ", \"message\": ");
		if (!rc)
			rc = rfs_json_string(&j, ctl_last_message());
		if (!rc)
			rc = rfs_buf_printf(&j, "},\n  \"status\": null");
	}
	if (!rc)
		rc = rfs_buf_printf(&j, "\n}\n");
	if (rc) {
		ctl_err("out of memory");
		rfs_buf_free(&j);
		return CTL_EXIT_FAIL;
	}
	fwrite(j.data, 1, j.len, stdout);
	rfs_buf_free(&j);
	return ctl_finish_stdout(ok ? CTL_EXIT_OK : CTL_EXIT_FAIL);
}

int ctl_cmd_status(const struct ctl_ctx *c, int argc, char **argv)
{
	static const char *const req[] = {"status"};
	struct rfs_buf out = RFS_BUF_INIT;
	struct ctl_args a;
	int rc;

	rc = ctl_parse_args("status", argc, argv, CTL_OPT_JSON, &a);
	if (rc != -1)
		return rc;
	if (a.nargs)
		return ctl_usage_error("status: takes no arguments");
	rc = ctl_call(c, req, 1, NULL, &out);
	if (a.json)
		rc = status_json(c, rc == 0, &out);
	else
		rc = rc ? CTL_EXIT_FAIL : status_text(&out);
	rfs_buf_free(&out);
	return rc;
}
