/*
 * stamp.c - modmig stamp: mark migrations as applied without running them,
 * for adopting a database whose schema already exists. Under the migration
 * lock, every stamped migration gets its version row and a "stamped" history
 * row, all in one transaction.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

/* The version must be one of the files, and in the module's range when one is named. */
static modmig_status check_version(const modmig_source *src, int64_t version,
                                   const modmig_module *module, modmig_error **err)
{
	if (module && (version < module->first_version || version > module->last_version)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "version %lld is not in module %s's range %lld..%lld", (long long)version,
		        module->name, (long long)module->first_version,
		        (long long)module->last_version);
		mm_next(err, MODMIG_NEXT_LIST, 0,
		        "pick one of module %s's versions from the source", module->name);
		mm_error_set_migration(err, 0, module->name);
		return MODMIG_E_USAGE;
	}
	if (!modmig_source_find(src, version)) {
		mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
		        "unknown version %lld: no migration file has that version",
		        (long long)version);
		mm_next(err, MODMIG_NEXT_LIST, 0,
		        "pick a version from the source; nothing was stamped");
		mm_next_reason(err, "nothing was stamped");
		return MODMIG_E_NOT_FOUND;
	}
	return MODMIG_OK;
}

static bool selected(const modmig_migration *m, int64_t version, const modmig_module *module,
                     const mm_state *st)
{
	if (m->version > version || mm_state_find_applied(st, m->version))
		return false;
	return !module ||
	       (m->version >= module->first_version && m->version <= module->last_version);
}

/*
 * Whether a migration stamp would record stands part-way (a NO TRANSACTION
 * run that stopped, or runs now): recording it applied would say that units
 * that never ran took effect. Finishing it is up's resume modes' job.
 */
static bool stamps_partway(const mm_session *s, int64_t version, const modmig_module *module)
{
	for (size_t i = 0; i < s->src->migration_count; i++) {
		const modmig_migration *m = &s->src->migrations[i];
		const mm_event_row *e = mm_state_find_event(&s->state, m->version);

		if (selected(m, version, module, &s->state) && e &&
		    (modmig_history_event_flags(e->kind) & MODMIG_HISTORY_F_PARTWAY))
			return true;
	}
	return false;
}

/* BEGIN, a version row and a "stamped" history row per migration, COMMIT. */
static char *stamp_sql(mm_session *s, int64_t version, const modmig_module *module, size_t *count)
{
	const modmig_source *src = s->src;
	mm_buf b;
	size_t i;

	*count = 0;
	mm_buf_init(&b);
	/*
	 * The fence, as for a migration: under the transaction-level lock, a
	 * version another migrator applied or stamped meanwhile is left alone.
	 * The history row goes first, while the version table still says what
	 * it said before this transaction.
	 */
	mm_buf_printf(&b,
	              "BEGIN ISOLATION LEVEL READ COMMITTED;\nSELECT "
	              "pg_catalog.pg_advisory_xact_lock(%lld);\n",
	              (long long)s->names.fence_key);
	for (i = 0; i < src->migration_count; i++) {
		const modmig_migration *m = &src->migrations[i];
		char unapplied[512];

		if (!selected(m, version, module, &s->state))
			continue;
		snprintf(unapplied, sizeof(unapplied),
		         "NOT coalesce((SELECT is_applied FROM %s WHERE version_id = %lld ORDER BY "
		         "id "
		         "DESC LIMIT 1), false)",
		         s->names.table[MM_TABLE_VERSION], (long long)m->version);
		mm_store_sql_history_row_if(&b, s->db, &s->names, MODMIG_HISTORY_STAMPED, m, 0, 0,
		                            NULL, unapplied);
		mm_buf_printf(
		        &b, "INSERT INTO %s (version_id, is_applied) SELECT %lld, true WHERE %s;\n",
		        s->names.table[MM_TABLE_VERSION], (long long)m->version, unapplied);
		(*count)++;
	}
	mm_buf_puts(&b, "COMMIT;\n");
	return mm_buf_take(&b);
}

