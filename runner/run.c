/*
 * run.c - the online commands up, down and redo: read state, take the lock,
 * plan, parse what will run, then run it one migration at a time.
 */
#include "planfile.h"

#include <stdlib.h>
#include <string.h>

struct modmig_result {
	modmig_result_row *rows;
	size_t count;
	size_t cap;
	int64_t version; /* highest applied version afterwards, -1 when unknown */
};

void modmig_up_options_init(modmig_up_options *opts)
{
	if (opts)
		memset(opts, 0, sizeof(*opts));
}

void modmig_down_options_init(modmig_down_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->to = -1;
}

/* ---- results ------------------------------------------------------------ */

modmig_status mm_run_result_new(modmig_result **out, modmig_error **err)
{
	if (!out || *out)
		return MODMIG_OK;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	(*out)->version = -1;
	return MODMIG_OK;
}

/* The direction of the last row for version, or -1 when the result has none. */
static int last_direction(const modmig_result *r, int64_t version)
{
	size_t i;

	for (i = r->count; i-- > 0;)
		if (r->rows[i].version == version)
			return (int)r->rows[i].direction;
	return -1;
}

/*
 * The highest version applied once the command is over, from the state it
 * read plus what it did: callers such as `up` with nothing to do can report
 * it without another round trip.
 */
void mm_run_result_finish(modmig_result *r, const mm_session *s)
{
	int64_t best = 0;
	size_t i;

	if (!r || !s->state_read)
		return;
	for (i = s->state.applied_count; i-- > 0;) {
		int64_t v = s->state.applied[i].version;

		if (last_direction(r, v) != MODMIG_DOWN) {
			best = v;
			break;
		}
	}
	for (i = 0; i < r->count; i++)
		if (r->rows[i].version > best && last_direction(r, r->rows[i].version) == MODMIG_UP)
			best = r->rows[i].version;
	r->version = best;
}

int64_t modmig_result_version(const modmig_result *result)
{
	return result ? result->version : -1;
}

modmig_status mm_result_add(modmig_result **res, const modmig_migration *m, modmig_direction dir,
                            double duration_ms)
{
	modmig_result *r;
	modmig_result_row *row;

	if (!res || !*res)
		return MODMIG_OK;
	r = *res;
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		modmig_result_row *rows = realloc(r->rows, cap * sizeof(*rows));

		if (!rows)
			return MODMIG_E_NOMEM;
		r->rows = rows;
		r->cap = cap;
	}
	row = &r->rows[r->count++];
	memset(row, 0, sizeof(*row));
	row->version = m->version;
	row->module = m->module ? mm_strdup(m->module->name) : NULL;
	row->file = mm_strdup(m->file);
	row->direction = dir;
	row->duration_ms = duration_ms;
	return MODMIG_OK;
}

size_t modmig_result_count(const modmig_result *result)
{
	return result ? result->count : 0;
}

const modmig_result_row *modmig_result_row_at(const modmig_result *result, size_t index)
{
	return result && index < result->count ? &result->rows[index] : NULL;
}

void modmig_result_free(modmig_result *result)
{
	size_t i;

	if (!result)
		return;
	for (i = 0; i < result->count; i++) {
		free((char *)result->rows[i].module);
		free((char *)result->rows[i].file);
	}
	free(result->rows);
	free(result);
}

/* ---- shared steps ------------------------------------------------------- */

modmig_status mm_run_find_module(const modmig_source *src, const char *name,
                                 const modmig_module **out, modmig_error **err)
{
	*out = NULL;
	if (!name)
		return MODMIG_OK;
	if (modmig_source_is_dir(src)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "--module needs a manifest; a --dir source has no modules");
		mm_hint(err, "drop --module, or use -m with a manifest");
		return MODMIG_E_USAGE;
	}
	*out = modmig_source_find_module(src, name);
	if (!*out) {
		mm_fail(err, MODMIG_E_NOT_FOUND, modmig_source_origin(src), 0, 0,
		        "unknown module %s", name);
		mm_hint(err, "use a module name from %s", modmig_source_origin(src));
		return MODMIG_E_NOT_FOUND;
	}
	return MODMIG_OK;
}

/* Parse everything that will run before anything runs: a bad file changes nothing. */
modmig_status mm_run_parse_plan(const mm_plan *plan, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;

	for (i = 0; i < plan->count && rc == MODMIG_OK; i++)
		rc = mm_migration_parse((modmig_migration *)plan->steps[i].migration, err);
	return rc;
}

