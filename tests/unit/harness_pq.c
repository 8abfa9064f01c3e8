/*
 * harness_pq.c - the scripted libpq of harness_pq.h (read that first: how a
 * script is written, how SQL is matched, how to add a function). Linked into
 * the test executables tests/unit/test_pq_*.c only; its definitions of
 * libpq's functions take precedence over libpq.so's there.
 */
#define _GNU_SOURCE /* memmem */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_pq.h"

const char hpq_null[] = "NULL";

/* libpq's PGresult and PGconn are opaque to their users: these are the shim's. */
struct pg_result {
	ExecStatusType status;
	char *cmd;
	int nfields;
	int ntuples;
	char **values; /* ntuples * nfields; NULL for an SQL NULL */
	char *sqlstate;
	char *message;
	char *detail;
	char *hint;
	char *position;
	char *text; /* PQresultErrorMessage */
	bool lost;
};

/* A queued result, or the end of one query's results (res NULL). */
typedef struct entry {
	PGresult *res;
	PGTransactionStatusType after; /* at an end: the status from then on */
} entry;

#define QUEUE_MAX 256

struct pg_conn {
	ConnStatusType status;
	PGTransactionStatusType xact;
	bool pipeline;
	int server_version;
	char error[512];
	PQnoticeReceiver notice;
	void *notice_arg;
	entry queue[QUEUE_MAX];
	size_t head, tail;
};

static struct {
	const hpq_step *steps;
	size_t count;
	size_t next;
	const char *name;
	PGconn *live; /* the connection not finished yet, if any */
} g;

static const char *const fn_names[] = {
        [HPQ_FN_CONNECT] = "PQconnectdbParams",     [HPQ_FN_EXEC] = "PQexec",
        [HPQ_FN_EXEC_PARAMS] = "PQexecParams",      [HPQ_FN_SEND_QUERY] = "PQsendQuery",
        [HPQ_FN_SEND_PARAMS] = "PQsendQueryParams", [HPQ_FN_FINISH] = "PQfinish",
};

static const char *fn_name(hpq_fn fn)
{
	return fn >= HPQ_FN_CONNECT && fn <= HPQ_FN_FINISH ? fn_names[fn] : "(no function)";
}

/* ---- failing the test --------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* stderr, not cmocka's print_error: that one cuts long SQL short. */
	fprintf(stderr, "harness_pq: %s\n", buf);
	fflush(stderr);
	fail();
	abort(); /* not reached: fail() jumps back into cmocka */
}

static char *xstrdup(const char *s)
{
	char *out;

	if (!s)
		return NULL;
	out = strdup(s);
	if (!out)
		die("out of memory");
	return out;
}

/* ---- scripts ------------------------------------------------------------ */

static bool libpq_opened; /* by real_libpq(), for the conninfo helpers */

void hpq_script(const hpq_step *steps, size_t count, const char *name)
{
	void *lib = libpq_opened ? NULL : dlopen("libpq.so.5", RTLD_LAZY | RTLD_NOLOAD);

	if (lib) {
		dlclose(lib);
		die("%s: libpq.so.5 is linked in: runner/lib calls a libpq function that "
		    "harness_pq.c does not define, and it would reach the real libpq with the "
		    "shim's connection (see ADDING A FUNCTION in harness_pq.h)",
		    name);
	}
	g.steps = steps;
	g.count = count;
	g.next = 0;
	g.name = name;
}

size_t hpq_step_index(void)
{
	return g.next;
}

/* pat against all of s, each HPQ_ANY in pat matching any run of characters. */
static bool glob_match(const char *pat, const char *s)
{
	const size_t any_len = strlen(HPQ_ANY);
	const char *any = strstr(pat, HPQ_ANY), *at;
	size_t n, ls, lp;

	if (!any)
		return strcmp(pat, s) == 0;
	n = (size_t)(any - pat);
	if (strncmp(s, pat, n) != 0)
		return false;
	s += n;
	pat = any + any_len;
	/* Middle pieces: the leftmost occurrence leaves the most room for the rest. */
	while ((any = strstr(pat, HPQ_ANY)) != NULL) {
		n = (size_t)(any - pat);
		at = memmem(s, strlen(s), pat, n);
		if (!at)
			return false;
		s = at + n;
		pat = any + any_len;
	}
	ls = strlen(s);
	lp = strlen(pat);
	return ls >= lp && strcmp(s + ls - lp, pat) == 0;
}

