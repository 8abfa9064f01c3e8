/*
 * test_pq_paths.c - the error paths of state, apply and lock that a real
 * server reaches only by luck, played back through the scripted libpq of
 * harness_pq.h: a connection lost in the middle of a migration, a COMMIT
 * that fails, results of the wrong shape, a lock that is busy, refused or
 * never granted. Each test scripts exactly the SQL the library sends, so
 * what it does after a failure (a ROLLBACK, an unlock, no state row) is
 * asserted along with the status and the message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_pq.h"
#include "run/run.h"

/* ---- the fixture: one module, a transactional and a NO TRANSACTION file - */

#define SHA_TX   "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_NOTX "2222222222222222222222222222222222222222222222222222222222222222"

static const char manifest_yaml[] = "version_table: goose_db_version\n"
                                    "modules:\n"
                                    "  - name: db\n";
static const char tx_sql[] = "-- +goose Up\n"
                             "CREATE TABLE t (id int);\n"
                             "CREATE INDEX t_id ON t (id);\n";
static const char notx_sql[] = "-- +goose NO TRANSACTION\n"
                               "-- +goose Up\n"
                               "CREATE TABLE u (id int);\n"
                               "CREATE INDEX CONCURRENTLY u_id ON u (id);\n";

/* What the library writes for the default version table "goose_db_version". */
#define VERSION_TABLE "\"public\".\"goose_db_version\""
#define HISTORY_TABLE "\"public\".\"goose_db_version_history\""
#define MODULES_TABLE "\"public\".\"goose_db_version_modules\""
#define LOCK_TABLE    "\"public\".\"goose_db_version_lock\""
/* What every migration's transaction starts with: the clean session (apply.c). */
#define CLEAN_SESSION "RESET ALL;\nRESET SESSION AUTHORIZATION;\nDISCARD TEMP;\n"
/* Their results, BEGIN first, then the fence's DO. */
#define TX_PREFIX_OK                                                                               \
	HPQ_OK("BEGIN"), HPQ_OK("RESET"), HPQ_OK("RESET"), HPQ_OK("DISCARD TEMP"), HPQ_OK("DO")
/* The fence's key: FNV-1a of modmig-fence:"public"."goose_db_version" */
/* A transaction of history rows (apply.c's begin_events). */
#define EVENTS_BEGIN "BEGIN ISOLATION LEVEL READ COMMITTED;\n" BOOKKEEPING
#define FENCE_KEY    "-3218622884743784544"
#define FENCE(v, applies)                                                                          \
	"DO $modmig_fence$DECLARE r record; BEGIN\nPERFORM "                                       \
	"pg_catalog.pg_advisory_xact_lock(" FENCE_KEY ");\nIF " applies "coalesce((SELECT "        \
	"is_applied FROM " VERSION_TABLE " WHERE version_id = " v " ORDER BY id DESC LIMIT 1), "   \
	"false) THEN RAISE EXCEPTION USING ERRCODE = 'MMAPP', MESSAGE = 'version " v " is "        \
	"applied already'; END IF;\n"
#define FENCE_END "END$modmig_fence$;\n"
/* modmig's rows are written as the login role with pg_catalog's names only. */
#define BOOKKEEPING                                                                                \
	"SET LOCAL SESSION AUTHORIZATION DEFAULT;\nSET LOCAL search_path = pg_catalog, "           \
	"pg_temp;\n"
#define VERSION_ROW(v)                                                                             \
	"INSERT INTO " VERSION_TABLE " (version_id, is_applied) VALUES (" v ", true);\n"
#define HISTORY_ROW(event, v, file, sha, duration, unit, error)                                    \
	"INSERT INTO " HISTORY_TABLE " (event, version, module, file, sha256, duration_ms, "       \
	"client_host, failed_unit, error) VALUES ('" event "', " v ", 'db', '" file "', '" sha     \
	"', " duration ", 'testhost', " unit ", " error ");\n"
/* A transactional migration's history row: the server measures the transaction. */
#define SERVER_DURATION "extract(epoch from clock_timestamp() - now()) * 1000"

/* 1001 as one query string: BEGIN, its two units, its state rows, COMMIT. */
static const char tx_composed[] =
        "BEGIN ISOLATION LEVEL READ COMMITTED;\n" CLEAN_SESSION FENCE("1001", "") FENCE_END
        "CREATE TABLE t (id int);\n;\n"
        "CREATE INDEX t_id ON t (id);\n;\n" BOOKKEEPING VERSION_ROW("1001")
                HISTORY_ROW("applied", "1001", "01001_create_t.sql", SHA_TX, SERVER_DURATION,
                            "NULL::integer", "NULL") "COMMIT;\n";

#define TRY_LOCK "select pg_catalog.pg_try_advisory_lock($1::bigint)"
#define UNLOCK                                                                                     \
	"select case when exists (select 1 from pg_catalog.pg_locks where locktype = 'advisory' "  \
	"and pid = pg_backend_pid() and granted and classid = $2::oid and objid = $3::oid and "    \
	"objsubid = 1) then pg_catalog.pg_advisory_unlock($1::bigint) end"
