/*
 * test_sql.c - the sql layer over libpg_query: statement kinds (every row of
 * sql/kind.def), transaction control (every row of sql/tx.def), relations and
 * objects created with exact positions, the walker, keywords, splitting,
 * scanning, and errors with their positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

static mm_sql_tree *parse(const char *sql)
{
	mm_sql_tree *t = NULL;
	mm_sql_error e = {0};

	if (mm_sql_tree_new(sql, &t, &e) != MODMIG_OK)
		fail_msg("cannot parse '%s': %s", sql, e.message ? e.message : "?");
	assert_null(e.message);
	assert_non_null(t);
	return t;
}

/* Byte offset of the n-th (0-based) occurrence of needle in sql. */
static int at(const char *sql, const char *needle, int nth)
{
	const char *p = strstr(sql, needle);

	while (p && nth-- > 0)
		p = strstr(p + 1, needle);
	assert_non_null(p);
	return (int)(p - sql);
}

/* ---- kinds -------------------------------------------------------------- */

static const struct {
	const char *sql;
	mm_sql_kind kind;
	const char *name;
} kind_cases[] = {
        {"SELECT 1", MM_SQL_KIND_SELECT, "select"},
        {"INSERT INTO t VALUES (1)", MM_SQL_KIND_INSERT, "insert"},
        {"UPDATE t SET a = 1", MM_SQL_KIND_UPDATE, "update"},
        {"DELETE FROM t", MM_SQL_KIND_DELETE, "delete"},
        {"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", MM_SQL_KIND_MERGE,
         "merge"},
        {"CREATE TABLE t (a int)", MM_SQL_KIND_CREATE_TABLE, "create_table"},
        {"CREATE TABLE t AS SELECT 1", MM_SQL_KIND_CREATE_TABLE_AS, "create_table_as"},
        {"CREATE MATERIALIZED VIEW m AS SELECT 1", MM_SQL_KIND_CREATE_TABLE_AS, "create_table_as"},
        {"CREATE VIEW v AS SELECT 1", MM_SQL_KIND_CREATE_VIEW, "create_view"},
        {"CREATE INDEX ON t (a)", MM_SQL_KIND_CREATE_INDEX, "create_index"},
        {"CREATE SCHEMA s", MM_SQL_KIND_CREATE_SCHEMA, "create_schema"},
        {"CREATE SEQUENCE q", MM_SQL_KIND_CREATE_SEQUENCE, "create_sequence"},
        {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", MM_SQL_KIND_CREATE_FUNCTION,
         "create_function"},
        {"CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'", MM_SQL_KIND_CREATE_FUNCTION,
         "create_function"},
        {"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
         MM_SQL_KIND_CREATE_TRIGGER, "create_trigger"},
        {"CREATE TYPE e AS ENUM ('a')", MM_SQL_KIND_CREATE_TYPE_ENUM, "create_type_enum"},
        {"CREATE TYPE c AS (a int)", MM_SQL_KIND_CREATE_TYPE_COMPOSITE, "create_type_composite"},
        {"CREATE DOMAIN d AS int", MM_SQL_KIND_CREATE_DOMAIN, "create_domain"},
        {"CREATE EXTENSION pgcrypto", MM_SQL_KIND_CREATE_EXTENSION, "create_extension"},
        {"ALTER TABLE t ADD COLUMN b int", MM_SQL_KIND_ALTER_TABLE, "alter_table"},
        {"ALTER TABLE t RENAME TO u", MM_SQL_KIND_RENAME, "rename"},
        {"DROP TABLE t", MM_SQL_KIND_DROP, "drop"},
        {"DROP INDEX CONCURRENTLY i", MM_SQL_KIND_DROP, "drop"},
        {"TRUNCATE t", MM_SQL_KIND_TRUNCATE, "truncate"},
        {"COMMENT ON TABLE t IS 'x'", MM_SQL_KIND_COMMENT, "comment"},
        {"GRANT SELECT ON t TO PUBLIC", MM_SQL_KIND_GRANT, "grant"},
        {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", MM_SQL_KIND_LOCK, "lock"},
        {"COPY t FROM STDIN", MM_SQL_KIND_COPY, "copy"},
        {"DO $$ BEGIN END $$", MM_SQL_KIND_DO, "do"},
        {"CALL p()", MM_SQL_KIND_CALL, "call"},
        {"SET search_path = s", MM_SQL_KIND_SET, "set"},
        {"RESET search_path", MM_SQL_KIND_SET, "set"},
        {"SET LOCAL lock_timeout = '1s'", MM_SQL_KIND_SET, "set"},
        {"BEGIN", MM_SQL_KIND_TRANSACTION, "transaction"},
        {"VACUUM t", MM_SQL_KIND_OTHER, "other"},
        {"EXPLAIN SELECT 1", MM_SQL_KIND_OTHER, "other"},
};

static void test_kinds(void **state)
{
	bool seen[MM_SQL_KIND_COUNT] = {false};
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++) {
		mm_sql_tree *t = parse(kind_cases[i].sql);
		mm_sql_kind kind;

		assert_int_equal(mm_sql_tree_count(t), 1);
		kind = mm_sql_kind_of(mm_sql_tree_stmt(t, 0));
		if (kind != kind_cases[i].kind)
			fail_msg("'%s' is %s, expected %s", kind_cases[i].sql,
			         mm_sql_kind_name(kind), kind_cases[i].name);
		assert_string_equal(mm_sql_kind_name(kind), kind_cases[i].name);
		seen[kind] = true;
		mm_sql_tree_free(t);
	}
	/* a row of kind.def without a statement here fails the test */
	for (k = 0; k < MM_SQL_KIND_COUNT; k++)
		if (!seen[k])
			fail_msg("no test statement for kind %s", mm_sql_kind_name((mm_sql_kind)k));
	assert_int_equal(mm_sql_kind_of(NULL), MM_SQL_KIND_OTHER);
	assert_string_equal(mm_sql_kind_name(MM_SQL_KIND_COUNT), "other");
}

