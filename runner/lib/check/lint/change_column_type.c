/*
 * change_column_type.c - rule change-column-type: ALTER COLUMN ... TYPE on an
 * existing table rewrites it and its indexes under an ACCESS EXCLUSIVE lock
 * (but for the few binary-compatible changes), and breaks code that reads the
 * old type.
 */
#include "check/lint/lint.h"

void mm_lint_change_column_type(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);

		if (!cmd || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType)
			continue;
		mm_lint_report(
		        c, a->relation->location,
		        "add a column of the new type, backfill it in batches, move readers "
		        "and writers over, then drop the old column",
		        "changing the type of column %s rewrites %s and its indexes under an "
		        "ACCESS EXCLUSIVE lock",
		        cmd->name, mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
