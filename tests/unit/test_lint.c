/*
 * test_lint.c - modmig_lint over in-memory sources: for every rule a firing
 * case, a safe variant that does not fire and a suppressed case, each
 * asserted exactly as "line:column severity rule" of every finding of the
 * file; the lint: section of the manifest (severities and its errors with
 * file:line:column); suppressions; and the example.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modmig.h"

/* billing depends on organization, which depends on identity; audit on nothing */
#define MODULES                                                                                    \
	"modules:\n"                                                                               \
	"  - name: db\n"                                                                           \
	"  - name: identity\n"                                                                     \
	"    schema: identity\n"                                                                   \
	"    depends_on: [db]\n"                                                                   \
	"  - name: organization\n"                                                                 \
	"    schema: organization\n"                                                               \
	"    depends_on: [identity]\n"                                                             \
	"  - name: billing\n"                                                                      \
	"    schema: billing\n"                                                                    \
	"    depends_on: [organization]\n"                                                         \
	"  - name: audit\n"                                                                        \
	"    schema: audit\n"

static const char manifest_default[] = MODULES;
/* the type rules are off by default */
static const char manifest_types[] = "lint:\n"
                                     "  prefer-bigint: warning\n"
                                     "  prefer-identity: warning\n"
                                     "  prefer-text: warning\n"
                                     "  prefer-timestamptz: warning\n" MODULES;

#define FILE_PATH "billing/migrations/04001_t.sql"

typedef struct lint_case {
	const char *name;
	const char *sql;
	const char *expect; /* "line:column severity rule" per finding, '\n' between */
} lint_case;

/* Lint one file of module billing; returns the findings as text (caller frees). */
static char *lint_text(const char *manifest, const char *path, const char *sql, int *status)
{
	modmig_embedded_file files[2] = {
	        {"modules.yaml", (const unsigned char *)manifest, strlen(manifest), ""},
	        {path, (const unsigned char *)sql, strlen(sql), ""},
	};
	modmig_source *src = NULL;
	modmig_findings *f = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(mem);
	st = modmig_source_new_embedded(files, 2, &src, &err);
	if (st != MODMIG_OK)
		fail_msg("source: %s", modmig_error_message(err));
	st = modmig_lint(src, NULL, &f, &err);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK)
		fail_msg("lint: %s", modmig_error_message(err));
	*status = (int)st;
	for (size_t i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		assert_int_equal(x->kind, MODMIG_FINDING_LINT);
		/* embedded files are shown under modules/, as the bundled ones are */
		assert_true(strncmp(x->file, "modules/", 8) == 0 && !strcmp(x->file + 8, path));
		assert_non_null(x->hint);
		assert_non_null(x->message);
		fprintf(mem, "%s%d:%d %s %s", i ? "\n" : "", x->line, x->column,
		        x->severity == MODMIG_SEVERITY_ERROR ? "error" : "warning", x->rule);
	}
	fclose(mem);
	modmig_findings_free(f);
	modmig_source_free(src);
	return out;
}

static void run_cases(const char *manifest, const lint_case *cases, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		int st = 0;
		char *got = lint_text(manifest, FILE_PATH, cases[i].sql, &st);
		bool has_error = strstr(cases[i].expect, " error ") != NULL;

		if (strcmp(got, cases[i].expect) != 0) {
			print_error("case %s:\nexpected:\n%s\ngot:\n%s\n", cases[i].name,
			            cases[i].expect, got);
			failed++;
		} else if (st != (has_error ? MODMIG_E_CHECK : MODMIG_OK)) {
			/* exit 3 exactly when a finding is an error */
			print_error("case %s: status %d\n", cases[i].name, st);
			failed++;
		}
		free(got);
	}
	assert_int_equal(failed, 0);
}

#define RUN(manifest, cases) run_cases(manifest, cases, sizeof(cases) / sizeof(cases[0]))
#define UP                   "-- +goose Up\n"
#define LOCK                 "-- modmig lock_timeout=5s\n" UP

