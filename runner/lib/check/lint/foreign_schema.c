/*
 * foreign_schema.c - rule foreign-schema: a module creates, alters or drops
 * an object in a schema that belongs to another module. Each module owns its
 * schema; another module's objects change only through its own migrations.
 * Referring to them (foreign keys, views, queries) is not a change, and is
 * undeclared-dependency's business.
 */
#include "check/lint/lint.h"

#include <stdio.h>

void mm_lint_foreign_schema(mm_lint_ctx *c)
{
	const modmig_module *mod = c->file->module;
	mm_lint_targets t = {0};
	char name[256];
	char hint[512];
	size_t i;

	if (!c->stmt || !c->stmt->node || !mod)
		return;
	if (mm_lint_targets_of(c->stmt->node, &t) != MODMIG_OK) {
		c->findings->oom = true;
		return;
	}
	for (i = 0; i < t.count; i++) {
		const mm_lint_target *x = &t.items[i];
		const modmig_module *owner = mm_lint_owner(c->file->src, x->schema);

		if (!owner || owner == mod)
			continue;
		snprintf(hint, sizeof(hint),
		         "change %s's objects in a migration of module %s; module %s may refer "
		         "to them (foreign keys, views) when it depends on %s",
		         owner->schema, owner->name, mod->name, owner->name);
		mm_lint_report(c, x->location, hint,
		               "%s %s is %s by module %s, but schema %s belongs to module %s",
		               x->what, mm_lint_qualified(name, sizeof(name), x->schema, x->name),
		               x->action, mod->name, owner->schema, owner->name);
	}
	mm_lint_targets_clear(&t);
}
