/*
 * cmd_ops.c - the operator's commands: verify, history, stamp and repair (doctor: cmd_doctor.c).
 */
#include "cli.h"

#include <stdarg.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Source first: a bad manifest or --module fails before any connection. */
static int open_both(cli_context *ctx, const char *module, modmig_source **src, modmig_db **db)
{
	int rc = cli_open_source(ctx, src);

	if (rc == CLI_EXIT_OK)
		rc = cli_check_module(ctx, *src, module);
	if (rc == CLI_EXIT_OK)
		rc = cli_connect(ctx, db);
	return rc;
}

static void version_text(char buf[32], int64_t version)
{
	if (version > 0)
		cli_format_version(buf, version);
	else
		snprintf(buf, 32, "-");
}

/* ---- verify ---------------------------------------------------------------- */

static cli_color finding_color(modmig_finding_kind kind)
{
	if (kind == MODMIG_FINDING_UNVERIFIED)
		return CLI_YELLOW;
	return kind == MODMIG_FINDING_PENDING || kind == MODMIG_FINDING_MISSING ? CLI_YELLOW
	                                                                        : CLI_RED;
}

static void print_findings_json(const modmig_findings *f)
{
	fputc('[', stdout);
	for (size_t i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		fputs(i ? ",{\"kind\":" : "{\"kind\":", stdout);
		cli_json_string(stdout, modmig_finding_kind_name(x->kind));
		printf(",\"version\":%" PRId64 ",\"module\":", x->version);
		cli_json_string(stdout, x->module);
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, x->file);
		char *message = cli_finding_message(x);

		fputs(",\"message\":", stdout);
		cli_json_string(stdout, message ? message : x->message);
		fputc('}', stdout);
		free(message);
	}
	fputs("]\n", stdout);
}

/* warnings_only: every finding is a warning (verify is clean) */
static void print_findings(const cli_context *ctx, const modmig_findings *f, bool warnings_only)
{
	size_t counts[MODMIG_FINDING_KIND_COUNT] = {0}, n = modmig_findings_count(f);
	char version[32];

	for (size_t i = 0; i < n; i++) {
		const modmig_finding *x = modmig_findings_at(f, i);
		char *message = cli_finding_message(x);

		if ((int)x->kind >= 0 && (int)x->kind < MODMIG_FINDING_KIND_COUNT)
			counts[x->kind]++;
		version_text(version, x->version);
		printf("%s%-12s%s  %s %s %s: %s\n",
		       cli_color_on(ctx, false, finding_color(x->kind)),
		       modmig_finding_kind_name(x->kind), cli_color_off(ctx, false), version,
		       x->module ? x->module : "-", x->file ? x->file : "-",
		       message ? message : x->message);
		free(message);
	}
	if (warnings_only)
		printf("%sok%s with %zu warning%s:", cli_color_on(ctx, false, CLI_GREEN),
		       cli_color_off(ctx, false), n, n == 1 ? "" : "s");
	else
		printf("%zu problem%s found:", n, n == 1 ? "" : "s");
	for (size_t k = 0, first = 1; k < MODMIG_FINDING_KIND_COUNT; k++) {
		if (!counts[k])
			continue;
		printf("%s %zu %s", first ? "" : ",", counts[k],
		       modmig_finding_kind_name((modmig_finding_kind)k));
		first = 0;
	}
	fputc('\n', stdout);
}

int cli_cmd_verify(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_findings *findings = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char **args = NULL;
	int rc;

	if (!cli_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL, &args, &rc))
		goto cleanup;
	rc = open_both(ctx, NULL, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_verify(db, src, &findings, &err);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	rc = modmig_exit_code(st);
	if (ctx->json)
		print_findings_json(findings);
	else if (st == MODMIG_OK && modmig_findings_count(findings) == 0)
		printf("%sok%s: %zu applied migration%s verified\n",
		       cli_color_on(ctx, false, CLI_GREEN), cli_color_off(ctx, false),
		       modmig_source_migration_count(src),
		       modmig_source_migration_count(src) == 1 ? "" : "s");
	else
		print_findings(ctx, findings, st == MODMIG_OK);
cleanup:
	modmig_findings_free(findings);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

/* ---- history --------------------------------------------------------------- */

static void print_history_json(const modmig_history *h)
{
	fputc('[', stdout);
	for (size_t i = 0; i < modmig_history_count(h); i++) {
		const modmig_history_row *r = modmig_history_at(h, i);

		printf("%s{\"id\":%" PRId64 ",\"at\":", i ? "," : "", r->id);
		cli_json_string(stdout, r->at);
		fputs(",\"event\":", stdout);
		cli_json_string(stdout, r->event);
		printf(",\"version\":%" PRId64 ",\"module\":", r->version);
		cli_json_string(stdout, r->module);
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, r->file);
		fputs(",\"sha256\":", stdout);
		cli_json_string(stdout, r->sha256);
		printf(",\"duration_ms\":%.3f,\"user\":", r->duration_ms);
		cli_json_string(stdout, r->db_user);
		fputs(",\"host\":", stdout);
		cli_json_string(stdout, r->client_host);
		fputs(",\"failed_unit\":", stdout);
		if (r->failed_unit > 0)
			printf("%d", r->failed_unit);
		else
			fputs("null", stdout);
		fputs(",\"error\":", stdout);
		cli_json_string(stdout, r->error);
		fputc('}', stdout);
	}
	fputs("]\n", stdout);
}

