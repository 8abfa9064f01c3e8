/*
 * events.c - the log callback that turns the library's events into progress
 * lines: one line per migration on stdout, failures and waits on stderr.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void print_migration_line(const cli_context *ctx, FILE *out, const char *action,
                                 cli_color color, const modmig_event *event)
{
	bool to_err = out == stderr;
	char version[32];

	if (!event->migration) {
		fprintf(out, "%s%-11s%s %s\n", cli_color_on(ctx, to_err, color), action,
		        cli_color_off(ctx, to_err), event->message);
		return;
	}
	cli_format_version(version, modmig_migration_version(event->migration));
	fprintf(out, "%s%-11s%s %s  %-*s  %-*s  (%.1f ms)\n", cli_color_on(ctx, to_err, color),
	        action, cli_color_off(ctx, to_err), version, ctx->module_width,
	        cli_module_name(event->migration), ctx->name_width,
	        modmig_migration_name(event->migration), event->duration_ms);
}

/*
 * A dry run's event starts a new step when its migration or direction is
 * not the last one's: remember it for the summary and --json. Returns
 * whether it is new.
 */
static bool dry_run_step(cli_context *ctx, const modmig_event *event)
{
	const modmig_migration *m = event->migration;

	if (!m || (m == ctx->last_dry_run && event->direction == ctx->last_dry_direction))
		return false;
	ctx->last_dry_run = m;
	ctx->last_dry_direction = event->direction;
	if (ctx->dry_step_count == ctx->dry_step_cap) {
		size_t cap = ctx->dry_step_cap ? ctx->dry_step_cap * 2 : 16;
		cli_dry_step *grown = realloc(ctx->dry_steps, cap * sizeof(*ctx->dry_steps));

		if (!grown)
			return true; /* the list comes out short; the dry run itself is unharmed */
		ctx->dry_steps = grown;
		ctx->dry_step_cap = cap;
	}
	/* a unit's event says where the step starts; one without a unit sends none */
	ctx->dry_steps[ctx->dry_step_count++] = (cli_dry_step){
	        m, event->direction, event->sql == NULL,
	        event->unit > 0 ? (size_t)event->unit - 1 : (size_t)event->unit_count};
	return true;
}

/*
 * "-- would apply 01002 db  FILE", then each unit's line and SQL; a
 * migration that would only be recorded (stamp, --mark-only) has no units.
 */
static void print_dry_run(cli_context *ctx, const modmig_event *event, bool new_step)
{
	const modmig_migration *m = event->migration;
	bool up = event->direction == MODMIG_UP;
	size_t len = event->sql ? strlen(event->sql) : 0;

	if (m && new_step) {
		char version[32];

		cli_format_version(version, modmig_migration_version(m));
		printf("%s-- would %s %s %s  %s%s%s\n", cli_color_on(ctx, false, CLI_CYAN),
		       event->sql ? (up ? "apply" : "roll back") : (up ? "stamp" : "mark"), version,
		       cli_module_name(m), modmig_migration_file(m),
		       event->sql || up ? "" : " as rolled back, without running its Down section",
		       cli_color_off(ctx, false));
	}
	if (event->sql && !event->sql[0]) {
		printf("%s-- (no statements)%s\n", cli_color_on(ctx, false, CLI_DIM),
		       cli_color_off(ctx, false));
	} else if (event->sql) {
		if (event->line > 0)
			printf("%s-- line %d%s\n", cli_color_on(ctx, false, CLI_DIM), event->line,
			       cli_color_off(ctx, false));
		fputs(event->sql, stdout);
		if (len == 0 || event->sql[len - 1] != '\n')
			fputc('\n', stdout);
	}
}

/* A log gets a progress line at the first report, then one every 30 s. */
#define LOG_PROGRESS_EVERY_MS 30000

/* End the live line on a terminal, so the next output starts on a clean line. */
static void end_live(cli_context *ctx)
{
	if (!ctx->live_open)
		return;
	fputs("\r\033[K", stdout);
	fflush(stdout);
	ctx->live_open = false;
}

/*
 * "applying   02001  identity  identity_init" and, while it runs, where it
 * is: "unit 2/3 (line 14), 12 s, building index: scanning table 42%".
 */
