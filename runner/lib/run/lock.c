/*
 * lock.c - the migration lock and the locked session. One session advisory
 * lock per version table serialises migrators; whoever gets it reads the
 * state again, so replicas that waited find their work already done.
 */
#include "run/run.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * How the bigint lock key stands in pg_locks: its high and low 32 bits as the
 * classid and objid oids (objsubid 1 for the one-bigint key space, 2 for the
 * two-int one), as decimal text for query parameters.
 */
static void key_oids(const mm_names *n, char hi[16], char lo[16])
{
	uint64_t u;

	memcpy(&u, &n->lock_key, sizeof(u));
	snprintf(hi, 16, "%u", (unsigned)(u >> 32));
	snprintf(lo, 16, "%u", (unsigned)(u & 0xffffffffu));
}

/*
 * Who holds the lock. A bigint advisory key shows in pg_locks as classid
 * (high 32 bits), objid (low 32 bits) and objsubid 1.
 */
modmig_status mm_lock_holder(modmig_db *db, const mm_names *n, mm_holder *h, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char hi[16], lo[16];
	const char *params[2] = {hi, lo};
	PGresult *res;

	memset(h, 0, sizeof(*h));
	key_oids(n, hi, lo);
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
		memset(h, 0, sizeof(*h));
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

/*
 * "pid 12 (psql, user app, idle for 40s)". A holder idle in its session for
 * a while is no migrator at work (one is idle for milliseconds between its
 * transactions): most often a lock left behind on a pooled backend by a
 * pooler in transaction mode, which keeps it until that backend closes.
 */
static void describe_holder(const mm_holder *h, char *out, size_t size)
{
	if (!h->found) {
		snprintf(out, size, "a session that is gone now");
		return;
	}
	if (strcmp(h->state, "idle") == 0 && h->state_seconds >= MM_IDLE_HOLDER_SECONDS)
		snprintf(out, size,
		         "pid %s (%s, user %s), idle in its session for %ds: a lock left behind "
		         "on a pooled backend? behind a pooler in transaction mode use the table "
		         "lock; or end that session with pg_terminate_backend(%s)",
		         h->pid, h->app, h->user, h->state_seconds, h->pid);
	else
		snprintf(out, size, "pid %s (%s, user %s, %s for %ds)", h->pid, h->app, h->user,
		         h->state, h->state_seconds);
}

static modmig_status lock_timed_out(modmig_db *db, const char *who, modmig_error **err)
{
	char wait[32];

	format_wait(db->lock_timeout_ms, wait, sizeof(wait));
	mm_fail(err, MODMIG_E_LOCK_TIMEOUT, NULL, 0, 0,
	        "timed out after %s waiting for the migration lock held by %s", wait, who);
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
	res = PQexecParams(db->conn, "select pg_catalog.pg_try_advisory_lock($1::bigint)", 1, NULL,
	                   params, NULL, NULL, 0);
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

/* ---- the table lock (a lease) ------------------------------------------- */

/*
 * One upsert takes the lease: it inserts the row, or takes over a row whose
 * lease expired (or that is ours already); *got tells whether it did. A
 * row locked by a holder's migration transaction makes it wait for that
 * transaction, which is short or is the migration the fence waits for anyway.
 */
static modmig_status try_lease(mm_session *s, bool *got, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char secs[16];
	const char *params[3] = {s->lease_token, secs, s->db->hostname};
	char *sql;
	PGresult *res = NULL;

	snprintf(secs, sizeof(secs), "%d", MM_LEASE_SECONDS);
	sql = mm_printf("insert into %s as l (owner, expires_at, client_host) values ($1, "
	                "now() + make_interval(secs => $2::int), nullif($3, '')) on conflict (id) "
	                "do update set owner = excluded.owner, expires_at = excluded.expires_at, "
	                "taken_at = now(), renewed_at = now(), db_user = current_user, "
	                "client_host = excluded.client_host, application_name = "
	                "current_setting('application_name'), pid = pg_backend_pid() where "
	                "l.expires_at < now() or l.owner = excluded.owner returning l.owner",
	                s->names.table[MM_TABLE_LOCK]);
	if (!sql)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	res = PQexecParams(s->db->conn, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = mm_db_fail(s->db, res, MODMIG_E_SQL, err, "cannot take the table lock");
	else
		*got = PQntuples(res) == 1;
	PQclear(res);
	free(sql);
	return rc;
}

/* "app on host (pid 12, user app) since ..., renewed 3s ago, expires in 57s" */
static void lease_holder(mm_session *s, char *out, size_t size)
{
	char *sql = mm_printf("select coalesce(nullif(application_name, ''), 'no name'), "
	                      "coalesce(client_host, '?'), coalesce(pid::text, '?'), db_user, "
	                      "to_char(taken_at, 'YYYY-MM-DD HH24:MI:SSOF'), "
	                      "extract(epoch from now() - renewed_at)::int, "
	                      "extract(epoch from expires_at - now())::int from %s",
	                      s->names.table[MM_TABLE_LOCK]);
	PGresult *res = sql ? PQexec(s->db->conn, sql) : NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		snprintf(out, size,
		         "%s on %s (pid %s, user %s) since %s, renewed %ss ago; its lease "
		         "expires in %ss unless renewed",
		         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		         PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
		         PQgetvalue(res, 0, 6));
	else
		snprintf(out, size, "a migrator that let go just now");
	PQclear(res);
	free(sql);
}

/* 32 hex digits from OpenSSL's generator: the lease's owner token. */
static modmig_status new_token(mm_session *s, modmig_error **err)
{
	unsigned char raw[16];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return mm_fail(err, MODMIG_E_INTERNAL, NULL, 0, 0,
		               "cannot draw a random token for the table lock");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(s->lease_token + 2 * i, 3, "%02x", raw[i]);
	return MODMIG_OK;
}

/* ---- the waiters' mark ----------------------------------------------------- */

/*
 * A migrator that waits for the lock holds a shared session advisory lock on
 * the lock key's two halves (the two-int key space, objsubid 2): a session
 * with that mark is waiting, so it is not the session of a NO TRANSACTION
 * run that another migrator may find part-way (MM_WRITER_ALIVE_WHERE).
 * Shared, it never makes anyone wait. Taken only on a direct connection
 * (the backend that answers is the one the connection started with, as in
 * writer_alive): behind a pooler it would stay on a pooled backend that may
 * run the next migrator's units, and mark the session of a live run as a
 * waiter. Released only by the backend that holds it.
 */
static bool waiter_mark(modmig_db *db, const mm_names *n, bool take)
{
	uint64_t u;
	char hi[16], lo[16], uhi[16], ulo[16], pid[16];
	const char *params[5] = {hi, lo, uhi, ulo, pid};
	PGresult *res;
	bool ok;

	memcpy(&u, &n->lock_key, sizeof(u));
	snprintf(hi, sizeof(hi), "%d", (int)(int32_t)(uint32_t)(u >> 32));
	snprintf(lo, sizeof(lo), "%d", (int)(int32_t)(uint32_t)(u & 0xffffffffu));
	key_oids(n, uhi, ulo);
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(db->conn));
	res = PQexecParams(
	        db->conn,
	        take ? "select case when pg_catalog.pg_backend_pid() = $5::int then "
	               "pg_catalog.pg_advisory_lock_shared($1::int, $2::int) end, $3::oid, $4::oid"
	             : "select case when exists (select 1 from pg_catalog.pg_locks "
	               "where locktype = 'advisory' and pid = pg_backend_pid() and "
	               "granted and classid = $3::oid and objid = $4::oid and "
	               "objsubid = 2) then pg_catalog.pg_advisory_unlock_shared($1::int, "
	               "$2::int) end, $5::int",
	        5, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok;
}

char *mm_lock_not_waiting_sql(const mm_names *n, const char *pid)
{
	char hi[16], lo[16];

	key_oids(n, hi, lo);
	return mm_printf("NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks w WHERE w.pid = %s AND "
	                 "w.locktype = 'advisory' AND w.granted AND w.classid = %s AND "
	                 "w.objid = %s AND w.objsubid = 2)",
	                 pid, hi, lo);
}

static modmig_status poll_lock(mm_session *s, bool *waiting, modmig_error **err);

/*
 * The lock, polled (poll_lock) with the waiters' mark held while it waits.
 * A session that had the lock and takes it back (a lease lost in a long
 * migration, fence.c) is no waiter: its run may stand part-way meanwhile.
 */
modmig_status mm_session_acquire(mm_session *s, modmig_error **err)
{
	bool relock = s->locked, waiting = relock; /* waiting set: no mark is taken */
	modmig_status rc = poll_lock(s, &waiting, err);

	if (waiting && !relock)
		waiter_mark(s->db, &s->names, false);
	return rc;
}

/*
 * Poll rather than block in pg_advisory_lock: a backend blocked in a
 * statement holds a snapshot, and the holder's CREATE INDEX CONCURRENTLY
 * waits for every such snapshot to go away, which would deadlock. Each try
 * is a short transaction of its own. The delay backs off from 10ms to 200ms;
 * every MM_WAIT_REPORT_MS the wait is reported with who holds the lock.
 */
static modmig_status poll_lock(mm_session *s, bool *waiting, modmig_error **err)
{
	modmig_status rc;
	modmig_db *db = s->db;
	bool got = false, table = db->lock_mode == MODMIG_LOCK_TABLE;
	double start = mm_now_ms(), last_report = -1, last_check = mm_now_ms();
	long delay_ms = 10;
	char who[512];
	mm_holder h;

	if (table && !s->lease_token[0] && (rc = new_token(s, err)) != MODMIG_OK)
		return rc;
	for (;;) {
		rc = table ? try_lease(s, &got, err) : try_lock(db, &s->names, &got, err);
		if (rc != MODMIG_OK || got)
			break;
		if (!*waiting)
			*waiting = waiter_mark(db, &s->names, true);
		if (mm_db_cancelled(db))
			return mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
			               "interrupted while waiting for the migration lock; nothing "
			               "was changed");
		if (db->lock_timeout_ms >= 0 && mm_now_ms() - start >= db->lock_timeout_ms) {
			if (table) {
				lease_holder(s, who, sizeof(who));
			} else {
				find_holder(db, &s->names, &h);
				describe_holder(&h, who, sizeof(who));
			}
			return lock_timed_out(db, who, err);
		}
		/*
		 * Another migrator may have done it all meanwhile: a replica need not
		 * wait for the lock to learn that. Behind a pooler in transaction mode
		 * the lock may never come (left on an idle pooled backend), and then
		 * this is how the wait ends. Checked once a second, one query each.
		 */
		if (s->nothing_left && mm_now_ms() - last_check >= 1000) {
			last_check = mm_now_ms();
			mm_state_clear(&s->state);
			if (mm_state_read(db, &s->names, &s->state, NULL) == MODMIG_OK &&
			    s->nothing_left(s)) {
				s->done_while_waiting = true;
				return MODMIG_OK;
			}
		}
		if (last_report < 0 || mm_now_ms() - last_report >= MM_WAIT_REPORT_MS) {
			if (table) {
				lease_holder(s, who, sizeof(who));
			} else {
				find_holder(db, &s->names, &h);
				describe_holder(&h, who, sizeof(who));
			}
			if (last_report < 0)
				mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, NULL,
				        MODMIG_UP, 0, NULL, "waiting for the %s held by %s",
				        table ? "table lock" : "migration lock", who);
			else
				mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, NULL,
				        MODMIG_UP, 0, NULL,
				        "still waiting for the %s after %.0fs: held by %s",
				        table ? "table lock" : "migration lock",
				        (mm_now_ms() - start) / 1000.0, who);
			last_report = mm_now_ms();
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
	if (rc == MODMIG_OK && table)
		s->lease_held = true;
	return rc;
}

modmig_status mm_lock_acquire(modmig_db *db, const mm_names *n, modmig_error **err)
{
	mm_session s;

	memset(&s, 0, sizeof(s));
	s.db = db;
	s.names = *n; /* borrowed: s is never closed */
	return mm_session_acquire(&s, err);
}

/*
 * Release the session lock if this backend still holds it. A migration that
 * called pg_advisory_unlock_all(), or a pooler in transaction mode that runs
 * each transaction on another backend, leaves nothing to release here: then
 * say so (the fence kept every migration to one apply) rather than let the
 * server warn about a lock we do not own.
 */
void mm_lock_release(modmig_db *db, const mm_names *n)
{
	char key[32], hi[16], lo[16];
	const char *params[3] = {key, hi, lo};
	PGresult *res;

	snprintf(key, sizeof(key), "%lld", (long long)n->lock_key);
	key_oids(n, hi, lo);
	res = PQexecParams(db->conn,
	                   "select case when exists (select 1 from pg_catalog.pg_locks where "
	                   "locktype = 'advisory' and pid = pg_backend_pid() and granted and "
	                   "classid = $2::oid and objid = $3::oid and objsubid = 1) then "
	                   "pg_catalog.pg_advisory_unlock($1::bigint) end",
	                   3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_WARN, NULL, MODMIG_UP, 0, NULL,
		        "the migration lock was no longer held by this session at the end: a "
		        "migration released it, or a connection pooler in transaction mode ran "
		        "the transactions on other backends (then one of them keeps the lock "
		        "until it closes; use the table lock behind such a pooler); the fence "
		        "still applied each migration once");
	PQclear(res);
}

static void lease_release(mm_session *s)
{
	const char *params[1] = {s->lease_token};
	char *sql = mm_printf("delete from %s where owner = $1", s->names.table[MM_TABLE_LOCK]);
	PGresult *res = sql ? PQexecParams(s->db->conn, sql, 1, NULL, params, NULL, NULL, 0) : NULL;

	PQclear(res);
	free(sql);
	s->lease_held = false;
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
	for (size_t i = 0; rc == MODMIG_OK && i < s->state.event_count; i++)
		if (s->state.events[i].id > s->first_read_event_id)
			s->first_read_event_id = s->state.events[i].id;
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

/*
 * The table lock needs its table before anything else: create it alone
 * (race-free, like all state) when it is missing.
 */
static modmig_status ensure_lock_table(mm_session *s, modmig_error **err)
{
	mm_state only;
	int t;

	if (s->state.has[MM_TABLE_LOCK])
		return MODMIG_OK;
	memset(&only, 0, sizeof(only));
	for (t = 0; t < MM_TABLE_COUNT; t++)
		only.has[t] = t != MM_TABLE_LOCK;
	return mm_store_create(s->db, &s->names, &only, err);
}

modmig_status mm_session_lock_any_registry(mm_session *s, modmig_error **err)
{
	modmig_status rc;

	bool table = s->db->lock_mode == MODMIG_LOCK_TABLE;

	/* a lease is a write: a dry run with the table lock reads the state as it stands */
	if (!(table && s->dry_run)) {
		if (table && (rc = ensure_lock_table(s, err)) != MODMIG_OK)
			return rc;
		rc = mm_session_acquire(s, err);
		if (rc != MODMIG_OK || s->done_while_waiting)
			return rc;
		s->locked = true;
	}
	mm_state_clear(&s->state);
	return mm_state_read(s->db, &s->names, &s->state, err);
}

modmig_status mm_session_lock(mm_session *s, modmig_error **err)
{
	modmig_status rc = mm_session_lock_any_registry(s, err);
	size_t first_new = 0;

	if (rc != MODMIG_OK || s->done_while_waiting)
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
		if (s->lease_held)
			lease_release(s);
		else if (s->db->lock_mode != MODMIG_LOCK_TABLE)
			mm_lock_release(s->db, &s->names);
	}
	s->locked = false;
	mm_state_clear(&s->state);
	mm_names_clear(&s->names);
}