/* ---- transaction control ------------------------------------------------ */

static const struct {
	const char *sql;
	mm_sql_tx tx;
	const char *name;
	mm_sql_tx_role role;
	bool chain;
} tx_cases[] = {
        {"BEGIN", MM_SQL_TX_BEGIN, "begin", MM_SQL_TX_ROLE_OPEN, false},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE", MM_SQL_TX_BEGIN, "begin", MM_SQL_TX_ROLE_OPEN,
         false},
        {"START TRANSACTION ISOLATION LEVEL REPEATABLE READ", MM_SQL_TX_START, "start_transaction",
         MM_SQL_TX_ROLE_OPEN, false},
        {"COMMIT", MM_SQL_TX_COMMIT, "commit", MM_SQL_TX_ROLE_END, false},
        {"END", MM_SQL_TX_COMMIT, "commit", MM_SQL_TX_ROLE_END, false},
        {"COMMIT AND CHAIN", MM_SQL_TX_COMMIT, "commit", MM_SQL_TX_ROLE_END, true},
        {"ROLLBACK", MM_SQL_TX_ROLLBACK, "rollback", MM_SQL_TX_ROLE_END, false},
        {"ABORT", MM_SQL_TX_ROLLBACK, "rollback", MM_SQL_TX_ROLE_END, false},
        {"SAVEPOINT a", MM_SQL_TX_SAVEPOINT, "savepoint", MM_SQL_TX_ROLE_SAVEPOINT, false},
        {"RELEASE a", MM_SQL_TX_RELEASE, "release", MM_SQL_TX_ROLE_SAVEPOINT, false},
        {"RELEASE SAVEPOINT a", MM_SQL_TX_RELEASE, "release", MM_SQL_TX_ROLE_SAVEPOINT, false},
        {"ROLLBACK TO a", MM_SQL_TX_ROLLBACK_TO, "rollback_to", MM_SQL_TX_ROLE_SAVEPOINT, false},
        {"ROLLBACK TO SAVEPOINT a", MM_SQL_TX_ROLLBACK_TO, "rollback_to", MM_SQL_TX_ROLE_SAVEPOINT,
         false},
        {"PREPARE TRANSACTION 'x'", MM_SQL_TX_PREPARE, "prepare_transaction", MM_SQL_TX_ROLE_END,
         false},
        {"COMMIT PREPARED 'x'", MM_SQL_TX_COMMIT_PREPARED, "commit_prepared", MM_SQL_TX_ROLE_END,
         false},
        {"ROLLBACK PREPARED 'x'", MM_SQL_TX_ROLLBACK_PREPARED, "rollback_prepared",
         MM_SQL_TX_ROLE_END, false},
        {"SELECT 1", MM_SQL_TX_NONE, "none", MM_SQL_TX_ROLE_NONE, false},
        /* PREPARE of a statement is not transaction control */
        {"PREPARE q AS SELECT 1", MM_SQL_TX_NONE, "none", MM_SQL_TX_ROLE_NONE, false},
};

