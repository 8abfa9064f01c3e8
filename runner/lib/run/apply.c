/*
 * apply.c - running one migration. A transactional migration goes to the
 * server as one simple-protocol query string: BEGIN, its units, the state
 * rows and COMMIT, so it costs one round trip whatever its units hold
 * (StatementBegin blocks included), and nothing of it remains on error. A
 * NO TRANSACTION migration runs its units one at a time in autocommit.
 */
#include "run/run.h"

#include "sql/sql.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Where a unit sits in the query string sent to the server. */
typedef struct span {
	size_t start;
	size_t len;
} span;

/* One composed query string and the map back to the file. */
typedef struct composed {
	mm_buf sql;
	span *spans;        /* one per unit, from unit `first` on */
	size_t first;       /* index of the first unit in the section */
	size_t count;       /* units in the string */
	int prefix_results; /* results the server sends before the first unit's */
} composed;

static const mm_section *section_of(const modmig_migration *m, modmig_direction dir)
{
	return dir == MODMIG_UP ? &m->parsed.up : &m->parsed.down;
}

/* ---- errors mapped to file:line:column ---------------------------------- */

/* Line and column in the file of byte offset `at` inside unit u. */
static void locate(const mm_unit *u, size_t at, int *line, int *column)
{
	size_t i;

	*line = u->line;
	*column = u->column > 0 ? u->column : 1;
	for (i = 0; i < at && i < u->len; i++) {
		unsigned char c = (unsigned char)u->sql[i];

		if (c == '\n') {
			(*line)++;
			*column = 1;
		} else if ((c & 0xC0) != 0x80) {
			(*column)++;
		}
	}
}

/* Byte offset of the 1-based character position pos in s (len when beyond). */
static size_t byte_of_char(const char *s, size_t len, long pos)
{
	size_t i;
	long chars = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars == pos)
			return i;
	}
	return len;
}

/*
 * Which unit failed, and where, for an error without a position: the server
 * sent one result per statement before the failing one, and the scanner
 * tells how many statements each unit holds.
 */
static bool unit_by_results(const composed *c, const mm_section *sec, int ok_results, size_t *unit,
                            size_t *offset)
{
	int k = ok_results - c->prefix_results;
	size_t i;

	if (k < 0)
		return false;
	for (i = 0; i < c->count; i++) {
		const mm_unit *u = &sec->units[c->first + i];
		mm_sql_split split;
		bool split_ok =
		        mm_sql_split_text(u->sql, MM_SQL_SPLIT_SCANNER, &split, NULL) == MODMIG_OK;
		int n = !split_ok || split.count < 1 ? 1 : (int)split.count;

		if (k < n) {
			*unit = c->first + i;
			*offset = !split_ok || !split.count ? 0 : split.stmts[k].offset;
			while (*offset < u->len &&
			       (u->sql[*offset] == ' ' || u->sql[*offset] == '\n' ||
			        u->sql[*offset] == '\t'))
				(*offset)++;
			mm_sql_split_clear(&split);
			return true;
		}
		mm_sql_split_clear(&split);
		k -= n;
	}
	return false;
}

/* Statements in a unit as the scanner splits it (at least one, as the server counts). */
static int statements_of(const mm_unit *u)
{
	mm_sql_split split;
	bool split_ok = mm_sql_split_text(u->sql, MM_SQL_SPLIT_SCANNER, &split, NULL) == MODMIG_OK;
	int n = !split_ok || split.count < 1 ? 1 : (int)split.count;

	mm_sql_split_clear(&split);
	return n;
}

/* Statements of add_bookkeeping_session(), between the units and the state rows. */
#define BOOKKEEPING_STATEMENTS 2

/*
 * Results a composed transaction sends when all goes well: prefix, units,
 * the bookkeeping session, two rows, COMMIT.
 */
static int results_of(const composed *c, const mm_section *sec)
{
	int n = c->prefix_results + BOOKKEEPING_STATEMENTS + 3;
	size_t i;

	for (i = 0; i < c->count; i++)
		n += statements_of(&sec->units[c->first + i]);
	return n;
}

/* Turn a failing result into an error naming the unit's file:line:column. */
static modmig_status migration_failed(modmig_db *db, const modmig_migration *m,
                                      modmig_direction dir, const composed *c, const PGresult *res,
                                      int ok_results, size_t *failed_unit, modmig_error **err)
{
	const mm_section *sec = section_of(m, dir);
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	size_t unit = 0, offset = 0, i;
	bool found = false;
	int line = 0, column = 0;
	char what[96];

	if (pos) {
		size_t at = byte_of_char(c->sql.data, c->sql.len, strtol(pos, NULL, 10));

		for (i = 0; i < c->count && !found; i++) {
			if (at >= c->spans[i].start && at < c->spans[i].start + c->spans[i].len) {
				unit = c->first + i;
				offset = at - c->spans[i].start;
				found = true;
			}
		}
	} else if (res) {
		found = unit_by_results(c, sec, ok_results, &unit, &offset);
	}
	if (found)
		locate(&sec->units[unit], offset, &line, &column);
	snprintf(what, sizeof(what), "migration %lld failed", (long long)m->version);
	mm_db_fail(db, res, MODMIG_E_SQL, err, what);
	if (err && *err) {
		mm_error_set_field(&(*err)->file, m->file);
		(*err)->line = line;
		(*err)->column = column;
		/*
		 * The server's own hint wins. Without one, say what holds for every
		 * failed transactional migration (a NO TRANSACTION one gets its
		 * resume step from the caller).
		 */
		if (!(*err)->hint && !modmig_migration_no_transaction(m))
			mm_hint(err,
			        "fix the statement%s, then apply again: the migration ran in one "
			        "transaction, so nothing of it was kept",
			        line > 0 ? " at the line shown" : "");
	}
	mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
	*failed_unit = found ? unit + 1 : 0;
	return MODMIG_E_SQL;
}

