/*
 * fence.c - the fence around every migration (DESIGN §6): a clean session,
 * the transaction-level advisory lock and the re-check of the version (and of
 * the table lock's lease) in the same round trip as the migration, and the
 * wait when another migrator holds it.
 */
#include "run/apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the fence and the clean session ------------------------------------ */

/*
 * Undo what an earlier migration may have left in the session before the
 * next one runs: settings (search_path included) back to the connection's
 * defaults, the role and session user back to the login, no temporary
 * tables. RESET ALL also resets client_encoding to the server's idea of the
 * default (behind a pooler, the pooled backend's), so modmig's own comes
 * back right after. All of it is transactional and travels in the same
 * round trip as the migration. (DISCARD ALL cannot run in a transaction.)
 */
void mm_fence_clean_session(composed *c, modmig_db *db)
{
	mm_buf_puts(&c->sql, "RESET ALL;\nRESET SESSION AUTHORIZATION;\nDISCARD TEMP;\n");
	c->prefix_results += 3;
	if (db->client_encoding[0])
		mm_apply_add_setting(c, db, "SET", "client_encoding", db->client_encoding);
}

/*
 * modmig's own rows are written as the login role with only pg_catalog on
 * the search_path, whatever the migration did to its session: SET ROLE to a
 * role that may not write them, a search_path that hides them. LOCAL: a NO
 * TRANSACTION migration's own session settings come back after COMMIT.
 */
void mm_fence_bookkeeping_session(mm_buf *b)
{
	mm_buf_puts(b, "SET LOCAL SESSION AUTHORIZATION DEFAULT;\n"
	               "SET LOCAL search_path = pg_catalog, pg_temp;\n");
}

/*
 * The history events that say a run of a NO TRANSACTION migration is under
 * way, as an SQL list: it started, resumed or restarted, or a unit is done.
 * The other PARTWAY events (failed, interrupted) say it stopped.
 */
static char *running_list(void)
{
	return mm_printf("'%s', '%s', '%s', '%s'",
	                 modmig_history_event_name(MODMIG_HISTORY_UNIT_STARTED),
	                 modmig_history_event_name(MODMIG_HISTORY_UNIT_DONE),
	                 modmig_history_event_name(MODMIG_HISTORY_RESUMED),
	                 modmig_history_event_name(MODMIG_HISTORY_RESTARTED));
}

/*
 * The fence (DESIGN §6): whatever happened to the session lock (released
 * by a migration, or meaningless behind a pooler in transaction mode), the
 * migration's own transaction takes a transaction-level advisory lock on
 * the same key and checks, under it, that the version still needs running.
 * READ COMMITTED: each statement of the block sees what committed before it
 * started, so the check after the lock sees the other migrator's COMMIT. It
 * raises one of the STATE_* codes instead; nothing of the migration has run.
 *
 * With the table lock, the block renews the lease and checks it is still
 * ours. At the start of a NO TRANSACTION migration (running_check), a
 * history event newer than the one the plan saw, of a run part-way, means
 * another migrator is running it now (or failed doing so).
 */
void mm_fence_add(mm_buf *b, const run_args *a, bool running_check, bool strict)
{
	const mm_names *n = &a->s->names;
	const mm_event_row *known = mm_state_find_event(&a->s->state, a->m->version);
	long long v = (long long)a->m->version;
	bool up = a->dir == MODMIG_UP;
	char *partway = NULL, *stopped = NULL;

	mm_buf_printf(b,
	              "DO $modmig_fence$DECLARE r record; BEGIN\n"
	              "PERFORM pg_catalog.pg_advisory_xact_lock(%lld);\n",
	              (long long)n->fence_key);
	if (a->s->lease_held)
		mm_buf_printf(b,
		              "UPDATE %s SET expires_at = now() + make_interval(secs => %d), "
		              "renewed_at = now() WHERE owner = '%s';\n",
		              n->table[MM_TABLE_LOCK], MM_LEASE_SECONDS, a->s->lease_token);
	if (a->s->lease_held && strict)
		mm_buf_puts(b, "IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = '" STATE_LEASE
		               "', MESSAGE = 'the table lock was taken over by another migrator'; "
		               "END IF;\n");
	mm_buf_printf(b,
	              "IF %scoalesce((SELECT is_applied FROM %s WHERE version_id = %lld ORDER BY "
	              "id DESC LIMIT 1), false) THEN RAISE EXCEPTION USING ERRCODE = '%s', "
	              "MESSAGE = 'version %lld is %s already'; END IF;\n",
	              up ? "" : "NOT ", n->table[MM_TABLE_VERSION], v,
	              up ? STATE_APPLIED : STATE_UNAPPLIED, v, up ? "applied" : "rolled back");
	if (running_check && up && (partway = running_list()) &&
	    (stopped = mm_event_sql_list(MODMIG_HISTORY_F_PARTWAY))) {
		mm_buf_printf(
		        b,
		        "SELECT h.id, h.event, h.at, coalesce(h.application_name, '?') AS app, "
		        "coalesce(h.client_host, '?') AS host INTO r FROM %s h WHERE "
		        "h.version = %lld ORDER BY h.id DESC LIMIT 1;\n"
		        "IF r.id > %lld AND r.event IN (%s) THEN RAISE EXCEPTION USING "
		        "ERRCODE = '" STATE_RUNNING "', MESSAGE = format('migration %lld "
		        "was started by %%s on %%s at %%s (%%s)', r.app, r.host, "
		        "to_char(r.at, 'YYYY-MM-DD HH24:MI:SSOF'), r.event); END IF;\n"
		        "IF r.id > %lld AND r.event IN (%s) THEN RAISE EXCEPTION USING "
		        "ERRCODE = '" STATE_FAILED "', MESSAGE = format('migration %lld "
		        "stopped part-way in a run by %%s on %%s at %%s (%%s)', r.app, r.host, "
		        "to_char(r.at, 'YYYY-MM-DD HH24:MI:SSOF'), r.event); END IF;\n",
		        n->table[MM_TABLE_HISTORY], v, (long long)(known ? known->id : 0), partway,
		        v, (long long)(known ? known->id : 0), stopped ? stopped : "''", v);
	}
	mm_buf_puts(b, "END$modmig_fence$;\n");
	free(partway);
	free(stopped);
}

