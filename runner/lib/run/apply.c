/*
 * apply.c - running one migration. A transactional migration goes to the
 * server as one simple-protocol query string: BEGIN, its units, the state
 * rows and COMMIT, so it costs one round trip whatever its units hold
 * (StatementBegin blocks included), and nothing of it remains on error. A
 * NO TRANSACTION migration runs its units one at a time in autocommit.
 */
#include "run/apply.h"

#include "sql/sql.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- sending ------------------------------------------------------------ */

static void add_units(composed *c, const mm_section *sec, size_t first, size_t last)
{
	size_t i;

	c->first = first;
	c->spans = calloc(last > first ? last - first : 1, sizeof(*c->spans));
	if (!c->spans) {
		c->sql.oom = true;
		return;
	}
	for (i = first; i < last; i++) {
		c->spans[c->count].start = c->sql.len;
		mm_buf_append(&c->sql, sec->units[i].sql, sec->units[i].len);
		c->spans[c->count++].len = sec->units[i].len;
		/* A unit may end in a line comment: the separator goes on its own line. */
		mm_buf_puts(&c->sql, "\n;\n");
	}
}

void mm_apply_add_setting(composed *c, modmig_db *db, const char *command, const char *name,
                          const char *value)
{
	char *lit;

	if (!value)
		return;
	lit = PQescapeLiteral(db->conn, value, strlen(value));
	if (!lit) {
		c->sql.oom = true;
		return;
	}
	mm_buf_printf(&c->sql, "%s %s = %s;\n", command, name, lit);
	PQfreemem(lit);
	c->prefix_results++;
}

static void composed_free(composed *c)
{
	mm_buf_free(&c->sql);
	free(c->spans);
	memset(c, 0, sizeof(*c));
}

/* ---- the two ways to run a migration ------------------------------------ */

/*
 * mm_progress_where for the query string being sent. An autocommit one holds
 * one unit: that one runs. A transactional one holds every unit, and the
 * server sends the results of a multi-statement query only when it ends (or
 * a notice flushes them), so the results so far cannot tell which unit runs:
 * the unit is known only when there is one.
 */
static void where_running(void *arg, int ok_results, int *unit, int *line, const char **unit_sql)
{
	const run_args *a = arg;
	const mm_section *sec = mm_section_of(a->m, a->dir);
	size_t u = 0, offset = 0;
	int column;

	if (!a->running)
		return;
	if (!a->m->parsed.no_transaction && sec->count != 1)
		return;
	if (!mm_apply_unit_by_results(a->running, sec, ok_results, &u, &offset)) {
		/* nothing back yet: the first statement of the first unit sent */
		u = a->running->first;
		offset = 0;
	}
	*unit = (int)u + 1;
	*unit_sql = sec->units[u].sql;
	mm_apply_locate(&sec->units[u], offset, line, &column);
}

static modmig_history_event done_event(modmig_direction dir)
{
	return dir == MODMIG_UP ? MODMIG_HISTORY_APPLIED : MODMIG_HISTORY_ROLLED_BACK;
}

/*
 * The history's error column for a failure: "line L:C: SQLSTATE S: message",
 * so the record alone says where and why, as the operator was told.
 */
static char *error_text(const modmig_error *e)
{
	if (!e)
		return NULL;
	if (e->line > 0 && e->sqlstate)
		return mm_printf("line %d:%d: SQLSTATE %s: %s", e->line, e->column, e->sqlstate,
		                 e->message);
	if (e->line > 0)
		return mm_printf("line %d:%d: %s", e->line, e->column, e->message);
	if (e->sqlstate)
		return mm_printf("SQLSTATE %s: %s", e->sqlstate, e->message);
	return mm_strdup(e->message);
}