#define FIND_HOLDER                                                                                \
	"select l.pid, coalesce(nullif(a.application_name, ''), 'no name'), coalesce(a.usename, "  \
	"'?'), coalesce(to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SSOF'), "                        \
	"to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SSOF'), '?'), coalesce(a.state, '?'), "      \
	"coalesce(extract(epoch from now() - a.state_change)::int, 0) from pg_locks l left join "  \
	"pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and l.granted and "     \
	"l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 1 and l.database = (select "   \
	"oid from pg_database where datname = current_database()) limit 1"
/*
 * The waiters' mark (run/lock.c): a shared advisory lock on the key's two
 * halves, taken at the first refusal and released once the wait ends.
 */
#define MARK_TAKE                                                                                  \
	"select case when pg_catalog.pg_backend_pid() = $5::int then "                             \
	"pg_catalog.pg_advisory_lock_shared($1::int, $2::int) end, $3::oid, $4::oid"
#define MARK_RELEASE                                                                               \
	"select case when exists (select 1 from pg_catalog.pg_locks where locktype = 'advisory' "  \
	"and pid = pg_backend_pid() and granted and classid = $3::oid and objid = $4::oid and "    \
	"objsubid = 2) then pg_catalog.pg_advisory_unlock_shared($1::int, $2::int) end, $5::int"
#define MARK_ROW HPQ_TUPLES(3, 1, "", "0", "0")
/* pid, application, user, since, state, seconds in that state */
#define HOLDER_ROW                                                                                 \
	HPQ_TUPLES(6, 1, "4242", "other-migrator", "deploy", "2026-01-02 03:04:05+00", "active",   \
	           "12")
#define EXISTS_CHECK                                                                               \
	"select to_regclass($1) is not null, to_regclass($2) is not null, to_regclass($3) is "     \
	"not null, to_regclass($4) is not null, coalesce((select n.nspname::text from pg_class c " \
	"join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)), "           \
	"current_schema()::text)"
/* The state query is store.c's to write; these tests are about reading its result. */
#define STATE_QUERY "select 1, v.version_id, v.id::bigint, "

typedef struct fixture {
	modmig_source *src;
	modmig_db *db;
	mm_session s;
	char key[32];    /* the lock key as sent */
	char key_hi[16]; /* its classid and objid in pg_locks */
	char key_lo[16];
	char events[8][256]; /* messages the log callback received */
	modmig_event_kind kinds[8];
	size_t event_count;
	size_t started; /* MODMIG_EVENT_STARTED events, kept apart from the rest */
} fixture;

static void on_log(void *userdata, const modmig_event *ev)
{
	fixture *f = userdata;

	/* the outcomes are under test; a migration's start line is checked once below */
	if (ev->kind == MODMIG_EVENT_STARTED) {
		f->started++;
		return;
	}
	if (f->event_count < sizeof(f->events) / sizeof(f->events[0])) {
		f->kinds[f->event_count] = ev->kind;
		snprintf(f->events[f->event_count++], sizeof(f->events[0]), "%s", ev->message);
	}
}

static int setup(void **state)
{
	const modmig_embedded_file files[] = {
	        {"modules.yaml", (const unsigned char *)manifest_yaml, sizeof(manifest_yaml) - 1,
	         NULL},
	        {"db/migrations/01001_create_t.sql", (const unsigned char *)tx_sql,
	         sizeof(tx_sql) - 1, SHA_TX},
	        {"db/migrations/01002_index_u.sql", (const unsigned char *)notx_sql,
	         sizeof(notx_sql) - 1, SHA_NOTX},
	};
	fixture *f = calloc(1, sizeof(*f));
	modmig_error *err = NULL;
	uint64_t u;

	assert_non_null(f);
	assert_int_equal(modmig_source_new_embedded(files, 3, &f->src, &err), MODMIG_OK);
	assert_int_equal(modmig_source_parse(f->src, &err), MODMIG_OK);
	f->db = mm_db_adopt(hpq_conn());
	assert_non_null(f->db);
	/* The history records the client's host name: make it the same everywhere. */
	snprintf(f->db->hostname, sizeof(f->db->hostname), "testhost");
	modmig_db_set_log(f->db, on_log, f);
	/* A session without the state read, for the tests of apply and lock alone. */
	f->s.db = f->db;
	f->s.src = f->src;
	assert_int_equal(mm_names_init(f->db, "goose_db_version", &f->s.names, &err), MODMIG_OK);
	assert_int_equal(mm_names_qualify(f->db, &f->s.names, "public", &err), MODMIG_OK);
	snprintf(f->key, sizeof(f->key), "%lld", (long long)f->s.names.lock_key);
	memcpy(&u, &f->s.names.lock_key, sizeof(u));
	snprintf(f->key_hi, sizeof(f->key_hi), "%u", (unsigned)(u >> 32));
	snprintf(f->key_lo, sizeof(f->key_lo), "%u", (unsigned)(u & 0xffffffffu));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	/*
	 * After a failed test the db may still be open with a script half played:
	 * leave it (a leak in a failed test) rather than send anything more.
	 */
	f->s.locked = false;
	mm_session_close(&f->s);
	modmig_source_free(f->src);
	free(f);
	return 0;
}

