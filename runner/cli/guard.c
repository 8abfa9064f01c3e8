/*
 * cli_guard.c - the CLI's operational safety: the production guard of
 * reset, down, redo, stamp and repair, and the per-migration timeouts of up
 * and down.
 */
#include "cli.h"

#include <string.h>

void cli_take_timeouts(const cli_context *ctx, cli_timeouts *t)
{
	if (ctx->lock_timeout_ms > 0) {
		snprintf(t->lock, sizeof(t->lock), "%dms", ctx->lock_timeout_ms);
		t->has_lock = true;
	}
	if (ctx->statement_timeout_ms > 0) {
		snprintf(t->statement, sizeof(t->statement), "%dms", ctx->statement_timeout_ms);
		t->has_statement = true;
	}
}

int cli_production_guard(const cli_context *ctx, const char *command, bool yes)
{
	char hint[160];

	if (!ctx->production)
		return CLI_EXIT_OK;
	if (strcmp(command, "reset") == 0)
		return cli_report(ctx, MODMIG_E_REFUSED, NULL,
		                  "reset is for development databases; roll back what you must "
		                  "with 'modmig down --to V --yes', or drop --production and unset "
		                  "MODMIG_ENV if this is not production",
		                  "refusing to reset in production: it would roll back every "
		                  "migration; nothing was changed");
	if (yes)
		return CLI_EXIT_OK;
	if (strcmp(command, "repair") == 0)
		snprintf(hint, sizeof(hint),
		         "check what it records with --dry-run, then run it again with --yes to "
		         "confirm");
	else
		snprintf(hint, sizeof(hint),
		         "check what it %s with 'modmig status', then run 'modmig %s --yes' to "
		         "confirm",
		         strcmp(command, "stamp") == 0 ? "marks as applied" : "rolls back",
		         command);
	return cli_report(ctx, MODMIG_E_REFUSED, NULL, hint,
	                  "refusing to run %s in production without --yes; nothing was changed",
	                  command);
}
