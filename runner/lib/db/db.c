/*
 * db.c - the plain connection: where the connection string comes from, the
 * search_path that must not reach migrations, the hint for a connection that
 * failed, read-only servers, cancelling, and the handle's accessors. What
 * the connection says (errors, redaction, events, notices) is errors.c's.
 */
#include "db/errors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options: drop search_path ------------------------------------------ */

/*
 * The backend splits `options` at unescaped whitespace, a backslash escaping
 * the next character (pg_split_opts). Each word is kept raw so the ones that
 * are not a search_path go back to the server exactly as the user wrote them.
 */
static const char *next_word(const char *p, const char **end)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return NULL;
	*end = p;
	while (**end && !isspace((unsigned char)**end)) {
		if (**end == '\\' && (*end)[1])
			(*end)++;
		(*end)++;
	}
	return p;
}

/* The unescaped text of a word (the backslashes removed). */
static char *unescape_word(const char *p, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, j = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		out[j++] = p[i];
	}
	out[j] = '\0';
	return out;
}

/*
 * Whether a "name=value" setting (as after -c or --) names the setting want.
 * The server folds case and treats '-' as '_' in option names.
 */
static bool is_setting(const char *setting, const char *want, const char **value)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		char c = (char)tolower((unsigned char)setting[i]);

		if (c == '-')
			c = '_';
		if (c != want[i])
			return false;
	}
	if (setting[i] != '=')
		return false;
	*value = setting + i + 1;
	return true;
}

/*
 * Split options into what is kept and the search_path it set (the last one).
 * A client_encoding is dropped too: modmig's is always UTF8 (see connect).
 */
static modmig_status strip_search_path(const char *options, char **kept, char **stripped,
                                       modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	mm_buf out;
	const char *p = options, *start, *end = NULL;
	char *word = NULL, *setting = NULL;

	mm_buf_init(&out);
	while ((start = next_word(p, &end)) != NULL) {
		const char *set_end = end, *value;

		free(word);
		word = unescape_word(start, (size_t)(end - start));
		p = end;
		if (!word)
			goto nomem;
		free(setting);
		setting = NULL;
		if (strcmp(word, "-c") == 0) {
			const char *s2, *e2 = NULL;

			s2 = next_word(p, &e2);
			if (s2) {
				setting = unescape_word(s2, (size_t)(e2 - s2));
				set_end = e2;
			}
		} else if (strncmp(word, "--", 2) == 0) {
			setting = mm_strdup(word + 2);
		} else if (strncmp(word, "-c", 2) == 0) {
			setting = mm_strdup(word + 2);
		}
		if (setting && is_setting(setting, "client_encoding", &value)) {
			p = set_end;
			continue;
		}
		if (setting && is_setting(setting, "search_path", &value)) {
			free(*stripped);
			*stripped = mm_strdup(value);
			if (!*stripped)
				goto nomem;
			p = set_end;
			continue;
		}
		if (out.len)
			mm_buf_puts(&out, " ");
		mm_buf_append(&out, start, (size_t)(end - start));
	}
	*kept = mm_buf_take(&out);
	if (!*kept)
		goto nomem;
	goto cleanup;
nomem:
	rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
cleanup:
	free(word);
	free(setting);
	mm_buf_free(&out);
	return rc;
}

/* ---- read-only servers -------------------------------------------------- */

/*
 * A hot standby and a database whose transactions default to read-only take
 * no migration. PostgreSQL 14 and later report both settings when the
 * connection starts (ParameterStatus), so knowing costs no round trip; older
 * servers are asked once.
 */
static modmig_status read_only_reason(modmig_db *db, modmig_error **err)
{
	const char *standby = PQparameterStatus(db->conn, "in_hot_standby");
	const char *ro = PQparameterStatus(db->conn, "default_transaction_read_only");
	PGresult *res = NULL;
	modmig_status rc = MODMIG_OK;

	if (!standby || !ro) {
		res = PQexec(db->conn, "select case when pg_is_in_recovery() then 'on' else 'off' "
		                       "end, current_setting('default_transaction_read_only')");
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			rc = mm_db_fail(db, res, MODMIG_E_CONNECT, err,
			                "cannot tell whether the server is read-only");
			goto cleanup;
		}
		standby = PQgetvalue(res, 0, 0);
		ro = PQgetvalue(res, 0, 1);
	}
	db->standby = strcmp(standby, "on") == 0;
	if (db->standby)
		db->read_only = mm_strdup("the server is a hot standby (in recovery) and takes no "
		                          "writes");
	else if (strcmp(ro, "on") == 0)
		db->read_only = mm_strdup("default_transaction_read_only is on for this database "
		                          "or user: every transaction is read-only");
