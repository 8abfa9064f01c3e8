/*
 * startup.c - a service migrates itself: one call with its embedded
 * migrations and a policy. Replicas starting together serialise on the
 * migration lock; the first applies, the others find nothing left to do.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void modmig_startup_options_init(modmig_startup_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->policy = MODMIG_POLICY_OFF;
	opts->lock_timeout_ms = -1;
}

/*
 * The verify policy is modmig verify, read as a service needs it: a registry
 * that disagrees, anything not applied, or an applied file that changed fails
 * the start; verify's other findings (out of order, no file, a missing
 * trigger) are reported through the log and do not stop the service.
 */
static const modmig_finding *first_of(const modmig_findings *f, unsigned kinds, size_t *count)
{
	const modmig_finding *first = NULL;
	size_t i;

	*count = 0;
	for (i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		if (!(kinds & (1u << x->kind)))
			continue;
		if (!(*count)++)
			first = x;
	}
	return first;
}

/* Anything not applied fails with PENDING; an applied file that changed with CHECK. */
static modmig_status verify(modmig_db *db, modmig_source *src, modmig_error **err)
{
	const unsigned waiting = 1u << MODMIG_FINDING_PENDING | 1u << MODMIG_FINDING_MISSING |
	                         1u << MODMIG_FINDING_FAILED;
	modmig_findings *f = NULL;
	const modmig_finding *x;
	size_t count, i;
	modmig_status rc = modmig_verify(db, src, &f, err);

	if (rc != MODMIG_OK && rc != MODMIG_E_CHECK)
		goto cleanup;
	rc = MODMIG_OK;
	if ((x = first_of(f, 1u << MODMIG_FINDING_REGISTRY, &count)) != NULL) {
		rc = mm_fail(err, MODMIG_E_REGISTRY, x->file, 0, 0, "%s", x->message);
		goto cleanup;
	}
	if ((x = first_of(f, waiting, &count)) != NULL) {
		rc = mm_fail(err, MODMIG_E_PENDING, x->file, 0, 0,
		             "%zu migration%s not applied, the first is %lld (%s)", count,
		             count == 1 ? " is" : "s are", (long long)x->version,
		             modmig_finding_kind_name(x->kind));
		mm_next(err, MODMIG_NEXT_RUN_UP, 0,
		        "apply them first (modmig_up), or start the service with the apply policy");
		mm_error_set_migration(err, x->version, x->module);
		goto cleanup;
	}
	if ((x = first_of(f, 1u << MODMIG_FINDING_CHANGED, &count)) != NULL) {
		rc = mm_fail(err, MODMIG_E_CHECK, x->file, 0, 0,
		             "migration %lld changed since it was applied", (long long)x->version);
		mm_hint(err, "restore the applied file; put further changes in a new migration");
		mm_error_set_migration(err, x->version, x->module);
		goto cleanup;
	}
	for (i = 0; i < modmig_findings_count(f); i++) {
		x = modmig_findings_at(f, i);
		if (x->kind != MODMIG_FINDING_STATE)
			mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_WARN, NULL, MODMIG_UP, 0, NULL,
			        "%s: %s", modmig_finding_kind_name(x->kind), x->message);
	}
	mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
	        "all %zu migrations are applied", modmig_source_migration_count(src));
cleanup:
	modmig_findings_free(f);
	return rc;
}

modmig_environment modmig_environment_of(const char *value)
{
	static const char *const production[] = {"production", "prod"};
	static const char *const other[] = {"development", "dev",     "staging", "stage",
	                                    "test",        "testing", "local",   "ci",
	                                    "qa",          "demo",    "preview"};
	size_t i;

	if (!value || !*value)
		return MODMIG_ENVIRONMENT_UNSET;
	for (i = 0; i < sizeof(production) / sizeof(production[0]); i++)
		if (strcasecmp(value, production[i]) == 0)
			return MODMIG_ENVIRONMENT_PRODUCTION;
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (strcasecmp(value, other[i]) == 0)
			return MODMIG_ENVIRONMENT_OTHER;
	return MODMIG_ENVIRONMENT_UNKNOWN;
}

static bool in_production(modmig_db *db, const modmig_startup_options *opts)
{
	const char *env = getenv("MODMIG_ENV");
	modmig_environment kind = modmig_environment_of(env);

	if (kind == MODMIG_ENVIRONMENT_UNKNOWN)
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_WARN, NULL, MODMIG_UP, 0, NULL,
		        "MODMIG_ENV=%.64s is not an environment modmig knows, so this is not "
		        "production; use production or prod for production",
		        env);
	return opts->production || kind == MODMIG_ENVIRONMENT_PRODUCTION;
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
	/* MODMIG_LOCK=table: replicas that reach the database through a transaction pooler */
	if (getenv("MODMIG_LOCK") && strcmp(getenv("MODMIG_LOCK"), "table") == 0)
		modmig_db_set_lock_mode(db, MODMIG_LOCK_TABLE);
	if (opts->policy == MODMIG_POLICY_VERIFY) {
		rc = verify(db, src, err);
		goto cleanup;
	}
	/* the production rule is up's own, the same as the CLI's */
	modmig_up_options_init(&up);
	up.production = in_production(db, opts);
	up.allow_unreviewed = opts->allow_unreviewed;
	up.plan_file = opts->plan_file;
	rc = modmig_up(db, src, &up, out, err);
cleanup:
	modmig_db_free(db);
	modmig_source_free(src);
	return rc;
}
