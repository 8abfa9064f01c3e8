/*
 * cmd_online.c - the commands that talk to the database: up, down, redo,
 * reset, status and version.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Progress lines line up when every column is as wide as its longest entry. */
static void measure_columns(cli_context *ctx, const modmig_source *src)
{
	for (size_t i = 0; i < modmig_source_migration_count(src); i++) {
		const modmig_migration *m = modmig_source_migration_at(src, i);
		int module = (int)strlen(cli_module_name(m));
		int name = (int)strlen(modmig_migration_name(m));

		ctx->module_width = module > ctx->module_width ? module : ctx->module_width;
		ctx->name_width = name > ctx->name_width ? name : ctx->name_width;
	}
}

/* Source first: a bad manifest or --module must fail before any connection. */
int cli_open_online(cli_context *ctx, const char *module, modmig_source **src, modmig_db **db)
{
	int rc = cli_open_source(ctx, src);

	if (rc == CLI_EXIT_OK) {
		measure_columns(ctx, *src);
		rc = cli_check_module(ctx, *src, module);
	}
	if (rc == CLI_EXIT_OK)
		rc = cli_connect(ctx, db);
	return rc;
}

/* The version after the command: from its result when known, else asked. */
static int current_version(cli_context *ctx, modmig_db *db, const modmig_source *src,
                           const modmig_result *result, int64_t *version)
{
	modmig_error *err = NULL;
	modmig_status st = MODMIG_OK;
	int rc = CLI_EXIT_OK;

	*version = modmig_result_version(result);
	if (*version < 0)
		st = modmig_db_version(db, src, version, &err);
	if (st != MODMIG_OK)
		rc = cli_report_failure(ctx, st, err);
	modmig_error_free(err);
	return rc;
}

static void print_migration_fields(const modmig_source *src, int64_t version, const char *module,
                                   const char *file)
{
	const modmig_migration *m = modmig_source_find(src, version);

	printf("{\"version\":%" PRId64 ",\"module\":", version);
	cli_json_string(stdout, module);
	fputs(",\"name\":", stdout);
	cli_json_string(stdout, m ? modmig_migration_name(m) : NULL);
	fputs(",\"file\":", stdout);
	cli_json_string(stdout, file);
}

/*
 * {"migrations":[{"version","module","name","file","direction","duration_ms"}],
 * "version":V}; a dry run: {"dry_run":true,"migrations":[{...,"direction",
 * "no_transaction","units":[{"line","sql"}]}],"version":V}, each step in the
 * order it would run (redo: down, then up); a --mark-only step has
 * "mark_only":true and no units
 */
static void print_result_json(const cli_context *ctx, const modmig_source *src,
                              const modmig_result *result, int64_t version)
{
	size_t count = result ? modmig_result_count(result) : 0;

	if (ctx->dry_run) {
		fputs("{\"dry_run\":true,\"migrations\":[", stdout);
		for (size_t i = 0; i < ctx->dry_step_count; i++) {
			const cli_dry_step *step = &ctx->dry_steps[i];
			const modmig_migration *m = step->migration;
			const modmig_module *module = modmig_migration_module(m);
			size_t units = step->recorded_only
			                       ? 0
			                       : modmig_migration_unit_count(m, step->direction);

			fputs(i ? "," : "", stdout);
			print_migration_fields(src, modmig_migration_version(m),
			                       module ? modmig_module_name(module) : NULL,
			                       modmig_migration_file(m));
			printf(",\"direction\":\"%s\",\"no_transaction\":%s%s,\"units\":[",
			       step->direction == MODMIG_UP ? "up" : "down",
			       modmig_migration_no_transaction(m) ? "true" : "false",
			       step->recorded_only ? ",\"mark_only\":true" : "");
			for (size_t u = step->first_unit; u < units; u++) {
				printf("%s{\"line\":%d,\"sql\":", u > step->first_unit ? "," : "",
				       modmig_migration_unit_line(m, step->direction, u));
				cli_json_string(stdout,
				                modmig_migration_unit_sql(m, step->direction, u));
				fputc('}', stdout);
			}
			fputs("]}", stdout);
		}
		printf("],\"version\":%" PRId64 "}\n", version);
		return;
	}
	fputs("{\"migrations\":[", stdout);
	for (size_t i = 0; i < count; i++) {
		const modmig_result_row *row = modmig_result_at(result, i);

		fputs(i ? "," : "", stdout);
		print_migration_fields(src, row->version, row->module, row->file);
		printf(",\"direction\":\"%s\",\"duration_ms\":%.3f}",
		       row->direction == MODMIG_UP ? "up" : "down", row->duration_ms);
	}
	printf("],\"version\":%" PRId64 "}\n", version);
}

/* redo's result holds a rollback and an apply; people count that as one migration */
static size_t count_rows(const modmig_result *result, modmig_direction direction)
{
	size_t count = 0;

	for (size_t i = 0; result && i < modmig_result_count(result); i++)
		count += modmig_result_at(result, i)->direction == direction;
	return count;
}

