/*
 * lock.c - the migration lock and the locked session. One session advisory
 * lock per version table serialises migrators; whoever gets it reads the
 * state again, so replicas that waited find their work already done.
 */
#include "run/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Who holds the lock. A bigint advisory key shows in pg_locks as classid
 * (high 32 bits), objid (low 32 bits) and objsubid 1.
 */
modmig_status mm_lock_holder(modmig_db *db, const mm_names *n, mm_holder *h, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	uint64_t u;
	char hi[16], lo[16];
	const char *params[2] = {hi, lo};
	PGresult *res;

	memset(h, 0, sizeof(*h));
	memcpy(&u, &n->lock_key, sizeof(u));
	snprintf(hi, sizeof(hi), "%u", (unsigned)(u >> 32));
	snprintf(lo, sizeof(lo), "%u", (unsigned)(u & 0xffffffffu));
	res = PQexecParams(db->conn,
	                   "select l.pid, coalesce(nullif(a.application_name, ''), 'no name'), "
	                   "coalesce(a.usename, '?'), coalesce(to_char(a.xact_start, "
	                   "'YYYY-MM-DD HH24:MI:SSOF'), to_char(a.backend_start, "
	                   "'YYYY-MM-DD HH24:MI:SSOF'), '?'), coalesce(a.state, '?'), "
	                   "coalesce(extract(epoch from now() - a.state_change)::int, 0) "
	                   "from pg_locks l left join pg_stat_activity a on a.pid = l.pid "
	                   "where l.locktype = 'advisory' and l.granted and l.classid = $1::oid "
	                   "and l.objid = $2::oid and l.objsubid = 1 and l.database = "
	                   "(select oid from pg_database where datname = current_database()) "
	                   "limit 1",
	                   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 6) {
		rc = mm_db_fail(db, res, MODMIG_E_SQL, err, "cannot read who holds the lock");
	} else if (PQntuples(res) == 1) {
		h->found = true;
		snprintf(h->pid, sizeof(h->pid), "%s", PQgetvalue(res, 0, 0));
		snprintf(h->app, sizeof(h->app), "%s", PQgetvalue(res, 0, 1));
		snprintf(h->user, sizeof(h->user), "%s", PQgetvalue(res, 0, 2));
		snprintf(h->since, sizeof(h->since), "%s", PQgetvalue(res, 0, 3));
		snprintf(h->state, sizeof(h->state), "%s", PQgetvalue(res, 0, 4));
		h->state_seconds = atoi(PQgetvalue(res, 0, 5));
	}
	PQclear(res);
	return rc;
}

/* The holder for a wait message; "?" when it cannot be seen (it may just have let go). */
static void find_holder(modmig_db *db, const mm_names *n, mm_holder *h)
{
	if (mm_lock_holder(db, n, h, NULL) != MODMIG_OK || !h->found) {
		snprintf(h->pid, sizeof(h->pid), "?");
		snprintf(h->app, sizeof(h->app), "unknown");
	}
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void format_wait(int ms, char *out, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(out, size, "%ds", ms / 1000);
	else
		snprintf(out, size, "%dms", ms);
}

static modmig_status lock_timed_out(modmig_db *db, const mm_names *n, modmig_error **err)
{
	mm_holder h;
	char wait[32];

	find_holder(db, n, &h);
	format_wait(db->lock_timeout_ms, wait, sizeof(wait));
	mm_fail(err, MODMIG_E_LOCK_TIMEOUT, NULL, 0, 0,
	        "timed out after %s waiting for the migration lock held by pid %s (%s)", wait,
	        h.pid, h.app);
	mm_hint(err, "another migrator is running against this database: wait for it to finish, "
	             "or raise the lock timeout");
	return MODMIG_E_LOCK_TIMEOUT;
}

/* One pg_try_advisory_lock: *got tells whether it was granted. */
static modmig_status try_lock(modmig_db *db, const mm_names *n, bool *got, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char key[32];
	const char *params[1] = {key};
	PGresult *res;

	snprintf(key, sizeof(key), "%lld", (long long)n->lock_key);
	res = PQexecParams(db->conn, "select pg_try_advisory_lock($1::bigint)", 1, NULL, params,
	                   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = mm_db_fail(db, res, MODMIG_E_SQL, err, "cannot take the migration lock");
	else
		rc = mm_db_check_shape(res, 1, 1, MODMIG_E_SQL, err,
		                       "cannot take the migration lock");
	/* NULL is neither answer: read as "not granted" it would be polled for ever. */
	if (rc == MODMIG_OK && PQgetisnull(res, 0, 0))
		rc = mm_fail(
		        err, MODMIG_E_SQL, NULL, 0, 0,
		        "cannot take the migration lock: the server returned NULL where true or "
		        "false was expected");
	if (rc == MODMIG_OK)
		*got = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/*
 * Poll rather than block in pg_advisory_lock: a backend blocked in a
 * statement holds a snapshot, and the holder's CREATE INDEX CONCURRENTLY
 * waits for every such snapshot to go away, which would deadlock. Each try
 * is a short transaction of its own. The delay backs off from 10ms to 200ms.
 */
modmig_status mm_lock_acquire(modmig_db *db, const mm_names *n, modmig_error **err)
{
	modmig_status rc;
	bool got = false, reported = false;
	double start = mm_now_ms();
	long delay_ms = 10;
	mm_holder h;

	while ((rc = try_lock(db, n, &got, err)) == MODMIG_OK && !got) {
		if (mm_db_cancelled(db))
			return mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
			               "interrupted while waiting for the migration lock; nothing "
			               "was changed");
		if (db->lock_timeout_ms >= 0 && mm_now_ms() - start >= db->lock_timeout_ms)
			return lock_timed_out(db, n, err);
		if (!reported) {
			find_holder(db, n, &h);
			mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0,
			        NULL, "waiting for the migration lock held by pid %s (%s)", h.pid,
			        h.app);
			reported = true;
		}
		nap(delay_ms);
		delay_ms = delay_ms * 2 > 200 ? 200 : delay_ms * 2;
	}
	if (rc != MODMIG_OK && mm_db_cancelled(db)) {
		/* the cancel request hit the poll itself */
		modmig_error_free(err ? *err : NULL);
		if (err)
			*err = NULL;
		return mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		               "interrupted while waiting for the migration lock; nothing was "
		               "changed");
	}
	return rc;
}

