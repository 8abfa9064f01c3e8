/*
 * snapshot.c - read a database's schema from the catalogs, the way pg_dump's
 * catalog queries do, with every definition in the server's own words
 * (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef,
 * pg_get_viewdef, pg_get_functiondef, pg_get_triggerdef,
 * pg_get_statisticsobjdef, pg_get_partkeydef). Nothing is rendered by hand.
 *
 * Every query returns kind, schema, parent_kind, parent and name, then one
 * column per attribute: the column's name is the attribute's name and NULL
 * means "not set". All queries go in one round trip and the results stay
 * alive in the snapshot, whose strings point into them.
 *
 * The queries run on PostgreSQL 13 to 18. Where the catalogs differ they are
 * normalized: 17 and 18 keep NOT NULL as pg_constraint rows (contype 'n');
 * those rows are left out and nullability is read from attnotnull and
 * typnotnull, which every version keeps, so the same DDL gives the same
 * model. 18's virtual generated columns (attgenerated 'v') read as
 * "virtual", stored ones as "stored".
 */
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

/*
 * Shared by every query (prepended): sn is the schemas in scope (no system
 * schema, no schema an extension created, optionally only the requested
 * ones); xrel is modmig's own tables and the sequences they own; xfn its
 * functions. @NSP@, @VT@, @RELS@ and @FNS@ are filled in by common_sql().
 */
static const char COMMON[] =
        "WITH sn AS (SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_namespace n "
        "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
        "AND {EXT|pg_namespace|n.oid} @NSP@), "
        "vt AS (SELECT c.relnamespace AS nsp FROM pg_class c WHERE c.oid = to_regclass(@VT@)), "
        "xrel0 AS (SELECT c.oid FROM pg_class c, vt WHERE c.relnamespace = vt.nsp "
        "AND c.relname = ANY(@RELS@::text[])), "
        "xrel AS (SELECT oid FROM xrel0 UNION ALL SELECT d.objid FROM pg_depend d "
        "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
        "AND d.refobjid IN (SELECT oid FROM xrel0) AND d.deptype IN ('a', 'i')), "
        "xfn AS (SELECT p.oid FROM pg_proc p, vt WHERE p.pronamespace = vt.nsp "
        "AND p.proname = ANY(@FNS@::text[])) ";

