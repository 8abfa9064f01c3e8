/* test_parse.c - migration files (DESIGN §3): every rule, valid and invalid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"

#define FILE_NAME "modules/db/migrations/01001_init.sql"

static void parse_ok(const char *text, mm_parsed *p)
{
	modmig_error *err = NULL;
	modmig_status rc = mm_parse(FILE_NAME, text, strlen(text), p, &err);

	if (rc != MODMIG_OK)
		fail_msg("unexpected error at line %d: %s", err ? err->line : -1,
		         err ? err->message : "?");
	assert_null(err);
}

static void parse_fails(const char *text, int line, const char *needle)
{
	modmig_error *err = NULL;
	mm_parsed p;

	assert_int_equal(mm_parse(FILE_NAME, text, strlen(text), &p, &err), MODMIG_E_PARSE);
	assert_non_null(err);
	assert_int_equal(modmig_error_code(err), MODMIG_E_PARSE);
	assert_string_equal(modmig_error_file(err), FILE_NAME);
	if (modmig_error_line(err) != line || !strstr(modmig_error_message(err), needle))
		fail_msg("expected line %d '%s', got line %d '%s'", line, needle,
		         modmig_error_line(err), modmig_error_message(err));
	assert_non_null(modmig_error_hint(err));
	/* a failed parse hands back nothing */
	assert_int_equal(p.up.count, 0);
	assert_null(p.up.units);
	assert_int_equal(p.down.count, 0);
	assert_null(p.lock_timeout);
	modmig_error_free(err);
}

/* parse_fails with an exact column and message, for text that may hold any byte. */
static void parse_fails_at(const char *text, int line, int column, const char *message)
{
	modmig_error *err = NULL;
	mm_parsed p;

	assert_int_equal(mm_parse(FILE_NAME, text, strlen(text), &p, &err), MODMIG_E_PARSE);
	assert_non_null(err);
	if (modmig_error_line(err) != line || modmig_error_column(err) != column ||
	    strcmp(modmig_error_message(err), message) != 0)
		fail_msg("expected %d:%d '%s', got %d:%d '%s'", line, column, message,
		         modmig_error_line(err), modmig_error_column(err),
		         modmig_error_message(err));
	assert_non_null(modmig_error_hint(err));
	assert_int_equal(p.up.count, 0);
	modmig_error_free(err);
}

static void unit_is(const mm_section *s, size_t i, int line, int column, const char *sql)
{
	assert_true(i < s->count);
	assert_string_equal(s->units[i].sql, sql);
	assert_int_equal(s->units[i].len, strlen(sql));
	assert_int_equal(s->units[i].line, line);
	assert_int_equal(s->units[i].column, column);
}

static void test_sections_and_statements(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- a comment before Up\n"
	         "\n"
	         "-- +goose Up\n"
	         "CREATE TABLE a (id int);\n"
	         "CREATE TABLE b (id int); CREATE TABLE c (id int);\n"
	         "ALTER TABLE a\n"
	         "  ADD COLUMN name text;\n"
	         "-- +goose Down\n"
	         "DROP TABLE c, b, a;\n",
	         &p);
	assert_false(p.no_transaction);
	assert_true(p.has_down);
	assert_int_equal(p.up.count, 4);
	unit_is(&p.up, 0, 4, 1, "CREATE TABLE a (id int);");
	unit_is(&p.up, 1, 5, 1, "CREATE TABLE b (id int);");
	unit_is(&p.up, 2, 5, 26, "CREATE TABLE c (id int);");
	unit_is(&p.up, 3, 6, 1, "ALTER TABLE a\n  ADD COLUMN name text;");
	assert_int_equal(p.down.count, 1);
	unit_is(&p.down, 0, 9, 1, "DROP TABLE c, b, a;");
	mm_parsed_clear(&p);
	assert_null(p.up.units);
	assert_false(p.has_down);
}

static void test_semicolons_that_do_not_split(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\n"
	         "INSERT INTO t VALUES ('a;b', 'it''s;');\n"
	         "INSERT INTO t VALUES (E'x\\';y');\n"
	         "SELECT $$ ; $$, $body$ ; $$ ; $body$;\n"
	         "SELECT 1 /* ; */ + 2; -- trailing ; comment\n"
	         "SELECT \"semi;colon\" FROM t;\n"
	         "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);\n",
	         &p);
	assert_int_equal(p.up.count, 6);
	unit_is(&p.up, 0, 2, 1, "INSERT INTO t VALUES ('a;b', 'it''s;');");
	unit_is(&p.up, 1, 3, 1, "INSERT INTO t VALUES (E'x\\';y');");
	unit_is(&p.up, 2, 4, 1, "SELECT $$ ; $$, $body$ ; $$ ; $body$;");
	unit_is(&p.up, 3, 5, 1, "SELECT 1 /* ; */ + 2;");
	unit_is(&p.up, 4, 6, 1, "SELECT \"semi;colon\" FROM t;");
	unit_is(&p.up, 5, 7, 1, "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);");
	mm_parsed_clear(&p);
}