void modmig_stamp_options_init(modmig_stamp_options *opts)
{
	if (opts)
		memset(opts, 0, sizeof(*opts));
}

modmig_status modmig_stamp(modmig_db *db, modmig_source *src, int64_t version, const char *module,
                           modmig_result **out, modmig_error **err)
{
	modmig_stamp_options opts;

	modmig_stamp_options_init(&opts);
	opts.version = version;
	opts.module = module;
	return modmig_stamp_with(db, src, &opts, out, err);
}

/* Each migration stamp_sql() selected: stamped (an event and a result row), or would be. */
static modmig_status report(mm_session *s, int64_t version, const modmig_module *mod, bool dry_run,
                            modmig_result **out)
{
	modmig_status rc = MODMIG_OK;
	const modmig_source *src = s->src;
	size_t i;

	for (i = 0; i < src->migration_count && rc == MODMIG_OK; i++) {
		const modmig_migration *m = &src->migrations[i];

		if (!selected(m, version, mod, &s->state))
			continue;
		if (dry_run) {
			mm_emit(s->db, MODMIG_EVENT_DRY_RUN, MODMIG_LOG_INFO, m, MODMIG_UP, 0, NULL,
			        "would stamp %s as applied without running it", m->file);
			continue;
		}
		mm_emit(s->db, MODMIG_EVENT_STAMPED, MODMIG_LOG_INFO, m, MODMIG_UP, 0, NULL,
		        "stamped %s as applied without running it", m->file);
		rc = mm_result_add(out, m, MODMIG_UP, 0);
	}
	return rc;
}

modmig_status modmig_stamp_with(modmig_db *db, modmig_source *src, const modmig_stamp_options *opts,
                                modmig_result **out, modmig_error **err)
{
	modmig_status rc;
	const modmig_module *mod = NULL;
	mm_session s;
	char *sql = NULL;
	size_t count = 0;

	memset(&s, 0, sizeof(s));
	if (out)
		*out = NULL;
	if (!db || !src || !opts) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "no database, no source or no options given");
		goto cleanup;
	}
	if ((rc = mm_result_new(out, err)) != MODMIG_OK ||
	    (rc = mm_source_module_arg(src, opts->module, &mod, err)) != MODMIG_OK ||
	    (rc = check_version(src, opts->version, mod, err)) != MODMIG_OK ||
	    (rc = mm_source_load(src, err)) != MODMIG_OK ||
	    (!opts->dry_run && (rc = mm_db_check_writable(db, "stamp", err)) != MODMIG_OK) ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK)
		goto cleanup;
	s.dry_run = opts->dry_run;
	if ((rc = mm_session_lock(&s, err)) != MODMIG_OK ||
	    (stamps_partway(&s, opts->version, mod) &&
	     (rc = mm_plan_check_partway(src, &s.state, "stamp", err)) != MODMIG_OK))
		goto cleanup;
	sql = stamp_sql(&s, opts->version, mod, &count);
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if (count == 0) {
		mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
		        "nothing to stamp: every migration up to %lld is applied",
		        (long long)opts->version);
		goto cleanup;
	}
	if (opts->dry_run) {
		rc = report(&s, opts->version, mod, true, out);
		goto cleanup;
	}
	/* only now, with something to record, the state tables and registry rows */
	if ((rc = mm_session_create_state(&s, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_db_exec(db, sql, MODMIG_E_SQL, "cannot stamp the migrations", err);
	if (rc != MODMIG_OK) {
		if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
			mm_db_exec(db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
		mm_hint(err, "nothing was stamped");
		goto cleanup;
	}
	rc = report(&s, opts->version, mod, false, out);
cleanup:
	free(sql);
	mm_session_close(&s);
	return rc;
}