static bool matches(const hpq_step *st, const char *sql)
{
	if (!st->sql || !sql)
		return st->sql == sql;
	switch (st->match) {
	case HPQ_PREFIX:
		return strncmp(sql, st->sql, strlen(st->sql)) == 0;
	case HPQ_CONTAINS:
		return strstr(sql, st->sql) != NULL;
	case HPQ_GLOB:
		return glob_match(st->sql, sql);
	case HPQ_EXACT:
	default:
		return strcmp(sql, st->sql) == 0;
	}
}

static size_t first_difference(const char *a, const char *b)
{
	size_t i = 0;

	while (a[i] && a[i] == b[i])
		i++;
	return i;
}

static const char *match_name(hpq_match m)
{
	return m == HPQ_PREFIX     ? "starting with"
	       : m == HPQ_CONTAINS ? "containing"
	       : m == HPQ_GLOB     ? "matching the pattern"
	                           : "exactly";
}

/*
 * The next step, which must expect this call: fails the test otherwise,
 * naming the step and showing what was expected and what came.
 */
static const hpq_step *next_step(hpq_fn fn, const char *sql, int nparams, const char *const *params)
{
	const hpq_step *st;
	size_t n = g.next + 1;
	int i;

	if (g.next >= g.count)
		die("%s: step %zu: unexpected call %s(\"%s\"): the script has only %zu steps",
		    g.name ? g.name : "(no script)", n, fn_name(fn), sql ? sql : "", g.count);
	st = &g.steps[g.next++];
	if (st->fn != fn)
		die("%s: step %zu expects %s(\"%s\"), but the library called %s(\"%s\")", g.name, n,
		    fn_name(st->fn), st->sql ? st->sql : "", fn_name(fn), sql ? sql : "");
	if (!matches(st, sql))
		die("%s: step %zu: %s was sent\n----\n%s\n----\nbut the step expects SQL "
		    "%s\n----\n%s\n"
		    "----\n(first difference at byte %zu)",
		    g.name, n, fn_name(fn), sql ? sql : "(null)", match_name(st->match),
		    st->sql ? st->sql : "(null)",
		    sql && st->sql ? first_difference(sql, st->sql) : 0);
	if (st->params && st->nparams != nparams)
		die("%s: step %zu: %s was sent %d parameters, the step expects %d", g.name, n,
		    fn_name(fn), nparams, st->nparams);
	for (i = 0; st->params && i < nparams; i++) {
		const char *want = st->params[i], *got = params ? params[i] : NULL;

		if (want == hpq_null ? got != NULL : !got || strcmp(want, got) != 0)
			die("%s: step %zu: parameter $%d is \"%s\", the step expects \"%s\"",
			    g.name, n, i + 1, got ? got : "NULL", want);
	}
	return st;
}

/* ---- results ------------------------------------------------------------ */