static void test_comments_around_statements(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\n"
	         "-- leading comment lines are not part of the unit\n"
	         "/* nor is a block\n"
	         "   comment */\n"
	         "\n"
	         "SELECT 1,\n"
	         "  -- an inner comment stays\n"
	         "  2;\n"
	         "SELECT 3; /* same line */ SELECT 4;\n"
	         "/* a comment ending\n"
	         "here */ SELECT 5;\n"
	         "SELECT 6 -- before the semicolon\n"
	         ";\n"
	         "-- only a comment at the end\n",
	         &p);
	assert_int_equal(p.up.count, 5);
	unit_is(&p.up, 0, 6, 1, "SELECT 1,\n  -- an inner comment stays\n  2;");
	unit_is(&p.up, 1, 9, 1, "SELECT 3;");
	unit_is(&p.up, 2, 9, 11, "/* same line */ SELECT 4;");
	unit_is(&p.up, 3, 11, 9, "SELECT 5;");
	unit_is(&p.up, 4, 12, 1, "SELECT 6 -- before the semicolon\n;");
	mm_parsed_clear(&p);
}

static void test_statement_blocks(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\n"
	         "CREATE TABLE t (id int);\n"
	         "-- +goose StatementBegin\n"
	         "CREATE FUNCTION f() RETURNS trigger\n"
	         "LANGUAGE plpgsql AS $$\n"
	         "BEGIN\n"
	         "  NEW.id := 1;\n"
	         "  RETURN NEW;\n"
	         "END;\n"
	         "$$;\n"
	         "-- +goose StatementEnd\n"
	         "SELECT 'line after the block';\n"
	         "-- +goose StatementBegin\n"
	         "SELECT 1; SELECT 2;\n"
	         "-- +goose StatementEnd\n"
	         "-- +goose Down\n"
	         "-- +goose StatementBegin\n"
	         "DROP FUNCTION f();\n"
	         "-- +goose StatementEnd\n",
	         &p);
	assert_int_equal(p.up.count, 4);
	unit_is(&p.up, 0, 2, 1, "CREATE TABLE t (id int);");
	unit_is(&p.up, 1, 4, 1,
	        "CREATE FUNCTION f() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n"
	        "  NEW.id := 1;\n  RETURN NEW;\nEND;\n$$;");
	unit_is(&p.up, 2, 12, 1, "SELECT 'line after the block';");
	/* a block is one unit even when it holds several statements */
	unit_is(&p.up, 3, 14, 1, "SELECT 1; SELECT 2;");
	assert_int_equal(p.down.count, 1);
	unit_is(&p.down, 0, 18, 1, "DROP FUNCTION f();");
	mm_parsed_clear(&p);
}

static void test_crlf(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\r\n"
	         "-- +goose NO TRANSACTION\r\n"
	         "CREATE TABLE a (\r\n"
	         "  id int);\r\n"
	         "-- +goose StatementBegin\r\n"
	         "SELECT 1;\r\n"
	         "SELECT 2;\r\n"
	         "-- +goose StatementEnd\r\n"
	         "SELECT 3;\r\n"
	         "-- +goose Down\r\n"
	         "DROP TABLE a;",
	         &p);
	assert_true(p.no_transaction);
	assert_int_equal(p.up.count, 3);
	unit_is(&p.up, 0, 3, 1, "CREATE TABLE a (\n  id int);");
	unit_is(&p.up, 1, 6, 1, "SELECT 1;\nSELECT 2;");
	unit_is(&p.up, 2, 9, 1, "SELECT 3;");
	unit_is(&p.down, 0, 11, 1, "DROP TABLE a;");
	mm_parsed_clear(&p);
}

static void test_annotation_spelling(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("--+goose\tup \t\n"
	         "SELECT 1;\n"
	         "--\t +GOOSE   statementbegin\n"
	         "SELECT 2\n"
	         "-- +goose STATEMENTEND\n"
	         "-- +goose no transaction\n"
	         "-- +goose DOWN\n",
	         &p);
	assert_true(p.no_transaction);
	assert_true(p.has_down);
	assert_int_equal(p.up.count, 2);
	unit_is(&p.up, 1, 4, 1, "SELECT 2");
	assert_int_equal(p.down.count, 0);
	mm_parsed_clear(&p);
}

static void test_empty_sections(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\n", &p);
	assert_int_equal(p.up.count, 0);
	assert_false(p.has_down);
	mm_parsed_clear(&p);

	parse_ok("-- +goose Up\n-- nothing to do\n\n-- +goose Down\n/* nothing */\n", &p);
	assert_int_equal(p.up.count, 0);
	assert_true(p.has_down);
	assert_int_equal(p.down.count, 0);
	mm_parsed_clear(&p);
}

static void test_no_transaction_anywhere(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (x);\n-- +goose Down\n"
	         "DROP INDEX CONCURRENTLY i;\n-- +goose NO TRANSACTION\n",
	         &p);
	assert_true(p.no_transaction);
	unit_is(&p.up, 0, 2, 1, "CREATE INDEX CONCURRENTLY i ON t (x);");
	mm_parsed_clear(&p);
}

