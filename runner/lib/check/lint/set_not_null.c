/*
 * set_not_null.c - rule set-not-null: ALTER COLUMN ... SET NOT NULL on an
 * existing table scans every row under an ACCESS EXCLUSIVE lock. Since
 * PostgreSQL 12 it skips the scan when a validated CHECK (col IS NOT NULL)
 * already proves it, and that check can be added NOT VALID and validated
 * under a lighter lock.
 */
#include "check/lint/lint.h"

#include <stdio.h>

void mm_lint_set_not_null(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	char hint[512];
	size_t i;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);

		if (!cmd || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull)
			continue;
		snprintf(hint, sizeof(hint),
		         "add CHECK (%s IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a later "
		         "migration, then SET NOT NULL (no scan) and drop the check",
		         cmd->name);
		mm_lint_report(c, a->relation->location, hint,
		               "SET NOT NULL on column %s scans every row of %s under an ACCESS "
		               "EXCLUSIVE lock",
		               cmd->name, mm_lint_rv_name(name, sizeof(name), a->relation));
	}
}
