/*
 * plan.c - the planner. Pure functions of the source's migrations (ascending
 * version) and the state read from the database, so every rule of DESIGN §4
 * can be tested without a server.
 */
#include "run/run.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

/*
 * Not applied, and the last word was a NO TRANSACTION failure, interruption
 * or unit progress, or a resume or restart that never finished (the process
 * died): some units may have taken effect, so a plain up must not run it
 * from the top unasked. A transactional migration that failed or was
 * interrupted leaves failed_atomic or interrupted, which are not part-way:
 * nothing of it remains, and it is simply not applied.
 */
static bool is_failed(const mm_event_row *e)
{
	return e && (modmig_history_event_flags(e->kind) & MODMIG_HISTORY_F_PARTWAY);
}

/* The first unit not known to be done, from the latest part-way event. */
static int next_unit(const mm_event_row *e)
{
	int unit = e->failed_unit > 0 ? e->failed_unit : 1;

	if (e->failed_unit > 0 &&
	    (modmig_history_event_flags(e->kind) & MODMIG_HISTORY_F_UNIT_DONE))
		unit++;
	return unit;
}

static const modmig_migration *find_migration(const modmig_migration *migs, size_t count,
                                              int64_t version)
{
	return MM_FIND(migs, count, version, version);
}

static bool in_module(const modmig_module *module, int64_t version)
{
	return !module || (version >= module->first_version && version <= module->last_version);
}

modmig_status mm_classify(const modmig_migration *migs, size_t count, const mm_state *st,
                          mm_row **out, size_t *out_count, modmig_error **err)
{
	size_t i = 0, j = 0, n = 0;
	int64_t max = mm_state_max_applied(st);
	mm_row *rows;

	*out = NULL;
	*out_count = 0;
	rows = calloc(count + st->applied_count + 1, sizeof(*rows));
	if (!rows)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	while (i < count || j < st->applied_count) {
		mm_row *r = &rows[n++];

		if (j >= st->applied_count ||
		    (i < count && migs[i].version < st->applied[j].version)) {
			r->version = migs[i].version;
			r->migration = &migs[i++];
			r->event = mm_state_find_event(st, r->version);
			if (is_failed(r->event))
				r->state = MODMIG_STATE_FAILED;
			else
				r->state = r->version < max ? MODMIG_STATE_MISSING
				                            : MODMIG_STATE_PENDING;
		} else {
			r->version = st->applied[j].version;
			r->applied = &st->applied[j++];
			r->event = mm_state_find_event(st, r->version);
			r->state = MODMIG_STATE_NO_FILE;
			if (i < count && migs[i].version == r->version) {
				r->migration = &migs[i++];
				r->state = MODMIG_STATE_APPLIED;
			}
		}
	}
	*out = rows;
	*out_count = n;
	return MODMIG_OK;
}

static modmig_status push(mm_plan *p, size_t cap, const modmig_migration *m, int64_t version,
                          modmig_error **err)
{
	if (!p->steps) {
		p->steps = calloc(cap ? cap : 1, sizeof(*p->steps));
		if (!p->steps)
			return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	}
	p->steps[p->count].migration = m;
	p->steps[p->count].version = version;
	p->count++;
	return MODMIG_OK;
}

/*
 * A target version must name a migration: a file, or an applied version
 * (DESIGN §4). A typo such as 402 for 4002 would otherwise roll back almost
 * everything, or stop up anywhere. With a module, it must lie in its range.
 */
static modmig_status check_target(const modmig_migration *migs, size_t count, const mm_state *st,
                                  int64_t to, const modmig_module *module, modmig_error **err)
{
	int64_t below = 0, above = 0;
	char nearest[96];
	size_t i;

	if (module && (to < module->first_version || to > module->last_version)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "version %lld is outside module %s's range %lld..%lld", (long long)to,
		        module->name, (long long)module->first_version,
		        (long long)module->last_version);
		mm_next(err, MODMIG_NEXT_LIST, 0, "pick one of module %s's versions", module->name);
		mm_error_set_migration(err, 0, module->name);
		return MODMIG_E_USAGE;
	}
	if (find_migration(migs, count, to) || mm_state_find_applied(st, to))
		return MODMIG_OK;
	for (i = 0; i < count; i++) {
		if (migs[i].version < to)
			below = migs[i].version;
		else if (!above)
			above = migs[i].version;
	}
	mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
	        "version %lld matches no migration: no file has it and it is not applied",
	        (long long)to);
	if (below && above)
		snprintf(nearest, sizeof(nearest), "the nearest are %lld and %lld",
		         (long long)below, (long long)above);
	else if (below || above)
		snprintf(nearest, sizeof(nearest), "the nearest is %lld",
		         (long long)(below ? below : above));
	else
		snprintf(nearest, sizeof(nearest), "there are no migrations");
	mm_next(err, MODMIG_NEXT_LIST, 0, "pick a version of a migration; %s", nearest);
	mm_next_reason(err, "%s", nearest);
	return MODMIG_E_NOT_FOUND;
}

