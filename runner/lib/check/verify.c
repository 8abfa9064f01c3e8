/*
 * verify.c - modmig verify: the database checked against the files without
 * changing anything. Takes no lock and creates nothing: the state read of
 * every online command plus one query for the recorded checksums and the
 * history's append-only triggers.
 */
#include "check/check.h"

#include <stdlib.h>
#include <string.h>

/*
 * What the history and the version table say about one version beyond the
 * state read: the SHA-256 of its latest applied or stamped event, whether it
 * was applied more than once without a rollback between, and whether the
 * history's last word on it is applied or rolled back.
 */
typedef struct recorded {
	int64_t version;
	bool has_sum;      /* an applied or stamped event exists */
	char *sha256;      /* its SHA-256, NULL when it recorded none */
	int event_applies; /* applying events since the last rollback (history) */
	int row_applies;   /* is_applied rows since the last is_applied = false row */
	int history;       /* -1: no applying or rolling-back event, 0: rolled back, 1: applied */
	bool acknowledged; /* repair acknowledged it as out of order */
} recorded;

typedef struct checks {
	int triggers;      /* enabled append-only triggers on the history table */
	int trigger_count; /* how many its DDL creates (tables.def) */
	recorded *sums;    /* ascending version */
	size_t sum_count;
} checks;

static const struct {
	const char *name;
	modmig_severity severity;
} kinds[MODMIG_FINDING_KIND_COUNT] = {
#define MODMIG_X_(id, number, text, sev, doc) [number] = {text, sev},
        MODMIG_FINDING_KINDS(MODMIG_X_)
#undef MODMIG_X_
};

const char *modmig_finding_kind_name(modmig_finding_kind kind)
{
	if ((int)kind >= 0 && (int)kind < MODMIG_FINDING_KIND_COUNT && kinds[kind].name)
		return kinds[kind].name;
	return "unknown";
}

/* ---- the findings handle ------------------------------------------------ */