/* Append one event's state rows: the version row when it applies or unapplies. */
static void add_event(mm_buf *b, const run_args *a, modmig_history_event event, double duration_ms,
                      int unit, const char *error)
{
	if (modmig_history_event_flags(event) &
	    (MODMIG_HISTORY_F_APPLIES | MODMIG_HISTORY_F_UNAPPLIES))
		mm_store_sql_version_row(b, &a->s->names, a->dir, a->m->version);
	mm_store_sql_history_row(b, a->s->db, &a->s->names, event, a->m, duration_ms, unit, error);
}

/*
 * Commit the rows in b (after BEGIN) in their own transaction: one round
 * trip. A failure leaves nothing of them and the session idle.
 */
static modmig_status commit_events(const run_args *a, mm_buf *b, modmig_error **err)
{
	modmig_status rc;
	char *sql;

	mm_buf_puts(b, "COMMIT;\n");
	sql = mm_buf_take(b);
	if (!sql)
		return mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
	/* the connection is gone: the history keeps the last event that reached it */
	if (PQstatus(a->s->db->conn) != CONNECTION_OK) {
		free(sql);
		return mm_db_fail(a->s->db, NULL, MODMIG_E_SQL, err, "cannot record the migration");
	}
	rc = mm_db_exec(a->s->db, sql, MODMIG_E_SQL, "cannot record the migration", err);
	if (rc != MODMIG_OK && PQstatus(a->s->db->conn) == CONNECTION_OK &&
	    PQtransactionStatus(a->s->db->conn) != PQTRANS_IDLE)
		mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
	free(sql);
	return rc;
}

static void begin_events(mm_buf *b)
{
	mm_buf_init(b);
	mm_buf_puts(b, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	mm_fence_bookkeeping_session(b);
}

/* One event in its own transaction. */
static modmig_status record(const run_args *a, modmig_history_event event, double duration_ms,
                            int unit, const char *error, modmig_error **err)
{
	mm_buf b;

	begin_events(&b);
	add_event(&b, a, event, duration_ms, unit, error);
	return commit_events(a, &b, err);
}

/*
 * The error of a cancelled migration replaces the server's "canceling
 * statement due to user request": what counts is what was kept.
 */
static modmig_status interrupted(const run_args *a, const char *what, modmig_error **err)
{
	const modmig_migration *m = a->m;

	if (err && *err) {
		modmig_error_free(*err);
		*err = NULL;
	}
	mm_fail(err, MODMIG_E_CANCELLED, m->file, 0, 0, "%s", what);
	mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
	return MODMIG_E_CANCELLED;
}

static modmig_status run_in_transaction(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_section *sec = mm_section_of(a->m, a->dir);
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	size_t failed_unit = 0;
	bool committed = false;
	char *text = NULL;
	double start = mm_now_ms();

	memset(&c, 0, sizeof(c));
	mm_buf_puts(&c.sql, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	c.prefix_results = 1;
	mm_fence_clean_session(&c, a->s->db);
	mm_fence_add(&c.sql, a, false, true);
	c.prefix_results++;
	mm_apply_add_setting(&c, a->s->db, "SET LOCAL", "lock_timeout", a->lock_timeout);
	mm_apply_add_setting(&c, a->s->db, "SET LOCAL", "statement_timeout", a->statement_timeout);
	add_units(&c, sec, 0, sec->count);
	mm_fence_bookkeeping_session(&c.sql);
	mm_store_sql_version_row(&c.sql, &a->s->names, a->dir, a->m->version);
	mm_store_sql_history_row(&c.sql, a->s->db, &a->s->names, done_event(a->dir), a->m, -1, 0,
	                         NULL);
	mm_buf_puts(&c.sql, "COMMIT;\n");
	if (c.sql.oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
		goto cleanup;
	}
	a->running = &c;
	if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) == MODMIG_OK)
		goto cleanup;
	/*
	 * The server confirmed COMMIT, then the connection was lost before it
	 * said it was ready: the migration and its state rows are committed,
	 * so it is applied, and saying it failed would contradict the record.
	 * Only our own COMMIT, the last result of all, says so: a COMMIT in a
	 * unit committed the units before it and no state row.
	 */
	if (committed && ok_results == mm_apply_results_of(&c, sec) &&
	    PQstatus(a->s->db->conn) == CONNECTION_BAD)
		goto cleanup;
	/* The server rolled the transaction back (or will, at our ROLLBACK): nothing is kept. */
	if (PQtransactionStatus(a->s->db->conn) == PQTRANS_INERROR ||
	    PQtransactionStatus(a->s->db->conn) == PQTRANS_INTRANS)
		mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
	/* the fence found the version done elsewhere: nothing ran, nothing to record */
	if (mm_fence_caught(a, error, &rc, err))
		goto cleanup;
	rc = mm_apply_failed(a->s->db, a->m, a->dir, &c, error, ok_results, &failed_unit, err);
	a->failed_unit = failed_unit;
	/* a lost connection leaves nothing to record with (and nothing committed) */
	if (PQstatus(a->s->db->conn) != CONNECTION_OK)
		goto cleanup;
	text = error_text(err ? *err : NULL);
	if (mm_db_cancelled(a->s->db)) {
		char what[160];

		snprintf(
		        what, sizeof(what),
		        "migration %lld was interrupted %s and rolled back: nothing of it was kept",
		        (long long)a->m->version,
		        a->dir == MODMIG_UP ? "while it was applied" : "while it was rolled back");
		rc = interrupted(a, what, err);
		record(a, MODMIG_HISTORY_INTERRUPTED, mm_now_ms() - start, (int)failed_unit, text,
		       NULL);
		if (a->dir == MODMIG_UP)
			mm_next(err, MODMIG_NEXT_RUN_UP, 0, "run up again to apply it");
		else
			mm_hint(err, "it is still applied; roll it back again when you are ready");
		goto cleanup;
	}
	/* A failed migration is recorded too, in its own transaction after the rollback. */
	record(a,
	       a->dir == MODMIG_UP ? MODMIG_HISTORY_FAILED_ATOMIC : MODMIG_HISTORY_ROLLBACK_FAILED,
	       mm_now_ms() - start, (int)failed_unit, text, NULL);
cleanup:
	a->running = NULL;
	free(text);
	PQclear(error);
	composed_free(&c);
	return rc;
}

