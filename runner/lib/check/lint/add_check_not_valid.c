/*
 * add_check_not_valid.c - rule add-check-not-valid: adding a CHECK constraint
 * to an existing table scans every row under an ACCESS EXCLUSIVE lock. NOT
 * VALID adds it at once (new rows are checked); VALIDATE CONSTRAINT later
 * scans under a SHARE UPDATE EXCLUSIVE lock, which reads and writes pass.
 */
#include "check/lint/lint.h"

void mm_lint_add_check_not_valid(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);
		const PgQuery__Constraint *k = cmd ? mm_lint_constraint(cmd->def) : NULL;

		if (!k || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint ||
		    k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK || k->skip_validation)
			continue;
		mm_lint_report(
		        c, k->location,
		        "add it with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT "
		        "in a later migration",
		        "adding check constraint %s scans every row of %s under an ACCESS "
		        "EXCLUSIVE lock",
		        *k->conname ? k->conname : "(unnamed)",
		        mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
