/*
 * run/run.h - the run layer: the migration lock and the locked session, the
 * pure planner, the executor and results. Uses state and everything below.
 */
#ifndef MODMIG_RUN_H
#define MODMIG_RUN_H

#include "state/state.h"

#include <signal.h>

/* ---- the lock and the locked session (lock.c) --------------------------- */

/* The session holding the migration lock, as pg_locks and pg_stat_activity see it. */
typedef struct mm_holder {
	bool found;
	char pid[16];
	char app[64];
	char user[64];
	char since[40];    /* its transaction's start, else its backend's */
	char state[32];    /* pg_stat_activity.state: active, idle, idle in transaction */
	int state_seconds; /* how long it has been in that state */
} mm_holder;

modmig_status mm_lock_holder(modmig_db *db, const mm_names *n, mm_holder *h, modmig_error **err);
/* The connection's lock (mm_session_acquire) for names alone, without a session. */
modmig_status mm_lock_acquire(modmig_db *db, const mm_names *n, modmig_error **err);
void mm_lock_release(modmig_db *db, const mm_names *n);

/* A lock wait is reported every this many milliseconds, naming the holder. */
#define MM_WAIT_REPORT_MS 5000
/* A holder idle in its session this long is flagged: a lock left on a pooled backend? */
#define MM_IDLE_HOLDER_SECONDS 10
/*
 * The table lock's lease. Every migration's transaction renews it (and every
 * record of a NO TRANSACTION migration); a migrator that dies lets it go
 * after this long. A migration that runs longer may lose it to another
 * migrator: the fence still applies each migration once, and the first one
 * takes the lease back before going on.
 */
#define MM_LEASE_SECONDS 60
/*
 * Over pg_stat_activity a and a history row h: a session that may be the one
 * that recorded h and still be at work. A client backend in this database,
 * not ours, with the application_name h recorded, connected no later than h
 * was recorded, and not a migrator waiting for the lock (mm_lock_not_waiting_sql).
 * A migrator that died (kill -9, a crash, a terminated session,
 * a restarted server) leaves none; a unit it left running on the server keeps
 * its backend until the unit ends. application_name is visible to every role.
 * Meaningful on a direct connection: behind a pooler in transaction mode the
 * recording backend may be the one asking.
 */
#define MM_WRITER_ALIVE_WHERE                                                                      \
	"a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid() "      \
	"AND a.backend_type = 'client backend' "                                                   \
	"AND a.application_name IS NOT DISTINCT FROM h.application_name "                          \
	"AND (a.backend_start IS NULL OR a.backend_start <= h.at)"

/*
 * "NOT EXISTS (...)": the session whose pid is the SQL expression pid is not
 * waiting for the lock (holds no waiters' mark, lock.c); a waiting migrator
 * is never the session of a run. Freed by the caller.
 */
char *mm_lock_not_waiting_sql(const mm_names *n, const char *pid);

/*
 * Behind a pooler, where a backend is not a client, a NO TRANSACTION
 * migration whose run another migrator recorded this recently (or since this
 * one's first read) is waited for: its session cannot be told alive or gone.
 */
#define MM_RUN_GRACE_SECONDS 120

/*
 * Everything an online command needs: names, the lock and the state read
 * under it. mm_session_lock() takes the lock, re-reads state and checks the
 * module registry; it writes nothing. A command that has something to write
 * calls mm_session_create_state() once its plan is known good, so a command
 * with nothing to do leaves no tables and no registry rows behind.
 */
typedef struct mm_session {
	modmig_db *db;
	const modmig_source *src;
	mm_names names;
	mm_state state;
	bool state_read; /* state holds a successful read */
	bool locked;
	int64_t first_read_event_id; /* the newest history event at the first read */
	size_t skipped;              /* migrations the fence found done by another migrator */
	/*
	 * While waiting for the lock: whether the state just read leaves nothing
	 * to do (NULL: wait for the lock regardless). When it does, the wait ends
	 * without the lock and done_while_waiting is set.
	 */
	bool (*nothing_left)(struct mm_session *s);
	const void *nothing_left_arg[2];
	bool done_while_waiting;
	/*
	 * A dry run, set after mm_session_open(): mm_session_lock() writes
	 * nothing, so with the table lock it takes no lease (the session lock is
	 * no write: it is taken and released as for a real run).
	 */
	bool dry_run;
	bool lease_held;      /* the table lock's row is ours */
	char lease_token[33]; /* its owner token: 32 random hex digits */
} mm_session;

modmig_status mm_session_open(mm_session *s, modmig_db *db, const modmig_source *src,
                              modmig_error **err);
modmig_status mm_session_lock(mm_session *s, modmig_error **err);
/* mm_session_lock() without refusing a registry that disagrees (repair clears one). */
modmig_status mm_session_lock_any_registry(mm_session *s, modmig_error **err);
/*
 * Take the lock the connection is set to use (db->lock_mode): the session
 * advisory lock, or the table lock's lease. Waits up to db->lock_timeout_ms,
 * reporting who holds it every MM_WAIT_REPORT_MS.
 */
