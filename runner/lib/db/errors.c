/*
 * errors.c - what the connection says and how: libpq's errors as a
 * modmig_error (SQLSTATE, detail, hint, context), one command run and its
 * result's shape checked, passwords redacted from every message, events and
 * server notices through the log callback, and where a server version
 * stands. Connecting is db.c's.
 */
#include "db/errors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- redaction ---------------------------------------------------------- */

static void add_secret(modmig_db *db, const char *s, size_t n)
{
	size_t i;

	if (!s || n == 0)
		return;
	for (i = 0; i < sizeof(db->secrets) / sizeof(db->secrets[0]); i++) {
		if (!db->secrets[i]) {
			db->secrets[i] = mm_strndup(s, n);
			return;
		}
	}
}

void modmig_conninfo_passwords(const char *conninfo, modmig_span_fn fn, void *userdata)
{
	const char *p, *end, *at = NULL, *colon, *q;

	if (!conninfo)
		return;
	/* a URL's user:PASSWORD@, in the authority before the path or query */
	p = strstr(conninfo, "://");
	if (p) {
		p += 3;
		end = p + strcspn(p, "/?");
		for (q = p; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon && at > colon + 1)
			fn(userdata, (size_t)(colon + 1 - conninfo), (size_t)(at - colon - 1));
	}
	/* password=VALUE: a URL query parameter or a key=value pair */
	for (p = strstr(conninfo, "password"); p; p = strstr(p + 8, "password")) {
		q = p + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q++ != '=')
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\'') {
			/* a quoted value runs to the closing quote; \' escapes one */
			for (end = ++q; *end && *end != '\''; end++)
				if (*end == '\\' && end[1])
					end++;
		} else {
			end = q + strcspn(q, "& \t");
		}
		if (end > q)
			fn(userdata, (size_t)(q - conninfo), (size_t)(end - q));
	}
}

/* Where collect_secrets finds a password in the raw text: remember it. */
typedef struct raw_secrets {
	modmig_db *db;
	const char *conninfo;
} raw_secrets;

static void add_raw_secret(void *userdata, size_t offset, size_t length)
{
	raw_secrets *r = userdata;

	add_secret(r->db, r->conninfo + offset, length);
}

void mm_db_collect_secrets(modmig_db *db, const char *conninfo, const PQconninfoOption *opts)
{
	const PQconninfoOption *o;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val)
			add_secret(db, o->val, strlen(o->val));
	/* as it stands in the raw text: libpq's messages may quote a string it cannot parse */
	modmig_conninfo_passwords(conninfo, add_raw_secret, &(raw_secrets){db, conninfo});
	if (getenv("PGPASSWORD"))
		add_secret(db, getenv("PGPASSWORD"), strlen(getenv("PGPASSWORD")));
}

char *mm_db_redact(const modmig_db *db, const char *text)
{
	mm_buf b;
	const char *p = text;
	size_t i;

	mm_buf_init(&b);
	while (*p) {
		size_t skip = 0;

		for (i = 0; db && i < sizeof(db->secrets) / sizeof(db->secrets[0]); i++) {
			size_t n = db->secrets[i] ? strlen(db->secrets[i]) : 0;

			if (n && strncmp(p, db->secrets[i], n) == 0) {
				skip = n;
				break;
			}
		}
		if (skip) {
			mm_buf_puts(&b, MM_DB_REDACTED);
			p += skip;
		} else {
			mm_buf_append(&b, p++, 1);
		}
	}
	return mm_buf_take(&b);
}

char *mm_db_first_line(const modmig_db *db, const char *msg)
{
	char *line, *out;
	size_t n;

	if (!msg)
		msg = "";
	while (isspace((unsigned char)*msg))
		msg++;
	n = strcspn(msg, "\n");
	while (n && isspace((unsigned char)msg[n - 1]))
		n--;
	line = mm_strndup(msg, n);
	if (!line)
		return NULL;
	out = mm_db_redact(db, line);
	free(line);
	return out;
}

/* ---- errors and events -------------------------------------------------- */