modmig_status mm_plan_up(const modmig_migration *migs, size_t count, const mm_state *st,
                         const modmig_up_options *opts, const modmig_module *module, mm_plan *out,
                         modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	int64_t max = mm_state_max_applied(st);
	size_t i, pass;

	memset(out, 0, sizeof(*out));
	if (opts && opts->to > 0 &&
	    (rc = check_target(migs, count, st, opts->to, module, err)) != MODMIG_OK)
		return rc;
	/* Pass 0 takes the missing versions (below the highest applied), pass 1 the new. */
	for (pass = 0; pass < 2 && rc == MODMIG_OK; pass++) {
		for (i = 0; i < count && rc == MODMIG_OK; i++) {
			const modmig_migration *m = &migs[i];
			const mm_event_row *e;
			mm_step *s;
			int64_t limit, above;

			if ((m->version < max) != (pass == 0))
				continue;
			/* --module M takes what M depends on too: theirs run first (lower versions)
			 */
			if (mm_state_find_applied(st, m->version) ||
			    !(in_module(module, m->version) || mm_module_needs(module, m->module)))
				continue;
			if (opts && opts->to > 0 && m->version > opts->to)
				continue;
			rc = push(out, count, m, m->version, err);
			if (rc != MODMIG_OK)
				break;
			s = &out->steps[out->count - 1];
			e = mm_state_find_event(st, m->version);
			if (is_failed(e)) {
				s->failed = true;
				s->failed_unit = next_unit(e);
				s->unit_unknown = (modmig_history_event_flags(e->kind) &
				                   MODMIG_HISTORY_F_UNIT_RUNNING) != 0;
				s->event = e;
			}
			limit = m->module ? m->module->last_version : INT64_MAX;
			above = mm_state_max_applied_upto(st, limit);
			s->out_of_order = above > m->version;
			if (s->out_of_order && opts && opts->strict) {
				rc = mm_fail(err, MODMIG_E_OUT_OF_ORDER, m->file, 0, 0,
				             "migration %lld%s%s arrived after %lld of the same "
				             "module was applied",
				             (long long)m->version, m->module ? " of module " : "",
				             m->module ? m->module->name : "", (long long)above);
				mm_next(err, MODMIG_NEXT_RENUMBER, 0,
				        "give it a version above %lld, or run up without strict to "
				        "apply it out of order",
				        (long long)above);
				if (err && *err)
					(*err)->next_version = above;
				mm_error_set_migration(err, m->version,
				                       m->module ? m->module->name : NULL);
			}
		}
	}
	if (rc == MODMIG_OK && opts && opts->by_one && out->count > 1)
		out->count = 1;
	if (rc != MODMIG_OK)
		mm_plan_clear(out);
	return rc;
}

