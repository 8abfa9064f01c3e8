/*
 * store.c - reading modmig's state: goose's version table, the latest
 * history event of each version and the module registry, in one round trip
 * that also tells which state tables exist and where an unqualified version
 * table is; and looking things up in what was read. Names are names.c's,
 * creating and writing state write.c's.
 */
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	mm_buf_puts(&eb, ", " MM_RESOLVE_SQL);
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