static void test_transaction_control(void **state)
{
	bool seen[MM_SQL_TX_COUNT] = {false};
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(tx_cases) / sizeof(tx_cases[0]); i++) {
		mm_sql_tree *t = parse(tx_cases[i].sql);
		bool chain = !tx_cases[i].chain;
		mm_sql_tx tx = mm_sql_tx_of(mm_sql_tree_stmt(t, 0), &chain);

		if (tx != tx_cases[i].tx)
			fail_msg("'%s' is %s, expected %s", tx_cases[i].sql, mm_sql_tx_name(tx),
			         tx_cases[i].name);
		assert_string_equal(mm_sql_tx_name(tx), tx_cases[i].name);
		assert_int_equal(mm_sql_tx_role_of(tx), tx_cases[i].role);
		assert_int_equal(chain, tx_cases[i].chain);
		assert_int_equal(mm_sql_tx_of(mm_sql_tree_stmt(t, 0), NULL), tx);
		seen[tx] = true;
		mm_sql_tree_free(t);
	}
	for (k = 0; k < MM_SQL_TX_COUNT; k++)
		if (!seen[k])
			fail_msg("no test statement for %s", mm_sql_tx_name((mm_sql_tx)k));
}

/* ---- relations ---------------------------------------------------------- */

typedef struct expected_name {
	const char *schema;
	const char *name;
	int location;
} expected_name;

static void names_are(const char *sql, const mm_sql_names *got, const expected_name *want,
                      size_t count)
{
	size_t i;

	if (got->count != count)
		fail_msg("'%s': %zu names, expected %zu", sql, got->count, count);
	for (i = 0; i < count; i++) {
		const mm_sql_name *g = &got->items[i];

		if ((want[i].schema == NULL) != (g->schema == NULL) ||
		    (want[i].schema && strcmp(want[i].schema, g->schema) != 0) ||
		    (want[i].name == NULL) != (g->name == NULL) ||
		    (want[i].name && strcmp(want[i].name, g->name) != 0) ||
		    want[i].location != g->location)
			fail_msg("'%s' name %zu: got %s.%s at %d, expected %s.%s at %d", sql, i,
			         g->schema ? g->schema : "(null)", g->name ? g->name : "(null)",
			         g->location, want[i].schema ? want[i].schema : "(null)",
			         want[i].name ? want[i].name : "(null)", want[i].location);
	}
}

