/*
 * status.c - status and version: every migration and applied version with
 * its state, from one read of the database. Takes no lock and creates
 * nothing, so a fresh database simply shows everything pending.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

struct modmig_report {
	modmig_report_row *rows;
	char (*applied_at)[24]; /* owned copies behind rows[i].applied_at */
	size_t count;
	int64_t current;
	char *warning; /* the registry's disagreement with the manifest, or NULL */
};

const char *modmig_state_name(modmig_state state)
{
	switch (state) {
	case MODMIG_STATE_APPLIED:
		return "applied";
	case MODMIG_STATE_PENDING:
		return "pending";
	case MODMIG_STATE_MISSING:
		return "missing";
	case MODMIG_STATE_NO_FILE:
		return "no_file";
	case MODMIG_STATE_FAILED:
		return "failed";
	}
	return "unknown";
}

/*
 * Names and state, read without the lock. status and version only look: a
 * registry that disagrees with the manifest does not hide the table an
 * operator needs first; it is a warning (the log callback's, and the
 * report's), while up, down and friends still refuse.
 */
static modmig_status read_state(mm_session *s, modmig_db *db, const modmig_source *src,
                                char **warning, modmig_error **err)
{
	modmig_status rc = mm_session_open(s, db, src, err);
	modmig_error *disagree = NULL;
	size_t first_new = 0;

	if (rc != MODMIG_OK || modmig_source_is_dir(src) ||
	    mm_registry_check(src, &s->state, &first_new, &disagree) == MODMIG_OK)
		goto cleanup;
	mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_WARN, NULL, MODMIG_UP, 0, NULL,
	        "%s (up, down and the other commands that change the database refuse until it "
	        "is fixed)",
	        disagree ? modmig_error_message(disagree) : "the module registry disagrees");
	if (warning && disagree)
		*warning = mm_strdup(modmig_error_message(disagree));
cleanup:
	modmig_error_free(disagree);
	return rc;
}

modmig_status modmig_db_status(modmig_db *db, const modmig_source *src, modmig_report **out,
                               modmig_error **err)
{
	modmig_status rc;
	mm_session s;
	mm_row *rows = NULL;
	size_t count = 0, i;
	modmig_report *r = NULL;
	char *warning = NULL;

	*out = NULL;
	rc = read_state(&s, db, src, &warning, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	rc = mm_classify(src->migrations, src->migration_count, &s.state, &rows, &count, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	r = calloc(1, sizeof(*r));
	if (r) {
		r->rows = calloc(count ? count : 1, sizeof(*r->rows));
		r->applied_at = calloc(count ? count : 1, sizeof(*r->applied_at));
	}
	if (!r || !r->rows || !r->applied_at) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < count; i++) {
		const mm_row *in = &rows[i];
		modmig_report_row *row = &r->rows[i];
		const modmig_migration *m = in->migration;

		row->version = in->version;
		row->state = in->state;
		row->migration = m;
		if (m) {
			row->module = m->module ? m->module->name : NULL;
			row->name = m->name;
			row->file = m->file;
		} else {
			const modmig_module *mod = mm_source_module_of(src, in->version);

			row->module = mod ? mod->name : NULL;
		}
		if (in->applied) {
			memcpy(r->applied_at[i], in->applied->applied_at, sizeof(r->applied_at[i]));
			row->applied_at = r->applied_at[i];
		}
	}
	r->count = count;
	r->current = mm_state_max_applied(&s.state);
	r->warning = warning;
	warning = NULL;
	*out = r;
	r = NULL;
cleanup:
	free(warning);
	modmig_report_free(r);
	free(rows);
	mm_session_close(&s);
	return rc;
}

size_t modmig_report_count(const modmig_report *report)
{
	return report ? report->count : 0;
}

const modmig_report_row *modmig_report_at(const modmig_report *report, size_t index)
{
	return report && index < report->count ? &report->rows[index] : NULL;
}

const char *modmig_report_warning(const modmig_report *report)
{
	return report ? report->warning : NULL;
}

int64_t modmig_report_current_version(const modmig_report *report)
{
	return report ? report->current : 0;
}

void modmig_report_free(modmig_report *report)
{
	if (!report)
		return;
	free(report->rows);
	free(report->applied_at);
	free(report->warning);
	free(report);
}

modmig_status modmig_db_version(modmig_db *db, const modmig_source *src, int64_t *version,
                                modmig_error **err)
{
	modmig_status rc;
	mm_session s;

	*version = 0;
	rc = read_state(&s, db, src, NULL, err);
	if (rc == MODMIG_OK)
		*version = mm_state_max_applied(&s.state);
	mm_session_close(&s);
	return rc;
}
