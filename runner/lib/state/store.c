/*
 * store.c - modmig's state in the database: goose's version table, the
 * append-only history and the module registry. The names are quoted from
 * the configured version table; all state is read in one round trip.
 */
#include "state/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL truncates identifiers to 63 bytes; "_history" must still fit. */
#define MAX_TABLE_NAME 55
/* The history's trigger function, named after the version table like the tables. */
#define GUARD_SUFFIX "_guard"

static const struct {
	const char *suffix;
	const char *what;
	const char *ddl;
} tables[MM_TABLE_COUNT] = {
#define MM_STATE_TABLE(id, sfx, wh, sql) [MM_TABLE_##id] = {sfx, wh, sql},
#include "state/tables.def"
#undef MM_STATE_TABLE
};

const char *mm_table_what(mm_table t)
{
	return (unsigned)t < MM_TABLE_COUNT ? tables[t].what : "a state table";
}

/* ---- names -------------------------------------------------------------- */

const char *const mm_state_table_suffixes[] = {
#define MM_STATE_TABLE(id, suffix, what, ddl) suffix,
#include "state/tables.def"
#undef MM_STATE_TABLE
        NULL};
const char *const mm_state_function_suffixes[] = {GUARD_SUFFIX, NULL};

static char *quote(modmig_db *db, const char *s, size_t n)
{
	char *q = PQescapeIdentifier(db->conn, s, n);
	char *out = q ? mm_strdup(q) : NULL;

	if (q)
		PQfreemem(q);
	return out;
}

/* "schema".name or name alone, name quoted from base + suffix. */
static char *qualified(modmig_db *db, const char *schema, const char *base, const char *suffix)
{
	char *raw = mm_printf("%s%s", base, suffix), *name = NULL, *out = NULL;

	if (raw)
		name = quote(db, raw, strlen(raw));
	if (name)
		out = schema ? mm_printf("%s.%s", schema, name) : mm_strdup(name);
	free(raw);
	free(name);
	return out;
}

/*
 * The lock key is FNV-1a (64-bit) of "modmig:" followed by the version
 * table's quoted, schema-qualified name ("public"."goose_db_version"), so
 * every spelling of one table (goose_db_version, public.goose_db_version,
 * "public".goose_db_version) gets one key. It is computed client-side so it
 * is stable across servers and versions.
 */
static int64_t fnv_key(const char *prefix, const char *qualified)
{
	uint64_t h = 14695981039346656037ULL;
	const char *parts[2] = {prefix, qualified};
	const unsigned char *p;
	int64_t key;
	size_t i;

	for (i = 0; i < 2; i++) {
		for (p = (const unsigned char *)parts[i]; *p; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
	}
	memcpy(&key, &h, sizeof(key));
	return key;
}

static int64_t lock_key(const char *qualified)
{
	return fnv_key("modmig:", qualified);
}

/* Quote every state object's name in schema (raw, or NULL for unqualified). */
static modmig_status quote_names(modmig_db *db, mm_names *n, const char *schema_raw,
                                 modmig_error **err)
{
	bool ok = true;
	int t;

	free(n->schema);
	n->schema = schema_raw ? quote(db, schema_raw, strlen(schema_raw)) : NULL;
	for (t = 0; t < MM_TABLE_COUNT; t++) {
		free(n->table[t]);
		if (!(n->table[t] = qualified(db, n->schema, n->base, tables[t].suffix)))
			ok = false;
	}
	free(n->guard_fn);
	n->guard_fn = qualified(db, n->schema, n->base, GUARD_SUFFIX);
	if ((schema_raw && !n->schema) || !ok || !n->guard_fn)
		return mm_db_fail(db, NULL, MODMIG_E_NOMEM, err, "cannot quote the version table");
	if (n->schema) {
		n->lock_key = lock_key(n->table[MM_TABLE_VERSION]);
		n->fence_key = fnv_key("modmig-fence:", n->table[MM_TABLE_VERSION]);
	}
	return MODMIG_OK;
}

modmig_status mm_names_init(modmig_db *db, const char *version_table, mm_names *out,
                            modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *schema_raw = NULL;

	memset(out, 0, sizeof(*out));
	if (!version_table || !*version_table)
		version_table = "goose_db_version";
	rc = mm_parse_table_name(version_table, &schema_raw, &out->base, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	if (strlen(out->base) > MAX_TABLE_NAME) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "invalid version table name '%s': the table name must be 1 to %d "
		             "bytes",
		             version_table, MAX_TABLE_NAME);
		mm_hint(err, "set version_table in the manifest to a shorter name");
		goto cleanup;
	}
	out->written = mm_strdup(version_table);
	if (!out->written) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = quote_names(db, out, schema_raw, err);
cleanup:
	free(schema_raw);
	if (rc != MODMIG_OK)
		mm_names_clear(out);
	return rc;
}

