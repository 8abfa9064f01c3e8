/*
 * repair.c - modmig repair, in the way of Flyway's: an operator's explicit
 * answer to what verify keeps reporting, each recorded in the history as its
 * own event, so the record says who did what and why. Under the migration
 * lock, in one transaction; a dry run says what it would record and changes
 * nothing. The actions (modmig_repair_action): acknowledge an out-of-order
 * migration, accept a changed file's checksum, record the checksums of
 * adopted versions, recreate the history's triggers, clear registry rows
 * that nothing was applied under.
 */
#include "run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One event to record: its SQL is in the transaction, its line told after it. */
typedef struct note {
	const modmig_migration *m; /* or NULL */
	char *text;                /* "<event>: what", after "recorded " or "would record " */
} note;

typedef struct repair {
	mm_session s;
	modmig_db *db;
	modmig_source *src;
	const modmig_repair_options *opts;
	modmig_history_event event;
	mm_buf sql; /* the statements between BEGIN and COMMIT */
	note *notes;
	size_t count;
	bool oom;
} repair;

static void add_note(repair *r, const modmig_migration *m, char *text)
{
	note *grown = text ? realloc(r->notes, (r->count + 1) * sizeof(*r->notes)) : NULL;

	if (!grown) {
		free(text);
		r->oom = true;
		return;
	}
	r->notes = grown;
	r->notes[r->count].m = m;
	r->notes[r->count++].text = text;
}

static void append_literal(repair *r, const char *s)
{
	char *lit;

	if (!s) {
		mm_buf_puts(&r->sql, "NULL");
		return;
	}
	lit = PQescapeLiteral(r->db->conn, s, strlen(s));
	if (lit)
		mm_buf_puts(&r->sql, lit);
	else
		r->sql.oom = true;
	PQfreemem(lit);
}

/* A history row about no version: the triggers, or a module's registry row. */
static void history_note(repair *r, const char *module)
{
	mm_buf_printf(&r->sql, "INSERT INTO %s (event, module, client_host, error) VALUES (",
	              r->s.names.table[MM_TABLE_HISTORY]);
	append_literal(r, modmig_history_event_name(r->event));
	mm_buf_puts(&r->sql, ", ");
	append_literal(r, module);
	mm_buf_puts(&r->sql, ", ");
	append_literal(r, r->db->hostname[0] ? r->db->hostname : NULL);
	mm_buf_puts(&r->sql, ", ");
	append_literal(r, r->opts->reason);
	mm_buf_puts(&r->sql, ");\n");
}

/*
 * The fence, as for a migration (DESIGN §6): the repair's transaction takes
 * the transaction-level advisory lock first, and re-checks under it what
 * the plan read, in case a migrator whose migration released the session
 * lock (or that runs behind a pooler) changed it meanwhile. A re-check that
 * fails raises REPAIR_CHANGED: nothing is recorded.
 */
#define REPAIR_CHANGED "MMRPR"

/* Version v is still applied, or the transaction stops. */
static void fence_applied(repair *r, int64_t v)
{
	mm_buf_printf(&r->sql,
	              "DO $modmig_fence$BEGIN IF NOT coalesce((SELECT is_applied FROM %s WHERE "
	              "version_id = %lld ORDER BY id DESC LIMIT 1), false) THEN RAISE EXCEPTION "
	              "USING ERRCODE = '" REPAIR_CHANGED "', MESSAGE = 'version %lld was rolled "
	              "back by another migrator meanwhile'; END IF; END$modmig_fence$;\n",
	              r->s.names.table[MM_TABLE_VERSION], (long long)v, (long long)v);
}

/* Nothing was applied in module `name`'s range meanwhile, or the transaction stops. */
static void fence_registry(repair *r, const char *name, const char *pos, const char *first,
                           const char *last, const char *applied)
{
	mm_buf_printf(&r->sql,
	              "DO $modmig_fence$BEGIN IF EXISTS (SELECT 1 FROM %s WHERE version BETWEEN "
	              "%s AND %s AND event IN (%s))",
	              r->s.names.table[MM_TABLE_HISTORY], first, last, applied);
	if (r->s.state.has[MM_TABLE_VERSION])
		mm_buf_printf(&r->sql,
		              " OR EXISTS (SELECT 1 FROM %s WHERE version_id BETWEEN %s AND %s)",
		              r->s.names.table[MM_TABLE_VERSION], first, last);
	/* the name as hex: nothing read from the registry can end the DO body */
	mm_buf_puts(&r->sql, " THEN RAISE EXCEPTION USING ERRCODE = '" REPAIR_CHANGED
	                     "', MESSAGE = format('cannot clear module %s (position %s) from the "
	                     "registry: a version was applied under it by another migrator "
	                     "meanwhile', convert_from(decode('");
	for (; *name; name++)
		mm_buf_printf(&r->sql, "%02x", (unsigned char)*name);
	mm_buf_printf(&r->sql, "', 'hex'), 'UTF8'), %s); END IF; END$modmig_fence$;\n", pos);
}