static void relations_are(const char *sql, const expected_name *want, size_t count)
{
	mm_sql_tree *t = parse(sql);
	mm_sql_names got;

	assert_int_equal(mm_sql_tree_count(t), 1);
	assert_int_equal(mm_sql_relations(mm_sql_tree_stmt(t, 0), &got), MODMIG_OK);
	names_are(sql, &got, want, count);
	mm_sql_names_clear(&got);
	assert_null(got.items);
	mm_sql_tree_free(t);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_relations(void **state)
{
	const char *join = "SELECT * FROM a.t1 JOIN t2 ON t1.id = t2.id "
	                   "WHERE x IN (SELECT y FROM s.t3 WHERE y > 0)";
	const expected_name join_want[] = {
	        {"a", "t1", at(join, "a.t1", 0)},
	        {NULL, "t2", at(join, "t2", 0)},
	        {"s", "t3", at(join, "s.t3", 0)},
	};
	/* a CTE's name is not a relation; the tables inside its body are */
	const char *cte = "WITH recent AS (SELECT * FROM s.orders), r2 AS (SELECT * FROM recent) "
	                  "SELECT * FROM r2 JOIN customers c ON true, recent";
	const expected_name cte_want[] = {
	        {"s", "orders", at(cte, "s.orders", 0)},
	        {NULL, "customers", at(cte, "customers", 0)},
	};
	/* the target of INSERT is a table even where a CTE has its name */
	const char *target = "WITH x AS (SELECT 1) INSERT INTO x SELECT * FROM x, y";
	const expected_name target_want[] = {
	        {NULL, "x", at(target, "x SELECT", 0)},
	        {NULL, "y", at(target, "y", 0)},
	};
	const char *alter = "ALTER TABLE s.accounts ADD CONSTRAINT fk FOREIGN KEY (owner) "
	                    "REFERENCES other.users (id)";
	const expected_name alter_want[] = {
	        {"s", "accounts", at(alter, "s.accounts", 0)},
	        {"other", "users", at(alter, "other.users", 0)},
	};
	const char *create = "CREATE TABLE s.t (id int PRIMARY KEY, u int REFERENCES other.u)";
	const expected_name create_want[] = {
	        {"s", "t", at(create, "s.t", 0)},
	        {"other", "u", at(create, "other.u", 0)},
	};
	const char *index = "CREATE INDEX CONCURRENTLY t_a ON s.t (a)";
	const expected_name index_want[] = {{"s", "t", at(index, "s.t", 0)}};
	const char *update = "UPDATE s.t SET a = u.a FROM u WHERE t.id = u.id";
	const expected_name update_want[] = {
	        {"s", "t", at(update, "s.t", 0)},
	        {NULL, "u", at(update, "u WHERE", 0)},
	};
	/* PostgreSQL keeps no position for the objects of a DROP */
	const char *drop = "DROP TABLE s.a, b CASCADE";
	const expected_name drop_want[] = {{"s", "a", -1}, {NULL, "b", -1}};

	(void)state;
	relations_are(join, join_want, N(join_want));
	relations_are(cte, cte_want, N(cte_want));
	relations_are(target, target_want, N(target_want));
	relations_are(alter, alter_want, N(alter_want));
	relations_are(create, create_want, N(create_want));
	relations_are(index, index_want, N(index_want));
	relations_are(update, update_want, N(update_want));
	relations_are(drop, drop_want, N(drop_want));
	relations_are("DROP FUNCTION f()", NULL, 0);
	relations_are("SELECT now()", NULL, 0);
}

static void test_relations_of_a_later_statement(void **state)
{
	const char *sql = "SELECT 1;\nINSERT INTO s.t VALUES (1);";
	mm_sql_tree *t = parse(sql);
	mm_sql_names got;
	mm_sql_span span;
	const expected_name want[] = {{"s", "t", at(sql, "s.t", 0)}};

	(void)state;
	assert_int_equal(mm_sql_tree_count(t), 2);
	span = mm_sql_tree_span(t, 0);
	assert_int_equal(span.offset, 0);
	assert_int_equal(span.len, 8);
	/* from just after the first ';', its newline included, to before its own ';' */
	span = mm_sql_tree_span(t, 1);
	assert_int_equal(span.offset, 9);
	assert_int_equal(span.len, strlen(sql) - 10);
	/* PostgreSQL's length 0 for an unterminated last statement means "to the end" */
	mm_sql_tree_free(t);
	t = parse("SELECT 1; SELECT 22");
	span = mm_sql_tree_span(t, 1);
	assert_int_equal(span.offset, 9);
	assert_int_equal(span.len, 10);
	span = mm_sql_tree_span(t, 2);
	assert_int_equal(span.len, 0);
	mm_sql_tree_free(t);
	t = parse(sql);
	/* locations count from the start of the whole text */
	assert_int_equal(mm_sql_relations(mm_sql_tree_stmt(t, 1), &got), MODMIG_OK);
	names_are(sql, &got, want, N(want));
	mm_sql_names_clear(&got);
	mm_sql_tree_free(t);
}

/* ---- objects created ---------------------------------------------------- */

static void created_are(const char *sql, const expected_name *want, size_t count)
{
	mm_sql_tree *t = parse(sql);
	mm_sql_names got;

	assert_int_equal(mm_sql_created(mm_sql_tree_stmt(t, 0), &got), MODMIG_OK);
	names_are(sql, &got, want, count);
	mm_sql_names_clear(&got);
	mm_sql_tree_free(t);
}

static void test_created(void **state)
{
	const char *table = "CREATE TABLE billing.accounts (id int REFERENCES identity.users)";
	const expected_name table_want[] = {
	        {"billing", "accounts", at(table, "billing.accounts", 0)}};
	const char *bare = "CREATE TABLE accounts (id int)";
	const expected_name bare_want[] = {{NULL, "accounts", at(bare, "accounts", 0)}};
	const expected_name schema_want[] = {{"billing", NULL, -1}};
	const char *elts = "CREATE SCHEMA billing CREATE TABLE t (a int) CREATE VIEW other.v AS "
	                   "SELECT 1";
	const expected_name elts_want[] = {
	        {"billing", NULL, -1},
	        {"billing", "t", at(elts, "t (a int)", 0)},
	        {"other", "v", at(elts, "other.v", 0)},
	};
	const expected_name auth_want[] = {{"alice", NULL, -1}};
	const char *index = "CREATE UNIQUE INDEX accounts_id ON billing.accounts (id)";
	const expected_name index_want[] = {
	        {"billing", "accounts_id", at(index, "billing.accounts", 0)}};
	const char *anon = "CREATE INDEX ON accounts (id)";
	const expected_name anon_want[] = {{NULL, NULL, at(anon, "accounts", 0)}};
	const char *ctas = "CREATE TABLE billing.copy AS SELECT * FROM billing.accounts";
	const expected_name ctas_want[] = {{"billing", "copy", at(ctas, "billing.copy", 0)}};
	const char *view = "CREATE VIEW billing.v AS SELECT 1";
	const expected_name view_want[] = {{"billing", "v", at(view, "billing.v", 0)}};
	const char *seq = "CREATE SEQUENCE billing.s";
	const expected_name seq_want[] = {{"billing", "s", at(seq, "billing.s", 0)}};
	const char *trig = "CREATE TRIGGER tr BEFORE UPDATE ON billing.accounts FOR EACH ROW "
	                   "EXECUTE FUNCTION f()";
	const expected_name trig_want[] = {{"billing", "tr", at(trig, "billing.accounts", 0)}};
	const expected_name func_want[] = {{"billing", "f", -1}};
	const expected_name enum_want[] = {{"billing", "state", -1}};
	const char *comp = "CREATE TYPE billing.pair AS (a int, b int)";
	const expected_name comp_want[] = {{"billing", "pair", at(comp, "billing.pair", 0)}};
	const expected_name domain_want[] = {{NULL, "positive", -1}};

	(void)state;
	created_are(table, table_want, N(table_want));
	created_are(bare, bare_want, N(bare_want));
	created_are("CREATE SCHEMA billing", schema_want, N(schema_want));
	created_are("CREATE SCHEMA IF NOT EXISTS billing", schema_want, N(schema_want));
	created_are(elts, elts_want, N(elts_want));
	created_are("CREATE SCHEMA AUTHORIZATION alice", auth_want, N(auth_want));
	created_are(index, index_want, N(index_want));
	created_are(anon, anon_want, N(anon_want));
	created_are(ctas, ctas_want, N(ctas_want));
	created_are(view, view_want, N(view_want));
	created_are(seq, seq_want, N(seq_want));
	created_are(trig, trig_want, N(trig_want));
	created_are("CREATE FUNCTION billing.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", func_want,
	            N(func_want));
	created_are("CREATE TYPE billing.state AS ENUM ('open')", enum_want, N(enum_want));
	created_are(comp, comp_want, N(comp_want));
	created_are("CREATE DOMAIN positive AS int CHECK (VALUE > 0)", domain_want, N(domain_want));
	created_are("ALTER TABLE billing.accounts ADD COLUMN x int", NULL, 0);
	created_are("SELECT * FROM billing.accounts", NULL, 0);
}

/* ---- the walker --------------------------------------------------------- */

typedef struct walk_count {
	int range_vars;
	int nodes;
	int max_depth;
	int stop_after;           /* stop at this RangeVar (1-based); 0 never */
	bool skip_sublinks;       /* do not enter subqueries of WHERE ... IN */
	bool saw_b_under_sublink; /* RangeVar b had a SubLink ancestor */
	bool a_in_from_clause;    /* RangeVar a hangs from the SelectStmt's from_clause */
} walk_count;

static mm_sql_walk_action count_range_vars(const mm_sql_visit *v, void *arg)
{
	walk_count *w = arg;
	const mm_sql_visit *up;

	w->nodes++;
	if (v->depth > w->max_depth)
		w->max_depth = v->depth;
	assert_true(v->parent ? v->depth == v->parent->depth + 1 : v->depth == 0);
	assert_true(v->parent ? v->field != NULL : v->field == NULL);
	if (v->type == PG_QUERY__NODE__NODE_SUB_LINK && w->skip_sublinks)
		return MM_SQL_WALK_SKIP;
	if (v->type != PG_QUERY__NODE__NODE_RANGE_VAR)
		return MM_SQL_WALK_CONTINUE;
	assert_string_equal(v->name, "RangeVar");
	assert_int_equal(mm_sql_node_type(v->msg), PG_QUERY__NODE__NODE_RANGE_VAR);
	w->range_vars++;
	if (strcmp(((const PgQuery__RangeVar *)v->msg)->relname, "a") == 0)
		w->a_in_from_clause = v->depth == 1 && strcmp(v->field, "from_clause") == 0 &&
		                      v->parent->type == PG_QUERY__NODE__NODE_SELECT_STMT;
	if (strcmp(((const PgQuery__RangeVar *)v->msg)->relname, "b") == 0)
		for (up = v->parent; up; up = up->parent)
			if (up->type == PG_QUERY__NODE__NODE_SUB_LINK)
				w->saw_b_under_sublink = true;
	return w->range_vars == w->stop_after ? MM_SQL_WALK_STOP : MM_SQL_WALK_CONTINUE;
}

static void test_walker(void **state)
{
	const char *sql = "SELECT * FROM a WHERE id IN (SELECT id FROM b JOIN c ON b.x = c.x "
	                  "WHERE b.y = 'RangeVar')";
	mm_sql_tree *t = parse(sql);
	const PgQuery__Node *stmt = mm_sql_tree_stmt(t, 0);
	walk_count all = {0};
	walk_count stop = {0};
	walk_count skip = {0};

	(void)state;
	assert_true(mm_sql_walk(&stmt->base, count_range_vars, &all));
	assert_int_equal(all.range_vars, 3);
	assert_true(all.saw_b_under_sublink);
	assert_true(all.a_in_from_clause);
	/* SELECT, SubLink, SELECT, JoinExpr, RangeVar at least */
	assert_true(all.max_depth >= 4);

	stop.stop_after = 2;
	assert_false(mm_sql_walk(&stmt->base, count_range_vars, &stop));
	assert_int_equal(stop.range_vars, 2);
	assert_true(stop.nodes < all.nodes);

	skip.skip_sublinks = true;
	assert_true(mm_sql_walk(&stmt->base, count_range_vars, &skip));
	assert_int_equal(skip.range_vars, 1);
	assert_false(skip.saw_b_under_sublink);

	/* a message that is not a Node wrapper is a root too */
	memset(&all, 0, sizeof(all));
	assert_true(mm_sql_walk(&stmt->select_stmt->base, count_range_vars, &all));
	assert_int_equal(all.range_vars, 3);
	assert_int_equal(mm_sql_node_type(&stmt->base), PG_QUERY__NODE__NODE_SELECT_STMT);
	assert_int_equal(mm_sql_node_type(&stmt->select_stmt->base),
	                 PG_QUERY__NODE__NODE_SELECT_STMT);
	mm_sql_tree_free(t);
}

/* ---- keywords ----------------------------------------------------------- */

static void test_keywords(void **state)
{
	(void)state;
	assert_true(mm_sql_is_reserved("select"));
	assert_true(mm_sql_is_reserved("user"));
	assert_true(mm_sql_is_reserved("order"));
	assert_true(mm_sql_is_reserved("ORDER"));
	assert_false(mm_sql_is_reserved("name"));
	assert_false(mm_sql_is_reserved("text"));
	assert_false(mm_sql_is_reserved("accounts"));
	assert_false(mm_sql_is_reserved("left"));
	assert_int_equal(mm_sql_keyword_of("user"), MM_SQL_KEYWORD_RESERVED);
	assert_int_equal(mm_sql_keyword_of("name"), MM_SQL_KEYWORD_UNRESERVED);
	assert_int_equal(mm_sql_keyword_of("text"), MM_SQL_KEYWORD_UNRESERVED);
	assert_int_equal(mm_sql_keyword_of("int"), MM_SQL_KEYWORD_COL_NAME);
	assert_int_equal(mm_sql_keyword_of("left"), MM_SQL_KEYWORD_TYPE_FUNC_NAME);
	assert_int_equal(mm_sql_keyword_of("authorization"), MM_SQL_KEYWORD_TYPE_FUNC_NAME);
	assert_int_equal(mm_sql_keyword_of("accounts"), MM_SQL_KEYWORD_NONE);
	assert_int_equal(mm_sql_keyword_of("a$b"), MM_SQL_KEYWORD_NONE);
	/* not one bare word: no keyword */
	assert_int_equal(mm_sql_keyword_of("\"user\""), MM_SQL_KEYWORD_NONE);
	assert_int_equal(mm_sql_keyword_of("select 1"), MM_SQL_KEYWORD_NONE);
	assert_int_equal(mm_sql_keyword_of(" user"), MM_SQL_KEYWORD_NONE);
	assert_int_equal(mm_sql_keyword_of("'unterminated"), MM_SQL_KEYWORD_NONE);
	assert_int_equal(mm_sql_keyword_of(""), MM_SQL_KEYWORD_NONE);
}

/* ---- splitting and scanning --------------------------------------------- */

static void test_split(void **state)
{
	const char *two = "SELECT 1; SELECT ';' ;";
	/* IS JSON is PostgreSQL 16; the bundled grammar is 15's */
	const char *newer = "SELECT doc IS JSON FROM t; SELECT 2";
	mm_sql_split s;
	mm_sql_error e = {0};

	(void)state;
	assert_int_equal(mm_sql_split_text(two, MM_SQL_SPLIT_PARSER, &s, &e), MODMIG_OK);
	assert_true(s.by_parser);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.stmts[0].offset, 0);
	assert_int_equal(s.stmts[0].len, 8);
	assert_int_equal(s.stmts[1].offset, 9);
	assert_int_equal(s.stmts[1].len, strlen(" SELECT ';' "));
	mm_sql_split_clear(&s);

	assert_int_equal(mm_sql_split_text(newer, MM_SQL_SPLIT_PARSER, &s, &e), MODMIG_OK);
	assert_false(s.by_parser);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.stmts[0].offset, 0);
	assert_int_equal(s.stmts[0].len, at(newer, ";", 0));
	mm_sql_split_clear(&s);

	assert_int_equal(mm_sql_split_text(two, MM_SQL_SPLIT_SCANNER, &s, &e), MODMIG_OK);
	assert_false(s.by_parser);
	assert_int_equal(s.count, 2);
	mm_sql_split_clear(&s);

	/* the lexer refuses an unterminated string, at its start */
	assert_int_equal(mm_sql_split_text("SELECT 1; SELECT 'x", MM_SQL_SPLIT_PARSER, &s, &e),
	                 MODMIG_E_PARSE);
	assert_non_null(strstr(e.message, "unterminated quoted string"));
	assert_true(e.located);
	assert_int_equal(e.offset, 17);
	assert_null(s.stmts);
	assert_int_equal(s.count, 0);
	mm_sql_error_clear(&e);
	assert_null(e.message);
}

