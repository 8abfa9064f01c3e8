/*
 * history.c - modmig history: modmig's append-only history, oldest first,
 * read in one query. A database without the history table has no history:
 * that is an empty list, not an error.
 */
#include "run/run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct modmig_history {
	modmig_history_row *rows;
	size_t count;
	PGresult *res; /* the strings of rows point into it */
};

enum {
	C_ID,
	C_EVENT,
	C_VERSION,
	C_MODULE,
	C_FILE,
	C_SHA,
	C_DURATION,
	C_USER,
	C_HOST,
	C_AT,
	C_UNIT,
	C_ERROR
};

static const char *value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A time the server could not read: class 22 (data exception), e.g. 22007, 22008. */
static bool is_bad_time(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && strncmp(state, "22", 2) == 0;
}

static modmig_status fill(modmig_history *h, PGresult *res, modmig_error **err)
{
	int rows = PQntuples(res), i;

	h->res = res;
	h->rows = calloc(rows ? (size_t)rows : 1, sizeof(*h->rows));
	if (!h->rows)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (i = 0; i < rows; i++) {
		modmig_history_row *r = &h->rows[i];
		const char *unit = value(res, i, C_UNIT), *version = value(res, i, C_VERSION);
		const char *duration = value(res, i, C_DURATION);

		r->id = strtoll(PQgetvalue(res, i, C_ID), NULL, 10);
		r->event = PQgetvalue(res, i, C_EVENT);
		r->kind = modmig_history_event_from_name(r->event);
		r->version = version ? strtoll(version, NULL, 10) : 0;
		r->module = value(res, i, C_MODULE);
		r->file = value(res, i, C_FILE);
		r->sha256 = value(res, i, C_SHA);
		/* microseconds as an integer: no locale between the server and strtod */
		r->duration_ms = duration ? (double)strtoll(duration, NULL, 10) / 1000.0 : 0;
		r->db_user = PQgetvalue(res, i, C_USER);
		r->client_host = value(res, i, C_HOST);
		r->at = PQgetvalue(res, i, C_AT);
		r->failed_unit = unit ? atoi(unit) : 0;
		r->error = value(res, i, C_ERROR);
	}
	h->count = (size_t)rows;
	return MODMIG_OK;
}

modmig_status modmig_db_history(modmig_db *db, const modmig_source *src, const char *module,
                                modmig_history **out, modmig_error **err)
{
	modmig_history_options opts = {.module = module};

	return modmig_db_history_select(db, src, &opts, out, err);
}

modmig_status modmig_db_history_select(modmig_db *db, const modmig_source *src,
                                       const modmig_history_options *opts, modmig_history **out,
                                       modmig_error **err)
{
	static const modmig_history_options all = {0};
	modmig_status rc = MODMIG_OK;
	modmig_history *h = NULL;
	char version[32], limit[32];
	const char *params[4];
	PGresult *res = NULL;
	mm_names n;
	char *sql = NULL;

	memset(&n, 0, sizeof(n));
	*out = NULL;
	if (!opts)
		opts = &all;
	if (!db || !src) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "no database or no source given");
		goto cleanup;
	}
	/* every filter is a parameter that is null when not given: one statement for all */
	snprintf(version, sizeof(version), "%" PRId64, opts->version);
	snprintf(limit, sizeof(limit), "%zu", opts->limit);
	params[0] = opts->module;
	params[1] = opts->since;
	params[2] = opts->version ? version : NULL;
	params[3] = opts->limit ? limit : NULL; /* LIMIT NULL is LIMIT ALL */
	rc = mm_names_init(db, modmig_source_version_table(src), &n, err);
	if (rc == MODMIG_OK)
		rc = mm_names_resolve(db, &n, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	h = calloc(1, sizeof(*h));
	/* the last `limit` selected, newest first, then turned back to oldest first */
	sql = mm_printf("select * from (select id, event, version, module, file, sha256, "
	                "round(duration_ms * 1000)::bigint, db_user, client_host, "
	                "to_char(at, 'YYYY-MM-DD HH24:MI:SSOF'), failed_unit, error from %s "
	                "where ($1::text is null or module = $1) "
	                "and ($2::timestamptz is null or at >= $2::timestamptz) "
	                "and ($3::bigint is null or version = $3) "
	                "order by id desc limit $4::bigint) h order by id",
	                n.table[MM_TABLE_HISTORY]);
	if (!h || !sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexecParams(db->conn, sql, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		rc = fill(h, res, err);
		res = NULL; /* h owns it now */
	} else if (opts->since && is_bad_time(res)) {
		/* the only value the server reads from the caller's text */
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "invalid time '%s': expected a date such as 2026-11-01 or an ISO "
		             "8601 timestamp such as 2026-11-01T12:00:00Z",
		             opts->since);
	} else if (!mm_db_is_missing_relation(res)) {
		rc = mm_db_fail(db, res, MODMIG_E_STATE, err, "cannot read modmig's history");
	}
	if (rc == MODMIG_OK) {
		*out = h;
		h = NULL;
	}
cleanup:
	PQclear(res);
	modmig_history_free(h);
	free(sql);
	mm_names_clear(&n);
	return rc;
}

size_t modmig_history_count(const modmig_history *history)
{
	return history ? history->count : 0;
}

const modmig_history_row *modmig_history_at(const modmig_history *history, size_t index)
{
	return history && index < history->count ? &history->rows[index] : NULL;
}

void modmig_history_free(modmig_history *history)
{
	if (!history)
		return;
	free(history->rows);
	PQclear(history->res);
	free(history);
}
