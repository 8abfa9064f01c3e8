/*
 * cmd_doctor.c - modmig doctor: the library's checklist, the CLI's own
 * connection item when it cannot connect, and with --dev-url a drift item.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- doctor ---------------------------------------------------------------- */

/*
 * The items to print: the library's checkup, then the failed connection when
 * the CLI could not connect (modmig_doctor() leaves that item to its caller).
 */
typedef struct doctor_items {
	const modmig_checkup *checkup;
	const modmig_check *connection; /* or NULL */
	const modmig_check *drift;      /* with --dev-url, or NULL */
} doctor_items;

static size_t items_count(const doctor_items *d)
{
	return modmig_checkup_count(d->checkup) + (d->connection != NULL) + (d->drift != NULL);
}

static const modmig_check *items_at(const doctor_items *d, size_t i)
{
	size_t n = modmig_checkup_count(d->checkup);

	if (i < n)
		return modmig_checkup_at(d->checkup, i);
	if (i == n && d->connection)
		return d->connection;
	return d->drift;
}

/*
 * The drift item: the live schema against what the applied migrations build
 * on the --dev-url database (doctor creates no database of its own, so an
 * interrupted doctor leaves nothing behind). *text receives what the item's
 * detail points at; false when the item fails.
 */
static bool check_drift(modmig_db *db, modmig_source *src, const char *dev_url, char **text)
{
	modmig_schema_diff *diff = NULL;
	modmig_schema_options opts;
	modmig_error *err = NULL;
	modmig_status st;
	size_t n;
	char *first = NULL;
	bool ok = false;

	modmig_schema_options_init(&opts);
	st = cli_drift_on_shadow(NULL, db, src, dev_url, &opts, &diff, &err);
	n = modmig_schema_diff_count(diff);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		*text = cli_strdupf("cannot build the shadow: %s",
		                    err ? modmig_error_message(err) : "error");
	} else if (n == 0) {
		*text = cli_strdupf("the live schema is what the applied migrations build");
		ok = true;
	} else {
		first = modmig_schema_difference_text(modmig_schema_diff_at(diff, 0),
		                                      "the database", "the migrations");
		*text = cli_strdupf("%zu difference%s from what the applied migrations build, the "
		                    "first: %s",
		                    n, n == 1 ? "" : "s", first ? first : "?");
	}
	modmig_free(first);
	modmig_schema_diff_free(diff);
	modmig_error_free(err);
	return ok;
}

static void print_checkup_json(const doctor_items *c, bool healthy)
{
	printf("{\"healthy\":%s,\"checks\":[", healthy ? "true" : "false");
	for (size_t i = 0; i < items_count(c); i++) {
		const modmig_check *x = items_at(c, i);

		fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
		cli_json_string(stdout, x->name);
		printf(",\"ok\":%s,\"detail\":", x->ok ? "true" : "false");
		cli_json_string(stdout, x->detail);
		fputs(",\"fix\":", stdout);
		cli_json_string(stdout, x->ok ? NULL : cli_check_fix(x));
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void print_checkup(const cli_context *ctx, const doctor_items *c)
{
	int width = 0;
	size_t failed = 0;

	for (size_t i = 0; i < items_count(c); i++) {
		int len = (int)strlen(items_at(c, i)->name);
		width = len > width ? len : width;
	}
	for (size_t i = 0; i < items_count(c); i++) {
		const modmig_check *x = items_at(c, i);
		const char *fix = cli_check_fix(x);

		printf("%s%-4s%s  %-*s  %s\n",
		       cli_color_on(ctx, false, x->ok ? CLI_GREEN : CLI_RED), x->ok ? "ok" : "FAIL",
		       cli_color_off(ctx, false), width, x->name, x->detail);
		if (!x->ok) {
			printf("      %-*s  %sfix: %s%s\n", width, "",
			       cli_color_on(ctx, false, CLI_BOLD), fix ? fix : "-",
			       cli_color_off(ctx, false));
			failed++;
		}
	}
	if (failed)
		printf("%zu of %zu checks failed\n", failed, items_count(c));
	else
		printf("healthy: all %zu checks passed\n", items_count(c));
}

/* doctor's one option of its own: --dev-url, into the const char * at data. */
static int take_dev_url(cli_context *ctx, int c, const char *value, void *data)
{
	(void)ctx;
	if (c != CLI_OPT_DEV_URL)
		return 0;
	*(const char **)data = value;
	return 1;
}

int cli_cmd_doctor(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_checkup *checkup = NULL;
	modmig_error *err = NULL, *cerr = NULL;
	modmig_check connection = {"connection", false, NULL, NULL, MODMIG_NEXT_NONE};
	modmig_check drift = {"drift", false, NULL,
	                      "run 'modmig drift --dev-url URL' for every "
	                      "difference",
	                      MODMIG_NEXT_NONE};
	doctor_items items = {NULL, NULL, NULL};
	const char *dev_url = NULL;
	char *drift_text = NULL;
	modmig_status st;
	int rc;

	if (!cli_parse_options(ctx, cmd, argc, argv, take_dev_url, NULL, &dev_url, &rc))
		goto cleanup;
	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	/*
	 * Doctor's connection is the CLI's, made here: a failed one is not an
	 * error but the checklist's failed "connection" item, printed after the
	 * items that need no server. No log callback: doctor reports in items.
	 */
	if (modmig_db_connect(ctx->database, &db, &cerr) != MODMIG_OK) {
		db = NULL;
		connection.detail =
		        cerr ? modmig_error_message(cerr) : "cannot connect to the database";
		connection.fix =
		        cerr && modmig_error_hint(cerr)
		                ? modmig_error_hint(cerr)
		                : "check -d, DATABASE_URL or PGHOST/PGPORT/PGUSER/PGDATABASE; "
		                  "is the server running?";
		items.connection = &connection;
	}
	st = modmig_doctor(db, src, &checkup, &err);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (items.connection)
		st = MODMIG_E_CHECK;
	if (dev_url && db) {
		drift.ok = check_drift(db, src, dev_url, &drift_text);
		drift.detail = drift_text ? drift_text : "out of memory";
		items.drift = &drift;
		if ((rc = cli_shadow_caught()) != 0)
			goto cleanup;
		if (!drift.ok)
			st = MODMIG_E_CHECK;
	}
	items.checkup = checkup;
	rc = modmig_exit_code(st);
	if (ctx->json)
		print_checkup_json(&items, st == MODMIG_OK);
	else
		print_checkup(ctx, &items);
cleanup:
	free(drift_text);
	modmig_checkup_free(checkup);
	modmig_error_free(err);
	modmig_error_free(cerr);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
