/*
 * run.c - the online commands up, down and redo: read state, take the lock,
 * plan, parse what will run, then run it one migration at a time.
 */
#include "run/planfile.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A dry run: every unit the first `count` steps would send in direction dir,
 * in order, with its line; with mark_only, one event per migration (sql
 * NULL): its record would go, and nothing would run. A NO TRANSACTION
 * migration resumed (mode) sends its units from the first not known to be
 * done, as mm_apply_one() does.
 */
static void dry_run(mm_session *s, const mm_plan *plan, size_t count, modmig_direction dir,
                    bool mark_only, modmig_resume_mode mode)
{
	size_t i, u;
	modmig_event ev;

	for (i = 0; i < plan->count && i < count; i++) {
		const mm_step *step = &plan->steps[i];
		const modmig_migration *m = step->migration;
		const mm_section *sec = dir == MODMIG_UP ? &m->parsed.up : &m->parsed.down;
		size_t first =
		        step->failed && mode == MODMIG_RESUME_CONTINUE && step->failed_unit > 0
		                ? (size_t)step->failed_unit - 1
		                : 0;

		memset(&ev, 0, sizeof(ev));
		ev.kind = MODMIG_EVENT_DRY_RUN;
		ev.level = MODMIG_LOG_INFO;
		ev.migration = m;
		ev.direction = dir;
		ev.unit_count = (int)sec->count;
		if (mark_only) {
			mm_emit_event(
			        s->db, &ev,
			        "would mark %s as rolled back without running its Down section",
			        m->file);
			continue;
		}
		for (u = first; u < sec->count; u++) {
			ev.sql = sec->units[u].sql;
			ev.unit = (int)u + 1;
			ev.line = sec->units[u].line;
			mm_emit_event(s->db, &ev, "would %s %s unit %zu of %zu (line %d)",
			              dir == MODMIG_UP ? "apply" : "roll back", m->file, u + 1,
			              sec->count, sec->units[u].line);
		}
		ev.sql = "";
		if (sec->count == 0)
			mm_emit_event(s->db, &ev, "would %s %s (no statements)",
			              dir == MODMIG_UP ? "apply" : "roll back", m->file);
		else if (first >= sec->count)
			mm_emit_event(s->db, &ev,
			              "would record %s as applied: all %zu units took effect",
			              m->file, sec->count);
	}
}

/*
 * Run the plan's migrations in order. A cancel (modmig_db_cancel) stops it
 * between two migrations as well as inside one: nothing new starts.
 */
static modmig_status run_steps(mm_session *s, const mm_plan *plan, modmig_direction dir,
                               const char *lock_timeout, const char *statement_timeout,
                               modmig_resume_mode mode, modmig_result **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;

	for (i = 0; i < plan->count && rc == MODMIG_OK; i++) {
		if (mm_db_cancelled(s->db))
			return mm_run_cancelled(i ? &plan->steps[i - 1] : NULL, &plan->steps[i],
			                        dir, err);
		rc = mm_apply_one(s, &plan->steps[i], dir, lock_timeout, statement_timeout, mode,
		                  out, err);
	}
	if (rc == MODMIG_OK && plan->count && mm_db_cancelled(s->db))
		rc = mm_run_cancelled(&plan->steps[plan->count - 1], NULL, dir, err);
	return rc;
}

/*
 * The parser's warnings about what will run in direction dir (a redundant
 * BEGIN that is not sent, ...), through the log callback before it runs.
 */
static void emit_warnings(modmig_db *db, const mm_plan *plan, size_t count, modmig_direction dir)
{
	size_t i, w;

	for (i = 0; i < plan->count && i < count; i++) {
		const modmig_migration *m = plan->steps[i].migration;

		for (w = 0; w < m->parsed.warning_count; w++)
			if (m->parsed.warnings[w].dir == dir)
				mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_WARN, m, dir, 0, NULL,
				        "%s:%d:%d: %s", m->file, m->parsed.warnings[w].line,
				        m->parsed.warnings[w].column,
				        m->parsed.warnings[w].message);
	}
}

/*
 * Close the session of up, down or redo, first setting the result's final
 * version. When the fence skipped migrations that others applied, that
 * version comes from a fresh read.
 */
static void finish_session(modmig_db *db, mm_session *s, modmig_result **out)
{
	if (out && s->skipped && s->state_read) {
		mm_state_clear(&s->state);
		if (mm_state_read(db, &s->names, &s->state, NULL) != MODMIG_OK)
			s->state_read = false;
	}
	if (out)
		mm_result_finish(*out, s);
	mm_session_close(s);
}

