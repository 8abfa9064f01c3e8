/*
 * require_concurrent_index.c - rule require-concurrent-index: CREATE INDEX
 * without CONCURRENTLY holds a SHARE lock on an existing table (no writes)
 * for the whole build; DROP INDEX without it takes an ACCESS EXCLUSIVE lock
 * on the index's table. Tables and indexes the same file created are empty
 * and new, so they are left alone.
 */
#include "check/lint/lint.h"

#include <stdio.h>

#define HINT_CREATE                                                                                \
	"use CREATE INDEX CONCURRENTLY in a migration of its own marked '-- +goose NO "            \
	"TRANSACTION'"
#define HINT_DROP                                                                                  \
	"use DROP INDEX CONCURRENTLY in a migration of its own marked '-- +goose NO TRANSACTION'"

void mm_lint_require_concurrent_index(mm_lint_ctx *c)
{
	const PgQuery__Node *n;
	char name[256];
	size_t i;

	if (!mm_lint_up(c))
		return;
	n = c->stmt->node;
	if (n->node_case == PG_QUERY__NODE__NODE_INDEX_STMT) {
		const PgQuery__IndexStmt *ix = n->index_stmt;

		if (ix->concurrent || !mm_lint_existing(c, ix->relation))
			return;
		mm_lint_report(c, ix->relation->location, HINT_CREATE,
		               "CREATE INDEX without CONCURRENTLY blocks writes to %s while the "
		               "index builds",
		               mm_lint_rv_name(name, sizeof(name), ix->relation));
		return;
	}
	if (n->node_case != PG_QUERY__NODE__NODE_DROP_STMT ||
	    n->drop_stmt->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_INDEX ||
	    n->drop_stmt->concurrent)
		return;
	for (i = 0; i < n->drop_stmt->n_objects; i++) {
		const PgQuery__Node *o = n->drop_stmt->objects[i];
		const PgQuery__List *l;

		if (!o || o->node_case != PG_QUERY__NODE__NODE_LIST)
			continue;
		l = o->list;
		if (l->n_items == 0 || !mm_lint_str(l->items[l->n_items - 1]))
			continue;
		if (mm_lint_created(c->file,
		                    l->n_items > 1 ? mm_lint_str(l->items[l->n_items - 2]) : NULL,
		                    mm_lint_str(l->items[l->n_items - 1])))
			continue;
		mm_lint_report(c, -1, HINT_DROP,
		               "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on "
		               "the table of %s",
		               mm_lint_str(l->items[l->n_items - 1]));
	}
}
