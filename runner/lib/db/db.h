/*
 * db/db.h - the connection: connecting without the app's search_path, error
 * mapping from libpq results, redaction of passwords, and the log callback.
 * Uses base only.
 */
#ifndef MODMIG_DB_H
#define MODMIG_DB_H

#include "base/base.h"

#include <libpq-fe.h>
#include <signal.h>

/* ---- the connection (db.c) ---------------------------------------------- */

struct modmig_db {
	PGconn *conn;
	char *display;              /* URL-ish, password redacted */
	char *stripped_search_path; /* removed from options, or NULL */
	char *secrets[3];           /* passwords to redact from every message */
	modmig_log_fn log;
	void *log_userdata;
	int lock_timeout_ms; /* < 0: wait forever */
	modmig_lock_mode lock_mode;
	char client_encoding[64]; /* as the connection began: set again before each migration */
	int server_version;
	char hostname[256]; /* recorded in the history as client_host */
	/*
	 * modmig_db_cancel() may run in a signal handler: it only reads cancel
	 * (prepared at connect, never changed after) and sets cancelled, which the
	 * executor checks between statements, units and migrations.
	 */
	PGcancel *cancel;
	volatile sig_atomic_t cancelled;
	char *read_only; /* why the server refuses writes, or NULL (db.c) */
	bool standby;    /* read_only because it is a hot standby */
};

/*
 * A db around conn, a connection opened elsewhere: what modmig_db_connect()
 * does after connecting, without the connection string. Unit tests hand in
 * the scripted connection of tests/unit/harness_pq.h. The db owns conn
 * (modmig_db_free() finishes it); NULL when out of memory, conn finished.
 */
modmig_db *mm_db_adopt(PGconn *conn);

/*
 * Whether modmig_db_cancel() was called. The executor checks it after every
 * statement it sends, so nothing new starts once it is set.
 */
static inline bool mm_db_cancelled(const modmig_db *db)
{
	return db && db->cancelled != 0;
}

/*
 * Refuse a command that would write when the server cannot take writes (a
 * hot standby, default_transaction_read_only): MODMIG_E_REFUSED naming why.
 * `what` is the command, e.g. "up".
 */
modmig_status mm_db_check_writable(modmig_db *db, const char *what, modmig_error **err);

/*
 * A second connection to the same server and database with the same
 * settings (read from the first with PQconninfo), for watching the first;
 * NULL when it cannot be opened. The caller PQfinish()es it.
 */
PGconn *mm_db_connect_again(modmig_db *db);

/* ---- what the connection says (errors.c) -------------------------------- */

/* Report an event through the log callback (a no-op without one). */
void mm_emit(modmig_db *db, modmig_event_kind kind, modmig_log_level level,
             const modmig_migration *m, modmig_direction dir, double duration_ms, const char *sql,
             const char *fmt, ...) MM_PRINTF(8, 9);

/* mm_emit() for a filled event: its message is formatted here. */
void mm_emit_event(modmig_db *db, modmig_event *ev, const char *fmt, ...) MM_PRINTF(3, 4);

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

/*
 * Fail with code unless res holds ntuples rows of nfields columns (ntuples
 * < 0: any number of rows). A result of another shape, from a proxy or a
 * changed server function, becomes "<what>: the server returned ..." rather
 * than a read past its end. Call it once the status is known to be good.
 */
modmig_status mm_db_check_shape(const PGresult *res, int ntuples, int nfields, modmig_status code,
                                modmig_error **err, const char *what);

/* A copy of text with every known password replaced by "xxxxx". */
char *mm_db_redact(const modmig_db *db, const char *text);

/*
 * A result that failed because a relation or schema does not exist (42P01,
 * 3F000): how state readers tell "not created yet" from a real failure.
 */
bool mm_db_is_missing_relation(const PGresult *res);

/*
 * The server versions modmig supports: tested on 13 through 18 (the README's
 * "Supported PostgreSQL versions"; tests/pg-versions.txt pins them).
 */
#define MM_PG_OLDEST_SUPPORTED 130000
#define MM_PG_NEWEST_TESTED    18

typedef enum mm_pg_support {
	MM_PG_SUPPORTED = 0,
	MM_PG_TOO_OLD = 1, /* older than the oldest supported major */
	MM_PG_UNTESTED = 2 /* newer than the newest major in the test matrix */
} mm_pg_support;

/* Where a server_version_num stands against the supported range. */
mm_pg_support mm_pg_support_of(int server_version_num);

#endif /* MODMIG_DB_H */
