/*
 * cli_offline.c - the commands that need no database: validate, list,
 * inspect and sqlc-schemas (create and fix: cmd_create.c).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Load the source and parse every file, so units and tx modes are known. */
static int open_parsed_source(cli_context *ctx, modmig_source **src)
{
	modmig_error *err = NULL;
	modmig_status st;
	int rc;

	rc = cli_open_source(ctx, src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_source_parse(*src, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		modmig_source_free(*src);
		*src = NULL;
	}
cleanup:
	modmig_error_free(err);
	return rc;
}

/* validate's tally: every file's problem is reported, not only the first */
typedef struct validate_report {
	cli_context *ctx;
	size_t problems;
	int exit_code;
} validate_report;

static void on_parse_error(void *userdata, const modmig_error *err)
{
	validate_report *r = userdata;
	int rc = cli_report_error(r->ctx, err);

	if (r->problems++ == 0 || rc > r->exit_code)
		r->exit_code = rc;
}

/*
 * Statements only the lexer could split: the server may accept them (newer
 * syntax), or refuse them (a typo). Said, never an error: goose sends them too.
 */
static size_t warn_unparsed(const cli_context *ctx, const modmig_source *src)
{
	size_t count = 0;

	for (size_t i = 0; i < modmig_source_migration_count(src); i++) {
		const modmig_migration *m = modmig_source_migration_at(src, i);

		for (int d = MODMIG_UP; d <= MODMIG_DOWN; d++)
			for (size_t u = 0; u < modmig_migration_unit_count(m, d); u++) {
				if (modmig_migration_unit_parsed(m, d, u))
					continue;
				count++;
				fprintf(stderr,
				        "%s:%d:%d: %swarning%s: statement not parsed by "
				        "PostgreSQL's "
				        "grammar, only split by its lexer: newer syntax, or a typo "
				        "the "
				        "server will refuse\n",
				        modmig_migration_file(m),
				        modmig_migration_unit_line(m, d, u),
				        modmig_migration_unit_column(m, d, u),
				        cli_color_on(ctx, true, CLI_YELLOW),
				        cli_color_off(ctx, true));
			}
	}
	return count;
}

int cli_cmd_validate(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	validate_report report = {ctx, 0, CLI_EXIT_OK};
	cli_problems problems;
	char **args = NULL;
	size_t migrations, modules, unparsed;
	int rc;

	if (!cli_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL, &args, &rc))
		goto cleanup;
	/* --json: one document that lists every problem, as the text does */
	if (!cli_json_problems_start(ctx, &problems)) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	modmig_source_parse_each(src, on_parse_error, &report);
	unparsed = warn_unparsed(ctx, src);
	if (report.problems) {
		/* one error speaks for itself; several get a count */
		if (report.problems > 1)
			fprintf(stderr, "%zu problems found\n", report.problems);
		rc = report.exit_code;
		goto cleanup;
	}
	migrations = modmig_source_migration_count(src);
	modules = modmig_source_module_count(src);
	if (ctx->verbosity > 0)
		for (size_t i = 0; i < migrations; i++)
			cli_print_file_warnings(ctx, modmig_source_migration_at(src, i));
	if (ctx->json)
		printf("{\"ok\":true,\"migrations\":%zu,\"modules\":%zu,\"unparsed\":%zu}\n",
		       migrations, modules, unparsed);
	else if (modmig_source_is_dir(src))
		printf("ok: %zu migration%s in %s\n", migrations, migrations == 1 ? "" : "s",
		       modmig_source_origin(src));
	else
		printf("ok: %zu migration%s in %zu module%s\n", migrations,
		       migrations == 1 ? "" : "s", modules, modules == 1 ? "" : "s");
cleanup:
	cli_json_problems_flush(ctx);
	modmig_source_free(src);
	return rc;
}

static void print_list_json(const modmig_source *src)
{
	size_t count = modmig_source_migration_count(src);

	fputc('[', stdout);
	for (size_t i = 0; i < count; i++) {
		const modmig_migration *m = modmig_source_migration_at(src, i);
		const modmig_module *module = modmig_migration_module(m);

		printf("%s{\"version\":%" PRId64 ",\"module\":", i ? "," : "",
		       modmig_migration_version(m));
		cli_json_string(stdout, module ? modmig_module_name(module) : NULL);
		fputs(",\"name\":", stdout);
		cli_json_string(stdout, modmig_migration_name(m));
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, modmig_migration_file(m));
		printf(",\"no_transaction\":%s,\"up_units\":%zu,\"down_units\":%zu,\"sha256\":",
		       modmig_migration_no_transaction(m) ? "true" : "false",
		       modmig_migration_unit_count(m, MODMIG_UP),
		       modmig_migration_unit_count(m, MODMIG_DOWN));
		cli_json_string(stdout, modmig_migration_sha256(m));
		fputc('}', stdout);
	}
	fputs("]\n", stdout);
}