static int by_apply_order_desc(const void *a, const void *b)
{
	const mm_applied *x = *(const mm_applied *const *)a, *y = *(const mm_applied *const *)b;

	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/*
 * down --module M may not pull a migration from under a module that depends
 * on M: refused while a dependent module has a migration applied after it
 * (order[0..i) are the applied rows after order[i], newest first).
 */
static modmig_status check_dependents(const modmig_migration *migs, size_t count,
                                      const mm_applied **order, size_t i,
                                      const modmig_module *module, modmig_error **err)
{
	size_t j;

	for (j = 0; j < i; j++) {
		const modmig_migration *later = find_migration(migs, count, order[j]->version);

		if (!later || !later->module || later->module == module ||
		    !mm_module_needs(later->module, module))
			continue;
		mm_fail(err, MODMIG_E_REFUSED, NULL, 0, 0,
		        "cannot roll back %lld of module %s: module %s depends on it and has %lld "
		        "applied after it",
		        (long long)order[i]->version, module->name, later->module->name,
		        (long long)later->version);
		mm_hint(err,
		        "roll back module %s's migrations first, or roll back by apply order "
		        "without a module",
		        later->module->name);
		mm_error_set_migration(err, order[i]->version, module->name);
		return MODMIG_E_REFUSED;
	}
	return MODMIG_OK;
}

modmig_status mm_plan_down(const modmig_migration *migs, size_t count, const mm_state *st,
                           const modmig_down_options *opts, const modmig_module *module,
                           mm_plan *out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_applied **order = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (opts && !opts->all && opts->to > 0 &&
	    (rc = check_target(migs, count, st, opts->to, module, err)) != MODMIG_OK)
		return rc;
	if (st->applied_count == 0)
		return MODMIG_OK;
	order = calloc(st->applied_count, sizeof(*order));
	if (!order)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (i = 0; i < st->applied_count; i++)
		order[i] = &st->applied[i];
	qsort(order, st->applied_count, sizeof(*order), by_apply_order_desc);
	for (i = 0; i < st->applied_count && rc == MODMIG_OK; i++) {
		const mm_applied *a = order[i];
		const modmig_migration *m;

		if (!in_module(module, a->version))
			continue;
		if (opts && !opts->all && opts->to >= 0 && a->version <= opts->to)
			continue;
		m = find_migration(migs, count, a->version);
		if (!m) {
			rc = mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
			             "cannot roll back version %lld: no migration file has that "
			             "version",
			             (long long)a->version);
			mm_hint(err, "restore the file so its Down section can run; nothing was "
			             "rolled back");
			mm_error_set_migration(err, a->version, module ? module->name : NULL);
			break;
		}
		if (module &&
		    (rc = check_dependents(migs, count, order, i, module, err)) != MODMIG_OK)
			break;
		rc = push(out, st->applied_count, m, a->version, err);
		if (!opts || (!opts->all && opts->to < 0))
			break;
	}
	free(order);
	if (rc != MODMIG_OK)
		mm_plan_clear(out);
	return rc;
}

void mm_plan_clear(mm_plan *p)
{
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

/* ---- the module registry ------------------------------------------------ */

static const mm_registered *registered_named(const mm_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->module_count; i++)
		if (st->modules[i].name && strcmp(st->modules[i].name, name) == 0)
			return &st->modules[i];
	return NULL;
}

static const mm_registered *registered_at(const mm_state *st, int position)
{
	size_t i;

	for (i = 0; i < st->module_count; i++)
		if (st->modules[i].position == position)
			return &st->modules[i];
	return NULL;
}

static modmig_status refuse(modmig_error **err)
{
	mm_hint(err, "append new modules at the end of the manifest; a module's position "
	             "and name are fixed once registered");
	return MODMIG_E_REGISTRY;
}

modmig_status mm_registry_check(const modmig_source *src, const mm_state *st, size_t *first_new,
                                modmig_error **err)
{
	size_t count = src->manifest.module_count, i, j;
	const char *origin = src->origin ? src->origin : "the manifest";
	int highest = 0;

	for (i = 0; i < st->module_count; i++)
		if (st->modules[i].position > highest)
			highest = st->modules[i].position;
	/* A moved module first: that message names the module and both positions. */
	for (i = 0; i < count; i++) {
		const char *name = src->manifest.modules[i].name;
		const mm_registered *r = registered_named(st, name);
		int pos = (int)i + 1;

		if (r && r->position != pos) {
			mm_fail(err, MODMIG_E_REGISTRY, origin, 0, 0,
			        "module %s is at position %d in %s but was registered at position "
			        "%d",
			        name, pos, origin, r->position);
			return refuse(err);
		}
	}
	for (i = 0; i < count; i++) {
		const char *name = src->manifest.modules[i].name;
		const mm_registered *r = registered_named(st, name), *there;
		int pos = (int)i + 1;

		there = r ? NULL : registered_at(st, pos);
		if (there) {
			mm_fail(err, MODMIG_E_REGISTRY, origin, 0, 0,
			        "module %s is at position %d in %s but position %d was registered "
			        "for module %s",
			        name, pos, origin, pos, there->name);
			return refuse(err);
		}
		if (!r && pos < highest) {
			mm_fail(err, MODMIG_E_REGISTRY, origin, 0, 0,
			        "module %s is at position %d in %s, before modules that were "
			        "registered already",
			        name, pos, origin);
			return refuse(err);
		}
	}
	for (i = 0; i < st->module_count; i++) {
		const mm_registered *r = &st->modules[i];

		for (j = 0; j < count; j++)
			if (strcmp(src->manifest.modules[j].name, r->name ? r->name : "") == 0)
				break;
		if (j == count) {
			mm_fail(err, MODMIG_E_REGISTRY, origin, 0, 0,
			        "module %s was registered at position %d but is not in %s", r->name,
			        r->position, origin);
			mm_hint(err, "keep every registered module in the manifest at its "
			             "position; its versions are recorded in the database");
			return MODMIG_E_REGISTRY;
		}
	}
	*first_new = (size_t)highest < count ? (size_t)highest : count;
	return MODMIG_OK;
}

