/*
 * cmd_create.c - new migration files and goose's renumbering: create (the
 * next file of a module with -m, goose's `create NAME sql` with --dir) and
 * fix (goose's `fix`, --dir only).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* {"path":"..."} or the path */
static void print_created(const cli_context *ctx, const char *path)
{
	if (ctx->json) {
		fputs("{\"path\":", stdout);
		cli_json_string(stdout, path);
		fputs("}\n", stdout);
	} else {
		printf("%s\n", path);
	}
}

/* create MODULE NAME with -m: the next version of the module's range */
static int create_in_module(cli_context *ctx, const char *module, const char *name)
{
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char *path = NULL;
	int rc;

	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	rc = cli_check_module(ctx, src, module);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_create_migration(src, module, name, &path, &err);
	if (st != MODMIG_OK && modmig_error_next_step(err) == MODMIG_NEXT_USE_MANIFEST) {
		/* the step in this command's own words: the same command, with -m */
		char hint[512];

		snprintf(hint, sizeof(hint),
		         "pass the manifest, e.g. modmig -m modules/modules.yaml create %s %s",
		         module, name);
		rc = cli_report_error_hint(ctx, err, hint);
		goto cleanup;
	}
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	print_created(ctx, path);
cleanup:
	modmig_free(path);
	modmig_error_free(err);
	modmig_source_free(src);
	return rc;
}

/* create NAME [-s] with --dir: goose's timestamp, or its next sequential version */
static int create_in_dir(cli_context *ctx, const char *name, bool sequential)
{
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char *path = NULL;
	int rc;

	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_create_dir_migration(src, name, sequential, &path, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	print_created(ctx, path);
cleanup:
	modmig_free(path);
	modmig_error_free(err);
	modmig_source_free(src);
	return rc;
}

/* create's one option of its own: -s, into the bool at data. */
static int take_sequential(cli_context *ctx, int c, const char *value, void *data)
{
	(void)ctx;
	(void)value;
	if (c != CLI_OPT_SEQUENTIAL)
		return 0;
	*(bool *)data = true;
	return 1;
}

int cli_cmd_create(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	bool sequential = false;
	char **args;
	int n, rc;

	if (!cli_parse_options_args(ctx, cmd, argc, argv, take_sequential, &sequential, 1, 2,
	                            ctx->dir ? "NAME" : "MODULE and NAME", &args, &n, &rc))
		goto cleanup;
	if (ctx->dir && n == 2) {
		rc = cli_usage_error(
		        ctx,
		        "'create' takes only NAME with '--dir': a goose directory has no "
		        "modules (MODULE '%s')",
		        args[0]);
	} else if (ctx->dir) {
		rc = create_in_dir(ctx, args[0], sequential);
	} else if (!ctx->manifest) {
		rc = cli_usage_error(
		        ctx, "'create' needs -m MANIFEST or --dir DIR on the command line: it "
		             "writes into that directory (not one found through MODMIG_MANIFEST, "
		             "MODMIG_DIR or ./modules, nor embedded migrations)");
	} else if (sequential) {
		rc = cli_usage_error(ctx, "'--sequential' needs '--dir': a module's files are "
		                          "numbered in its version range");
	} else if (n == 1) {
		rc = cli_usage_error(
		        ctx, "missing NAME after module '%s' (e.g. 'create %s add_invoices')",
		        args[0], args[0]);
	} else {
		rc = create_in_module(ctx, args[0], args[1]);
	}
cleanup:
	return rc;
}

/*
 * fix's report: "renamed A => B" lines, or {"dry_run":bool,"renamed":[{"from",
 * "to","from_version","to_version"}]}. The library reports the renames only
 * once all are done, so a failure never leaves half a document.
 */
typedef struct fix_report {
	const cli_context *ctx;
	bool dry_run;
	size_t count;
} fix_report;

static void json_open(const fix_report *report)
{
	printf("{\"dry_run\":%s,\"renamed\":[", report->dry_run ? "true" : "false");
}

static void on_rename(void *userdata, const modmig_rename *r)
{
	fix_report *report = userdata;

	if (report->ctx->json) {
		if (report->count == 0)
			json_open(report);
		printf("%s{\"from\":", report->count ? "," : "");
		cli_json_string(stdout, r->from);
		fputs(",\"to\":", stdout);
		cli_json_string(stdout, r->to);
		printf(",\"from_version\":%" PRId64 ",\"to_version\":%" PRId64 "}", r->from_version,
		       r->to_version);
	} else {
		printf("%s %s => %s\n", report->dry_run ? "would rename" : "renamed", r->from,
		       r->to);
	}
	report->count++;
}

/* --dry-run, fix's one option */
static int take_fix_option(cli_context *ctx, int opt, const char *value, void *data)
{
	fix_report *report = data;

	(void)ctx;
	(void)value;
	if (opt != CLI_OPT_DRY_RUN)
		return 0;
	report->dry_run = true;
	return 1;
}

int cli_cmd_fix(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	fix_report report = {ctx, false, 0};
	int rc = CLI_EXIT_OK;

	if (!cli_parse_options(ctx, cmd, argc, argv, take_fix_option, NULL, &report, &rc))
		goto cleanup;
	if (!ctx->dir) {
		rc = cli_report(
		        ctx, MODMIG_E_USAGE, NULL,
		        "pass --dir DIR for a goose directory; in a manifest, 'modmig -m "
		        "MANIFEST create MODULE NAME' numbers new files in the module's range",
		        "'fix' renumbers a plain goose directory: a module's versions are "
		        "fixed by its range");
		goto cleanup;
	}
	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_fix_dir(src, report.dry_run, on_rename, &report, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (ctx->json) {
		if (report.count == 0)
			json_open(&report);
		fputs("]}\n", stdout);
	} else if (report.count == 0 && ctx->verbosity >= 0) {
		printf("nothing to fix: no timestamped migrations in %s\n", ctx->dir);
	}
cleanup:
	modmig_error_free(err);
	modmig_source_free(src);
	return rc;
}
