/*
 * apply_errors.c - what the executor says when a migration fails: the
 * server's error placed at file:line:column of its unit, and a timeout
 * explained with the table it waited for and the session that held it.
 */
#include "run/apply.h"

#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

/* ---- errors mapped to file:line:column ---------------------------------- */

/* Line and column in the file of byte offset `at` inside unit u. */
void mm_apply_locate(const mm_unit *u, size_t at, int *line, int *column)
{
	size_t i;

	*line = u->line;
	*column = u->column > 0 ? u->column : 1;
	for (i = 0; i < at && i < u->len; i++) {
		unsigned char c = (unsigned char)u->sql[i];

		if (c == '\n') {
			(*line)++;
			*column = 1;
		} else if ((c & 0xC0) != 0x80) {
			(*column)++;
		}
	}
}

/* Byte offset of the 1-based character position pos in s (len when beyond). */
static size_t byte_of_char(const char *s, size_t len, long pos)
{
	size_t i;
	long chars = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars == pos)
			return i;
	}
	return len;
}

/*
 * Which unit failed, and where, for an error without a position: the server
 * sent one result per statement before the failing one, and the scanner
 * tells how many statements each unit holds.
 */
bool mm_apply_unit_by_results(const composed *c, const mm_section *sec, int ok_results,
                              size_t *unit, size_t *offset)
{
	int k = ok_results - c->prefix_results;
	size_t i;

	if (k < 0)
		return false;
	for (i = 0; i < c->count; i++) {
		const mm_unit *u = &sec->units[c->first + i];
		mm_sql_split split;
		bool split_ok =
		        mm_sql_split_text(u->sql, MM_SQL_SPLIT_SCANNER, &split, NULL) == MODMIG_OK;
		int n = !split_ok || split.count < 1 ? 1 : (int)split.count;

		if (k < n) {
			*unit = c->first + i;
			*offset = !split_ok || !split.count ? 0 : split.stmts[k].offset;
			while (*offset < u->len &&
			       (u->sql[*offset] == ' ' || u->sql[*offset] == '\n' ||
			        u->sql[*offset] == '\t'))
				(*offset)++;
			mm_sql_split_clear(&split);
			return true;
		}
		mm_sql_split_clear(&split);
		k -= n;
	}
	return false;
}

/* Statements in a unit as the scanner splits it (at least one, as the server counts). */
static int statements_of(const mm_unit *u)
{
	mm_sql_split split;
	bool split_ok = mm_sql_split_text(u->sql, MM_SQL_SPLIT_SCANNER, &split, NULL) == MODMIG_OK;
	int n = !split_ok || split.count < 1 ? 1 : (int)split.count;

	mm_sql_split_clear(&split);
	return n;
}

/* Statements of add_bookkeeping_session(), between the units and the state rows. */
#define BOOKKEEPING_STATEMENTS 2

/*
 * Results a composed transaction sends when all goes well: prefix, units,
 * the bookkeeping session, two rows, COMMIT.
 */
int mm_apply_results_of(const composed *c, const mm_section *sec)
{
	int n = c->prefix_results + BOOKKEEPING_STATEMENTS + 3;
	size_t i;

	for (i = 0; i < c->count; i++)
		n += statements_of(&sec->units[c->first + i]);
	return n;
}

/* Turn a failing result into an error naming the unit's file:line:column. */
modmig_status mm_apply_failed(modmig_db *db, const modmig_migration *m, modmig_direction dir,
                              const composed *c, const PGresult *res, int ok_results,
                              size_t *failed_unit, modmig_error **err)
{
	const mm_section *sec = mm_section_of(m, dir);
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	size_t unit = 0, offset = 0, i;
	bool found = false;
	int line = 0, column = 0;
	char what[96];

	if (pos) {
		size_t at = byte_of_char(c->sql.data, c->sql.len, strtol(pos, NULL, 10));

		for (i = 0; i < c->count && !found; i++) {
			if (at >= c->spans[i].start && at < c->spans[i].start + c->spans[i].len) {
				unit = c->first + i;
				offset = at - c->spans[i].start;
				found = true;
			}
		}
	} else if (res) {
		found = mm_apply_unit_by_results(c, sec, ok_results, &unit, &offset);
	}
	if (found)
		mm_apply_locate(&sec->units[unit], offset, &line, &column);
	snprintf(what, sizeof(what), "migration %lld failed", (long long)m->version);
	mm_db_fail(db, res, MODMIG_E_SQL, err, what);
	if (err && *err) {
		mm_error_set_field(&(*err)->file, m->file);
		(*err)->line = line;
		(*err)->column = column;
		/*
		 * The server's own hint wins. Without one, say what holds for every
		 * failed transactional migration (a NO TRANSACTION one gets its
		 * resume step from the caller).
		 */
		if (!(*err)->hint && !modmig_migration_no_transaction(m))
			mm_hint(err,
			        "fix the statement%s, then apply again: the migration ran in one "
			        "transaction, so nothing of it was kept",
			        line > 0 ? " at the line shown" : "");
	}
	mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
	*failed_unit = found ? unit + 1 : 0;
	return MODMIG_E_SQL;
}

/* ---- timeouts explained ------------------------------------------------- */

/* Append s (NULL for none) as an element of a text[] literal. */
static void add_element(mm_buf *arr, const char *s)
{
	const char *p;

	if (arr->len > 1)
		mm_buf_puts(arr, ",");
	if (!s) {
		mm_buf_puts(arr, "NULL");
		return;
	}
	mm_buf_puts(arr, "\"");
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			mm_buf_append(arr, "\\", 1);
		mm_buf_append(arr, p, 1);
	}
	mm_buf_puts(arr, "\"");
}