/* ---- sending ------------------------------------------------------------ */

static void add_units(composed *c, const mm_section *sec, size_t first, size_t last)
{
	size_t i;

	c->first = first;
	c->spans = calloc(last > first ? last - first : 1, sizeof(*c->spans));
	if (!c->spans) {
		c->sql.oom = true;
		return;
	}
	for (i = first; i < last; i++) {
		c->spans[c->count].start = c->sql.len;
		mm_buf_append(&c->sql, sec->units[i].sql, sec->units[i].len);
		c->spans[c->count++].len = sec->units[i].len;
		/* A unit may end in a line comment: the separator goes on its own line. */
		mm_buf_puts(&c->sql, "\n;\n");
	}
}

static void add_setting(composed *c, modmig_db *db, const char *command, const char *name,
                        const char *value)
{
	char *lit;

	if (!value)
		return;
	lit = PQescapeLiteral(db->conn, value, strlen(value));
	if (!lit) {
		c->sql.oom = true;
		return;
	}
	mm_buf_printf(&c->sql, "%s %s = %s;\n", command, name, lit);
	PQfreemem(lit);
	c->prefix_results++;
}

static void composed_free(composed *c)
{
	mm_buf_free(&c->sql);
	free(c->spans);
	memset(c, 0, sizeof(*c));
}

/* ---- the two ways to run a migration ------------------------------------ */

typedef struct run_args {
	mm_session *s;
	const modmig_migration *m;
	modmig_direction dir;
	const char *lock_timeout; /* already resolved: file header, else option */
	const char *statement_timeout;
	size_t first_unit;           /* > 0 when resuming a failed NO TRANSACTION migration */
	modmig_history_event prefix; /* recorded first (resumed/restarted), or UNKNOWN */
	size_t failed_unit;          /* out: 1-based unit that failed, 0 when unknown */
	mm_progress progress;        /* reports while the migration runs */
	const composed *running;     /* the query string being sent, for where_running() */
	int fence;                   /* out: what the fence found instead (FENCE_*), or 0 */
	char *fence_message;         /* out: the server's words for it (owned) */
} run_args;

/*
 * mm_progress_where for the query string being sent. An autocommit one holds
 * one unit: that one runs. A transactional one holds every unit, and the
 * server sends the results of a multi-statement query only when it ends (or
 * a notice flushes them), so the results so far cannot tell which unit runs:
 * the unit is known only when there is one.
 */
static void where_running(void *arg, int ok_results, int *unit, int *line, const char **unit_sql)
{
	const run_args *a = arg;
	const mm_section *sec = section_of(a->m, a->dir);
	size_t u = 0, offset = 0;
	int column;

	if (!a->running)
		return;
	if (!a->m->parsed.no_transaction && sec->count != 1)
		return;
	if (!unit_by_results(a->running, sec, ok_results, &u, &offset)) {
		/* nothing back yet: the first statement of the first unit sent */
		u = a->running->first;
		offset = 0;
	}
	*unit = (int)u + 1;
	*unit_sql = sec->units[u].sql;
	locate(&sec->units[u], offset, line, &column);
}

static modmig_history_event done_event(modmig_direction dir)
{
	return dir == MODMIG_UP ? MODMIG_HISTORY_APPLIED : MODMIG_HISTORY_ROLLED_BACK;
}

/*
 * The history's error column for a failure: "line L:C: SQLSTATE S: message",
 * so the record alone says where and why, as the operator was told.
 */
static char *error_text(const modmig_error *e)
{
	if (!e)
		return NULL;
	if (e->line > 0 && e->sqlstate)
		return mm_printf("line %d:%d: SQLSTATE %s: %s", e->line, e->column, e->sqlstate,
		                 e->message);
	if (e->line > 0)
		return mm_printf("line %d:%d: %s", e->line, e->column, e->message);
	if (e->sqlstate)
		return mm_printf("SQLSTATE %s: %s", e->sqlstate, e->message);
	return mm_strdup(e->message);
}

/* Append one event's state rows: the version row when it applies or unapplies. */
static void add_event(mm_buf *b, const run_args *a, modmig_history_event event, double duration_ms,
                      int unit, const char *error)
{
	if (modmig_history_event_flags(event) &
	    (MODMIG_HISTORY_F_APPLIES | MODMIG_HISTORY_F_UNAPPLIES))
		mm_store_sql_version_row(b, &a->s->names, a->dir, a->m->version);
	mm_store_sql_history_row(b, a->s->db, &a->s->names, event, a->m, duration_ms, unit, error);
}

/*
 * Commit the rows in b (after BEGIN) in their own transaction: one round
 * trip. A failure leaves nothing of them and the session idle.
 */
static modmig_status commit_events(const run_args *a, mm_buf *b, modmig_error **err)
{
	modmig_status rc;
	char *sql;

	mm_buf_puts(b, "COMMIT;\n");
	sql = mm_buf_take(b);
	if (!sql)
		return mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
	/* the connection is gone: the history keeps the last event that reached it */
	if (PQstatus(a->s->db->conn) != CONNECTION_OK) {
		free(sql);
		return mm_db_fail(a->s->db, NULL, MODMIG_E_SQL, err, "cannot record the migration");
	}
	rc = mm_db_exec(a->s->db, sql, MODMIG_E_SQL, "cannot record the migration", err);
	if (rc != MODMIG_OK && PQstatus(a->s->db->conn) == CONNECTION_OK &&
	    PQtransactionStatus(a->s->db->conn) != PQTRANS_IDLE)
		mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
	free(sql);
	return rc;
}

