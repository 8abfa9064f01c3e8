/*
 * unparsed_statement.c - rule unparsed-statement: a unit that PostgreSQL's
 * grammar (the bundled 15) cannot parse, which only its lexer split. It may be
 * a typo, which the server will refuse, or syntax newer than the bundled
 * grammar, which no other rule can check.
 */
#include "check/lint/lint.h"

void mm_lint_unparsed_statement(mm_lint_ctx *c)
{
	if (!c->stmt || c->stmt->node)
		return;
	mm_lint_report(c, -1,
	               "check the statement; if it is newer syntax your servers accept, suppress "
	               "with '-- modmig:nolint unparsed-statement <server version>'",
	               "PostgreSQL 15's grammar cannot parse this statement (%s): a typo, or "
	               "syntax newer than modmig's parser, which lint cannot check",
	               c->stmt->parse_error ? c->stmt->parse_error : "syntax error");
}