static void test_envsub(void **state)
{
	mm_parsed p;

	(void)state;
	setenv("MODMIG_TEST_ROLE", "app_owner", 1);
	setenv("MODMIG_TEST_SCHEMA", "billing", 1);
	unsetenv("MODMIG_TEST_UNSET");
	parse_ok("-- +goose ENVSUB ON\n"
	         "-- +goose Up\n"
	         "GRANT USAGE ON SCHEMA ${MODMIG_TEST_SCHEMA} TO $MODMIG_TEST_ROLE;\n"
	         "CREATE FUNCTION f(int) RETURNS int AS $$ SELECT $1 $$ LANGUAGE sql;\n"
	         "SELECT $tag$ kept $tag$, a$b FROM x_${MODMIG_TEST_SCHEMA};\n"
	         "-- +goose StatementBegin\n"
	         "SELECT '$MODMIG_TEST_ROLE';\n"
	         "-- +goose StatementEnd\n"
	         "-- +goose ENVSUB OFF\n"
	         "SELECT '$MODMIG_TEST_ROLE ${MODMIG_TEST_UNSET}';\n",
	         &p);
	assert_int_equal(p.up.count, 5);
	unit_is(&p.up, 0, 3, 1, "GRANT USAGE ON SCHEMA billing TO app_owner;");
	unit_is(&p.up, 1, 4, 1,
	        "CREATE FUNCTION f(int) RETURNS int AS $$ SELECT $1 $$ LANGUAGE sql;");
	unit_is(&p.up, 2, 5, 1, "SELECT $tag$ kept $tag$, a$b FROM x_billing;");
	unit_is(&p.up, 3, 7, 1, "SELECT 'app_owner';");
	unit_is(&p.up, 4, 10, 1, "SELECT '$MODMIG_TEST_ROLE ${MODMIG_TEST_UNSET}';");
	mm_parsed_clear(&p);

	/* text right after $$ is the body, not a variable name */
	parse_ok("-- +goose ENVSUB ON\n-- +goose Up\nDO $$BEGIN PERFORM 1; END$$;\n", &p);
	unit_is(&p.up, 0, 3, 1, "DO $$BEGIN PERFORM 1; END$$;");
	mm_parsed_clear(&p);

	/* without ENVSUB ON nothing changes */
	parse_ok("-- +goose Up\nSELECT '${MODMIG_TEST_SCHEMA}';\n", &p);
	unit_is(&p.up, 0, 2, 1, "SELECT '${MODMIG_TEST_SCHEMA}';");
	mm_parsed_clear(&p);

	parse_fails(
	        "-- +goose Up\n-- +goose ENVSUB ON\nSELECT 1;\nSELECT '${MODMIG_TEST_UNSET}';\n", 4,
	        "MODMIG_TEST_UNSET is not set");
	parse_fails("-- +goose Up\n-- +goose ENVSUB ON\n\nSELECT $MODMIG_TEST_UNSET;\n", 4,
	            "MODMIG_TEST_UNSET is not set");
	parse_fails("-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${bad name}';\n", 3,
	            "malformed ${...}");
	parse_fails("-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${OPEN';\n", 3, "malformed ${...}");
}

static void test_header_settings(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- modmig lock_timeout=5s\n"
	         "--\tmodmig statement_timeout=1.5min  \n"
	         "-- modmig is mentioned in this comment\n"
	         "-- +goose Up\n"
	         "SELECT 1;\n",
	         &p);
	assert_string_equal(p.lock_timeout, "5s");
	assert_string_equal(p.statement_timeout, "1.5min");
	mm_parsed_clear(&p);
	assert_null(p.lock_timeout);

	parse_ok("-- modmig lock_timeout = 500\n-- +goose Up\n", &p);
	assert_string_equal(p.lock_timeout, "500");
	assert_null(p.statement_timeout);
	mm_parsed_clear(&p);

	parse_fails("\n-- modmig lock_timout=5s\n-- +goose Up\n", 2,
	            "unknown modmig setting 'lock_timout'");
	parse_fails("-- modmig lock_timeout=5 seconds\n-- +goose Up\n", 1, "invalid lock_timeout");
	parse_fails("-- modmig statement_timeout=\n-- +goose Up\n", 1, "invalid statement_timeout");
	parse_fails("-- modmig lock_timeout=5s\n-- modmig lock_timeout=6s\n-- +goose Up\n", 2,
	            "lock_timeout is set twice");
	parse_fails("-- +goose Up\nSELECT 1;\n-- modmig lock_timeout=5s\n", 3,
	            "modmig setting after -- +goose Up");
}

static void test_before_up(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("/* a block comment\n   before Up */\n-- +goose ENVSUB ON\n-- +goose Up\n", &p);
	assert_int_equal(p.up.count, 0);
	mm_parsed_clear(&p);

	parse_fails("-- header\nCREATE TABLE a (id int);\n-- +goose Up\n", 2,
	            "sql before -- +goose Up");
	parse_fails("/* ok */ SELECT 1;\n-- +goose Up\n", 1, "sql before -- +goose Up");
	parse_fails("SELECT 'unterminated\n-- +goose Up\n", 1, "sql before -- +goose Up");
	parse_fails("CREATE TABLE a (id int);\n", 1, "no -- +goose Up");
	parse_fails("", 1, "no -- +goose Up");
	parse_fails("-- +goose Down\n", 1, "-- +goose Down before -- +goose Up");
	parse_fails("-- +goose StatementBegin\n", 1, "StatementBegin before -- +goose Up");
}

