/*
 * drop_table.c - rule drop-table: an existing table is dropped. Its data is
 * gone for good, and a running release that still reads it fails. Dropping
 * a table the same file created (and rolling back in Down) is left alone.
 */
#include "check/lint/lint.h"

#include <stdio.h>

void mm_lint_drop_table(mm_lint_ctx *c)
{
	const PgQuery__DropStmt *d;
	char name[256];
	size_t i;

	if (!mm_lint_up(c) || c->stmt->node->node_case != PG_QUERY__NODE__NODE_DROP_STMT)
		return;
	d = c->stmt->node->drop_stmt;
	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		return;
	for (i = 0; i < d->n_objects; i++) {
		const PgQuery__Node *o = d->objects[i];
		const char *schema;
		const char *table;

		if (!o || o->node_case != PG_QUERY__NODE__NODE_LIST || o->list->n_items == 0)
			continue;
		table = mm_lint_str(o->list->items[o->list->n_items - 1]);
		schema = o->list->n_items > 1 ? mm_lint_str(o->list->items[o->list->n_items - 2])
		                              : NULL;
		if (!table || mm_lint_created(c->file, schema, table))
			continue;
		mm_lint_report(c, -1,
		               "ship a release that no longer uses the table first, keep a backup, "
		               "then suppress with '-- modmig:nolint drop-table <why>'",
		               "table %s is dropped: its data is gone, and code still using it "
		               "breaks",
		               mm_lint_qualified(name, sizeof(name), schema, table));
	}
}
