/*
 * undeclared_dependency.c - rule undeclared-dependency: a statement names an
 * object in another module's schema (a table, a foreign key's target, a type
 * or a function), and the module does not depend on that module, directly or
 * through its dependencies. depends_on decides the order modules are applied
 * and rolled back in, so an undeclared reference breaks `up --module` and
 * `down --module` on a fresh database. One finding per module referred to, at
 * its first reference in the file.
 */
#include "check/lint/lint.h"

#include <stdio.h>
#include <string.h>

typedef struct seen {
	mm_lint_ctx *c;
	const modmig_module *reported[64];
	size_t count;
} seen;

static void check(seen *s, const char *schema, const char *name, int location)
{
	const modmig_module *mod = s->c->file->module;
	const modmig_module *owner = mm_lint_owner(s->c->file->src, schema);
	char qualified[256];
	char hint[512];
	size_t i;

	if (!owner || owner == mod || mm_lint_depends(s->c->file->src, mod, owner))
		return;
	for (i = 0; i < s->count; i++)
		if (s->reported[i] == owner)
			return;
	if (s->count < sizeof(s->reported) / sizeof(s->reported[0]))
		s->reported[s->count++] = owner;
	if (!mm_lint_once(s->c, owner->name))
		return;
	if (owner->index < mod->index)
		snprintf(hint, sizeof(hint),
		         "add %s to module %s's depends_on in the manifest, or remove the "
		         "reference",
		         owner->name, mod->name);
	else
		snprintf(hint, sizeof(hint),
		         "module %s comes after %s in the manifest, so %s cannot depend on it: "
		         "move this statement to module %s, or drop the reference",
		         owner->name, mod->name, mod->name, owner->name);
	mm_lint_report(s->c, location, hint,
	               "module %s refers to %s, but does not depend on module %s", mod->name,
	               mm_lint_qualified(qualified, sizeof(qualified), schema, name), owner->name);
}

/* [schema.]name kept as String nodes: only a qualified name can name a module's schema. */
static void check_list(seen *s, size_t n, PgQuery__Node *const *items, int location)
{
	if (n >= 2 && n <= 3 && mm_lint_str(items[n - 2]) && mm_lint_str(items[n - 1]))
		check(s, mm_lint_str(items[n - 2]), mm_lint_str(items[n - 1]), location);
}

static mm_sql_walk_action visit(const mm_sql_visit *v, void *arg)
{
	seen *s = arg;

	switch (v->type) {
	case PG_QUERY__NODE__NODE_RANGE_VAR: {
		const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)v->msg;

		if (*rv->schemaname)
			check(s, rv->schemaname, rv->relname, rv->location);
		break;
	}
	case PG_QUERY__NODE__NODE_TYPE_NAME: {
		const PgQuery__TypeName *t = (const PgQuery__TypeName *)v->msg;

		check_list(s, t->n_names, t->names, t->location);
		break;
	}
	case PG_QUERY__NODE__NODE_FUNC_CALL: {
		const PgQuery__FuncCall *f = (const PgQuery__FuncCall *)v->msg;

		check_list(s, f->n_funcname, f->funcname, f->location);
		break;
	}
	default:
		break;
	}
	return MM_SQL_WALK_CONTINUE;
}

void mm_lint_undeclared_dependency(mm_lint_ctx *c)
{
	mm_lint_targets t = {0};
	seen s;
	size_t i;

	if (!c->stmt || !c->stmt->node || !c->file->module)
		return;
	memset(&s, 0, sizeof(s));
	s.c = c;
	mm_sql_walk(&c->stmt->node->base, visit, &s);
	/* what a DROP or a function's DDL names has no RangeVar to walk to */
	if (mm_lint_targets_of(c->stmt->node, &t) != MODMIG_OK) {
		c->findings->oom = true;
		return;
	}
	for (i = 0; i < t.count; i++)
		if (t.items[i].schema)
			check(&s, t.items[i].schema, t.items[i].name, t.items[i].location);
	mm_lint_targets_clear(&t);
}