static cli_color event_color(const char *event)
{
	if (strcmp(event, "applied") == 0)
		return CLI_GREEN;
	if (strcmp(event, "rolled_back") == 0 || strcmp(event, "stamped") == 0)
		return CLI_YELLOW;
	if (strstr(event, "failed"))
		return CLI_RED;
	return CLI_CYAN;
}

static int print_history_table(const cli_context *ctx, const modmig_history *h)
{
	static const char *const header[] = {
	        "ID",   "AT", "EVENT", "VERSION", "MODULE",
	        "FILE", "MS", "USER",  "HOST",    "FAILED UNIT / ERROR"};
	char text[64], note[160];
	cli_table t;
	bool ok = cli_table_init(&t, 10);
	int rc = CLI_EXIT_OK, len;

	for (size_t i = 0; ok && i < 10; i++)
		ok = cli_table_add(&t, header[i], CLI_PLAIN);
	for (size_t i = 0; ok && i < modmig_history_count(h); i++) {
		const modmig_history_row *r = modmig_history_at(h, i);

		snprintf(text, sizeof(text), "%" PRId64, r->id);
		ok = cli_table_add(&t, text, CLI_DIM) && cli_table_add(&t, r->at, CLI_PLAIN) &&
		     cli_table_add(&t, r->event, event_color(r->event));
		version_text(text, r->version);
		ok = ok && cli_table_add(&t, text, CLI_PLAIN) &&
		     cli_table_add(&t, r->module ? r->module : "-", CLI_CYAN) &&
		     cli_table_add(&t, r->file ? r->file : "-", CLI_PLAIN);
		snprintf(text, sizeof(text), "%.1f", r->duration_ms);
		/* the error's first line: the table stays one line per event */
		len = r->error ? (int)strcspn(r->error, "\n") : 1;
		if (r->failed_unit > 0)
			snprintf(note, sizeof(note), "unit %d: %.*s", r->failed_unit, len,
			         r->error ? r->error : "-");
		else
			snprintf(note, sizeof(note), "%.*s", len, r->error ? r->error : "-");
		ok = ok && cli_table_add(&t, text, CLI_PLAIN) &&
		     cli_table_add(&t, r->db_user, CLI_PLAIN) &&
		     cli_table_add(&t, r->client_host ? r->client_host : "-", CLI_PLAIN) &&
		     cli_table_add(&t, note, r->error ? CLI_RED : CLI_PLAIN);
	}
	if (!ok) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	cli_table_print(ctx, &t, stdout);
cleanup:
	cli_table_free(&t);
	return rc;
}

/* One of history's options into the modmig_history_options at data. */
static int take_history_option(cli_context *ctx, int c, const char *value, void *data)
{
	modmig_history_options *opts = data;
	int64_t n;

	switch (c) {
	case CLI_OPT_MODULE:
		opts->module = value;
		return 1;
	case CLI_OPT_SINCE:
		opts->since = value;
		return 1;
	case CLI_OPT_AT_VERSION:
		return cli_parse_version(ctx, "--version", value, &opts->version) ? 1 : -1;
	case CLI_OPT_LIMIT:
		/* a count is read like a version: digits only */
		if (!cli_parse_count(ctx, "--limit", value, &n))
			return -1;
		opts->limit = (size_t)n;
		return 1;
	default:
		return 0;
	}
}