modmig_finding *mm_findings_push(modmig_findings *f)
{
	modmig_finding *it;

	if (f->oom)
		return NULL;
	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		modmig_finding *items = realloc(f->items, cap * sizeof(*items));

		if (!items) {
			f->oom = true;
			return NULL;
		}
		f->items = items;
		f->cap = cap;
	}
	it = &f->items[f->count++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void add(modmig_findings *f, modmig_finding_kind kind, int64_t version, const char *module,
                const char *file, char *message)
{
	modmig_finding *it;

	if (!message || f->oom || !(it = mm_findings_push(f)))
		goto nomem;
	it->kind = kind;
	it->version = version;
	it->module = module ? mm_strdup(module) : NULL;
	it->file = file ? mm_strdup(file) : NULL;
	it->message = message;
	it->severity = kinds[kind].severity;
	it->reason = message;
	if ((module && !it->module) || (file && !it->file))
		f->oom = true;
	return;
nomem:
	free(message);
	f->oom = true;
}

/*
 * A finding with a next step: reason says what was found, step what to do in
 * API terms; the message is both, and clients that word the step themselves
 * (the CLI) show the reason with their own wording. reason is taken over.
 */
static void add_next(modmig_findings *f, modmig_finding_kind kind, int64_t version,
                     const char *module, const char *file, char *reason, modmig_next_step next,
                     const char *step)
{
	char *message = reason ? mm_printf("%s; %s", reason, step) : NULL;
	modmig_finding *it;

	add(f, kind, version, module, file, message);
	if (!message || f->oom) {
		free(reason);
		return;
	}
	it = &f->items[f->count - 1];
	it->reason = reason;
	it->next = next;
}

size_t modmig_findings_count(const modmig_findings *findings)
{
	return findings ? findings->count : 0;
}

const modmig_finding *modmig_findings_at(const modmig_findings *findings, size_t index)
{
	return findings && index < findings->count ? &findings->items[index] : NULL;
}

void modmig_findings_free(modmig_findings *findings)
{
	size_t i;

	if (!findings)
		return;
	for (i = 0; i < findings->count; i++) {
		free((char *)findings->items[i].module);
		free((char *)findings->items[i].file);
		if (findings->items[i].reason != findings->items[i].message)
			free((char *)findings->items[i].reason);
		free((char *)findings->items[i].message);
		free((char *)findings->items[i].hint);
	}
	free(findings->items);
	free(findings);
}

/* ---- what the state read does not tell ---------------------------------- */

static void checks_clear(checks *c)
{
	size_t i;

	for (i = 0; i < c->sum_count; i++)
		free(c->sums[i].sha256);
	free(c->sums);
	memset(c, 0, sizeof(*c));
}

/*
 * One query: the history's enabled protective triggers (kind 0) and per
 * version: the latest applied or stamped checksum (1), applying events since
 * the last rollback when more than one (2), the history's last word (3), and
 * applied rows of the version table since its last is_applied = false row
 * when more than one (4). Window functions keep it one pass per table.
 */
static char *checks_sql(const mm_names *n, const mm_state *st, const char *applies,
                        const char *unapplies, const char *triggers)
{
	const char *h = n->table[MM_TABLE_HISTORY];
	mm_buf b;

	mm_buf_init(&b);
	mm_buf_printf(&b,
	              "select 0, 0::bigint, count(*)::text from pg_trigger where tgrelid = "
	              "to_regclass($1) and not tgisinternal and tgenabled <> 'D' and tgname in "
	              "(%s)",
	              triggers);
	if (st->has[MM_TABLE_HISTORY]) {
		/* a checksum that repair accepted or recorded counts as the applied one */
		mm_buf_printf(&b,
		              " union all select 1, version, sha256 from (select distinct on "
		              "(version) version, sha256 from %s where version is not null and "
		              "event in (%s, '%s', '%s') order by version, id desc) h",
		              h, applies,
		              modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_ACCEPTED),
		              modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_RECORDED));
		mm_buf_printf(&b,
		              " union all select 5, version, 'true' from (select distinct version "
		              "from %s where version is not null and event = '%s') a",
		              h, modmig_history_event_name(MODMIG_HISTORY_ACKNOWLEDGED));
		mm_buf_printf(&b,
		              " union all select 2, version, count(*)::text from (select version, "
		              "event, id, max(case when event in (%s) then id end) over (partition "
		              "by version) as off from %s where version is not null and event in "
		              "(%s, %s)) h where event in (%s) and id > coalesce(off, 0) group by "
		              "version having count(*) > 1",
		              unapplies, h, applies, unapplies, applies);
		mm_buf_printf(&b,
		              " union all select 3, version, (event in (%s))::text from (select "
		              "distinct on (version) version, event from %s where version is not "
		              "null and event in (%s, %s) order by version, id desc) h",
		              applies, h, applies, unapplies);
	}
	if (st->has[MM_TABLE_VERSION])
		mm_buf_printf(&b,
		              " union all select 4, version_id, count(*)::text from (select "
		              "version_id, is_applied, id, max(case when not is_applied then id "
		              "end) over (partition by version_id) as off from %s) v where "
		              "is_applied and version_id <> 0 and id > coalesce(off, 0) group by "
		              "version_id having count(*) > 1",
		              n->table[MM_TABLE_VERSION]);
	mm_buf_puts(&b, " order by 2, 1");
	return mm_buf_take(&b);
}

static modmig_status read_checks(modmig_db *db, const mm_names *n, const mm_state *st, checks *out,
                                 modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const char *params[1] = {n->table[MM_TABLE_HISTORY]};
	PGresult *res = NULL;
	char *sql = NULL, *applies = NULL, *unapplies = NULL, *triggers = NULL;
	int rows, i;

	memset(out, 0, sizeof(*out));
	applies = mm_event_sql_list(MODMIG_HISTORY_F_APPLIES);
	unapplies = mm_event_sql_list(MODMIG_HISTORY_F_UNAPPLIES);
	triggers = mm_history_trigger_sql_list(&out->trigger_count);
	sql = applies && unapplies && triggers ? checks_sql(n, st, applies, unapplies, triggers)
	                                       : NULL;
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexecParams(db->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = mm_db_fail(db, res, MODMIG_E_STATE, err, "cannot read the recorded checksums");
		goto cleanup;
	}
	rows = PQntuples(res);
	out->sums = rows > 1 ? calloc((size_t)rows - 1, sizeof(*out->sums)) : NULL;
	if (rows > 1 && !out->sums) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < rows; i++) {
		int kind = atoi(PQgetvalue(res, i, 0));
		int64_t version = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		const char *text = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
		recorded *r;

		if (kind == 0) {
			out->triggers = text ? atoi(text) : 0;
			continue;
		}
		/* rows come by version, so one version's kinds are adjacent */
		if (!out->sum_count || out->sums[out->sum_count - 1].version != version) {
			r = &out->sums[out->sum_count++];
			r->version = version;
			r->history = -1;
		}
		r = &out->sums[out->sum_count - 1];
		if (kind == 1) {
			r->has_sum = true;
			r->sha256 = text ? mm_strdup(text) : NULL;
		} else if (kind == 2) {
			r->event_applies = text ? atoi(text) : 0;
		} else if (kind == 3) {
			r->history = text && strcmp(text, "true") == 0 ? 1 : 0;
		} else if (kind == 4) {
			r->row_applies = text ? atoi(text) : 0;
		} else if (kind == 5) {
			r->acknowledged = true;
		}
	}