/* ---- acknowledge, accept a checksum ------------------------------------- */

/* The applied version's file, loaded: its bytes and SHA-256 are read through src. */
static modmig_status applied_file(repair *r, int64_t version, const modmig_migration **out,
                                  modmig_error **err)
{
	const modmig_migration *m = modmig_source_find(r->src, version);

	*out = m;
	if (!mm_state_find_applied(&r->s.state, version)) {
		mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
		        "version %lld is not applied: there is nothing to repair",
		        (long long)version);
		mm_next(err, MODMIG_NEXT_RUN_VERIFY, 0, "verify lists what needs repair");
		return MODMIG_E_NOT_FOUND;
	}
	if (!m) {
		mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
		        "version %lld is applied but no migration file has it", (long long)version);
		mm_hint(err, "restore the file first; nothing was recorded");
		return MODMIG_E_NOT_FOUND;
	}
	return mm_migration_load(&r->src->migrations[m - r->src->migrations], err);
}

/*
 * Whether version v went in after a higher version of its module (as verify
 * sees it: versions of one module share (v - 1) / 1000; a plain goose
 * directory is one module).
 */
static bool out_of_order(const repair *r, int64_t v)
{
	const mm_state *st = &r->s.state;
	const mm_applied *a = mm_state_find_applied(st, v);
	bool dir = modmig_source_is_dir(r->src);
	size_t i;

	for (i = 0; a && i < st->applied_count; i++)
		if (st->applied[i].version > v && st->applied[i].id < a->id &&
		    (dir || (st->applied[i].version - 1) / 1000 == (v - 1) / 1000))
			return true;
	return false;
}

/*
 * What verify holds about version v: the SHA-256 it checks the file against
 * (the latest applying, accepted or recorded event's; NULL: none) and
 * whether it was acknowledged.
 */
static modmig_status read_decisions(repair *r, int64_t v, char **sha, bool *acknowledged,
                                    modmig_error **err)
{
	char *applies = mm_event_sql_list(MODMIG_HISTORY_F_APPLIES), version[32];
	const char *params[1] = {version};
	const char *h = r->s.names.table[MM_TABLE_HISTORY];
	char *sql = applies ? mm_printf("select (select sha256 from %s where version = $1::bigint "
	                                "and event in (%s, '%s', '%s') order by id desc limit 1), "
	                                "exists (select 1 from %s where version = $1::bigint and "
	                                "event = '%s')",
	                                h, applies,
	                                modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_ACCEPTED),
	                                modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_RECORDED),
	                                h, modmig_history_event_name(MODMIG_HISTORY_ACKNOWLEDGED))
	                    : NULL;
	PGresult *res = NULL;
	modmig_status rc = MODMIG_OK;

	*sha = NULL;
	*acknowledged = false;
	snprintf(version, sizeof(version), "%lld", (long long)v);
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexecParams(r->db->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2) {
		rc = mm_db_fail(r->db, res, MODMIG_E_STATE, err,
		                "cannot read the recorded checksum and acknowledgements");
		goto cleanup;
	}
	*acknowledged = PQgetvalue(res, 0, 1)[0] == 't';
	if (!PQgetisnull(res, 0, 0) && !(*sha = mm_strdup(PQgetvalue(res, 0, 0))))
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
cleanup:
	PQclear(res);
	free(applies);
	free(sql);
	return rc;
}

/*
 * A decision verify would not need is refused, as --record-checksums V of a
 * version with a checksum: acknowledging a version applied in order or
 * acknowledged already, accepting the checksum the file has already.
 */
