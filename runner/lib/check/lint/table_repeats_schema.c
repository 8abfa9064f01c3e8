/*
 * table_repeats_schema.c - rule table-repeats-schema: billing.billing_accounts.
 * The schema is the namespace: the table is billing.accounts, and sqlc then
 * generates billing.Account rather than billing.BillingAccount. Checked where
 * a table gets its name: CREATE TABLE, CREATE TABLE AS and a rename.
 */
#include "check/lint/lint.h"

#include <stdio.h>
#include <string.h>

static void check(mm_lint_ctx *c, const char *schema, const char *name, int location)
{
	const modmig_module *mod = c->file->module;
	size_t n;
	char hint[512];

	if (!schema && mod)
		schema = mod->schema;
	if (!schema || !name)
		return;
	n = strlen(schema);
	if (strncmp(name, schema, n) != 0 || (name[n] != '_' && name[n] != '\0'))
		return;
	if (name[n] == '_' && name[n + 1])
		snprintf(hint, sizeof(hint),
		         "call it %s.%s: the schema is the namespace (sqlc then generates names "
		         "like %s.Account, not %s.BillingAccount)",
		         schema, name + n + 1, schema, schema);
	else
		snprintf(hint, sizeof(hint),
		         "name the table after what a row is, without the schema's name: the "
		         "schema is the namespace");
	mm_lint_report(c, location, hint, "table %s.%s repeats its schema in its name", schema,
	               name);
}

void mm_lint_table_repeats_schema(mm_lint_ctx *c)
{
	const PgQuery__Node *n = c->stmt ? c->stmt->node : NULL;
	const PgQuery__RangeVar *rv = NULL;

	if (!n)
		return;
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT)
		rv = n->create_stmt->relation;
	else if (n->node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT &&
	         n->create_table_as_stmt->into)
		rv = n->create_table_as_stmt->into->rel;
	if (rv) {
		check(c, *rv->schemaname ? rv->schemaname : NULL, rv->relname, rv->location);
		return;
	}
	if (n->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	    n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	    n->rename_stmt->relation) {
		rv = n->rename_stmt->relation;
		check(c, *rv->schemaname ? rv->schemaname : NULL, n->rename_stmt->newname,
		      rv->location);
	}
}