/* "units 1-2 of 3 took effect" for i (0-based) units done of count. */
static void units_done(char *buf, size_t size, size_t i, size_t count)
{
	if (i == 0)
		snprintf(buf, size, "no unit of %zu took effect", count);
	else if (i == 1)
		snprintf(buf, size, "unit 1 of %zu took effect", count);
	else
		snprintf(buf, size, "units 1-%zu of %zu took effect", i, count);
}

/*
 * Before a NO TRANSACTION migration's first unit: clean the session, pass
 * the fence (with the check for a run of it started elsewhere), and record
 * under it that this run starts (resumed or restarted, then unit_started of
 * its first unit), all in one transaction: whoever records first runs it; a
 * second migrator sees that record and waits for the outcome instead of
 * running it too.
 */
static modmig_status start_autocommit(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	bool committed = false;

	memset(&c, 0, sizeof(c));
	mm_buf_puts(&c.sql, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	mm_fence_clean_session(&c, a->s->db);
	mm_fence_add(&c.sql, a, true, true);
	mm_fence_bookkeeping_session(&c.sql);
	if (a->prefix)
		add_event(&c.sql, a, a->prefix, 0, (int)a->first_unit + 1, NULL);
	add_event(&c.sql, a, MODMIG_HISTORY_UNIT_STARTED, -1, (int)a->first_unit + 1, NULL);
	mm_buf_puts(&c.sql, "COMMIT;\n");
	if (c.sql.oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
		goto cleanup;
	}
	if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) != MODMIG_OK) {
		if (PQstatus(a->s->db->conn) == CONNECTION_OK &&
		    PQtransactionStatus(a->s->db->conn) != PQTRANS_IDLE)
			mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
		if (!mm_fence_caught(a, error, &rc, err))
			rc = mm_db_fail(a->s->db, error, MODMIG_E_SQL, err,
			                "cannot record the start of the migration");
	}
