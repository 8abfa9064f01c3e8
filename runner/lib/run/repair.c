/*
 * repair.c - modmig repair, in the way of Flyway's: an operator's explicit
 * answer to what verify keeps reporting, each recorded in the history as its
 * own event, so the record says who accepted what and why. Under the
 * migration lock, in one transaction; a dry run says what it would record.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

static modmig_status applied_file(mm_session *s, modmig_source *src, int64_t version,
                                  const modmig_migration **out, modmig_error **err)
{
	const modmig_migration *m = modmig_source_find(src, version);

	*out = m;
	if (!mm_state_find_applied(&s->state, version)) {
		mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
		        "version %lld is not applied: there is nothing to repair",
		        (long long)version);
		mm_next(err, MODMIG_NEXT_RUN_VERIFY, 0, "verify lists what needs repair");
		return MODMIG_E_NOT_FOUND;
	}
	if (!m) {
		mm_fail(err, MODMIG_E_NOT_FOUND, NULL, 0, 0,
		        "version %lld is applied but no migration file has it", (long long)version);
		mm_hint(err, "restore the file first; nothing was recorded");
		return MODMIG_E_NOT_FOUND;
	}
	/* the file's bytes and SHA-256: read through src, which owns them */
	return mm_migration_load(&src->migrations[m - src->migrations], err);
}

modmig_status modmig_repair(modmig_db *db, modmig_source *src, const modmig_repair_options *opts,
                            modmig_error **err)
{
	modmig_status rc;
	const modmig_migration *m = NULL;
	mm_session s;
	mm_buf b;
	char *sql = NULL;
	modmig_history_event event;

	memset(&s, 0, sizeof(s));
	mm_buf_init(&b);
	if (!db || !src || !opts) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "no database, source or options given");
		goto cleanup;
	}
	if (opts->action != MODMIG_REPAIR_ACKNOWLEDGE &&
	    opts->action != MODMIG_REPAIR_ACCEPT_CHECKSUM) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "unknown repair action %d",
		             (int)opts->action);
		goto cleanup;
	}
	/* an accepted change is a decision someone must be able to read later */
	if (opts->action == MODMIG_REPAIR_ACCEPT_CHECKSUM && (!opts->reason || !*opts->reason)) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "accepting a changed file's checksum needs a reason");
		mm_hint(err, "say why the change is safe; it is recorded in the history");
		goto cleanup;
	}
	if ((rc = mm_session_open(&s, db, src, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, err)) != MODMIG_OK ||
	    (rc = applied_file(&s, src, opts->version, &m, err)) != MODMIG_OK)
		goto cleanup;
	if (!s.state.has[MM_TABLE_HISTORY]) {
		rc = mm_fail(err, MODMIG_E_STATE, NULL, 0, 0, "%s does not exist",
		             s.names.table[MM_TABLE_HISTORY]);
		mm_next(err, MODMIG_NEXT_CREATE_STATE, 0, "run up, which creates it");
		goto cleanup;
	}
	event = opts->action == MODMIG_REPAIR_ACKNOWLEDGE ? MODMIG_HISTORY_ACKNOWLEDGED
	                                                  : MODMIG_HISTORY_CHECKSUM_ACCEPTED;
	mm_buf_puts(&b, "BEGIN;\n");
	mm_store_sql_history_row(&b, db, &s.names, event, m, 0, 0, opts->reason);
	mm_buf_puts(&b, "COMMIT;\n");
	sql = mm_buf_take(&b);
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, m, MODMIG_UP, 0, NULL,
	        "%s %s: %s %lld (%s)%s%s", opts->dry_run ? "would record" : "recorded",
	        modmig_history_event_name(event),
	        opts->action == MODMIG_REPAIR_ACKNOWLEDGE ? "out-of-order migration"
	                                                  : "new sha256 of",
	        (long long)m->version, m->file, opts->reason ? ", reason: " : "",
	        opts->reason ? opts->reason : "");
	if (opts->dry_run)
		goto cleanup;
	rc = mm_db_exec(db, sql, MODMIG_E_SQL, "cannot record the repair", err);
	if (rc != MODMIG_OK && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		mm_db_exec(db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
cleanup:
	free(sql);
	mm_buf_free(&b);
	mm_session_close(&s);
	return rc;
}

void modmig_repair_options_init(modmig_repair_options *opts)
{
	if (opts)
		memset(opts, 0, sizeof(*opts));
}