/*
 * Whether a failed query string failed at the fence; then a->fence says
 * what was found, and *rc what to return (an error only for a NO
 * TRANSACTION migration that failed part-way in another migrator's run).
 */
bool mm_fence_caught(run_args *a, const PGresult *res, modmig_status *rc, modmig_error **err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!state || strncmp(state, "MM", 2) != 0)
		return false;
	free(a->fence_message);
	a->fence_message = mm_strdup(msg ? msg : "");
	*rc = MODMIG_OK;
	if (strcmp(state, STATE_APPLIED) == 0 || strcmp(state, STATE_UNAPPLIED) == 0)
		a->fence = FENCE_DONE;
	else if (strcmp(state, STATE_LEASE) == 0)
		a->fence = FENCE_LEASE;
	else if (strcmp(state, STATE_RUNNING) == 0)
		a->fence = FENCE_RUNNING;
	else if (strcmp(state, STATE_FAILED) == 0) {
		*rc = mm_fail(err, MODMIG_E_INCOMPLETE, a->m->file, 0, 0,
		              "NO TRANSACTION migration %lld failed part-way in another "
		              "migrator's run: %s",
		              (long long)a->m->version, msg ? msg : "");
		mm_hint(err, "see its history for the unit that failed; nothing of it ran here");
		mm_error_set_migration(err, a->m->version,
		                       a->m->module ? a->m->module->name : NULL);
	} else
		return false;
	return true;
}

modmig_status mm_fence_wait(run_args *a, double *since, double *reported, modmig_error **err)
{
	modmig_db *db = a->s->db;
	struct timespec ts = {0, 200 * 1000000L};

	if (a->fence == FENCE_LEASE) {
		mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_WARN, a->m, a->dir, 0, NULL,
		        "the table lock expired and was taken over by another migrator before "
		        "%s; taking it back",
		        a->m->file);
		a->s->lease_held = false;
		return mm_session_acquire(a->s, err);
	}
	if (*since < 0)
		*since = mm_now_ms();
	if (db->lock_timeout_ms >= 0 && mm_now_ms() - *since >= db->lock_timeout_ms) {
		mm_fail(err, MODMIG_E_LOCK_TIMEOUT, a->m->file, 0, 0,
		        "timed out waiting for another migrator's run of NO TRANSACTION migration "
		        "%lld: %s",
		        (long long)a->m->version, a->fence_message ? a->fence_message : "");
		mm_hint(err, "if that run was interrupted, its history says which units took "
		             "effect: resume or restart the migration once no one runs it");
		mm_error_set_migration(err, a->m->version,
		                       a->m->module ? a->m->module->name : NULL);
		return MODMIG_E_LOCK_TIMEOUT;
	}
	if (*reported < 0 || mm_now_ms() - *reported >= MM_WAIT_REPORT_MS) {
		mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, a->m, a->dir, 0, NULL,
		        "waiting for another migrator's run of %s: %s", a->m->file,
		        a->fence_message ? a->fence_message : "");
		*reported = mm_now_ms();
	}
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return MODMIG_OK;
}
