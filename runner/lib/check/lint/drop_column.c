/*
 * drop_column.c - rule drop-column: a column of an existing table is dropped.
 * The release still running reads and writes it until the new one is
 * deployed, so this breaks it, and the data is gone.
 */
#include "check/lint/lint.h"

void mm_lint_drop_column(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);

		if (!cmd || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn)
			continue;
		mm_lint_report(c, a->relation->location,
		               "ship a release that no longer reads or writes the column first, "
		               "then suppress with '-- modmig:nolint drop-column <why>'",
		               "column %s of %s is dropped: its data is gone, and the running "
		               "release may still use it",
		               cmd->name, mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