static void test_section_order(void **state)
{
	(void)state;
	parse_fails("-- +goose Up\nSELECT 1;\n-- +goose Up\n", 3, "duplicate -- +goose Up");
	parse_fails("-- +goose Up\n-- +goose Down\n\n-- +goose Down\n", 4,
	            "duplicate -- +goose Down (the first is at line 2)");
	parse_fails("-- +goose Up\n-- +goose Down\n-- +goose Up\n", 3,
	            "-- +goose Up after -- +goose Down");
}

static void test_malformed_annotations(void **state)
{
	(void)state;
	parse_fails("-- +goose Up\n  -- +goose Down\n", 2, "annotation is indented");
	parse_fails("-- +goose Up\n-- +goose Down please\n", 2, "malformed goose annotation");
	parse_fails("-- +goose NO  TRANSACTION\n-- +goose Up\n", 1, "malformed goose annotation");
	parse_fails("-- +goose Up\n-- +goose Sideways\n", 2, "'-- +goose Sideways'");
	parse_fails("-- +gooseUp\n", 1, "malformed goose annotation");
	parse_fails("-- +goose Up\nSELECT 1;\n-- see +goose docs\n", 3,
	            "malformed goose annotation");
	parse_fails("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n -- +goose StatementEnd\n",
	            4, "annotation is indented");
}

static void test_block_errors(void **state)
{
	(void)state;
	parse_fails("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementBegin\n",
	            4, "nested -- +goose StatementBegin (the block opened at line 2)");
	parse_fails("-- +goose Up\nSELECT 1;\n-- +goose StatementBegin\nSELECT 2;\n", 3,
	            "StatementBegin is never closed");
	parse_fails("-- +goose Up\n-- +goose StatementBegin\nSELECT 2;\n-- +goose Down\n", 2,
	            "StatementBegin is never closed");
	parse_fails("-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n", 3,
	            "StatementEnd without -- +goose StatementBegin");
}

/*
 * DESIGN §3 rule 3. goose keeps nothing of a block whose lines are all empty
 * or -- comments, and then drops the first following line that is neither:
 * such a block is no unit where an annotation or the end of the file follows
 * it, and an error where SQL would follow it, since goose would never run
 * that SQL and modmig would.
 */
static void test_empty_blocks(void **state)
{
	mm_parsed p;

	(void)state;
	/* at the end of the file, before Down, before another block */
	parse_ok("-- +goose Up\nSELECT 1;\n-- +goose StatementBegin\n-- +goose StatementEnd\n", &p);
	assert_int_equal(p.up.count, 1);
	unit_is(&p.up, 0, 2, 1, "SELECT 1;");
	mm_parsed_clear(&p);
	parse_ok("-- +goose Up\n-- +goose StatementBegin\n-- only a comment\n\n"
	         "-- +goose StatementEnd\n\n-- +goose Down\n"
	         "-- +goose StatementBegin\n  \n\t\n-- +goose StatementEnd\n",
	         &p);
	assert_int_equal(p.up.count, 0);
	assert_int_equal(p.down.count, 0);
	assert_true(p.has_down);
	mm_parsed_clear(&p);
	parse_ok("-- +goose Up\n-- +goose StatementBegin\n-- nothing yet\n-- +goose StatementEnd\n"
	         "-- +goose StatementBegin\nSELECT 2;\n-- +goose StatementEnd\nSELECT 3;\n",
	         &p);
	assert_int_equal(p.up.count, 2);
	unit_is(&p.up, 0, 6, 1, "SELECT 2;");
	unit_is(&p.up, 1, 8, 1, "SELECT 3;");
	mm_parsed_clear(&p);

	/* SQL after it: goose drops that line, whatever blank lines and comments come between */
	parse_fails_at("-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementEnd\n"
	               "CREATE TABLE t (id int);\n",
	               4, 1,
	               "goose drops this line: it follows the empty -- +goose StatementBegin block "
	               "at line 2");
	parse_fails_at("-- +goose Up\n-- +goose StatementBegin\n-- just a note\n"
	               "-- +goose StatementEnd\n\n-- a comment\n  CREATE TABLE t (id int);\n",
	               7, 3,
	               "goose drops this line: it follows the empty -- +goose StatementBegin block "
	               "at line 2");
	/* NO TRANSACTION and ENVSUB do not move goose's parser on */
	parse_fails_at("-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementEnd\n"
	               "-- +goose NO TRANSACTION\nSELECT 1;\n",
	               5, 1,
	               "goose drops this line: it follows the empty -- +goose StatementBegin block "
	               "at line 2");
	parse_fails_at("-- +goose Up\nSELECT 1;\n-- +goose Down\n-- +goose StatementBegin\r\n"
	               "-- +goose StatementEnd\r\nDROP TABLE t;\r\n",
	               6, 1,
	               "goose drops this line: it follows the empty -- +goose StatementBegin block "
	               "at line 4");
	/* goose drops a line of blanks instead, and runs the SQL after it */
	parse_ok("-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementEnd\n   \nSELECT 1;\n",
	         &p);
	assert_int_equal(p.up.count, 1);
	unit_is(&p.up, 0, 5, 1, "SELECT 1;");
	mm_parsed_clear(&p);
	/* a block holding a line of blanks is not empty to goose: no line is dropped */
	parse_ok("-- +goose Up\n-- +goose StatementBegin\n  \n-- +goose StatementEnd\nSELECT 1;\n",
	         &p);
	assert_int_equal(p.up.count, 1);
	unit_is(&p.up, 0, 5, 1, "SELECT 1;");
	mm_parsed_clear(&p);
}