/* ---- modules ------------------------------------------------------------- */

static const lint_case module_cases[] = {
        {"require-schema fires", UP "CREATE TABLE credits (id bigint);\n",
         "2:14 error require-schema"},
        {"require-schema once per name, also for Down",
         UP "CREATE TABLE credits (id bigint);\n-- +goose Down\nDROP TABLE credits;\n",
         "2:14 error require-schema"},
        {"require-schema on an index's table", UP "CREATE INDEX credits_id ON credits (id);\n",
         "2:28 error require-concurrent-index\n2:28 error require-schema"},
        {"require-schema safe", UP "CREATE TABLE billing.credits (id bigint);\n", ""},
        {"require-schema suppressed",
         UP "-- modmig:nolint require-schema the extension wants it in public\n"
            "CREATE TABLE credits (id bigint);\n",
         ""},
        {"foreign-schema fires", UP "CREATE TABLE identity.tokens (id bigint);\n",
         "2:14 error foreign-schema"},
        {"foreign-schema on a trigger",
         UP "CREATE TRIGGER t AFTER INSERT ON organization.members\n"
            "    FOR EACH ROW EXECUTE FUNCTION billing.f();\n",
         "2:34 error foreign-schema"},
        {"foreign-schema safe: a foreign key from an own table",
         UP "CREATE TABLE billing.tokens (\n"
            "    id bigint,\n"
            "    person_id bigint REFERENCES identity.persons (id)\n"
            ");\n",
         ""},
        {"foreign-schema suppressed",
         UP "-- modmig:nolint foreign-schema identity asked billing to own this table\n"
            "CREATE TABLE identity.tokens (id bigint);\n",
         ""},
        {"undeclared-dependency fires", UP "CREATE VIEW billing.v AS SELECT * FROM audit.events;\n",
         "2:40 error undeclared-dependency"},
        {"undeclared-dependency once per module and file",
         UP "CREATE VIEW billing.v AS SELECT * FROM audit.events;\n"
            "CREATE VIEW billing.w AS SELECT * FROM audit.events;\n",
         "2:40 error undeclared-dependency"},
        {"undeclared-dependency through a type and a function",
         UP "CREATE TABLE billing.t (k audit.kind DEFAULT audit.next_kind());\n",
         "2:27 error undeclared-dependency"},
        {"undeclared-dependency safe: through organization's depends_on",
         UP "CREATE VIEW billing.v AS SELECT * FROM identity.persons;\n", ""},
        {"undeclared-dependency suppressed",
         UP "-- modmig:nolint undeclared-dependency audit is optional here\n"
            "CREATE VIEW billing.v AS SELECT * FROM audit.events;\n",
         ""},
        {"table-repeats-schema fires", UP "CREATE TABLE billing.billing_accounts (id bigint);\n",
         "2:14 error table-repeats-schema"},
        {"table-repeats-schema on a rename",
         UP "CREATE TABLE billing.accounts (id bigint);\n"
            "ALTER TABLE billing.accounts RENAME TO billing_accounts;\n",
         "3:13 error table-repeats-schema"},
        {"table-repeats-schema safe", UP "CREATE TABLE billing.accounts (id bigint);\n", ""},
        {"table-repeats-schema suppressed",
         UP "-- modmig:nolint table-repeats-schema sqlc names are fixed by the api\n"
            "CREATE TABLE billing.billing_accounts (id bigint);\n",
         ""},
        {"transaction-control: redundant BEGIN and COMMIT are warnings",
         UP "BEGIN;\nCREATE TABLE billing.a (id bigint);\nCOMMIT;\n",
         "2:1 warning transaction-control\n4:1 warning transaction-control"},
        {"transaction-control safe: savepoints",
         UP "SAVEPOINT s;\nCREATE TABLE billing.a (id bigint);\nRELEASE SAVEPOINT s;\n", ""},
        {"transaction-control safe: NO TRANSACTION",
         "-- +goose NO TRANSACTION\n" UP "CREATE TABLE billing.a (id bigint);\nCOMMIT;\n"
         "SELECT 1;\n",
         ""},
};