/* Free the db (the script's last step is its PQfinish) and check the script ran out. */
static void finish(fixture *f)
{
	modmig_db_free(f->db);
	f->db = NULL;
	hpq_assert_done();
}

static const mm_step *step_of(fixture *f, int64_t version, mm_step *step)
{
	memset(step, 0, sizeof(*step));
	step->migration = modmig_source_find(f->src, version);
	assert_non_null(step->migration);
	step->version = version;
	return step;
}

/* ---- apply: a transactional migration ----------------------------------- */

/*
 * The server goes away after the first unit's result. The whole migration
 * was one query string with its state rows and COMMIT in it, so nothing more
 * is sent: no ROLLBACK on a dead connection, no state row, and the result
 * lists nothing applied.
 */
static void tx_connection_lost(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"), HPQ_LOST)},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* Nothing is reported applied. */
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_non_null(err);
	assert_int_equal(err->code, MODMIG_E_SQL);
	assert_string_equal(err->message,
	                    "migration 1001 failed: server closed the connection unexpectedly");
	assert_null(err->sqlstate);
	assert_int_equal(err->version, 1001);
	assert_string_equal(err->module, "db");
	assert_string_equal(err->file, "modules/db/migrations/01001_create_t.sql");
	/* The first unit's result came: the loss is placed at the second unit. */
	assert_int_equal(err->line, 3);
	assert_int_equal(err->column, 1);
	assert_int_equal(f->event_count, 1);
	assert_int_equal(f->kinds[0], MODMIG_EVENT_FAILED);
	assert_string_equal(f->events[0], "applying 1001 failed: migration 1001 failed: server "
	                                  "closed the connection unexpectedly");
	assert_int_equal(PQstatus(f->db->conn), CONNECTION_BAD);
	modmig_error_free(err);
	finish(f);
}

/*
 * The server confirms COMMIT, then the connection drops before it reports
 * itself ready (libpq then hands out a "server closed the connection"
 * error after COMMIT's result). The migration and its version row were
 * committed together: it is applied, and reporting it failed would
 * contradict what modmig recorded. Nothing more is sent.
 */
static void tx_connection_lost_after_commit(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"), HPQ_OK("CREATE INDEX"),
	                     HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"), HPQ_LOST)},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_OK);
	assert_null(err);
	assert_int_equal(modmig_result_count(result), 1);
	assert_int_equal(f->started, 1);
	assert_int_equal(f->kinds[0], MODMIG_EVENT_APPLIED);
	/* The next statement finds the connection gone. */
	assert_int_equal(PQstatus(f->db->conn), CONNECTION_BAD);
	modmig_result_free(result);
	finish(f);
}

/*
 * The same loss after a COMMIT that is not modmig's (the script has the
 * first unit answer COMMIT, as a unit's own COMMIT would, which DESIGN §3
 * rule 6 is to refuse): that committed the units before it but no state
 * row, so the migration failed and is reported so.
 */
static void tx_connection_lost_after_unit_commit(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("COMMIT"), HPQ_LOST)},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	assert_string_equal(err->message,
	                    "migration 1001 failed: server closed the connection unexpectedly");
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	modmig_error_free(err);
	finish(f);
}

/*
 * A serialization failure at COMMIT: every unit and both state rows
 * succeeded, then COMMIT failed, which ends the transaction (the status is
 * idle again). The migration is reported failed with the server's SQLSTATE,
 * detail and hint, at no unit, and no ROLLBACK follows.
 */
static void tx_commit_fails(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_result serialization = {
	        .status = PGRES_FATAL_ERROR,
	        .sqlstate = "40001",
	        .message = "could not serialize access due to read/write dependencies among "
	                   "transactions",
	        .detail = "Reason code: Canceled on identification as a pivot, during commit "
	                  "attempt.",
	        .hint = "The transaction might succeed if retried.",
	};
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"), HPQ_OK("CREATE INDEX"),
	                     HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("INSERT 0 1"), serialization),
	         .after = PQTRANS_IDLE},
	        {HPQ_EXEC(EVENTS_BEGIN HISTORY_ROW("failed_atomic", "1001", "01001_create_t.sql",
	                                           SHA_TX, HPQ_ANY " / 1000.0", "NULL::integer",
	                                           "'SQLSTATE 40001: " HPQ_ANY "'") "COMMIT;\n"),
	         .match = HPQ_GLOB,
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* Nothing is reported applied. */
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_string_equal(err->message, "migration 1001 failed: could not serialize access due "
	                                  "to read/write dependencies among transactions");
	assert_string_equal(err->sqlstate, "40001");
	assert_string_equal(err->detail,
	                    "Reason code: Canceled on identification as a pivot, during commit "
	                    "attempt.");
	assert_string_equal(err->hint, "The transaction might succeed if retried.");
	assert_int_equal(err->version, 1001);
	/* Every unit's result came back: no unit is blamed. */
	assert_int_equal(err->line, 0);
	assert_string_equal(err->file, "modules/db/migrations/01001_create_t.sql");
	modmig_error_free(err);
	finish(f);
}