cleanup:
	PQclear(res);
	free(applies);
	free(unapplies);
	free(triggers);
	free(sql);
	if (rc != MODMIG_OK)
		checks_clear(out);
	return rc;
}

static const recorded *find_sum(const checks *c, int64_t version)
{
	return MM_FIND(c->sums, c->sum_count, version, version);
}

/* ---- the checks --------------------------------------------------------- */

/*
 * Versions of one module share a segment: (v - 1) / 1000 is the module's
 * position. In --dir mode the whole directory is one segment, as in the
 * planner.
 */
static int64_t segment(const modmig_source *src, int64_t v)
{
	return modmig_source_is_dir(src) || v <= 0 ? 0 : (v - 1) / 1000;
}

static int64_t segment_last(const modmig_source *src, int64_t v)
{
	return modmig_source_is_dir(src) ? INT64_MAX : segment(src, v) * 1000 + 999;
}

/*
 * For each applied version, the index of the earliest applied (lowest id)
 * higher version of its segment, or -1: applied out of order when that one
 * went in first. One pass from the top, so 10 000 versions cost nothing.
 */
static modmig_status earliest_above(const modmig_source *src, const mm_state *st, long **out,
                                    modmig_error **err)
{
	size_t n = st->applied_count, i;
	long *best = calloc(n ? n : 1, sizeof(*best));

	*out = best;
	if (!best)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (i = n; i-- > 0;) {
		long next = (long)i + 1, cand;

		best[i] = -1;
		if (i + 1 >= n || segment(src, st->applied[i + 1].version) !=
		                          segment(src, st->applied[i].version))
			continue;
		cand = best[i + 1];
		best[i] = cand >= 0 && st->applied[cand].id < st->applied[next].id ? cand : next;
	}
	return MODMIG_OK;
}

static void check_state_tables(modmig_findings *f, const mm_names *n, const mm_state *st,
                               const checks *c)
{
	int t;

	for (t = 0; t < MM_TABLE_COUNT && !st->has[t]; t++)
		;
	if (t == MM_TABLE_COUNT) {
		add_next(f, MODMIG_FINDING_STATE, 0, NULL, NULL,
		         mm_printf("the version table %s does not exist: nothing was migrated "
		                   "here yet",
		                   n->written),
		         MODMIG_NEXT_RUN_UP, "run up");
		return;
	}
	if (!st->has[MM_TABLE_VERSION])
		add(f, MODMIG_FINDING_STATE, 0, NULL, NULL,
		    mm_printf("the version table %s is missing while modmig's history exists; "
		              "restore it from a backup",
		              n->written));
	/* modmig's own tables are created again by the next up */
	for (t = 0; t < MM_TABLE_COUNT; t++)
		if (t != MM_TABLE_VERSION && !st->has[t])
			add_next(f, MODMIG_FINDING_STATE, 0, NULL, NULL,
			         mm_printf("%s %s is missing", mm_table_what((mm_table)t),
			                   n->table[t]),
			         MODMIG_NEXT_CREATE_STATE, "run up, which creates it");
	if (st->has[MM_TABLE_HISTORY] && c->triggers < c->trigger_count)
		add_next(f, MODMIG_FINDING_TAMPERED, 0, NULL, NULL,
		         mm_printf("the history table %s lacks its append-only trigger%s (%d of "
		                   "%d present): past events may have been changed",
		                   n->table[MM_TABLE_HISTORY],
		                   c->trigger_count - c->triggers > 1 ? "s" : "", c->triggers,
		                   c->trigger_count),
		         MODMIG_NEXT_REPAIR,
		         "recreate them with modmig_repair() (MODMIG_REPAIR_RECREATE_TRIGGERS), "
		         "then check the history for changes");
}

