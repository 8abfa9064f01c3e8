/*
 * connect.c - what a command works on: the migration source (-m, --dir, the
 * embedded set or the environment), --module checked against it, and the
 * connection, with SIGINT, SIGTERM and SIGHUP handled while it is open.
 *
 * Signals during online commands: the first signal cancels the running statement through
 * modmig_db_cancel() (the server rolls it back) and lets the library record what happened, release
 * the lock and return; the command then exits 130 (SIGINT) or 143 (SIGTERM,
 * SIGHUP) with one line. A second signal exits at once.
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The manifest found in the working directory when no source is named. */
#define DEFAULT_MANIFEST "modules/modules.yaml"

/* ---- signals while connected ------------------------------------------------ */

static modmig_db *volatile armed_db;
static volatile sig_atomic_t received;

static int exit_code_of(int sig)
{
	return sig == SIGINT ? 130 : 143;
}

/* Only async-signal-safe calls: modmig_db_cancel() (PQcancel), write, _exit. */
static void on_signal(int sig)
{
	static const char again[] = "modmig: interrupted again: exiting now, without waiting for "
	                            "the rollback\n";
	modmig_db *db = armed_db;

	if (received) {
		ssize_t ignored = write(STDERR_FILENO, again, sizeof(again) - 1);

		(void)ignored;
		_exit(exit_code_of(sig));
	}
	received = sig;
	if (db)
		modmig_db_cancel(db);
}

void cli_signals_arm(modmig_db *db)
{
	static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* libpq and stdio retry interrupted calls themselves; no EINTR surprises */
	sa.sa_flags = SA_RESTART;
	armed_db = db;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
	/* a signal that came while connecting finds the db armed now */
	if (received && db)
		modmig_db_cancel(db);
}

void cli_disconnect(modmig_db *db)
{
	if (db && armed_db == db)
		armed_db = NULL;
	modmig_db_free(db);
}

int cli_signal_received(void)
{
	return received;
}

int cli_signal_exit_code(void)
{
	return received ? exit_code_of(received) : 0;
}

const char *cli_signal_name(void)
{
	switch (received) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

/* ---- source and connection ------------------------------------------------------ */

int cli_open_source(cli_context *ctx, modmig_source **out)
{
	modmig_error *err = NULL;
	modmig_status st;
	int rc = 0;

	const char *env_manifest = getenv("MODMIG_MANIFEST");
	const char *env_dir = getenv("MODMIG_DIR");
	struct stat sb;

	/*
	 * DESIGN §7: -m, --dir, the program's own embedded migrations, then
	 * MODMIG_MANIFEST / MODMIG_DIR, then ./modules/modules.yaml. Never a
	 * fallback to migrations the user did not point at.
	 */
	if (ctx->manifest)
		st = modmig_source_new_manifest(ctx->manifest, out, &err);
	else if (ctx->dir)
		st = modmig_source_new_dir(ctx->dir, ctx->table, out, &err);
	else if (ctx->files)
		st = modmig_source_new_embedded(ctx->files, ctx->file_count, out, &err);
	else if (env_manifest && *env_manifest)
		st = modmig_source_new_manifest(env_manifest, out, &err);
	else if (env_dir && *env_dir)
		st = modmig_source_new_dir(env_dir, ctx->table, out, &err);
	else if (stat(DEFAULT_MANIFEST, &sb) == 0)
		st = modmig_source_new_manifest(DEFAULT_MANIFEST, out, &err);
	else {
		*out = NULL;
		return cli_usage_error(
		        ctx, "no migrations: pass -m MANIFEST or --dir DIR, set "
		             "MODMIG_MANIFEST or MODMIG_DIR, or run where " DEFAULT_MANIFEST " is");
	}
	if (st != MODMIG_OK) {
		*out = NULL;
		rc = cli_report_failure(ctx, st, err);
	} else {
		modmig_source_set_max_file_size(*out, ctx->max_file_size);
	}
	modmig_error_free(err);
	return rc;
}

int cli_connect(cli_context *ctx, modmig_db **out)
{
	modmig_error *err = NULL;
	modmig_status st;
	int rc = 0;

	st = modmig_db_connect(ctx->database, out, &err);
	if (st != MODMIG_OK) {
		*out = NULL;
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	cli_signals_arm(*out);
	modmig_db_set_log(*out, cli_log_event, ctx);
	/* the library waits forever by default; the command line gives up after a while */
	modmig_db_set_lock_timeout(*out, ctx->lock_timeout_ms >= 0 ? ctx->lock_timeout_ms
	                                                           : CLI_DEFAULT_LOCK_WAIT_MS);
	modmig_db_set_lock_mode(*out, ctx->lock_table ? MODMIG_LOCK_TABLE : MODMIG_LOCK_SESSION);
	if (ctx->verbosity > 0)
		fprintf(stderr, "connected to %s\n", modmig_db_display(*out));
cleanup:
	modmig_error_free(err);
	return rc;
}

int cli_check_module(const cli_context *ctx, const modmig_source *src, const char *name)
{
	char *known = NULL;
	size_t known_len = 0;
	FILE *list = NULL;
	int rc = 0;

	if (!name || modmig_source_find_module(src, name))
		goto cleanup;
	if (modmig_source_is_dir(src)) {
		rc = cli_usage_error(ctx, "option '--module' needs a manifest; a --dir source has "
		                          "no modules");
		goto cleanup;
	}
	list = open_memstream(&known, &known_len);
	if (list) {
		cli_suggest s;

		cli_suggest_init(&s, name);
		for (size_t i = 0; i < modmig_source_module_count(src); i++)
			cli_suggest_add(&s, modmig_module_name(modmig_source_module_at(src, i)));
		if (s.best)
			fprintf(list, "did you mean '%s'? ", s.best);
		for (size_t i = 0; i < modmig_source_module_count(src); i++)
			fprintf(list, "%s%s", i ? ", " : "known modules: ",
			        modmig_module_name(modmig_source_module_at(src, i)));
		fclose(list);
	}
	rc = cli_report(ctx, MODMIG_E_NOT_FOUND, NULL, known, "unknown module '%s'", name);
cleanup:
	free(known);
	return rc;
}