/* A deferred foreign key checked at COMMIT: the same path, another SQLSTATE. */
static void tx_commit_deferred_constraint(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"), HPQ_OK("CREATE INDEX"),
	                     HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("INSERT 0 1"),
	                     HPQ_ERROR("23503", "insert or update on table \"t\" violates foreign "
	                                        "key constraint \"t_id_fkey\""))},
	        {HPQ_EXEC(EVENTS_BEGIN HISTORY_ROW("failed_atomic", "1001", "01001_create_t.sql",
	                                           SHA_TX, HPQ_ANY " / 1000.0", "NULL::integer",
	                                           "'SQLSTATE 23503: " HPQ_ANY "'") "COMMIT;\n"),
	         .match = HPQ_GLOB,
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* Nothing is reported applied. */
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_string_equal(err->message, "migration 1001 failed: insert or update on table \"t\" "
	                                  "violates foreign key constraint \"t_id_fkey\"");
	assert_string_equal(err->sqlstate, "23503");
	assert_int_equal(err->line, 0);
	modmig_error_free(err);
	finish(f);
}

/*
 * A unit fails with a position: the transaction is left failed, so exactly
 * one ROLLBACK follows, and the position maps back to the file's line and
 * column (character 21 of the query string is the "t" of "CREATE TABLE t").
 */
static void tx_unit_error_rolls_back(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	char position[16];
	const hpq_result exists = {
	        .status = PGRES_FATAL_ERROR,
	        .sqlstate = "42P07",
	        .message = "relation \"t\" already exists",
	        .position = position,
	};
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed), HPQ_RESULTS(TX_PREFIX_OK, exists),
	         .after = PQTRANS_INERROR},
	        {HPQ_EXEC("ROLLBACK"), HPQ_RESULTS(HPQ_OK("ROLLBACK"))},
	        {HPQ_EXEC(EVENTS_BEGIN HISTORY_ROW(
	                 "failed_atomic", "1001", "01001_create_t.sql", SHA_TX, HPQ_ANY " / 1000.0",
	                 "1", "'line 2:14: SQLSTATE 42P07: " HPQ_ANY "'") "COMMIT;\n"),
	         .match = HPQ_GLOB,
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_FINISH},
	};

	/* the server's 1-based character position of "t" in the whole string (ASCII) */
	snprintf(position, sizeof(position), "%d",
	         (int)(strstr(tx_composed, "CREATE TABLE t (") - tx_composed) + 14);
	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* Nothing is reported applied. */
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_string_equal(err->message, "migration 1001 failed: relation \"t\" already exists");
	assert_string_equal(err->sqlstate, "42P07");
	assert_int_equal(err->line, 2);
	assert_int_equal(err->column, 14);
	modmig_error_free(err);
	finish(f);
}

/* The happy path, so the failures above differ from it in what they assert. */
static void tx_applied(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"), HPQ_OK("CREATE INDEX"),
	                     HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_OK);
	assert_null(err);
	assert_int_equal(modmig_result_count(result), 1);
	assert_int_equal(f->kinds[0], MODMIG_EVENT_APPLIED);
	modmig_result_free(result);
	finish(f);
}

/* ---- apply: a NO TRANSACTION migration ---------------------------------- */

/*
 * The connection is lost at the second unit of a NO TRANSACTION migration:
 * unit 1 took effect. The library still tries to record the failure (and a
 * ROLLBACK) on the dead connection, which libpq refuses at once; it never
 * records the migration as applied, and the hint says which units ran.
 */