static void check_registry(modmig_findings *f, const modmig_source *src, const mm_state *st)
{
	modmig_error *rerr = NULL;
	size_t first_new = 0;

	if (modmig_source_is_dir(src) || !st->has[MM_TABLE_MODULES])
		return;
	if (mm_registry_check(src, st, &first_new, &rerr) != MODMIG_OK)
		add_next(f, MODMIG_FINDING_REGISTRY, 0, NULL, rerr ? rerr->file : NULL,
		         mm_strdup(rerr ? rerr->message
		                        : "the module registry disagrees with the manifest"),
		         MODMIG_NEXT_REPAIR,
		         "restore the manifest, or, if nothing was applied under the modules "
		         "it no longer has, clear them with modmig_repair() "
		         "(MODMIG_REPAIR_CLEAR_REGISTRY)");
	modmig_error_free(rerr);
}

static void check_row(modmig_findings *f, const modmig_source *src, const mm_state *st,
                      const checks *c, const long *best, const mm_row *r)
{
	const modmig_migration *m = r->migration;
	const modmig_module *mod = m ? m->module : mm_source_module_of(src, r->version);
	const char *module = mod ? mod->name : NULL, *file = m ? m->file : NULL;
	const recorded *sum;
	int64_t above;
	long b;
	long long v = (long long)r->version;

	switch (r->state) {
	case MODMIG_STATE_APPLIED:
		sum = find_sum(c, r->version);
		if (sum && sum->has_sum && sum->sha256 && strcmp(sum->sha256, m->sha256) != 0)
			add(f, MODMIG_FINDING_CHANGED, r->version, module, file,
			    mm_printf("changed since it was applied: sha256 %.12s... recorded, "
			              "%.12s... on disk; restore the file, or add a new migration "
			              "for the change",
			              sum->sha256, m->sha256));
		b = best[r->applied - st->applied];
		if (b >= 0 && st->applied[b].id < r->applied->id && !(sum && sum->acknowledged))
			add(f, MODMIG_FINDING_OUT_OF_ORDER, r->version, module, file,
			    mm_printf("applied out of order: after %lld of the same module",
			              (long long)st->applied[b].version));
		break;
	case MODMIG_STATE_NO_FILE:
		add(f, MODMIG_FINDING_NO_FILE, r->version, module, NULL,
		    mm_printf("version %lld is applied but no migration file has it; restore the "
		              "file",
		              v));
		break;
	case MODMIG_STATE_FAILED:
		add_next(
		        f, MODMIG_FINDING_FAILED, r->version, module, file,
		        mm_printf(
		                "NO TRANSACTION migration failed at unit %d and is not applied%s%s",
		                r->event ? r->event->failed_unit : 0,
		                r->event && r->event->error ? ": " : "",
		                r->event && r->event->error ? r->event->error : ""),
		        MODMIG_NEXT_RESUME, "run up with resume mode continue or restart");
		break;
	case MODMIG_STATE_PENDING:
	case MODMIG_STATE_MISSING:
		above = mm_state_max_applied_upto(st, segment_last(src, r->version));
		if (above > r->version)
			add_next(f, MODMIG_FINDING_OUT_OF_ORDER, r->version, module, file,
			         mm_printf("not applied, and %lld of the same module already is: "
			                   "an out-of-order arrival",
			                   (long long)above),
			         MODMIG_NEXT_RUN_UP,
			         "up applies it with a warning, up with strict refuses");
		else if (r->state == MODMIG_STATE_MISSING)
			add_next(f, MODMIG_FINDING_MISSING, r->version, module, file,
			         mm_printf("not applied, below the highest applied version %lld",
			                   (long long)mm_state_max_applied(st)),
			         MODMIG_NEXT_RUN_UP, "run up");
		else
			add_next(f, MODMIG_FINDING_PENDING, r->version, module, file,
			         mm_strdup("not applied yet"), MODMIG_NEXT_RUN_UP, "run up");
		break;
	}
}

/*
 * What the records say about one version against each other: a checksum to
 * verify the file with, applied once, and the version table and the history
 * agreeing on whether it is applied. Each finding says how to fix it.
 */