/*
 * Parse everything that will run before anything runs: a bad file changes
 * nothing. The plan's steps point into src's migrations; the writable
 * migration is reached through src itself, which the caller may change.
 */
modmig_status mm_plan_parse_all(modmig_source *src, const mm_plan *plan, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;

	for (i = 0; i < plan->count && rc == MODMIG_OK; i++)
		rc = mm_migration_parse(
		        &src->migrations[plan->steps[i].migration - src->migrations], err);
	return rc;
}

/*
 * Read, hash and parse the files a run needs before it takes the lock, so
 * that a slow or bad file keeps no other migrator waiting and is refused
 * before anything is locked. The plan made from the state read without the
 * lock is nearly always the one made under it; a planning error here is left
 * for the locked plan to report, and whatever that plan adds is still parsed
 * there (mm_plan_parse_all), so nothing is ever skipped.
 */
modmig_status mm_plan_prefetch(modmig_source *src, const mm_state *st, const modmig_up_options *up,
                               const modmig_down_options *down, const modmig_module *module,
                               modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	mm_plan plan;

	memset(&plan, 0, sizeof(plan));
	/* a reviewed plan is checked against the checksum of every file */
	if (up && up->plan_file && (rc = mm_source_load(src, err)) != MODMIG_OK)
		goto cleanup;
	if (up ? mm_plan_up(src->migrations, src->migration_count, st, up, module, &plan, NULL)
	       : mm_plan_down(src->migrations, src->migration_count, st, down, module, &plan, NULL))
		goto cleanup;
	rc = mm_plan_parse_all(src, &plan, err);
cleanup:
	mm_plan_clear(&plan);
	return rc;
}

/* "units 1-2 took effect" for done (0..) units. */
static void took_effect(char *buf, size_t size, int done)
{
	if (done <= 0)
		snprintf(buf, size, "no unit took effect");
	else if (done == 1)
		snprintf(buf, size, "unit 1 took effect");
	else
		snprintf(buf, size, "units 1-%d took effect", done);
}

/*
 * Where a part-way migration stands, as the refusals say it: "units 1-2
 * took effect, unit 3 of 3 failed". units is 0 when the file is not parsed.
 */
static void where_it_stands(char *buf, size_t size, const mm_step *st, size_t units)
{
	char took[64], of[32] = "";
	int unit = st->failed_unit;

	if (units)
		snprintf(of, sizeof(of), " of %zu", units);
	took_effect(took, sizeof(took), unit - 1);
	if (units && (size_t)unit > units)
		snprintf(buf, size, "all %zu units took effect, but it was not recorded as applied",
		         units);
	else if (st->unit_unknown)
		snprintf(buf, size,
		         "%s; unit %d%s was running when the run ended and may have taken effect",
		         took, unit, of);
	else if (st->event && st->event->kind == MODMIG_HISTORY_FAILED)
		snprintf(buf, size, "%s, unit %d%s failed", took, unit, of);
	else
		snprintf(buf, size, "%s, unit %d%s did not take effect", took, unit, of);
}