static PGresult *make_result(const hpq_result *r)
{
	PGresult *res = calloc(1, sizeof(*res));
	size_t cells = (size_t)r->nfields * (size_t)r->ntuples, i;

	if (!res)
		die("out of memory");
	res->status = r->status;
	res->cmd = xstrdup(r->cmd);
	res->nfields = r->nfields;
	res->ntuples = r->ntuples;
	res->lost = r->lost;
	if (cells) {
		res->values = calloc(cells, sizeof(*res->values));
		if (!res->values)
			die("out of memory");
		for (i = 0; i < cells; i++)
			res->values[i] = r->values[i] == hpq_null ? NULL : xstrdup(r->values[i]);
	}
	if (r->status == PGRES_FATAL_ERROR || r->status == PGRES_NONFATAL_ERROR) {
		if (r->sqlstate) {
			/* A server error: fields, and libpq's rendering of them. */
			char text[2048];

			res->sqlstate = xstrdup(r->sqlstate);
			res->message = xstrdup(r->message);
			res->detail = xstrdup(r->detail);
			res->hint = xstrdup(r->hint);
			res->position = xstrdup(r->position);
			snprintf(text, sizeof(text), "ERROR:  %s\n%s%s%s%s%s%s", r->message,
			         r->detail ? "DETAIL:  " : "", r->detail ? r->detail : "",
			         r->detail ? "\n" : "", r->hint ? "HINT:  " : "",
			         r->hint ? r->hint : "", r->hint ? "\n" : "");
			res->text = xstrdup(text);
		} else {
			/* libpq's own error (a lost connection): text only, no fields. */
			res->text = xstrdup(r->message ? r->message : "");
		}
	}
	return res;
}

static void push(PGconn *conn, PGresult *res, PGTransactionStatusType after)
{
	if (conn->tail >= QUEUE_MAX)
		die("more than %d queued results", QUEUE_MAX);
	conn->queue[conn->tail].res = res;
	conn->queue[conn->tail++].after = after;
}

static bool pending(const PGconn *conn)
{
	return conn->head < conn->tail;
}

/* The results a server sends for st, then the end of that query. */
static void play(PGconn *conn, const hpq_step *st)
{
	size_t i;

	for (i = 0; i < st->nresults; i++)
		push(conn, make_result(&st->results[i]), PQTRANS_IDLE);
	push(conn, NULL, st->after);
}

static void drop_queue(PGconn *conn)
{
	while (conn->head < conn->tail)
		PQclear(conn->queue[conn->head++].res);
	conn->head = conn->tail = 0;
}

/*
 * A send: match the step, then queue its results, or fail as libpq does on
 * a connection that is gone.
 */
static bool send_step(PGconn *conn, hpq_fn fn, const char *sql, int nparams,
                      const char *const *params)
{
	const hpq_step *st = next_step(fn, sql, nparams, params);

	if (!conn)
		die("%s: step %zu: %s on a NULL connection", g.name, g.next, fn_name(fn));
	if (conn->status != CONNECTION_OK) {
		if (st->nresults)
			die("%s: step %zu scripts results, but the connection was lost before it",
			    g.name, g.next);
		snprintf(conn->error, sizeof(conn->error), "no connection to the server\n");
		return false;
	}
	if (pending(conn) && !conn->pipeline)
		die("%s: step %zu: %s while the previous query's results are unread (libpq: "
		    "\"another command is already in progress\")",
		    g.name, g.next, fn_name(fn));
	play(conn, st);
	return true;
}

/* ---- the scripted calls ------------------------------------------------- */

PGconn *hpq_conn(void)
{
	PGconn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		die("out of memory");
	conn->status = CONNECTION_OK;
	conn->xact = PQTRANS_IDLE;
	conn->server_version = 170000;
	g.live = conn;
	return conn;
}

PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	char text[4096] = "";
	size_t len = 0, i;
	const hpq_step *st;
	PGconn *conn;

	(void)expand_dbname;
	for (i = 0; keywords[i]; i++)
		len += (size_t)snprintf(text + len, len < sizeof(text) ? sizeof(text) - len : 0,
		                        "%s%s=%s", i ? " " : "", keywords[i],
		                        values[i] ? values[i] : "");
	st = next_step(HPQ_FN_CONNECT, text, 0, NULL);
	conn = hpq_conn();
	if (st->nresults && st->results[0].status == PGRES_FATAL_ERROR) {
		conn->status = CONNECTION_BAD;
		conn->xact = PQTRANS_UNKNOWN;
		snprintf(conn->error, sizeof(conn->error), "%s",
		         st->results[0].message ? st->results[0].message : "");
	}
	return conn;
}

void PQfinish(PGconn *conn)
{
	if (!conn)
		return;
	next_step(HPQ_FN_FINISH, NULL, 0, NULL);
	drop_queue(conn);
	if (g.live == conn)
		g.live = NULL;
	free(conn);
}

