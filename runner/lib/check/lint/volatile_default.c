/*
 * volatile_default.c - rule volatile-default: since PostgreSQL 11, ADD COLUMN
 * with a constant or stable default (now(), 0, 'x') only touches the catalog.
 * A volatile default (random(), gen_random_uuid(), clock_timestamp(),
 * nextval(), so also serial types), an identity column or a stored generated
 * column computes a value per row: the table is rewritten under an ACCESS
 * EXCLUSIVE lock.
 */
#include "check/lint/lint.h"

#include <string.h>

static const char *const volatile_functions[] = {
        "random",           "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
        "uuid_generate_v4", "clock_timestamp", "timeofday",        "nextval",
        "txid_current",     "setseed",
};

static mm_sql_walk_action find_volatile(const mm_sql_visit *v, void *arg)
{
	const char **found = arg;
	const PgQuery__FuncCall *f;
	const char *name;
	size_t i;

	if (v->type != PG_QUERY__NODE__NODE_FUNC_CALL)
		return MM_SQL_WALK_CONTINUE;
	f = (const PgQuery__FuncCall *)v->msg;
	name = f->n_funcname ? mm_lint_str(f->funcname[f->n_funcname - 1]) : NULL;
	for (i = 0; name && i < sizeof(volatile_functions) / sizeof(volatile_functions[0]); i++) {
		if (!strcmp(name, volatile_functions[i])) {
			*found = volatile_functions[i];
			return MM_SQL_WALK_STOP;
		}
	}
	return MM_SQL_WALK_CONTINUE;
}

static const char *serial_type(const PgQuery__TypeName *t)
{
	static const char *const serials[] = {"serial",  "serial4",     "bigserial",
	                                      "serial8", "smallserial", "serial2"};
	const char *name = mm_lint_type_name(t);
	size_t i;

	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++)
		if (!strcmp(name, serials[i]))
			return serials[i];
	return NULL;
}

#define HINT                                                                                       \
	"add the column without a default (or with a constant one), backfill it in batches, "      \
	"then set the default"

void mm_lint_volatile_default(mm_lint_ctx *c)
{
	const PgQuery__AlterTableStmt *a = mm_lint_alter_existing(c);
	char name[256];
	size_t i;
	size_t k;

	for (i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = mm_lint_cmd(a, i);
		const PgQuery__ColumnDef *col;
		const char *fn = NULL;
		const char *why = NULL;

		if (!cmd || cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || !cmd->def ||
		    cmd->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
			continue;
		col = cmd->def->column_def;
		mm_lint_rv_name(name, sizeof(name), a->relation);
		if (serial_type(col->type_name)) {
			mm_lint_report(
			        c, col->location, HINT,
			        "adding %s column %s fills it from a sequence, which rewrites %s "
			        "under an ACCESS EXCLUSIVE lock",
			        serial_type(col->type_name), col->colname, name);
			continue;
		}
		if (col->raw_default)
			mm_sql_walk(&col->raw_default->base, find_volatile, &fn);
		for (k = 0; k < col->n_constraints; k++) {
			const PgQuery__Constraint *x = mm_lint_constraint(col->constraints[k]);

			if (!x)
				continue;
			if (x->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT && x->raw_expr &&
			    !fn)
				mm_sql_walk(&x->raw_expr->base, find_volatile, &fn);
			else if (x->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
				why = "an identity column";
			else if (x->contype == PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED)
				why = "a stored generated column";
		}
		if (fn)
			mm_lint_report(
			        c, col->location, HINT,
			        "adding column %s with the volatile default %s() rewrites %s "
			        "under an ACCESS EXCLUSIVE lock",
			        col->colname, fn, name);
		else if (why)
			mm_lint_report(
			        c, col->location,
			        "add a plain column, backfill it in batches, then make it what "
			        "it should be",
			        "adding %s %s computes every row: %s is rewritten under an "
			        "ACCESS EXCLUSIVE lock",
			        why, col->colname, name);
	}
}