cleanup:
	PQclear(res);
	return rc;
}

const char *modmig_db_read_only(const modmig_db *db)
{
	if (!db || !db->conn)
		return NULL;
	/* a standby promoted since the connection was made reports it again */
	if (db->standby && PQparameterStatus(db->conn, "in_hot_standby") &&
	    strcmp(PQparameterStatus(db->conn, "in_hot_standby"), "off") == 0)
		return NULL;
	return db->read_only;
}

modmig_status mm_db_check_writable(modmig_db *db, const char *what, modmig_error **err)
{
	const char *why = modmig_db_read_only(db);

	if (!why)
		return MODMIG_OK;
	mm_fail(err, MODMIG_E_REFUSED, NULL, 0, 0, "refusing to %s on a read-only server: %s", what,
	        why);
	if (db->standby)
		mm_next(err, MODMIG_NEXT_WRITABLE, 0,
		        "connect to the primary server; nothing was changed");
	else
		mm_next(err, MODMIG_NEXT_WRITABLE, 0,
		        "connect as a user or to a database where default_transaction_read_only "
		        "is off; nothing was changed");
	return MODMIG_E_REFUSED;
}

/* ---- cancelling ---------------------------------------------------------- */

/*
 * Async-signal-safe: PQcancel() writes to a stack buffer and a socket of its
 * own; a cancel request that reaches an idle backend is ignored there, so a
 * signal between two statements costs nothing and the flag stops the next.
 */
modmig_status modmig_db_cancel(modmig_db *db)
{
	char errbuf[256];

	if (!db)
		return MODMIG_OK;
	db->cancelled = 1;
	if (!db->cancel)
		return MODMIG_OK;
	return PQcancel(db->cancel, errbuf, (int)sizeof(errbuf)) ? MODMIG_OK : MODMIG_E_CONNECT;
}

/* ---- connecting --------------------------------------------------------- */

/* postgresql://user[:xxxxx]@host:port/db, with ?host= for a socket directory. */
static char *describe(const modmig_db *db)
{
	const char *user = PQuser(db->conn), *host = PQhost(db->conn), *port = PQport(db->conn);
	const char *name = PQdb(db->conn);
	bool socket_dir = host && (host[0] == '/' || host[0] == '@');
	mm_buf b;

	mm_buf_init(&b);
	mm_buf_puts(&b, "postgresql://");
	if (user && *user) {
		mm_buf_puts(&b, user);
		if (PQconnectionUsedPassword(db->conn) || db->secrets[0])
			mm_buf_puts(&b, ":" MM_DB_REDACTED);
		mm_buf_puts(&b, "@");
	}
	if (host && !socket_dir)
		mm_buf_printf(&b, "%s:%s", host, port ? port : "5432");
	mm_buf_printf(&b, "/%s", name ? name : "");
	if (socket_dir)
		mm_buf_printf(&b, "?host=%s&port=%s", host, port ? port : "5432");
	return mm_buf_take(&b);
}

/* Keywords and values for PQconnectdbParams, options rewritten. */
typedef struct conn_params {
	const char *keys[64];
	const char *values[64];
	size_t count;
	char *options;
} conn_params;

static void param_set(conn_params *cp, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < cp->count; i++) {
		if (strcmp(cp->keys[i], key) == 0) {
			cp->values[i] = value;
			return;
		}
	}
	if (cp->count + 1 < sizeof(cp->keys) / sizeof(cp->keys[0])) {
		cp->keys[cp->count] = key;
		cp->values[cp->count++] = value;
	}
}

static const char *param_get(const conn_params *cp, const char *key)
{
	size_t i;

	for (i = 0; i < cp->count; i++)
		if (strcmp(cp->keys[i], key) == 0)
			return cp->values[i];
	return NULL;
}

/* What every open connection gets: notices, the server version, its name. */
static void attach(modmig_db *db)
{
	PQsetNoticeReceiver(db->conn, mm_db_on_notice, db);
	db->server_version = PQserverVersion(db->conn);
	snprintf(db->client_encoding, sizeof(db->client_encoding), "%s",
	         PQparameterStatus(db->conn, "client_encoding")
	                 ? PQparameterStatus(db->conn, "client_encoding")
	                 : "");
	db->display = describe(db);
	if (gethostname(db->hostname, sizeof(db->hostname)) != 0)
		db->hostname[0] = '\0';
	db->hostname[sizeof(db->hostname) - 1] = '\0';
}