static modmig_status check_decision(repair *r, const modmig_migration *m, modmig_error **err)
{
	long long v = (long long)m->version;
	bool acknowledged;
	char *sha = NULL;
	modmig_status rc = read_decisions(r, m->version, &sha, &acknowledged, err);

	if (rc != MODMIG_OK)
		goto cleanup;
	if (r->event == MODMIG_HISTORY_ACKNOWLEDGED && acknowledged)
		rc = mm_fail(
		        err, MODMIG_E_REFUSED, m->file, 0, 0,
		        "version %lld is acknowledged already: there is nothing to acknowledge", v);
	else if (r->event == MODMIG_HISTORY_ACKNOWLEDGED && !out_of_order(r, m->version))
		rc = mm_fail(err, MODMIG_E_REFUSED, m->file, 0, 0,
		             "version %lld was applied in order: there is nothing to acknowledge",
		             v);
	else if (r->event == MODMIG_HISTORY_CHECKSUM_ACCEPTED && sha && strcmp(sha, m->sha256) == 0)
		rc = mm_fail(err, MODMIG_E_REFUSED, m->file, 0, 0,
		             "version %lld's file has its recorded sha256 %.12s...: there is "
		             "nothing to accept",
		             v, sha);
	if (rc != MODMIG_OK) {
		mm_next(err, MODMIG_NEXT_RUN_VERIFY, 0,
		        "verify lists what needs repair; nothing was recorded");
		mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
	}
cleanup:
	free(sha);
	return rc;
}

static modmig_status plan_decision(repair *r, modmig_error **err)
{
	const modmig_repair_options *o = r->opts;
	const modmig_migration *m = NULL;
	modmig_status rc = applied_file(r, o->version, &m, err);

	if (rc == MODMIG_OK)
		rc = check_decision(r, m, err);
	if (rc != MODMIG_OK)
		return rc;
	fence_applied(r, m->version);
	mm_store_sql_history_row(&r->sql, r->db, &r->s.names, r->event, m, 0, 0, o->reason);
	add_note(r, m,
	         mm_printf("%s: %s %lld (%s)%s%s", modmig_history_event_name(r->event),
	                   r->event == MODMIG_HISTORY_ACKNOWLEDGED ? "out-of-order migration"
	                                                           : "new sha256 of",
	                   (long long)m->version, m->file, o->reason ? ", reason: " : "",
	                   o->reason ? o->reason : ""));
	return MODMIG_OK;
}

/* ---- record the checksums of adopted versions --------------------------- */

/*
 * The versions whose latest applying, accepted or recorded event carries a
 * SHA-256: what verify checks files against. The others are adopted.
 */
static modmig_status read_verified(repair *r, PGresult **out, modmig_error **err)
{
	char *applies = mm_event_sql_list(MODMIG_HISTORY_F_APPLIES);
	char *sql = applies ? mm_printf("select version from (select distinct on (version) "
	                                "version, sha256 from %s where version is not null and "
	                                "event in (%s, '%s', '%s') order by version, id desc) h "
	                                "where sha256 is not null order by version",
	                                r->s.names.table[MM_TABLE_HISTORY], applies,
	                                modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_ACCEPTED),
	                                modmig_history_event_name(MODMIG_HISTORY_CHECKSUM_RECORDED))
	                    : NULL;
	modmig_status rc = MODMIG_OK;

	*out = NULL;
	if (!sql)
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	else if (PQresultStatus(*out = PQexec(r->db->conn, sql)) != PGRES_TUPLES_OK)
		rc = mm_db_fail(r->db, *out, MODMIG_E_STATE, err,
		                "cannot read the recorded checksums");
	free(applies);
	free(sql);
	return rc;
}

static bool is_verified(const PGresult *res, int64_t version)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == version)
			return true;
	return false;
}

static modmig_status plan_checksums(repair *r, modmig_error **err)
{
	int64_t only = r->opts->version;
	const modmig_migration *m;
	PGresult *verified = NULL;
	modmig_status rc = MODMIG_OK;
	size_t i;

	if (only && (rc = applied_file(r, only, &m, err)) != MODMIG_OK)
		goto cleanup;
	if ((rc = read_verified(r, &verified, err)) != MODMIG_OK)
		goto cleanup;
	if (only && is_verified(verified, only)) {
		rc = mm_fail(err, MODMIG_E_REFUSED, NULL, 0, 0,
		             "version %lld has a recorded sha256 already: it is not adopted",
		             (long long)only);
		mm_hint(err, "if its file changed, accept the new checksum with a reason; nothing "
		             "was recorded");
		goto cleanup;
	}
	for (i = 0; i < r->s.state.applied_count && rc == MODMIG_OK; i++) {
		int64_t v = r->s.state.applied[i].version;

		if ((only && v != only) || is_verified(verified, v) ||
		    !(m = modmig_source_find(r->src, v)))
			continue;
		rc = mm_migration_load(&r->src->migrations[m - r->src->migrations], err);
		if (rc != MODMIG_OK)
			break;
		fence_applied(r, v);
		mm_store_sql_history_row(&r->sql, r->db, &r->s.names, r->event, m, 0, 0,
		                         r->opts->reason);
		add_note(r, m,
		         mm_printf("%s: sha256 %.12s... of adopted migration %lld (%s)",
		                   modmig_history_event_name(r->event), m->sha256,
		                   (long long)m->version, m->file));
	}
cleanup:
	PQclear(verified);
	return rc;
}