/* The queries; {...} tokens are expanded by expand(). */
static const char *const QUERIES[] = {
        /* schemas */
        "SELECT 'schema', n.nspname, NULL, NULL, n.nspname, "
        "pg_get_userbyid(n.nspowner) AS owner, {ACL|n.nspacl|'n'|n.nspowner} AS grants, "
        "{DESC|n.oid|pg_namespace|0} AS comment FROM sn n",

        /* extensions (plpgsql lives in pg_catalog, out of scope) */
        "SELECT 'extension', n.nspname, NULL, NULL, x.extname, x.extversion AS version "
        "FROM pg_extension x JOIN sn n ON n.oid = x.extnamespace",

        /* tables, partitions, views, materialized views, sequences, foreign tables */
        "SELECT {RELKIND|c.relkind}, n.nspname, NULL, NULL, c.relname, "
        "pg_get_userbyid(c.relowner) AS owner, "
        "{ACL|c.relacl|CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\"|c.relowner} "
        "AS grants, {DESC|c.oid|pg_class|0} AS comment, "
        "CASE WHEN c.relpersistence = 'u' THEN 'true' END AS unlogged, "
        "array_to_string(c.reloptions, ', ') AS options, "
        "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key, "
        "CASE WHEN c.relispartition THEN (SELECT pn.nspname || '.' || pc.relname "
        "FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent "
        "JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END "
        "AS partition_of, "
        "CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END "
        "AS partition_bound, "
        "CASE WHEN NOT c.relispartition THEN (SELECT string_agg(pn.nspname || '.' || "
        "pc.relname, ', ' ORDER BY i.inhseqno) FROM pg_inherits i "
        "JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn "
        "ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END AS inherits, "
        "CASE WHEN c.relrowsecurity AND c.relforcerowsecurity THEN 'enabled, forced' "
        "WHEN c.relrowsecurity THEN 'enabled' WHEN c.relforcerowsecurity THEN 'forced' END "
        "AS row_security, "
        "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition, "
        "format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start, "
        "s.seqincrement::text AS increment, s.seqmin::text AS minimum, "
        "s.seqmax::text AS maximum, s.seqcache::text AS cache, "
        "CASE WHEN s.seqcycle THEN 'true' END AS cycle, "
        "(SELECT rn.nspname || '.' || rc.relname || '.' || a.attname FROM pg_depend d "
        "JOIN pg_class rc ON rc.oid = d.refobjid JOIN pg_namespace rn "
        "ON rn.oid = rc.relnamespace JOIN pg_attribute a ON a.attrelid = d.refobjid "
        "AND a.attnum = d.refobjsubid WHERE c.relkind = 'S' "
        "AND d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' "
        "AND d.refclassid = 'pg_class'::regclass) AS owned_by "
        "FROM pg_class c JOIN sn n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_sequence s ON s.seqrelid = c.oid "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {EXT|pg_class|c.oid} "
        "AND c.oid NOT IN (SELECT oid FROM xrel) "
        "AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i'))",

        /* columns of tables and foreign tables; order is reported, not keyed */
        "SELECT 'column', n.nspname, {RELKIND|c.relkind}, c.relname, a.attname, "
        "row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)::text AS position, "
        "format_type(a.atttypid, a.atttypmod) AS type, "
        "CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default, "
        "CASE WHEN a.attnotnull THEN 'true' END AS not_null, "
        "CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END "
        "AS identity, "
        "CASE a.attgenerated WHEN 's' THEN 'stored: ' || pg_get_expr(d.adbin, d.adrelid) "
        "WHEN 'v' THEN 'virtual: ' || pg_get_expr(d.adbin, d.adrelid) END AS generated, "
        "CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text "
        "END AS collation, {DESC|c.oid|pg_class|a.attnum} AS comment, "
        "{ACL|a.attacl|'c'|c.relowner} AS grants "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN sn n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') "
        "AND {EXT|pg_class|c.oid} AND c.oid NOT IN (SELECT oid FROM xrel)",

        /* table constraints; NOT NULL rows (17+) are nullability, read above */
        "SELECT 'constraint', n.nspname, {RELKIND|c.relkind}, c.relname, co.conname, "
        "pg_get_constraintdef(co.oid) AS definition, "
        "{DESC|co.oid|pg_constraint|0} AS comment "
        "FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid "
        "JOIN sn n ON n.oid = c.relnamespace "
        "WHERE co.contype IN ('c', 'f', 'p', 'u', 'x') AND {EXT|pg_class|c.oid} "
        "AND c.oid NOT IN (SELECT oid FROM xrel)",

        /* domain constraints */
        "SELECT 'constraint', n.nspname, 'domain', t.typname, co.conname, "
        "pg_get_constraintdef(co.oid) AS definition, "
        "{DESC|co.oid|pg_constraint|0} AS comment "
        "FROM pg_constraint co JOIN pg_type t ON t.oid = co.contypid "
        "JOIN sn n ON n.oid = t.typnamespace "
        "WHERE co.contype = 'c' AND {EXT|pg_type|t.oid}",

        /* indexes, except those of primary key, unique and exclusion constraints */
        "SELECT 'index', n.nspname, {RELKIND|c.relkind}, c.relname, ic.relname, "
        "pg_get_indexdef(i.indexrelid) AS definition, "
        "CASE WHEN NOT i.indisvalid THEN 'true' END AS invalid, "
        "{DESC|i.indexrelid|pg_class|0} AS comment "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN sn n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'm') AND {EXT|pg_class|c.oid} "
        "AND c.oid NOT IN (SELECT oid FROM xrel) AND NOT EXISTS (SELECT 1 "
        "FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = c.oid "
        "AND co.contype IN ('p', 'u', 'x'))",

        /* triggers */
        "SELECT 'trigger', n.nspname, {RELKIND|c.relkind}, c.relname, t.tgname, "
        "pg_get_triggerdef(t.oid) AS definition, "
        "CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' "
        "WHEN 'A' THEN 'always' END AS enabled, "
        "{DESC|t.oid|pg_trigger|0} AS comment "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN sn n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal "
        "AND {EXT|pg_class|c.oid} AND c.oid NOT IN (SELECT oid FROM xrel)",

        /* row-level security policies */
        "SELECT 'policy', n.nspname, {RELKIND|c.relkind}, c.relname, p.polname, "
        "CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END AS mode, "
        "CASE p.polcmd WHEN '*' THEN 'ALL' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' "
        "WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END AS command, "
        "(SELECT string_agg(r, ', ' ORDER BY r) FROM (SELECT CASE WHEN o = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(o) END AS r FROM unnest(p.polroles) o) x) AS roles, "
        "pg_get_expr(p.polqual, p.polrelid) AS using, "
        "pg_get_expr(p.polwithcheck, p.polrelid) AS with_check, "
        "{DESC|p.oid|pg_policy|0} AS comment "
        "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "JOIN sn n ON n.oid = c.relnamespace WHERE {EXT|pg_class|c.oid}",

        /* functions, procedures and aggregates, keyed by their signature */
        "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' "
        "ELSE 'function' END, n.nspname, NULL, NULL, "
        "p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
        "pg_get_userbyid(p.proowner) AS owner, {ACL|p.proacl|'f'|p.proowner} AS grants, "
        "{DESC|p.oid|pg_proc|0} AS comment, "
        "CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition, "
        "CASE WHEN p.prokind = 'a' THEN pg_get_function_result(p.oid) END AS returns, "
        "(SELECT g.aggtransfn::regprocedure::text || ', ' || format_type(g.aggtranstype, "
        "NULL) || coalesce(', final ' || nullif(g.aggfinalfn, 0)::regprocedure::text, '') "
        "FROM pg_aggregate g WHERE g.aggfnoid = p.oid) AS state "
        "FROM pg_proc p JOIN sn n ON n.oid = p.pronamespace WHERE {EXT|pg_proc|p.oid} "
        "AND p.oid NOT IN (SELECT oid FROM xfn)",

        /* types: enums, domains, composite types, ranges */
        "SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' "
        "WHEN 'c' THEN 'composite type' ELSE 'range type' END, n.nspname, NULL, NULL, "
        "t.typname, pg_get_userbyid(t.typowner) AS owner, "
        "{ACL|t.typacl|'T'|t.typowner} AS grants, "
        "{DESC|t.oid|pg_type|0} AS comment, "
        "(SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) "
        "FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels, "
        "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END "
        "AS base_type, "
        "CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END AS default, "
        "CASE WHEN t.typtype = 'd' AND t.typnotnull THEN 'true' END AS not_null, "
        "CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation "
        "THEN t.typcollation::regcollation::text END AS collation, "
        "CASE WHEN t.typtype = 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' "
        "|| format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) "
        "FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 "
        "AND NOT a.attisdropped) END AS attributes, "
        "(SELECT format_type(r.rngsubtype, NULL) || coalesce(' collate ' || "
        "nullif(r.rngcollation, 0)::regcollation::text, '') || coalesce(', canonical ' || "
        "nullif(r.rngcanonical, 0)::regproc::text, '') || coalesce(', subtype_diff ' || "
        "nullif(r.rngsubdiff, 0)::regproc::text, '') FROM pg_range r "
        "WHERE r.rngtypid = t.oid) AS subtype "
        "FROM pg_type t JOIN sn n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_type bt ON bt.oid = t.typbasetype "
        "WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind "
        "FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) AND {EXT|pg_type|t.oid}",

        /* extended statistics */
        "SELECT 'statistics', n.nspname, NULL, NULL, s.stxname, "
        "pg_get_userbyid(s.stxowner) AS owner, pg_get_statisticsobjdef(s.oid) AS definition, "
        "{DESC|s.oid|pg_statistic_ext|0} AS comment "
        "FROM pg_statistic_ext s JOIN sn n ON n.oid = s.stxnamespace "
        "WHERE {EXT|pg_statistic_ext|s.oid} AND s.stxrelid NOT IN (SELECT oid FROM xrel)",
};