/* a dry run's steps in one direction */
static size_t count_dry_steps(const cli_context *ctx, modmig_direction direction)
{
	size_t count = 0;

	for (size_t i = 0; i < ctx->dry_step_count; i++)
		count += ctx->dry_steps[i].direction == direction;
	return count;
}

/* How the closing line of up, down, redo and reset speaks of their migrations. */
typedef struct summary_words {
	modmig_direction counted; /* the direction that counts (redo: up) */
	const char *done;         /* "applied" */
	const char *would;        /* "would run", for a dry run */
	const char *idle;         /* "nothing to do" */
} summary_words;

/*
 * The closing line of up, down, redo and reset: the migrations that went in
 * the counted direction and what happened to them, or would have (a dry
 * run), or that there was nothing to do.
 */
static int print_summary(cli_context *ctx, modmig_db *db, const modmig_source *src,
                         const modmig_result *result, const summary_words *w, double started)
{
	size_t count = count_rows(result, w->counted);
	size_t dry = count_dry_steps(ctx, w->counted);
	int64_t version = 0;
	char text[32];
	int rc = CLI_EXIT_OK;

	if (dry > 0 && !ctx->json) {
		printf("dry run: %zu migration%s %s; nothing was changed\n", dry,
		       dry == 1 ? "" : "s", w->would);
		goto cleanup;
	}
	if (count > 0 && !ctx->json) {
		printf("%zu migration%s %s in %.1f ms\n", count, count == 1 ? "" : "s", w->done,
		       cli_now_ms() - started);
		goto cleanup;
	}
	rc = current_version(ctx, db, src, result, &version);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	if (ctx->json) {
		print_result_json(ctx, src, result, version);
		goto cleanup;
	}
	cli_format_version(text, version);
	printf("%s, at version %s\n", w->idle, version ? text : "0");
cleanup:
	return rc;
}

/* Which selection options were given: what the options alone cannot tell. */
typedef struct up_given {
	bool to;      /* --to, even --to 0 */
	bool resume;  /* --resume */
	bool restart; /* --restart */
} up_given;

/* What up and plan read their options into. */
typedef struct up_args {
	modmig_up_options *opts;
	up_given given;
	const char **output; /* plan -o; NULL for up */
} up_args;

/*
 * One option of up or plan: the selection options both take, so that a plan
 * is written for exactly what up with them would apply, and each command's
 * own (cli_getopt() returns only those its row of commands.def lists).
 */
static int take_up_option(cli_context *ctx, int c, const char *value, void *data)
{
	up_args *a = data;
	modmig_up_options *opts = a->opts;

	switch (c) {
	case CLI_OPT_TO:
		if (!cli_parse_version(ctx, "--to", value, &opts->to))
			return -1;
		a->given.to = true;
		return 1;
	case CLI_OPT_BY_ONE:
		opts->by_one = true;
		return 1;
	case CLI_OPT_MODULE:
		opts->module = value;
		return 1;
	case CLI_OPT_STRICT:
		opts->strict = true;
		return 1;
	case CLI_OPT_RESUME:
		opts->resume = MODMIG_RESUME_CONTINUE;
		a->given.resume = true;
		return 1;
	case CLI_OPT_RESTART:
		opts->resume = MODMIG_RESUME_RESTART;
		a->given.restart = true;
		return 1;
	case CLI_OPT_DRY_RUN:
		opts->dry_run = true;
		ctx->dry_run = true;
		return 1;
	case CLI_OPT_PLAN:
		opts->plan_file = value;
		return 1;
	case CLI_OPT_ALLOW_UNREVIEWED:
		opts->allow_unreviewed = true;
		return 1;
	case CLI_OPT_OUTPUT:
		if (!a->output)
			return 0;
		*a->output = value;
		return 1;
	default:
		return 0;
	}
}

/*
 * The checks after parsing, before anything is opened: plan's -o, the
 * flags' own (--to 0; --resume with --restart, which the library's one
 * resume mode cannot even express; --to with --by-one), then the library's
 * modmig_up_options_check(), the one check of the options against each other.
 */
static bool check_up_options(cli_context *ctx, void *data)
{
	const up_args *a = data;
	const modmig_up_options *opts = a->opts;
	modmig_error *err = NULL;
	bool ok = false;

	if (a->output && !*a->output)
		cli_usage_error(ctx, "missing '-o FILE': the plan needs a file to be reviewed and "
		                     "applied with 'modmig up --plan FILE'");
	else if (a->given.to && opts->by_one)
		cli_usage_error(ctx, "options '--to' and '--by-one' cannot be used together");
	else if (a->given.resume && a->given.restart)
		cli_usage_error(ctx, "options '--resume' and '--restart' cannot be used together");
	else if (modmig_up_options_check(opts, &err) != MODMIG_OK &&
	         modmig_error_next_step(err) == MODMIG_NEXT_WRITE_PLAN)
		/* the library's plan conflict, worded in this command's flags */
		cli_usage_error(ctx,
		                "option '--plan' cannot be used with --to, --by-one, --module, "
		                "--strict, --resume or --restart: the plan fixes what runs");
	else if (err)
		cli_usage_error(ctx, "%s", modmig_error_message(err));
	else if (a->given.to && opts->to == 0)
		cli_usage_error(ctx, "invalid value '0' for '--to': expected a version number such "
		                     "as 2001");
	else
		ok = true;
	modmig_error_free(err);
	return ok;
}