/* A failed NO TRANSACTION migration blocks up until told how to go on. */
modmig_status mm_plan_check_failed(const mm_plan *plan, const modmig_up_options *opts,
                                   modmig_error **err)
{
	size_t i;
	bool any = false;

	for (i = 0; i < plan->count; i++) {
		const mm_step *st = &plan->steps[i];
		size_t units = st->migration->parsed_ok ? st->migration->parsed.up.count : 0;
		char where[192];

		if (!st->failed)
			continue;
		any = true;
		if (opts->resume != MODMIG_RESUME_NONE)
			continue;
		where_it_stands(where, sizeof(where), st, units);
		mm_fail(err, MODMIG_E_INCOMPLETE, st->migration->file, 0, 0,
		        "NO TRANSACTION migration %lld %s part-way and is not applied: %s",
		        (long long)st->version,
		        st->event && st->event->kind == MODMIG_HISTORY_FAILED ? "failed"
		                                                              : "stopped",
		        where);
		if (units && (size_t)st->failed_unit > units) {
			mm_next(err, MODMIG_NEXT_RESUME, st->failed_unit,
			        "run up with resume mode continue to record it as applied, or "
			        "restart to run it again from unit 1");
			mm_next_reason(err, "%s", where);
		} else if (st->unit_unknown) {
			mm_next(err, MODMIG_NEXT_CHECK_UNIT, st->failed_unit,
			        "check whether unit %d took effect and make sure it can run again; "
			        "then run up with resume mode continue to run it again and "
			        "continue, or restart to run the migration again from unit 1",
			        st->failed_unit);
			mm_next_reason(err, "%s", where);
		} else {
			mm_next(err, MODMIG_NEXT_RESUME, st->failed_unit,
			        "fix the cause, then run up with resume mode continue to continue "
			        "at unit %d, or restart to run it again from unit 1",
			        st->failed_unit);
		}
		mm_error_set_migration(err, st->version,
		                       st->migration->module ? st->migration->module->name : NULL);
		return MODMIG_E_INCOMPLETE;
	}
	if (!any && opts->resume != MODMIG_RESUME_NONE) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "nothing to %s: no NO TRANSACTION migration has failed",
		        opts->resume == MODMIG_RESUME_CONTINUE ? "resume" : "restart");
		mm_next(err, MODMIG_NEXT_RUN_UP, 0, "run up without a resume mode");
		return MODMIG_E_USAGE;
	}
	return MODMIG_OK;
}

/*
 * The one check of up's options against each other, for services and the
 * CLI alike (the CLI calls it before it opens anything, so a usage error
 * still comes first).
 */
modmig_status modmig_up_options_check(const modmig_up_options *opts, modmig_error **err)
{
	if (!opts)
		return MODMIG_OK;
	if ((unsigned)opts->resume > MODMIG_RESUME_RESTART)
		return mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "unknown resume mode %d",
		               (int)opts->resume);
	if (opts->plan_file && (opts->to || opts->by_one || opts->module || opts->strict ||
	                        opts->resume != MODMIG_RESUME_NONE)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "a plan cannot be combined with a target version, by-one, a module, "
		        "strict, resume or restart: the plan fixes what runs");
		mm_next(err, MODMIG_NEXT_WRITE_PLAN, 0,
		        "leave those options out, or write a new plan with them");
		return MODMIG_E_USAGE;
	}
	return MODMIG_OK;
}

modmig_status mm_plan_check_partway(const modmig_source *src, const mm_state *st, const char *what,
                                    modmig_error **err)
{
	size_t i;

	for (i = 0; i < st->event_count; i++) {
		const mm_event_row *e = &st->events[i];
		const modmig_migration *m;
		mm_step step;
		char where[192];

		if (!is_failed(e) || mm_state_find_applied(st, e->version))
			continue;
		m = find_migration(src->migrations, src->migration_count, e->version);
		memset(&step, 0, sizeof(step));
		step.failed_unit = next_unit(e);
		step.unit_unknown =
		        (modmig_history_event_flags(e->kind) & MODMIG_HISTORY_F_UNIT_RUNNING) != 0;
		step.event = e;
		where_it_stands(where, sizeof(where), &step,
		                m && m->parsed_ok ? m->parsed.up.count : 0);
		mm_fail(err, MODMIG_E_REFUSED, m ? m->file : NULL, 0, 0,
		        "cannot %s while NO TRANSACTION migration %lld stands part-way: %s", what,
		        (long long)e->version, where);
		mm_next(err, MODMIG_NEXT_FINISH_PARTWAY, step.failed_unit,
		        "finish it first with up in a resume mode; nothing was changed");
		mm_error_set_migration(err, e->version, m && m->module ? m->module->name : NULL);
		return MODMIG_E_REFUSED;
	}
	return MODMIG_OK;
}

modmig_status mm_plan_check_down(const mm_plan *plan, bool mark_only, const char *what,
                                 modmig_error **err)
{
	size_t i;

	for (i = 0; i < plan->count && !mark_only; i++) {
		const modmig_migration *m = plan->steps[i].migration;

		if (m->parsed.has_down)
			continue;
		mm_fail(err, MODMIG_E_REFUSED, m->file, 0, 0,
		        "cannot %s migration %lld: its file has no Down section, so its effects "
		        "would stay while its record goes",
		        what, (long long)m->version);
		mm_next(err, MODMIG_NEXT_MARK_ONLY, 0,
		        "add a Down section to the file, or undo its effects by hand and drop only "
		        "the record with down's mark_only; nothing was changed");
		mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
		return MODMIG_E_REFUSED;
	}
	return MODMIG_OK;
}