static void test_module_rules(void **state)
{
	(void)state;
	RUN(manifest_default, module_cases);
}

/*
 * Transaction control that would end the migration's transaction early is a
 * parse error (DESIGN §3 rule 6, source/parse_tx.c): lint refuses the file as
 * validate and up do, at the statement, and no nolint silences it.
 */
static void test_transaction_control_is_a_parse_error(void **state)
{
	static const struct {
		const char *sql;
		int line;
		int column;
	} cases[] = {
	        {UP "CREATE TABLE billing.a (id bigint);\nCOMMIT;\nCREATE TABLE billing.b (id "
	            "bigint);\n",
	         3, 1},
	        {UP "CREATE TABLE billing.a (id bigint);\nROLLBACK;\n", 3, 1},
	        {UP "-- +goose StatementBegin\nCREATE TABLE billing.a (id bigint);\n"
	            "PREPARE TRANSACTION 'x';\n-- +goose StatementEnd\n",
	         4, 1},
	        {UP "CREATE TABLE billing.a (id bigint);\n"
	            "-- modmig:nolint transaction-control the split is deliberate, see README\n"
	            "COMMIT;\nCREATE TABLE billing.b (id bigint);\n",
	         4, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		modmig_embedded_file files[2] = {
		        {"modules.yaml", (const unsigned char *)manifest_default,
		         strlen(manifest_default), ""},
		        {FILE_PATH, (const unsigned char *)cases[i].sql, strlen(cases[i].sql), ""},
		};
		modmig_source *src = NULL;
		modmig_findings *f = NULL;
		modmig_error *err = NULL;

		assert_int_equal(modmig_source_new_embedded(files, 2, &src, &err), MODMIG_OK);
		assert_int_equal(modmig_lint(src, NULL, &f, &err), MODMIG_E_PARSE);
		assert_int_equal(modmig_error_line(err), cases[i].line);
		assert_int_equal(modmig_error_column(err), cases[i].column);
		modmig_error_free(err);
		modmig_findings_free(f);
		modmig_source_free(src);
	}
}

/* ---- locks and rewrites --------------------------------------------------- */

static const lint_case lock_cases[] = {
        {"require-concurrent-index fires",
         UP "CREATE INDEX invoices_due ON billing.invoices (due_at);\n",
         "2:30 error require-concurrent-index"},
        {"require-concurrent-index on DROP INDEX", UP "DROP INDEX billing.invoices_due;\n",
         "2:1 error require-concurrent-index"},
        {"require-concurrent-index safe: a table of the same file",
         UP "CREATE TABLE billing.t (id bigint);\nCREATE INDEX t_id ON billing.t (id);\n", ""},
        {"require-concurrent-index safe: CONCURRENTLY",
         "-- +goose NO TRANSACTION\n" UP
         "CREATE INDEX CONCURRENTLY invoices_due ON billing.invoices (due_at);\n",
         ""},
        {"require-concurrent-index safe: Down",
         UP "SELECT 1;\n-- +goose Down\n"
            "DROP INDEX billing.invoices_due;\n",
         ""},
        {"require-concurrent-index suppressed",
         UP "-- modmig:nolint require-concurrent-index invoices is empty in every deployment\n"
            "CREATE INDEX invoices_due ON billing.invoices (due_at);\n",
         ""},
        {"concurrent-index-in-transaction fires",
         UP "CREATE INDEX CONCURRENTLY i ON billing.invoices (due_at);\n",
         "2:1 error concurrent-index-in-transaction"},
        {"concurrent-index-in-transaction: a block of several statements",
         "-- +goose NO TRANSACTION\n" UP "-- +goose StatementBegin\n"
         "CREATE INDEX CONCURRENTLY i ON billing.invoices (due_at);\nSELECT 1;\n"
         "-- +goose StatementEnd\n",
         "4:1 error concurrent-index-in-transaction"},
        {"concurrent-index-in-transaction: DROP in Down",
         "-- +goose NO TRANSACTION\n" UP "SELECT 1;\n-- +goose Down\n"
         "-- +goose StatementBegin\nSELECT 1;\nDROP INDEX CONCURRENTLY billing.i;\n"
         "-- +goose StatementEnd\n",
         "7:1 error concurrent-index-in-transaction"},
        {"concurrent-index-in-transaction safe",
         "-- +goose NO TRANSACTION\n" UP
         "CREATE INDEX CONCURRENTLY i ON billing.invoices (due_at);\n",
         ""},
        {"concurrent-index-in-transaction suppressed",
         UP "-- modmig:nolint concurrent-index-in-transaction fails on purpose in the demo\n"
            "CREATE INDEX CONCURRENTLY i ON billing.invoices (due_at);\n",
         ""},
        {"add-foreign-key-not-valid fires",
         UP "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_org FOREIGN KEY (org_id)\n"
            "    REFERENCES organization.organizations (id);\n",
         "2:34 error add-foreign-key-not-valid"},
        {"add-foreign-key-not-valid: a column added with REFERENCES",
         LOCK "ALTER TABLE billing.invoices ADD COLUMN org_id bigint\n"
              "    REFERENCES organization.organizations (id);\n",
         "4:5 error add-foreign-key-not-valid"},
        {"add-foreign-key-not-valid safe",
         UP "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_org FOREIGN KEY (org_id)\n"
            "    REFERENCES organization.organizations (id) NOT VALID;\n",
         ""},
        {"add-foreign-key-not-valid suppressed",
         UP "-- modmig:nolint add-foreign-key-not-valid invoices is empty in production\n"
            "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_org FOREIGN KEY (org_id)\n"
            "    REFERENCES organization.organizations (id);\n",
         ""},
        {"add-check-not-valid fires",
         UP "ALTER TABLE billing.invoices ADD CONSTRAINT positive CHECK (total > 0);\n",
         "2:13 error require-lock-timeout\n2:34 error add-check-not-valid"},
        {"add-check-not-valid safe",
         LOCK "ALTER TABLE billing.invoices ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\n",
         ""},
        {"add-check-not-valid suppressed",
         LOCK "-- modmig:nolint add-check-not-valid few rows, checked in staging\n"
              "ALTER TABLE billing.invoices ADD CONSTRAINT positive CHECK (total > 0);\n",
         ""},
        {"set-not-null fires",
         UP "ALTER TABLE billing.invoices ALTER COLUMN due_at SET NOT NULL;\n",
         "2:13 error require-lock-timeout\n2:13 error set-not-null"},
        {"set-not-null safe: a table of the same file",
         UP "CREATE TABLE billing.t (due_at date);\n"
            "ALTER TABLE billing.t ALTER COLUMN due_at SET NOT NULL;\n",
         ""},
        {"set-not-null suppressed",
         LOCK "-- modmig:nolint set-not-null a validated check proves it, no scan\n"
              "ALTER TABLE billing.invoices ALTER COLUMN due_at SET NOT NULL;\n",
         ""},
        {"add-unique-constraint fires",
         UP "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_number UNIQUE (number);\n",
         "2:13 error require-lock-timeout\n2:34 error add-unique-constraint"},
        {"add-unique-constraint: a primary key",
         LOCK "ALTER TABLE billing.invoices ADD PRIMARY KEY (id);\n",
         "3:34 error add-unique-constraint"},
        {"add-unique-constraint safe",
         LOCK "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_number UNIQUE\n"
              "    USING INDEX invoices_number_idx;\n",
         ""},
        {"add-unique-constraint suppressed",
         LOCK "-- modmig:nolint add-unique-constraint the table has ten rows\n"
              "ALTER TABLE billing.invoices ADD CONSTRAINT invoices_number UNIQUE (number);\n",
         ""},
        {"change-column-type fires",
         UP "ALTER TABLE billing.invoices ALTER COLUMN total TYPE numeric;\n",
         "2:13 error change-column-type\n2:13 error require-lock-timeout"},
        {"change-column-type safe",
         UP "CREATE TABLE billing.t (total int);\n"
            "ALTER TABLE billing.t ALTER COLUMN total TYPE numeric;\n",
         ""},
        {"change-column-type suppressed",
         LOCK "-- modmig:nolint change-column-type varchar to text needs no rewrite\n"
              "ALTER TABLE billing.invoices ALTER COLUMN note TYPE text;\n",
         ""},
        {"volatile-default fires",
         LOCK "ALTER TABLE billing.invoices ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
         "3:41 error volatile-default"},
        {"volatile-default: a stored generated column",
         LOCK "ALTER TABLE billing.invoices ADD COLUMN cents bigint\n"
              "    GENERATED ALWAYS AS (total * 100) STORED;\n",
         "3:41 error volatile-default"},
        {"volatile-default: a serial", LOCK "ALTER TABLE billing.invoices ADD COLUMN n serial;\n",
         "3:41 error volatile-default"},
        {"volatile-default safe: a stable default",
         LOCK "ALTER TABLE billing.invoices ADD COLUMN created_at timestamptz DEFAULT now();\n",
         ""},
        {"volatile-default suppressed",
         LOCK "-- modmig:nolint volatile-default invoices has a few hundred rows\n"
              "ALTER TABLE billing.invoices ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
         ""},
        {"require-lock-timeout fires once per file",
         UP "ALTER TABLE billing.invoices ADD COLUMN note text;\n"
            "ALTER TABLE billing.invoices ADD COLUMN memo text;\n",
         "2:13 error require-lock-timeout"},
        {"require-lock-timeout: LOCK TABLE", UP "LOCK TABLE billing.invoices;\n",
         "2:12 error require-lock-timeout"},
        {"require-lock-timeout safe: SET lock_timeout",
         UP "SET lock_timeout = '5s';\nALTER TABLE billing.invoices ADD COLUMN note text;\n", ""},
        {"require-lock-timeout safe: header",
         LOCK "ALTER TABLE billing.invoices ADD COLUMN note text;\n", ""},
        {"require-lock-timeout safe: a weaker lock",
         UP "ALTER TABLE billing.invoices VALIDATE CONSTRAINT positive;\n", ""},
        {"require-lock-timeout suppressed",
         UP "-- modmig:nolint require-lock-timeout runs in the maintenance window\n"
            "ALTER TABLE billing.invoices ADD COLUMN note text;\n",
         ""},
};

static void test_lock_rules(void **state)
{
	(void)state;
	RUN(manifest_default, lock_cases);
}

/* ---- destructive ---------------------------------------------------------- */

static const lint_case destructive_cases[] = {
        {"drop-table fires", LOCK "DROP TABLE billing.old_invoices;\n", "3:1 error drop-table"},
        {"drop-table and its lock", UP "DROP TABLE billing.old_invoices;\n",
         "2:1 error drop-table\n2:1 error require-lock-timeout"},
        {"drop-table safe: Down",
         UP "CREATE TABLE billing.t (id bigint);\n-- +goose Down\n"
            "DROP TABLE billing.t;\n",
         ""},
        {"drop-table safe: created above",
         UP "CREATE TABLE billing.t (id bigint);\nDROP TABLE billing.t;\n", ""},
        {"drop-table suppressed",
         LOCK "-- modmig:nolint drop-table unused since release 4.2\n"
              "DROP TABLE billing.old_invoices;\n",
         ""},
        {"drop-column fires", LOCK "ALTER TABLE billing.invoices DROP COLUMN note;\n",
         "3:13 error drop-column"},
        {"drop-column safe",
         UP "CREATE TABLE billing.t (id bigint, note text);\n"
            "ALTER TABLE billing.t DROP COLUMN note;\n",
         ""},
        {"drop-column suppressed",
         LOCK "-- modmig:nolint drop-column nothing reads it since 4.2\n"
              "ALTER TABLE billing.invoices DROP COLUMN note;\n",
         ""},
        {"rename-table fires", LOCK "ALTER TABLE billing.invoices RENAME TO bills;\n",
         "3:13 error rename-table"},
        {"rename-table safe",
         UP "CREATE TABLE billing.t (id bigint);\nALTER TABLE billing.t RENAME TO u;\n", ""},
        {"rename-table suppressed",
         LOCK "-- modmig:nolint rename-table a view keeps the old name\n"
              "ALTER TABLE billing.invoices RENAME TO bills;\n",
         ""},
        {"rename-column fires", LOCK "ALTER TABLE billing.invoices RENAME COLUMN note TO memo;\n",
         "3:13 error rename-column"},
        {"rename-column safe",
         UP
         "CREATE TABLE billing.t (note text);\nALTER TABLE billing.t RENAME COLUMN note TO memo;\n",
         ""},
        {"rename-column suppressed",
         LOCK "-- modmig:nolint rename-column no code reads it yet\n"
              "ALTER TABLE billing.invoices RENAME COLUMN note TO memo;\n",
         ""},
        {"truncate fires", UP "TRUNCATE billing.invoices;\n",
         "2:10 error require-lock-timeout\n2:10 error truncate"},
        {"truncate safe", UP "CREATE TABLE billing.t (id bigint);\nTRUNCATE billing.t;\n", ""},
        {"truncate suppressed",
         LOCK "-- modmig:nolint truncate a cache, rebuilt on start\nTRUNCATE billing.invoices;\n",
         ""},
};

static void test_destructive_rules(void **state)
{
	(void)state;
	RUN(manifest_default, destructive_cases);
}

/* ---- types (off by default) ----------------------------------------------- */

static const lint_case type_cases[] = {
        {"prefer-bigint fires", UP "CREATE TABLE billing.t (id integer);\n",
         "2:28 warning prefer-bigint"},
        {"prefer-bigint safe", UP "CREATE TABLE billing.t (id bigint);\n", ""},
        {"prefer-bigint suppressed",
         UP "-- modmig:nolint prefer-bigint a lookup table of ten rows\n"
            "CREATE TABLE billing.t (id integer);\n",
         ""},
        {"prefer-identity fires", UP "CREATE TABLE billing.t (id bigserial);\n",
         "2:28 warning prefer-identity"},
        {"prefer-identity safe",
         UP "CREATE TABLE billing.t (id bigint GENERATED ALWAYS AS IDENTITY);\n", ""},
        {"prefer-identity suppressed",
         UP "-- modmig:nolint prefer-identity,prefer-bigint matches the legacy schema\n"
            "CREATE TABLE billing.t (id serial);\n",
         ""},
        {"prefer-text fires", UP "CREATE TABLE billing.t (name varchar(80));\n",
         "2:30 warning prefer-text"},
        {"prefer-text on ADD COLUMN", LOCK "ALTER TABLE billing.t ADD COLUMN code char(3);\n",
         "3:39 warning prefer-text"},
        {"prefer-text safe", UP "CREATE TABLE billing.t (name text CHECK (length(name) <= 80));\n",
         ""},
        {"prefer-text suppressed",
         UP "-- modmig:nolint prefer-text iso codes are exactly three letters\n"
            "CREATE TABLE billing.t (code char(3));\n",
         ""},
        {"prefer-timestamptz fires", UP "CREATE TABLE billing.t (at timestamp);\n",
         "2:28 warning prefer-timestamptz"},
        {"prefer-timestamptz safe", UP "CREATE TABLE billing.t (at timestamptz);\n", ""},
        {"prefer-timestamptz suppressed",
         UP "-- modmig:nolint prefer-timestamptz local wall-clock times, on purpose\n"
            "CREATE TABLE billing.t (at timestamp);\n",
         ""},
};

static void test_type_rules(void **state)
{
	(void)state;
	RUN(manifest_types, type_cases);
	/* off by default */
	int st = 0;
	char *got = lint_text(manifest_default, FILE_PATH,
	                      UP "CREATE TABLE billing.t (id serial, at timestamp);\n", &st);

	assert_string_equal(got, "");
	free(got);
}

/* ---- parser and suppressions ---------------------------------------------- */

static const lint_case parser_cases[] = {
        {"unparsed-statement fires",
         UP "CREATE TABLE billing.t (id int, CONSTRAINT c CHECK (id > 0) NOT ENFORCED);\n"
            "CREATE TABLE billing.u (id bigint);\n",
         "2:1 warning unparsed-statement"},
        {"unparsed-statement safe",
         UP "CREATE TABLE billing.t (id int, CONSTRAINT c CHECK (id > 0));\n", ""},
        {"unparsed-statement suppressed",
         UP "-- modmig:nolint unparsed-statement PostgreSQL 18 syntax, we run 18\n"
            "CREATE TABLE billing.t (id int, CONSTRAINT c CHECK (id > 0) NOT ENFORCED);\n",
         ""},
        {"bad-suppression: no reason", UP "-- modmig:nolint drop-table\nDROP TABLE billing.old;\n",
         "2:1 error bad-suppression\n3:1 error require-lock-timeout"},
        {"bad-suppression: unknown rule",
         LOCK "-- modmig:nolint drop-tabel unused since 4.2\nDROP TABLE billing.old;\n",
         "3:1 error bad-suppression\n4:1 error drop-table"},
        {"bad-suppression safe",
         LOCK "-- modmig:nolint drop-table unused since 4.2\n"
              "DROP TABLE billing.old;\n",
         ""},
        {"bad-suppression suppressed for the file",
         "-- modmig:nolint bad-suppression the team's generator writes bare markers\n" LOCK
         "  -- modmig:nolint drop-table\nDROP TABLE billing.old;\n",
         ""},
        {"file-wide suppression",
         "-- modmig:nolint drop-table,require-lock-timeout archive tables, unused since 3.0\n" UP
         "DROP TABLE billing.a;\nDROP TABLE billing.b;\n",
         ""},
        {"suppression above other comment lines",
         LOCK "-- modmig:nolint drop-table unused since 4.2\n-- (see the ticket)\n"
              "DROP TABLE billing.old;\n",
         ""},
        {"suppression does not reach past SQL",
         LOCK "-- modmig:nolint drop-table unused since 4.2\nSELECT 1;\nDROP TABLE billing.old;\n",
         "5:1 error drop-table"},
        {"positions of statements sharing a line", LOCK "SELECT 1; DROP TABLE billing.old;\n",
         "3:11 error drop-table"},
};

static void test_parser_and_suppressions(void **state)
{
	(void)state;
	RUN(manifest_default, parser_cases);
}

/* ---- configuration -------------------------------------------------------- */

static void test_config_severities(void **state)
{
	static const char manifest[] = "lint:\n"
	                               "  drop-table: warning\n"
	                               "  require-lock-timeout: off\n"
	                               "  prefer-bigint: error\n" MODULES;
	int st = 0;
	char *got;

	(void)state;
	got = lint_text(manifest, FILE_PATH, UP "DROP TABLE billing.old;\n", &st);
	assert_string_equal(got, "2:1 warning drop-table");
	assert_int_equal(st, MODMIG_OK); /* a warning only: exit 0 */
	free(got);
	got = lint_text(manifest, FILE_PATH, UP "CREATE TABLE billing.t (id int);\n", &st);
	assert_string_equal(got, "2:28 error prefer-bigint");
	assert_int_equal(st, MODMIG_E_CHECK);
	free(got);
}

static void expect_manifest_error(const char *manifest, int line, int column, const char *message)
{
	modmig_embedded_file files[1] = {
	        {"modules.yaml", (const unsigned char *)manifest, strlen(manifest), ""},
	};
	modmig_source *src = NULL;
	modmig_error *err = NULL;

	assert_int_equal(modmig_source_new_embedded(files, 1, &src, &err), MODMIG_E_MANIFEST);
	assert_string_equal(modmig_error_message(err), message);
	assert_int_equal(modmig_error_line(err), line);
	assert_int_equal(modmig_error_column(err), column);
	assert_non_null(modmig_error_hint(err));
	modmig_error_free(err);
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_manifest_error("lint:\n  drop-tabel: off\n" MODULES, 2, 3,
	                      "unknown lint rule 'drop-tabel'");
	expect_manifest_error("lint:\n  drop-table: fatal\n" MODULES, 2, 15,
	                      "a lint rule's severity must be error, warning or off");
	expect_manifest_error("lint:\n  drop-table: off\n  drop-table: error\n" MODULES, 3, 3,
	                      "duplicate lint rule 'drop-table'");
	expect_manifest_error("lint: [drop-table]\n" MODULES, 1, 7,
	                      "lint must be a mapping of rule names to severities, not a list");
	expect_manifest_error("lint:\n  drop-table: [off]\n" MODULES, 2, 15,
	                      "drop-table must be a string, not a list");
}

/* ---- the example ---------------------------------------------------- */

static void test_billing_example(void **state)
{
	/* billing does not depend on identity here */
	static const char manifest[] = "modules:\n"
	                               "  - name: db\n"
	                               "  - name: identity\n"
	                               "    schema: identity\n"
	                               "  - name: billing\n"
	                               "    schema: billing\n"
	                               "    depends_on: [db]\n";
	static const char sql[] = "-- +goose Up\n"
	                          "CREATE TABLE billing.billing_accounts (\n"
	                          "    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	                          "    person_id bigint NOT NULL REFERENCES identity.persons (id)\n"
	                          ");\n"
	                          "CREATE TABLE credits (\n"
	                          "    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	                          "    amount bigint NOT NULL\n"
	                          ");\n"
	                          "\n"
	                          "-- +goose Down\n"
	                          "DROP TABLE credits;\n"
	                          "DROP TABLE billing.billing_accounts;\n";
	int st = 0;
	char *got;

	(void)state;
	got = lint_text(manifest, "billing/migrations/03001_billing_init.sql", sql, &st);
	assert_string_equal(got, "2:14 error table-repeats-schema\n"
	                         "4:42 error undeclared-dependency\n"
	                         "6:14 error require-schema");
	assert_int_equal(st, MODMIG_E_CHECK);
	free(got);
}

static void test_rules_table(void **state)
{
	size_t n = 0;

	(void)state;
	for (; modmig_lint_rule_at(n); n++) {
		const modmig_lint_rule *r = modmig_lint_rule_at(n);

		assert_int_equal((size_t)r->id, n);
		assert_ptr_equal(modmig_lint_rule_find(r->name), r);
		assert_non_null(r->summary);
	}
	assert_int_equal(n, MODMIG_LINT_RULE_COUNT);
	assert_null(modmig_lint_rule_find("no-such-rule"));
	assert_string_equal(modmig_finding_kind_name(MODMIG_FINDING_LINT), "lint");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_module_rules),
	        cmocka_unit_test(test_transaction_control_is_a_parse_error),
	        cmocka_unit_test(test_lock_rules),
	        cmocka_unit_test(test_destructive_rules),
	        cmocka_unit_test(test_type_rules),
	        cmocka_unit_test(test_parser_and_suppressions),
	        cmocka_unit_test(test_config_severities),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_billing_example),
	        cmocka_unit_test(test_rules_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