static void add_bookkeeping_session(mm_buf *b);

static void begin_events(mm_buf *b)
{
	mm_buf_init(b);
	mm_buf_puts(b, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	add_bookkeeping_session(b);
}

/* One event in its own transaction. */
static modmig_status record(const run_args *a, modmig_history_event event, double duration_ms,
                            int unit, const char *error, modmig_error **err)
{
	mm_buf b;

	begin_events(&b);
	add_event(&b, a, event, duration_ms, unit, error);
	return commit_events(a, &b, err);
}

/*
 * The error of a cancelled migration replaces the server's "canceling
 * statement due to user request": what counts is what was kept.
 */
static modmig_status interrupted(const run_args *a, const char *what, modmig_error **err)
{
	const modmig_migration *m = a->m;

	if (err && *err) {
		modmig_error_free(*err);
		*err = NULL;
	}
	mm_fail(err, MODMIG_E_CANCELLED, m->file, 0, 0, "%s", what);
	mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
	return MODMIG_E_CANCELLED;
}

/* ---- the fence and the clean session ------------------------------------ */

/*
 * SQLSTATEs the fence raises (class "MM" is no class of PostgreSQL's), and
 * what each means for the migration about to run.
 */
#define STATE_APPLIED   "MMAPP" /* up: another migrator applied it */
#define STATE_UNAPPLIED "MMUNA" /* down: another migrator rolled it back */
#define STATE_LEASE     "MMLSE" /* the table lock's lease is no longer ours */
#define STATE_RUNNING   "MMRUN" /* a NO TRANSACTION run of it started elsewhere */
#define STATE_FAILED    "MMFLD" /* ... and failed part-way there */

enum { FENCE_NONE = 0, FENCE_DONE, FENCE_LEASE, FENCE_RUNNING };

/*
 * Undo what an earlier migration may have left in the session before the
 * next one runs: settings (search_path included) back to the connection's
 * defaults, the role and session user back to the login, no temporary
 * tables. RESET ALL also resets client_encoding to the server's idea of the
 * default (behind a pooler, the pooled backend's), so modmig's own comes
 * back right after. All of it is transactional and travels in the same
 * round trip as the migration. (DISCARD ALL cannot run in a transaction.)
 */
static void add_clean_session(composed *c, modmig_db *db)
{
	mm_buf_puts(&c->sql, "RESET ALL;\nRESET SESSION AUTHORIZATION;\nDISCARD TEMP;\n");
	c->prefix_results += 3;
	if (db->client_encoding[0])
		add_setting(c, db, "SET", "client_encoding", db->client_encoding);
}

/*
 * modmig's own rows are written as the login role with only pg_catalog on
 * the search_path, whatever the migration did to its session: SET ROLE to a
 * role that may not write them, a search_path that hides them. LOCAL: a NO
 * TRANSACTION migration's own session settings come back after COMMIT.
 */
static void add_bookkeeping_session(mm_buf *b)
{
	mm_buf_puts(b, "SET LOCAL SESSION AUTHORIZATION DEFAULT;\n"
	               "SET LOCAL search_path = pg_catalog, pg_temp;\n");
}

/*
 * The history events that say a run of a NO TRANSACTION migration is under
 * way, as an SQL list: it started, resumed or restarted, or a unit is done.
 * The other PARTWAY events (failed, interrupted) say it stopped.
 */
static char *running_list(void)
{
	return mm_printf("'%s', '%s', '%s', '%s'",
	                 modmig_history_event_name(MODMIG_HISTORY_UNIT_STARTED),
	                 modmig_history_event_name(MODMIG_HISTORY_UNIT_DONE),
	                 modmig_history_event_name(MODMIG_HISTORY_RESUMED),
	                 modmig_history_event_name(MODMIG_HISTORY_RESTARTED));
}

/*
 * The fence (DESIGN §6): whatever happened to the session lock (released
 * by a migration, or meaningless behind a pooler in transaction mode), the
 * migration's own transaction takes a transaction-level advisory lock on
 * the same key and checks, under it, that the version still needs running.
 * READ COMMITTED: each statement of the block sees what committed before it
 * started, so the check after the lock sees the other migrator's COMMIT. It
 * raises one of the STATE_* codes instead; nothing of the migration has run.
 *
 * With the table lock, the block renews the lease and checks it is still
 * ours. At the start of a NO TRANSACTION migration (running_check), a
 * history event newer than the one the plan saw, of a run part-way, means
 * another migrator is running it now (or failed doing so).
 */
static void add_fence(mm_buf *b, const run_args *a, bool running_check, bool strict)
{
	const mm_names *n = &a->s->names;
	const mm_event_row *known = mm_state_find_event(&a->s->state, a->m->version);
	long long v = (long long)a->m->version;
	bool up = a->dir == MODMIG_UP;
	char *partway = NULL, *stopped = NULL;

	mm_buf_printf(b,
	              "DO $modmig_fence$DECLARE r record; BEGIN\n"
	              "PERFORM pg_catalog.pg_advisory_xact_lock(%lld);\n",
	              (long long)n->fence_key);
	if (a->s->lease_held)
		mm_buf_printf(b,
		              "UPDATE %s SET expires_at = now() + make_interval(secs => %d), "
		              "renewed_at = now() WHERE owner = '%s';\n",
		              n->table[MM_TABLE_LOCK], MM_LEASE_SECONDS, a->s->lease_token);
	if (a->s->lease_held && strict)
		mm_buf_puts(b, "IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = '" STATE_LEASE
		               "', MESSAGE = 'the table lock was taken over by another migrator'; "
		               "END IF;\n");
	mm_buf_printf(b,
	              "IF %scoalesce((SELECT is_applied FROM %s WHERE version_id = %lld ORDER BY "
	              "id DESC LIMIT 1), false) THEN RAISE EXCEPTION USING ERRCODE = '%s', "
	              "MESSAGE = 'version %lld is %s already'; END IF;\n",
	              up ? "" : "NOT ", n->table[MM_TABLE_VERSION], v,
	              up ? STATE_APPLIED : STATE_UNAPPLIED, v, up ? "applied" : "rolled back");
	if (running_check && up && (partway = running_list()) &&
	    (stopped = mm_event_sql_list(MODMIG_HISTORY_F_PARTWAY))) {
		mm_buf_printf(
		        b,
		        "SELECT h.id, h.event, h.at, coalesce(h.application_name, '?') AS app, "
		        "coalesce(h.client_host, '?') AS host INTO r FROM %s h WHERE "
		        "h.version = %lld ORDER BY h.id DESC LIMIT 1;\n"
		        "IF r.id > %lld AND r.event IN (%s) THEN RAISE EXCEPTION USING "
		        "ERRCODE = '" STATE_RUNNING "', MESSAGE = format('migration %lld "
		        "was started by %%s on %%s at %%s (%%s)', r.app, r.host, "
		        "to_char(r.at, 'YYYY-MM-DD HH24:MI:SSOF'), r.event); END IF;\n"
		        "IF r.id > %lld AND r.event IN (%s) THEN RAISE EXCEPTION USING "
		        "ERRCODE = '" STATE_FAILED "', MESSAGE = format('migration %lld "
		        "stopped part-way in a run by %%s on %%s at %%s (%%s)', r.app, r.host, "
		        "to_char(r.at, 'YYYY-MM-DD HH24:MI:SSOF'), r.event); END IF;\n",
		        n->table[MM_TABLE_HISTORY], v, (long long)(known ? known->id : 0), partway,
		        v, (long long)(known ? known->id : 0), stopped ? stopped : "''", v);
	}
	mm_buf_puts(b, "END$modmig_fence$;\n");
	free(partway);
	free(stopped);
}

/*
 * Whether a failed query string failed at the fence; then a->fence says
 * what was found, and *rc what to return (an error only for a NO
 * TRANSACTION migration that failed part-way in another migrator's run).
 */
static bool fence_caught(run_args *a, const PGresult *res, modmig_status *rc, modmig_error **err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!state || strncmp(state, "MM", 2) != 0)
		return false;
	free(a->fence_message);
	a->fence_message = mm_strdup(msg ? msg : "");
	*rc = MODMIG_OK;
	if (strcmp(state, STATE_APPLIED) == 0 || strcmp(state, STATE_UNAPPLIED) == 0)
		a->fence = FENCE_DONE;
	else if (strcmp(state, STATE_LEASE) == 0)
		a->fence = FENCE_LEASE;
	else if (strcmp(state, STATE_RUNNING) == 0)
		a->fence = FENCE_RUNNING;
	else if (strcmp(state, STATE_FAILED) == 0) {
		*rc = mm_fail(err, MODMIG_E_INCOMPLETE, a->m->file, 0, 0,
		              "NO TRANSACTION migration %lld failed part-way in another "
		              "migrator's run: %s",
		              (long long)a->m->version, msg ? msg : "");
		mm_hint(err, "see its history for the unit that failed; nothing of it ran here");
		mm_error_set_migration(err, a->m->version,
		                       a->m->module ? a->m->module->name : NULL);
	} else
		return false;
	return true;
}