static void warning_is(const mm_parsed *p, size_t i, modmig_direction dir, int line, int column,
                       const char *message)
{
	assert_true(i < p->warning_count);
	assert_int_equal(p->warnings[i].dir, dir);
	assert_int_equal(p->warnings[i].line, line);
	assert_int_equal(p->warnings[i].column, column);
	assert_string_equal(p->warnings[i].message, message);
}

#define REDUNDANT(word)                                                                            \
	word " is redundant: modmig runs the migration in one transaction, so it is not sent"

/*
 * DESIGN §3 rule 6: modmig runs a migration in one transaction, so a BEGIN
 * that opens a section and a COMMIT that closes it are not sent (with a
 * warning each); units keep their exact positions.
 */
static void test_redundant_transaction_control(void **state)
{
	mm_parsed p;

	(void)state;
	parse_ok("-- +goose Up\n"
	         "BEGIN;\n"
	         "CREATE TABLE a (id int);\n"
	         "CREATE TABLE b (id int);\n"
	         "COMMIT;\n"
	         "-- +goose Down\n"
	         "start transaction isolation level serializable;\n"
	         "DROP TABLE b, a;\n"
	         "end;\n",
	         &p);
	assert_int_equal(p.up.count, 2);
	unit_is(&p.up, 0, 3, 1, "CREATE TABLE a (id int);");
	unit_is(&p.up, 1, 4, 1, "CREATE TABLE b (id int);");
	assert_int_equal(p.down.count, 1);
	unit_is(&p.down, 0, 8, 1, "DROP TABLE b, a;");
	assert_int_equal(p.warning_count, 4);
	warning_is(&p, 0, MODMIG_UP, 2, 1, REDUNDANT("BEGIN"));
	warning_is(&p, 1, MODMIG_UP, 5, 1, REDUNDANT("COMMIT"));
	warning_is(&p, 2, MODMIG_DOWN, 7, 1, REDUNDANT("START TRANSACTION"));
	warning_is(&p, 3, MODMIG_DOWN, 9, 1, REDUNDANT("END"));
	mm_parsed_clear(&p);

	/* inside a block: the block is sent as it stands, minus those two */
	parse_ok("-- +goose Up\n"
	         "-- +goose StatementBegin\n"
	         "-- wrapped, as some goose projects do\n"
	         "BEGIN;\n"
	         "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n"
	         "BEGIN\n"
	         "  COMMIT;\n"
	         "  RETURN 1;\n"
	         "END $$;\n"
	         "CREATE TABLE t (id int);\n"
	         "COMMIT; -- done\n"
	         "-- +goose StatementEnd\n",
	         &p);
	assert_int_equal(p.up.count, 1);
	unit_is(&p.up, 0, 5, 1,
	        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  COMMIT;\n"
	        "  RETURN 1;\nEND $$;\nCREATE TABLE t (id int);");
	assert_int_equal(p.warning_count, 2);
	warning_is(&p, 0, MODMIG_UP, 4, 1, REDUNDANT("BEGIN"));
	warning_is(&p, 1, MODMIG_UP, 11, 1, REDUNDANT("COMMIT"));
	mm_parsed_clear(&p);

	/* on one line with what follows it, and across units and blocks */
	parse_ok("-- +goose Up\n"
	         "-- +goose StatementBegin\n"
	         "BEGIN; CREATE TABLE a (id int);\n"
	         "-- +goose StatementEnd\n"
	         "CREATE TABLE b (id int);\n"
	         "-- +goose StatementBegin\n"
	         "CREATE TABLE c (id int); Commit Work;\n"
	         "-- +goose StatementEnd\n",
	         &p);
	assert_int_equal(p.up.count, 3);
	unit_is(&p.up, 0, 3, 8, "CREATE TABLE a (id int);");
	unit_is(&p.up, 1, 5, 1, "CREATE TABLE b (id int);");
	unit_is(&p.up, 2, 7, 1, "CREATE TABLE c (id int);");
	warning_is(&p, 0, MODMIG_UP, 3, 1, REDUNDANT("BEGIN"));
	warning_is(&p, 1, MODMIG_UP, 7, 26, REDUNDANT("COMMIT"));
	mm_parsed_clear(&p);

	/* a section of nothing else; a lone COMMIT; a lone BEGIN */
	parse_ok("-- +goose Up\nBEGIN;\nCOMMIT;\n-- +goose Down\nCOMMIT;\n", &p);
	assert_int_equal(p.up.count, 0);
	assert_int_equal(p.down.count, 0);
	assert_int_equal(p.warning_count, 3);
	warning_is(&p, 2, MODMIG_DOWN, 5, 1, REDUNDANT("COMMIT"));
	mm_parsed_clear(&p);
	parse_ok("-- +goose Up\nBEGIN TRANSACTION;\nSELECT 1;\n", &p);
	assert_int_equal(p.up.count, 1);
	unit_is(&p.up, 0, 3, 1, "SELECT 1;");
	assert_int_equal(p.warning_count, 1);
	mm_parsed_clear(&p);

	/* savepoints, prepared statements, words that only look like it: all sent */
	parse_ok("-- +goose Up\n"
	         "SAVEPOINT s;\n"
	         "CREATE TABLE t (start int, \"end\" int, begin_at date, commit_sha text);\n"
	         "ROLLBACK TO SAVEPOINT s;\n"
	         "RELEASE SAVEPOINT s;\n"
	         "PREPARE q AS SELECT 1;\n"
	         "SELECT 'COMMIT;';\n"
	         "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
	         &p);
	assert_int_equal(p.up.count, 7);
	unit_is(&p.up, 6, 8, 1,
	        "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;");
	assert_int_equal(p.warning_count, 0);
	mm_parsed_clear(&p);

	/* NO TRANSACTION runs everything as written */
	parse_ok("-- +goose NO TRANSACTION\n-- +goose Up\nBEGIN;\nCREATE TABLE a (id int);\n"
	         "COMMIT;\nCREATE INDEX CONCURRENTLY i ON a (id);\n",
	         &p);
	assert_int_equal(p.up.count, 4);
	unit_is(&p.up, 0, 3, 1, "BEGIN;");
	unit_is(&p.up, 2, 5, 1, "COMMIT;");
	assert_int_equal(p.warning_count, 0);
	mm_parsed_clear(&p);
}

