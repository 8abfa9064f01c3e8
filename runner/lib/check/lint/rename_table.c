/*
 * rename_table.c - rule rename-table: an existing table is renamed. The
 * release still running uses the old name and fails until the new one is
 * deployed.
 */
#include "check/lint/lint.h"

void mm_lint_rename_table(mm_lint_ctx *c)
{
	const PgQuery__RenameStmt *r;
	char name[256];

	if (!mm_lint_up(c) || c->stmt->node->node_case != PG_QUERY__NODE__NODE_RENAME_STMT)
		return;
	r = c->stmt->node->rename_stmt;
	if (r->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    !mm_lint_existing(c, r->relation))
		return;
	mm_lint_report(c, r->relation->location,
	               "create the new table (or a view under the new name), move the code over, "
	               "and drop the old name in a later release",
	               "table %s is renamed to %s: code using the old name breaks",
	               mm_lint_rv_name(name, sizeof(name), r->relation), r->newname);
}