static modmig_status run_in_transaction(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_section *sec = section_of(a->m, a->dir);
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	size_t failed_unit = 0;
	bool committed = false;
	char *text = NULL;
	double start = mm_now_ms();

	memset(&c, 0, sizeof(c));
	mm_buf_puts(&c.sql, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	c.prefix_results = 1;
	add_clean_session(&c, a->s->db);
	add_fence(&c.sql, a, false, true);
	c.prefix_results++;
	add_setting(&c, a->s->db, "SET LOCAL", "lock_timeout", a->lock_timeout);
	add_setting(&c, a->s->db, "SET LOCAL", "statement_timeout", a->statement_timeout);
	add_units(&c, sec, 0, sec->count);
	add_bookkeeping_session(&c.sql);
	mm_store_sql_version_row(&c.sql, &a->s->names, a->dir, a->m->version);
	mm_store_sql_history_row(&c.sql, a->s->db, &a->s->names, done_event(a->dir), a->m, -1, 0,
	                         NULL);
	mm_buf_puts(&c.sql, "COMMIT;\n");
	if (c.sql.oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
		goto cleanup;
	}
	a->running = &c;
	if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) == MODMIG_OK)
		goto cleanup;
	/*
	 * The server confirmed COMMIT, then the connection was lost before it
	 * said it was ready: the migration and its state rows are committed,
	 * so it is applied, and saying it failed would contradict the record.
	 * Only our own COMMIT, the last result of all, says so: a COMMIT in a
	 * unit committed the units before it and no state row.
	 */
	if (committed && ok_results == results_of(&c, sec) &&
	    PQstatus(a->s->db->conn) == CONNECTION_BAD)
		goto cleanup;
	/* The server rolled the transaction back (or will, at our ROLLBACK): nothing is kept. */
	if (PQtransactionStatus(a->s->db->conn) == PQTRANS_INERROR ||
	    PQtransactionStatus(a->s->db->conn) == PQTRANS_INTRANS)
		mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
	/* the fence found the version done elsewhere: nothing ran, nothing to record */
	if (fence_caught(a, error, &rc, err))
		goto cleanup;
	rc = migration_failed(a->s->db, a->m, a->dir, &c, error, ok_results, &failed_unit, err);
	a->failed_unit = failed_unit;
	/* a lost connection leaves nothing to record with (and nothing committed) */
	if (PQstatus(a->s->db->conn) != CONNECTION_OK)
		goto cleanup;
	text = error_text(err ? *err : NULL);
	if (mm_db_cancelled(a->s->db)) {
		char what[160];

		snprintf(
		        what, sizeof(what),
		        "migration %lld was interrupted %s and rolled back: nothing of it was kept",
		        (long long)a->m->version,
		        a->dir == MODMIG_UP ? "while it was applied" : "while it was rolled back");
		rc = interrupted(a, what, err);
		record(a, MODMIG_HISTORY_INTERRUPTED, mm_now_ms() - start, (int)failed_unit, text,
		       NULL);
		if (a->dir == MODMIG_UP)
			mm_next(err, MODMIG_NEXT_RUN_UP, 0, "run up again to apply it");
		else
			mm_hint(err, "it is still applied; roll it back again when you are ready");
		goto cleanup;
	}
	/* A failed migration is recorded too, in its own transaction after the rollback. */
	record(a,
	       a->dir == MODMIG_UP ? MODMIG_HISTORY_FAILED_ATOMIC : MODMIG_HISTORY_ROLLBACK_FAILED,
	       mm_now_ms() - start, (int)failed_unit, text, NULL);