static void notx_connection_lost(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	/*
	 * Each unit is recorded as started before it is sent, and unit 1 as done
	 * with unit 2's start. Once the connection is lost nothing more can be
	 * recorded: the history's last word, unit 2 started, is accurate.
	 */
	const hpq_step script[] = {
	        /* the start, under the fence, recorded before any unit runs */
	        {HPQ_SEND_QUERY("BEGIN ISOLATION LEVEL READ COMMITTED;\n" CLEAN_SESSION FENCE(
	                 "1002", "") "SELECT h.id, " HPQ_ANY
	                             "END IF;\n" FENCE_END BOOKKEEPING HISTORY_ROW(
	                                     "unit_started", "1002", "01002_index_u.sql", SHA_NOTX,
	                                     SERVER_DURATION, "1", "NULL") "COMMIT;\n"),
	         .match = HPQ_GLOB,
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("COMMIT"))},
	        {HPQ_SEND_QUERY("CREATE TABLE u (id int);"), HPQ_RESULTS(HPQ_OK("CREATE TABLE"))},
	        {HPQ_EXEC(EVENTS_BEGIN HISTORY_ROW("unit_done", "1002", "01002_index_u.sql",
	                                           SHA_NOTX, SERVER_DURATION, "1", "NULL")
	                          HISTORY_ROW("unit_started", "1002", "01002_index_u.sql", SHA_NOTX,
	                                      SERVER_DURATION, "2", "NULL") "COMMIT;\n"),
	         HPQ_RESULTS(HPQ_OK("BEGIN"), HPQ_OK("SET"), HPQ_OK("SET"), HPQ_OK("INSERT 0 1"),
	                     HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_SEND_QUERY("CREATE INDEX CONCURRENTLY u_id ON u (id);"),
	         HPQ_RESULTS(HPQ_LOST)},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1002, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* Nothing is reported applied. */
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_string_equal(err->message,
	                    "migration 1002 failed: server closed the connection unexpectedly");
	assert_null(err->sqlstate);
	assert_int_equal(err->line, 4);
	assert_non_null(err->hint);
	assert_non_null(strstr(err->hint, "unit 1 of 2 took effect; unit 2 failed"));
	modmig_error_free(err);
	finish(f);
}

/* ---- the state read ----------------------------------------------------- */

/* The pipeline of mm_state_read: the state query, then the existence check. */
#define STATE_STEPS(full, exist)                                                                   \
	{HPQ_SEND_PARAMS(STATE_QUERY), .match = HPQ_PREFIX, full},                                 \
	{                                                                                          \
		HPQ_SEND_PARAMS(EXISTS_CHECK),                                                     \
		        .params = HPQ_PARAMS(VERSION_TABLE, HISTORY_TABLE, MODULES_TABLE,          \
		                             LOCK_TABLE),                                          \
		        exist                                                                      \
	}

/* The first read of a session, before the version table's schema is known. */
#define STATE_STEPS_UNQUALIFIED(full, exist)                                                       \
	{HPQ_SEND_PARAMS(STATE_QUERY), .match = HPQ_PREFIX, full},                                 \
	{                                                                                          \
		HPQ_SEND_PARAMS(EXISTS_CHECK),                                                     \
		        .params = HPQ_PARAMS(                                                      \
		                "\"goose_db_version\"", "\"goose_db_version_history\"",            \
		                "\"goose_db_version_modules\"", "\"goose_db_version_lock\""),      \
		        exist                                                                      \
	}

#define ALL_EXIST HPQ_RESULTS(HPQ_TUPLES(5, 1, "t", "t", "t", "t", "public"))

/* A well-formed read, so the shapes below fail for their shape alone. */
static void state_read_rows(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	mm_state st;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_TUPLES(8, 3,
	                                           /* applied 1001, id 7 */
	                                           "1", "1001", "7", "2026-01-02 03:04:05",
	                                           HPQ_NULL, HPQ_NULL, HPQ_NULL, HPQ_NULL,
	                                           /* its history event */
	                                           "2", "1001", "9", HPQ_NULL, "applied", SHA_TX,
	                                           HPQ_NULL, HPQ_NULL,
	                                           /* module db at position 1 */
	                                           "3", "1", "0", HPQ_NULL, "db", HPQ_NULL,
	                                           HPQ_NULL, HPQ_NULL)),
	                    ALL_EXIST),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_state_read(f->db, &f->s.names, &st, &err), MODMIG_OK);
	assert_int_equal(st.applied_count, 1);
	assert_int_equal(st.applied[0].version, 1001);
	assert_int_equal(st.applied[0].id, 7);
	assert_string_equal(st.applied[0].applied_at, "2026-01-02 03:04:05");
	assert_int_equal(st.event_count, 1);
	assert_string_equal(st.events[0].event, "applied");
	assert_int_equal(st.events[0].failed_unit, 0);
	assert_null(st.events[0].error);
	assert_int_equal(st.module_count, 1);
	assert_string_equal(st.modules[0].name, "db");
	assert_int_equal(st.modules[0].position, 1);
	mm_state_clear(&st);
	finish(f);
}

static void expect_state_error(fixture *f, const char *message)
{
	modmig_error *err = NULL;
	mm_state st;

	assert_int_equal(mm_state_read(f->db, &f->s.names, &st, &err), MODMIG_E_STATE);
	assert_non_null(err);
	assert_int_equal(err->code, MODMIG_E_STATE);
	assert_string_equal(err->message, message);
	/* A failed read leaves nothing behind. */
	assert_int_equal(st.applied_count + st.event_count + st.module_count, 0);
	assert_null(st.applied);
	modmig_error_free(err);
	finish(f);
}

/* Two columns where the query has eight: an error, not a read past the row. */
static void state_wrong_column_count(void **state)
{
	fixture *f = *state;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_TUPLES(2, 1, "1", "1001")), ALL_EXIST),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	expect_state_error(f, "cannot read modmig's state: the server returned 2 columns where 8 "
	                      "were expected");
}

/* A NULL version: the row would otherwise be read as version 0. */
static void state_null_value(void **state)
{
	fixture *f = *state;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_TUPLES(8, 1, "1", HPQ_NULL, "7", "2026-01-02 03:04:05",
	                                           HPQ_NULL, HPQ_NULL, HPQ_NULL, HPQ_NULL)),
	                    ALL_EXIST),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	expect_state_error(f, "cannot read modmig's state: row 1 has NULL in column 2, where a "
	                      "value is expected");
}

/* A row of a kind the query does not write: the result is not ours. */
static void state_unknown_kind(void **state)
{
	fixture *f = *state;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_TUPLES(8, 1, "4", "1001", "7", HPQ_NULL, HPQ_NULL,
	                                           HPQ_NULL, HPQ_NULL, HPQ_NULL)),
	                    ALL_EXIST),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	expect_state_error(f, "cannot read modmig's state: row 1 is of kind 4, expected 1 to 3");
}

