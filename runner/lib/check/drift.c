/*
 * drift.c - does the live schema match what its applied migrations produce?
 * The applied versions are replayed on a shadow database in the order the
 * version table says they were applied there (allow-missing makes that order
 * differ from version order, and the order can matter), then both schemas
 * are snapshotted with the same options and compared: a is the database, b
 * the migrations.
 */
#include "run/run.h"
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

static int by_apply_order(const void *a, const void *b)
{
	const mm_applied *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The live database's applied versions, in the order they were applied. */
static modmig_status applied_order(modmig_db *db, const modmig_source *src, int64_t **out,
                                   size_t *count, modmig_error **err)
{
	modmig_status rc;
	mm_names names;
	mm_state st;
	mm_applied *sorted = NULL;

	memset(&st, 0, sizeof(st));
	*out = NULL;
	*count = 0;
	if ((rc = mm_names_init(db, modmig_source_version_table(src), &names, err)) != MODMIG_OK)
		return rc;
	if ((rc = mm_state_read(db, &names, &st, err)) != MODMIG_OK)
		goto cleanup;
	sorted = malloc((st.applied_count ? st.applied_count : 1) * sizeof(*sorted));
	*out = malloc((st.applied_count ? st.applied_count : 1) * sizeof(**out));
	if (!sorted || !*out) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if (st.applied_count)
		memcpy(sorted, st.applied, st.applied_count * sizeof(*sorted));
	qsort(sorted, st.applied_count, sizeof(*sorted), by_apply_order);
	for (size_t i = 0; i < st.applied_count; i++)
		(*out)[i] = sorted[i].version;
	*count = st.applied_count;
cleanup:
	if (rc != MODMIG_OK) {
		free(*out);
		*out = NULL;
	}
	free(sorted);
	mm_state_clear(&st);
	mm_names_clear(&names);
	return rc;
}

modmig_status modmig_drift(modmig_db *db, modmig_source *src, modmig_shadow *shadow,
                           const modmig_schema_options *opts, modmig_schema_diff **out,
                           modmig_error **err)
{
	modmig_status rc;
	modmig_schema_options use;
	modmig_schema *live = NULL, *built = NULL;
	int64_t *versions = NULL;
	size_t count = 0;

	*out = NULL;
	if (opts)
		use = *opts;
	else
		modmig_schema_options_init(&use);
	use.version_table = modmig_source_version_table(src);
	if ((rc = applied_order(db, src, &versions, &count, err)) != MODMIG_OK ||
	    (rc = mm_shadow_check(shadow, err)) != MODMIG_OK ||
	    (rc = mm_run_replay(shadow->db, src, versions, count, &shadow->interrupted, err)) !=
	            MODMIG_OK ||
	    (rc = mm_shadow_check(shadow, err)) != MODMIG_OK ||
	    (rc = modmig_schema_read(db, &use, &live, err)) != MODMIG_OK ||
	    (rc = modmig_schema_read(shadow->db, &use, &built, err)) != MODMIG_OK ||
	    (rc = mm_shadow_check(shadow, err)) != MODMIG_OK ||
	    (rc = modmig_schema_diff_new(live, built, out, err)) != MODMIG_OK)
		goto cleanup;
	rc = modmig_schema_diff_count(*out) ? MODMIG_E_CHECK : MODMIG_OK;
cleanup:
	modmig_schema_free(live);
	modmig_schema_free(built);
	free(versions);
	return rc;
}