cleanup:
	a->running = NULL;
	free(text);
	PQclear(error);
	composed_free(&c);
	return rc;
}

/* "units 1-2 of 3 took effect" for i (0-based) units done of count. */
static void units_done(char *buf, size_t size, size_t i, size_t count)
{
	if (i == 0)
		snprintf(buf, size, "no unit of %zu took effect", count);
	else if (i == 1)
		snprintf(buf, size, "unit 1 of %zu took effect", count);
	else
		snprintf(buf, size, "units 1-%zu of %zu took effect", i, count);
}

/*
 * Before a NO TRANSACTION migration's first unit: clean the session, pass
 * the fence (with the check for a run of it started elsewhere), and record
 * under it that this run starts (resumed or restarted, then unit_started of
 * its first unit), all in one transaction: whoever records first runs it; a
 * second migrator sees that record and waits for the outcome instead of
 * running it too.
 */
static modmig_status start_autocommit(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	bool committed = false;

	memset(&c, 0, sizeof(c));
	mm_buf_puts(&c.sql, "BEGIN ISOLATION LEVEL READ COMMITTED;\n");
	add_clean_session(&c, a->s->db);
	add_fence(&c.sql, a, true, true);
	add_bookkeeping_session(&c.sql);
	if (a->prefix)
		add_event(&c.sql, a, a->prefix, 0, (int)a->first_unit + 1, NULL);
	add_event(&c.sql, a, MODMIG_HISTORY_UNIT_STARTED, -1, (int)a->first_unit + 1, NULL);
	mm_buf_puts(&c.sql, "COMMIT;\n");
	if (c.sql.oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
		goto cleanup;
	}
	if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) != MODMIG_OK) {
		if (PQstatus(a->s->db->conn) == CONNECTION_OK &&
		    PQtransactionStatus(a->s->db->conn) != PQTRANS_IDLE)
			mm_db_exec(a->s->db, "ROLLBACK", MODMIG_E_SQL, "rollback", NULL);
		if (!fence_caught(a, error, &rc, err))
			rc = mm_db_fail(a->s->db, error, MODMIG_E_SQL, err,
			                "cannot record the start of the migration");
	}
cleanup:
	PQclear(error);
	composed_free(&c);
	return rc;
}

/*
 * A NO TRANSACTION migration's progress is recorded durably around every
 * unit: unit_started before it is sent, unit_done once it returned, each
 * committed before the next step. So whatever ends the run (an error, a
 * signal, a kill -9, a server crash, a lost connection), the latest event
 * says which unit is the first not known to be done. The done record of one
 * unit and the started record of the next share a transaction, and the last
 * unit's done record commits with the applied row: one round trip per step.
 */
