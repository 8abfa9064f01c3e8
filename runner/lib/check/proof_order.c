/*
 * proof_order.c - the allow-missing orders of `modmig test`. A database that
 * was migrated before a module's newest migration existed applies it later,
 * after every newer version of the other modules: `up` applies missing
 * migrations first. For each module, that order must reach the schema of
 * version order. When it does not, a bisection over where the newest
 * migration lands finds two adjacent orders, one equal and one different:
 * the migration it was moved past is the one whose order with it matters.
 */
#include "check/proof.h"

#include <stdlib.h>
#include <string.h>

/* Whether module m depends on module on, directly or through others. */
static bool depends_on(const modmig_source *src, const modmig_module *m, const modmig_module *on)
{
	for (size_t i = 0; i < modmig_module_depends_count(m); i++) {
		const modmig_module *d =
		        modmig_source_find_module(src, modmig_module_depends_at(m, i));

		if (d == on || (d && d != m && depends_on(src, d, on)))
			return true;
	}
	return false;
}

/*
 * The migrations the newest one of mod can arrive after: the newer ones of
 * modules that do not depend on mod. A module that depends on mod was
 * written against mod's migrations, so its migrations never come first.
 */
static size_t movable(const mm_proof_ctx *t, const modmig_module *mod, size_t at, size_t *past)
{
	size_t n = 0;

	for (size_t i = at + 1; i < t->count; i++) {
		const modmig_module *o =
		        modmig_migration_module(modmig_source_migration_at(t->src, i));

		if (o != mod && (!o || !depends_on(t->src, o, mod)))
			past[n++] = i;
	}
	return n;
}

/*
 * Build version order with the migration at index `at` moved past the
 * first k of past[] (indexes of newer migrations it may arrive after; the
 * other newer ones stay after it) and compare with t->all: *differs, and *out the differences (or
 * NULL when the build failed: *e then holds the error, which is a finding).
 */
static modmig_status try_order(mm_proof_ctx *t, size_t at, const size_t *past, size_t k,
                               int64_t *order, bool *differs, modmig_schema_diff **out,
                               modmig_error **e)
{
	modmig_status rc;
	modmig_schema *got = NULL;
	size_t j = 0, m = 0;

	*out = NULL;
	*differs = true;
	/* what comes before it, the k it is moved past, it, then the rest in version order */
	for (size_t i = 0; i < at; i++)
		order[j++] = t->versions[i];
	for (size_t i = 0; i < k; i++)
		order[j++] = t->versions[past[i]];
	order[j++] = t->versions[at];
	for (size_t i = at + 1; i < t->count; i++) {
		if (m < k && past[m] == i)
			m++;
		else
			order[j++] = t->versions[i];
	}
	if ((rc = mm_proof_build(t, order, t->count, e)) != MODMIG_OK)
		return mm_proof_is_finding(t, *e) ? MODMIG_OK : rc;
	if ((rc = mm_proof_snapshot(t, &got, e)) == MODMIG_OK &&
	    (rc = modmig_schema_diff_new(t->all, got, out, e)) == MODMIG_OK)
		*differs = modmig_schema_diff_count(*out) > 0;
	modmig_schema_free(got);
	return rc;
}

/* The index of module mod's newest migration, or t->count when it has none. */
static size_t newest_of(const mm_proof_ctx *t, const modmig_module *mod)
{
	size_t found = t->count;

	for (size_t i = 0; i < t->count; i++)
		if (modmig_migration_module(modmig_source_migration_at(t->src, i)) == mod)
			found = i;
	return found;
}

static modmig_status check_module(mm_proof_ctx *t, const modmig_module *mod, int64_t *order,
                                  size_t *past, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_error *e = NULL;
	modmig_schema_diff *d = NULL, *probe = NULL;
	mm_proof_case pc;
	size_t at = newest_of(t, mod), later, lo = 0, hi;
	const modmig_migration *m, *other;
	bool differs;
	char *label = NULL;

	if (at == t->count)
		return MODMIG_OK;
	m = modmig_source_migration_at(t->src, at);
	mm_proof_case_init(&pc, MODMIG_TEST_ALLOW_MISSING, m);
	later = movable(t, mod, at, past);
	if (later == 0) {
		mm_proof_finish(t, &pc, MODMIG_TEST_PASSED,
		                "module %s: no newer migration of a module that does not depend on "
		                "it: one order only",
		                modmig_module_name(mod));
		goto cleanup;
	}
	label = mm_printf("%05lld applied last", (long long)modmig_migration_version(m));
	if (!label) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = try_order(t, at, past, later, order, &differs, &d, &e)) != MODMIG_OK)
		goto cleanup;
	if (!differs) {
		mm_proof_finish(t, &pc, MODMIG_TEST_PASSED,
		                "module %s: applied last, after %zu newer migration%s of modules "
		                "that do not depend on it, it gives the schema of version order",
		                modmig_module_name(mod), later, later == 1 ? "" : "s");
		goto cleanup;
	}
	if (d)
		mm_proof_diff(&pc, d, "version order", label);
	else
		mm_proof_error(&pc, e);
	modmig_error_free(e);
	e = NULL;
	/* bisect: moved past lo newer migrations it is equal, past hi it differs */
	for (hi = later; hi - lo > 1;) {
		size_t mid = lo + (hi - lo) / 2;

		if ((rc = try_order(t, at, past, mid, order, &differs, &probe, &e)) != MODMIG_OK)
			goto cleanup;
		modmig_schema_diff_free(probe);
		probe = NULL;
		modmig_error_free(e);
		e = NULL;
		if (differs)
			hi = mid;
		else
			lo = mid;
	}
	other = modmig_source_migration_at(t->src, past[hi - 1]);
	pc.c.other_version = modmig_migration_version(other);
	mm_proof_finish(t, &pc, MODMIG_TEST_FAILED,
	                "%05lld %s and %05lld %s: the order matters: %05lld after %05lld %s",
	                (long long)modmig_migration_version(m), modmig_migration_name(m),
	                (long long)pc.c.other_version, modmig_migration_name(other),
	                (long long)modmig_migration_version(m), (long long)pc.c.other_version,
	                d ? "gives another schema than version order" : "fails");
cleanup:
	if (rc != MODMIG_OK && e) {
		if (err && !*err)
			*err = e;
		else
			modmig_error_free(e);
		e = NULL;
	}
	mm_proof_discard(&pc);
	modmig_error_free(e);
	modmig_schema_diff_free(d);
	modmig_schema_diff_free(probe);
	free(label);
	return rc;
}

modmig_status mm_proof_allow_missing(mm_proof_ctx *t, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	int64_t *order = malloc((t->count + 1) * sizeof(*order));
	size_t *past = malloc((t->count + 1) * sizeof(*past));

	if (!order || !past)
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (size_t i = 0; i < modmig_source_module_count(t->src) && rc == MODMIG_OK; i++)
		rc = check_module(t, modmig_source_module_at(t->src, i), order, past, err);
	free(order);
	free(past);
	return rc;
}
