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
 * The lock key is FNV-1a (64-bit) of "modmig:" followed by the version table
 * as configured. It is computed client-side so it is stable across servers
 * and versions; "goose_db_version" and "public.goose_db_version" give
 * different keys, so spell the table the same way everywhere.
 */
static int64_t lock_key(const char *written)
{
	uint64_t h = 14695981039346656037ULL;
	const char *parts[2] = {"modmig:", written};
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

modmig_status mm_names_init(modmig_db *db, const char *version_table, mm_names *out,
                            modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const char *table = version_table, *dot;
	char *schema_raw = NULL;
	bool quoted = true;
	int t;

	memset(out, 0, sizeof(*out));
	if (!table || !*table)
		table = "goose_db_version";
	dot = strchr(table, '.');
	if (dot) {
		schema_raw = mm_strndup(table, (size_t)(dot - table));
		table = dot + 1;
	}
	if (!*table || (schema_raw && !*schema_raw) || strlen(table) > MAX_TABLE_NAME) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "invalid version table name \"%s\": need [schema.]table with a table "
		             "name of 1 to %d bytes",
		             version_table, MAX_TABLE_NAME);
		mm_hint(err, "set version_table in the manifest to a shorter name");
		goto cleanup;
	}
	out->written = mm_strdup(version_table ? version_table : table);
	if (schema_raw)
		out->schema = quote(db, schema_raw, strlen(schema_raw));
	for (t = 0; t < MM_TABLE_COUNT; t++)
		if (!(out->table[t] = qualified(db, out->schema, table, tables[t].suffix)))
			quoted = false;
	out->guard_fn = qualified(db, out->schema, table, GUARD_SUFFIX);
	out->lock_key = lock_key(out->written ? out->written : "");
	if (!out->written || (schema_raw && !out->schema) || !quoted || !out->guard_fn)
		rc = mm_db_fail(db, NULL, MODMIG_E_NOMEM, err, "cannot quote the version table");
cleanup:
	free(schema_raw);
	if (rc != MODMIG_OK)
		mm_names_clear(out);
	return rc;
}

void mm_names_clear(mm_names *n)
{
	int t;

	free(n->written);
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
		        "%sselect 2, h.version, h.id, null, h.event, h.sha256, h.failed_unit, "
		        "h.error from (select distinct on (version) version, id, event, "
		        "sha256, failed_unit, error from %s where version is not null order by "
		        "version, id desc) h",
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
		mm_buf_puts(&b, "select 0::int, 0::bigint where false");
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
modmig_status mm_state_read(modmig_db *db, const mm_names *n, mm_state *out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	PGresult *full = NULL, *exist = NULL, *sync = NULL, *partial = NULL;
	char *query = NULL, *exist_sql = NULL;
	bool piped = false, any = false;
	mm_buf eb;
	int t;

	memset(out, 0, sizeof(*out));
	mm_buf_init(&eb);
	mm_buf_puts(&eb, "select ");
	for (t = 0; t < MM_TABLE_COUNT; t++) {
		out->has[t] = true;
		mm_buf_printf(&eb, "%sto_regclass($%d) is not null", t ? ", " : "", t + 1);
	}
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
	if (PQresultStatus(full) == PGRES_TUPLES_OK) {
		rc = state_from_rows(full, out, err);
		goto cleanup;
	}
	if (!mm_db_is_missing_relation(full) || PQresultStatus(exist) != PGRES_TUPLES_OK ||
	    PQnfields(exist) != MM_TABLE_COUNT || PQntuples(exist) != 1) {
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

modmig_status mm_store_create(modmig_db *db, const mm_names *n, const mm_state *st,
                              modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	mm_buf b;
	char *sql = NULL;
	int t;

	if (mm_state_complete(st))
		return MODMIG_OK;
	mm_buf_init(&b);
	mm_buf_puts(&b, "BEGIN;\n");
	if (n->schema)
		mm_buf_printf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", n->schema);
	for (t = 0; t < MM_TABLE_COUNT; t++)
		if (!st->has[t])
			mm_buf_printf(&b, tables[t].ddl, n->table[t], n->guard_fn);
	mm_buf_puts(&b, "COMMIT;\n");
	sql = mm_buf_take(&b);
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_db_exec(db, sql, MODMIG_E_STATE, "cannot create modmig's state tables", err);
	if (rc != MODMIG_OK) {
		mm_hint(err, "the user needs CREATE privilege on the schema of %s", n->written);
		mm_db_exec(db, "ROLLBACK", MODMIG_E_STATE, "rollback", NULL);
	}
cleanup:
	free(sql);
	return rc;
}

modmig_status mm_store_register(modmig_db *db, const mm_names *n, const modmig_source *src,
                                size_t first_new, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t count = modmig_source_module_count(src), i, k = 0;
	mm_buf sql;
	char **values = NULL, *text = NULL;
	PGresult *res = NULL;

	if (first_new >= count)
		return MODMIG_OK;
	mm_buf_init(&sql);
	values = calloc((count - first_new) * 4, sizeof(*values));
	if (!values)
		goto nomem;
	mm_buf_printf(&sql, "INSERT INTO %s (name, position, first_version, last_version) VALUES ",
	              n->table[MM_TABLE_MODULES]);
	for (i = first_new; i < count; i++, k += 4) {
		const modmig_module *m = modmig_source_module_at(src, i);

		mm_buf_printf(&sql, "%s($%zu, $%zu::int, $%zu::bigint, $%zu::bigint)",
		              i > first_new ? ", " : "", k + 1, k + 2, k + 3, k + 4);
		values[k] = mm_strdup(modmig_module_name(m));
		values[k + 1] = mm_printf("%zu", modmig_module_index(m) + 1);
		values[k + 2] = mm_printf("%lld", (long long)modmig_module_first_version(m));
		values[k + 3] = mm_printf("%lld", (long long)modmig_module_last_version(m));
		if (!values[k] || !values[k + 1] || !values[k + 2] || !values[k + 3])
			goto nomem;
	}
	text = mm_buf_take(&sql);
	if (!text)
		goto nomem;
	res = PQexecParams(db->conn, text, (int)k, NULL, (const char *const *)values, NULL, NULL,
	                   0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = mm_db_fail(db, res, MODMIG_E_STATE, err, "cannot register modules");
	goto cleanup;
nomem:
	rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
cleanup:
	PQclear(res);
	for (i = 0; values && i < (count - first_new) * 4; i++)
		free(values[i]);
	free(values);
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

bool mm_store_sql_history_row(mm_buf *b, modmig_db *db, const mm_names *n,
                              modmig_history_event event, const modmig_migration *m,
                              double duration_ms, int failed_unit, const char *error)
{
	const modmig_module *mod = modmig_migration_module(m);
	const char *file = modmig_migration_file(m), *base = file ? strrchr(file, '/') : NULL;

	mm_buf_printf(b,
	              "INSERT INTO %s (event, version, module, file, sha256, duration_ms, "
	              "client_host, failed_unit, error) VALUES (",
	              n->table[MM_TABLE_HISTORY]);
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
		mm_buf_puts(b, ", NULL, ");
	append_literal(b, db, error);
	return mm_buf_puts(b, ");\n");
}
