/*
 * cmd_status.c - modmig status: every migration with its state, then a
 * summary per module (applied, pending, missing, failed, no file, the last
 * applied version) and the totals; --module M narrows all of it to M.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static cli_color state_color(modmig_state state)
{
	switch (state) {
	case MODMIG_STATE_APPLIED:
		return CLI_GREEN;
	case MODMIG_STATE_PENDING:
		return CLI_YELLOW;
	default:
		return CLI_RED;
	}
}

static bool row_selected(const modmig_report_row *row, const char *module)
{
	return !module || (row->module && strcmp(row->module, module) == 0);
}

/* One module's line of the summary: its migrations by state, its last applied. */
typedef struct module_summary {
	const char *name;
	size_t counts[MODMIG_STATE_FAILED + 1];
	int64_t last; /* highest applied version, 0 when none */
} module_summary;

/*
 * The summary per module of the manifest, in its order (with --module, that
 * one), counted from the report's rows: nothing more is read from the
 * database. A --dir source has no modules and no summary (*count 0).
 */
static module_summary *summarize(const modmig_source *src, const modmig_report *report,
                                 const char *module, size_t *count)
{
	size_t n = modmig_source_is_dir(src) ? 0 : modmig_source_module_count(src), k = 0;
	module_summary *out = calloc(n ? n : 1, sizeof(*out));

	*count = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *name = modmig_module_name(modmig_source_module_at(src, i));

		if (!module || strcmp(module, name) == 0)
			out[k++].name = name;
	}
	for (size_t i = 0; i < modmig_report_count(report); i++) {
		const modmig_report_row *row = modmig_report_at(report, i);

		/* rows ascend by version and modules own ascending ranges: few compares */
		for (size_t j = 0; row->module && j < k; j++) {
			if (strcmp(row->module, out[j].name) != 0)
				continue;
			if ((size_t)row->state <= MODMIG_STATE_FAILED)
				out[j].counts[row->state]++;
			if (row->state == MODMIG_STATE_APPLIED ||
			    row->state == MODMIG_STATE_NO_FILE)
				out[j].last = row->version;
			break;
		}
	}
	*count = k;
	return out;
}

static void print_status_json(const modmig_report *report, const char *module,
                              const module_summary *modules, size_t module_count)
{
	size_t counts[MODMIG_STATE_FAILED + 1] = {0};
	bool first = true;

	fputs("{\"migrations\":[", stdout);
	for (size_t i = 0; i < modmig_report_count(report); i++) {
		const modmig_report_row *row = modmig_report_at(report, i);

		if (!row_selected(row, module))
			continue;
		if ((size_t)row->state <= MODMIG_STATE_FAILED)
			counts[row->state]++;
		printf("%s{\"version\":%" PRId64 ",\"module\":", first ? "" : ",", row->version);
		cli_json_string(stdout, row->module);
		fputs(",\"name\":", stdout);
		cli_json_string(stdout, row->name);
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, row->file);
		fputs(",\"state\":", stdout);
		cli_json_string(stdout, modmig_state_name(row->state));
		fputs(",\"applied_at\":", stdout);
		cli_json_string(stdout, row->applied_at);
		fputc('}', stdout);
		first = false;
	}
	fputs("],\"modules\":[", stdout);
	for (size_t i = 0; i < module_count; i++) {
		const module_summary *m = &modules[i];

		/* "last_version", not "version": a summary is not a migration */
		printf("%s{\"module\":", i ? "," : "");
		cli_json_string(stdout, m->name);
		printf(",\"applied\":%zu,\"pending\":%zu,\"missing\":%zu,\"failed\":%zu,"
		       "\"no_file\":%zu,\"last_version\":%" PRId64 "}",
		       m->counts[MODMIG_STATE_APPLIED], m->counts[MODMIG_STATE_PENDING],
		       m->counts[MODMIG_STATE_MISSING], m->counts[MODMIG_STATE_FAILED],
		       m->counts[MODMIG_STATE_NO_FILE], m->last);
	}
	printf("],\"applied\":%zu,\"pending\":%zu,\"missing\":%zu,\"failed\":%zu,"
	       "\"no_file\":%zu,\"current_version\":%" PRId64 ",\"warning\":",
	       counts[MODMIG_STATE_APPLIED], counts[MODMIG_STATE_PENDING],
	       counts[MODMIG_STATE_MISSING], counts[MODMIG_STATE_FAILED],
	       counts[MODMIG_STATE_NO_FILE], modmig_report_current_version(report));
	cli_json_string(stdout, modmig_report_warning(report));
	fputs("}\n", stdout);
}

