/*
 * harness_pq.h - a scripted libpq for unit tests, in the way of pgBackRest's
 * harnessPq: the error paths that a real server reaches only by luck (a
 * connection lost mid-migration, a COMMIT that fails, a result of the wrong
 * shape) are played back from a script, deterministically, without a server.
 *
 * HOW IT WORKS
 *
 * harness_pq.c defines the libpq functions that runner/lib calls. It is
 * linked into the test executable only (tests/meson.build links it into every
 * tests/unit/test_pq_*.c), never into the library: the executable's
 * definitions win over libpq.so's when the static library's references are
 * resolved, so the library talks to the shim and never to a socket. A
 * function the library starts to use must be added here too (see ADDING A
 * FUNCTION): hpq_script() refuses to run while any call could still reach
 * the real libpq.
 *
 * Three kinds of functions:
 *
 * - Scripted: the calls that send something to the server or open or close
 *   a connection: PQconnectdbParams, PQexec, PQexecParams, PQsendQuery,
 *   PQsendQueryParams, PQfinish. Each call consumes the next step of the
 *   script and must match it: the same function, the same SQL (see
 *   MATCHING) and, when the step lists them, the same parameters. Anything
 *   else fails the test at once, naming the step number, the step expected
 *   and the call made. The step's results are queued on the connection;
 *   PQgetResult hands them out in order and then NULL, and PQexec and
 *   PQexecParams drain them and return the last one, as libpq does.
 * - Modelled: the connection's state as the library asks for it, kept in
 *   the fake PGconn and changed only by the script: PQstatus,
 *   PQtransactionStatus (the step's .after, set when its results are all
 *   read), PQerrorMessage, PQserverVersion, PQparameterStatus, PQuser,
 *   PQhost, PQport, PQdb, pipeline mode (PQenterPipelineMode, PQpipelineSync
 *   queues a PGRES_PIPELINE_SYNC result, PQexitPipelineMode) and the
 *   notice receiver. Result accessors read the shim's results and behave as
 *   libpq's do at their edges: PQgetvalue out of range returns NULL, a NULL
 *   value reads as "", PQresultStatus(NULL) is PGRES_FATAL_ERROR.
 * - Pure helpers, implemented faithfully rather than scripted:
 *   PQescapeIdentifier and PQescapeLiteral (libpq's rules for a UTF-8
 *   connection, " E'...'" when a backslash is escaped), PQfreemem (free).
 *   PQconninfoParse and PQconninfoFree forward to the real libpq (opened
 *   with dlopen, as the linker drops libpq.so once the shim defines all it
 *   is needed for): they take no connection and parsing is libpq's job.
 *
 * Results are allocated and PQclear frees them, so under ASan a result the
 * library forgets to clear is a leak and a result cleared twice is a
 * double free.
 *
 * WRITING A SCRIPT
 *
 *     PGconn *conn = hpq_conn();             // a fresh open connection
 *     modmig_db *db = mm_db_adopt(conn);     // db/db.h: no connect step
 *     const hpq_step script[] = {
 *         {HPQ_EXEC_PARAMS("select pg_try_advisory_lock($1::bigint)"),
 *          .params = HPQ_PARAMS(key),
 *          HPQ_RESULTS(HPQ_TUPLES(1, 1, "t"))},
 *         {HPQ_SEND_QUERY("BEGIN;\n"), .match = HPQ_PREFIX,
 *          HPQ_RESULTS(HPQ_OK("BEGIN"), HPQ_ERROR("22012", "division by zero")),
 *          .after = PQTRANS_INERROR},
 *         {HPQ_EXEC("ROLLBACK"), HPQ_RESULTS(HPQ_OK("ROLLBACK"))},
 *         {HPQ_FINISH},
 *     };
 *     HPQ_SCRIPT(script);
 *     ... call the library ...
 *     modmig_db_free(db);                    // consumes the HPQ_FINISH step
 *     hpq_assert_done();                     // every step was consumed
 *
 * A step's results (HPQ_RESULTS) are, in order:
 *   HPQ_OK(tag)                 PGRES_COMMAND_OK with a command tag
 *   HPQ_TUPLES(nfields, ntuples, values...)
 *                               PGRES_TUPLES_OK, values row by row as
 *                               strings, HPQ_NULL for an SQL NULL
 *   HPQ_ERROR(sqlstate, message)
 *                               a server error (PGRES_FATAL_ERROR) with
 *                               SQLSTATE and primary message; add .detail,
 *                               .hint or .position with the long form
 *   HPQ_LOST                    the connection is lost here: a result with
 *                               libpq's own words ("server closed the
 *                               connection unexpectedly", no SQLSTATE), and
 *                               from then on PQstatus is CONNECTION_BAD,
 *                               PQtransactionStatus PQTRANS_UNKNOWN, and
 *                               every later send fails (PQexec returns
 *                               NULL, PQsendQuery 0) as libpq's do.
 * Later steps must still script what the library tries on the dead
 * connection: the test states exactly what is attempted after the loss.
 * .after is the transaction status once the step's results are read
 * (default PQTRANS_IDLE; say PQTRANS_INERROR after an error inside BEGIN).
 *
 * MATCHING
 *
 * .sql is compared with the SQL sent: exactly by default (HPQ_EXACT); with
 * .match = HPQ_PREFIX the SQL must start with it, with HPQ_CONTAINS it must
 * contain it; with HPQ_GLOB it must equal it except that each HPQ_ANY
 * ("{*}") in .sql stands for any run of characters, for the few values the
 * library measures (a duration in a history row). Use the loose forms only
 * where the text is not what the test is about (the state query in a test
 * of how its result is read); the statements a test is about are matched
 * exactly. .params, when given, must equal the parameters one for one
 * (HPQ_NULL for a NULL parameter); without .params they are not checked. A
 * mismatch prints both texts and the first byte where they differ. For
 * HPQ_CONNECT, .sql is matched with the keywords and values as "key=value"
 * pairs joined by single spaces, in the order given.
 *
 * ADDING A FUNCTION
 *
 * When `grep -rhoE '\bPQ[a-zA-Z]+' runner/lib | sort -u` names a function
 * that is not in harness_pq.c, define it there with libpq's exact prototype
 * (libpq-fe.h is included, so the compiler checks it). A call that sends
 * something gets an hpq_fn value, a name in fn_names[] and a next_step()
 * call; a call that reads state reads the fake PGconn or PGresult. Until
 * then every script fails at once: while the shim defines all that the
 * library takes from libpq, the linker (--as-needed) leaves libpq.so out of
 * the executable, so hpq_script() finding libpq.so.5 already loaded means
 * some call would reach the real libpq with the shim's fake connection.
 */
