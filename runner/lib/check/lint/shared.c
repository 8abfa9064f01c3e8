/*
 * shared.c - what several rules ask: whether a table is one the file
 * created, which module owns a schema, whether a module depends on another
 * (through depends_on, transitively), and the objects a statement creates,
 * alters or drops.
 */
#include "check/lint/lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mm_lint_up(const mm_lint_ctx *c)
{
	return c->stmt && c->stmt->node && c->stmt->dir == MODMIG_UP;
}

bool mm_lint_created(const mm_lint_file *f, const char *schema, const char *name)
{
	size_t i;

	if (!name)
		return false;
	for (i = 0; i < f->created.count; i++) {
		const mm_sql_name *n = &f->created.items[i];

		/* an unqualified name on either side matches: the search path decides */
		if (n->name && !strcmp(n->name, name) &&
		    (!schema || !n->schema || !strcmp(schema, n->schema)))
			return true;
	}
	return false;
}

bool mm_lint_existing(const mm_lint_ctx *c, const PgQuery__RangeVar *rv)
{
	return rv && *rv->relname &&
	       !mm_lint_created(c->file, *rv->schemaname ? rv->schemaname : NULL, rv->relname);
}

const modmig_module *mm_lint_owner(const modmig_source *src, const char *schema)
{
	size_t i;

	for (i = 0; schema && i < src->manifest.module_count; i++)
		if (src->manifest.modules[i].schema &&
		    !strcmp(src->manifest.modules[i].schema, schema))
			return &src->manifest.modules[i];
	return NULL;
}

bool mm_lint_depends(const modmig_source *src, const modmig_module *a, const modmig_module *b)
{
	const mm_manifest *man = &src->manifest;
	size_t i;

	/* dependencies come earlier in the manifest, so the recursion always ends */
	for (i = 0; i < a->depends_count; i++) {
		const modmig_module *d =
		        mm_manifest_module_by_name(man, a->depends_on[i], strlen(a->depends_on[i]));

		if (d == b || (d && d->index < a->index && mm_lint_depends(src, d, b)))
			return true;
	}
	return false;
}

const char *mm_lint_qualified(char *buf, size_t size, const char *schema, const char *name)
{
	if (schema)
		snprintf(buf, size, "%s.%s", schema, name ? name : "");
	else
		snprintf(buf, size, "%s", name ? name : "");
	return buf;
}