/* ---- recreate the history's triggers ------------------------------------ */

/* 'a', 'b' -> a, b */
static void unquote(char *list)
{
	char *to = list;

	for (; *list; list++)
		if (*list != '\'')
			*to++ = *list;
	*to = '\0';
}

static modmig_status plan_triggers(repair *r, modmig_error **err)
{
	const char *params[1] = {r->s.names.table[MM_TABLE_HISTORY]};
	int expected = 0, present;
	char *names = mm_history_trigger_sql_list(&expected), *sql = NULL;
	PGresult *res = NULL;
	modmig_status rc = MODMIG_OK;

	sql = names ? mm_printf("select count(*) from pg_trigger where tgrelid = to_regclass($1) "
	                        "and not tgisinternal and tgenabled <> 'D' and tgname in (%s)",
	                        names)
	            : NULL;
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexecParams(r->db->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = mm_db_fail(r->db, res, MODMIG_E_STATE, err,
		                "cannot read the history's triggers");
		goto cleanup;
	}
	present = atoi(PQgetvalue(res, 0, 0));
	if (present >= expected)
		goto cleanup;
	/* no "does not exist, skipping" notice for the triggers that are gone */
	mm_buf_puts(&r->sql, "SET LOCAL client_min_messages TO warning;\n");
	mm_store_sql_history_guard(&r->sql, &r->s.names);
	unquote(names);
	history_note(r, NULL);
	add_note(r, NULL,
	         mm_printf("%s: %s on %s (%d of %d were in place)",
	                   modmig_history_event_name(r->event), names,
	                   r->s.names.table[MM_TABLE_HISTORY], present, expected));
cleanup:
	PQclear(res);
	free(names);
	free(sql);
	return rc;
}

/* ---- clear registry rows nothing was applied under ---------------------- */

/*
 * How many registered modules are the manifest's first modules, at their
 * positions: the rows after them are what the registry check refuses, or
 * registered after such a row.
 */
static size_t agreeing_prefix(const modmig_source *src, const mm_state *st)
{
	size_t k = 0;

	while (k < st->module_count && k < src->manifest.module_count &&
	       st->modules[k].position == (int)k + 1 && st->modules[k].name &&
	       strcmp(st->modules[k].name, src->manifest.modules[k].name) == 0)
		k++;
	return k;
}

/* Per registry row after the prefix: its range and the first version ever applied in it. */
static char *registry_sql(repair *r, size_t keep, const char *applied)
{
	const mm_names *n = &r->s.names;
	char *version = r->s.state.has[MM_TABLE_VERSION]
	                        ? mm_printf("(select min(v.version_id) from %s v where "
	                                    "v.version_id between m.first_version and "
	                                    "m.last_version)",
	                                    n->table[MM_TABLE_VERSION])
	                        : mm_strdup("null::bigint");
	char *history = mm_printf("(select min(h.version) from %s h where h.version between "
	                          "m.first_version and m.last_version and h.event in (%s))",
	                          n->table[MM_TABLE_HISTORY], applied);
	char *sql = version && history
	                    ? mm_printf("select m.name, m.position, m.first_version, "
	                                "m.last_version, coalesce(%s, %s) from %s m where "
	                                "m.position > %zu order by m.position",
	                                version, history, n->table[MM_TABLE_MODULES], keep)
	                    : NULL;

	free(version);
	free(history);
	return sql;
}

