/*
 * check/lint/lint.h - the lint engine and its rules (modmig lint). Uses the
 * check layer's findings, and below it only source (parsed migrations and the
 * manifest) and sql (parse trees): lint never touches a database.
 *
 * The engine (engine.c) parses each unit of each migration with PostgreSQL's
 * grammar and calls every enabled rule once per file (stmt NULL) and then
 * once per statement, in file order. A rule is one row of MODMIG_LINT_RULES
 * in include/modmig.h and one file here defining mm_lint_<walker>(). It reads
 * what it needs from the context and reports through mm_lint_report(); the
 * engine applies severities, the manifest's lint: section and suppressions.
 */
#ifndef MODMIG_CHECK_LINT_H
#define MODMIG_CHECK_LINT_H

#include "check/check.h"
#include "sql/sql.h"

/* One `-- modmig:nolint RULE[,RULE] reason` comment (nolint.c). */
typedef struct mm_lint_nolint {
	int line;
	int column;
	uint64_t rules;   /* one bit per rule number it names */
	bool file_wide;   /* above -- +goose Up: the whole file */
	bool has_reason;  /* text follows the rule list */
	char unknown[64]; /* the first name that is no rule, "" when none */
} mm_lint_nolint;

typedef struct mm_lint_nolints {
	mm_lint_nolint *items;
	size_t count;
	uint64_t file_wide; /* the rules suppressed for the whole file */
} mm_lint_nolints;

/* Find the suppression comments of a migration file's bytes. */
modmig_status mm_lint_nolints_read(const char *text, size_t len, mm_lint_nolints *out);
void mm_lint_nolints_clear(mm_lint_nolints *n);
/* The rules suppressed for a statement whose first line is line. */
uint64_t mm_lint_nolints_above(const mm_lint_nolints *n, const char *text, size_t len, int line);

/* What a rule knows of the file it is in. */
typedef struct mm_lint_file {
	const modmig_source *src;
	const modmig_migration *m;
	const modmig_module *module; /* NULL in --dir mode */
	bool transactional;          /* not NO TRANSACTION */
	bool lock_timeout;           /* a header, the configuration or a SET so far */
	bool lock_reported;          /* require-lock-timeout has spoken for this file */
	mm_sql_names created;        /* objects earlier Up statements created */
	size_t created_cap;
	mm_lint_nolints nolints;
	char **said; /* "rule:key" of what mm_lint_once() let through */
	size_t said_count;
} mm_lint_file;

/* One statement, as rules see it. */
typedef struct mm_lint_stmt {
	const PgQuery__Node *node; /* NULL when the grammar refused the unit */
	mm_sql_kind kind;
	const char *parse_error; /* the grammar's message when node is NULL */
	const mm_unit *unit;     /* locations in node are offsets into unit->sql */
	size_t offset;           /* its first token in unit->sql */
	int line;                /* ... in the file */
	int column;
	modmig_direction dir;
	bool in_block; /* runs inside a transaction block (the file's, or a multi-statement unit) */
	bool first;    /* the first statement of its section */
	bool last;     /* the last statement of its section */
	uint64_t nolint; /* rules the comments right above it suppress */
} mm_lint_stmt;

typedef struct mm_lint_ctx {
	mm_lint_file *file;
	const mm_lint_stmt *stmt; /* NULL for the call once per file */
	modmig_lint_rule_id rule;
	/* the engine's */
	modmig_findings *findings;
	const unsigned char *levels; /* the manifest's mm_lint_level per rule */
	size_t errors;
} mm_lint_ctx;

typedef void (*mm_lint_fn)(mm_lint_ctx *c);

#define MODMIG_X_(id, number, text, sev, on, fn, doc) void mm_lint_##fn(mm_lint_ctx *c);
MODMIG_LINT_RULES(MODMIG_X_)
#undef MODMIG_X_

/*
 * Report a finding of the current rule at location (a byte offset into the
 * statement's unit, as parse trees give it; -1 for the statement's start).
 * hint says how to do it safely (may be NULL).
 */
void mm_lint_report(mm_lint_ctx *c, int location, const char *hint, const char *fmt, ...)
        MM_PRINTF(4, 5);
/* The same at an explicit place; weak caps the severity at warning. */
void mm_lint_report_at(mm_lint_ctx *c, int line, int column, bool weak, const char *hint,
                       const char *fmt, ...) MM_PRINTF(6, 7);

/*
 * True the first time the current rule asks about key in this file: for rules
 * that name a thing once per file (an unqualified table, a module), however
 * many statements repeat it.
 */
bool mm_lint_once(mm_lint_ctx *c, const char *key);

/* ---- what rules share (shared.c) ----------------------------------------- */

/* Up statements only, on a parsed statement: the rules about existing tables. */
bool mm_lint_up(const mm_lint_ctx *c);
/* Whether an earlier Up statement of the file created schema.name (schema may be NULL). */
bool mm_lint_created(const mm_lint_file *f, const char *schema, const char *name);
/* A table that existed before this file: not created by an earlier statement of it. */
bool mm_lint_existing(const mm_lint_ctx *c, const PgQuery__RangeVar *rv);
/* The module whose schema is schema, or NULL. */
const modmig_module *mm_lint_owner(const modmig_source *src, const char *schema);
/* Whether module a depends on b, directly or through other modules. */
bool mm_lint_depends(const modmig_source *src, const modmig_module *a, const modmig_module *b);

/* An object a statement creates, alters or drops. */
typedef struct mm_lint_target {
	const char *schema; /* NULL when unqualified */
	const char *name;
	const char *what;   /* "table", "index", "function", ... */
	const char *action; /* "created", "altered", "dropped", "renamed" */
	int location;       /* in the unit, -1 when PostgreSQL keeps none */
} mm_lint_target;

typedef struct mm_lint_targets {
	mm_lint_target *items;
	size_t count;
	size_t cap;
} mm_lint_targets;

/* The objects stmt creates, alters or drops (indexes and triggers carry their table's schema). */
modmig_status mm_lint_targets_of(const PgQuery__Node *stmt, mm_lint_targets *out);
void mm_lint_targets_clear(mm_lint_targets *t);

/* "schema.name" or "name" into buf. */
const char *mm_lint_qualified(char *buf, size_t size, const char *schema, const char *name);
/* An Up ALTER TABLE of a table that existed before the file, else NULL. */
const PgQuery__AlterTableStmt *mm_lint_alter_existing(const mm_lint_ctx *c);
/* Its command i, or NULL. */
const PgQuery__AlterTableCmd *mm_lint_cmd(const PgQuery__AlterTableStmt *a, size_t i);
/* n as a Constraint, or NULL. */
const PgQuery__Constraint *mm_lint_constraint(const PgQuery__Node *n);
/* "schema.table" or "table" of a RangeVar into buf. */
const char *mm_lint_rv_name(char *buf, size_t size, const PgQuery__RangeVar *rv);
/* fn for each column an Up CREATE TABLE defines or an ALTER TABLE adds or retypes. */
void mm_lint_each_column(mm_lint_ctx *c, void (*fn)(mm_lint_ctx *c, const PgQuery__ColumnDef *col));
/* The last name of a TypeName ("int4" for pg_catalog.int4), or "". */
const char *mm_lint_type_name(const PgQuery__TypeName *t);
/* A string node's text, or NULL. */
const char *mm_lint_str(const PgQuery__Node *n);

#endif /* MODMIG_CHECK_LINT_H */