/* ---- up ----------------------------------------------------------------- */

/*
 * Nothing to do is decided without the lock, from one read of committed
 * state: if every migration here is applied, running after whoever holds
 * the lock would find the same. Anything else is decided again under it.
 */
static bool nothing_to_do(mm_session *s, const modmig_up_options *opts, const modmig_module *module)
{
	const modmig_source *src = s->src;
	mm_plan plan;
	size_t first_new = 0;
	bool none;

	if (opts->plan_file || opts->resume != MODMIG_RESUME_NONE || !mm_state_complete(&s->state))
		return false;
	if (!modmig_source_is_dir(src) &&
	    (mm_registry_check(src, &s->state, &first_new, NULL) != MODMIG_OK ||
	     first_new < modmig_source_module_count(src)))
		return false;
	if (mm_plan_up(src->migrations, src->migration_count, &s->state, opts, module, &plan,
	               NULL) != MODMIG_OK)
		return false;
	none = plan.count == 0;
	mm_plan_clear(&plan);
	return none;
}

/* nothing_to_do() for the lock wait: the options and module ride in the session. */
static bool nothing_left(mm_session *s)
{
	return nothing_to_do(s, s->nothing_left_arg[0], s->nothing_left_arg[1]);
}

/*
 * Whether the session that recorded history event `id` may still be at work
 * (MM_WRITER_ALIVE_WHERE): *pid gets one such session, 0 when there is none.
 * *direct says whether that answer can be trusted: the backend that answers
 * is the one the connection started with (the process id in its
 * BackendKeyData). A pooler hands out its own key, and in transaction mode a
 * backend does not stand for a client: the one that recorded the event may
 * be the very one asking.
 */