static modmig_status plan_registry(repair *r, modmig_error **err)
{
	char *applied = mm_event_sql_list(MODMIG_HISTORY_F_APPLIES | MODMIG_HISTORY_F_PARTWAY);
	size_t keep = agreeing_prefix(r->src, &r->s.state);
	char *sql = NULL;
	PGresult *res = NULL;
	modmig_status rc = MODMIG_OK;
	int i;

	if (modmig_source_is_dir(r->src)) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "a plain goose directory has no module registry to clear");
		mm_next(err, MODMIG_NEXT_USE_MANIFEST, 0, "load the source from its manifest");
		goto cleanup;
	}
	if (!r->s.state.has[MM_TABLE_MODULES] || keep == r->s.state.module_count)
		goto cleanup;
	if (!applied || !(sql = registry_sql(r, keep, applied))) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexec(r->db->conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = mm_db_fail(r->db, res, MODMIG_E_STATE, err, "cannot read the module registry");
		goto cleanup;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0), *pos = PQgetvalue(res, i, 1);

		if (PQgetisnull(res, i, 4))
			continue;
		rc = mm_fail(err, MODMIG_E_REFUSED, NULL, 0, 0,
		             "cannot clear module %s (position %s) from the registry: version %s "
		             "was applied under it",
		             name, pos, PQgetvalue(res, i, 4));
		mm_hint(err,
		        "keep module %s at position %s in %s, as registered; nothing was "
		        "cleared",
		        name, pos, r->src->origin ? r->src->origin : "the manifest");
		goto cleanup;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0), *pos = PQgetvalue(res, i, 1);

		fence_registry(r, name, pos, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), applied);
		mm_buf_printf(&r->sql, "DELETE FROM %s WHERE position = %s AND name = ",
		              r->s.names.table[MM_TABLE_MODULES], pos);
		append_literal(r, name);
		mm_buf_puts(&r->sql, ";\n");
		history_note(r, name);
		add_note(
		        r, NULL,
		        mm_printf("%s: module %s at position %s (versions %s..%s), nothing applied "
		                  "under it",
		                  modmig_history_event_name(r->event), name, pos,
		                  PQgetvalue(res, i, 2), PQgetvalue(res, i, 3)));
	}
cleanup:
	PQclear(res);
	free(applied);
	free(sql);
	return rc;
}

/* ---- the call ----------------------------------------------------------- */

static const modmig_history_event action_events[] = {
        [MODMIG_REPAIR_ACKNOWLEDGE] = MODMIG_HISTORY_ACKNOWLEDGED,
        [MODMIG_REPAIR_ACCEPT_CHECKSUM] = MODMIG_HISTORY_CHECKSUM_ACCEPTED,
        [MODMIG_REPAIR_RECORD_CHECKSUMS] = MODMIG_HISTORY_CHECKSUM_RECORDED,
        [MODMIG_REPAIR_RECREATE_TRIGGERS] = MODMIG_HISTORY_TRIGGERS_RECREATED,
        [MODMIG_REPAIR_CLEAR_REGISTRY] = MODMIG_HISTORY_REGISTRY_CLEARED,
};

static const char *const nothing_to_do[] = {
        [MODMIG_REPAIR_RECORD_CHECKSUMS] = "nothing to record: every applied version with a "
                                           "file has a recorded sha256",
        [MODMIG_REPAIR_RECREATE_TRIGGERS] = "nothing to recreate: the history's append-only "
                                            "triggers are in place",
        [MODMIG_REPAIR_CLEAR_REGISTRY] = "nothing to clear: the module registry matches the "
                                         "manifest",
};

static modmig_status check_options(const modmig_repair_options *opts, modmig_error **err)
{
	if ((unsigned)opts->action >= sizeof(action_events) / sizeof(action_events[0]))
		return mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "unknown repair action %d",
		               (int)opts->action);
	/* an accepted change is a decision someone must be able to read later */
	if (opts->action == MODMIG_REPAIR_ACCEPT_CHECKSUM && (!opts->reason || !*opts->reason)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "accepting a changed file's checksum needs a reason");
		mm_hint(err, "say why the change is safe; it is recorded in the history");
		return MODMIG_E_USAGE;
	}
	if (opts->version < 0 ||
	    (opts->version == 0 && opts->action <= MODMIG_REPAIR_ACCEPT_CHECKSUM))
		return mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "version %lld is not a version",
		               (long long)opts->version);
	return MODMIG_OK;
}