static void dry_run(mm_session *s, const mm_plan *plan, modmig_direction dir)
{
	size_t i, u;

	for (i = 0; i < plan->count; i++) {
		const modmig_migration *m = plan->steps[i].migration;
		const mm_section *sec = dir == MODMIG_UP ? &m->parsed.up : &m->parsed.down;

		for (u = 0; u < sec->count; u++)
			mm_emit(s->db, MODMIG_EVENT_DRY_RUN, MODMIG_LOG_INFO, m, dir, 0,
			        sec->units[u].sql, "would %s %s unit %zu of %zu (line %d)",
			        dir == MODMIG_UP ? "apply" : "roll back", m->file, u + 1,
			        sec->count, sec->units[u].line);
		if (sec->count == 0)
			mm_emit(s->db, MODMIG_EVENT_DRY_RUN, MODMIG_LOG_INFO, m, dir, 0, "",
			        "would %s %s (no statements)",
			        dir == MODMIG_UP ? "apply" : "roll back", m->file);
	}
}

/* ---- up ----------------------------------------------------------------- */

static modmig_status check_up_options(const modmig_up_options *opts, modmig_error **err)
{
	if (opts->plan_file && (opts->to || opts->by_one || opts->module || opts->strict ||
	                        opts->resume || opts->restart)) {
		mm_fail(err, MODMIG_E_USAGE, opts->plan_file, 0, 0,
		        "--plan cannot be combined with --to, --by-one, --module, --strict, "
		        "--resume or --restart: the plan file fixes what runs");
		mm_hint(err, "drop those options, or write a new plan with them: modmig plan -o "
		             "FILE [options]");
		return MODMIG_E_USAGE;
	}
	if (opts->resume && opts->restart) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "--resume and --restart exclude each other");
		mm_hint(err, "pick one: --resume continues at the failed unit, --restart runs "
		             "the migration again from unit 1");
		return MODMIG_E_USAGE;
	}
	return MODMIG_OK;
}

/* A failed NO TRANSACTION migration blocks up until told how to go on. */
modmig_status mm_run_check_failed(const mm_plan *plan, const modmig_up_options *opts,
                                  modmig_error **err)
{
	size_t i;
	bool any = false;

	for (i = 0; i < plan->count; i++) {
		const mm_step *st = &plan->steps[i];
		int done = st->failed_unit > 0 ? st->failed_unit - 1 : 0;
		size_t units = st->migration->parsed_ok ? st->migration->parsed.up.count : 0;
		char took[64], of[32] = "";

		if (!st->failed)
			continue;
		any = true;
		if (opts->resume || opts->restart)
			continue;
		if (units)
			snprintf(of, sizeof(of), " of %zu", units);
		if (done == 0)
			snprintf(took, sizeof(took), "no unit took effect");
		else if (done == 1)
			snprintf(took, sizeof(took), "unit 1 took effect");
		else
			snprintf(took, sizeof(took), "units 1-%d took effect", done);
		mm_fail(err, MODMIG_E_INCOMPLETE, st->migration->file, 0, 0,
		        "NO TRANSACTION migration %lld failed part-way and is not applied: %s, "
		        "unit %d%s failed",
		        (long long)st->version, took, st->failed_unit, of);
		mm_hint(err,
		        "fix the cause, then run 'modmig up --resume' to continue at unit %d, or "
		        "'modmig up --restart' to run it again from unit 1",
		        st->failed_unit > 0 ? st->failed_unit : 1);
		mm_error_set_migration(err, st->version,
		                       st->migration->module ? st->migration->module->name : NULL);
		return MODMIG_E_INCOMPLETE;
	}
	if (!any && (opts->resume || opts->restart)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "nothing to %s: no NO TRANSACTION migration has failed",
		        opts->resume ? "resume" : "restart");
		mm_hint(err, "run up without --resume or --restart");
		return MODMIG_E_USAGE;
	}
	return MODMIG_OK;
}

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

	if (opts->plan_file || opts->resume || opts->restart || !s->state.has_version_table ||
	    !s->state.has_history || !s->state.has_registry)
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