PGresult *PQgetResult(PGconn *conn)
{
	entry e;

	if (!conn || !pending(conn))
		return NULL;
	e = conn->queue[conn->head++];
	if (!e.res) {
		conn->xact = e.after;
		return NULL;
	}
	if (e.res->lost) {
		/* Nothing after this reaches the client. */
		drop_queue(conn);
		conn->status = CONNECTION_BAD;
		conn->xact = PQTRANS_UNKNOWN;
		snprintf(conn->error, sizeof(conn->error), "%s", e.res->text ? e.res->text : "");
	}
	return e.res;
}

/* libpq's PQexecFinish: the last result (a lost connection ends the loop). */
static PGresult *exec_finish(PGconn *conn)
{
	PGresult *last = NULL, *r;

	while ((r = PQgetResult(conn)) != NULL) {
		PQclear(last);
		last = r;
		if (conn->status == CONNECTION_BAD)
			break;
	}
	return last;
}

PGresult *PQexec(PGconn *conn, const char *query)
{
	return send_step(conn, HPQ_FN_EXEC, query, 0, NULL) ? exec_finish(conn) : NULL;
}

PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                       const char *const *paramValues, const int *paramLengths,
                       const int *paramFormats, int resultFormat)
{
	(void)paramTypes;
	(void)paramLengths;
	(void)paramFormats;
	(void)resultFormat;
	return send_step(conn, HPQ_FN_EXEC_PARAMS, command, nParams, paramValues)
	               ? exec_finish(conn)
	               : NULL;
}

int PQsendQuery(PGconn *conn, const char *query)
{
	return send_step(conn, HPQ_FN_SEND_QUERY, query, 0, NULL);
}

int PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                      const char *const *paramValues, const int *paramLengths,
                      const int *paramFormats, int resultFormat)
{
	(void)paramTypes;
	(void)paramLengths;
	(void)paramFormats;
	(void)resultFormat;
	return send_step(conn, HPQ_FN_SEND_PARAMS, command, nParams, paramValues);
}

/* ---- pipeline mode ------------------------------------------------------ */

int PQenterPipelineMode(PGconn *conn)
{
	if (!conn || (pending(conn) && !conn->pipeline))
		return 0;
	conn->pipeline = true;
	return 1;
}

int PQpipelineSync(PGconn *conn)
{
	static const hpq_result sync = {.status = PGRES_PIPELINE_SYNC};

	if (!conn || !conn->pipeline || conn->status != CONNECTION_OK) {
		if (conn)
			snprintf(conn->error, sizeof(conn->error), "no connection to the server\n");
		return 0;
	}
	push(conn, make_result(&sync), PQTRANS_IDLE);
	return 1;
}

int PQexitPipelineMode(PGconn *conn)
{
	if (!conn)
		return 0;
	if (pending(conn)) {
		snprintf(conn->error, sizeof(conn->error),
		         "cannot exit pipeline mode with uncollected results\n");
		return 0;
	}
	conn->pipeline = false;
	return 1;
}

/* ---- the connection's state --------------------------------------------- */

ConnStatusType PQstatus(const PGconn *conn)
{
	return conn ? conn->status : CONNECTION_BAD;
}

PGTransactionStatusType PQtransactionStatus(const PGconn *conn)
{
	if (!conn || conn->status != CONNECTION_OK)
		return PQTRANS_UNKNOWN;
	if (pending(conn))
		return PQTRANS_ACTIVE;
	return conn->xact;
}

char *PQerrorMessage(const PGconn *conn)
{
	return conn ? (char *)conn->error : (char *)"connection pointer is NULL\n";
}

/*
 * The asynchronous wait of run/progress.c: a scripted result is always
 * ready, so the executor never waits on a socket and never reports progress.
 */
int PQisBusy(PGconn *conn)
{
	(void)conn;
	return 0;
}

int PQconsumeInput(PGconn *conn)
{
	return conn && conn->status == CONNECTION_OK;
}

