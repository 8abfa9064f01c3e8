/*
 * doctor.c - doctor: a checklist of what a migration needs, each item with
 * what was found and a one-line fix when it failed. Read-only: takes no lock
 * and creates nothing. The caller connects: without a connection the list
 * holds the offline items and the caller adds its connection error.
 */
#include "run/run.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct modmig_checkup {
	modmig_check *items;
	size_t count;
	size_t cap;
	bool oom;
};

/* ---- the checkup handle ------------------------------------------------- */

/* Add an item with the next step of its fix; detail and fix are taken over (fix may be NULL). */
static void item_next(modmig_checkup *c, const char *name, bool ok, char *detail, char *fix,
                      modmig_next_step next)
{
	modmig_check *it;

	if (!detail || c->oom || (!ok && !fix))
		goto nomem;
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		modmig_check *items = realloc(c->items, cap * sizeof(*items));

		if (!items)
			goto nomem;
		c->items = items;
		c->cap = cap;
	}
	it = &c->items[c->count++];
	it->name = name;
	it->ok = ok;
	it->detail = detail;
	it->fix = ok ? NULL : fix;
	it->next = ok ? MODMIG_NEXT_NONE : next;
	if (ok)
		free(fix);
	return;
nomem:
	free(detail);
	free(fix);
	c->oom = true;
}

static void item(modmig_checkup *c, const char *name, bool ok, char *detail, char *fix)
{
	item_next(c, name, ok, detail, fix, MODMIG_NEXT_NONE);
}

size_t modmig_checkup_count(const modmig_checkup *checkup)
{
	return checkup ? checkup->count : 0;
}

const modmig_check *modmig_checkup_at(const modmig_checkup *checkup, size_t index)
{
	return checkup && index < checkup->count ? &checkup->items[index] : NULL;
}

void modmig_checkup_free(modmig_checkup *checkup)
{
	size_t i;

	if (!checkup)
		return;
	for (i = 0; i < checkup->count; i++) {
		free((char *)checkup->items[i].detail);
		free((char *)checkup->items[i].fix);
	}
	free(checkup->items);
	free(checkup);
}

/* ---- the items ---------------------------------------------------------- */

static void check_config(modmig_checkup *c, const modmig_source *src)
{
	const char *vt = modmig_source_version_table(src);

	item(c, "configuration", true,
	     mm_printf("%s %s, version table %s, %zu modules, %zu migrations",
	               modmig_source_is_dir(src) ? "directory" : "manifest",
	               modmig_source_origin(src), vt && *vt ? vt : "goose_db_version",
	               modmig_source_module_count(src), modmig_source_migration_count(src)),
	     NULL);
}

static void check_server(modmig_checkup *c, modmig_db *db)
{
	const char *text = PQparameterStatus(db->conn, "server_version");
	const char *path = modmig_db_stripped_search_path(db);
	mm_pg_support support = mm_pg_support_of(db->server_version);

	/* a newer server than the matrix is said, not failed: it is most likely fine */
	item(c, "server version", support != MM_PG_TOO_OLD,
	     mm_printf("PostgreSQL %s (server_version_num %d)%s", text ? text : "?",
	               db->server_version,
	               support == MM_PG_TOO_OLD    ? ": older than the oldest supported, 13"
	               : support == MM_PG_UNTESTED ? ": newer than the versions modmig is tested "
	                                             "on (13 through 18)"
	                                           : ", supported (13 through 18)"),
	     mm_strdup("upgrade the server to PostgreSQL 13 or later; modmig is tested on 13 "
	               "through 18"));
	/* a standby or a read-only default takes no migration: say so before anything advises up */
	if (modmig_db_read_only(db))
		item_next(c, "writable", false, mm_printf("read-only: %s", modmig_db_read_only(db)),
		          mm_strdup(db->standby ? "connect to the primary server"
		                                : "connect as a user or to a database where "
		                                  "default_transaction_read_only is off"),
		          MODMIG_NEXT_WRITABLE);
	else
		item(c, "writable", true,
		     mm_strdup("the server takes writes (not a hot standby, "
		               "default_transaction_read_only off)"),
		     NULL);
	if (path)
		item(c, "search_path", true,
		     mm_printf("search_path=%s was removed from the connection options; "
		               "migrations run with the server's default",
		               path),
		     NULL);
	else
		item(c, "search_path", true,
		     mm_strdup("no search_path in the connection options; migrations run with "
		               "the server's default"),
		     NULL);
}

