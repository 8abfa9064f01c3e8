/*
 * online.h - internals of the online half of libmodmig: the connection, the
 * migration lock, modmig's state tables, the pure planner and the executor.
 * Shared by db.c, lock.c, store.c, plan.c, apply.c, status.c and startup.c.
 */
#ifndef MODMIG_ONLINE_H
#define MODMIG_ONLINE_H

#include "internal.h"

#include <libpq-fe.h>

/* ---- the connection (db.c) ---------------------------------------------- */

struct modmig_db {
	PGconn *conn;
	char *display;              /* URL-ish, password redacted */
	char *stripped_search_path; /* removed from options, or NULL */
	char *secrets[3];           /* passwords to redact from every message */
	modmig_log_fn log;
	void *log_userdata;
	int lock_timeout_ms; /* < 0: wait forever */
	int server_version;
	char hostname[256]; /* recorded in the history as client_host */
};

/* Report an event through the log callback (a no-op without one). */
void mm_emit(modmig_db *db, modmig_event_kind kind, modmig_log_level level,
             const modmig_migration *m, modmig_direction dir, double duration_ms, const char *sql,
             const char *fmt, ...) MM_PRINTF(8, 9);

/*
 * Record a server error: the message is "<what>: <primary message>" and the
 * SQLSTATE, detail, hint and context are copied from res. With res NULL the
 * connection's error message is used. Passwords are redacted.
 */
modmig_status mm_db_fail(modmig_db *db, const PGresult *res, modmig_status code, modmig_error **err,
                         const char *what);

/* Run one command that returns no rows; failures become code via mm_db_fail. */
modmig_status mm_db_exec(modmig_db *db, const char *sql, modmig_status code, const char *what,
                         modmig_error **err);

/* A copy of text with every known password replaced by "xxxxx". */
char *mm_db_redact(const modmig_db *db, const char *text);

/* ---- names of modmig's tables (store.c) --------------------------------- */

/*
 * The version table as written in the configuration and the quoted names
 * derived from it. The history and the registry live beside the version
 * table: "<table>_history" and "<table>_modules" in the same schema.
 */
typedef struct mm_names {
	char *written;  /* as configured, e.g. "app.goose_db_version" */
	char *version;  /* quoted and qualified, e.g. "app"."goose_db_version" */
	char *history;  /* "app"."goose_db_version_history" */
	char *modules;  /* "app"."goose_db_version_modules" */
	char *schema;   /* quoted schema, or NULL when unqualified */
	char *guard_fn; /* the history's append-only trigger function */
	int64_t lock_key;
} mm_names;

modmig_status mm_names_init(modmig_db *db, const char *version_table, mm_names *out,
                            modmig_error **err);
void mm_names_clear(mm_names *n);

/* ---- database state (store.c) ------------------------------------------- */

/* A version whose most recent row in the version table says applied. */
typedef struct mm_applied {
	int64_t version;
	int64_t id; /* that row's id: the apply order */
	char applied_at[24];
} mm_applied;

/* The most recent history event of a version. */
typedef struct mm_event_row {
	int64_t version;
	char *event; /* applied, rolled_back, failed, stamped, resumed, restarted */
	char *sha256;
	int failed_unit; /* 1-based, 0 when none */
	char *error;
} mm_event_row;

/* A row of the module registry. */
typedef struct mm_registered {
	char *name;
	int position; /* 1-based manifest position: versions position*1000+1.. */
} mm_registered;

typedef struct mm_state {
	bool has_version_table;
	bool has_history;
	bool has_registry;
	mm_applied *applied; /* ascending version */
	size_t applied_count;
	mm_event_row *events; /* ascending version */
	size_t event_count;
	mm_registered *modules; /* ascending position */
	size_t module_count;
} mm_state;

/* Read all state in one round trip; missing tables read as empty. */
modmig_status mm_state_read(modmig_db *db, const mm_names *n, mm_state *out, modmig_error **err);
void mm_state_clear(mm_state *st);
const mm_applied *mm_state_find_applied(const mm_state *st, int64_t version);
const mm_event_row *mm_state_find_event(const mm_state *st, int64_t version);
int64_t mm_state_max_applied(const mm_state *st);
/*
 * The highest applied version at or below limit (0 when none): the planner
 * and verify both ask whether a pending file sits below something applied.
 */
int64_t mm_state_max_applied_upto(const mm_state *st, int64_t limit);

/* Create whichever state tables st says are missing, in one transaction. */
modmig_status mm_store_create(modmig_db *db, const mm_names *n, const mm_state *st,
                              modmig_error **err);
