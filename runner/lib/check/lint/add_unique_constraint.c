/*
 * add_unique_constraint.c - rule add-unique-constraint: ADD UNIQUE or ADD
 * PRIMARY KEY on an existing table builds its index under an ACCESS EXCLUSIVE
 * lock. Build the unique index CONCURRENTLY first, then attach it with
 * ADD CONSTRAINT ... USING INDEX, which is instant.
 */
#include "check/lint/lint.h"

void mm_lint_add_unique_constraint(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);
		const PgQuery__Constraint *k = cmd ? mm_lint_constraint(cmd->def) : NULL;

		if (!k || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint ||
		    (k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE &&
		     k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) ||
		    *k->indexname)
			continue;
		mm_lint_report(
		        c, k->location,
		        "CREATE UNIQUE INDEX CONCURRENTLY in a NO TRANSACTION migration, then "
		        "ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX index_name",
		        "adding a %s constraint builds its index on %s under an ACCESS "
		        "EXCLUSIVE lock",
		        k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE ? "UNIQUE"
		                                                           : "PRIMARY KEY",
		        mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