#ifndef MODMIG_HARNESS_PQ_H
#define MODMIG_HARNESS_PQ_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The calls a step can expect. */
typedef enum hpq_fn {
	HPQ_FN_CONNECT = 1, /* PQconnectdbParams */
	HPQ_FN_EXEC,        /* PQexec */
	HPQ_FN_EXEC_PARAMS, /* PQexecParams */
	HPQ_FN_SEND_QUERY,  /* PQsendQuery */
	HPQ_FN_SEND_PARAMS, /* PQsendQueryParams */
	HPQ_FN_FINISH,      /* PQfinish */
} hpq_fn;

/* A step's call and its SQL, to open a step: {HPQ_EXEC("ROLLBACK"), ...}. */
#define HPQ_CONNECT(conninfo) .fn = HPQ_FN_CONNECT, .sql = (conninfo)
#define HPQ_EXEC(q)           .fn = HPQ_FN_EXEC, .sql = (q)
#define HPQ_EXEC_PARAMS(q)    .fn = HPQ_FN_EXEC_PARAMS, .sql = (q)
#define HPQ_SEND_QUERY(q)     .fn = HPQ_FN_SEND_QUERY, .sql = (q)
#define HPQ_SEND_PARAMS(q)    .fn = HPQ_FN_SEND_PARAMS, .sql = (q)
#define HPQ_FINISH            .fn = HPQ_FN_FINISH