int cli_cmd_history(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_history_options opts = {0};
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_history *history = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	int rc;

	if (!cli_parse_options(ctx, cmd, argc, argv, take_history_option, NULL, &opts, &rc))
		goto cleanup;
	rc = open_both(ctx, opts.module, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_db_history_select(db, src, &opts, &history, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (ctx->json)
		print_history_json(history);
	else if (modmig_history_count(history) == 0)
		printf("no history: modmig has recorded no events%s%s%s in this database\n",
		       opts.module ? " for module " : "", opts.module ? opts.module : "",
		       opts.since || opts.version ? " that match" : "");
	else
		rc = print_history_table(ctx, history);
cleanup:
	modmig_history_free(history);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

/* ---- stamp ----------------------------------------------------------------- */

/* What stamp's events told, passed on to the CLI's usual log callback. */
typedef struct stamp_log {
	cli_context *ctx;
	const modmig_migration **stamped; /* borrowed from the source */
	size_t count;
	size_t cap;
	bool oom;
} stamp_log;

static void on_stamp_event(void *userdata, const modmig_event *event)
{
	stamp_log *log = userdata;

	if (event->kind == MODMIG_EVENT_STAMPED && event->migration) {
		if (log->count == log->cap) {
			size_t cap = log->cap ? log->cap * 2 : 16;
			const modmig_migration **grown =
			        realloc(log->stamped, cap * sizeof(*log->stamped));

			if (!grown) {
				log->oom = true;
				return;
			}
			log->stamped = grown;
			log->cap = cap;
		}
		log->stamped[log->count++] = event->migration;
		if (log->ctx->verbosity >= 0 && !log->ctx->json) {
			char version[32];

			/* like cli_log_event's lines, without a duration: nothing ran */
			cli_format_version(version, modmig_migration_version(event->migration));
			printf("%s%-11s%s %s  %-*s  %s\n", cli_color_on(log->ctx, false, CLI_CYAN),
			       "stamped", cli_color_off(log->ctx, false), version,
			       log->ctx->module_width, cli_module_name(event->migration),
			       modmig_migration_name(event->migration));
		}
		return;
	}
	if (event->kind == MODMIG_EVENT_MESSAGE && event->level == MODMIG_LOG_INFO &&
	    strncmp(event->message, "nothing to stamp", 16) == 0) {
		if (!log->ctx->json)
			printf("%s\n", event->message);
		return;
	}
	cli_log_event(log->ctx, event);
}

static void measure(cli_context *ctx, const modmig_source *src)
{
	for (size_t i = 0; i < modmig_source_migration_count(src); i++) {
		const modmig_migration *m = modmig_source_migration_at(src, i);
		int module = (int)strlen(cli_module_name(m)),
		    name = (int)strlen(modmig_migration_name(m));

		ctx->module_width = module > ctx->module_width ? module : ctx->module_width;
		ctx->name_width = name > ctx->name_width ? name : ctx->name_width;
	}
}

static void print_stamped_json(const modmig_migration *m, bool first)
{
	const modmig_module *module = modmig_migration_module(m);

	printf("%s{\"version\":%" PRId64 ",\"module\":", first ? "" : ",",
	       modmig_migration_version(m));
	cli_json_string(stdout, module ? modmig_module_name(module) : NULL);
	fputs(",\"file\":", stdout);
	cli_json_string(stdout, modmig_migration_file(m));
	fputs(",\"sha256\":", stdout);
	cli_json_string(stdout, modmig_migration_sha256(m));
	fputc('}', stdout);
}

/*
 * {"stamped":[{"version","module","file","sha256"}]}; a dry run, what it
 * would stamp: {"dry_run":true,"stamped":[...]}
 */
static void print_stamp_json(const cli_context *ctx, const stamp_log *log)
{
	size_t i;

	fputs(ctx->dry_run ? "{\"dry_run\":true,\"stamped\":[" : "{\"stamped\":[", stdout);
	for (i = 0; ctx->dry_run && i < ctx->dry_step_count; i++)
		print_stamped_json(ctx->dry_steps[i].migration, i == 0);
	for (i = 0; !ctx->dry_run && i < log->count; i++)
		print_stamped_json(log->stamped[i], i == 0);
	fputs("]}\n", stdout);
}

int cli_cmd_stamp(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_result *result = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	stamp_log log = {.ctx = ctx};
	modmig_stamp_options opts;
	const char *module = NULL;
	char **args = NULL;
	int64_t version = 0;
	int rc;

	if (!cli_parse_with_module(ctx, cmd, argc, argv, 1, 1, "version to stamp up to", &module,
	                           &args, &rc))
		goto cleanup;
	if (!cli_parse_version(ctx, "VERSION", args[0], &version)) {
		rc = CLI_EXIT_USAGE;
		goto cleanup;
	}
	/* stamp records migrations as applied that never ran: confirmed in production */
	if ((rc = cli_production_guard(ctx, "stamp", ctx->yes || ctx->dry_run)) != CLI_EXIT_OK)
		goto cleanup;
	rc = open_both(ctx, module, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	measure(ctx, src);
	modmig_db_set_log(db, on_stamp_event, &log);
	modmig_stamp_options_init(&opts);
	opts.version = version;
	opts.module = module;
	opts.dry_run = ctx->dry_run;
	st = modmig_stamp_with(db, src, &opts, &result, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (log.oom) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	if (ctx->json)
		print_stamp_json(ctx, &log);
	else if (ctx->dry_step_count)
		printf("dry run: %zu migration%s would be stamped as applied; nothing was "
		       "changed\n",
		       ctx->dry_step_count, ctx->dry_step_count == 1 ? "" : "s");
	else if (log.count)
		printf("%zu migration%s stamped as applied without running\n", log.count,
		       log.count == 1 ? "" : "s");
cleanup:
	free(log.stamped);
	modmig_result_free(result);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

/* ---- repair ---------------------------------------------------------------- */

/* What repair told: printed by the usual callback, kept for --json. */
typedef struct repair_log {
	cli_context *ctx;
	FILE *json; /* the "recorded" array's items, or NULL */
	size_t count;
} repair_log;

static void on_repair_event(void *userdata, const modmig_event *event)
{
	repair_log *log = userdata;
	const modmig_migration *m = event->migration;
	const modmig_module *module = m ? modmig_migration_module(m) : NULL;

	/* "nothing to record" is the answer, as "nothing to stamp" is stamp's */
	if (event->kind == MODMIG_EVENT_MESSAGE && event->level == MODMIG_LOG_INFO &&
	    strncmp(event->message, "nothing to ", 11) == 0) {
		if (!log->ctx->json && log->ctx->verbosity >= 0)
			printf("%s\n", event->message);
		return;
	}
	cli_log_event(log->ctx, event);
	if (event->kind != MODMIG_EVENT_REPAIRED || !log->json)
		return;
	fputs(log->count++ ? ",{\"version\":" : "{\"version\":", log->json);
	if (m)
		fprintf(log->json, "%" PRId64, modmig_migration_version(m));
	else
		fputs("null", log->json);
	fputs(",\"module\":", log->json);
	cli_json_string(log->json, module ? modmig_module_name(module) : NULL);
	fputs(",\"file\":", log->json);
	cli_json_string(log->json, m ? modmig_migration_file(m) : NULL);
	fputs(",\"sha256\":", log->json);
	cli_json_string(log->json, m ? modmig_migration_sha256(m) : NULL);
	fputs(",\"message\":", log->json);
	cli_json_string(log->json, event->message);
	fputc('}', log->json);
}

/* The repair options, one action each: the event it records and how it is named. */
static const struct {
	int option;
	modmig_repair_action action;
	const char *event;
} repair_actions[] = {
        {CLI_OPT_ACKNOWLEDGE, MODMIG_REPAIR_ACKNOWLEDGE, "acknowledged"},
        {CLI_OPT_ACCEPT_CHECKSUM, MODMIG_REPAIR_ACCEPT_CHECKSUM, "checksum_accepted"},
        {CLI_OPT_RECORD_CHECKSUMS, MODMIG_REPAIR_RECORD_CHECKSUMS, "checksum_recorded"},
        {CLI_OPT_RECREATE_TRIGGERS, MODMIG_REPAIR_RECREATE_TRIGGERS, "triggers_recreated"},
        {CLI_OPT_CLEAR_REGISTRY, MODMIG_REPAIR_CLEAR_REGISTRY, "registry_cleared"},
};
#define REPAIR_ACTIONS (sizeof(repair_actions) / sizeof(repair_actions[0]))

static int repair_action(int option)
{
	for (size_t i = 0; i < REPAIR_ACTIONS; i++)
		if (repair_actions[i].option == option)
			return (int)i;
	return -1;
}

/* A version to repair: 0 is none (it would mean every adopted row to --record-checksums). */
static bool repair_parse_version(cli_context *ctx, const char *option, const char *text,
                                 int64_t *out)
{
	if (!cli_parse_version(ctx, option, text, out))
		return false;
	if (*out > 0)
		return true;
	cli_usage_error(ctx, "invalid value '%s' for '%s': expected a version number such as 2001",
	                text, option);
	return false;
}

/* The version: --acknowledge V, --accept-checksum V, or --record-checksums' optional V. */
static bool repair_version(cli_context *ctx, cli_parser *p, int action, const char *arg,
                           modmig_repair_options *opts)
{
	int rest = cli_rest_count(p);

	if (action == MODMIG_REPAIR_ACKNOWLEDGE || action == MODMIG_REPAIR_ACCEPT_CHECKSUM)
		return cli_expect_args(p, 0, 0, NULL) &&
		       repair_parse_version(ctx,
		                            action == MODMIG_REPAIR_ACKNOWLEDGE
		                                    ? "--acknowledge"
		                                    : "--accept-checksum",
		                            arg, &opts->version);
	if (action != MODMIG_REPAIR_RECORD_CHECKSUMS || rest == 0)
		return cli_expect_args(p, 0, 0, NULL);
	return cli_expect_args(p, 0, 1, NULL) &&
	       repair_parse_version(ctx, "--record-checksums", cli_rest(p)[0], &opts->version);
}

int cli_cmd_repair(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_error *err = NULL;
	modmig_repair_options opts;
	modmig_status st;
	repair_log log = {.ctx = ctx};
	char *items = NULL;
	size_t items_len = 0;
	const char *arg = NULL;
	int actions = 0, action = -1, rc = CLI_EXIT_OK, c, which;
	bool yes = false;
	cli_parser p;

	modmig_repair_options_init(&opts);
	if (!cli_parser_init(&p, ctx, cmd, argc, argv)) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	while ((c = cli_getopt(&p)) != -1) {
		if ((which = repair_action(c)) >= 0) {
			action = which;
			arg = optarg;
			actions++;
			continue;
		}
		if (c == CLI_OPT_REASON || c == CLI_OPT_DRY_RUN || c == CLI_OPT_YES) {
			opts.reason = c == CLI_OPT_REASON ? optarg : opts.reason;
			opts.dry_run = opts.dry_run || c == CLI_OPT_DRY_RUN;
			yes = yes || c == CLI_OPT_YES;
			continue;
		}
		rc = p.exit_code;
		goto cleanup;
	}
	if (actions != 1) {
		rc = cli_usage_error(ctx, "repair takes exactly one of --acknowledge V, "
		                          "--accept-checksum V, --record-checksums [V], "
		                          "--recreate-triggers and --clear-registry");
		goto cleanup;
	}
	opts.action = repair_actions[action].action;
	if (!repair_version(ctx, &p, (int)opts.action, arg, &opts)) {
		rc = CLI_EXIT_USAGE;
		goto cleanup;
	}
	if (opts.action == MODMIG_REPAIR_ACCEPT_CHECKSUM && (!opts.reason || !*opts.reason)) {
		rc = cli_usage_error(ctx, "option '--accept-checksum' needs --reason TEXT: why the "
		                          "changed file is safe, recorded in the history");
		goto cleanup;
	}
	/* a dry run records nothing: it needs no confirmation */
	if (!opts.dry_run && (rc = cli_production_guard(ctx, "repair", yes)) != CLI_EXIT_OK)
		goto cleanup;
	rc = open_both(ctx, NULL, &src, &db);
	if (rc != CLI_EXIT_OK)
		goto cleanup;
	if (ctx->json && !(log.json = open_memstream(&items, &items_len))) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	modmig_db_set_log(db, on_repair_event, &log);
	st = modmig_repair(db, src, &opts, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (ctx->json) {
		fclose(log.json);
		log.json = NULL;
		printf("{\"action\":\"%s\",\"version\":", repair_actions[action].event);
		if (opts.version > 0)
			printf("%" PRId64, opts.version);
		else
			fputs("null", stdout);
		printf(",\"dry_run\":%s,\"reason\":", opts.dry_run ? "true" : "false");
		cli_json_string(stdout, opts.reason);
		printf(",\"recorded\":[%s]}\n", items ? items : "");
	}
cleanup:
	if (log.json)
		fclose(log.json);
	free(items);
	cli_parser_free(&p);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
