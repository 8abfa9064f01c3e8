/*
 * require_schema.c - rule require-schema: in a module with a schema, every
 * object a statement creates, alters or drops is schema-qualified. modmig
 * runs migrations with the server's default search path (it strips any
 * search_path from the connection), so an unqualified CREATE TABLE lands in
 * public, and an unqualified ALTER means whatever the search path finds. Each
 * name is reported once per file: fixing the CREATE fixes its DROP in Down.
 */
#include "check/lint/lint.h"

#include <stdio.h>
#include <string.h>

void mm_lint_require_schema(mm_lint_ctx *c)
{
	const modmig_module *mod = c->file->module;
	mm_lint_targets t = {0};
	char hint[512];
	size_t i;

	if (!c->stmt || !c->stmt->node || !mod || !mod->schema)
		return;
	if (mm_lint_targets_of(c->stmt->node, &t) != MODMIG_OK) {
		c->findings->oom = true;
		return;
	}
	for (i = 0; i < t.count; i++) {
		const mm_lint_target *x = &t.items[i];

		if (x->schema || !x->name || !mm_lint_once(c, x->name))
			continue;
		if (!strcmp(x->what, "index") || !strcmp(x->what, "trigger")) {
			snprintf(hint, sizeof(hint),
			         "qualify its table: ON %s.<table>; module %s owns schema %s",
			         mod->schema, mod->name, mod->schema);
			mm_lint_report(c, x->location, hint,
			               "%s %s is %s on a table named without a schema", x->what,
			               x->name, x->action);
			continue;
		}
		snprintf(hint, sizeof(hint), "write %s.%s: module %s owns schema %s", mod->schema,
		         x->name, mod->name, mod->schema);
		if (!strcmp(x->action, "created"))
			mm_lint_report(c, x->location, hint,
			               "%s %s is created without a schema, so it lands in public "
			               "(migrations run with the server's default search_path)",
			               x->what, x->name);
		else
			mm_lint_report(c, x->location, hint,
			               "%s %s is %s without a schema: the server's default "
			               "search_path decides which %s that is",
			               x->what, x->name, x->action, x->what);
	}
	mm_lint_targets_clear(&t);
}
