/*
 * transaction_control.c - rule transaction-control, DESIGN §3 rule 6. The
 * migration parser applies the rule itself (source/parse_tx.c), since it
 * decides what is sent: a BEGIN that opens a section and a COMMIT that closes
 * it are dropped with a warning, and any other transaction control in a
 * transactional migration is a parse error (exit 2 from lint as from
 * validate and up, never a finding a nolint could silence). This rule turns
 * the parser's warnings into lint findings, so that lint, --json and --sarif
 * show them with the others.
 */
#include "check/lint/lint.h"

void mm_lint_transaction_control(mm_lint_ctx *c)
{
	const modmig_migration *m = c->file->m;
	size_t i;

	/* once per file: the statements themselves were classified by the parser */
	if (c->stmt)
		return;
	for (i = 0; i < m->parsed.warning_count; i++)
		mm_lint_report_at(c, m->parsed.warnings[i].line, m->parsed.warnings[i].column, true,
		                  "remove it", "%s", m->parsed.warnings[i].message);
}
