/*
 * progress.c - sending a migration's SQL and watching it run. The executor
 * sends with libpq's asynchronous API and waits on the socket with a
 * timeout, so it wakes about once a second while a statement runs: from
 * about two seconds on, each wake reports MODMIG_EVENT_PROGRESS through the
 * log callback (which unit, its line, the time so far), and for CREATE INDEX
 * and REINDEX the server's phase and percentage, read from
 * pg_stat_progress_create_index over a second connection by the first's
 * backend pid. A fast migration never opens that connection and costs no
 * more than a blocking PQgetResult(): libpq waits with poll() there too.
 */
#include "run/run.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How often a running migration wakes the executor, and when it first reports. */
#define PROGRESS_TICK_MS  1000
#define PROGRESS_AFTER_MS 2000

void mm_progress_start(mm_progress *p, modmig_db *db, const modmig_migration *m,
                       modmig_direction dir, int unit_count)
{
	memset(p, 0, sizeof(*p));
	p->db = db;
	p->m = m;
	p->dir = dir;
	p->unit_count = unit_count;
	p->start_ms = mm_now_ms();
}

void mm_progress_end(mm_progress *p)
{
	if (p->watcher)
		PQfinish(p->watcher);
	p->watcher = NULL;
}

/* Whether a unit may build an index: only then is the server asked. */
static bool builds_index(const char *sql)
{
	for (; sql && *sql; sql++)
		if (strncasecmp(sql, "index", 5) == 0)
			return true;
	return false;
}

/*
 * The phase and percent of the running CREATE INDEX or REINDEX, from the
 * second connection (opened on first use, kept for the migration). *phase
 * points into buf; false when the server shows none.
 */
static bool index_progress(mm_progress *p, char *buf, size_t size, double *percent)
{
	static const char query[] =
	        "select phase, case when blocks_total > 0 then 100.0 * blocks_done / blocks_total "
	        "when tuples_total > 0 then 100.0 * tuples_done / tuples_total "
	        "when lockers_total > 0 then 100.0 * lockers_done / lockers_total end "
	        "from pg_stat_progress_create_index where pid = $1";
	char pid[32];
	const char *params[1] = {pid};
	PGresult *res;
	bool ok = false;

	if (!p->watcher && !p->watcher_failed) {
		p->watcher = mm_db_connect_again(p->db);
		/* one try per migration: a server that refuses is not asked every second */
		p->watcher_failed = p->watcher == NULL;
	}
	if (!p->watcher)
		return false;
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(p->db->conn));
	res = PQexecParams(p->watcher, query, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
		*percent = PQgetisnull(res, 0, 1) ? -1 : strtod(PQgetvalue(res, 0, 1), NULL);
		ok = true;
	}
	PQclear(res);
	return ok;
}

/* One wake while the server runs the query: report, from two seconds on. */
static void tick(mm_progress *p, int ok_results)
{
	double elapsed = mm_now_ms() - p->start_ms;
	char phase[128], version[32];
	const char *unit_sql = NULL;
	modmig_event ev;

	if (elapsed < PROGRESS_AFTER_MS || !p->db->log)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = MODMIG_EVENT_PROGRESS;
	ev.level = MODMIG_LOG_INFO;
	ev.migration = p->m;
	ev.direction = p->dir;
	ev.duration_ms = elapsed;
	ev.unit_count = p->unit_count;
	ev.percent = -1;
	if (p->where)
		p->where(p->where_arg, ok_results, &ev.unit, &ev.line, &unit_sql);
	if (builds_index(unit_sql) && index_progress(p, phase, sizeof(phase), &ev.percent))
		ev.phase = phase;
	snprintf(version, sizeof(version), "%lld", (long long)p->m->version);
	mm_emit_event(p->db, &ev, "%s %s: unit %d/%d (line %d), %.0f s%s%s",
	              p->dir == MODMIG_UP ? "applying" : "rolling back", version, ev.unit,
	              ev.unit_count, ev.line, elapsed / 1000, ev.phase ? ", " : "",
	              ev.phase ? ev.phase : "");
}

/*
 * Wait until libpq has a result ready, waking every PROGRESS_TICK_MS to
 * report. False when the connection failed: PQgetResult() then tells how.
 */
static bool wait_ready(mm_progress *p, int ok_results)
{
	PGconn *conn = p->db->conn;

	while (PQisBusy(conn)) {
		struct pollfd fd = {.fd = PQsocket(conn), .events = POLLIN};
		int n;

		if (fd.fd < 0)
			return false;
		n = poll(&fd, 1, PROGRESS_TICK_MS);
		if (n < 0 && errno != EINTR)
			return false;
		if (n == 0) {
			tick(p, ok_results);
			continue;
		}
		/* readable, or interrupted by a signal (a cancel may be on its way) */
		if (n > 0 && !PQconsumeInput(conn))
			return false;
	}
	return true;
}

modmig_status mm_send_all(mm_progress *p, const char *sql, int *ok_results, PGresult **error,
                          bool *committed)
{
	PGconn *conn = p->db->conn;
	PGresult *r;

	*ok_results = 0;
	*error = NULL;
	*committed = false;
	if (!PQsendQuery(conn, sql))
		return MODMIG_E_SQL;
	for (;;) {
		/* on a failed connection PQgetResult() returns its error, then NULL */
		wait_ready(p, *ok_results);
		r = PQgetResult(conn);
		if (!r)
			break;
		ExecStatusType st = PQresultStatus(r);

		if (!*error && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
		                st == PGRES_NONFATAL_ERROR)) {
			*error = r;
			continue;
		}
		if (!*error) {
			(*ok_results)++;
			*committed = strcmp(PQcmdStatus(r), "COMMIT") == 0;
		}
		PQclear(r);
	}
	return *error ? MODMIG_E_SQL : MODMIG_OK;
}