#define TX_ERROR(text, line, column, message) parse_fails_at(text, line, column, message)

/*
 * Every other transaction-control statement would end the migration's
 * transaction early: refused at its file:line:column, in blocks too.
 */
static void test_transaction_control_errors(void **state)
{
	(void)state;
	TX_ERROR("-- +goose Up\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n"
	         "SELECT 1/0;\n",
	         3, 1,
	         "COMMIT in the middle of a transactional migration would commit the statements "
	         "before it on their own");
	TX_ERROR("-- +goose Up\nCREATE TABLE a (id int);\n  ROLLBACK;\nCREATE TABLE b (id int);\n",
	         3, 3,
	         "ROLLBACK in a transactional migration would undo the statements before it while "
	         "the migration is recorded as applied");
	/* at the end too: nothing would be applied, and it would be recorded */
	TX_ERROR("-- +goose Up\nBEGIN;\nCREATE TABLE a (id int);\nABORT;\n", 4, 1,
	         "ABORT in a transactional migration would undo the statements before it while "
	         "the migration is recorded as applied");
	TX_ERROR("-- +goose Up\nCREATE TABLE a (id int);\nCOMMIT AND CHAIN;\n", 3, 1,
	         "COMMIT AND CHAIN in the middle of a transactional migration would commit the "
	         "statements before it on their own");
	TX_ERROR("-- +goose Up\nCREATE TABLE a (id int);\nPREPARE TRANSACTION 'm1';\n", 3, 1,
	         "PREPARE TRANSACTION cannot run inside a transactional migration");
	TX_ERROR("-- +goose Up\nCOMMIT PREPARED 'm1';\n", 2, 1,
	         "COMMIT PREPARED cannot run inside a transactional migration");
	TX_ERROR("-- +goose Up\nSELECT 1;\n-- +goose Down\nROLLBACK PREPARED 'm1';\n", 4, 1,
	         "ROLLBACK PREPARED cannot run inside a transactional migration");
	TX_ERROR("-- +goose Up\nCREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);\n"
	         "COMMIT;\n",
	         3, 1,
	         "BEGIN after the first statement of a transactional migration marks a "
	         "transaction boundary that the migration's one transaction would not keep");
	/* inside a block, at the statement's own position */
	TX_ERROR("-- +goose Up\n-- +goose StatementBegin\nBEGIN;\nCREATE TABLE a (id int);\n"
	         "  COMMIT;\nDROP TABLE missing;\n-- +goose StatementEnd\n",
	         5, 3,
	         "COMMIT in the middle of a transactional migration would commit the statements "
	         "before it on their own");
	TX_ERROR("-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE a (id int); ROLLBACK; "
	         "CREATE TABLE b (id int);\n-- +goose StatementEnd\n",
	         3, 26,
	         "ROLLBACK in a transactional migration would undo the statements before it while "
	         "the migration is recorded as applied");
	/* a COMMIT that ends one block is in the middle when more follows */
	TX_ERROR("-- +goose Up\n-- +goose StatementBegin\nBEGIN;\nSELECT 1;\nCOMMIT;\n"
	         "-- +goose StatementEnd\n-- +goose StatementBegin\nBEGIN;\nSELECT 2;\nCOMMIT;\n"
	         "-- +goose StatementEnd\n",
	         5, 1,
	         "COMMIT in the middle of a transactional migration would commit the statements "
	         "before it on their own");
}