/*
 * Privileges, normalized against the defaults (acldefault): NULL when they
 * are the defaults, whether no GRANT or REVOKE ever touched them or they
 * were changed back; otherwise what was granted beyond them
 * ("billing_owner: INSERT, SELECT") and what was revoked from them
 * ("revoked from PUBLIC: EXECUTE"), sorted. The owner is called "owner" and
 * grantors are left out, so the same GRANTs read the same whoever owns the
 * object and whichever server version's defaults apply (17 gave owners
 * MAINTAIN).
 */
static char *grantee_name(const char *grantee, const char *owner)
{
	return mm_printf("CASE WHEN %s = 0 THEN 'PUBLIC' WHEN %s = %s THEN 'owner' "
	                 "ELSE pg_get_userbyid(%s) END",
	                 grantee, grantee, owner, grantee);
}

static bool expand_acl(mm_buf *b, const char *acl, const char *kind, const char *owner)
{
	char *a_who = grantee_name("a.grantee", owner), *d_who = grantee_name("d.grantee", owner);
	bool ok = a_who && d_who &&
	          mm_buf_printf(
	                  b,
	                  "CASE WHEN %s IS NULL THEN NULL ELSE (SELECT string_agg(g, '; ' ORDER BY "
	                  "g) "
	                  "FROM (SELECT %s || ': ' || string_agg(a.privilege_type || CASE WHEN "
	                  "a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ', ' ORDER BY "
	                  "a.privilege_type) AS g FROM aclexplode(%s) a WHERE (a.grantee, "
	                  "a.privilege_type, a.is_grantable) NOT IN (SELECT d.grantee, "
	                  "d.privilege_type, d.is_grantable FROM aclexplode(acldefault(%s, %s)) d) "
	                  "GROUP BY a.grantee UNION ALL SELECT 'revoked from ' || %s || ': ' || "
	                  "string_agg(d.privilege_type, ', ' ORDER BY d.privilege_type) FROM "
	                  "aclexplode(acldefault(%s, %s)) d WHERE (d.grantee, d.privilege_type, "
	                  "d.is_grantable) NOT IN (SELECT a.grantee, a.privilege_type, "
	                  "a.is_grantable "
	                  "FROM aclexplode(%s) a) GROUP BY d.grantee) x) END",
	                  acl, a_who, acl, kind, owner, d_who, kind, owner, acl);

	free(a_who);
	free(d_who);
	return ok;
}

