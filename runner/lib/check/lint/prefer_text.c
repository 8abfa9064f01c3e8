/*
 * prefer_text.c - rule prefer-text (a warning, off by default): a column of type
 * varchar(n) or char(n), in a table an Up migration creates or alters.
 */
#include "check/lint/lint.h"

#include <string.h>

static void column(mm_lint_ctx *c, const PgQuery__ColumnDef *col)
{
	static const struct {
		const char *type; /* as the grammar names it */
		const char *shown;
	} types[] = {
	        {"varchar", "varchar"},
	        {"bpchar", "char"},
	};
	const char *type = mm_lint_type_name(col->type_name);
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(type, types[i].type) != 0)
			continue;
		mm_lint_report(c, col->type_name ? col->type_name->location : col->location,
		               "use text with a CHECK (length(col) <= n): changing a length limit "
		               "later locks or rewrites the table",
		               "column %s is %s(n), not text", col->colname, types[i].shown);
		return;
	}
}

void mm_lint_prefer_text(mm_lint_ctx *c)
{
	mm_lint_each_column(c, column);
}
