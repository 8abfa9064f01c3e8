/*
 * truncate.c - rule truncate: an existing table is emptied, under an ACCESS
 * EXCLUSIVE lock, and the rows are gone for good.
 */
#include "check/lint/lint.h"

void mm_lint_truncate(mm_lint_ctx *c)
{
	const PgQuery__TruncateStmt *t;
	char name[256];
	size_t i;

	if (!mm_lint_up(c) || c->stmt->node->node_case != PG_QUERY__NODE__NODE_TRUNCATE_STMT)
		return;
	t = c->stmt->node->truncate_stmt;
	for (i = 0; i < t->n_relations; i++) {
		const PgQuery__Node *r = t->relations[i];

		if (!r || r->node_case != PG_QUERY__NODE__NODE_RANGE_VAR ||
		    !mm_lint_existing(c, r->range_var))
			continue;
		mm_lint_report(c, r->range_var->location,
		               "delete what must go with DELETE in batches, or suppress with "
		               "'-- modmig:nolint truncate <why>'",
		               "table %s is truncated: every row is gone",
		               mm_lint_rv_name(name, sizeof(name), r->range_var));
	}
}