static modmig_status writer_alive(mm_session *s, int64_t id, int *pid, bool *direct,
                                  modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char idbuf[32], *sql = NULL, *not_waiting = mm_lock_not_waiting_sql(&s->names, "a.pid");
	const char *params[1] = {idbuf};
	PGresult *res = NULL;

	*pid = 0;
	*direct = false;
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	sql = not_waiting ? mm_printf("SELECT (SELECT a.pid FROM %s h JOIN "
	                              "pg_catalog.pg_stat_activity a ON " MM_WRITER_ALIVE_WHERE
	                              " AND %s WHERE h.id = $1::bigint ORDER BY a.backend_start "
	                              "LIMIT 1), pg_catalog.pg_backend_pid()",
	                              s->names.table[MM_TABLE_HISTORY], not_waiting)
	                  : NULL;
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexecParams(s->db->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = mm_db_fail(s->db, res, MODMIG_E_SQL, err,
		                "cannot tell whether another migrator is running a migration");
	else if ((rc = mm_db_check_shape(res, 1, 2, MODMIG_E_SQL, err,
	                                 "reading who runs a migration")) == MODMIG_OK) {
		*pid = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
		*direct = !PQgetisnull(res, 0, 1) &&
		          atoi(PQgetvalue(res, 0, 1)) == PQbackendPID(s->db->conn);
	}
cleanup:
	PQclear(res);
	free(sql);
	free(not_waiting);
	return rc;
}

/*
 * A NO TRANSACTION migration in the plan whose latest event says a run of it
 * is under way (started, resumed, restarted) rather than failed, and another
 * migrator is most likely running it now (its session lock may mean nothing
 * behind a pooler, and a migration may have released it):
 *   - on a direct connection, while the session that recorded the event is
 *     connected (writer_alive); a run whose session is gone was interrupted;
 *   - otherwise (behind a pooler, or with the table lock), when the event is
 *     newer than this session's first read or less than MM_RUN_GRACE_SECONDS
 *     old.
 * *busy is NULL when there is none; the plan's check then reports a run that
 * stands part-way, at once. With a resume mode (the operator says the run
 * stopped) only the first holds: a run whose session is connected has not
 * stopped, and resuming it would run its unit a second time, at once.
 */
static modmig_status running_elsewhere(mm_session *s, const mm_plan *plan, bool resume,
                                       const mm_step **busy, int *pid, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;
	bool direct;

	*busy = NULL;
	for (i = 0; rc == MODMIG_OK && !*busy && i < plan->count; i++) {
		const mm_event_row *e = mm_state_find_event(&s->state, plan->steps[i].version);

		bool running = e && (e->kind == MODMIG_HISTORY_UNIT_STARTED ||
		                     e->kind == MODMIG_HISTORY_UNIT_DONE ||
		                     e->kind == MODMIG_HISTORY_RESUMED ||
		                     e->kind == MODMIG_HISTORY_RESTARTED);

		if (!plan->steps[i].failed || !running)
			continue;
		rc = writer_alive(s, e->id, pid, &direct, err);
		if (rc == MODMIG_OK && resume && *pid != 0 && direct)
			*busy = &plan->steps[i];
		else if (rc == MODMIG_OK && !resume &&
		         (*pid != 0 || (!direct && (e->id > s->first_read_event_id ||
		                                    (e->age_seconds >= 0 &&
		                                     e->age_seconds < MM_RUN_GRACE_SECONDS)))))
			*busy = &plan->steps[i];
	}
	return rc;
}

/*
 * Wait for such a run's outcome (polling the state, as long as the lock
 * timeout allows, saying every few seconds what it waits for), then plan
 * again from what it left.
 */
static modmig_status wait_for_runs(mm_session *s, const modmig_up_options *use,
                                   const modmig_module *module, mm_plan *plan, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_step *busy;
	double since = mm_now_ms(), reported = -1;
	struct timespec ts;
	int pid = 0;

	while ((rc = running_elsewhere(s, plan, use->resume != MODMIG_RESUME_NONE, &busy, &pid,
	                               err)) == MODMIG_OK &&
	       busy) {
		const mm_event_row *e = mm_state_find_event(&s->state, busy->version);

		if (s->db->lock_timeout_ms >= 0 && mm_now_ms() - since >= s->db->lock_timeout_ms &&
		    use->resume != MODMIG_RESUME_NONE) {
			mm_fail(err, MODMIG_E_LOCK_TIMEOUT, busy->migration->file, 0, 0,
			        "timed out waiting for another migrator's run of NO TRANSACTION "
			        "migration %lld: its session pid %d is still connected",
			        (long long)busy->version, pid);
			mm_hint(err,
			        "if that run is stuck, end that session, then %s again; nothing "
			        "was run",
			        use->resume == MODMIG_RESUME_CONTINUE ? "resume" : "restart");
			mm_error_set_migration(
			        err, busy->version,
			        busy->migration->module ? busy->migration->module->name : NULL);
			return MODMIG_E_LOCK_TIMEOUT;
		}
		if (s->db->lock_timeout_ms >= 0 && mm_now_ms() - since >= s->db->lock_timeout_ms)
			break; /* the plan's check says what stands part-way */
		if (reported < 0 || mm_now_ms() - reported >= MM_WAIT_REPORT_MS) {
			mm_emit(s->db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, busy->migration,
			        MODMIG_UP, 0, NULL,
			        "waiting for another migrator's run of NO TRANSACTION migration %s "
			        "(%s %ds ago%s%.0d%s); if that run was interrupted instead, %sstop "
			        "this and resume or restart the migration",
			        busy->migration->file, e->event, e->age_seconds,
			        pid ? ", its session pid " : "", pid,
			        pid ? " is still connected" : "",
			        pid ? "end that session, or " : "");
			reported = mm_now_ms();
		}
		ts.tv_sec = 0;
		ts.tv_nsec = 200 * 1000000L;
		nanosleep(&ts, NULL);
		mm_plan_clear(plan);
		mm_state_clear(&s->state);
		rc = mm_state_read(s->db, &s->names, &s->state, err);
		if (rc == MODMIG_OK)
			rc = mm_plan_up(s->src->migrations, s->src->migration_count, &s->state, use,
			                module, plan, err);
		if (rc != MODMIG_OK)
			break;
	}
	return rc;
}

/* With a plan file, the options it was written with replace the caller's. */
static modmig_status plan_options(const modmig_up_options *opts, mm_planfile *pf,
                                  modmig_up_options *use, modmig_error **err)
{
	modmig_status rc;

	*use = *opts;
	if (!opts->plan_file)
		return MODMIG_OK;
	rc = mm_planfile_read(opts->plan_file, pf, err);
	if (rc == MODMIG_OK)
		mm_planfile_up_options(pf, use);
	return rc;
}

/*
 * The production rule (modmig_up_options): unreviewed migrations are refused
 * before anything is created, so a refusal changes nothing.
 */
static modmig_status refuse_unreviewed(const modmig_up_options *use, bool planned,
                                       const mm_plan *plan, modmig_error **err)
{
	if (!use->production || planned || use->allow_unreviewed || use->dry_run ||
	    plan->count == 0)
		return MODMIG_OK;
	mm_fail(err, MODMIG_E_REFUSED, plan->steps[0].migration->file, 0, 0,
	        "refusing to apply %zu unreviewed migration%s in production, the first is %lld; "
	        "nothing was changed",
	        plan->count, plan->count == 1 ? "" : "s", (long long)plan->steps[0].version);
	mm_next(err, MODMIG_NEXT_WRITE_PLAN, 0,
	        "write a plan (modmig_plan_write), review it, and apply it with plan_file set "
	        "to it (or set allow_unreviewed to apply without review)");
	return MODMIG_E_REFUSED;
}

modmig_status modmig_up(modmig_db *db, modmig_source *src, const modmig_up_options *opts,
                        modmig_result **out, modmig_error **err)
{
	modmig_status rc;
	modmig_up_options defaults, use;
	const modmig_module *module = NULL;
	mm_planfile pf;
	mm_session s;
	mm_plan plan;
	bool planned = false, done = false;
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	memset(&pf, 0, sizeof(pf));
	if (out)
		*out = NULL;
	if (!opts) {
		modmig_up_options_init(&defaults);
		opts = &defaults;
	}
	planned = opts->plan_file != NULL;
	if ((rc = mm_result_new(out, err)) != MODMIG_OK ||
	    (rc = modmig_up_options_check(opts, err)) != MODMIG_OK ||
	    (rc = plan_options(opts, &pf, &use, err)) != MODMIG_OK ||
	    (rc = mm_source_module_arg(src, use.module, &module, err)) != MODMIG_OK)
		goto cleanup;
	if (!use.dry_run && (rc = mm_db_check_writable(db, "migrate", err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_session_open(&s, db, src, err);
	s.dry_run = use.dry_run;
	if (rc != MODMIG_OK || nothing_to_do(&s, &use, module))
		goto cleanup;
	if ((rc = mm_plan_prefetch(src, &s.state, &use, NULL, module, err)) != MODMIG_OK)
		goto cleanup;
	/* nothing is created before the plan is known good: exit 2 changes nothing */
	s.nothing_left = nothing_left;
	s.nothing_left_arg[0] = &use;
	s.nothing_left_arg[1] = module;
	rc = mm_session_lock(&s, err);
	if (rc != MODMIG_OK || s.done_while_waiting)
		goto cleanup;
	rc = mm_plan_up(src->migrations, src->migration_count, &s.state, &use, module, &plan, err);
	if (rc == MODMIG_OK && !planned)
		rc = wait_for_runs(&s, &use, module, &plan, err);
	if (rc == MODMIG_OK && planned)
		rc = mm_planfile_check(&pf, src, &s, &plan, &done, err);
	if (rc != MODMIG_OK || done)
		goto cleanup;
	if ((rc = refuse_unreviewed(&use, planned, &plan, err)) != MODMIG_OK)
		goto cleanup;
	if ((rc = mm_plan_parse_all(src, &plan, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_failed(&plan, &use, err)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < plan.count; i++)
		if (plan.steps[i].out_of_order)
			mm_emit(db, MODMIG_EVENT_OUT_OF_ORDER, MODMIG_LOG_WARN,
			        plan.steps[i].migration, MODMIG_UP, 0, NULL,
			        "%s is out of order: a higher version of its module is already "
			        "applied",
			        plan.steps[i].migration->file);
	emit_warnings(db, &plan, plan.count, MODMIG_UP);
	if (use.dry_run) {
		dry_run(&s, &plan, plan.count, MODMIG_UP, false, use.resume);
		goto cleanup;
	}
	/*
	 * The state tables, created once the plan is checked and its files parsed:
	 * a bad file or a plan that does not match leaves even a fresh database
	 * untouched.
	 */
	if ((rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	rc = run_steps(&s, &plan, MODMIG_UP, use.lock_timeout, use.statement_timeout, use.resume,
	               out, err);
cleanup:
	if (done)
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "the plan %s was applied already; nothing to do", pf.path);
	mm_planfile_clear(&pf);
	mm_plan_clear(&plan);
	finish_session(db, &s, out);
	return rc;
}

/* ---- down and redo ------------------------------------------------------ */

modmig_status modmig_down(modmig_db *db, modmig_source *src, const modmig_down_options *opts,
                          modmig_result **out, modmig_error **err)
{
	modmig_status rc;
	modmig_down_options defaults;
	const modmig_module *module = NULL;
	const char *what;
	mm_session s;
	mm_plan plan;
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	if (out)
		*out = NULL;
	if (!opts) {
		modmig_down_options_init(&defaults);
		opts = &defaults;
	}
	what = opts->all ? "reset" : "roll back";
	if ((rc = mm_result_new(out, err)) != MODMIG_OK ||
	    (rc = mm_source_module_arg(src, opts->module, &module, err)) != MODMIG_OK ||
	    (!opts->dry_run && (rc = mm_db_check_writable(db, what, err)) != MODMIG_OK) ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK)
		goto cleanup;
	s.dry_run = opts->dry_run;
	if ((rc = mm_plan_prefetch(src, &s.state, NULL, opts, module, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_partway(src, &s.state, what, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_down(src->migrations, src->migration_count, &s.state, opts, module, &plan,
	                  err);
	if (rc != MODMIG_OK || (rc = mm_plan_parse_all(src, &plan, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_down(&plan, opts->mark_only, what, err)) != MODMIG_OK)
		goto cleanup;
	emit_warnings(db, &plan, plan.count, MODMIG_DOWN);
	if (opts->dry_run) {
		dry_run(&s, &plan, plan.count, MODMIG_DOWN, opts->mark_only, MODMIG_RESUME_NONE);
		goto cleanup;
	}
	/* refusals come first; nothing to roll back writes nothing: no state tables */
	if (plan.count > 0 && (rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	if (opts->mark_only) {
		for (i = 0; i < plan.count && rc == MODMIG_OK; i++)
			rc = mm_mark_rolled_back(&s, &plan.steps[i], out, err);
		goto cleanup;
	}
	rc = run_steps(&s, &plan, MODMIG_DOWN, opts->lock_timeout, opts->statement_timeout,
	               MODMIG_RESUME_NONE, out, err);
cleanup:
	mm_plan_clear(&plan);
	finish_session(db, &s, out);
	return rc;
}

modmig_status modmig_redo(modmig_db *db, modmig_source *src, modmig_result **out,
                          modmig_error **err)
{
	return modmig_redo_with(db, src, NULL, out, err);
}

modmig_status modmig_redo_with(modmig_db *db, modmig_source *src, const modmig_down_options *given,
                               modmig_result **out, modmig_error **err)
{
	modmig_status rc;
	modmig_down_options opts;
	mm_session s;
	mm_plan plan;
	mm_step again;
	const char *lock_timeout = given ? given->lock_timeout : NULL;
	const char *statement_timeout = given ? given->statement_timeout : NULL;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	/* one step back by apply order, whatever else the caller's options say */
	modmig_down_options_init(&opts);
	if (out)
		*out = NULL;
	if ((rc = mm_result_new(out, err)) != MODMIG_OK ||
	    (!(given && given->dry_run) &&
	     (rc = mm_db_check_writable(db, "redo", err)) != MODMIG_OK) ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK)
		goto cleanup;
	s.dry_run = given && given->dry_run;
	if ((rc = mm_plan_prefetch(src, &s.state, NULL, &opts, NULL, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_partway(src, &s.state, "redo", err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_down(src->migrations, src->migration_count, &s.state, &opts, NULL, &plan, err);
	if (rc != MODMIG_OK || (rc = mm_plan_parse_all(src, &plan, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_down(&plan, false, "redo", err)) != MODMIG_OK)
		goto cleanup;
	if (plan.count == 0) {
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "nothing to redo: no migration is applied");
		goto cleanup;
	}
	emit_warnings(db, &plan, 1, MODMIG_DOWN);
	emit_warnings(db, &plan, 1, MODMIG_UP);
	if (given && given->dry_run) {
		dry_run(&s, &plan, 1, MODMIG_DOWN, false, MODMIG_RESUME_NONE);
		dry_run(&s, &plan, 1, MODMIG_UP, false, MODMIG_RESUME_NONE);
		goto cleanup;
	}
	/* refusals come first: a refused redo creates nothing, not even state tables */
	if ((rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_apply_one(&s, &plan.steps[0], MODMIG_DOWN, lock_timeout, statement_timeout,
	                  MODMIG_RESUME_NONE, out, err);
	if (rc == MODMIG_OK && mm_db_cancelled(db))
		rc = mm_run_cancelled(&plan.steps[0], NULL, MODMIG_DOWN, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	again = plan.steps[0];
	again.failed = false;
	rc = mm_apply_one(&s, &again, MODMIG_UP, lock_timeout, statement_timeout,
	                  MODMIG_RESUME_NONE, out, err);
cleanup:
	mm_plan_clear(&plan);
	finish_session(db, &s, out);
	return rc;
}
