/*
 * rename_column.c - rule rename-column: a column of an existing table is
 * renamed, which breaks the running release's queries that use the old name.
 */
#include "check/lint/lint.h"

void mm_lint_rename_column(mm_lint_ctx *c)
{
	const PgQuery__RenameStmt *r;
	char name[256];

	if (!mm_lint_up(c) || c->stmt->node->node_case != PG_QUERY__NODE__NODE_RENAME_STMT)
		return;
	r = c->stmt->node->rename_stmt;
	if (r->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ||
	    r->relation_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    !mm_lint_existing(c, r->relation))
		return;
	mm_lint_report(c, r->relation->location,
	               "add the new column, write both, backfill, move reads over, then drop the "
	               "old column in a later release",
	               "column %s of %s is renamed to %s: code using the old name breaks",
	               r->subname, mm_lint_rv_name(name, sizeof(name), r->relation), r->newname);
}