/* The version table, the history and the registry, from the state read and verify. */
static void check_tables(modmig_checkup *c, const mm_names *n, const mm_state *st,
                         const modmig_findings *f, bool dir, bool read_only)
{
	const char *up = read_only ? "run up on the primary server, which creates it"
	                           : "run up, which creates it";
	modmig_next_step create = read_only ? MODMIG_NEXT_WRITABLE : MODMIG_NEXT_CREATE_STATE;
	bool tampered = false, registry = false;
	const char *registry_msg = NULL;
	size_t i;

	for (i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		tampered |= x->kind == MODMIG_FINDING_TAMPERED;
		if (x->kind == MODMIG_FINDING_REGISTRY && !registry) {
			registry = true;
			registry_msg = x->reason ? x->reason : x->message;
		}
	}
	item_next(c, "version table", st->has[MM_TABLE_VERSION],
	          st->has[MM_TABLE_VERSION]
	                  ? mm_printf("%s: %zu applied, current version %lld", n->written,
	                              st->applied_count, (long long)mm_state_max_applied(st))
	                  : mm_printf("%s does not exist", n->written),
	          mm_strdup(up), create);
	if (!st->has[MM_TABLE_HISTORY])
		item_next(c, "history", false,
		          mm_printf("%s does not exist", n->table[MM_TABLE_HISTORY]), mm_strdup(up),
		          create);
	else
		item_next(c, "history", !tampered,
		          tampered ? mm_printf("%s has lost its append-only trigger",
		                               n->table[MM_TABLE_HISTORY])
		                   : mm_printf("%s is append-only (trigger present)",
		                               n->table[MM_TABLE_HISTORY]),
		          mm_strdup("recreate the triggers with modmig_repair() "
		                    "(MODMIG_REPAIR_RECREATE_TRIGGERS), then check the history for "
		                    "changes"),
		          MODMIG_NEXT_REPAIR);
	/* a goose directory has no modules, so no registry to speak of */
	if (dir)
		return;
	if (!st->has[MM_TABLE_MODULES])
		item_next(c, "module registry", false,
		          mm_printf("%s does not exist", n->table[MM_TABLE_MODULES]), mm_strdup(up),
		          create);
	else
		item_next(c, "module registry", !registry,
		          registry ? mm_strdup(registry_msg)
		                   : mm_printf("%s: %zu modules registered, matches the manifest",
		                               n->table[MM_TABLE_MODULES], st->module_count),
		          mm_strdup("append new modules at the end of the manifest; registered "
		                    "modules keep their name and position, or, if nothing was "
		                    "applied under them, are cleared with modmig_repair() "
		                    "(MODMIG_REPAIR_CLEAR_REGISTRY)"),
		          MODMIG_NEXT_REPAIR);
}

static void check_lock(modmig_checkup *c, modmig_db *db, const mm_names *n)
{
	modmig_error *e = NULL;
	mm_holder h;

	if (mm_lock_holder(db, n, &h, &e) != MODMIG_OK)
		item(c, "lock", false, mm_strdup(modmig_error_message(e)),
		     mm_strdup("the role needs to read pg_locks and pg_stat_activity"));
	else if (!h.found)
		item(c, "lock", true, mm_printf("free (advisory key %lld)", (long long)n->lock_key),
		     NULL);
	else
		item(c, "lock", true,
		     mm_printf("held by pid %s (%s, user %s, since %s; advisory key %lld): a "
		               "migration may be running",
		               h.pid, h.app, h.user, h.since, (long long)n->lock_key),
		     NULL);
	modmig_error_free(e);
}