cleanup:
	PQclear(error);
	composed_free(&c);
	return rc;
}

/*
 * A NO TRANSACTION migration's progress is recorded durably around every
 * unit: unit_started before it is sent, unit_done once it returned, each
 * committed before the next step. So whatever ends the run (an error, a
 * signal, a kill -9, a server crash, a lost connection), the latest event
 * says which unit is the first not known to be done. The done record of one
 * unit and the started record of the next share a transaction, and the last
 * unit's done record commits with the applied row: one round trip per step.
 */
static modmig_status run_autocommit(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_section *sec = mm_section_of(a->m, a->dir);
	double start = mm_now_ms();
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	size_t i, failed_unit = 0, done = a->first_unit; /* units known to be done */
	bool done_recorded = true; /* unit `done`'s unit_done row is committed */
	bool up = a->dir == MODMIG_UP, committed;
	char taken[96], *text = NULL;
	mm_buf b;

	memset(&c, 0, sizeof(c));
	/* the first unit's start is recorded with the fence, in start_autocommit() */
	rc = start_autocommit(a, err);
	if (rc != MODMIG_OK || a->fence)
		goto cleanup;
	for (i = a->first_unit; i < sec->count && rc == MODMIG_OK; i++) {
		if (mm_db_cancelled(a->s->db))
			break;
		if (i > a->first_unit) {
			begin_events(&b);
			if (!done_recorded)
				add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
			add_event(&b, a, MODMIG_HISTORY_UNIT_STARTED, -1, (int)i + 1, NULL);
			/* no record, no run: a unit that cannot be recorded is not sent */
			if ((rc = commit_events(a, &b, err)) != MODMIG_OK)
				break;
			done_recorded = true;
		}
		/*
		 * The timeouts before every unit: a unit may RESET ALL. A round trip
		 * more per unit, only when there are timeouts; units are sent alone
		 * (CREATE INDEX CONCURRENTLY cannot share a query string).
		 */
		composed_free(&c);
		mm_apply_add_setting(&c, a->s->db, "SET", "lock_timeout", a->lock_timeout);
		mm_apply_add_setting(&c, a->s->db, "SET", "statement_timeout",
		                     a->statement_timeout);
		if (c.sql.len &&
		    (rc = mm_db_exec(a->s->db, c.sql.data, MODMIG_E_SQL,
		                     "cannot set the migration's timeouts", err)) != MODMIG_OK)
			break;
		composed_free(&c);
		add_units(&c, sec, i, i + 1);
		if (c.sql.oom) {
			rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
			break;
		}
		/* Sent without the separator: autocommit units go exactly as written. */
		c.sql.data[c.spans[0].len] = '\0';
		a->running = &c;
		if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) ==
		    MODMIG_OK) {
			done = i + 1;
			done_recorded = false;
			continue;
		}
		rc = mm_apply_failed(a->s->db, a->m, a->dir, &c, error, ok_results, &failed_unit,
		                     err);
		a->failed_unit = i + 1;
		PQclear(error);
		error = NULL;
	}
	units_done(taken, sizeof(taken), done, sec->count);
	if (mm_db_cancelled(a->s->db) && (rc == MODMIG_OK || done < sec->count)) {
		char what[256];

		/*
		 * Cancelled: the unit that was running was rolled back by the server
		 * (or had finished, and counts as done). Record where it stopped.
		 */
		text = error_text(err ? *err : NULL);
		snprintf(what, sizeof(what),
		         "NO TRANSACTION migration %lld was interrupted%s: %s; unit %zu did not "
		         "take effect",
		         (long long)a->m->version, up ? "" : " while rolling back", taken,
		         done + 1);
		rc = interrupted(a, what, err);
		begin_events(&b);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a,
		          up ? MODMIG_HISTORY_INTERRUPTED_PARTWAY : MODMIG_HISTORY_INTERRUPTED,
		          mm_now_ms() - start, (int)done + 1, text ? text : "interrupted");
		commit_events(a, &b, NULL);
		if (up) {
			mm_next(err, MODMIG_NEXT_RESUME, (int)done + 1,
			        "run up with resume mode continue to continue at unit %zu, or "
			        "restart to run it again from unit 1",
			        done + 1);
		} else
			mm_hint(err, "it is still applied; finish the rollback by hand");
		goto reset;
	}
	if (rc != MODMIG_OK && a->failed_unit > 0) {
		text = error_text(err ? *err : NULL);
		if (up) {
			mm_next(err, MODMIG_NEXT_RESUME, (int)a->failed_unit,
			        "NO TRANSACTION migration: %s; unit %zu failed; fix the cause, "
			        "then run up with resume mode continue to continue at unit %zu, "
			        "or restart to run it again from unit 1",
			        taken, a->failed_unit, a->failed_unit);
			mm_next_reason(err, "NO TRANSACTION migration: %s; unit %zu failed", taken,
			               a->failed_unit);
		} else
			mm_hint(err,
			        "NO TRANSACTION migration: %s while rolling back; unit %zu failed; "
			        "fix the cause and finish the rollback by hand",
			        taken, a->failed_unit);
		begin_events(&b);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a, up ? MODMIG_HISTORY_FAILED : MODMIG_HISTORY_ROLLBACK_FAILED,
		          mm_now_ms() - start, (int)a->failed_unit, text);
		commit_events(a, &b, NULL);
	}