/* The summary under the table: one line per module, aligned like it. */
static bool print_module_summary(const cli_context *ctx, const module_summary *modules,
                                 size_t count)
{
	static const char *const header[] = {"MODULE", "APPLIED", "PENDING",     "MISSING",
	                                     "FAILED", "NO_FILE", "LAST_VERSION"};
	enum { COLUMNS = sizeof(header) / sizeof(header[0]) };
	cli_table table;
	char cell[32];
	bool ok;

	if (count == 0)
		return true;
	ok = cli_table_init(&table, COLUMNS);
	for (size_t i = 0; ok && i < COLUMNS; i++)
		ok = cli_table_add(&table, header[i], CLI_PLAIN);
	for (size_t i = 0; ok && i < count; i++) {
		const module_summary *m = &modules[i];
		static const modmig_state order[] = {MODMIG_STATE_APPLIED, MODMIG_STATE_PENDING,
		                                     MODMIG_STATE_MISSING, MODMIG_STATE_FAILED,
		                                     MODMIG_STATE_NO_FILE};

		ok = cli_table_add(&table, m->name, CLI_CYAN);
		for (size_t j = 0; ok && j < sizeof(order) / sizeof(order[0]); j++) {
			size_t n = m->counts[order[j]];

			snprintf(cell, sizeof(cell), "%zu", n);
			ok = cli_table_add(&table, cell,
			                   n && j ? state_color(order[j]) : CLI_PLAIN);
		}
		if (m->last)
			cli_format_version(cell, m->last);
		else
			snprintf(cell, sizeof(cell), "-");
		ok = ok && cli_table_add(&table, cell, CLI_PLAIN);
	}
	if (ok) {
		fputc('\n', stdout);
		cli_table_print(ctx, &table, stdout);
	}
	cli_table_free(&table);
	return ok;
}

static int print_status_table(const cli_context *ctx, const modmig_report *report,
                              const char *module, const module_summary *modules,
                              size_t module_count)
{
	static const char *const header[] = {"VERSION", "MODULE", "NAME", "STATE", "APPLIED_AT"};
	size_t counts[MODMIG_STATE_FAILED + 1] = {0};
	int64_t current = modmig_report_current_version(report);
	char version[32];
	cli_table table;
	bool ok = cli_table_init(&table, 5);
	int rc = CLI_EXIT_OK;

	for (size_t i = 0; ok && i < 5; i++)
		ok = cli_table_add(&table, header[i], CLI_PLAIN);
	for (size_t i = 0; ok && i < modmig_report_count(report); i++) {
		const modmig_report_row *row = modmig_report_at(report, i);

		if (!row_selected(row, module))
			continue;
		if ((size_t)row->state <= MODMIG_STATE_FAILED)
			counts[row->state]++;
		cli_format_version(version, row->version);
		ok = cli_table_add(&table, version, CLI_PLAIN) &&
		     cli_table_add(&table, row->module ? row->module : "-", CLI_CYAN) &&
		     cli_table_add(&table, row->name ? row->name : "-", CLI_PLAIN) &&
		     cli_table_add(&table, modmig_state_name(row->state),
		                   state_color(row->state)) &&
		     cli_table_add(&table, row->applied_at ? row->applied_at : "-", CLI_DIM);
	}
	if (!ok) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	cli_table_print(ctx, &table, stdout);
	if (!print_module_summary(ctx, modules, module_count)) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	cli_format_version(version, current);
	printf("%zu applied, %zu pending, %zu missing, %zu no file", counts[MODMIG_STATE_APPLIED],
	       counts[MODMIG_STATE_PENDING], counts[MODMIG_STATE_MISSING],
	       counts[MODMIG_STATE_NO_FILE]);
	if (counts[MODMIG_STATE_FAILED])
		printf(", %zu failed", counts[MODMIG_STATE_FAILED]);
	printf("; current version %s\n", current ? version : "0");
cleanup:
	cli_table_free(&table);
	return rc;
}

int cli_cmd_status(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_report *report = NULL;
	module_summary *modules = NULL;
	size_t module_count = 0;
	modmig_error *err = NULL;
	modmig_status st;
	const char *module = NULL;
	char **args;
	int rc;

	if (!cli_parse_with_module(ctx, cmd, argc, argv, 0, 0, NULL, &module, &args, &rc))
		goto cleanup;
	rc = cli_open_online(ctx, module, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_db_status(db, src, &report, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	modules = summarize(src, report, module, &module_count);
	if (!modules) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	if (ctx->json)
		print_status_json(report, module, modules, module_count);
	else
		rc = print_status_table(ctx, report, module, modules, module_count);
cleanup:
	free(modules);
	modmig_report_free(report);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