int PQsocket(const PGconn *conn)
{
	(void)conn;
	return -1;
}

int PQbackendPID(const PGconn *conn)
{
	(void)conn;
	return 0;
}

/* No second connection (progress's watcher) is opened from a scripted one. */
PQconninfoOption *PQconninfo(PGconn *conn)
{
	(void)conn;
	return NULL;
}

int PQserverVersion(const PGconn *conn)
{
	return conn && conn->status == CONNECTION_OK ? conn->server_version : 0;
}

const char *PQparameterStatus(const PGconn *conn, const char *paramName)
{
	if (!conn || !paramName)
		return NULL;
	if (strcmp(paramName, "server_version") == 0)
		return "17.0";
	/* a PostgreSQL 14+ primary reports both at startup: writable, no round trip */
	if (strcmp(paramName, "in_hot_standby") == 0 ||
	    strcmp(paramName, "default_transaction_read_only") == 0)
		return "off";
	return NULL;
}

/*
 * Cancel requests go to the server on a connection of their own; the shim
 * has no server, so a cancel object is a token and a cancel succeeds.
 */
struct pg_cancel {
	int unused;
};

PGcancel *PQgetCancel(PGconn *conn)
{
	return conn ? calloc(1, sizeof(PGcancel)) : NULL;
}

void PQfreeCancel(PGcancel *cancel)
{
	free(cancel);
}

int PQcancel(PGcancel *cancel, char *errbuf, int errbufsize)
{
	if (!cancel && errbuf && errbufsize > 0)
		errbuf[0] = '\0';
	return cancel != NULL;
}

char *PQuser(const PGconn *conn)
{
	return conn ? (char *)"modmig" : NULL;
}

char *PQhost(const PGconn *conn)
{
	return conn ? (char *)"localhost" : NULL;
}

char *PQport(const PGconn *conn)
{
	return conn ? (char *)"5432" : NULL;
}

char *PQdb(const PGconn *conn)
{
	return conn ? (char *)"app" : NULL;
}

int PQconnectionUsedPassword(const PGconn *conn)
{
	(void)conn;
	return 0;
}

PQnoticeReceiver PQsetNoticeReceiver(PGconn *conn, PQnoticeReceiver proc, void *arg)
{
	PQnoticeReceiver old;

	if (!conn)
		return NULL;
	old = conn->notice;
	conn->notice = proc;
	conn->notice_arg = arg;
	return old;
}

/* ---- results ------------------------------------------------------------ */

ExecStatusType PQresultStatus(const PGresult *res)
{
	return res ? res->status : PGRES_FATAL_ERROR;
}

char *PQresultErrorMessage(const PGresult *res)
{
	return res && res->text ? res->text : (char *)"";
}

char *PQresultErrorField(const PGresult *res, int fieldcode)
{
	if (!res || !res->sqlstate)
		return NULL;
	switch (fieldcode) {
	case PG_DIAG_SQLSTATE:
		return res->sqlstate;
	case PG_DIAG_MESSAGE_PRIMARY:
		return res->message;
	case PG_DIAG_MESSAGE_DETAIL:
		return res->detail;
	case PG_DIAG_MESSAGE_HINT:
		return res->hint;
	case PG_DIAG_STATEMENT_POSITION:
		return res->position;
	case PG_DIAG_SEVERITY:
	case PG_DIAG_SEVERITY_NONLOCALIZED:
		return (char *)"ERROR";
	default:
		return NULL;
	}
}

char *PQcmdStatus(PGresult *res)
{
	return res && res->cmd ? res->cmd : (char *)"";
}

int PQntuples(const PGresult *res)
{
	return res ? res->ntuples : 0;
}

int PQnfields(const PGresult *res)
{
	return res ? res->nfields : 0;
}

static bool in_range(const PGresult *res, int row, int col)
{
	return res && row >= 0 && row < res->ntuples && col >= 0 && col < res->nfields;
}