static int print_list_table(const cli_context *ctx, const modmig_source *src)
{
	static const char *const header[] = {"VERSION", "MODULE", "NAME", "TX", "UP", "DOWN"};
	size_t count = modmig_source_migration_count(src);
	cli_table table;
	bool ok = cli_table_init(&table, 6);
	int rc = CLI_EXIT_OK;

	for (size_t i = 0; ok && i < 6; i++)
		ok = cli_table_add(&table, header[i], CLI_PLAIN);
	for (size_t i = 0; ok && i < count; i++) {
		const modmig_migration *m = modmig_source_migration_at(src, i);
		bool no_tx = modmig_migration_no_transaction(m);
		char version[32];
		char up[32];
		char down[32];

		cli_format_version(version, modmig_migration_version(m));
		snprintf(up, sizeof(up), "%zu", modmig_migration_unit_count(m, MODMIG_UP));
		snprintf(down, sizeof(down), "%zu", modmig_migration_unit_count(m, MODMIG_DOWN));
		ok = cli_table_add(&table, version, CLI_PLAIN) &&
		     cli_table_add(&table, cli_module_name(m), CLI_CYAN) &&
		     cli_table_add(&table, modmig_migration_name(m), CLI_PLAIN) &&
		     cli_table_add(&table, no_tx ? "no-tx" : "tx",
		                   no_tx ? CLI_YELLOW : CLI_PLAIN) &&
		     cli_table_add(&table, up, CLI_PLAIN) && cli_table_add(&table, down, CLI_PLAIN);
	}
	if (!ok) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	cli_table_print(ctx, &table, stdout);
	printf("%zu migrations\n", count);
cleanup:
	cli_table_free(&table);
	return rc;
}

int cli_cmd_list(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	char **args = NULL;
	int rc;

	if (!cli_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL, &args, &rc))
		goto cleanup;
	rc = open_parsed_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	if (ctx->json)
		print_list_json(src);
	else
		rc = print_list_table(ctx, src);
cleanup:
	modmig_source_free(src);
	return rc;
}

static void print_units_json(const modmig_migration *m, modmig_direction dir)
{
	size_t count = modmig_migration_unit_count(m, dir);

	fputc('[', stdout);
	for (size_t i = 0; i < count; i++) {
		printf("%s{\"line\":%d,\"parsed\":%s,\"sql\":", i ? "," : "",
		       modmig_migration_unit_line(m, dir, i),
		       modmig_migration_unit_parsed(m, dir, i) ? "true" : "false");
		cli_json_string(stdout, modmig_migration_unit_sql(m, dir, i));
		fputc('}', stdout);
	}
	fputc(']', stdout);
}

/* What inspect shows of a file's warnings: where, which section, the message. */
static void print_warnings_json(const modmig_migration *m)
{
	size_t count = modmig_migration_warning_count(m);
	modmig_direction dir = MODMIG_UP;
	int line = 0, column = 0;

	fputc('[', stdout);
	for (size_t i = 0; i < count; i++) {
		const char *message = modmig_migration_warning_at(m, i, &line, &column, &dir);

		printf("%s{\"line\":%d,\"column\":%d,\"section\":\"%s\",\"message\":", i ? "," : "",
		       line, column, dir == MODMIG_UP ? "up" : "down");
		cli_json_string(stdout, message);
		fputc('}', stdout);
	}
	fputc(']', stdout);
}

static void print_units_text(const cli_context *ctx, const modmig_migration *m,
                             modmig_direction dir)
{
	const char *label = dir == MODMIG_UP ? "up" : "down";
	size_t count = modmig_migration_unit_count(m, dir);

	if (count == 0)
		printf("%s-- %s: no units%s\n", cli_color_on(ctx, false, CLI_DIM), label,
		       cli_color_off(ctx, false));
	for (size_t i = 0; i < count; i++) {
		const char *sql = modmig_migration_unit_sql(m, dir, i);
		size_t len = strlen(sql);

		printf("%s-- %s unit %zu of %zu, line %d%s%s\n", cli_color_on(ctx, false, CLI_CYAN),
		       label, i + 1, count, modmig_migration_unit_line(m, dir, i),
		       modmig_migration_unit_parsed(m, dir, i)
		               ? ""
		               : " (not parsed by PostgreSQL's grammar, only split by its lexer)",
		       cli_color_off(ctx, false));
		fputs(sql, stdout);
		if (len == 0 || sql[len - 1] != '\n')
			fputc('\n', stdout);
	}
}

