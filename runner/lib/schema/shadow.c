/*
 * shadow.c - shadow databases: scratch databases where modmig builds the
 * schema that migrations produce. Either a database the user gave as one
 * modmig may wipe (--dev-url: emptied first), or a uniquely named database
 * created on the target's server and always dropped again by
 * modmig_shadow_close(): the caller closes on success and on error, and its
 * signal handlers call modmig_shadow_interrupt(), which only cancels (that
 * much is async-signal-safe), so that the caller reaches the close.
 */
#include "schema/schema.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Empty a dev database: extensions (but plpgsql) and every non-system schema
 * but public are dropped, and public is emptied of relations, routines and
 * types. The statements are listed before any runs, and each says IF EXISTS,
 * because a CASCADE may already have taken the next object with it. A
 * sequence a column owns (serial, identity) goes with its table: dropping it
 * on its own is an error for identity columns.
 */
static const char WIPE[] =
        "DO $modmig$\n"
        "DECLARE cmds text[]; cmd text;\n"
        "BEGIN\n"
        "  cmds := ARRAY(\n"
        "    SELECT format('DROP EXTENSION IF EXISTS %I CASCADE', extname) FROM pg_extension\n"
        "    WHERE extname <> 'plpgsql'\n"
        "    UNION ALL SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', nspname)\n"
        "    FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN\n"
        "    ('information_schema', 'public')\n"
        "    UNION ALL SELECT format('DROP %s IF EXISTS public.%I CASCADE', CASE relkind\n"
        "    WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'\n"
        "    WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, relname) FROM pg_class\n"
        "    WHERE relnamespace = 'public'::regnamespace\n"
        "    AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT (relkind = 'S' AND\n"
        "    EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass\n"
        "    AND d.objid = pg_class.oid AND d.deptype IN ('a', 'i')))\n"
        "    UNION ALL SELECT format('DROP ROUTINE IF EXISTS public.%I(%s) CASCADE', proname,\n"
        "    pg_get_function_identity_arguments(oid)) FROM pg_proc\n"
        "    WHERE pronamespace = 'public'::regnamespace\n"
        "    UNION ALL SELECT format('DROP TYPE IF EXISTS public.%I CASCADE', t.typname)\n"
        "    FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace\n"
        "    AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND\n"
        "    (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')));\n"
        "  FOREACH cmd IN ARRAY cmds LOOP EXECUTE cmd; END LOOP;\n"
        "END $modmig$";

/* A key='value' conninfo for target's connection, on database dbname. */
static char *conninfo_for(const modmig_db *target, const char *dbname)
{
	PQconninfoOption *opts = PQconninfo(target->conn), *o;
	mm_buf b;

	mm_buf_init(&b);
	for (o = opts; o && o->keyword; o++) {
		const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;

		if (!v || !*v)
			continue;
		mm_buf_printf(&b, "%s='", o->keyword);
		for (; *v; v++) {
			if (*v == '\'' || *v == '\\')
				mm_buf_append(&b, "\\", 1);
			mm_buf_append(&b, v, 1);
		}
		mm_buf_puts(&b, "' ");
	}
	if (opts)
		PQconninfoFree(opts);
	else
		b.oom = true;
	return mm_buf_take(&b);
}

/* Refuse a dev URL that names the target database itself: it would be wiped. */
static bool same_database(const modmig_db *a, const modmig_db *b)
{
	const char *ha = PQhost(a->conn), *hb = PQhost(b->conn);

	return strcmp(PQdb(a->conn), PQdb(b->conn)) == 0 &&
	       strcmp(PQport(a->conn), PQport(b->conn)) == 0 &&
	       strcmp(ha ? ha : "", hb ? hb : "") == 0;
}

static modmig_status open_dev(modmig_shadow *sh, const char *dev_url, modmig_error **err)
{
	modmig_status rc = modmig_db_connect(dev_url, &sh->db, err);

	if (rc != MODMIG_OK)
		return rc;
	if (same_database(sh->target, sh->db)) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "--dev-url names the database itself (%s): modmig would wipe it",
		             PQdb(sh->db->conn));
		mm_hint(err, "pass a separate, disposable database, or leave --dev-url out to "
		             "use a temporary one");
		return rc;
	}
	return mm_db_exec(sh->db, WIPE, MODMIG_E_SQL, "cannot empty the --dev-url database", err);
}