/* Register the source's modules from index first_new on. */
modmig_status mm_store_register(modmig_db *db, const mm_names *n, const modmig_source *src,
                                size_t first_new, modmig_error **err);

/*
 * Append the SQL for one migration's state rows to b, values escaped as
 * literals. duration_ms < 0 lets the server measure the transaction so far.
 */
bool mm_store_sql_version_row(mm_buf *b, const mm_names *n, modmig_direction dir, int64_t version);
bool mm_store_sql_history_row(mm_buf *b, modmig_db *db, const mm_names *n, const char *event,
                              const modmig_migration *m, double duration_ms, int failed_unit,
                              const char *error);

/* ---- the lock and the locked session (lock.c) --------------------------- */

modmig_status mm_lock_acquire(modmig_db *db, const mm_names *n, modmig_error **err);
void mm_lock_release(modmig_db *db, const mm_names *n);

/*
 * Everything an online command needs: names, the lock and the state read
 * under it. mm_session_lock() takes the lock, creates missing tables (unless
 * dry_run), re-reads state and checks (and extends) the module registry.
 */
typedef struct mm_session {
	modmig_db *db;
	const modmig_source *src;
	mm_names names;
	mm_state state;
	bool state_read; /* state holds a successful read */
	bool locked;
} mm_session;

modmig_status mm_session_open(mm_session *s, modmig_db *db, const modmig_source *src,
                              modmig_error **err);
modmig_status mm_session_lock(mm_session *s, bool dry_run, modmig_error **err);
/*
 * Check the module registry, create the missing state tables and register new
 * modules. mm_session_lock() does this unless dry_run; up, which locks as a
 * dry run, calls it itself once its plan is known good.
 */
modmig_status mm_session_create_state(mm_session *s, modmig_error **err);
void mm_session_close(mm_session *s);

/* ---- the planner: pure functions of files and state (plan.c) ------------ */

/* One migration or applied version with its state (status rows). */
typedef struct mm_row {
	int64_t version;
	const modmig_migration *migration; /* NULL for NO_FILE */
	modmig_state state;
	const mm_applied *applied; /* or NULL */
	const mm_event_row *event; /* latest history event, or NULL */
} mm_row;

/* Every migration and applied version, ascending version. */
modmig_status mm_classify(const modmig_migration *migs, size_t count, const mm_state *st,
                          mm_row **out, size_t *out_count, modmig_error **err);

typedef struct mm_step {
	const modmig_migration *migration;
	int64_t version;
	bool out_of_order; /* a higher version of the same module is applied */
	bool failed;       /* a NO TRANSACTION migration that failed part-way */
	int failed_unit;   /* 1-based unit that failed */
} mm_step;

typedef struct mm_plan {
	mm_step *steps;
	size_t count;
} mm_plan;

/*
 * What `up` runs: missing versions first, then new ones, each ascending;
 * limited by opts->to, opts->by_one and module (versions in its range; NULL
 * for all). opts->strict turns out-of-order arrivals into an error.
 */
modmig_status mm_plan_up(const modmig_migration *migs, size_t count, const mm_state *st,
                         const modmig_up_options *opts, const modmig_module *module, mm_plan *out,
                         modmig_error **err);
/* What `down` rolls back, most recently applied first. */
modmig_status mm_plan_down(const modmig_migration *migs, size_t count, const mm_state *st,
                           const modmig_down_options *opts, const modmig_module *module,
                           mm_plan *out, modmig_error **err);
void mm_plan_clear(mm_plan *p);

/*
 * Compare the manifest with the registry. *first_new receives the index of
 * the first module not registered yet (module_count when none).
 */
modmig_status mm_registry_check(const modmig_source *src, const mm_state *st, size_t *first_new,
                                modmig_error **err);

/* Set the result's final version from the session's state (run.c). */
void mm_run_result_finish(modmig_result *r, const mm_session *s);

/* ---- running one migration (apply.c) ------------------------------------ */

/* How a NO TRANSACTION migration that failed before is run again. */
enum { MM_FRESH = 0, MM_RESUME, MM_RESTART };

/*
 * Run one parsed migration in direction dir, record it, emit its event and
 * add it to *result. mode is MM_FRESH, MM_RESUME or MM_RESTART.
 */
modmig_status mm_apply_one(mm_session *s, const mm_step *step, modmig_direction dir,
                           const char *lock_timeout, const char *statement_timeout, int mode,
                           modmig_result **result, modmig_error **err);

/* ---- results (run.c) ---------------------------------------------------- */

modmig_status mm_result_add(modmig_result **res, const modmig_migration *m, modmig_direction dir,
                            double duration_ms);

#endif /* MODMIG_ONLINE_H */