modmig_db *mm_db_adopt(PGconn *conn)
{
	modmig_db *db = calloc(1, sizeof(*db));

	if (!db) {
		PQfinish(conn);
		return NULL;
	}
	db->conn = conn;
	db->lock_timeout_ms = -1;
	attach(db);
	return db;
}

/*
 * A connection failure has causes that need different fixes, and libpq
 * tells them apart only in its text (there is no SQLSTATE before a session
 * exists): the server's FATAL messages carry fixed wording, the client's
 * say what the socket did. The SQLSTATE is the server's for its cases.
 */
static void connect_hint(const char *msg, modmig_error **err)
{
	static const struct {
		const char *needle;
		const char *sqlstate;
		const char *hint;
	} causes[] = {
	        {"password authentication failed", "28P01",
	         "the server is up but refused the password: check the password in the connection "
	         "string, PGPASSWORD or ~/.pgpass for this user"},
	        {"no password supplied", "28P01",
	         "the server asks for a password and none was given: add it to the connection "
	         "string, PGPASSWORD or ~/.pgpass"},
	        {"no pg_hba.conf entry", "28000",
	         "the server is up but its pg_hba.conf does not let this user, database and host "
	         "in: ask its administrator for an entry"},
	        {"Connection refused", NULL,
	         "nothing listens there: is the server running, and are the host and port right?"},
	        {"No such file or directory", NULL,
	         "no server socket there: is the server running, and are the host and port "
	         "(socket directory) right?"},
	        {"could not translate host name", NULL,
	         "the host name does not resolve: check the host in the connection string"},
	        {"timeout expired", NULL,
	         "the server did not answer in time: check the host, the port and the network"},
	};
	size_t i;

	if (!err || !*err || !msg)
		return;
	if (strstr(msg, "FATAL:") && strstr(msg, "database \"") && strstr(msg, "does not exist")) {
		mm_error_set_field(&(*err)->sqlstate, "3D000");
		mm_hint(err, "the server is up but has no such database: check the database name, "
		             "or create it (createdb NAME)");
		return;
	}
	if (strstr(msg, "FATAL:") && strstr(msg, "role \"") && strstr(msg, "does not exist")) {
		mm_error_set_field(&(*err)->sqlstate, "28000");
		mm_hint(err, "the server is up but has no such role: check the user name in the "
		             "connection string or PGUSER");
		return;
	}
	for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
		if (!causes[i].hint || !strstr(msg, causes[i].needle))
			continue;
		if (causes[i].sqlstate)
			mm_error_set_field(&(*err)->sqlstate, causes[i].sqlstate);
		mm_hint(err, "%s", causes[i].hint);
		return;
	}
	mm_hint(err, "check the connection string, DATABASE_URL or PGHOST, PGPORT, PGUSER and "
	             "PGDATABASE");
}