static void test_unterminated_statements(void **state)
{
	(void)state;
	parse_fails("-- +goose Up\nSELECT 1;\n\n-- why\nSELECT 2\n  FROM t\n-- +goose Down\n", 5,
	            "not terminated with ';' before -- +goose Down");
	parse_fails("-- +goose Up\n-- +goose Down\nSELECT 1;\nDROP TABLE t", 4,
	            "not terminated with ';' at the end of the file");
	parse_fails("-- +goose Up\r\nSELECT 1;\r\nSELECT 2\r\n", 3, "at the end of the file");
	parse_fails("-- +goose Up\nSELECT 1\n-- +goose StatementBegin\nSELECT 2;\n"
	            "-- +goose StatementEnd\n",
	            2, "before -- +goose StatementBegin");
	/* a string left open swallows the rest: report where it starts */
	parse_fails("-- +goose Up\nSELECT 1;\nSELECT 'open;\nSELECT 3;\n", 3,
	            "unterminated quoted string");
	parse_fails("-- +goose Up\nSELECT $$ open;\n", 2, "unterminated dollar-quoted string");
	parse_fails("-- +goose Up\nSELECT 1; /* open\n", 2, "unterminated /* comment");
}

static void test_newer_syntax_falls_back_to_the_lexer(void **state)
{
	mm_parsed p;

	(void)state;
	/*
	 * MERGE ... RETURNING (PostgreSQL 17) and IS JSON (16) are unknown to the
	 * bundled PostgreSQL 15 grammar, so these split with the lexer.
	 */
	parse_ok("-- +goose Up\n"
	         "CREATE TABLE t (id int, doc text);\n"
	         "MERGE INTO t USING s ON t.id = s.id\n"
	         "  WHEN MATCHED THEN DELETE\n"
	         "  RETURNING t.id;\n"
	         "SELECT doc IS JSON FROM t WHERE doc <> ';';\n"
	         "-- +goose Down\n"
	         "ALTER TABLE t ALTER COLUMN doc SET EXPRESSION AS ('x'); DROP TABLE t;\n",
	         &p);
	assert_int_equal(p.up.count, 3);
	unit_is(&p.up, 0, 2, 1, "CREATE TABLE t (id int, doc text);");
	unit_is(&p.up, 1, 3, 1,
	        "MERGE INTO t USING s ON t.id = s.id\n  WHEN MATCHED THEN DELETE\n  RETURNING "
	        "t.id;");
	unit_is(&p.up, 2, 6, 1, "SELECT doc IS JSON FROM t WHERE doc <> ';';");
	assert_int_equal(p.down.count, 2);
	unit_is(&p.down, 0, 8, 1, "ALTER TABLE t ALTER COLUMN doc SET EXPRESSION AS ('x');");
	unit_is(&p.down, 1, 8, 57, "DROP TABLE t;");
	mm_parsed_clear(&p);
}

static void test_garbage(void **state)
{
	mm_parsed p;

	(void)state;
	/* the lexer drops statements it finds no keyword in: that must not go unnoticed */
	parse_fails("-- +goose Up\nSELECT 1;\nfoo;\nbar;\n", 3, "cannot split the sql");
	parse_fails("-- +goose Up\nCREATE TABLE a (id int);\n\nhello world;\n", 4,
	            "cannot split the sql");
	/* garbage that the lexer keeps is sent as it is, for the server to reject */
	parse_ok("-- +goose Up\nthis is not sql;\nSELECT 2;\n", &p);
	assert_int_equal(p.up.count, 2);
	unit_is(&p.up, 0, 2, 1, "this is not sql;");
	unit_is(&p.up, 1, 3, 1, "SELECT 2;");
	mm_parsed_clear(&p);
}

static void test_bytes(void **state)
{
	static const char with_nul[] = "-- +goose Up\nSELECT 1;\nSELECT '\0';\n";
	static const char longer[] = "-- +goose Up\nSELECT 1;\nSELECT 2;\nTRAILING GARBAGE";
	mm_parsed p;
	modmig_error *err = NULL;

	(void)state;
	assert_int_equal(mm_parse(FILE_NAME, with_nul, sizeof(with_nul) - 1, &p, &err),
	                 MODMIG_E_PARSE);
	assert_int_equal(modmig_error_line(err), 3);
	assert_non_null(strstr(modmig_error_message(err), "NUL byte"));
	modmig_error_free(err);
	err = NULL;

	/* the text is not NUL-terminated: only len bytes count */
	assert_int_equal(
	        mm_parse(FILE_NAME, longer, strlen(longer) - strlen("TRAILING GARBAGE"), &p, &err),
	        MODMIG_OK);
	assert_int_equal(p.up.count, 2);
	unit_is(&p.up, 1, 3, 1, "SELECT 2;");
	mm_parsed_clear(&p);

	/* a UTF-8 byte order mark does not hide the first annotation */
	parse_ok("\xEF\xBB\xBF-- +goose Up\nSELECT 'ä';\n", &p);
	unit_is(&p.up, 0, 2, 1, "SELECT 'ä';");
	mm_parsed_clear(&p);

	/* no error object requested: still fails cleanly */
	assert_int_equal(mm_parse(FILE_NAME, "SELECT 1;", 9, &p, NULL), MODMIG_E_PARSE);
}

