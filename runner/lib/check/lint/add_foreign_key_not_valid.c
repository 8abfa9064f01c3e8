/*
 * add_foreign_key_not_valid.c - rule add-foreign-key-not-valid: adding a
 * foreign key to an existing table checks every row while it holds a SHARE
 * ROW EXCLUSIVE lock on both tables (no writes). NOT VALID adds it at once;
 * VALIDATE CONSTRAINT later checks the rows under a lock that lets writes go on.
 * A column added with REFERENCES is checked the same way (every row, though
 * its values are all NULL), and a column constraint cannot be NOT VALID: add
 * the column, then the constraint.
 */
#include "check/lint/lint.h"

static void added_column(mm_lint_ctx *c, const PgQuery__AlterTableStmt *a,
                         const PgQuery__AlterTableCmd *cmd)
{
	const PgQuery__ColumnDef *col;
	char name[256];
	size_t k;

	if (!cmd->def || cmd->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
		return;
	col = cmd->def->column_def;
	for (k = 0; k < col->n_constraints; k++) {
		const PgQuery__Constraint *x = mm_lint_constraint(col->constraints[k]);

		if (!x || x->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
			continue;
		mm_lint_report(
		        c, x->location,
		        "add the column without REFERENCES, then ADD CONSTRAINT ... FOREIGN "
		        "KEY ... NOT VALID, and VALIDATE CONSTRAINT in a later migration",
		        "adding column %s with REFERENCES checks every row of %s while writes "
		        "to both tables wait",
		        col->colname, mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}

void mm_lint_add_foreign_key_not_valid(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);
		const PgQuery__Constraint *k = cmd ? mm_lint_constraint(cmd->def) : NULL;

		if (cmd && cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn)
			added_column(c, a, cmd);

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