static void print_running(cli_context *ctx, const modmig_event *event)
{
	const modmig_migration *m = event->migration;
	bool progress = event->kind == MODMIG_EVENT_PROGRESS;
	char version[32];

	if (!m)
		return;
	cli_format_version(version, modmig_migration_version(m));
	if (ctx->stdout_tty)
		fputs("\r\033[K", stdout);
	printf("%s%-11s%s %s  %-*s  %-*s", cli_color_on(ctx, false, CLI_DIM),
	       progress                        ? "running"
	       : event->direction == MODMIG_UP ? "applying"
	                                       : "rolling back",
	       cli_color_off(ctx, false), version, ctx->module_width, cli_module_name(m),
	       progress ? ctx->name_width : 0, modmig_migration_name(m));
	if (progress) {
		if (event->unit > 0)
			printf("  unit %d/%d (line %d),", event->unit, event->unit_count,
			       event->line);
		else
			printf("  %d units in one transaction,", event->unit_count);
		printf(" %.0f s", event->duration_ms / 1000);
		if (event->phase && event->percent >= 0)
			printf(", %s %.0f%%", event->phase, event->percent);
		else if (event->phase)
			printf(", %s", event->phase);
	}
	if (ctx->stdout_tty) {
		/* the line stays open: the next report or the result rewrites it */
		fflush(stdout);
		ctx->live_open = true;
	} else {
		fputc('\n', stdout);
	}
}

static void on_running(cli_context *ctx, const modmig_event *event)
{
	if (event->kind == MODMIG_EVENT_STARTED) {
		ctx->last_progress_ms = 0;
		print_running(ctx, event);
		return;
	}
	/* PROGRESS: every report on a terminal, the first and then every 30 s in a log */
	if (!ctx->stdout_tty && ctx->last_progress_ms > 0 &&
	    event->duration_ms - ctx->last_progress_ms < LOG_PROGRESS_EVERY_MS)
		return;
	ctx->last_progress_ms = event->duration_ms;
	print_running(ctx, event);
}

void cli_log_event(void *userdata, const modmig_event *event)
{
	cli_context *ctx = userdata;
	/* --json owns stdout; progress lines would make it invalid */
	bool lines = ctx->verbosity >= 0 && !ctx->json;

	if (event->kind == MODMIG_EVENT_STARTED || event->kind == MODMIG_EVENT_PROGRESS) {
		if (lines)
			on_running(ctx, event);
		return;
	}
	end_live(ctx);
	switch (event->kind) {
	case MODMIG_EVENT_APPLIED:
		if (lines)
			print_migration_line(ctx, stdout, "applied", CLI_GREEN, event);
		break;
	case MODMIG_EVENT_ROLLED_BACK:
		if (lines)
			print_migration_line(ctx, stdout, "rolled back", CLI_YELLOW, event);
		break;
	case MODMIG_EVENT_STAMPED:
		if (lines)
			print_migration_line(ctx, stdout, "stamped", CLI_CYAN, event);
		break;
	case MODMIG_EVENT_FAILED:
		/* an interruption is reported in one line at the end */
		if (!cli_signal_received())
			print_migration_line(ctx, stderr, "failed", CLI_RED, event);
		break;
	case MODMIG_EVENT_DRY_RUN: {
		bool new_step = dry_run_step(ctx, event);

		if (!ctx->json)
			print_dry_run(ctx, event, new_step);
		break;
	}
	case MODMIG_EVENT_LOCK_WAIT:
		/* the message says "waiting for ..." itself */
		fprintf(stderr, "%s%s%s\n", cli_color_on(ctx, true, CLI_YELLOW), event->message,
		        cli_color_off(ctx, true));
		break;
	case MODMIG_EVENT_OUT_OF_ORDER:
		cli_warn(ctx, "%s", event->message);
		break;
	case MODMIG_EVENT_MESSAGE:
		if (event->level >= MODMIG_LOG_ERROR)
			fprintf(stderr, "modmig: %s\n", event->message);
		else if (event->level == MODMIG_LOG_WARN)
			cli_warn(ctx, "%s", event->message);
		else if (ctx->verbosity > 0)
			fprintf(stderr, "%s%s%s\n", cli_color_on(ctx, true, CLI_DIM),
			        event->message, cli_color_off(ctx, true));
		break;
	case MODMIG_EVENT_REPAIRED:
		/* what repair recorded (or would) is its output */
		if (lines)
			printf("%s\n", event->message);
		break;
	case MODMIG_EVENT_STARTED:
	case MODMIG_EVENT_PROGRESS:
		break; /* above */
	}
}