/*
 * DESIGN §3 rule 8: files are UTF-8. The first byte that does not begin a
 * well-formed character is an error at its line and byte column, whichever
 * way the encoding is broken; a byte order mark stays accepted.
 */
static void test_utf8(void **state)
{
	mm_parsed p;

	(void)state;
	/* Latin-1 'é' (0xe9) where UTF-8 needs 0xc3 0xa9 */
	parse_fails_at("-- +goose Up\nINSERT INTO t VALUES ('caf\xe9');\n", 2, 27,
	               "invalid UTF-8 (byte 0xe9)");
	/* after valid multi-byte characters the column still counts bytes */
	parse_fails_at("-- +goose Up\nSELECT 'ä€😀', '\x80';\n", 2, 22, "invalid UTF-8 (byte 0x80)");
	/* overlong NUL, a surrogate, above U+10FFFF, and a sequence cut short */
	parse_fails_at("-- +goose Up\nSELECT '\xc0\x80';\n", 2, 9, "invalid UTF-8 (byte 0xc0)");
	parse_fails_at("-- +goose Up\nSELECT '\xed\xa0\x80';\n", 2, 9, "invalid UTF-8 (byte 0xed)");
	parse_fails_at("-- +goose Up\nSELECT '\xf4\x90\x80\x80';\n", 2, 9,
	               "invalid UTF-8 (byte 0xf4)");
	parse_fails_at("-- +goose Up\nSELECT 1;\n-- caf\xc3", 3, 7, "invalid UTF-8 (byte 0xc3)");
	/* in a comment before Up, in the Down section, in a block: everywhere */
	parse_fails_at("-- \xff\n-- +goose Up\nSELECT 1;\n", 1, 4, "invalid UTF-8 (byte 0xff)");
	parse_fails_at("-- +goose Up\nSELECT 1;\n-- +goose Down\n-- +goose StatementBegin\n"
	               "SELECT '\xfe';\n-- +goose StatementEnd\n",
	               5, 9, "invalid UTF-8 (byte 0xfe)");
	/* with a byte order mark, line 1's columns start after it */
	parse_fails_at("\xEF\xBB\xBF-- \xe9\n-- +goose Up\n", 1, 4, "invalid UTF-8 (byte 0xe9)");
	/* a second byte order mark is no byte order mark, but it is UTF-8 (U+FEFF) */
	parse_ok("\xEF\xBB\xBF-- +goose Up\nSELECT '\xEF\xBB\xBF😀';\n", &p);
	unit_is(&p.up, 0, 2, 1, "SELECT '\xEF\xBB\xBF😀';");
	mm_parsed_clear(&p);
}

static void test_many_statements(void **state)
{
	mm_buf b;
	mm_parsed p;
	int i;

	(void)state;
	mm_buf_init(&b);
	mm_buf_puts(&b, "-- +goose Up\n");
	for (i = 0; i < 5000; i++)
		mm_buf_printf(&b, "INSERT INTO t VALUES (%d, 'x;y');\n", i);
	mm_buf_puts(&b, "-- +goose Down\nDELETE FROM t;\n");
	assert_false(b.oom);
	parse_ok(b.data, &p);
	assert_int_equal(p.up.count, 5000);
	unit_is(&p.up, 4999, 5001, 1, "INSERT INTO t VALUES (4999, 'x;y');");
	unit_is(&p.down, 0, 5003, 1, "DELETE FROM t;");
	mm_parsed_clear(&p);
	mm_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sections_and_statements),
	        cmocka_unit_test(test_semicolons_that_do_not_split),
	        cmocka_unit_test(test_comments_around_statements),
	        cmocka_unit_test(test_statement_blocks),
	        cmocka_unit_test(test_crlf),
	        cmocka_unit_test(test_annotation_spelling),
	        cmocka_unit_test(test_empty_sections),
	        cmocka_unit_test(test_no_transaction_anywhere),
	        cmocka_unit_test(test_envsub),
	        cmocka_unit_test(test_header_settings),
	        cmocka_unit_test(test_before_up),
	        cmocka_unit_test(test_section_order),
	        cmocka_unit_test(test_malformed_annotations),
	        cmocka_unit_test(test_block_errors),
	        cmocka_unit_test(test_empty_blocks),
	        cmocka_unit_test(test_redundant_transaction_control),
	        cmocka_unit_test(test_transaction_control_errors),
	        cmocka_unit_test(test_unterminated_statements),
	        cmocka_unit_test(test_newer_syntax_falls_back_to_the_lexer),
	        cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_bytes),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_many_statements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
