/*
 * replay.c - apply exactly these migrations, in exactly this order: what
 * drift needs to rebuild, on a shadow database, the schema a database's
 * applied migrations produced in the order they were applied there. The
 * usual machinery (lock, state tables, registry, one transaction per
 * migration, the fence) runs as for `up`; only the plan is given.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

modmig_status mm_run_replay(modmig_db *db, modmig_source *src, const int64_t *versions,
                            size_t count, const volatile sig_atomic_t *stop, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	mm_session s;
	mm_plan plan;
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	plan.steps = calloc(count ? count : 1, sizeof(*plan.steps));
	if (!plan.steps)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (i = 0; i < count; i++) {
		const modmig_migration *m = modmig_source_find(src, versions[i]);

		if (!m) {
			rc = mm_fail(
			        err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
			        "applied version %lld has no migration file: its schema cannot "
			        "be rebuilt",
			        (long long)versions[i]);
			mm_hint(err, "run 'modmig verify' for the whole story");
			goto cleanup;
		}
		plan.steps[plan.count].migration = m;
		plan.steps[plan.count++].version = versions[i];
	}
	if ((rc = mm_plan_parse_all(src, &plan, err)) != MODMIG_OK ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, err)) != MODMIG_OK ||
	    (rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < plan.count && rc == MODMIG_OK; i++) {
		if (stop && *stop) {
			rc = mm_fail(err, MODMIG_E_SQL, NULL, 0, 0, "interrupted");
			break;
		}
		rc = mm_apply_one(&s, &plan.steps[i], MODMIG_UP, NULL, NULL, MODMIG_RESUME_NONE,
		                  NULL, err);
	}
cleanup:
	mm_plan_clear(&plan);
	mm_session_close(&s);
	return rc;
}