/* Expand {ACL|acl|kind|owner}, {EXT|catalog|oid}, {DESC|oid|catalog|subid} and {RELKIND|expr}. */
static bool expand(mm_buf *b, const char *text)
{
	const char *p = text, *open, *close;
	char *tok, *f[4] = {0};
	size_t n;

	while ((open = strchr(p, '{')) != NULL) {
		mm_buf_append(b, p, (size_t)(open - p));
		close = strchr(open, '}');
		if (!close || !(tok = mm_strndup(open + 1, (size_t)(close - open - 1))))
			return false;
		for (n = 0, f[0] = strtok(tok, "|"); f[n] && n < 3; f[++n] = strtok(NULL, "|"))
			;
		if (strcmp(f[0], "ACL") == 0 && n == 3 && f[3])
			expand_acl(b, f[1], f[2], f[3]);
		else if (strcmp(f[0], "EXT") == 0 && n >= 2)
			mm_buf_printf(b,
			              "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = "
			              "'%s'::regclass AND e.objid = %s AND e.deptype = 'e')",
			              f[1], f[2]);
		else if (strcmp(f[0], "DESC") == 0 && n >= 3 && f[3])
			/* obj_description() is a SQL function called per row: a join is cheaper */
			mm_buf_printf(
			        b,
			        "(SELECT ds.description FROM pg_description ds WHERE ds.objoid = "
			        "%s AND ds.classoid = '%s'::regclass AND ds.objsubid = %s)",
			        f[1], f[2], f[3]);
		else if (strcmp(f[0], "RELKIND") == 0 && n >= 1)
			mm_buf_printf(b,
			              "CASE %s WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' "
			              "WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
			              "WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END",
			              f[1]);
		free(tok);
		p = close + 1;
	}
	return mm_buf_puts(b, p);
}