static modmig_status run_autocommit(run_args *a, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const mm_section *sec = section_of(a->m, a->dir);
	double start = mm_now_ms();
	composed c;
	PGresult *error = NULL;
	int ok_results = 0;
	size_t i, failed_unit = 0, done = a->first_unit; /* units known to be done */
	bool done_recorded = true; /* unit `done`'s unit_done row is committed */
	bool up = a->dir == MODMIG_UP, committed;
	char taken[96], *text = NULL;
	mm_buf b;

	memset(&c, 0, sizeof(c));
	/* the first unit's start is recorded with the fence, in start_autocommit() */
	rc = start_autocommit(a, err);
	if (rc != MODMIG_OK || a->fence)
		goto cleanup;
	for (i = a->first_unit; i < sec->count && rc == MODMIG_OK; i++) {
		if (mm_db_cancelled(a->s->db))
			break;
		if (i > a->first_unit) {
			begin_events(&b);
			if (!done_recorded)
				add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
			add_event(&b, a, MODMIG_HISTORY_UNIT_STARTED, -1, (int)i + 1, NULL);
			/* no record, no run: a unit that cannot be recorded is not sent */
			if ((rc = commit_events(a, &b, err)) != MODMIG_OK)
				break;
			done_recorded = true;
		}
		/*
		 * The timeouts before every unit: a unit may RESET ALL. A round trip
		 * more per unit, only when there are timeouts; units are sent alone
		 * (CREATE INDEX CONCURRENTLY cannot share a query string).
		 */
		composed_free(&c);
		add_setting(&c, a->s->db, "SET", "lock_timeout", a->lock_timeout);
		add_setting(&c, a->s->db, "SET", "statement_timeout", a->statement_timeout);
		if (c.sql.len &&
		    (rc = mm_db_exec(a->s->db, c.sql.data, MODMIG_E_SQL,
		                     "cannot set the migration's timeouts", err)) != MODMIG_OK)
			break;
		composed_free(&c);
		add_units(&c, sec, i, i + 1);
		if (c.sql.oom) {
			rc = mm_fail(err, MODMIG_E_NOMEM, a->m->file, 0, 0, "out of memory");
			break;
		}
		/* Sent without the separator: autocommit units go exactly as written. */
		c.sql.data[c.spans[0].len] = '\0';
		a->running = &c;
		if (mm_send_all(&a->progress, c.sql.data, &ok_results, &error, &committed) ==
		    MODMIG_OK) {
			done = i + 1;
			done_recorded = false;
			continue;
		}
		rc = migration_failed(a->s->db, a->m, a->dir, &c, error, ok_results, &failed_unit,
		                      err);
		a->failed_unit = i + 1;
		PQclear(error);
		error = NULL;
	}
	units_done(taken, sizeof(taken), done, sec->count);
	if (mm_db_cancelled(a->s->db) && (rc == MODMIG_OK || done < sec->count)) {
		char what[256];

		/*
		 * Cancelled: the unit that was running was rolled back by the server
		 * (or had finished, and counts as done). Record where it stopped.
		 */
		text = error_text(err ? *err : NULL);
		snprintf(what, sizeof(what),
		         "NO TRANSACTION migration %lld was interrupted%s: %s; unit %zu did not "
		         "take effect",
		         (long long)a->m->version, up ? "" : " while rolling back", taken,
		         done + 1);
		rc = interrupted(a, what, err);
		begin_events(&b);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a,
		          up ? MODMIG_HISTORY_INTERRUPTED_PARTWAY : MODMIG_HISTORY_INTERRUPTED,
		          mm_now_ms() - start, (int)done + 1, text ? text : "interrupted");
		commit_events(a, &b, NULL);
		if (up) {
			mm_next(err, MODMIG_NEXT_RESUME, (int)done + 1,
			        "run up with resume mode continue to continue at unit %zu, or "
			        "restart to run it again from unit 1",
			        done + 1);
		} else
			mm_hint(err, "it is still applied; finish the rollback by hand");
		goto reset;
	}
	if (rc != MODMIG_OK && a->failed_unit > 0) {
		text = error_text(err ? *err : NULL);
		if (up) {
			mm_next(err, MODMIG_NEXT_RESUME, (int)a->failed_unit,
			        "NO TRANSACTION migration: %s; unit %zu failed; fix the cause, "
			        "then run up with resume mode continue to continue at unit %zu, "
			        "or restart to run it again from unit 1",
			        taken, a->failed_unit, a->failed_unit);
			mm_next_reason(err, "NO TRANSACTION migration: %s; unit %zu failed", taken,
			               a->failed_unit);
		} else
			mm_hint(err,
			        "NO TRANSACTION migration: %s while rolling back; unit %zu failed; "
			        "fix the cause and finish the rollback by hand",
			        taken, a->failed_unit);
		begin_events(&b);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a, up ? MODMIG_HISTORY_FAILED : MODMIG_HISTORY_ROLLBACK_FAILED,
		          mm_now_ms() - start, (int)a->failed_unit, text);
		commit_events(a, &b, NULL);
	}
reset:
	if (a->lock_timeout)
		mm_db_exec(a->s->db, "RESET lock_timeout", MODMIG_E_SQL, "reset", NULL);
	if (a->statement_timeout)
		mm_db_exec(a->s->db, "RESET statement_timeout", MODMIG_E_SQL, "reset", NULL);
	if (rc == MODMIG_OK) {
		begin_events(&b);
		/* the version row only ever under the fence; the units took effect: no lease check
		 */
		add_fence(&b, a, false, false);
		if (!done_recorded)
			add_event(&b, a, MODMIG_HISTORY_UNIT_DONE, -1, (int)done, NULL);
		add_event(&b, a, done_event(a->dir), mm_now_ms() - start, 0, NULL);
		rc = commit_events(a, &b, err);
	}
cleanup:
	a->running = NULL;
	free(text);
	PQclear(error);
	composed_free(&c);
	return rc;
}

/* ---- timeouts explained ------------------------------------------------- */

/* Append s (NULL for none) as an element of a text[] literal. */
static void add_element(mm_buf *arr, const char *s)
{
	const char *p;

	if (arr->len > 1)
		mm_buf_puts(arr, ",");
	if (!s) {
		mm_buf_puts(arr, "NULL");
		return;
	}
	mm_buf_puts(arr, "\"");
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			mm_buf_append(arr, "\\", 1);
		mm_buf_append(arr, p, 1);
	}
	mm_buf_puts(arr, "\"");
}

/*
 * The tables a unit names, as two text[] literals (schemas with NULL for
 * none, and names), from the sql layer's relations of each statement. A unit
 * the grammar cannot parse names none, and the timeout goes unexplained.
 */
static void relations_of(const char *sql, mm_buf *schemas, mm_buf *names)
{
	mm_sql_tree *tree = NULL;
	mm_sql_names rels = {0};
	size_t i;
	size_t j;

	mm_buf_puts(schemas, "{");
	mm_buf_puts(names, "{");
	if (mm_sql_tree_new(sql, &tree, NULL) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < mm_sql_tree_count(tree); i++) {
		if (mm_sql_relations(mm_sql_tree_stmt(tree, i), &rels) != MODMIG_OK)
			goto cleanup;
		for (j = 0; j < rels.count; j++) {
			if (!rels.items[j].name)
				continue;
			add_element(schemas, rels.items[j].schema);
			add_element(names, rels.items[j].name);
		}
		mm_sql_names_clear(&rels);
	}
cleanup:
	mm_buf_puts(schemas, "}");
	mm_buf_puts(names, "}");
	mm_sql_names_clear(&rels);
	mm_sql_tree_free(tree);
}