/*
 * The tables a unit names, as two text[] literals (schemas with NULL for
 * none, and names), from the sql layer's relations of each statement. A unit
 * the grammar cannot parse names none, and the timeout goes unexplained.
 */
static void relations_of(const char *sql, mm_buf *schemas, mm_buf *names)
{
	mm_sql_tree *tree = NULL;
	mm_sql_names rels = {0};
	size_t i;
	size_t j;

	mm_buf_puts(schemas, "{");
	mm_buf_puts(names, "{");
	if (mm_sql_tree_new(sql, &tree, NULL) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < mm_sql_tree_count(tree); i++) {
		if (mm_sql_relations(mm_sql_tree_stmt(tree, i), &rels) != MODMIG_OK)
			goto cleanup;
		for (j = 0; j < rels.count; j++) {
			if (!rels.items[j].name)
				continue;
			add_element(schemas, rels.items[j].schema);
			add_element(names, rels.items[j].name);
		}
		mm_sql_names_clear(&rels);
	}
cleanup:
	mm_buf_puts(schemas, "}");
	mm_buf_puts(names, "}");
	mm_sql_names_clear(&rels);
	mm_sql_tree_free(tree);
}

/* The strongest lock another session holds on a table of the unit: "pid 12 (psql, ...) holds". */
static char *lock_holder(modmig_db *db, const char *sql)
{
	static const char query[] =
	        "select l.pid, l.mode, format('%I.%I', n.nspname, c.relname), "
	        "coalesce(nullif(a.application_name, ''), 'no application_name'), "
	        "coalesce(a.state, 'unknown state'), "
	        "coalesce(extract(epoch from now() - a.xact_start)::bigint, 0) "
	        "from pg_locks l join pg_class c on c.oid = l.relation "
	        "join pg_namespace n on n.oid = c.relnamespace "
	        "left join pg_stat_activity a on a.pid = l.pid "
	        "where l.granted and l.locktype = 'relation' and l.pid <> pg_backend_pid() "
	        "and l.relation in (select to_regclass(coalesce(quote_ident(t.s) || '.', '') || "
	        "quote_ident(t.r))::oid from unnest($1::text[], $2::text[]) as t(s, r)) "
	        "order by array_position(array['AccessExclusiveLock', 'ExclusiveLock', "
	        "'ShareRowExclusiveLock', 'ShareLock', 'ShareUpdateExclusiveLock', "
	        "'RowExclusiveLock', 'RowShareLock', 'AccessShareLock'], l.mode::text) limit 1";
	mm_buf schemas, names;
	const char *params[2];
	PGresult *res = NULL;
	char *out = NULL;

	mm_buf_init(&schemas);
	mm_buf_init(&names);
	relations_of(sql, &schemas, &names);
	if (schemas.oom || names.oom || names.len <= 2)
		goto cleanup;
	params[0] = schemas.data;
	params[1] = names.data;
	res = PQexecParams(db->conn, query, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		goto cleanup;
	out = mm_printf("waiting for a lock on %s: pid %s (%s, %s for %ss) holds %s on it",
	                PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3),
	                PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 1));
cleanup:
	PQclear(res);
	mm_buf_free(&schemas);
	mm_buf_free(&names);
	return out;
}

/*
 * A lock or statement timeout gets a message that says so, with the lock and
 * the session holding it, looked up now: the holder still has it.
 */
void mm_apply_explain_timeout(const run_args *a, modmig_error **err)
{
	const mm_section *sec = mm_section_of(a->m, a->dir);
	const char *state = err && *err ? (*err)->sqlstate : NULL;
	const char *msg = state ? (*err)->message : NULL;
	bool lock = state && strcmp(state, "55P03") == 0 && strstr(msg, "lock timeout");
	bool statement = state && strcmp(state, "57014") == 0 && strstr(msg, "statement timeout");
	const char *value = lock ? a->lock_timeout : a->statement_timeout;
	char *holder = NULL, *text = NULL, setting[80] = "";

	if (!lock && !statement)
		return;
	if (value)
		snprintf(setting, sizeof(setting), " (%s)", value);
	if (lock && a->failed_unit > 0 && a->failed_unit <= sec->count)
		holder = lock_holder(a->s->db, sec->units[a->failed_unit - 1].sql);
	if (lock)
		text = mm_printf("migration %lld failed: lock timeout%s exceeded %s",
		                 (long long)a->m->version, setting,
		                 holder ? holder
		                        : "waiting for a lock that another session held; it is "
		                          "released now");
	else
		text = mm_printf("migration %lld failed: statement timeout%s exceeded in unit %zu",
		                 (long long)a->m->version, setting, a->failed_unit);
	if (text)
		mm_error_set_field(&(*err)->message, text);
	/* a NO TRANSACTION migration's hint already says which units took effect */
	if (!a->m->parsed.no_transaction && lock)
		mm_next(err, MODMIG_NEXT_RAISE_LOCK_TIMEOUT, 0,
		        "nothing of this migration was kept; let that session finish (or end "
		        "it), then run up again, or raise the lock timeout or the file's "
		        "lock_timeout header");
	else if (!a->m->parsed.no_transaction)
		mm_next(err, MODMIG_NEXT_RAISE_STATEMENT_TIMEOUT, 0,
		        "make the statement faster, or raise the statement timeout or the "
		        "file's statement_timeout header");
	free(holder);
	free(text);
}

/*
 * The fence found the lease gone (take it back, waiting like at the start,
 * then run the migration again: its fence decides anew), or a NO TRANSACTION
 * run of the migration in progress elsewhere (wait for its outcome, polling,
 * as long as the lock timeout allows, saying every few seconds who runs it).
 */