static void test_scan(void **state)
{
	const char *sql = "select x; -- note\n/* c */ user";
	mm_sql_tokens t;
	mm_sql_error e = {0};

	(void)state;
	assert_int_equal(mm_sql_scan(sql, &t, &e), MODMIG_OK);
	assert_int_equal(t.count, 6);
	assert_int_equal(t.items[0].kind, MM_SQL_TOKEN_OTHER);
	assert_int_equal(t.items[0].keyword, MM_SQL_KEYWORD_RESERVED);
	assert_int_equal(t.items[0].start, 0);
	assert_int_equal(t.items[0].end, 6);
	assert_int_equal(t.items[1].keyword, MM_SQL_KEYWORD_NONE);
	assert_int_equal(t.items[2].kind, MM_SQL_TOKEN_SEMICOLON);
	assert_int_equal(t.items[2].start, 8);
	assert_int_equal(t.items[3].kind, MM_SQL_TOKEN_COMMENT);
	assert_int_equal(t.items[3].start, 10);
	assert_int_equal(t.items[3].end, 17);
	assert_int_equal(t.items[4].kind, MM_SQL_TOKEN_COMMENT);
	assert_int_equal(t.items[4].start, (size_t)at(sql, "/*", 0));
	assert_int_equal(t.items[5].start, (size_t)at(sql, "user", 0));
	assert_int_equal(t.items[5].end, strlen(sql));
	mm_sql_tokens_clear(&t);
	assert_null(t.items);

	assert_int_equal(mm_sql_scan("", &t, &e), MODMIG_OK);
	assert_int_equal(t.count, 0);
	mm_sql_tokens_clear(&t);

	assert_int_equal(mm_sql_scan("select $$ never closed", &t, &e), MODMIG_E_PARSE);
	assert_non_null(strstr(e.message, "unterminated dollar-quoted string"));
	assert_int_equal(e.offset, 7);
	mm_sql_error_clear(&e);
}