/* A SQL literal for s, or NULL when out of memory. */
static char *literal(modmig_db *db, const char *s)
{
	char *q = PQescapeLiteral(db->conn, s, strlen(s));
	char *out = q ? mm_strdup(q) : NULL;

	if (q)
		PQfreemem(q);
	return out;
}

/* An ARRAY[...] of literals: each prefix + item, for item in items. */
static bool literal_array(mm_buf *b, modmig_db *db, const char *prefix, const char *const *items,
                          size_t n)
{
	mm_buf_puts(b, "ARRAY[");
	for (size_t i = 0; i < n; i++) {
		char *full = mm_printf("%s%s", prefix, items[i]);
		char *lit = full ? literal(db, full) : NULL;

		if (!lit) {
			free(full);
			return false;
		}
		mm_buf_printf(b, "%s%s", i ? ", " : "", lit);
		free(lit);
		free(full);
	}
	return mm_buf_puts(b, "]::text[]");
}

static size_t count_null_terminated(const char *const *list)
{
	size_t n = 0;

	while (list[n])
		n++;
	return n;
}

/* Replace the first @KEY@ in *text with value. */
static bool fill(char **text, const char *key, const char *value)
{
	char *at = strstr(*text, key), *out;

	if (!at)
		return true;
	out = mm_printf("%.*s%s%s", (int)(at - *text), *text, value, at + strlen(key));
	free(*text);
	*text = out;
	return out != NULL;
}

