/*
 * transaction_control.c - rule transaction-control, DESIGN §3 rule 6, the
 * same classification `up` makes (from sql/tx.def's roles): in a
 * transactional migration, a BEGIN or START TRANSACTION that opens a section
 * and a COMMIT or END (without AND CHAIN) that closes it are redundant, since
 * modmig runs the migration in one transaction and does not send them: a
 * warning. Any other transaction control (a COMMIT or ROLLBACK in the middle,
 * PREPARE TRANSACTION, a BEGIN that does not open the section) would end or
 * nest modmig's own transaction: an error. Savepoints are fine. The same holds
 * inside StatementBegin blocks, whose statements count in the section's order.
 */
#include "check/lint/lint.h"

#include <ctype.h>
#include <stdio.h>

void mm_lint_transaction_control(mm_lint_ctx *c)
{
	const mm_lint_stmt *s = c->stmt;
	char word[64];
	mm_sql_tx tx;
	mm_sql_tx_role role;
	bool chain = false;
	size_t i;

	if (!s || !s->node || !c->file->transactional)
		return;
	tx = mm_sql_tx_of(s->node, &chain);
	role = mm_sql_tx_role_of(tx);
	if (role != MM_SQL_TX_ROLE_OPEN && role != MM_SQL_TX_ROLE_END)
		return;
	snprintf(word, sizeof(word), "%s", mm_sql_tx_name(tx));
	for (i = 0; word[i]; i++)
		word[i] = word[i] == '_' ? ' ' : (char)toupper((unsigned char)word[i]);
	if (role == MM_SQL_TX_ROLE_OPEN && s->first)
		mm_lint_report_at(c, s->line, s->column, true, "remove it",
		                  "%s is redundant: modmig runs the migration in one transaction "
		                  "and does not send it",
		                  word);
	else if (tx == MM_SQL_TX_COMMIT && !chain && s->last)
		mm_lint_report_at(c, s->line, s->column, true, "remove it",
		                  "COMMIT at the end is redundant: modmig commits the migration "
		                  "itself and does not send it");
	else
		mm_lint_report_at(c, s->line, s->column, false,
		                  "split the migration in two, or mark it '-- +goose NO "
		                  "TRANSACTION' and manage its transactions yourself",
		                  "%s inside a transactional migration would %s modmig's "
		                  "transaction, so the migration would not be atomic",
		                  word, role == MM_SQL_TX_ROLE_OPEN ? "nest in" : "end");
}