const char *mm_lint_str(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

const char *mm_lint_type_name(const PgQuery__TypeName *t)
{
	const char *s;

	if (!t || t->n_names == 0)
		return "";
	s = mm_lint_str(t->names[t->n_names - 1]);
	return s ? s : "";
}

const PgQuery__AlterTableStmt *mm_lint_alter_existing(const mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a;

	if (!mm_lint_up(c) || c->stmt->node->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
		return NULL;
	a = c->stmt->node->alter_table_stmt;
	if (a->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || !mm_lint_existing(c, a->relation))
		return NULL;
	return a;
}

const PgQuery__AlterTableCmd *mm_lint_cmd(const PgQuery__AlterTableStmt *a, size_t i)
{
	const PgQuery__Node *n = i < a->n_cmds ? a->cmds[i] : NULL;

	return n && n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ? n->alter_table_cmd
	                                                                 : NULL;
}

const PgQuery__Constraint *mm_lint_constraint(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_CONSTRAINT ? n->constraint : NULL;
}

const char *mm_lint_rv_name(char *buf, size_t size, const PgQuery__RangeVar *rv)
{
	return mm_lint_qualified(buf, size, rv && *rv->schemaname ? rv->schemaname : NULL,
	                         rv ? rv->relname : "");
}

void mm_lint_each_column(mm_lint_ctx *c, void (*fn)(mm_lint_ctx *c, const PgQuery__ColumnDef *col))
{
	const PgQuery__Node *n;
	size_t i;

	if (!mm_lint_up(c))
		return;
	n = c->stmt->node;
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
		for (i = 0; i < n->create_stmt->n_table_elts; i++) {
			const PgQuery__Node *e = n->create_stmt->table_elts[i];

			if (e && e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				fn(c, e->column_def);
		}
	} else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		for (i = 0; i < n->alter_table_stmt->n_cmds; i++) {
			const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(n->alter_table_stmt, i);

			if (cmd &&
			    (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn ||
			     cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType) &&
			    cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				fn(c, cmd->def->column_def);
		}
	}
}

/* ---- targets ------------------------------------------------------------ */

void mm_lint_targets_clear(mm_lint_targets *t)
{
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static bool add(mm_lint_targets *t, const char *schema, const char *name, const char *what,
                const char *action, int location)
{
	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		mm_lint_target *items = realloc(t->items, cap * sizeof(*items));

		if (!items)
			return false;
		t->items = items;
		t->cap = cap;
	}
	t->items[t->count].schema = schema && *schema ? schema : NULL;
	t->items[t->count].name = name && *name ? name : NULL;
	t->items[t->count].what = what;
	t->items[t->count].action = action;
	t->items[t->count].location = location;
	t->count++;
	return true;
}

static bool add_rv(mm_lint_targets *t, const PgQuery__RangeVar *rv, const char *what,
                   const char *action)
{
	return !rv || add(t, rv->schemaname, rv->relname, what, action, rv->location);
}

/* A name kept as a list of String nodes: [schema.]name */
static bool add_list(mm_lint_targets *t, size_t n, PgQuery__Node *const *items, const char *what,
                     const char *action, int location)
{
	if (n == 0 || n > 3 || !mm_lint_str(items[n - 1]))
		return true;
	return add(t, n > 1 ? mm_lint_str(items[n - 2]) : NULL, mm_lint_str(items[n - 1]), what,
	           action, location);
}

static const char *object_word(PgQuery__ObjectType type)
{
	switch (type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
		return "table";
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
		return "view";
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
		return "materialized view";
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
		return "index";
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
		return "sequence";
	case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE:
		return "type";
	case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN:
		return "domain";
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION:
		return "function";
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE:
		return "procedure";
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		return "foreign table";
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
		return "table";
	default:
		return NULL;
	}
}

/* DROP's objects: name lists for relations and types, ObjectWithArgs for routines. */
static bool add_dropped(mm_lint_targets *t, const PgQuery__DropStmt *d, int location)
{
	const char *what = object_word(d->remove_type);
	size_t i;

	for (i = 0; what && i < d->n_objects; i++) {
		const PgQuery__Node *o = d->objects[i];

		if (!o)
			continue;
		if (o->node_case == PG_QUERY__NODE__NODE_LIST &&
		    !add_list(t, o->list->n_items, o->list->items, what, "dropped", location))
			return false;
		if (o->node_case == PG_QUERY__NODE__NODE_TYPE_NAME &&
		    !add_list(t, o->type_name->n_names, o->type_name->names, what, "dropped",
		              o->type_name->location))
			return false;
		if (o->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS &&
		    !add_list(t, o->object_with_args->n_objname, o->object_with_args->objname, what,
		              "dropped", location))
			return false;
	}
	return true;
}

static bool add_created(mm_lint_targets *t, const PgQuery__Node *stmt)
{
	mm_sql_names names = {0};
	const char *what;
	bool ok = true;
	size_t i;

	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		what = "table";
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		what = "view";
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		what = "index";
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		what = "sequence";
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		what = "function";
		break;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		what = "trigger";
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		what = "domain";
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		what = "type";
		break;
	default:
		return true; /* CREATE SCHEMA and EXTENSION name no schema-qualified object */
	}
	if (mm_sql_created(stmt, &names) != MODMIG_OK)
		return false;
	for (i = 0; ok && i < names.count; i++)
		ok = add(t, names.items[i].schema, names.items[i].name, what, "created",
		         names.items[i].location);
	mm_sql_names_clear(&names);
	return ok;
}

modmig_status mm_lint_targets_of(const PgQuery__Node *stmt, mm_lint_targets *out)
{
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (!stmt)
		return MODMIG_OK;
	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		ok = add_rv(out, stmt->alter_table_stmt->relation,
		            object_word(stmt->alter_table_stmt->objtype)
		                    ? object_word(stmt->alter_table_stmt->objtype)
		                    : "table",
		            "altered");
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT: {
		const PgQuery__RenameStmt *r = stmt->rename_stmt;
		const char *what = object_word(r->rename_type);

		if (r->relation)
			ok = add_rv(out, r->relation, what ? what : "table", "renamed");
		else if (what && r->object && r->object->node_case == PG_QUERY__NODE__NODE_LIST)
			ok = add_list(out, r->object->list->n_items, r->object->list->items, what,
			              "renamed", -1);
		break;
	}
	case PG_QUERY__NODE__NODE_DROP_STMT:
		ok = add_dropped(out, stmt->drop_stmt, -1);
		break;
	default:
		ok = add_created(out, stmt);
		break;
	}
	if (!ok) {
		mm_lint_targets_clear(out);
		return MODMIG_E_NOMEM;
	}
	return MODMIG_OK;
}