modmig_status modmig_up(modmig_db *db, const modmig_source *src, const modmig_up_options *opts,
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
	int mode;

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
	if ((rc = mm_run_result_new(out, err)) != MODMIG_OK ||
	    (rc = check_up_options(opts, err)) != MODMIG_OK ||
	    (rc = plan_options(opts, &pf, &use, err)) != MODMIG_OK ||
	    (rc = mm_run_find_module(src, use.module, &module, err)) != MODMIG_OK)
		goto cleanup;
	mode = use.resume ? MM_RESUME : use.restart ? MM_RESTART : MM_FRESH;
	rc = mm_session_open(&s, db, src, err);
	if (rc != MODMIG_OK || nothing_to_do(&s, &use, module))
		goto cleanup;
	/* nothing is created before the plan is known good: exit 2 changes nothing */
	rc = mm_session_lock(&s, true, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_up(src->migrations, src->migration_count, &s.state, &use, module, &plan, err);
	if (rc == MODMIG_OK && planned)
		rc = mm_planfile_check(&pf, &s, &plan, &done, err);
	if (rc != MODMIG_OK || done)
		goto cleanup;
	if ((rc = mm_run_parse_plan(&plan, err)) != MODMIG_OK ||
	    (rc = mm_run_check_failed(&plan, &use, err)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < plan.count; i++)
		if (plan.steps[i].out_of_order)
			mm_emit(db, MODMIG_EVENT_OUT_OF_ORDER, MODMIG_LOG_WARN,
			        plan.steps[i].migration, MODMIG_UP, 0, NULL,
			        "%s is out of order: a higher version of its module is already "
			        "applied",
			        plan.steps[i].migration->file);
	if (use.dry_run) {
		dry_run(&s, &plan, MODMIG_UP);
		goto cleanup;
	}
	/*
	 * The state tables, created once the plan is checked and its files parsed:
	 * a bad file or a plan that does not match leaves even a fresh database
	 * untouched.
	 */
	if ((rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < plan.count && rc == MODMIG_OK; i++)
		rc = mm_apply_one(&s, &plan.steps[i], MODMIG_UP, use.lock_timeout,
		                  use.statement_timeout, mode, out, err);
cleanup:
	if (done)
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "the plan %s was applied already; nothing to do", pf.path);
	mm_planfile_clear(&pf);
	mm_plan_clear(&plan);
	if (out)
		mm_run_result_finish(*out, &s);
	mm_session_close(&s);
	return rc;
}

/* ---- down and redo ------------------------------------------------------ */

modmig_status modmig_down(modmig_db *db, const modmig_source *src, const modmig_down_options *opts,
                          modmig_result **out, modmig_error **err)
{
	modmig_status rc;
	modmig_down_options defaults;
	const modmig_module *module = NULL;
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
	if ((rc = mm_run_result_new(out, err)) != MODMIG_OK ||
	    (rc = mm_run_find_module(src, opts->module, &module, err)) != MODMIG_OK ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, opts->dry_run, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_down(src->migrations, src->migration_count, &s.state, opts, module, &plan,
	                  err);
	if (rc != MODMIG_OK || (rc = mm_run_parse_plan(&plan, err)) != MODMIG_OK)
		goto cleanup;
	if (opts->dry_run) {
		dry_run(&s, &plan, MODMIG_DOWN);
		goto cleanup;
	}
	for (i = 0; i < plan.count && rc == MODMIG_OK; i++)
		rc = mm_apply_one(&s, &plan.steps[i], MODMIG_DOWN, opts->lock_timeout,
		                  opts->statement_timeout, MM_FRESH, out, err);
cleanup:
	mm_plan_clear(&plan);
	if (out)
		mm_run_result_finish(*out, &s);
	mm_session_close(&s);
	return rc;
}

modmig_status modmig_redo(modmig_db *db, const modmig_source *src, modmig_result **out,
                          modmig_error **err)
{
	modmig_status rc;
	modmig_down_options opts;
	mm_session s;
	mm_plan plan;
	mm_step again;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	modmig_down_options_init(&opts);
	if (out)
		*out = NULL;
	if ((rc = mm_run_result_new(out, err)) != MODMIG_OK ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, false, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_down(src->migrations, src->migration_count, &s.state, &opts, NULL, &plan, err);
	if (rc != MODMIG_OK || (rc = mm_run_parse_plan(&plan, err)) != MODMIG_OK)
		goto cleanup;
	if (plan.count == 0) {
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "nothing to redo: no migration is applied");
		goto cleanup;
	}
	rc = mm_apply_one(&s, &plan.steps[0], MODMIG_DOWN, NULL, NULL, MM_FRESH, out, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	again = plan.steps[0];
	again.failed = false;
	rc = mm_apply_one(&s, &again, MODMIG_UP, NULL, NULL, MM_FRESH, out, err);
cleanup:
	mm_plan_clear(&plan);
	if (out)
		mm_run_result_finish(*out, &s);
	mm_session_close(&s);
	return rc;
}