modmig_status mm_db_fail(modmig_db *db, const PGresult *res, modmig_status code, modmig_error **err,
                         const char *what)
{
	char *primary = NULL;
	const char *msg;

	if (!err || *err)
		return code;
	msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
	primary = mm_db_first_line(db, msg);
	mm_fail(err, code, NULL, 0, 0, "%s: %s", what,
	        primary && *primary ? primary : "the connection was lost");
	if (res && *err) {
		mm_error_set_field(&(*err)->sqlstate, PQresultErrorField(res, PG_DIAG_SQLSTATE));
		mm_error_set_field(&(*err)->detail,
		                   PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		mm_error_set_field(&(*err)->context, PQresultErrorField(res, PG_DIAG_CONTEXT));
		if (PQresultErrorField(res, PG_DIAG_MESSAGE_HINT))
			mm_hint(err, "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	}
	free(primary);
	return code;
}

modmig_status mm_db_exec(modmig_db *db, const char *sql, modmig_status code, const char *what,
                         modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	PGresult *res = PQexec(db->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = mm_db_fail(db, res, code, err, what);
	PQclear(res);
	return rc;
}

modmig_status mm_db_check_shape(const PGresult *res, int ntuples, int nfields, modmig_status code,
                                modmig_error **err, const char *what)
{
	int rows = PQntuples(res), fields = PQnfields(res);

	if (fields != nfields)
		return mm_fail(err, code, NULL, 0, 0,
		               "%s: the server returned %d column%s where %d %s expected", what,
		               fields, fields == 1 ? "" : "s", nfields,
		               nfields == 1 ? "was" : "were");
	if (ntuples >= 0 && rows != ntuples)
		return mm_fail(err, code, NULL, 0, 0,
		               "%s: the server returned %d row%s where %d %s expected", what, rows,
		               rows == 1 ? "" : "s", ntuples, ntuples == 1 ? "was" : "were");
	return MODMIG_OK;
}

/* Format the message into a buffer of this frame and send ev with it. */
static void vemit(modmig_db *db, modmig_event *ev, const char *fmt, va_list ap) MM_PRINTF(3, 0);
static void vemit(modmig_db *db, modmig_event *ev, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	ev->message = buf;
	db->log(db->log_userdata, ev);
}

void mm_emit(modmig_db *db, modmig_event_kind kind, modmig_log_level level,
             const modmig_migration *m, modmig_direction dir, double duration_ms, const char *sql,
             const char *fmt, ...)
{
	modmig_event ev;
	va_list ap;

	if (!db || !db->log)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.level = level;
	ev.migration = m;
	ev.direction = dir;
	ev.duration_ms = duration_ms;
	ev.sql = sql;
	va_start(ap, fmt);
	vemit(db, &ev, fmt, ap);
	va_end(ap);
}

void mm_emit_event(modmig_db *db, modmig_event *ev, const char *fmt, ...)
{
	va_list ap;

	if (!db || !db->log)
		return;
	va_start(ap, fmt);
	vemit(db, ev, fmt, ap);
	va_end(ap);
}

/*
 * Server notices (RAISE NOTICE, "already exists, skipping") go through the
 * log callback: libpq's default would print them to stderr.
 */
void mm_db_on_notice(void *arg, const PGresult *res)
{
	modmig_db *db = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	modmig_log_level level = MODMIG_LOG_INFO;
	char *line;
	char word[16];
	size_t i;

	if (severity && strcmp(severity, "WARNING") == 0)
		level = MODMIG_LOG_WARN;
	else if (severity && (strcmp(severity, "DEBUG") == 0 || strcmp(severity, "LOG") == 0))
		level = MODMIG_LOG_DEBUG;
	for (i = 0; severity && severity[i] && i + 1 < sizeof(word); i++)
		word[i] = (char)tolower((unsigned char)severity[i]);
	word[i] = '\0';
	line = mm_db_first_line(db, msg ? msg : PQresultErrorMessage(res));
	mm_emit(db, MODMIG_EVENT_MESSAGE, level, NULL, MODMIG_UP, 0, NULL, "server %s: %s",
	        i ? word : "notice", line ? line : "");
	free(line);
}

/* ---- what a result means ------------------------------------------------ */

bool mm_db_is_missing_relation(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0);
}

mm_pg_support mm_pg_support_of(int server_version_num)
{
	if (server_version_num < MM_PG_OLDEST_SUPPORTED)
		return MM_PG_TOO_OLD;
	if (server_version_num / 10000 > MM_PG_NEWEST_TESTED)
		return MM_PG_UNTESTED;
	return MM_PG_SUPPORTED;
}