static modmig_status create_temporary(modmig_shadow *sh, modmig_error **err)
{
	modmig_status rc;
	unsigned char rnd[8];
	char *quoted = NULL, *sql = NULL, *conninfo = NULL;
	PGresult *res = NULL;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return mm_fail(err, MODMIG_E_INTERNAL, NULL, 0, 0, "no random bytes for a name");
	sh->name = mm_printf("modmig_shadow_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
	                     rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	quoted = sh->name ? PQescapeIdentifier(sh->target->conn, sh->name, strlen(sh->name)) : NULL;
	sql = quoted ? mm_printf("CREATE DATABASE %s", quoted) : NULL;
	if (!sql) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	res = PQexec(sh->target->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		rc = mm_db_fail(sh->target, res, MODMIG_E_SQL, err,
		                "cannot create a temporary shadow database");
		if (state && strcmp(state, "42501") == 0)
			mm_hint(err, "the role may not create databases (CREATEDB): pass --dev-url "
			             "URL, a database modmig may wipe, or grant CREATEDB");
		free(sh->name);
		sh->name = NULL; /* nothing to drop */
		goto cleanup;
	}
	conninfo = conninfo_for(sh->target, sh->name);
	if (!conninfo) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = modmig_db_connect(conninfo, &sh->db, err);
cleanup:
	PQclear(res);
	if (quoted)
		PQfreemem(quoted);
	free(sql);
	free(conninfo);
	return rc;
}

modmig_status modmig_shadow_open(modmig_db *target, const char *dev_url, modmig_shadow **out,
                                 modmig_error **err)
{
	modmig_status rc;
	modmig_shadow *sh = calloc(1, sizeof(*sh));

	*out = NULL;
	if (!sh)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	sh->target = target;
	sh->cancel_target = PQgetCancel(target->conn);
	rc = dev_url && *dev_url ? open_dev(sh, dev_url, err) : create_temporary(sh, err);
	if (rc == MODMIG_OK && !(sh->cancel_shadow = PQgetCancel(sh->db->conn)))
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	if (rc != MODMIG_OK) {
		modmig_shadow_close(sh, NULL); /* the first error is the one to report */
		return rc;
	}
	*out = sh;
	return MODMIG_OK;
}

modmig_db *modmig_shadow_db(modmig_shadow *sh)
{
	return sh ? sh->db : NULL;
}

const char *modmig_shadow_name(const modmig_shadow *sh)
{
	return sh ? sh->name : NULL;
}

void modmig_shadow_interrupt(modmig_shadow *sh)
{
	char buf[256];

	if (!sh)
		return;
	sh->interrupted = 1;
	if (sh->closing)
		return;
	if (sh->cancel_shadow)
		(void)PQcancel(sh->cancel_shadow, buf, sizeof(buf));
	if (sh->cancel_target)
		(void)PQcancel(sh->cancel_target, buf, sizeof(buf));
}

/*
 * Empty the shadow again between two builds (modmig_test runs many on one
 * database): cheaper than dropping and creating a database, and the same
 * for a temporary shadow and a --dev-url one.
 */
modmig_status mm_shadow_wipe(modmig_shadow *sh, modmig_error **err)
{
	modmig_status rc = mm_shadow_check(sh, err);

	if (rc != MODMIG_OK)
		return rc;
	return mm_db_exec(sh->db, WIPE, MODMIG_E_SQL, "cannot empty the shadow database", err);
}

modmig_status mm_shadow_check(const modmig_shadow *sh, modmig_error **err)
{
	if (!sh->interrupted)
		return MODMIG_OK;
	return mm_fail(err, MODMIG_E_SQL, NULL, 0, 0, "interrupted");
}

modmig_status modmig_shadow_close(modmig_shadow *sh, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *quoted = NULL, *sql = NULL;

	if (!sh)
		return MODMIG_OK;
	sh->closing = 1;
	if (sh->cancel_shadow)
		PQfreeCancel(sh->cancel_shadow);
	if (sh->cancel_target)
		PQfreeCancel(sh->cancel_target);
	modmig_db_free(sh->db); /* disconnect first: a database in use cannot be dropped */
	if (sh->name) {
		/* a statement cancelled by an interrupt leaves the connection usable; a lost one is
		 * reset */
		if (PQstatus(sh->target->conn) != CONNECTION_OK)
			PQreset(sh->target->conn);
		quoted = PQescapeIdentifier(sh->target->conn, sh->name, strlen(sh->name));
		sql = quoted ? mm_printf("DROP DATABASE IF EXISTS %s%s", quoted,
		                         sh->target->server_version >= 130000 ? " WITH (FORCE)"
		                                                              : "")
		             : NULL;
		if (!sql)
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		else if ((rc = mm_db_exec(sh->target, sql, MODMIG_E_SQL,
		                          "cannot drop the shadow database", err)) != MODMIG_OK)
			mm_hint(err, "drop it by hand: DROP DATABASE %s", quoted);
	}
	if (quoted)
		PQfreemem(quoted);
	free(sql);
	free(sh->name);
	free(sh);
	return rc;
}