modmig_status modmig_db_connect(const char *conninfo, modmig_db **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_db *db = NULL;
	PQconninfoOption *opts = NULL, *o;
	conn_params cp;
	char *parse_error = NULL, *line = NULL;
	const char *options;

	memset(&cp, 0, sizeof(cp));
	*out = NULL;
	if (!conninfo || !*conninfo)
		conninfo = getenv("DATABASE_URL");
	if (!conninfo)
		conninfo = "";
	db = calloc(1, sizeof(*db));
	if (!db) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	db->lock_timeout_ms = -1;
	opts = PQconninfoParse(conninfo, &parse_error);
	mm_db_collect_secrets(db, conninfo, opts);
	if (!opts) {
		line = mm_db_first_line(db, parse_error ? parse_error : "out of memory");
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "invalid connection string: %s",
		             line ? line : "out of memory");
		mm_hint(err, "pass a URL like postgresql://user@host:5432/dbname or "
		             "key=value pairs with -d or DATABASE_URL");
		goto cleanup;
	}
	for (o = opts; o->keyword; o++)
		if (o->val)
			param_set(&cp, o->keyword, o->val);
	/* libpq would take PGOPTIONS from the environment: strip that one too. */
	options = param_get(&cp, "options");
	if (!options)
		options = getenv("PGOPTIONS");
	if (options) {
		rc = strip_search_path(options, &cp.options, &db->stripped_search_path, err);
		if (rc != MODMIG_OK)
			goto cleanup;
		/* libpq ignores an empty value and would fall back to PGOPTIONS. */
		param_set(&cp, "options", *cp.options ? cp.options : " ");
	}
	param_set(&cp, "fallback_application_name", "modmig");
	/*
	 * Migration files are UTF-8 (the parser refuses anything else), so the
	 * server must read them as UTF-8 whatever the connection string or
	 * PGCLIENTENCODING say: any other client_encoding would store mojibake
	 * without an error. Set here it is the session's reset value, so that a
	 * RESET ALL between migrations comes back to it.
	 */
	param_set(&cp, "client_encoding", "UTF8");
	cp.keys[cp.count] = NULL;
	cp.values[cp.count] = NULL;
	db->conn = PQconnectdbParams(cp.keys, cp.values, 0);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		const char *msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";

		line = mm_db_first_line(db, msg);
		rc = mm_fail(err, MODMIG_E_CONNECT, NULL, 0, 0,
		             "cannot connect to the database: %s", line ? line : "out of memory");
		/* One line, as the operator reads it: libpq's own words say what failed. */
		connect_hint(msg, err);
		goto cleanup;
	}
	attach(db);
	/*
	 * Only for connections modmig made: prepared now, because
	 * modmig_db_cancel() must not allocate in a signal handler.
	 */
	db->cancel = PQgetCancel(db->conn);
	if ((rc = read_only_reason(db, err)) != MODMIG_OK)
		goto cleanup;
	*out = db;
	db = NULL;
cleanup:
	if (parse_error)
		PQfreemem(parse_error);
	if (opts)
		PQconninfoFree(opts);
	free(cp.options);
	free(line);
	modmig_db_free(db);
	return rc;
}

/*
 * A second connection as the first was made (PQconninfo gives every setting
 * it used, options already without search_path), for the progress watcher.
 */
PGconn *mm_db_connect_again(modmig_db *db)
{
	PQconninfoOption *opts = PQconninfo(db->conn), *o;
	const char **keys = NULL, **values = NULL;
	PGconn *conn = NULL;
	size_t n = 0;

	if (!opts)
		return NULL;
	for (o = opts; o->keyword; o++)
		n++;
	keys = calloc(n + 2, sizeof(*keys));
	values = calloc(n + 2, sizeof(*values));
	if (!keys || !values)
		goto cleanup;
	n = 0;
	for (o = opts; o->keyword; o++) {
		/* the watcher names itself; everything else as the first has it */
		if (!o->val || strcmp(o->keyword, "application_name") == 0)
			continue;
		keys[n] = o->keyword;
		values[n++] = o->val;
	}
	keys[n] = "application_name";
	values[n++] = "modmig progress";
	conn = PQconnectdbParams(keys, values, 0);
	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		conn = NULL;
	}
cleanup:
	free(keys);
	free(values);
	PQconninfoFree(opts);
	return conn;
}

void modmig_db_free(modmig_db *db)
{
	size_t i;

	if (!db)
		return;
	/* Ending the session releases its advisory locks as well. */
	if (db->cancel)
		PQfreeCancel(db->cancel);
	if (db->conn)
		PQfinish(db->conn);
	free(db->read_only);
	free(db->display);
	free(db->stripped_search_path);
	for (i = 0; i < sizeof(db->secrets) / sizeof(db->secrets[0]); i++)
		free(db->secrets[i]);
	free(db);
}

void modmig_db_set_log(modmig_db *db, modmig_log_fn fn, void *userdata)
{
	if (!db)
		return;
	db->log = fn;
	db->log_userdata = userdata;
}

void modmig_db_set_lock_timeout(modmig_db *db, int timeout_ms)
{
	if (db)
		db->lock_timeout_ms = timeout_ms;
}

void modmig_db_set_lock_mode(modmig_db *db, modmig_lock_mode mode)
{
	if (db)
		db->lock_mode = mode;
}

const char *modmig_db_display(const modmig_db *db)
{
	return db ? db->display : NULL;
}

const char *modmig_db_stripped_search_path(const modmig_db *db)
{
	return db ? db->stripped_search_path : NULL;
}

int modmig_db_server_version(const modmig_db *db)
{
	return db ? db->server_version : 0;
}
