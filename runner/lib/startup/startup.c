/*
 * startup.c - a service migrates itself: one call with its embedded
 * migrations and a policy. Replicas starting together serialise on the
 * migration lock; the first applies, the others find nothing left to do.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

void modmig_startup_options_init(modmig_startup_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->policy = MODMIG_POLICY_OFF;
	opts->lock_timeout_ms = -1;
}

static bool recorded_with_file(const mm_event_row *e)
{
	static const char *const events[] = {"applied", "stamped", "resumed", "restarted"};
	size_t i;

	for (i = 0; e && e->event && i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(e->event, events[i]) == 0)
			return e->sha256 != NULL;
	return false;
}

/* Anything not applied fails with PENDING; an applied file that changed with CHECK. */
static modmig_status verify(modmig_db *db, const modmig_source *src, modmig_error **err)
{
	modmig_status rc;
	mm_session s;
	mm_row *rows = NULL;
	size_t count = 0, i, first_new = 0, waiting = 0;
	const mm_row *first = NULL;

	memset(&s, 0, sizeof(s));
	rc = mm_source_load(src, err);
	if (rc == MODMIG_OK)
		rc = mm_session_open(&s, db, src, err);
	if (rc == MODMIG_OK && !modmig_source_is_dir(src))
		rc = mm_registry_check(src, &s.state, &first_new, err);
	if (rc == MODMIG_OK)
		rc = mm_classify(src->migrations, src->migration_count, &s.state, &rows, &count,
		                 err);
	if (rc != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < count; i++) {
		if (rows[i].state != MODMIG_STATE_APPLIED && !waiting++)
			first = &rows[i];
	}
	if (first) {
		rc = mm_fail(err, MODMIG_E_PENDING,
		             first->migration ? first->migration->file : NULL, 0, 0,
		             "%zu migration%s not applied, the first is %lld (%s)", waiting,
		             waiting == 1 ? " is" : "s are", (long long)first->version,
		             modmig_state_name(first->state));
		mm_hint(err, "apply them with modmig up, or start the service with the apply "
		             "policy");
		mm_error_set_migration(err, first->version,
		                       first->migration && first->migration->module
		                               ? first->migration->module->name
		                               : NULL);
		goto cleanup;
	}
	for (i = 0; i < count; i++) {
		const mm_row *r = &rows[i];

		if (!r->migration || !recorded_with_file(r->event) ||
		    strcmp(r->event->sha256, r->migration->sha256) == 0)
			continue;
		rc = mm_fail(err, MODMIG_E_CHECK, r->migration->file, 0, 0,
		             "migration %lld changed since it was applied", (long long)r->version);
		mm_hint(err, "restore the applied file; put further changes in a new migration");
		mm_error_set_migration(err, r->version,
		                       r->migration->module ? r->migration->module->name : NULL);
		goto cleanup;
	}
	mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
	        "all %zu migrations are applied", count);
cleanup:
	free(rows);
	mm_session_close(&s);
	return rc;
}

static bool in_production(const modmig_startup_options *opts)
{
	const char *env = getenv("MODMIG_ENV");

	return opts->production || (env && strcmp(env, "production") == 0);
}

/*
 * The production guard of the apply policy without a reviewed plan: nothing
 * pending is fine, anything pending is refused before the lock is taken.
 */
static modmig_status refuse_unreviewed(modmig_db *db, const modmig_source *src, modmig_error **err)
{
	modmig_status rc;
	mm_session s;
	mm_plan plan;
	size_t first_new = 0;

	memset(&plan, 0, sizeof(plan));
	rc = mm_session_open(&s, db, src, err);
	if (rc == MODMIG_OK && !modmig_source_is_dir(src))
		rc = mm_registry_check(src, &s.state, &first_new, err);
	if (rc == MODMIG_OK)
		rc = mm_plan_up(src->migrations, src->migration_count, &s.state, NULL, NULL, &plan,
		                err);
	if (rc != MODMIG_OK)
		goto cleanup;
	if (plan.count == 0) {
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "production: all migrations are applied, nothing to review");
		goto cleanup;
	}
	rc = mm_fail(err, MODMIG_E_REFUSED, plan.steps[0].migration->file, 0, 0,
	             "refusing to apply %zu unreviewed migration%s in production, the first is "
	             "%lld; nothing was changed",
	             plan.count, plan.count == 1 ? "" : "s", (long long)plan.steps[0].version);
	mm_hint(err, "write a plan with 'modmig plan -o FILE', review it, and start with "
	             "plan_file set to it (or set allow_unreviewed to apply without review)");
cleanup:
	mm_plan_clear(&plan);
	mm_session_close(&s);
	return rc;
}

modmig_status modmig_startup(const modmig_startup_options *opts, modmig_result **out,
                             modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_up_options up;

	if (out)
		*out = NULL;
	if (!opts) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "no startup options given");
		mm_hint(err, "fill a modmig_startup_options with modmig_startup_options_init");
		goto cleanup;
	}
	if (opts->policy == MODMIG_POLICY_OFF)
		goto cleanup;
	if (opts->policy != MODMIG_POLICY_APPLY && opts->policy != MODMIG_POLICY_VERIFY) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "unknown startup policy %d",
		             (int)opts->policy);
		mm_hint(err, "use MODMIG_POLICY_APPLY, MODMIG_POLICY_VERIFY or MODMIG_POLICY_OFF");
		goto cleanup;
	}
	rc = modmig_source_new_embedded(opts->files, opts->file_count, &src, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	rc = modmig_db_connect(opts->conninfo, &db, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	modmig_db_set_log(db, opts->log, opts->log_userdata);
	modmig_db_set_lock_timeout(db, opts->lock_timeout_ms);
	if (opts->policy == MODMIG_POLICY_VERIFY) {
		rc = verify(db, src, err);
		goto cleanup;
	}
	if (in_production(opts) && !opts->plan_file && !opts->allow_unreviewed) {
		rc = refuse_unreviewed(db, src, err);
		goto cleanup;
	}
	modmig_up_options_init(&up);
	up.plan_file = opts->plan_file;
	rc = modmig_up(db, src, &up, out, err);
cleanup:
	modmig_db_free(db);
	modmig_source_free(src);
	return rc;
}