reset:
	if (a->lock_timeout)
		mm_db_exec(a->s->db, "RESET lock_timeout", MODMIG_E_SQL, "reset", NULL);
	if (a->statement_timeout)
		mm_db_exec(a->s->db, "RESET statement_timeout", MODMIG_E_SQL, "reset", NULL);
	if (rc == MODMIG_OK) {
		begin_events(&b);
		/* the version row only ever under the fence; the units took effect: no lease check
		 */
		mm_fence_add(&b, a, false, false);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a, done_event(a->dir), mm_now_ms() - start, 0, NULL);
		rc = commit_events(a, &b, err);
	}
cleanup:
	a->running = NULL;
	free(text);
	PQclear(error);
	composed_free(&c);
	return rc;
}

/*
 * Run one parsed migration and report it. The file's own timeouts win over
 * the command's: the author knew what that migration needs.
 */
modmig_status mm_apply_one(mm_session *s, const mm_step *step, modmig_direction dir,
                           const char *lock_timeout, const char *statement_timeout,
                           modmig_resume_mode mode, modmig_result **result, modmig_error **err)
{
	modmig_status rc;
	const modmig_migration *m = step->migration;
	double start = mm_now_ms(), took, waited_since = -1, reported = -1;
	run_args a;

	memset(&a, 0, sizeof(a));
	a.s = s;
	a.m = m;
	a.dir = dir;
	a.lock_timeout = m->parsed.lock_timeout ? m->parsed.lock_timeout : lock_timeout;
	a.statement_timeout =
	        m->parsed.statement_timeout ? m->parsed.statement_timeout : statement_timeout;
	if (step->failed && mode == MODMIG_RESUME_CONTINUE) {
		a.first_unit = step->failed_unit > 0 ? (size_t)step->failed_unit - 1 : 0;
		a.prefix = MODMIG_HISTORY_RESUMED;
	} else if (step->failed && mode == MODMIG_RESUME_RESTART) {
		a.prefix = MODMIG_HISTORY_RESTARTED;
	}
	mm_emit(s->db, MODMIG_EVENT_STARTED, MODMIG_LOG_INFO, m, dir, 0, NULL, "%s %s",
	        dir == MODMIG_UP ? "applying" : "rolling back", m->file);
	mm_progress_start(&a.progress, s->db, m, dir, (int)mm_section_of(m, dir)->count);
	a.progress.where = where_running;
	a.progress.where_arg = &a;
	for (;;) {
		a.fence = FENCE_NONE;
		rc = m->parsed.no_transaction ? run_autocommit(&a, err)
		                              : run_in_transaction(&a, err);
		if (rc != MODMIG_OK || a.fence == FENCE_NONE || a.fence == FENCE_DONE)
			break;
		rc = mm_fence_wait(&a, &waited_since, &reported, err);
		if (rc != MODMIG_OK)
			break;
	}
	mm_progress_end(&a.progress);
	took = mm_now_ms() - start;
	if (rc == MODMIG_OK && a.fence == FENCE_DONE) {
		/* not a failure: the version is where this run wanted it */
		s->skipped++;
		mm_emit(s->db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, m, dir, took, NULL,
		        "skipped %s: %s by another migrator (%s)", m->file,
		        dir == MODMIG_UP ? "applied already" : "rolled back already",
		        a.fence_message ? a.fence_message : "");
		free(a.fence_message);
		return MODMIG_OK;
	}
	free(a.fence_message);
	if (rc == MODMIG_E_CANCELLED) {
		mm_emit(s->db, MODMIG_EVENT_FAILED, MODMIG_LOG_ERROR, m, dir, took, NULL, "%s",
		        err && *err ? (*err)->message : "interrupted");
		return rc;
	}
	if (rc != MODMIG_OK) {
		mm_apply_explain_timeout(&a, err);
		mm_emit(s->db, MODMIG_EVENT_FAILED, MODMIG_LOG_ERROR, m, dir, took, NULL,
		        "%s %lld failed: %s", dir == MODMIG_UP ? "applying" : "rolling back",
		        (long long)m->version, err && *err ? (*err)->message : "error");
		return rc;
	}
	mm_emit(s->db, dir == MODMIG_UP ? MODMIG_EVENT_APPLIED : MODMIG_EVENT_ROLLED_BACK,
	        MODMIG_LOG_INFO, m, dir, took, NULL, "%s %s (%.1f ms)",
	        dir == MODMIG_UP ? "applied" : "rolled back", m->file, took);
	return mm_result_add(result, m, dir, took);
}