bool mm_names_resolved(const mm_names *n)
{
	return n->schema != NULL;
}

modmig_status mm_names_qualify(modmig_db *db, mm_names *n, const char *schema, modmig_error **err)
{
	if (n->schema)
		return MODMIG_OK;
	if (!schema || !*schema) {
		mm_fail(err, MODMIG_E_STATE, NULL, 0, 0,
		        "no schema to keep the version table %s in: the search_path names no "
		        "schema that exists",
		        n->written);
		mm_hint(err, "qualify the version table with its schema (schema.table), or "
		             "create a schema that the search_path names");
		return MODMIG_E_STATE;
	}
	return quote_names(db, n, schema, err);
}

/* Where an unqualified version table is, or would be created: one value. */
#define RESOLVE_SQL                                                                                \
	"coalesce((select n.nspname::text from pg_class c join pg_namespace n on n.oid = "         \
	"c.relnamespace where c.oid = to_regclass($1)), current_schema()::text)"

modmig_status mm_names_resolve(modmig_db *db, mm_names *n, modmig_error **err)
{
	modmig_status rc;
	const char *params[1];
	PGresult *res;

	if (n->schema)
		return MODMIG_OK;
	params[0] = n->table[MM_TABLE_VERSION];
	res = PQexecParams(db->conn, "select " RESOLVE_SQL, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = mm_db_fail(db, res, MODMIG_E_STATE, err,
		                "cannot find the version table's schema");
	else
		rc = mm_names_qualify(db, n, PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
		                      err);
	PQclear(res);
	return rc;
}

void mm_names_clear(mm_names *n)
{
	int t;

	free(n->written);
	free(n->base);
	for (t = 0; t < MM_TABLE_COUNT; t++)
		free(n->table[t]);
	free(n->schema);
	free(n->guard_fn);
	memset(n, 0, sizeof(*n));
}

/* ---- reading state ------------------------------------------------------ */

/*
 * One row per applied version (kind 1), per version's latest history event
 * (kind 2) and per registered module (kind 3). goose's rule: a version is
 * applied when its most recent row says so; version 0 is goose's own marker.
 */
static char *state_query(const mm_names *n, const mm_state *have)
{
	mm_buf b;
	bool any = false;

	mm_buf_init(&b);
	if (have->has[MM_TABLE_VERSION]) {
		mm_buf_printf(&b,
		              "select 1, v.version_id, v.id::bigint, "
		              "to_char(v.tstamp, 'YYYY-MM-DD HH24:MI:SS'), null::text, null::text, "
		              "null::int, null::text from (select distinct on (version_id) "
		              "version_id, id, is_applied, tstamp from %s order by version_id, id "
		              "desc) v where v.is_applied and v.version_id <> 0",
		              n->table[MM_TABLE_VERSION]);
		any = true;
	}
	if (have->has[MM_TABLE_HISTORY]) {
		mm_buf_printf(
		        &b,
		        "%sselect 2, h.version, h.id, extract(epoch from now() - "
		        "h.at)::bigint::text, "
		        "h.event, h.sha256, h.failed_unit, h.error from (select distinct on "
		        "(version) version, id, event, sha256, failed_unit, error, at from %s "
		        "where version is not null order by version, id desc) h",
		        any ? " union all " : "", n->table[MM_TABLE_HISTORY]);
		any = true;
	}
	if (have->has[MM_TABLE_MODULES]) {
		mm_buf_printf(
		        &b,
		        "%sselect 3, m.position::bigint, 0::bigint, null, m.name, null, null, "
		        "null from %s m",
		        any ? " union all " : "", n->table[MM_TABLE_MODULES]);
		any = true;
	}
	if (!any)
		mm_buf_puts(&b, "select 0::int, 0::bigint, 0::bigint, null::text, null::text, "
		                "null::text, null::int, "
		                "null::text where false");
	mm_buf_puts(&b, " order by 1, 2");
	return mm_buf_take(&b);
}

static char *value_dup(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : mm_strdup(PQgetvalue(res, row, col));
}

/* The columns state_query() selects, and those each kind of row must fill. */
#define STATE_COLUMNS 8
static const unsigned required_columns[4] = {
        [1] = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3, /* kind, version, id, tstamp */
        [2] = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 4, /* kind, version, id, event */
        [3] = 1u << 0 | 1u << 1 | 1u << 4,           /* kind, position, name */
};

/*
 * Whether every row is one the query writes: a known kind with its values.
 * A NULL read as "" would be version 0 or an unnamed module; a result of
 * another shape is refused before any row is read.
 */
static modmig_status check_state_rows(const PGresult *res, modmig_error **err)
{
	int rows = PQntuples(res), i, col;
	modmig_status rc;

	rc = mm_db_check_shape(res, -1, STATE_COLUMNS, MODMIG_E_STATE, err,
	                       "cannot read modmig's state");
	for (i = 0; i < rows && rc == MODMIG_OK; i++) {
		int kind = PQgetisnull(res, i, 0) ? 0 : atoi(PQgetvalue(res, i, 0));

		if (kind < 1 || kind > 3)
			return mm_fail(
			        err, MODMIG_E_STATE, NULL, 0, 0,
			        "cannot read modmig's state: row %d is of kind %s, expected 1 "
			        "to 3",
			        i + 1, PQgetisnull(res, i, 0) ? "NULL" : PQgetvalue(res, i, 0));
		for (col = 0; col < STATE_COLUMNS; col++)
			if ((required_columns[kind] >> col & 1u) && PQgetisnull(res, i, col))
				return mm_fail(
				        err, MODMIG_E_STATE, NULL, 0, 0,
				        "cannot read modmig's state: row %d has NULL in column "
				        "%d, where a value is expected",
				        i + 1, col + 1);
	}
	return rc;
}

static modmig_status state_from_rows(const PGresult *res, mm_state *st, modmig_error **err)
{
	int rows = PQntuples(res), i;
	size_t counts[4] = {0, 0, 0, 0};

	if (check_state_rows(res, err) != MODMIG_OK)
		return MODMIG_E_STATE;
	for (i = 0; i < rows; i++) {
		int kind = atoi(PQgetvalue(res, i, 0));

		if (kind >= 1 && kind <= 3)
			counts[kind]++;
	}
	st->applied = counts[1] ? calloc(counts[1], sizeof(*st->applied)) : NULL;
	st->events = counts[2] ? calloc(counts[2], sizeof(*st->events)) : NULL;
	st->modules = counts[3] ? calloc(counts[3], sizeof(*st->modules)) : NULL;
	if ((counts[1] && !st->applied) || (counts[2] && !st->events) ||
	    (counts[3] && !st->modules))
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory reading state");
	for (i = 0; i < rows; i++) {
		int kind = atoi(PQgetvalue(res, i, 0));
		int64_t key = strtoll(PQgetvalue(res, i, 1), NULL, 10);

		if (kind == 1) {
			mm_applied *a = &st->applied[st->applied_count++];

			a->version = key;
			a->id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			snprintf(a->applied_at, sizeof(a->applied_at), "%s", PQgetvalue(res, i, 3));
		} else if (kind == 2) {
			mm_event_row *e = &st->events[st->event_count++];

			e->version = key;
			e->id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			e->age_seconds = PQgetisnull(res, i, 3) ? -1 : atoi(PQgetvalue(res, i, 3));
			e->event = value_dup(res, i, 4);
			e->kind = modmig_history_event_from_name(e->event);
			e->sha256 = value_dup(res, i, 5);
			e->failed_unit = PQgetisnull(res, i, 6) ? 0 : atoi(PQgetvalue(res, i, 6));
			e->error = value_dup(res, i, 7);
		} else if (kind == 3) {
			mm_registered *m = &st->modules[st->module_count++];

			m->position = (int)key;
			m->name = value_dup(res, i, 4);
		}
	}
	return MODMIG_OK;
}

/* Read every result of the current query; keep the first (or first error). */
static PGresult *one_result(PGconn *conn)
{
	PGresult *keep = NULL, *r;

	while ((r = PQgetResult(conn)) != NULL) {
		if (!keep || (PQresultStatus(r) == PGRES_FATAL_ERROR &&
		              PQresultStatus(keep) != PGRES_FATAL_ERROR)) {
			PQclear(keep);
			keep = r;
		} else {
			PQclear(r);
		}
	}
	return keep;
}

/*
 * The full query and an existence check go in one pipeline, so a fresh or
 * goose-only database costs no extra round trip before we know what exists.
 */
modmig_status mm_state_read(modmig_db *db, mm_names *n, mm_state *out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	PGresult *full = NULL, *exist = NULL, *sync = NULL, *partial = NULL;
	char *query = NULL, *exist_sql = NULL;
	bool piped = false, any = false, exist_ok = false;
	mm_buf eb;
	int t;

	memset(out, 0, sizeof(*out));
	mm_buf_init(&eb);
	mm_buf_puts(&eb, "select ");
	for (t = 0; t < MM_TABLE_COUNT; t++) {
		out->has[t] = true;
		mm_buf_printf(&eb, "%sto_regclass($%d) is not null", t ? ", " : "", t + 1);
	}
	/* the version table's schema rides along: up with nothing to do stays one round trip */
	mm_buf_puts(&eb, ", " RESOLVE_SQL);
	exist_sql = mm_buf_take(&eb);
	query = state_query(n, out);
	if (!query || !exist_sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	piped = PQenterPipelineMode(db->conn) == 1;
	if (!piped || !PQsendQueryParams(db->conn, query, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(db->conn) ||
	    !PQsendQueryParams(db->conn, exist_sql, MM_TABLE_COUNT, NULL,
	                       (const char *const *)n->table, NULL, NULL, 0) ||
	    !PQpipelineSync(db->conn)) {
		rc = mm_db_fail(db, NULL, MODMIG_E_SQL, err, "cannot read modmig's state");
		goto cleanup;
	}
	full = one_result(db->conn);
	sync = PQgetResult(db->conn);
	PQclear(sync);
	exist = one_result(db->conn);
	sync = PQgetResult(db->conn);
	PQclear(sync);
	PQexitPipelineMode(db->conn);
	piped = false;
	exist_ok = PQresultStatus(exist) == PGRES_TUPLES_OK &&
	           PQnfields(exist) == MM_TABLE_COUNT + 1 && PQntuples(exist) == 1;
	if (PQresultStatus(full) == PGRES_TUPLES_OK) {
		rc = state_from_rows(full, out, err);
		if (rc == MODMIG_OK && !n->schema && !exist_ok)
			rc = mm_db_fail(db, exist, MODMIG_E_STATE, err,
			                "cannot read modmig's state");
		goto cleanup;
	}
	if (!mm_db_is_missing_relation(full) || !exist_ok) {
		rc = mm_db_fail(db, full, MODMIG_E_STATE, err, "cannot read modmig's state");
		goto cleanup;
	}
	for (t = 0; t < MM_TABLE_COUNT; t++)
		any |= (out->has[t] = PQgetvalue(exist, 0, t)[0] == 't');
	if (!any)
		goto cleanup;
	/* Some tables exist (a goose database being adopted): read those. */
	free(query);
	query = state_query(n, out);
	partial = query ? PQexec(db->conn, query) : NULL;
	if (PQresultStatus(partial) != PGRES_TUPLES_OK)
		rc = mm_db_fail(db, partial, MODMIG_E_STATE, err, "cannot read modmig's state");
	else
		rc = state_from_rows(partial, out, err);
cleanup:
	if (rc == MODMIG_OK && !n->schema && exist_ok)
		rc = mm_names_qualify(db, n,
		                      PQgetisnull(exist, 0, MM_TABLE_COUNT)
		                              ? NULL
		                              : PQgetvalue(exist, 0, MM_TABLE_COUNT),
		                      err);
	if (piped) {
		while ((sync = PQgetResult(db->conn)) != NULL)
			PQclear(sync);
		PQexitPipelineMode(db->conn);
	}
	PQclear(full);
	PQclear(exist);
	PQclear(partial);
	free(query);
	free(exist_sql);
	if (rc != MODMIG_OK)
		mm_state_clear(out);
	return rc;
}

void mm_state_clear(mm_state *st)
{
	size_t i;

	for (i = 0; i < st->event_count; i++) {
		free(st->events[i].event);
		free(st->events[i].sha256);
		free(st->events[i].error);
	}
	for (i = 0; i < st->module_count; i++)
		free(st->modules[i].name);
	free(st->applied);
	free(st->events);
	free(st->modules);
	memset(st, 0, sizeof(*st));
}

const mm_applied *mm_state_find_applied(const mm_state *st, int64_t version)
{
	return MM_FIND(st->applied, st->applied_count, version, version);
}

const mm_event_row *mm_state_find_event(const mm_state *st, int64_t version)
{
	return MM_FIND(st->events, st->event_count, version, version);
}

int64_t mm_state_max_applied(const mm_state *st)
{
	return st->applied_count ? st->applied[st->applied_count - 1].version : 0;
}

int64_t mm_state_max_applied_upto(const mm_state *st, int64_t limit)
{
	size_t i = mm_bound_i64(st->applied, st->applied_count, sizeof(*st->applied),
	                        offsetof(mm_applied, version), limit, true);

	return i ? st->applied[i - 1].version : 0;
}

/* ---- creating and extending ------------------------------------------- */

bool mm_state_complete(const mm_state *st)
{
	int t;

	for (t = 0; t < MM_TABLE_COUNT; t++)
		if (!st->has[t])
			return false;
	return true;
}

/*
 * One advisory key for creating modmig's state in a database, whatever the
 * version table: two migrators creating state at the same moment (for one
 * version table, or two in one new schema) take turns instead of colliding
 * on pg_namespace, pg_type or pg_proc. It is "modmig:create" under FNV-1a.
 */
static int64_t create_key(void)
{
	return lock_key("create");
}

/*
 * Create whichever state tables st says are missing, in one transaction
 * under the creation lock. What st says was read before the lock, so each
 * table is created only if it still does not exist under the lock (CREATE
 * ... IF NOT EXISTS alone is not race-free: two creators both pass the check
 * and one fails on the catalog's unique index).
 */
modmig_status mm_store_create(modmig_db *db, const mm_names *n, const mm_state *st,
                              modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	mm_buf b, ddl;
	char *sql = NULL, *lit = NULL, *regclass = NULL;
	int t;

	if (mm_state_complete(st))
		return MODMIG_OK;
	mm_buf_init(&b);
	mm_buf_init(&ddl);
	mm_buf_printf(&b, "BEGIN;\nSELECT pg_advisory_xact_lock(%lld);\n", (long long)create_key());
	mm_buf_puts(&b, "DO $modmig_create$BEGIN\n");
	/* quietly: no "already exists, skipping" notice for public on every first use */
	if (n->schema) {
		char *create = mm_printf("CREATE SCHEMA %s", n->schema);

		lit = create ? PQescapeLiteral(db->conn, create, strlen(create)) : NULL;
		regclass = PQescapeLiteral(db->conn, n->schema, strlen(n->schema));
		if (lit && regclass)
			mm_buf_printf(&b,
			              "IF to_regnamespace(%s) IS NULL THEN EXECUTE %s; END IF;\n",
			              regclass, lit);
		else
			b.oom = true;
		if (lit)
			PQfreemem(lit);
		if (regclass)
			PQfreemem(regclass);
		lit = regclass = NULL;
		free(create);
	}
	for (t = 0; t < MM_TABLE_COUNT; t++) {
		if (st->has[t])
			continue;
		mm_buf_free(&ddl);
		mm_buf_init(&ddl);
		mm_buf_printf(&ddl, tables[t].ddl, n->table[t], n->guard_fn);
		lit = ddl.data ? PQescapeLiteral(db->conn, ddl.data, ddl.len) : NULL;
		regclass = PQescapeLiteral(db->conn, n->table[t], strlen(n->table[t]));
		if (!lit || !regclass) {
			b.oom = true;
		} else {
			mm_buf_printf(&b, "IF to_regclass(%s) IS NULL THEN EXECUTE %s; END IF;\n",
			              regclass, lit);
		}
		if (lit)
			PQfreemem(lit);
		if (regclass)
			PQfreemem(regclass);
		lit = regclass = NULL;
	}
	mm_buf_puts(&b, "END$modmig_create$;\nCOMMIT;\n");
	sql = mm_buf_take(&b);
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_db_exec(db, sql, MODMIG_E_STATE, "cannot create modmig's state tables", err);
	if (rc != MODMIG_OK) {
		const char *state = err && *err ? (*err)->sqlstate : NULL;

		/* only a privilege error is one: a hint about CREATE would mislead otherwise */
		if (state && strcmp(state, "42501") == 0)
			mm_hint(err, "the user needs CREATE privilege on the schema of %s",
			        n->written);
		if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
			mm_db_exec(db, "ROLLBACK", MODMIG_E_STATE, "rollback", NULL);
	}
cleanup:
	free(sql);
	mm_buf_free(&ddl);
	return rc;
}

static bool append_literal(mm_buf *b, modmig_db *db, const char *s);

/*
 * Register modules from first_new on. Two migrators may register the same
 * modules at once (behind a pooler nothing else serialises them): under the
 * creation lock, a module already registered at the same position is left
 * alone, and one registered at another position still fails on the name.
 */
modmig_status mm_store_register(modmig_db *db, const mm_names *n, const modmig_source *src,
                                size_t first_new, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t count = modmig_source_module_count(src), i;
	mm_buf sql;
	char *text = NULL;

	if (first_new >= count)
		return MODMIG_OK;
	mm_buf_init(&sql);
	mm_buf_printf(&sql, "BEGIN;\nSELECT pg_advisory_xact_lock(%lld);\n",
	              (long long)create_key());
	mm_buf_printf(&sql,
	              "INSERT INTO %s (name, position, first_version, last_version) SELECT * "
	              "FROM (VALUES ",
	              n->table[MM_TABLE_MODULES]);
	for (i = first_new; i < count; i++) {
		const modmig_module *m = modmig_source_module_at(src, i);

		mm_buf_puts(&sql, i > first_new ? ", (" : "(");
		append_literal(&sql, db, modmig_module_name(m));
		mm_buf_printf(&sql, ", %zu, %lld::bigint, %lld::bigint)",
		              modmig_module_index(m) + 1, (long long)modmig_module_first_version(m),
		              (long long)modmig_module_last_version(m));
	}
	mm_buf_printf(&sql,
	              ") v(name, position, first_version, last_version) WHERE NOT EXISTS "
	              "(SELECT 1 FROM %s r WHERE r.name = v.name AND r.position = v.position);\n"
	              "COMMIT;\n",
	              n->table[MM_TABLE_MODULES]);
	text = mm_buf_take(&sql);
	if (!text) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_db_exec(db, text, MODMIG_E_STATE, "cannot register modules", err);
	if (rc != MODMIG_OK && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		mm_db_exec(db, "ROLLBACK", MODMIG_E_STATE, "rollback", NULL);
cleanup:
	free(text);
	mm_buf_free(&sql);
	return rc;
}

/* ---- state rows of one migration ---------------------------------------- */

static bool append_literal(mm_buf *b, modmig_db *db, const char *s)
{
	char *lit;
	bool ok;

	if (!s)
		return mm_buf_puts(b, "NULL");
	lit = PQescapeLiteral(db->conn, s, strlen(s));
	if (!lit) {
		b->oom = true;
		return false;
	}
	ok = mm_buf_puts(b, lit);
	PQfreemem(lit);
	return ok;
}

bool mm_store_sql_version_row(mm_buf *b, const mm_names *n, modmig_direction dir, int64_t version)
{
	if (dir == MODMIG_UP)
		return mm_buf_printf(
		        b, "INSERT INTO %s (version_id, is_applied) VALUES (%lld, true);\n",
		        n->table[MM_TABLE_VERSION], (long long)version);
	return mm_buf_printf(b, "DELETE FROM %s WHERE version_id = %lld;\n",
	                     n->table[MM_TABLE_VERSION], (long long)version);
}

bool mm_store_sql_history_row_if(mm_buf *b, modmig_db *db, const mm_names *n,
                                 modmig_history_event event, const modmig_migration *m,
                                 double duration_ms, int failed_unit, const char *error,
                                 const char *condition)
{
	const modmig_module *mod = modmig_migration_module(m);
	const char *file = modmig_migration_file(m), *base = file ? strrchr(file, '/') : NULL;

	mm_buf_printf(b,
	              "INSERT INTO %s (event, version, module, file, sha256, duration_ms, "
	              "client_host, failed_unit, error) %s",
	              n->table[MM_TABLE_HISTORY], condition ? "SELECT " : "VALUES (");
	append_literal(b, db, modmig_history_event_name(event));
	mm_buf_printf(b, ", %lld, ", (long long)modmig_migration_version(m));
	append_literal(b, db, mod ? modmig_module_name(mod) : NULL);
	mm_buf_puts(b, ", ");
	append_literal(b, db, base ? base + 1 : file);
	mm_buf_puts(b, ", ");
	append_literal(b, db, modmig_migration_sha256(m));
	if (duration_ms < 0)
		mm_buf_puts(b, ", extract(epoch from clock_timestamp() - now()) * 1000, ");
	else
		/* Integer microseconds: a host's LC_NUMERIC must not change the SQL. */
		mm_buf_printf(b, ", %lld / 1000.0, ", (long long)(duration_ms * 1000.0));
	append_literal(b, db, db->hostname[0] ? db->hostname : NULL);
	if (failed_unit > 0)
		mm_buf_printf(b, ", %d, ", failed_unit);
	else
		mm_buf_puts(b, ", NULL::integer, ");
	append_literal(b, db, error);
	if (condition)
		return mm_buf_printf(b, " WHERE %s;\n", condition);
	return mm_buf_puts(b, ");\n");
}

bool mm_store_sql_history_row(mm_buf *b, modmig_db *db, const mm_names *n,
                              modmig_history_event event, const modmig_migration *m,
                              double duration_ms, int failed_unit, const char *error)
{
	return mm_store_sql_history_row_if(b, db, n, event, m, duration_ms, failed_unit, error,
	                                   NULL);
}