static void check_pending(modmig_checkup *c, const modmig_source *src, const mm_state *st,
                          bool read_only)
{
	mm_plan plan;
	size_t missing = 0, i;
	int64_t max = mm_state_max_applied(st);

	if (mm_plan_up(src->migrations, src->migration_count, st, NULL, NULL, &plan, NULL) !=
	    MODMIG_OK) {
		c->oom = true;
		return;
	}
	for (i = 0; i < plan.count; i++)
		missing += plan.steps[i].version < max;
	if (plan.count == 0)
		item(c, "pending", true, mm_strdup("every migration is applied"), NULL);
	else
		item_next(
		        c, "pending", false,
		        mm_printf("%zu migration%s not applied (%zu missing, %zu new), first %lld",
		                  plan.count, plan.count == 1 ? "" : "s", missing,
		                  plan.count - missing, (long long)plan.steps[0].version),
		        mm_strdup(read_only ? "apply them on the primary server" : "run up"),
		        read_only ? MODMIG_NEXT_WRITABLE : MODMIG_NEXT_RUN_UP);
	mm_plan_clear(&plan);
}

/* Findings other than pending work and missing tables, which have their own items. */
static void check_findings(modmig_checkup *c, const modmig_findings *f)
{
	size_t counts[MODMIG_FINDING_KIND_COUNT] = {0}, total = 0, i;
	mm_buf b;

	for (i = 0; i < modmig_findings_count(f); i++) {
		modmig_finding_kind k = modmig_findings_at(f, i)->kind;

		/* warnings (unverified adopted rows) do not make a setup unhealthy */
		if (modmig_findings_at(f, i)->severity == MODMIG_SEVERITY_WARNING)
			continue;
		if (k == MODMIG_FINDING_PENDING || k == MODMIG_FINDING_MISSING ||
		    k == MODMIG_FINDING_STATE || (int)k < 0 || (int)k >= MODMIG_FINDING_KIND_COUNT)
			continue;
		counts[k]++;
		total++;
	}
	if (total == 0) {
		item(c, "verify", true,
		     mm_strdup("no changed, unknown, failed or out-of-order migrations"), NULL);
		return;
	}
	mm_buf_init(&b);
	mm_buf_printf(&b, "%zu finding%s:", total, total == 1 ? "" : "s");
	for (i = 0; i < MODMIG_FINDING_KIND_COUNT; i++)
		if (counts[i])
			mm_buf_printf(&b, " %zu %s", counts[i],
			              modmig_finding_kind_name((modmig_finding_kind)i));
	item_next(c, "verify", false, mm_buf_take(&b), mm_strdup("run verify for details"),
	          MODMIG_NEXT_RUN_VERIFY);
}

/* ---- privileges --------------------------------------------------------- */

/* An SQL array literal of the module schemas (public for modules without one). */
static char *schema_array(const modmig_source *src)
{
	size_t i, k;
	mm_buf b;

	mm_buf_init(&b);
	mm_buf_puts(&b, "{");
	for (i = 0; i < modmig_source_module_count(src); i++) {
		const char *s = modmig_module_schema(modmig_source_module_at(src, i));

		mm_buf_puts(&b, i ? ",\"" : "\"");
		for (k = 0, s = s ? s : "public"; s[k]; k++) {
			if (s[k] == '"' || s[k] == '\\')
				mm_buf_puts(&b, "\\");
			mm_buf_append(&b, &s[k], 1);
		}
		mm_buf_puts(&b, "\"");
	}
	if (modmig_source_module_count(src) == 0)
		mm_buf_puts(&b, "public");
	mm_buf_puts(&b, "}");
	return mm_buf_take(&b);
}