modmig_status mm_mark_rolled_back(mm_session *s, const mm_step *step, modmig_result **result,
                                  modmig_error **err)
{
	modmig_status rc;
	const modmig_migration *m = step->migration;
	run_args a;

	memset(&a, 0, sizeof(a));
	a.s = s;
	a.m = m;
	a.dir = MODMIG_DOWN;
	rc = record(&a, MODMIG_HISTORY_MARKED_ROLLED_BACK, 0, 0, NULL, err);
	if (rc != MODMIG_OK)
		return rc;
	mm_emit(s->db, MODMIG_EVENT_ROLLED_BACK, MODMIG_LOG_INFO, m, MODMIG_DOWN, 0, NULL,
	        "marked %s rolled back without running a Down section", m->file);
	return mm_result_add(result, m, MODMIG_DOWN, 0);
}

modmig_status mm_run_cancelled(const mm_step *last_done, const mm_step *next, modmig_direction dir,
                               modmig_error **err)
{
	const char *done = dir == MODMIG_UP ? "applied" : "rolled back";

	if (last_done && next)
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted after migration %lld was %s; migration %lld and later ones "
		        "were not started",
		        (long long)last_done->version, done, (long long)next->version);
	else if (last_done)
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted after migration %lld was %s", (long long)last_done->version,
		        done);
	else
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted before any migration was %s; nothing was changed", done);
	return MODMIG_E_CANCELLED;
}