static modmig_status lock(repair *r, modmig_error **err)
{
	modmig_status rc;
	bool any_registry = r->opts->action == MODMIG_REPAIR_RECREATE_TRIGGERS ||
	                    r->opts->action == MODMIG_REPAIR_CLEAR_REGISTRY;

	if ((!r->opts->dry_run && (rc = mm_db_check_writable(r->db, "repair", err)) != MODMIG_OK) ||
	    (rc = mm_session_open(&r->s, r->db, r->src, err)) != MODMIG_OK)
		return rc;
	/* a dry run writes nothing: with the table lock, not even a lease */
	r->s.dry_run = r->opts->dry_run;
	rc = any_registry ? mm_session_lock_any_registry(&r->s, err) : mm_session_lock(&r->s, err);
	if (rc == MODMIG_OK && !r->s.state.has[MM_TABLE_HISTORY]) {
		rc = mm_fail(err, MODMIG_E_STATE, NULL, 0, 0, "%s does not exist",
		             r->s.names.table[MM_TABLE_HISTORY]);
		mm_next(err, MODMIG_NEXT_CREATE_STATE, 0, "run up, which creates it");
	}
	return rc;
}

static modmig_status plan(repair *r, modmig_error **err)
{
	switch (r->opts->action) {
	case MODMIG_REPAIR_ACKNOWLEDGE:
	case MODMIG_REPAIR_ACCEPT_CHECKSUM:
		return plan_decision(r, err);
	case MODMIG_REPAIR_RECORD_CHECKSUMS:
		return plan_checksums(r, err);
	case MODMIG_REPAIR_RECREATE_TRIGGERS:
		return plan_triggers(r, err);
	case MODMIG_REPAIR_CLEAR_REGISTRY:
		return plan_registry(r, err);
	}
	return mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "unknown repair action");
}

/* The transaction; a re-check at the fence that fails is a refusal (exit 2). */
static modmig_status record(repair *r, const char *sql, modmig_error **err)
{
	PGresult *res = PQexec(r->db->conn, sql);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool changed = state && strcmp(state, REPAIR_CHANGED) == 0;
	modmig_status rc = MODMIG_OK;

	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		goto cleanup;
	if (changed)
		rc = mm_fail(err, MODMIG_E_REFUSED, NULL, 0, 0, "%s",
		             PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	else
		rc = mm_db_fail(r->db, res, MODMIG_E_SQL, err, "cannot record the repair");
	if (PQtransactionStatus(r->db->conn) != PQTRANS_IDLE)
		mm_db_exec(r->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
	if (changed)
		mm_next(err, MODMIG_NEXT_RUN_VERIFY, 0,
		        "nothing was recorded; verify lists what needs repair now");
	else
		mm_hint(err, "nothing was recorded");
cleanup:
	PQclear(res);
	return rc;
}

modmig_status modmig_repair(modmig_db *db, modmig_source *src, const modmig_repair_options *opts,
                            modmig_error **err)
{
	modmig_status rc;
	repair r;
	char *sql = NULL;
	size_t i;

	memset(&r, 0, sizeof(r));
	mm_buf_init(&r.sql);
	if (!db || !src || !opts) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "no database, source or options given");
		goto cleanup;
	}
	r.db = db;
	r.src = src;
	r.opts = opts;
	if ((rc = check_options(opts, err)) != MODMIG_OK || (rc = lock(&r, err)) != MODMIG_OK)
		goto cleanup;
	r.event = action_events[opts->action];
	if ((rc = plan(&r, err)) != MODMIG_OK)
		goto cleanup;
	sql = r.count ? mm_printf("BEGIN ISOLATION LEVEL READ COMMITTED;\nSELECT "
	                          "pg_catalog.pg_advisory_xact_lock(%lld);\n%sCOMMIT;\n",
	                          (long long)r.s.names.fence_key, r.sql.data)
	              : NULL;
	if (r.oom || r.sql.oom || (r.count && !sql)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if (!r.count) {
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL, "%s",
		        nothing_to_do[opts->action]);
		goto cleanup;
	}
	if (!opts->dry_run && (rc = record(&r, sql, err)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < r.count; i++)
		mm_emit(db, MODMIG_EVENT_REPAIRED, MODMIG_LOG_INFO, r.notes[i].m, MODMIG_UP, 0,
		        NULL, "%s %s", opts->dry_run ? "would record" : "recorded",
		        r.notes[i].text);
cleanup:
	for (i = 0; i < r.count; i++)
		free(r.notes[i].text);
	free(r.notes);
	free(sql);
	mm_buf_free(&r.sql);
	mm_session_close(&r.s);
	return rc;
}

void modmig_repair_options_init(modmig_repair_options *opts)
{
	if (opts)
		memset(opts, 0, sizeof(*opts));
}