int cli_cmd_inspect(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_migration *m = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char **args = NULL;
	int rc;

	if (!cli_parse_plain(ctx, cmd, argc, argv, 1, 1, "FILE: the migration to inspect", &args,
	                     &rc))
		goto cleanup;
	st = modmig_migration_parse_file_limit(args[0], ctx->max_file_size, &m, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (ctx->json) {
		printf("{\"version\":%" PRId64 ",\"no_transaction\":%s,\"up\":",
		       modmig_migration_version(m),
		       modmig_migration_no_transaction(m) ? "true" : "false");
		print_units_json(m, MODMIG_UP);
		fputs(",\"down\":", stdout);
		print_units_json(m, MODMIG_DOWN);
		fputs(",\"warnings\":", stdout);
		print_warnings_json(m);
		fputs("}\n", stdout);
		goto cleanup;
	}
	cli_print_file_warnings(ctx, m);
	printf("%s%s%s: version %" PRId64 ", %s\n", cli_color_on(ctx, false, CLI_BOLD), args[0],
	       cli_color_off(ctx, false), modmig_migration_version(m),
	       modmig_migration_no_transaction(m) ? "NO TRANSACTION (each unit autocommits)"
	                                          : "in one transaction");
	print_units_text(ctx, m, MODMIG_UP);
	print_units_text(ctx, m, MODMIG_DOWN);
cleanup:
	modmig_migration_free(m);
	modmig_error_free(err);
	return rc;
}

/* The whole file, or NULL when it cannot be read (errno tells why). */
static char *read_text_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;
	FILE *buffer = NULL;
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	buffer = open_memstream(&text, &len);
	if (!buffer)
		goto cleanup;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, buffer);
	/* text is only valid once the stream is closed, so close it in any case */
	if (fclose(buffer) != 0 || ferror(f)) {
		free(text);
		text = NULL;
	}
cleanup:
	fclose(f);
	return text;
}

/* Write through a temporary file so a failed write never leaves half a file. */
static bool write_text_file(const char *path, const char *text)
{
	size_t len = strlen(path) + sizeof(".tmp");
	char *tmp = malloc(len);
	FILE *f = NULL;
	bool ok = false;

	if (!tmp)
		goto cleanup;
	snprintf(tmp, len, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		goto cleanup;
	ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	ok = ok && rename(tmp, path) == 0;
	if (!ok)
		remove(tmp);
cleanup:
	free(tmp);
	return ok;
}

/* {"file":"sqlc_schemas.sql","written":bool,"up_to_date":true} */
static void print_sqlc_json(const char *path, bool written)
{
	fputs("{\"file\":", stdout);
	cli_json_string(stdout, path);
	printf(",\"written\":%s,\"up_to_date\":true}\n", written ? "true" : "false");
}

/* sqlc-schemas' options: --check and -o FILE. */
typedef struct sqlc_args {
	bool check;
	const char *path;
} sqlc_args;

static int take_sqlc_option(cli_context *ctx, int c, const char *value, void *data)
{
	sqlc_args *a = data;

	(void)ctx;
	if (c == CLI_OPT_CHECK)
		a->check = true;
	else if (c == CLI_OPT_OUTPUT)
		a->path = value;
	else
		return 0;
	return 1;
}

int cli_cmd_sqlc_schemas(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	static const char stale_hint[] = "run 'modmig sqlc-schemas' and commit the result";
	sqlc_args a = {false, "sqlc_schemas.sql"};
	modmig_source *src = NULL;
	char *wanted = NULL;
	char *current = NULL;
	int rc;

	if (!cli_parse_options(ctx, cmd, argc, argv, take_sqlc_option, NULL, &a, &rc))
		goto cleanup;
	rc = cli_open_source(ctx, &src);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	wanted = modmig_sqlc_schemas(src);
	if (!wanted) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	current = read_text_file(a.path);
	if (current && strcmp(current, wanted) == 0) {
		if (ctx->json)
			print_sqlc_json(a.path, false);
		else if (ctx->verbosity >= 0)
			printf("%s is up to date\n", a.path);
		goto cleanup;
	}
	if (a.check) {
		rc = cli_report(ctx, MODMIG_E_STALE, NULL, stale_hint,
		                current ? "%s is stale: it does not match the manifest"
		                        : "%s is missing",
		                a.path);
		goto cleanup;
	}
	if (!write_text_file(a.path, wanted)) {
		rc = cli_report(ctx, MODMIG_E_IO, a.path,
		                "check that the directory exists and is writable",
		                "cannot write the file");
		goto cleanup;
	}
	if (ctx->json)
		print_sqlc_json(a.path, true);
	else if (ctx->verbosity >= 0)
		printf("wrote %s\n", a.path);
cleanup:
	free(current);
	modmig_free(wanted);
	modmig_source_free(src);
	return rc;
}