/*
 * The tables are missing (42P01), and the existence check that should then
 * say which ones exist returns no row at all: the server's own error is
 * reported, as nothing else can be known.
 */
static void state_exists_check_no_row(void **state)
{
	fixture *f = *state;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_ERROR("42P01", "relation \"goose_db_version\" does "
	                                                   "not exist")),
	                    HPQ_RESULTS(HPQ_EMPTY(3))),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	expect_state_error(f, "cannot read modmig's state: relation \"goose_db_version\" does not "
	                      "exist");
}

/* The connection is lost during the pipeline: the existence check's answer never comes. */
static void state_connection_lost(void **state)
{
	fixture *f = *state;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_LOST), ALL_EXIST),
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	expect_state_error(f, "cannot read modmig's state: server closed the connection "
	                      "unexpectedly");
}

/* A goose database being adopted: only the version table exists, read on its own. */
static void state_partial_tables(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	mm_state st;
	const hpq_step script[] = {
	        STATE_STEPS(HPQ_RESULTS(HPQ_ERROR("42P01", "relation \"goose_db_version_history\" "
	                                                   "does not exist")),
	                    HPQ_RESULTS(HPQ_TUPLES(5, 1, "t", "f", "f", "f", "public"))),
	        {HPQ_EXEC(
	                 "select 1, v.version_id, v.id::bigint, to_char(v.tstamp, 'YYYY-MM-DD "
	                 "HH24:MI:SS'), null::text, null::text, null::int, null::text from (select "
	                 "distinct on (version_id) version_id, id, is_applied, tstamp "
	                 "from " VERSION_TABLE " order by version_id, id desc) v where "
	                 "v.is_applied and v.version_id <> 0 "
	                 "order by 1, 2"),
	         HPQ_RESULTS(HPQ_TUPLES(8, 1, "1", "1001", "3", "2026-01-02 03:04:05", HPQ_NULL,
	                                HPQ_NULL, HPQ_NULL, HPQ_NULL))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_state_read(f->db, &f->s.names, &st, &err), MODMIG_OK);
	assert_true(st.has[MM_TABLE_VERSION]);
	assert_false(st.has[MM_TABLE_HISTORY]);
	assert_false(st.has[MM_TABLE_MODULES]);
	assert_int_equal(st.applied_count, 1);
	assert_int_equal(st.applied[0].version, 1001);
	mm_state_clear(&st);
	finish(f);
}

/* ---- the lock ----------------------------------------------------------- */

static void lock_query_fails(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_ERROR("57014", "canceling statement due to statement timeout"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_E_SQL);
	assert_string_equal(err->message,
	                    "cannot take the migration lock: canceling statement due to statement "
	                    "timeout");
	assert_string_equal(err->sqlstate, "57014");
	modmig_error_free(err);
	finish(f);
}

/*
 * Not granted twice, then granted: the holder is looked up once and
 * reported once, and polling goes on until the lock is ours.
 */
static void lock_polls_until_granted(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "f"))},
	        {HPQ_EXEC_PARAMS(MARK_TAKE), HPQ_RESULTS(MARK_ROW)},
	        {HPQ_EXEC_PARAMS(FIND_HOLDER), .params = HPQ_PARAMS(f->key_hi, f->key_lo),
	         HPQ_RESULTS(HOLDER_ROW)},
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "f"))},
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "t"))},
	        {HPQ_EXEC_PARAMS(MARK_RELEASE), HPQ_RESULTS(HPQ_TUPLES(2, 1, "", "0"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_OK);
	assert_null(err);
	assert_int_equal(f->event_count, 1);
	assert_int_equal(f->kinds[0], MODMIG_EVENT_LOCK_WAIT);
	assert_string_equal(
	        f->events[0],
	        "waiting for the migration lock held by pid 4242 (other-migrator, user deploy, "
	        "active for 12s)");
	finish(f);
}

/* With no time to wait, the first refusal is a timeout that names the holder. */
static void lock_times_out(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "f"))},
	        {HPQ_EXEC_PARAMS(MARK_TAKE), HPQ_RESULTS(MARK_ROW)},
	        {HPQ_EXEC_PARAMS(FIND_HOLDER), .params = HPQ_PARAMS(f->key_hi, f->key_lo),
	         HPQ_RESULTS(HOLDER_ROW)},
	        {HPQ_EXEC_PARAMS(MARK_RELEASE), HPQ_RESULTS(HPQ_TUPLES(2, 1, "", "0"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	modmig_db_set_lock_timeout(f->db, 0);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_E_LOCK_TIMEOUT);
	assert_string_equal(err->message,
	                    "timed out after 0s waiting for the migration lock held "
	                    "by pid 4242 (other-migrator, user deploy, active for 12s)");
	modmig_error_free(err);
	finish(f);
}

/* The holder let go between the refusal and the look-up: the message says it cannot tell. */
static void lock_holder_gone(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "f"))},
	        {HPQ_EXEC_PARAMS(MARK_TAKE), HPQ_RESULTS(MARK_ROW)},
	        {HPQ_EXEC_PARAMS(FIND_HOLDER), .params = HPQ_PARAMS(f->key_hi, f->key_lo),
	         HPQ_RESULTS(HPQ_EMPTY(6))},
	        {HPQ_EXEC_PARAMS(MARK_RELEASE), HPQ_RESULTS(HPQ_TUPLES(2, 1, "", "0"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	modmig_db_set_lock_timeout(f->db, 0);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_E_LOCK_TIMEOUT);
	assert_string_equal(err->message, "timed out after 0s waiting for the migration lock held "
	                                  "by a session that is gone now");
	modmig_error_free(err);
	finish(f);
}

/*
 * pg_try_advisory_lock answered with no row, or with NULL: not granted and
 * not refused either. Reading row 0 would crash; reading NULL as "not
 * granted" would poll for ever. Both are errors.
 */
static void lock_unexpected_result(void **state)
{
	fixture *f = *state;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_EMPTY(1))},
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, HPQ_NULL))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_E_SQL);
	assert_string_equal(err->message, "cannot take the migration lock: the server returned 0 "
	                                  "rows where 1 was expected");
	modmig_error_free(err);
	err = NULL;
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_E_SQL);
	assert_string_equal(err->message, "cannot take the migration lock: the server returned "
	                                  "NULL where true or false was expected");
	modmig_error_free(err);
	finish(f);
}

