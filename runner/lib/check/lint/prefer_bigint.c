/*
 * prefer_bigint.c - rule prefer-bigint (a warning, off by default): a column of type
 * integer or smallint, in a table an Up migration creates or alters.
 */
#include "check/lint/lint.h"

#include <string.h>

static void column(mm_lint_ctx *c, const PgQuery__ColumnDef *col)
{
	static const struct {
		const char *type; /* as the grammar names it */
		const char *shown;
	} types[] = {
	        {"int4", "integer"},   {"int2", "smallint"},           {"serial", "serial"},
	        {"serial4", "serial"}, {"smallserial", "smallserial"}, {"serial2", "smallserial"},
	};
	const char *type = mm_lint_type_name(col->type_name);
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(type, types[i].type) != 0)
			continue;
		mm_lint_report(c, col->type_name ? col->type_name->location : col->location,
		               "use bigint (bigint GENERATED ALWAYS AS IDENTITY for keys): integer "
		               "keys run out at 2^31, and widening one later rewrites the table",
		               "column %s is %s, which can run out", col->colname, types[i].shown);
		return;
	}
}

void mm_lint_prefer_bigint(mm_lint_ctx *c)
{
	mm_lint_each_column(c, column);
}