bool cli_parse_up_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                          modmig_up_options *opts, const char **output, int *exit_code)
{
	up_args a = {opts, {false, false, false}, output};

	if (output)
		*output = NULL;
	return cli_parse_options(ctx, cmd, argc, argv, take_up_option, check_up_options, &a,
	                         exit_code);
}

int cli_cmd_up(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	modmig_up_options opts;
	modmig_status st;
	cli_timeouts t = {0};
	double started;
	int rc;

	modmig_up_options_init(&opts);
	if (!cli_parse_up_options(ctx, cmd, argc, argv, &opts, NULL, &rc))
		goto cleanup;
	cli_take_timeouts(ctx, &t);
	opts.lock_timeout = t.has_lock ? t.lock : NULL;
	opts.statement_timeout = t.has_statement ? t.statement : NULL;
	opts.production = ctx->production;
	rc = cli_open_online(ctx, opts.module, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	started = cli_now_ms();
	st = modmig_up(db, src, &opts, &result, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	rc = print_summary(ctx, db, src, result,
	                   &(summary_words){MODMIG_UP, "applied", "would run", "nothing to do"},
	                   started);
cleanup:
	modmig_result_free(result);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

/* down, redo and reset: what differs is the options they take and the call. */
typedef enum rollback_kind { ROLLBACK_DOWN, ROLLBACK_REDO, ROLLBACK_RESET } rollback_kind;

/* What down, redo and reset read their options into. */
typedef struct rollback_args {
	modmig_down_options *opts;
	bool yes;
} rollback_args;

/* One option of down, redo or reset (each takes those its row lists). */
static int take_rollback_option(cli_context *ctx, int c, const char *value, void *data)
{
	rollback_args *a = data;

	switch (c) {
	case CLI_OPT_TO:
		return cli_parse_version(ctx, "--to", value, &a->opts->to) ? 1 : -1;
	case CLI_OPT_MARK_ONLY:
		a->opts->mark_only = true;
		return 1;
	case CLI_OPT_DRY_RUN:
		a->opts->dry_run = ctx->dry_run = true;
		return 1;
	case CLI_OPT_MODULE:
		a->opts->module = value;
		return 1;
	case CLI_OPT_YES:
		a->yes = true;
		return 1;
	default:
		return 0;
	}
}

static int run_rollback(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                        rollback_kind kind)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	modmig_down_options opts;
	modmig_status st;
	cli_timeouts t = {0};
	double started;
	rollback_args a = {&opts, false};
	int rc;

	modmig_down_options_init(&opts);
	opts.all = kind == ROLLBACK_RESET;
	if (!cli_parse_options(ctx, cmd, argc, argv, take_rollback_option, NULL, &a, &rc))
		goto cleanup;
	/* a dry run needs no --yes; reset is refused in production all the same */
	rc = cli_production_guard(ctx,
	                          kind == ROLLBACK_RESET  ? "reset"
	                          : kind == ROLLBACK_DOWN ? "down"
	                                                  : "redo",
	                          a.yes || opts.dry_run);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	cli_take_timeouts(ctx, &t);
	opts.lock_timeout = t.has_lock ? t.lock : NULL;
	opts.statement_timeout = t.has_statement ? t.statement : NULL;
	rc = cli_open_online(ctx, opts.module, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	started = cli_now_ms();
	if (kind == ROLLBACK_REDO)
		st = modmig_redo_with(db, src, &opts, &result, &err);
	else
		st = modmig_down(db, src, &opts, &result, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (kind == ROLLBACK_REDO)
		rc = print_summary(ctx, db, src, result,
		                   &(summary_words){MODMIG_UP, "rolled back and applied again",
		                                    "would be rolled back and applied again",
		                                    "nothing to redo"},
		                   started);
	else
		rc = print_summary(ctx, db, src, result,
		                   &(summary_words){MODMIG_DOWN, "rolled back",
		                                    opts.mark_only
		                                            ? "would be marked as rolled back"
		                                            : "would be rolled back",
		                                    "nothing to roll back"},
		                   started);
cleanup:
	modmig_result_free(result);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

int cli_cmd_down(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	return run_rollback(ctx, cmd, argc, argv, ROLLBACK_DOWN);
}

int cli_cmd_redo(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	return run_rollback(ctx, cmd, argc, argv, ROLLBACK_REDO);
}

int cli_cmd_reset(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	return run_rollback(ctx, cmd, argc, argv, ROLLBACK_RESET);
}

int cli_cmd_version(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	int64_t version = 0;
	char **args = NULL;
	int rc;

	if (!cli_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL, &args, &rc))
		goto cleanup;
	rc = cli_open_online(ctx, NULL, &src, &db);
	if (rc == CLI_EXIT_OK)
		rc = current_version(ctx, db, src, NULL, &version);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	if (ctx->json)
		printf("{\"version\":%" PRId64 "}\n", version);
	else
		printf("%" PRId64 "\n", version);
cleanup:
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
