/*
 * require_lock_timeout.c - rule require-lock-timeout: a statement that takes
 * an ACCESS EXCLUSIVE lock on an existing table, in a file without a
 * lock_timeout. Behind one long-running query, the waiting ALTER queues every
 * later reader and writer of the table: an outage with no error. A
 * lock_timeout makes the migration fail fast instead. It may come from the
 * file's header (-- modmig lock_timeout=5s), from SET lock_timeout earlier in
 * the file, or from the configuration (modmig --lock-timeout). Said once per
 * file, at the first such statement.
 */
#include "check/lint/lint.h"

#include <string.h>

/* ALTER TABLE commands that take less than ACCESS EXCLUSIVE (PostgreSQL's tablecmds.c). */
static bool weaker(const PgQuery__AlterTableCmd *cmd)
{
	const PgQuery__Constraint *k = mm_lint_constraint(cmd->def);

	switch (cmd->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetRelOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetRelOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ClusterOn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropCluster:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrig:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrig:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrigAll:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrigAll:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrigUser:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrigUser:
		return true;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		return k && k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN;
	default:
		return false;
	}
}

/* The first RangeVar of a list of Nodes that existed before the file. */
static const PgQuery__RangeVar *first_existing(const mm_lint_ctx *c, size_t n,
                                               PgQuery__Node *const *items)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i] && items[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR &&
		    mm_lint_existing(c, items[i]->range_var))
			return items[i]->range_var;
	return NULL;
}

/*
 * Whether stmt locks an existing table ACCESS EXCLUSIVE: *what names the
 * statement, name the table and *location where it is named (-1: a DROP,
 * whose names carry no location).
 */
static bool locks_table(const mm_lint_ctx *c, const char **what, char *name, size_t size,
                        int *location)
{
	const PgQuery__Node *n = c->stmt->node;
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	const PgQuery__RangeVar *rv = NULL;
	size_t i;

	if (a) {
		*what = "ALTER TABLE";
		for (i = 0; i < a->n_cmds && !rv; i++)
			if (mm_lint_cmd(a, i) && !weaker(mm_lint_cmd(a, i)))
				rv = a->relation;
	} else if (n->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	           mm_lint_existing(c, n->rename_stmt->relation)) {
		*what = "a rename";
		rv = n->rename_stmt->relation;
	} else if (n->node_case == PG_QUERY__NODE__NODE_TRUNCATE_STMT) {
		*what = "TRUNCATE";
		rv = first_existing(c, n->truncate_stmt->n_relations, n->truncate_stmt->relations);
	} else if (n->node_case == PG_QUERY__NODE__NODE_LOCK_STMT && n->lock_stmt->mode == 8) {
		*what = "LOCK TABLE"; /* 8 is AccessExclusiveLock, LOCK TABLE's default */
		rv = first_existing(c, n->lock_stmt->n_relations, n->lock_stmt->relations);
	} else if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT &&
	           n->drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		*what = "DROP TABLE";
		for (i = 0; i < n->drop_stmt->n_objects; i++) {
			const PgQuery__Node *o = n->drop_stmt->objects[i];
			const PgQuery__List *l =
			        o && o->node_case == PG_QUERY__NODE__NODE_LIST ? o->list : NULL;
			const char *table =
			        l && l->n_items ? mm_lint_str(l->items[l->n_items - 1]) : NULL;
			const char *schema =
			        l && l->n_items > 1 ? mm_lint_str(l->items[l->n_items - 2]) : NULL;

			if (table && !mm_lint_created(c->file, schema, table)) {
				mm_lint_qualified(name, size, schema, table);
				*location = -1;
				return true;
			}
		}
	}
	if (!rv)
		return false;
	mm_lint_rv_name(name, size, rv);
	*location = rv->location;
	return true;
}

void mm_lint_require_lock_timeout(mm_lint_ctx *c)
{
	const char *what = "";
	char name[256];
	int location = -1;

	if (!mm_lint_up(c) || c->file->lock_timeout || c->file->lock_reported)
		return;
	if (c->stmt->node->node_case == PG_QUERY__NODE__NODE_VARIABLE_SET_STMT &&
	    !strcmp(c->stmt->node->variable_set_stmt->name, "lock_timeout")) {
		c->file->lock_timeout = true;
		return;
	}
	if (!locks_table(c, &what, name, sizeof(name), &location))
		return;
	c->file->lock_reported = true;
	mm_lint_report(c, location,
	               "add '-- modmig lock_timeout=5s' to the file's header, above -- +goose Up "
	               "(or run modmig with --lock-timeout)",
	               "%s takes an ACCESS EXCLUSIVE lock on %s without a lock_timeout: waiting "
	               "behind a long query, it blocks every reader and writer of the table",
	               what, name);
}
