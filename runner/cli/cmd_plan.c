/*
 * cmd_plan.c - `modmig plan -o FILE`: write a reviewed plan of what `up`
 * would apply and print it. `up --plan FILE` (cmd_online.c) applies it;
 * both read their options with cli_parse_up_options().
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void print_plan_json(const char *path, const modmig_result *result)
{
	fputs("{\"plan\":", stdout);
	cli_json_string(stdout, path);
	fputs(",\"migrations\":[", stdout);
	for (size_t i = 0; i < modmig_result_count(result); i++) {
		const modmig_result_row *row = modmig_result_at(result, i);

		printf("%s{\"version\":%" PRId64 ",\"module\":", i ? "," : "", row->version);
		cli_json_string(stdout, row->module);
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, row->file);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

/* The plan as written, so what is reviewed on screen is what is in the file. */
static int print_plan(const cli_context *ctx, const char *path, const modmig_result *result)
{
	char buf[8192];
	size_t n;
	FILE *f;

	if (ctx->json) {
		print_plan_json(path, result);
		return CLI_EXIT_OK;
	}
	if (ctx->verbosity < 0)
		return CLI_EXIT_OK;
	f = fopen(path, "r");
	if (!f)
		return cli_report(ctx, MODMIG_E_IO, path, NULL, "cannot read back the plan %s",
		                  path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	printf("# next: review %s, then apply exactly this with: modmig up --plan %s\n", path,
	       path);
	return CLI_EXIT_OK;
}

int cli_cmd_plan(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	modmig_up_options opts;
	modmig_status st;
	const char *output = NULL;
	int rc;

	modmig_up_options_init(&opts);
	if (!cli_parse_up_options(ctx, cmd, argc, argv, &opts, &output, &rc))
		goto cleanup;
	rc = cli_open_source(ctx, &src);
	if (rc == CLI_EXIT_OK)
		rc = cli_check_module(ctx, src, opts.module);
	if (rc == CLI_EXIT_OK)
		rc = cli_connect(ctx, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_plan_write(db, src, &opts, output, &result, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	rc = print_plan(ctx, output, result);
cleanup:
	modmig_result_free(result);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