/* ---- errors ------------------------------------------------------------- */

static void test_parse_error(void **state)
{
	const char *sql = "SELECT 1;\nSELEC 2;";
	/* PostgreSQL counts error positions in characters; the layer gives bytes */
	const char *utf8 = "SELECT 'äöü' FROM FROM";
	mm_sql_tree *t = (mm_sql_tree *)&t;
	mm_sql_error e = {0};

	(void)state;
	assert_int_equal(mm_sql_tree_new(sql, &t, &e), MODMIG_E_PARSE);
	assert_null(t);
	assert_string_equal(e.message, "syntax error at or near \"SELEC\"");
	assert_true(e.located);
	assert_int_equal(e.offset, at(sql, "SELEC 2", 0));

	assert_int_equal(mm_sql_tree_new(utf8, &t, &e), MODMIG_E_PARSE);
	assert_string_equal(e.message, "syntax error at or near \"FROM\"");
	assert_int_equal(e.offset, at(utf8, "FROM", 1));
	mm_sql_error_clear(&e);

	/* the error may be left out */
	assert_int_equal(mm_sql_tree_new("CREATE TABLE (", &t, NULL), MODMIG_E_PARSE);
	assert_null(t);

	/* an empty text or one of comments is a tree of no statements */
	t = parse("-- nothing\n");
	assert_int_equal(mm_sql_tree_count(t), 0);
	assert_null(mm_sql_tree_stmt(t, 0));
	mm_sql_tree_free(t);
	mm_sql_tree_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kinds),
	        cmocka_unit_test(test_transaction_control),
	        cmocka_unit_test(test_relations),
	        cmocka_unit_test(test_relations_of_a_later_statement),
	        cmocka_unit_test(test_created),
	        cmocka_unit_test(test_walker),
	        cmocka_unit_test(test_keywords),
	        cmocka_unit_test(test_split),
	        cmocka_unit_test(test_scan),
	        cmocka_unit_test(test_parse_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