/* The strongest lock another session holds on a table of the unit: "pid 12 (psql, ...) holds". */
static char *lock_holder(modmig_db *db, const char *sql)
{
	static const char query[] =
	        "select l.pid, l.mode, format('%I.%I', n.nspname, c.relname), "
	        "coalesce(nullif(a.application_name, ''), 'no application_name'), "
	        "coalesce(a.state, 'unknown state'), "
	        "coalesce(extract(epoch from now() - a.xact_start)::bigint, 0) "
	        "from pg_locks l join pg_class c on c.oid = l.relation "
	        "join pg_namespace n on n.oid = c.relnamespace "
	        "left join pg_stat_activity a on a.pid = l.pid "
	        "where l.granted and l.locktype = 'relation' and l.pid <> pg_backend_pid() "
	        "and l.relation in (select to_regclass(coalesce(quote_ident(t.s) || '.', '') || "
	        "quote_ident(t.r))::oid from unnest($1::text[], $2::text[]) as t(s, r)) "
	        "order by array_position(array['AccessExclusiveLock', 'ExclusiveLock', "
	        "'ShareRowExclusiveLock', 'ShareLock', 'ShareUpdateExclusiveLock', "
	        "'RowExclusiveLock', 'RowShareLock', 'AccessShareLock'], l.mode::text) limit 1";
	mm_buf schemas, names;
	const char *params[2];
	PGresult *res = NULL;
	char *out = NULL;

	mm_buf_init(&schemas);
	mm_buf_init(&names);
	relations_of(sql, &schemas, &names);
	if (schemas.oom || names.oom || names.len <= 2)
		goto cleanup;
	params[0] = schemas.data;
	params[1] = names.data;
	res = PQexecParams(db->conn, query, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		goto cleanup;
	out = mm_printf("waiting for a lock on %s: pid %s (%s, %s for %ss) holds %s on it",
	                PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3),
	                PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 1));
cleanup:
	PQclear(res);
	mm_buf_free(&schemas);
	mm_buf_free(&names);
	return out;
}

/*
 * A lock or statement timeout gets a message that says so, with the lock and
 * the session holding it, looked up now: the holder still has it.
 */
static void explain_timeout(const run_args *a, modmig_error **err)
{
	const mm_section *sec = section_of(a->m, a->dir);
	const char *state = err && *err ? (*err)->sqlstate : NULL;
	const char *msg = state ? (*err)->message : NULL;
	bool lock = state && strcmp(state, "55P03") == 0 && strstr(msg, "lock timeout");
	bool statement = state && strcmp(state, "57014") == 0 && strstr(msg, "statement timeout");
	const char *value = lock ? a->lock_timeout : a->statement_timeout;
	char *holder = NULL, *text = NULL, setting[80] = "";

	if (!lock && !statement)
		return;
	if (value)
		snprintf(setting, sizeof(setting), " (%s)", value);
	if (lock && a->failed_unit > 0 && a->failed_unit <= sec->count)
		holder = lock_holder(a->s->db, sec->units[a->failed_unit - 1].sql);
	if (lock)
		text = mm_printf("migration %lld failed: lock timeout%s exceeded %s",
		                 (long long)a->m->version, setting,
		                 holder ? holder
		                        : "waiting for a lock that another session held; it is "
		                          "released now");
	else
		text = mm_printf("migration %lld failed: statement timeout%s exceeded in unit %zu",
		                 (long long)a->m->version, setting, a->failed_unit);
	if (text)
		mm_error_set_field(&(*err)->message, text);
	/* a NO TRANSACTION migration's hint already says which units took effect */
	if (!a->m->parsed.no_transaction && lock)
		mm_next(err, MODMIG_NEXT_RAISE_LOCK_TIMEOUT, 0,
		        "nothing of this migration was kept; let that session finish (or end "
		        "it), then run up again, or raise the lock timeout or the file's "
		        "lock_timeout header");
	else if (!a->m->parsed.no_transaction)
		mm_next(err, MODMIG_NEXT_RAISE_STATEMENT_TIMEOUT, 0,
		        "make the statement faster, or raise the statement timeout or the "
		        "file's statement_timeout header");
	free(holder);
	free(text);
}

/*
 * The fence found the lease gone (take it back, waiting like at the start,
 * then run the migration again: its fence decides anew), or a NO TRANSACTION
 * run of the migration in progress elsewhere (wait for its outcome, polling,
 * as long as the lock timeout allows, saying every few seconds who runs it).
 */
static modmig_status fence_wait(run_args *a, double *since, double *reported, modmig_error **err)
{
	modmig_db *db = a->s->db;
	struct timespec ts = {0, 200 * 1000000L};

	if (a->fence == FENCE_LEASE) {
		mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_WARN, a->m, a->dir, 0, NULL,
		        "the table lock expired and was taken over by another migrator before "
		        "%s; taking it back",
		        a->m->file);
		a->s->lease_held = false;
		return mm_session_acquire(a->s, err);
	}
	if (*since < 0)
		*since = mm_now_ms();
	if (db->lock_timeout_ms >= 0 && mm_now_ms() - *since >= db->lock_timeout_ms) {
		mm_fail(err, MODMIG_E_LOCK_TIMEOUT, a->m->file, 0, 0,
		        "timed out waiting for another migrator's run of NO TRANSACTION migration "
		        "%lld: %s",
		        (long long)a->m->version, a->fence_message ? a->fence_message : "");
		mm_hint(err, "if that run was interrupted, its history says which units took "
		             "effect: resume or restart the migration once no one runs it");
		mm_error_set_migration(err, a->m->version,
		                       a->m->module ? a->m->module->name : NULL);
		return MODMIG_E_LOCK_TIMEOUT;
	}
	if (*reported < 0 || mm_now_ms() - *reported >= MM_WAIT_REPORT_MS) {
		mm_emit(db, MODMIG_EVENT_LOCK_WAIT, MODMIG_LOG_INFO, a->m, a->dir, 0, NULL,
		        "waiting for another migrator's run of %s: %s", a->m->file,
		        a->fence_message ? a->fence_message : "");
		*reported = mm_now_ms();
	}
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return MODMIG_OK;
}

