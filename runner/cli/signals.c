/*
 * signals.c - SIGINT, SIGTERM and SIGHUP during online commands. The first
 * signal cancels the running statement through modmig_db_cancel() (the
 * server rolls it back) and lets the library record what happened, release
 * the lock and return; the command then exits 130 (SIGINT) or 143 (SIGTERM,
 * SIGHUP) with one line. A second signal exits at once.
 */
#include "cli.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

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
