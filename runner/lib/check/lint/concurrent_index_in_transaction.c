/*
 * concurrent_index_in_transaction.c - rule concurrent-index-in-transaction:
 * CREATE INDEX, DROP INDEX and REINDEX CONCURRENTLY cannot run inside a
 * transaction block, and PostgreSQL refuses them there. A transactional
 * migration is one block; so is a unit of several statements, which the
 * server runs as one implicit transaction, also in a NO TRANSACTION file.
 * Both directions: a Down that fails is as broken as an Up.
 */
#include "check/lint/lint.h"

#include <string.h>

static bool concurrently(const PgQuery__Node *n, const char **what)
{
	size_t i;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		*what = "CREATE INDEX CONCURRENTLY";
		return n->index_stmt->concurrent;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		*what = "DROP INDEX CONCURRENTLY";
		return n->drop_stmt->concurrent;
	case PG_QUERY__NODE__NODE_REINDEX_STMT:
		*what = "REINDEX CONCURRENTLY";
		for (i = 0; i < n->reindex_stmt->n_params; i++) {
			const PgQuery__Node *p = n->reindex_stmt->params[i];

			if (p && p->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
			    !strcmp(p->def_elem->defname, "concurrently"))
				return true;
		}
		return false;
	default:
		return false;
	}
}

void mm_lint_concurrent_index_in_transaction(mm_lint_ctx *c)
{
	const char *what = "";

	if (!c->stmt || !c->stmt->node || !c->stmt->in_block || !concurrently(c->stmt->node, &what))
		return;
	if (c->file->transactional)
		mm_lint_report(c, -1,
		               "mark the file '-- +goose NO TRANSACTION' and keep the statement in "
		               "a migration of its own",
		               "%s cannot run inside a transaction block, and this migration runs "
		               "in one",
		               what);
	else
		mm_lint_report(c, -1,
		               "make it a unit of its own: not inside a StatementBegin block with "
		               "other statements",
		               "%s cannot run inside a transaction block, and a unit of several "
		               "statements runs as one",
		               what);
}
