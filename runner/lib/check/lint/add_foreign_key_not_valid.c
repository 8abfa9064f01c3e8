/*
 * add_foreign_key_not_valid.c - rule add-foreign-key-not-valid: adding a
 * foreign key to an existing table checks every row while it holds a SHARE
 * ROW EXCLUSIVE lock on both tables (no writes). NOT VALID adds it at once;
 * VALIDATE CONSTRAINT later checks the rows under a lock that lets writes go on.
 */
#include "check/lint/lint.h"

void mm_lint_add_foreign_key_not_valid(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);
		const PgQuery__Constraint *k = cmd ? mm_lint_constraint(cmd->def) : NULL;

		if (!k || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint ||
		    k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN || k->skip_validation)
			continue;
		mm_lint_report(
		        c, k->location,
		        "add it with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT "
		        "in a later migration",
		        "adding foreign key %s checks every row of %s while writes to both "
		        "tables wait",
		        *k->conname ? k->conname : "(unnamed)",
		        mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
