/*
 * names.c - the names of modmig's state: the state tables of tables.def,
 * quoted and qualified from the configured version table, the advisory lock
 * keys derived from them, and resolving an unqualified name's schema.
 * Reading state is store.c's, creating and writing it write.c's.
 */
#include "state/store.h"

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

const char *mm_table_ddl(mm_table t)
{
	return tables[t].ddl;
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

/*
 * One advisory key for creating modmig's state in a database, whatever the
 * version table: two migrators creating state at the same moment (for one
 * version table, or two in one new schema) take turns instead of colliding
 * on pg_namespace, pg_type or pg_proc. It is "modmig:create" under FNV-1a.
 */
int64_t mm_state_create_key(void)
{
	return lock_key("create");
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

modmig_status mm_names_resolve(modmig_db *db, mm_names *n, modmig_error **err)
{
	modmig_status rc;
	const char *params[1];
	PGresult *res;

	if (n->schema)
		return MODMIG_OK;
	params[0] = n->table[MM_TABLE_VERSION];
	res = PQexecParams(db->conn, "select " MM_RESOLVE_SQL, 1, NULL, params, NULL, NULL, 0);
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