/*
 * A whole locked session: open (state read), lock (granted, state read
 * again), a migration that fails at a unit, then close: the failed
 * transaction was rolled back by apply, so close sends the unlock and
 * nothing else.
 */
static void session_releases_lock_after_failure(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        STATE_STEPS_UNQUALIFIED(HPQ_RESULTS(HPQ_TUPLES(8, 1, "3", "1", "0", HPQ_NULL, "db",
	                                                       HPQ_NULL, HPQ_NULL, HPQ_NULL)),
	                                ALL_EXIST),
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "t"))},
	        STATE_STEPS(HPQ_RESULTS(HPQ_TUPLES(8, 1, "3", "1", "0", HPQ_NULL, "db", HPQ_NULL,
	                                           HPQ_NULL, HPQ_NULL)),
	                    ALL_EXIST),
	        {HPQ_SEND_QUERY(tx_composed),
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("CREATE TABLE"),
	                     HPQ_ERROR("42501", "permission denied for schema public")),
	         .after = PQTRANS_INERROR},
	        {HPQ_EXEC("ROLLBACK"), HPQ_RESULTS(HPQ_OK("ROLLBACK"))},
	        {HPQ_EXEC(EVENTS_BEGIN HISTORY_ROW(
	                 "failed_atomic", "1001", "01001_create_t.sql", SHA_TX, HPQ_ANY " / 1000.0",
	                 "2", "'line 3:1: SQLSTATE 42501: " HPQ_ANY "'") "COMMIT;\n"),
	         .match = HPQ_GLOB,
	         HPQ_RESULTS(TX_PREFIX_OK, HPQ_OK("INSERT 0 1"), HPQ_OK("COMMIT"))},
	        {HPQ_EXEC_PARAMS(UNLOCK), .params = HPQ_PARAMS(f->key, f->key_hi, f->key_lo),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "t"))},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	mm_names_clear(&f->s.names);
	assert_int_equal(mm_session_open(&f->s, f->db, f->src, &err), MODMIG_OK);
	assert_int_equal(mm_session_lock(&f->s, &err), MODMIG_OK);
	assert_true(f->s.locked);
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	assert_string_equal(err->message,
	                    "migration 1001 failed: permission denied for schema public");
	assert_string_equal(err->sqlstate, "42501");
	/* The second unit was the one that failed (line 3). */
	assert_int_equal(err->line, 3);
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	mm_session_close(&f->s);
	assert_false(f->s.locked);
	modmig_error_free(err);
	finish(f);
}

/* After a lost connection close sends nothing: the server released the lock with the session. */
static void session_lost_sends_no_unlock(void **state)
{
	fixture *f = *state;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	mm_step step;
	const hpq_step script[] = {
	        {HPQ_EXEC_PARAMS(TRY_LOCK), .params = HPQ_PARAMS(f->key),
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "t"))},
	        {HPQ_SEND_QUERY(tx_composed), HPQ_RESULTS(HPQ_LOST)},
	        {HPQ_FINISH},
	};

	HPQ_SCRIPT(script);
	assert_int_equal(mm_result_new(&result, &err), MODMIG_OK);
	assert_int_equal(mm_lock_acquire(f->db, &f->s.names, &err), MODMIG_OK);
	f->s.locked = true;
	assert_int_equal(mm_apply_one(&f->s, step_of(f, 1001, &step), MODMIG_UP, NULL, NULL,
	                              MODMIG_RESUME_NONE, &result, &err),
	                 MODMIG_E_SQL);
	/* No result at all: the failure is placed at no unit. */
	assert_int_equal(err->line, 0);
	assert_int_equal(modmig_result_count(result), 0);
	modmig_result_free(result);
	assert_string_equal(err->message,
	                    "migration 1001 failed: server closed the connection unexpectedly");
	mm_session_close(&f->s);
	modmig_error_free(err);
	finish(f);
}

/* ---- connecting --------------------------------------------------------- */