/* As libpq: NULL out of range, "" for an SQL NULL. */
char *PQgetvalue(const PGresult *res, int tup_num, int field_num)
{
	char *v;

	if (!in_range(res, tup_num, field_num))
		return NULL;
	v = res->values[(size_t)tup_num * (size_t)res->nfields + (size_t)field_num];
	return v ? v : (char *)"";
}

int PQgetisnull(const PGresult *res, int tup_num, int field_num)
{
	if (!in_range(res, tup_num, field_num))
		return 1;
	return res->values[(size_t)tup_num * (size_t)res->nfields + (size_t)field_num] == NULL;
}

void PQclear(PGresult *res)
{
	size_t i;

	if (!res)
		return;
	for (i = 0; i < (size_t)res->nfields * (size_t)res->ntuples; i++)
		free(res->values[i]);
	free(res->values);
	free(res->cmd);
	free(res->sqlstate);
	free(res->message);
	free(res->detail);
	free(res->hint);
	free(res->position);
	free(res->text);
	free(res);
}

/* ---- pure helpers ------------------------------------------------------- */

/*
 * libpq's PQescapeInternal for a UTF-8 connection: the quote character (and
 * for a literal the backslash) doubled, " E'...'" when a backslash was, the
 * input ending at len or at a NUL. No encoding check: scripts are UTF-8.
 */
static char *escape(const char *str, size_t len, bool ident)
{
	char quote = ident ? '"' : '\'';
	size_t i, n = 0, backslashes = 0;
	char *out, *p;

	for (i = 0; i < len && str[i]; i++) {
		if (!ident && str[i] == '\\')
			backslashes++;
		n++;
	}
	out = malloc(2 * n + 5);
	if (!out)
		return NULL;
	p = out;
	if (backslashes) {
		*p++ = ' ';
		*p++ = 'E';
	}
	*p++ = quote;
	for (i = 0; i < n; i++) {
		if (str[i] == quote || (!ident && str[i] == '\\'))
			*p++ = str[i];
		*p++ = str[i];
	}
	*p++ = quote;
	*p = '\0';
	return out;
}

char *PQescapeLiteral(PGconn *conn, const char *str, size_t len)
{
	(void)conn;
	return escape(str, len, false);
}

char *PQescapeIdentifier(PGconn *conn, const char *str, size_t len)
{
	(void)conn;
	return escape(str, len, true);
}

void PQfreemem(void *ptr)
{
	free(ptr);
}

/*
 * Parsing a connection string takes no connection: libpq's own does it.
 * The shim defines every symbol the library takes from libpq, so the linker
 * (--as-needed) drops libpq.so from the executable: it is opened here, by
 * its soname, which has been libpq.so.5 since PostgreSQL 8.2. Forwarding
 * keeps the options' memory libpq's, and PQconninfoFree hands it back.
 */
static void *real_libpq(const char *name)
{
	static void *lib;
	void *fn;

	if (!lib)
		lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	libpq_opened = lib != NULL;
	if (!lib)
		die("cannot open libpq.so.5 for %s: %s", name, dlerror());
	fn = dlsym(lib, name);
	if (!fn)
		die("cannot find libpq's %s: %s", name, dlerror());
	return fn;
}

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg)
{
	PQconninfoOption *(*real)(const char *, char **);

	*(void **)&real = real_libpq("PQconninfoParse");
	return real(conninfo, errmsg);
}

void PQconninfoFree(PQconninfoOption *connOptions)
{
	void (*real)(PQconninfoOption *);

	*(void **)&real = real_libpq("PQconninfoFree");
	real(connOptions);
}

/* ---- the end of a script ------------------------------------------------ */

void hpq_assert_done(void)
{
	if (g.next < g.count) {
		const hpq_step *st = &g.steps[g.next];

		die("%s: the script was not played to its end: step %zu of %zu, %s(\"%s\"), was "
		    "never called",
		    g.name, g.next + 1, g.count, fn_name(st->fn), st->sql ? st->sql : "");
	}
	if (g.live && pending(g.live))
		die("%s: the library left results of its last query unread", g.name);
}