/* COMMON with the scope and modmig's own objects filled in. */
static modmig_status common_sql(modmig_db *db, const modmig_schema_options *opts, char **out,
                                modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const char *written = opts->version_table && *opts->version_table ? opts->version_table
	                                                                  : "goose_db_version";
	const char *table = strchr(written, '.') ? strchr(written, '.') + 1 : written;
	mm_buf nsp, rels, fns, common;
	mm_names names;
	char *text = NULL, *vt = NULL;

	mm_buf_init(&nsp);
	mm_buf_init(&rels);
	mm_buf_init(&fns);
	mm_buf_init(&common);
	memset(&names, 0, sizeof(names));
	if ((rc = mm_names_init(db, written, &names, err)) != MODMIG_OK)
		goto cleanup;
	if (opts->schema_count > 0) {
		mm_buf_puts(&nsp, "AND n.nspname = ANY(");
		literal_array(&nsp, db, "", opts->schemas, opts->schema_count);
		mm_buf_puts(&nsp, ")");
	}
	mm_buf_puts(&nsp, "");
	literal_array(&rels, db, table, mm_state_table_suffixes,
	              count_null_terminated(mm_state_table_suffixes));
	literal_array(&fns, db, table, mm_state_function_suffixes,
	              count_null_terminated(mm_state_function_suffixes));
	vt = literal(db, names.table[MM_TABLE_VERSION]);
	if (!expand(&common, COMMON))
		common.oom = true;
	text = mm_buf_take(&common);
	if (nsp.oom || rels.oom || fns.oom || !vt || !text || !fill(&text, "@NSP@", nsp.data) ||
	    !fill(&text, "@VT@", vt) || !fill(&text, "@RELS@", rels.data) ||
	    !fill(&text, "@FNS@", fns.data)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	*out = text;
	text = NULL;
cleanup:
	free(text);
	free(vt);
	mm_buf_free(&nsp);
	mm_buf_free(&rels);
	mm_buf_free(&fns);
	mm_buf_free(&common);
	mm_names_clear(&names);
	return rc;
}

/* Turn the rows of one result into objects; res is kept by s. */
static modmig_status take_result(modmig_schema *s, PGresult *res, modmig_error **err)
{
	int rows = PQntuples(res), cols = PQnfields(res);

	if (!mm_schema_keep(s, res))
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (int r = 0; r < rows; r++) {
		modmig_schema_attribute *attrs =
		        calloc((size_t)(cols > 5 ? cols - 5 : 1), sizeof(*attrs));
		size_t n = 0;

		if (!attrs)
			return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		for (int c = 5; c < cols; c++) {
			if (PQgetisnull(res, r, c))
				continue;
			attrs[n].name = PQfname(res, c);
			attrs[n++].value = PQgetvalue(res, r, c);
		}
		if (!mm_schema_add(s, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
		                   PQgetisnull(res, r, 2) ? NULL : PQgetvalue(res, r, 2),
		                   PQgetisnull(res, r, 3) ? NULL : PQgetvalue(res, r, 3),
		                   PQgetvalue(res, r, 4), attrs, n))
			return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	}
	return MODMIG_OK;
}

modmig_status modmig_schema_read(modmig_db *db, const modmig_schema_options *opts,
                                 modmig_schema **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_schema_options defaults;
	modmig_schema *s = NULL;
	const modmig_schema_object *dup = NULL;
	PGresult *res;
	char *common = NULL;
	mm_buf q;
	size_t i;

	mm_buf_init(&q);
	*out = NULL;
	if (!opts) {
		modmig_schema_options_init(&defaults);
		opts = &defaults;
	}
	if ((rc = common_sql(db, opts, &common, err)) != MODMIG_OK)
		goto cleanup;
	/* One transaction, so every query sees the same catalogs; one round trip. */
	mm_buf_puts(&q, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n");
	for (i = 0; i < sizeof(QUERIES) / sizeof(QUERIES[0]); i++) {
		mm_buf_puts(&q, common);
		if (!expand(&q, QUERIES[i]))
			q.oom = true;
		mm_buf_puts(&q, ";\n");
	}
	mm_buf_puts(&q, "COMMIT");
	s = mm_schema_new();
	if (q.oom || !s) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if (!PQsendQuery(db->conn, q.data)) {
		rc = mm_db_fail(db, NULL, MODMIG_E_SQL, err, "cannot read the schema");
		goto cleanup;
	}
	/* Read every result, also after a failure, so the connection stays usable. */
	while ((res = PQgetResult(db->conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (rc == MODMIG_OK)
				rc = take_result(s, res, err);
			else
				PQclear(res);
			continue;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == MODMIG_OK)
			rc = mm_db_fail(db, res, MODMIG_E_SQL, err, "cannot read the schema");
		PQclear(res);
	}
	if (rc != MODMIG_OK) {
		/* a failed query leaves the read-only transaction open */
		PQclear(PQexec(db->conn, "ROLLBACK"));
		goto cleanup;
	}
	if (!mm_schema_sort(s, &dup)) {
		rc = mm_fail(err, MODMIG_E_INTERNAL, NULL, 0, 0,
		             "two objects share the identity %s %s.%s", dup->kind, dup->schema,
		             dup->name);
		goto cleanup;
	}
	*out = s;
	s = NULL;
cleanup:
	modmig_schema_free(s);
	mm_buf_free(&q);
	free(common);
	return rc;
}