/*
 * What reaches libpq: the search_path taken out of options (migrations must
 * not run with the application's), the rest as written, and modmig's
 * defaults. libpq itself parses the string (PQconninfoParse is forwarded).
 */
static void connect_strips_search_path(void **state)
{
	modmig_db *db = NULL;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_CONNECT("dbname=app host=db1 options=-c statement_timeout=5s "
	                     "fallback_application_name=modmig client_encoding=UTF8")},
	        {HPQ_FINISH},
	};

	(void)state;
	/* modmig reads these to choose what it passes: keep the caller's out. */
	unsetenv("PGOPTIONS");
	unsetenv("PGCLIENTENCODING");
	HPQ_SCRIPT(script);
	assert_int_equal(modmig_db_connect("host=db1 dbname=app options='-c search_path=app,public "
	                                   "-c statement_timeout=5s'",
	                                   &db, &err),
	                 MODMIG_OK);
	assert_string_equal(modmig_db_stripped_search_path(db), "app,public");
	assert_string_equal(modmig_db_display(db), "postgresql://modmig@localhost:5432/app");
	assert_int_equal(modmig_db_server_version(db), 170000);
	modmig_db_free(db);
	hpq_assert_done();
}

/* A refused connection: libpq's first line, the password never shown, the handle finished. */
static void connect_refused(void **state)
{
	modmig_db *db = NULL;
	modmig_error *err = NULL;
	const hpq_step script[] = {
	        {HPQ_CONNECT("user=app password=s3cret dbname=app host=db1 "
	                     "fallback_application_name=modmig client_encoding=UTF8"),
	         HPQ_RESULTS(HPQ_ERROR(NULL, "connection to server at \"db1\" failed: password "
	                                     "s3cret rejected\n\tIs the server running?\n"))},
	        {HPQ_FINISH},
	};

	(void)state;
	/* modmig reads these to choose what it passes: keep the caller's out. */
	unsetenv("PGOPTIONS");
	unsetenv("PGCLIENTENCODING");
	HPQ_SCRIPT(script);
	assert_int_equal(modmig_db_connect("postgresql://app:s3cret@db1/app", &db, &err),
	                 MODMIG_E_CONNECT);
	assert_null(db);
	assert_string_equal(err->message, "cannot connect to the database: connection to server at "
	                                  "\"db1\" failed: password xxxxx rejected");
	modmig_error_free(err);
	hpq_assert_done();
}

/* ---- the harness itself ------------------------------------------------- */

/* A script that is not played to its end is a failure the test can see. */
static void harness_glob_and_escapes(void **state)
{
	fixture *f = *state;
	char *lit = PQescapeLiteral(f->db->conn, "it's a \\ test", 13);
	char *ident = PQescapeIdentifier(f->db->conn, "we\"ird", 6);
	const hpq_step script[] = {
	        {HPQ_EXEC("select {*} from {*}t"), .match = HPQ_GLOB,
	         HPQ_RESULTS(HPQ_TUPLES(1, 1, "x"))},
	        {HPQ_FINISH},
	};
	PGresult *res;

	assert_string_equal(lit, " E'it''s a \\\\ test'");
	assert_string_equal(ident, "\"we\"\"ird\"");
	PQfreemem(lit);
	PQfreemem(ident);
	HPQ_SCRIPT(script);
	res = PQexec(f->db->conn, "select a, b from t");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_null(PQgetvalue(res, 0, 1));
	assert_int_equal(PQgetisnull(res, 1, 0), 1);
	PQclear(res);
	assert_int_equal(hpq_step_index(), 1);
	finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(tx_applied, setup, teardown),
	        cmocka_unit_test_setup_teardown(tx_connection_lost, setup, teardown),
	        cmocka_unit_test_setup_teardown(tx_connection_lost_after_commit, setup, teardown),
	        cmocka_unit_test_setup_teardown(tx_connection_lost_after_unit_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(tx_commit_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(tx_commit_deferred_constraint, setup, teardown),
	        cmocka_unit_test_setup_teardown(tx_unit_error_rolls_back, setup, teardown),
	        cmocka_unit_test_setup_teardown(notx_connection_lost, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_read_rows, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_wrong_column_count, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_null_value, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_unknown_kind, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_exists_check_no_row, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_connection_lost, setup, teardown),
	        cmocka_unit_test_setup_teardown(state_partial_tables, setup, teardown),
	        cmocka_unit_test_setup_teardown(lock_query_fails, setup, teardown),
	        cmocka_unit_test_setup_teardown(lock_polls_until_granted, setup, teardown),
	        cmocka_unit_test_setup_teardown(lock_times_out, setup, teardown),
	        cmocka_unit_test_setup_teardown(lock_holder_gone, setup, teardown),
	        cmocka_unit_test_setup_teardown(lock_unexpected_result, setup, teardown),
	        cmocka_unit_test_setup_teardown(session_releases_lock_after_failure, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(session_lost_sends_no_unlock, setup, teardown),
	        cmocka_unit_test(connect_strips_search_path),
	        cmocka_unit_test(connect_refused),
	        cmocka_unit_test_setup_teardown(harness_glob_and_escapes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
