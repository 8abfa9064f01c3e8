/*
 * write.c - creating and writing modmig's state: the missing state tables
 * (under the creation lock), the module registry, and the SQL of one
 * migration's rows in the version table and the history, which the executor
 * sends in the migration's own transaction. Reading state is store.c's.
 */
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	mm_buf_printf(&b, "BEGIN;\nSELECT pg_advisory_xact_lock(%lld);\n",
	              (long long)mm_state_create_key());
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
		mm_buf_printf(&ddl, mm_table_ddl((mm_table)t), n->table[t], n->guard_fn);
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

/* s as an SQL literal (NULL as NULL); false when out of memory, b marked so. */
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
	              (long long)mm_state_create_key());
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