static void check_records(modmig_findings *f, const mm_state *st, const checks *c, const mm_row *r,
                          const char *module, const char *file)
{
	const recorded *rec = find_sum(c, r->version);
	bool applied = r->state == MODMIG_STATE_APPLIED || r->state == MODMIG_STATE_NO_FILE;

	if (applied && st->has[MM_TABLE_HISTORY] && r->migration &&
	    !(rec && rec->has_sum && rec->sha256))
		add_next(f, MODMIG_FINDING_UNVERIFIED, r->version, module, file,
		         mm_strdup("applied without a recorded SHA-256 (adopted from goose, or "
		                   "recorded before modmig kept checksums): whether the file "
		                   "changed since cannot be checked"),
		         MODMIG_NEXT_REPAIR,
		         "compare the schema the files build with the database (drift), then "
		         "record the file's checksum with modmig_repair() "
		         "(MODMIG_REPAIR_RECORD_CHECKSUMS); a warning, not an error");
	if (rec && rec->row_applies > 1)
		add_next(f, MODMIG_FINDING_DUPLICATE, r->version, module, file,
		         mm_printf("applied %d times: the version table has %d applied rows "
		                   "without a rollback between",
		                   rec->row_applies, rec->row_applies),
		         MODMIG_NEXT_NONE,
		         "check the schema for effects applied twice, then delete the extra "
		         "version-table rows (keep the first)");
	if (rec && rec->event_applies > 1)
		add_next(f, MODMIG_FINDING_DUPLICATE, r->version, module, file,
		         mm_printf("applied %d times: the history has %d applied events without "
		                   "a rollback between",
		                   rec->event_applies, rec->event_applies),
		         MODMIG_NEXT_NONE,
		         "check the schema for effects applied twice; another migrator may have "
		         "run without modmig's lock");
	if (applied && rec && rec->history == 0)
		add_next(f, MODMIG_FINDING_HISTORY_MISMATCH, r->version, module, file,
		         mm_strdup("the version table says applied, but the history's last "
		                   "event for it is a rollback"),
		         MODMIG_NEXT_NONE,
		         "if its objects are gone, delete its version-table row; if they are "
		         "there, it was applied by another tool: compare with drift");
	if (!applied && rec && rec->history == 1)
		add_next(f, MODMIG_FINDING_HISTORY_MISMATCH, r->version, module, file,
		         mm_strdup("the history says applied, but the version table has no "
		                   "applied row for it"),
		         MODMIG_NEXT_NONE,
		         "if its objects exist, stamp it; if they are gone (rolled back by "
		         "another tool), run up to apply it again");
}

/* Errors from the state rows stay short: the first line, at most 200 bytes. */
static void shorten_errors(mm_state *st)
{
	size_t i;

	for (i = 0; i < st->event_count; i++) {
		char *e = st->events[i].error;

		if (!e)
			continue;
		e[strcspn(e, "\n")] = '\0';
		if (strlen(e) > 200)
			strcpy(e + 197, "...");
	}
}

modmig_status modmig_verify(modmig_db *db, modmig_source *src, modmig_findings **out,
                            modmig_error **err)
{
	modmig_status rc;
	modmig_findings *f = NULL;
	mm_session s;
	checks c;
	mm_row *rows = NULL;
	long *best = NULL;
	size_t count = 0, i;

	memset(&c, 0, sizeof(c));
	if ((rc = mm_source_load(src, err)) != MODMIG_OK)
		return rc;
	memset(&s, 0, sizeof(s));
	if (out)
		*out = NULL;
	rc = mm_session_open(&s, db, src, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	rc = read_checks(db, &s.names, &s.state, &c, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	shorten_errors(&s.state);
	rc = mm_classify(src->migrations, src->migration_count, &s.state, &rows, &count, err);
	if (rc == MODMIG_OK)
		rc = earliest_above(src, &s.state, &best, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	f = calloc(1, sizeof(*f));
	if (!f) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	check_state_tables(f, &s.names, &s.state, &c);
	check_registry(f, src, &s.state);
	for (i = 0; i < count; i++) {
		const modmig_migration *m = rows[i].migration;
		const modmig_module *mod =
		        m ? m->module : mm_source_module_of(src, rows[i].version);

		check_row(f, src, &s.state, &c, best, &rows[i]);
		check_records(f, &s.state, &c, &rows[i], mod ? mod->name : NULL,
		              m ? m->file : NULL);
	}
	if (f->oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	/* warnings alone (unverified) leave verify clean; they are still in *out */
	rc = MODMIG_OK;
	for (i = 0; i < f->count; i++)
		if (f->items[i].severity == MODMIG_SEVERITY_ERROR)
			rc = MODMIG_E_CHECK;
	if (out) {
		*out = f;
		f = NULL;
	}
cleanup:
	modmig_findings_free(f);
	free(rows);
	free(best);
	checks_clear(&c);
	mm_session_close(&s);
	return rc;
}