modmig_status mm_session_acquire(mm_session *s, modmig_error **err);
/* Check the module registry, create the missing state tables and register new modules. */
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
	bool failed;       /* a NO TRANSACTION migration that stands part-way */
	int failed_unit;   /* 1-based first unit not known to be done (units + 1: all were) */
	bool unit_unknown; /* failed_unit was running when the record ends: it may be done */
	const mm_event_row *event; /* the latest history event behind `failed` */
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

/* Parse every migration of plan before anything runs. */
modmig_status mm_plan_parse_all(modmig_source *src, const mm_plan *plan, modmig_error **err);
/*
 * Before the lock: read, hash and parse what up (up set) or down (down set)
 * would run by the state st read without the lock, so that no file is read
 * while the lock is held. Returns only the files' errors.
 */
modmig_status mm_plan_prefetch(modmig_source *src, const mm_state *st, const modmig_up_options *up,
                               const modmig_down_options *down, const modmig_module *module,
                               modmig_error **err);
/* A failed NO TRANSACTION migration in plan blocks up unless resuming or restarting. */
modmig_status mm_plan_check_failed(const mm_plan *plan, const modmig_up_options *opts,
                                   modmig_error **err);
/*
 * down, redo and reset (`what`) refuse while a NO TRANSACTION migration
 * stands part-way: rolling back what lies before it would leave its units on
 * top of a schema they were not written for (MODMIG_E_REFUSED).
 */
modmig_status mm_plan_check_partway(const modmig_source *src, const mm_state *st, const char *what,
                                    modmig_error **err);
/*
 * Rolling back a migration without a Down section is refused unless only its
 * record is to be dropped (mark_only).
 */
modmig_status mm_plan_check_down(const mm_plan *plan, bool mark_only, const char *what,
                                 modmig_error **err);

/* Set the result's final version from the session's state (result.c). */
void mm_result_finish(modmig_result *r, const mm_session *s);

/* ---- running one migration (apply.c) ------------------------------------ */

/*
 * Run one parsed migration in direction dir, record it, emit its event and
 * add it to *result. mode says how a NO TRANSACTION migration that failed
 * before is run again (the public modmig_resume_mode).
 */
modmig_status mm_apply_one(mm_session *s, const mm_step *step, modmig_direction dir,
                           const char *lock_timeout, const char *statement_timeout,
                           modmig_resume_mode mode, modmig_result **result, modmig_error **err);

/* ---- sending and watching a migration run (progress.c) ------------------- */

/*
 * Where a running migration stands, given how many results the server has
 * sent for the query string: the unit (1-based, 0 when none), the line in
 * the file of the statement running, and the unit's text.
 */
typedef void (*mm_progress_where)(void *arg, int ok_results, int *unit, int *line,
                                  const char **unit_sql);

typedef struct mm_progress {
	modmig_db *db;
	const modmig_migration *m;
	modmig_direction dir;
	int unit_count;
	double start_ms; /* when the migration started */
	mm_progress_where where;
	void *where_arg;
	PGconn *watcher; /* reads pg_stat_progress_create_index; opened on first need */
	bool watcher_failed;
} mm_progress;

void mm_progress_start(mm_progress *p, modmig_db *db, const modmig_migration *m,
                       modmig_direction dir, int unit_count);
/* Close the second connection, if one was opened. */
void mm_progress_end(mm_progress *p);
/*
 * Send a query string and read all its results, reporting progress while
 * it runs. On the first error *error keeps that result and *ok_results
 * counts the results before it; *committed tells whether the last result
 * before it was a COMMIT's.
 */
modmig_status mm_send_all(mm_progress *p, const char *sql, int *ok_results, PGresult **error,
                          bool *committed);

/* ---- replay: exactly these versions in this order (replay.c) ------------ */

/*
 * Apply the migrations with these versions, in this order, each as `up`
 * would (lock, state, one transaction each). Stops with an error once *stop
 * (may be NULL) is set. For rebuilding a schema on a shadow database.
 */
modmig_status mm_run_replay(modmig_db *db, modmig_source *src, const int64_t *versions,
                            size_t count, const volatile sig_atomic_t *stop, modmig_error **err);

/*
 * Drop a migration's record without running it: its version row goes and the
 * history gets "marked_rolled_back", in one transaction.
 */
modmig_status mm_mark_rolled_back(mm_session *s, const mm_step *step, modmig_result **result,
                                  modmig_error **err);

/*
 * The error for a run that stops because modmig_db_cancel() was called
 * before the migration `next` (NULL when none) started.
 */
modmig_status mm_run_cancelled(const mm_step *last_done, const mm_step *next, modmig_direction dir,
                               modmig_error **err);

/* ---- results (result.c) ------------------------------------------------- */

/* A new empty result in *out (nothing when out is NULL). */
modmig_status mm_result_new(modmig_result **out, modmig_error **err);
modmig_status mm_result_add(modmig_result **res, const modmig_migration *m, modmig_direction dir,
                            double duration_ms);

#endif /* MODMIG_RUN_H */