typedef enum hpq_match {
	HPQ_EXACT = 0,
	HPQ_PREFIX,
	HPQ_CONTAINS,
	HPQ_GLOB, /* exact, except that each HPQ_ANY matches any text */
} hpq_match;

/* In an HPQ_GLOB pattern: any run of characters (a measured duration, say). */
#define HPQ_ANY "{*}"

/* An SQL NULL in HPQ_TUPLES and HPQ_PARAMS: a pointer, never compared as text. */
extern const char hpq_null[];
#define HPQ_NULL hpq_null

/* One result the server sends. */
typedef struct hpq_result {
	ExecStatusType status;
	const char *cmd; /* command tag of PGRES_COMMAND_OK */
	int nfields;
	int ntuples;
	const char *const *values; /* ntuples * nfields, row by row */
	const char *sqlstate;      /* a server error: the fields below */
	const char *message;       /* primary message (or libpq's text when lost) */
	const char *detail;
	const char *hint;
	const char *position; /* PG_DIAG_STATEMENT_POSITION, 1-based characters */
	bool lost;            /* the connection ends with this result */
} hpq_result;

/* One expected call and what it returns. */
typedef struct hpq_step {
	hpq_fn fn;
	const char *sql; /* expected SQL (HPQ_CONNECT: "key=value ...") */
	hpq_match match;
	const char *const *params; /* expected parameters, or NULL: unchecked */
	int nparams;
	const hpq_result *results;
	size_t nresults;
	PGTransactionStatusType after; /* once the results are read */
} hpq_step;

#define HPQ_COUNT_(type, ...) (sizeof((type[]){__VA_ARGS__}) / sizeof(type))
#define HPQ_RESULTS(...)                                                                           \
	.results = (const hpq_result[]){__VA_ARGS__},                                              \
	.nresults = HPQ_COUNT_(const hpq_result, __VA_ARGS__)
#define HPQ_PARAMS(...)                                                                            \
	(const char *const[]){__VA_ARGS__},                                                        \
	        .nparams = (int)HPQ_COUNT_(const char *const, __VA_ARGS__)
#define HPQ_OK(tag)                                                                                \
	{                                                                                          \
		.status = PGRES_COMMAND_OK, .cmd = (tag)                                           \
	}
#define HPQ_TUPLES(nf, nt, ...)                                                                    \
	{                                                                                          \
		.status = PGRES_TUPLES_OK, .nfields = (nf), .ntuples = (nt),                       \
		.values = (const char *const[])                                                    \
		{                                                                                  \
			__VA_ARGS__                                                                \
		}                                                                                  \
	}
/* A result with no rows (or no columns either), where values cannot be listed. */
#define HPQ_EMPTY(nf)                                                                              \
	{                                                                                          \
		.status = PGRES_TUPLES_OK, .nfields = (nf)                                         \
	}
#define HPQ_ERROR(state, msg)                                                                      \
	{                                                                                          \
		.status = PGRES_FATAL_ERROR, .sqlstate = (state), .message = (msg)                 \
	}
#define HPQ_LOST_TEXT                                                                              \
	"server closed the connection unexpectedly\n\tThis probably means the server "             \
	"terminated abnormally\n\tbefore or while processing the request.\n"
#define HPQ_LOST                                                                                   \
	{                                                                                          \
		.status = PGRES_FATAL_ERROR, .message = HPQ_LOST_TEXT, .lost = true                \
	}

/*
 * Install a script (the steps are not copied: keep them alive while it
 * runs). name is shown in failures; HPQ_SCRIPT gives the test's function.
 */
void hpq_script(const hpq_step *steps, size_t count, const char *name);
#define HPQ_SCRIPT(steps) hpq_script((steps), sizeof(steps) / sizeof((steps)[0]), __func__)

/* A fresh open connection: idle, server 17.0, user modmig on localhost:5432/app. */
PGconn *hpq_conn(void);

/* Fail unless every step was consumed and every result read. */
void hpq_assert_done(void);

/* How many steps were consumed so far. */
size_t hpq_step_index(void);

#endif /* MODMIG_HARNESS_PQ_H */