static void check_privileges(modmig_checkup *c, modmig_db *db, const modmig_source *src)
{
	char *array = schema_array(src);
	const char *params[1] = {array};
	PGresult *res = NULL;
	mm_buf bad, fix;
	int i, rows, ok_count = 0;

	mm_buf_init(&bad);
	mm_buf_init(&fix);
	if (!array) {
		c->oom = true;
		goto cleanup;
	}
	res = PQexecParams(
	        db->conn,
	        "select s, n.oid is not null, case when n.oid is null then "
	        "has_database_privilege(current_database(), 'CREATE') else "
	        "has_schema_privilege(n.oid, 'CREATE') end, quote_ident(s), "
	        "quote_ident(current_user), quote_ident(current_database()) from (select distinct "
	        "s from unnest($1::text[]) s) x left join pg_namespace n on n.nspname = x.s "
	        "order by 1",
	        1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		item(c, "privileges", false, mm_db_redact(db, PQresultErrorMessage(res)),
		     mm_strdup("check that the role can read the system catalogs"));
		goto cleanup;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows; i++) {
		bool exists = PQgetvalue(res, i, 1)[0] == 't';

		if (PQgetvalue(res, i, 2)[0] == 't') {
			ok_count++;
			continue;
		}
		mm_buf_printf(&bad, "%s%s%s", bad.len ? ", " : "", PQgetvalue(res, i, 0),
		              exists ? "" : " (to be created: needs CREATE on the database)");
		if (exists)
			mm_buf_printf(&fix, "%sGRANT CREATE ON SCHEMA %s TO %s;",
			              fix.len ? " " : "", PQgetvalue(res, i, 3),
			              PQgetvalue(res, i, 4));
		else if (!strstr(fix.data ? fix.data : "", "ON DATABASE"))
			mm_buf_printf(&fix, "%sGRANT CREATE ON DATABASE %s TO %s;",
			              fix.len ? " " : "", PQgetvalue(res, i, 5),
			              PQgetvalue(res, i, 4));
	}
	/* granted on paper, but a read-only server creates nothing */
	if (!bad.len && modmig_db_read_only(db))
		item_next(c, "privileges", false,
		          mm_printf("granted in all %d schema%s, but the server is read-only: "
		                    "nothing can be created here",
		                    ok_count, ok_count == 1 ? "" : "s"),
		          mm_strdup("connect to the primary server"), MODMIG_NEXT_WRITABLE);
	else if (!bad.len && modmig_source_is_dir(src))
		item(c, "privileges", true, mm_strdup("can create in schema public"), NULL);
	else if (!bad.len)
		item(c, "privileges", true,
		     mm_printf("can create in all %d module schema%s", ok_count,
		               ok_count == 1 ? "" : "s"),
		     NULL);
	else
		item_next(c, "privileges", false, mm_printf("cannot create in %s", bad.data),
		          mm_printf("as an owner or superuser: %s", fix.data ? fix.data : ""),
		          MODMIG_NEXT_GRANT);
cleanup:
	PQclear(res);
	free(array);
	mm_buf_free(&bad);
	mm_buf_free(&fix);
}

/* ---- a pooler in transaction mode --------------------------------------- */

/* Wait up to ms for conn's pending query; true when its result is ready. */
static bool ready_within(PGconn *conn, int ms)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
	double until = mm_now_ms() + ms;

	while (PQisBusy(conn)) {
		int left = (int)(until - mm_now_ms());

		if (left <= 0 || poll(&pfd, 1, left) < 0 || !PQconsumeInput(conn))
			return !PQisBusy(conn);
	}
	return true;
}

/* The pid from a "select pg_backend_pid()" sent before; 0 when none came. */
static long backend_pid(PGconn *conn)
{
	PGresult *r;
	long pid = 0;

	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			pid = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	return pid;
}

/* A second connection with the same parameters as db's (password included). */
static PGconn *second_connection(modmig_db *db)
{
	PQconninfoOption *opts = PQconninfo(db->conn), *o;
	const char *keys[64], *values[64];
	size_t n = 0;
	PGconn *conn;

	for (o = opts; o && o->keyword && n + 1 < 64; o++) {
		if (!o->val || !*o->val)
			continue;
		keys[n] = o->keyword;
		values[n++] = o->val;
	}
	keys[n] = values[n] = NULL;
	conn = opts ? PQconnectdbParams(keys, values, 0) : NULL;
	PQconninfoFree(opts);
	return conn;
}

/*
 * Does each transaction of this connection run on the backend of the one
 * before (a direct connection, or a pooler in session mode)? Ask for the
 * backend's pid; let a second connection take a backend and keep it in an
 * open transaction; ask again. Through a pooler in transaction mode the
 * first backend went back to the pool after the first transaction, the
 * second connection most likely got it, and the second question lands on
 * another backend (or waits for one: that too only a pooler does).
 */