void mm_lock_release(modmig_db *db, const mm_names *n)
{
	char key[32];
	const char *params[1] = {key};
	PGresult *res;

	snprintf(key, sizeof(key), "%lld", (long long)n->lock_key);
	res = PQexecParams(db->conn, "select pg_advisory_unlock($1::bigint)", 1, NULL, params, NULL,
	                   NULL, 0);
	PQclear(res);
}

/* ---- the session -------------------------------------------------------- */

modmig_status mm_session_open(mm_session *s, modmig_db *db, const modmig_source *src,
                              modmig_error **err)
{
	modmig_status rc;

	memset(s, 0, sizeof(*s));
	s->db = db;
	s->src = src;
	if (!db || !src)
		return mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "no database or no source given");
	rc = mm_names_init(db, modmig_source_version_table(src), &s->names, err);
	if (rc == MODMIG_OK)
		rc = mm_state_read(db, &s->names, &s->state, err);
	s->state_read = rc == MODMIG_OK;
	return rc;
}

modmig_status mm_session_create_state(mm_session *s, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t first_new = modmig_source_module_count(s->src);

	if (!modmig_source_is_dir(s->src))
		rc = mm_registry_check(s->src, &s->state, &first_new, err);
	if (rc == MODMIG_OK)
		rc = mm_store_create(s->db, &s->names, &s->state, err);
	if (rc != MODMIG_OK)
		return rc;
	/* What was missing now exists, empty; the rows read so far still hold. */
	for (int t = 0; t < MM_TABLE_COUNT; t++)
		s->state.has[t] = true;
	if (!modmig_source_is_dir(s->src))
		rc = mm_store_register(s->db, &s->names, s->src, first_new, err);
	return rc;
}

modmig_status mm_session_lock(mm_session *s, modmig_error **err)
{
	modmig_status rc;
	size_t first_new = 0;

	rc = mm_lock_acquire(s->db, &s->names, err);
	if (rc != MODMIG_OK)
		return rc;
	s->locked = true;
	mm_state_clear(&s->state);
	rc = mm_state_read(s->db, &s->names, &s->state, err);
	if (rc != MODMIG_OK)
		return rc;
	/* creates nothing, but refuses a registry that does not match */
	if (!modmig_source_is_dir(s->src))
		rc = mm_registry_check(s->src, &s->state, &first_new, err);
	return rc;
}

void mm_session_close(mm_session *s)
{
	if (s->locked && PQstatus(s->db->conn) == CONNECTION_OK) {
		/* A failed transaction would refuse the unlock. */
		if (PQtransactionStatus(s->db->conn) != PQTRANS_IDLE)
			mm_db_exec(s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
		mm_lock_release(s->db, &s->names);
	}
	s->locked = false;
	mm_state_clear(&s->state);
	mm_names_clear(&s->names);
}