/*
 * Run one parsed migration and report it. The file's own timeouts win over
 * the command's: the author knew what that migration needs.
 */
modmig_status mm_apply_one(mm_session *s, const mm_step *step, modmig_direction dir,
                           const char *lock_timeout, const char *statement_timeout,
                           modmig_resume_mode mode, modmig_result **result, modmig_error **err)
{
	modmig_status rc;
	const modmig_migration *m = step->migration;
	double start = mm_now_ms(), took, waited_since = -1, reported = -1;
	run_args a;

	memset(&a, 0, sizeof(a));
	a.s = s;
	a.m = m;
	a.dir = dir;
	a.lock_timeout = m->parsed.lock_timeout ? m->parsed.lock_timeout : lock_timeout;
	a.statement_timeout =
	        m->parsed.statement_timeout ? m->parsed.statement_timeout : statement_timeout;
	if (step->failed && mode == MODMIG_RESUME_CONTINUE) {
		a.first_unit = step->failed_unit > 0 ? (size_t)step->failed_unit - 1 : 0;
		a.prefix = MODMIG_HISTORY_RESUMED;
	} else if (step->failed && mode == MODMIG_RESUME_RESTART) {
		a.prefix = MODMIG_HISTORY_RESTARTED;
	}
	mm_emit(s->db, MODMIG_EVENT_STARTED, MODMIG_LOG_INFO, m, dir, 0, NULL, "%s %s",
	        dir == MODMIG_UP ? "applying" : "rolling back", m->file);
	mm_progress_start(&a.progress, s->db, m, dir, (int)section_of(m, dir)->count);
	a.progress.where = where_running;
	a.progress.where_arg = &a;
	for (;;) {
		a.fence = FENCE_NONE;
		rc = m->parsed.no_transaction ? run_autocommit(&a, err)
		                              : run_in_transaction(&a, err);
		if (rc != MODMIG_OK || a.fence == FENCE_NONE || a.fence == FENCE_DONE)
			break;
		rc = fence_wait(&a, &waited_since, &reported, err);
		if (rc != MODMIG_OK)
			break;
	}
	mm_progress_end(&a.progress);
	took = mm_now_ms() - start;
	if (rc == MODMIG_OK && a.fence == FENCE_DONE) {
		/* not a failure: the version is where this run wanted it */
		s->skipped++;
		mm_emit(s->db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, m, dir, took, NULL,
		        "skipped %s: %s by another migrator (%s)", m->file,
		        dir == MODMIG_UP ? "applied already" : "rolled back already",
		        a.fence_message ? a.fence_message : "");
		free(a.fence_message);
		return MODMIG_OK;
	}
	free(a.fence_message);
	if (rc == MODMIG_E_CANCELLED) {
		mm_emit(s->db, MODMIG_EVENT_FAILED, MODMIG_LOG_ERROR, m, dir, took, NULL, "%s",
		        err && *err ? (*err)->message : "interrupted");
		return rc;
	}
	if (rc != MODMIG_OK) {
		explain_timeout(&a, err);
		mm_emit(s->db, MODMIG_EVENT_FAILED, MODMIG_LOG_ERROR, m, dir, took, NULL,
		        "%s %lld failed: %s", dir == MODMIG_UP ? "applying" : "rolling back",
		        (long long)m->version, err && *err ? (*err)->message : "error");
		return rc;
	}
	mm_emit(s->db, dir == MODMIG_UP ? MODMIG_EVENT_APPLIED : MODMIG_EVENT_ROLLED_BACK,
	        MODMIG_LOG_INFO, m, dir, took, NULL, "%s %s (%.1f ms)",
	        dir == MODMIG_UP ? "applied" : "rolled back", m->file, took);
	return mm_result_add(result, m, dir, took);
}

modmig_status mm_mark_rolled_back(mm_session *s, const mm_step *step, modmig_result **result,
                                  modmig_error **err)
{
	modmig_status rc;
	const modmig_migration *m = step->migration;
	run_args a;

	memset(&a, 0, sizeof(a));
	a.s = s;
	a.m = m;
	a.dir = MODMIG_DOWN;
	rc = record(&a, MODMIG_HISTORY_MARKED_ROLLED_BACK, 0, 0, NULL, err);
	if (rc != MODMIG_OK)
		return rc;
	mm_emit(s->db, MODMIG_EVENT_ROLLED_BACK, MODMIG_LOG_INFO, m, MODMIG_DOWN, 0, NULL,
	        "marked %s rolled back without running a Down section", m->file);
	return mm_result_add(result, m, MODMIG_DOWN, 0);
}

modmig_status mm_run_cancelled(const mm_step *last_done, const mm_step *next, modmig_direction dir,
                               modmig_error **err)
{
	const char *done = dir == MODMIG_UP ? "applied" : "rolled back";

	if (last_done && next)
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted after migration %lld was %s; migration %lld and later ones "
		        "were not started",
		        (long long)last_done->version, done, (long long)next->version);
	else if (last_done)
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted after migration %lld was %s", (long long)last_done->version,
		        done);
	else
		mm_fail(err, MODMIG_E_CANCELLED, NULL, 0, 0,
		        "interrupted before any migration was %s; nothing was changed", done);
	return MODMIG_E_CANCELLED;
}