static void check_pooler(modmig_checkup *c, modmig_db *db)
{
	PGconn *other = NULL;
	long first = 0, second = 0;
	bool waited = false;

	if (PQsendQuery(db->conn, "select pg_backend_pid()"))
		first = ready_within(db->conn, 5000) ? backend_pid(db->conn) : 0;
	other = second_connection(db);
	if (!first || !other || PQstatus(other) != CONNECTION_OK ||
	    !PQsendQuery(other, "begin; select pg_backend_pid()") || !ready_within(other, 5000)) {
		item(c, "pooler", true,
		     mm_strdup("could not tell whether a pooler stands in between (no second "
		               "connection)"),
		     NULL);
		goto cleanup;
	}
	backend_pid(other);
	if (PQsendQuery(db->conn, "select pg_backend_pid()")) {
		waited = !ready_within(db->conn, 2000);
		if (waited) {
			/* the pool had no other backend: give ours back, then read */
			PGresult *r = PQexec(other, "rollback");

			PQclear(r);
			ready_within(db->conn, 10000);
		}
		second = backend_pid(db->conn);
	}
	if (waited || (second && second != first))
		item(c, "pooler", db->lock_mode == MODMIG_LOCK_TABLE,
		     waited ? mm_strdup(
		                      "a connection pooler in transaction mode: this connection's "
		                      "next transaction waited for another client's")
		            : mm_printf("a connection pooler in transaction mode: two transactions "
		                        "of this connection ran on backends %ld and %ld; a session "
		                        "lock means nothing there (the fence still applies each "
		                        "migration once)",
		                        first, second),
		     mm_strdup("take the table lock for migrations through this pooler, or "
		               "migrate over a direct or session-pooled connection"));
	else
		item(c, "pooler", true,
		     mm_printf("each transaction runs on the same backend (pid %ld): a direct "
		               "connection or session pooling",
		               first),
		     NULL);
cleanup:
	if (other)
		PQfinish(other);
}

/* ---- the checkup -------------------------------------------------------- */

static void run_online(modmig_checkup *c, modmig_db *db, modmig_source *src)
{
	modmig_error *e = NULL;
	modmig_findings *f = NULL;
	modmig_status st;
	mm_session s;

	check_server(c, db);
	check_pooler(c, db);
	st = mm_session_open(&s, db, src, &e);
	if (st != MODMIG_OK) {
		item_next(c, "state", false,
		          mm_strdup(e ? e->message : "cannot read modmig's state"),
		          e && e->hint ? mm_strdup(e->hint)
		                       : mm_printf("let the role read modmig's tables, e.g. GRANT "
		                                   "SELECT, INSERT ON %s, %s, %s TO the role, or "
		                                   "connect as their owner",
		                                   s.names.table[MM_TABLE_VERSION]
		                                           ? s.names.table[MM_TABLE_VERSION]
		                                           : "the version table",
		                                   s.names.table[MM_TABLE_HISTORY]
		                                           ? s.names.table[MM_TABLE_HISTORY]
		                                           : "its history",
		                                   s.names.table[MM_TABLE_MODULES]
		                                           ? s.names.table[MM_TABLE_MODULES]
		                                           : "its registry"),
		          e && e->hint ? e->next : MODMIG_NEXT_GRANT);
		/* The lock and the privileges do not need the state. */
		if (s.names.written)
			check_lock(c, db, &s.names);
		check_privileges(c, db, src);
		goto cleanup;
	}
	st = modmig_verify(db, src, &f, &e);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		item_next(c, "verify", false, mm_strdup(e ? e->message : "verify failed"),
		          mm_strdup("run verify for details"), MODMIG_NEXT_RUN_VERIFY);
		goto cleanup;
	}
	check_tables(c, &s.names, &s.state, f, modmig_source_is_dir(src),
	             modmig_db_read_only(db) != NULL);
	check_lock(c, db, &s.names);
	check_pending(c, src, &s.state, modmig_db_read_only(db) != NULL);
	check_findings(c, f);
	check_privileges(c, db, src);
cleanup:
	modmig_findings_free(f);
	modmig_error_free(e);
	mm_session_close(&s);
}

modmig_status modmig_doctor(modmig_db *db, modmig_source *src, modmig_checkup **out,
                            modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_checkup *c = NULL;
	size_t i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !src) {
		rc = !c ? mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory")
		        : mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "no source given");
		goto cleanup;
	}
	check_config(c, src);
	/* without db the caller reports its own connection error as the next item */
	if (db) {
		item(c, "connection", true, mm_strdup(db->display ? db->display : "connected"),
		     NULL);
		run_online(c, db, src);
	}
	if (c->oom) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < c->count; i++)
		if (!c->items[i].ok)
			rc = MODMIG_E_CHECK;
	*out = c;
	c = NULL;
cleanup:
	modmig_checkup_free(c);
	return rc;
}
