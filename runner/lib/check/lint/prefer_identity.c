/*
 * prefer_identity.c - rule prefer-identity (a warning, off by default): a column of type
 * serial, in a table an Up migration creates or alters.
 */
#include "check/lint/lint.h"

#include <string.h>

static void column(mm_lint_ctx *c, const PgQuery__ColumnDef *col)
{
	static const struct {
		const char *type; /* as the grammar names it */
		const char *shown;
	} types[] = {
	        {"serial", "serial"},           {"serial4", "serial"},
	        {"bigserial", "bigserial"},     {"serial8", "bigserial"},
	        {"smallserial", "smallserial"}, {"serial2", "smallserial"},
	};
	const char *type = mm_lint_type_name(col->type_name);
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(type, types[i].type) != 0)
			continue;
		mm_lint_report(c, col->type_name ? col->type_name->location : col->location,
		               "use bigint GENERATED ALWAYS AS IDENTITY: a serial's sequence has "
		               "its own owner and grants, and writes may bypass it",
		               "column %s is %s, not an identity column", col->colname,
		               types[i].shown);
		return;
	}
}

void mm_lint_prefer_identity(mm_lint_ctx *c)
{
	mm_lint_each_column(c, column);
}
