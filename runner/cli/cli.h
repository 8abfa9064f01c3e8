/*
 * cli.h - shared pieces of the modmig command-line tool. The CLI sees the
 * library only through include/modmig.h, like any other client would.
 */
#ifndef MODMIG_CLI_H
#define MODMIG_CLI_H

#include "modmig.h"
#include "modmig_cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* How long the command line waits for the migration lock without --lock-timeout. */
#define CLI_DEFAULT_LOCK_WAIT_MS (10 * 60 * 1000)

/* Exit codes that do not come from a modmig_status. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_USAGE = 2 };

/* Global options, valid before and after the command name. */
/*
 * One migration of a dry run and the way it would go (borrowed from the
 * source); recorded_only: nothing would run, only its record would change
 * (stamp, down --mark-only).
 */
typedef struct cli_dry_step {
	const modmig_migration *migration;
	modmig_direction direction;
	bool recorded_only;
	size_t first_unit; /* 0-based: a resumed NO TRANSACTION migration skips those done */
} cli_dry_step;

typedef struct cli_context {
	/* migrations compiled into the program (modmig_cli_config), or NULL */
	const modmig_embedded_file *files;
	size_t file_count;
	const char *database; /* -d; NULL lets the library fall back */
	char *database_copy;  /* -d's value, copied before argv was scrubbed (args.c) */
	const char *manifest; /* -m */
	const char *dir;      /* --dir */
	const char *table;    /* --table, with --dir only */
	bool json;
	int verbosity; /* -1 quiet, 0 normal, 1 verbose */
	bool no_color;
	/* --max-file-size; 0: the library's default */
	uint64_t max_file_size;
	int lock_timeout_ms; /* --lock-timeout; < 0: not given (CLI_DEFAULT_LOCK_WAIT_MS) */
	bool lock_table;     /* --lock table: the lease lock, for poolers in transaction mode */
	/* --statement-timeout, global like --lock-timeout: each migration's; < 0: none */
	int statement_timeout_ms;
	bool production; /* --production or MODMIG_ENV=production/prod (cli_main.c) */
	bool yes;        /* --yes, for commands parsed by cli_parse_with_module */
	bool color_out;  /* decided once options are known */
	bool color_err;
	const char *command; /* for hints, e.g. "up" */
	/* column widths for per-migration lines, from the source's longest names */
	int module_width;
	int name_width;
	/*
	 * Progress of a running migration (events.c): on a terminal one line
	 * rewritten in place (live_open while it stands unfinished); in a log, a
	 * line at the first report and then every 30 s (last_progress_ms).
	 */
	bool stdout_tty;
	bool live_open;
	double last_progress_ms;
	/*
	 * A dry run's steps in order, from its events (events.c): the closing
	 * summary counts them and --json lists them. The last step's migration
	 * and direction tell a new step's first event.
	 */
	cli_dry_step *dry_steps;
	size_t dry_step_count;
	size_t dry_step_cap;
	const modmig_migration *last_dry_run;
	modmig_direction last_dry_direction;
	bool dry_run; /* the command runs with --dry-run */
	/*
	 * --json promises one document on stdout for success and failure alike:
	 * the first error reported writes it, later ones only go to stderr. A
	 * pointer, so that reporting through a const context can set it.
	 */
	bool *json_error_written;
	/*
	 * When set (validate --json), each error reported is kept here instead
	 * of written, and cli_json_problems_flush() writes them all at the end.
	 */
	struct cli_problems *problems;
} cli_context;

/* The JSON objects of the errors reported so far, comma-separated. */
typedef struct cli_problems {
	FILE *stream; /* open_memstream over text */
	char *text;
	size_t len;
	size_t count;
	long first_end; /* where the first object ends in text */
} cli_problems;

typedef struct cli_command cli_command;
typedef int (*cli_run_fn)(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

/*
 * One row of the command table in main.c. New commands add a row there and a
 * run function anywhere in runner/cli_*.c.
 */
struct cli_command {
	const char *name;
	cli_run_fn run;
	const char *summary;     /* one line for `modmig --help` */
	const char *synopsis;    /* the arguments after the name in the usage line */
	const char *options;     /* its own options by long name, space-separated */
	const char *description; /* what it does, for `modmig CMD --help` */
};

/* One row of options.def. */
typedef struct cli_option {
	int id; /* CLI_OPT_<ID> */
	bool global;
	const char *name; /* long name without "--" */
	char letter;      /* short letter, or 0 */
	const char *arg;  /* value's name, or NULL for a flag */
	const char *help;
} cli_option;

/* Every option, ended by a row with name NULL (commands.c). */
extern const cli_option cli_options[];

const cli_command *cli_find_command(const char *name);
/* The i-th command of the table, or NULL past its end. */
const cli_command *cli_command_at(size_t i);
/* The option with this long name (len bytes of long_name), or NULL. */
const cli_option *cli_find_option(const char *long_name, size_t len);
void cli_print_command_help(const cli_command *cmd, FILE *out);
/* The usage line (without "usage: "), what modmig is, and the exit codes. */
extern const char cli_help_usage[];
extern const char cli_help_about[];
extern const char cli_help_exit[];

/* ---- option parsing (args.c) -------------------------------------------- */

/*
 * cli_getopt() returns CLI_OPT_STOP when the command must end now: after
 * --help (exit 0) or a usage error (exit 2, already reported); the exit code
 * is in parser->exit_code.
 */
enum { CLI_OPT_STOP = -2 };

/* Values of long-only options start here, past every short option letter. */
/*
 * Every option's value, from options.def: what cli_getopt() returns for it,
 * also when it was given by its short letter. Past every short letter.
 */
enum {
	CLI_OPT_FIRST_ = 255,
#define CLI_OPTION(id, global, name, letter, arg, help) CLI_OPT_##id,
#include "options.def"
#undef CLI_OPTION
	CLI_OPT_END_
};

typedef struct cli_parser {
	cli_context *ctx;
	const cli_command *cmd;
	int argc;
	char **argv;
	struct option *options; /* global + command options */
	char *shortopts;
	int exit_code;
	bool started;
} cli_parser;

/*
 * Prepare to read the options of cmd (NULL for the options before the
 * command): the global options and those its row of commands.def lists.
 * Returns false when out of memory.
 */
bool cli_parser_init(cli_parser *p, cli_context *ctx, const cli_command *cmd, int argc,
                     char **argv);
void cli_parser_free(cli_parser *p);
/* The next command option (its value, optarg set), -1 at the end, or CLI_OPT_STOP. */
int cli_getopt(cli_parser *p);
/* Positional arguments left after the options. */
int cli_rest_count(const cli_parser *p);
char **cli_rest(const cli_parser *p);

/*
 * For commands whose only options are the global ones: parse them, check
 * that there are min..max positional arguments (named `what` in the
 * message) and point *args at them. On false, *exit_code says how to end.
 */
bool cli_parse_plain(cli_context *ctx, const cli_command *cmd, int argc, char **argv, int min,
                     int max, const char *what, char ***args, int *exit_code);
/*
 * cli_parse_plain() that also takes '--module NAME' into *module (no --module
 * when module is NULL): the operator's commands that may work on one module
 * parse their arguments the same way as the plain ones.
 */
bool cli_parse_with_module(cli_context *ctx, const cli_command *cmd, int argc, char **argv, int min,
                           int max, const char *what, const char **module, char ***args,
                           int *exit_code);

/*
 * How a command takes one of its own options (opt, a CLI_OPT_ value, with
 * its value or NULL) into data: 1 when taken, 0 when it is not one the
 * command takes, -1 after reporting a usage error (a bad value).
 */
typedef int (*cli_take_fn)(cli_context *ctx, int opt, const char *value, void *data);
/* The options' checks against each other: false after reporting a usage error. */
typedef bool (*cli_check_fn)(cli_context *ctx, void *data);
/*
 * The option loop of a command with options of its own and no positional
 * arguments: each option through take(), then check() (may be NULL), then
 * no argument left. On false the command ends now with *exit_code: after
 * --help (0), a usage error (2, reported) or out of memory.
 */
bool cli_parse_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                       cli_take_fn take, cli_check_fn check, void *data, int *exit_code);
/*
 * cli_parse_options() for a command with positional arguments: min..max of
 * them (named `what` when missing, as cli_expect_args()), *args pointing at
 * them and *count (when not NULL) saying how many.
 */
bool cli_parse_options_args(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                            cli_take_fn take, void *data, int min, int max, const char *what,
                            char ***args, int *count, int *exit_code);

/*
 * With --json, the error document on stdout (once per run):
 * {"error":{"code","exit","message","hint","file","line","column","sqlstate",
 *  "detail","context","module","version","next_step"}}. err may be NULL, then
 * code, message, hint and file say it all.
 */
void cli_json_error(const cli_context *ctx, modmig_status code, const modmig_error *err,
                    const char *message, const char *hint, const char *file);
/*
 * Start keeping every error reported as one JSON object each (only with
 * --json); false when out of memory. Flush writes
 * {"error":FIRST,"problems":[ALL]} when any was kept, and frees them.
 */
bool cli_json_problems_start(cli_context *ctx, cli_problems *problems);
void cli_json_problems_flush(cli_context *ctx);
/* Report a usage problem: "modmig: <message>" and a hint; returns 2. */
int cli_usage_error(const cli_context *ctx, const char *fmt, ...) CLI_PRINTF(2, 3);
/*
 * cli_usage_error() with a "did you mean 'PREFIX NEAR'?" line before the
 * hint when near is not NULL (suggest.c finds it).
 */
int cli_usage_error_near(const cli_context *ctx, const char *prefix, const char *near,
                         const char *fmt, ...) CLI_PRINTF(4, 5);

/* ---- did you mean (suggest.c) ------------------------------------------------ */

/* The nearest name so far to a mistyped word: feed candidates, read best. */
typedef struct cli_suggest {
	const char *word;
	const char *best; /* NULL while nothing is near enough */
	size_t best_distance;
} cli_suggest;

void cli_suggest_init(cli_suggest *s, const char *word);
void cli_suggest_add(cli_suggest *s, const char *candidate);
/* The command (or "help") nearest to word, or NULL. */
const char *cli_suggest_command(const char *word);

/*
 * Hidden commands (gen.c): `modmig __complete bash|zsh` and `modmig __man`
 * print the completion scripts and the man page, generated from the rows of
 * commands.def and options.def. meson runs them at build time.
 */
int cli_generate(int argc, char **argv);
/* Check the positional count; reports and returns false when it is wrong. */
bool cli_expect_args(const cli_parser *p, int min, int max, const char *what);
/* "--to" values: a non-negative version number. */
bool cli_parse_version(const cli_context *ctx, const char *option, const char *text, int64_t *out);
/* "--limit" values: a positive count. */
bool cli_parse_count(const cli_context *ctx, const char *option, const char *text, int64_t *out);
/* "500ms", "30s", "2m", "1h" or "0"; a number without a unit is refused. */
bool cli_parse_duration_ms(const cli_context *ctx, const char *option, const char *text, int *out);
/* "64MiB", "500k", "1G", or plain bytes; binary units. */
bool cli_parse_size(const cli_context *ctx, const char *option, const char *text, uint64_t *out);

/*
 * up's and plan's options into opts (output NULL: up; else plan, whose -o
 * FILE it sets): the selection options both take, so that a plan is written
 * for exactly what up with them would apply, then their checks (the flags'
 * own, then modmig_up_options_check()). On false the command ends now with
 * *exit_code, as cli_parse_options() (cmd_online.c).
 */
bool cli_parse_up_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                          modmig_up_options *opts, const char **output, int *exit_code);

/* ---- source and connection (connect.c) ----------------------------------- */

/* The embedded set, -m MANIFEST or --dir DIR. Returns an exit code, reports errors. */
int cli_open_source(cli_context *ctx, modmig_source **out);
/*
 * The log callback for every command that connects (userdata: the context):
 * one line per applied or rolled-back migration, warnings to stderr.
 */
void cli_log_event(void *userdata, const modmig_event *event);
/* Connect (with -d or the library's fallback), set the log and lock timeout. */
int cli_connect(cli_context *ctx, modmig_db **out);
/*
 * The source, --module checked against it, then the connection: a bad
 * manifest or module fails before connecting (cmd_online.c).
 */
int cli_open_online(cli_context *ctx, const char *module, modmig_source **src, modmig_db **db);

/* ---- signals (connect.c) ------------------------------------------------- */

/*
 * Online commands run with SIGINT, SIGTERM and SIGHUP armed (cli_connect):
 * the first cancels what db runs (modmig_db_cancel), the second exits at
 * once. cli_disconnect() disarms and frees db.
 */
void cli_signals_arm(modmig_db *db);
void cli_disconnect(modmig_db *db);
/* The signal received (0 when none), its exit code (130 or 143) and name. */
int cli_signal_received(void);
int cli_signal_exit_code(void);
const char *cli_signal_name(void);
/* An exit code for --module NAME: 0 when the source has it, else 2 (reported). */
int cli_check_module(const cli_context *ctx, const modmig_source *src, const char *name);

/* ---- shadow databases (cmd_schema.c) ---------------------------------------- */

/* What a command runs on a shadow database (data: its arguments and results). */
typedef modmig_status (*cli_shadow_fn)(modmig_shadow *shadow, void *data, modmig_error **err);
/*
 * Open a shadow database on dev_url (the target db's server when NULL), run
 * use() on it and drop it, whatever happened. Meanwhile SIGINT, SIGTERM and
 * SIGHUP cancel what runs on it (modmig_shadow_interrupt) so that it is
 * dropped; cli_shadow_caught() then says so on stderr and returns 128 + the
 * signal, or 0 when none came. A failure to drop it is reported through
 * ctx, or ignored when ctx is NULL (doctor's drift item). Returns what
 * opening it or use() returned, *err filled.
 */
modmig_status cli_on_shadow(const cli_context *ctx, modmig_db *db, const char *dev_url,
                            cli_shadow_fn use, void *data, modmig_error **err);
/* cli_on_shadow() with modmig_drift(): drift and doctor's drift item. */
modmig_status cli_drift_on_shadow(const cli_context *ctx, modmig_db *db, modmig_source *src,
                                  const char *dev_url, const modmig_schema_options *opts,
                                  modmig_schema_diff **diff, modmig_error **err);
int cli_shadow_caught(void);

/* ---- operations (cli_guard.c) ------------------------------------------- */

/* Per-migration timeouts as server settings, e.g. "1500ms", when has_* is set. */
typedef struct cli_timeouts {
	char lock[32];
	char statement[32];
	bool has_lock, has_statement;
} cli_timeouts;

/*
 * The global --lock-timeout (which also bounds the wait for the migration
 * lock) and --statement-timeout as each migration's settings.
 */
void cli_take_timeouts(const cli_context *ctx, cli_timeouts *t);
/*
 * The production guard for "reset" (refused), "down" and "redo" (need
 * --yes): 0 to go on, else the exit code after reporting.
 */
int cli_production_guard(const cli_context *ctx, const char *command, bool yes);

/* ---- output --------------------------------------------------------------- */

typedef enum cli_color {
	CLI_PLAIN = 0,
	CLI_RED,
	CLI_GREEN,
	CLI_YELLOW,
	CLI_CYAN,
	CLI_BOLD,
	CLI_DIM
} cli_color;

/* The escape sequence for color on stdout (to_err false) or stderr, or "". */
const char *cli_color_on(const cli_context *ctx, bool to_err, cli_color color);
const char *cli_color_off(const cli_context *ctx, bool to_err);

/* "out of memory", exit 1 */
int cli_out_of_memory(const cli_context *ctx);
/*
 * Print err with file:line, hint and server details (modmig_error_format),
 * its next step as a command line; returns its exit code.
 */
int cli_report_error(const cli_context *ctx, const modmig_error *err);
/* cli_report_error() with the command's own wording of the hint (NULL: none). */
int cli_report_error_hint(const cli_context *ctx, const modmig_error *err, const char *hint);
/*
 * The library names next steps; these word them as command lines, as the
 * CLI always printed them. cli_error_hint() returns a new string, or NULL to
 * use the library's hint; cli_finding_message() a new string (NULL: OOM).
 */
char *cli_error_hint(const modmig_error *err);
char *cli_finding_message(const modmig_finding *f);
const char *cli_check_fix(const modmig_check *c);
/* After a failed library call: err when there is one, else a line naming st. */
int cli_report_failure(const cli_context *ctx, modmig_status st, const modmig_error *err);
/* An error found by the CLI itself, in the same format; returns the exit code. */
int cli_report(const cli_context *ctx, modmig_status code, const char *file, const char *hint,
               const char *fmt, ...) CLI_PRINTF(5, 6);
void cli_warn(const cli_context *ctx, const char *fmt, ...) CLI_PRINTF(2, 3);
/* A parsed file's warnings on stderr, "file:line:column: warning: message" each. */
void cli_print_file_warnings(const cli_context *ctx, const modmig_migration *m);

/* The monotonic clock in milliseconds: how long a command took. */
double cli_now_ms(void);
/* printf into a new string (free() it), or NULL when out of memory. */
char *cli_strdupf(const char *fmt, ...) CLI_PRINTF(1, 2);
/* A JSON string literal for s (null for NULL), escaped for any byte. */
void cli_json_string(FILE *out, const char *s);

/* "02001" style: file names carry at least five digits. */
void cli_format_version(char buf[32], int64_t version);
const char *cli_module_name(const modmig_migration *m);

/*
 * A text table: add cells row by row, then print with columns aligned.
 * Cells are copied.
 */
enum { CLI_TABLE_MAX_COLUMNS = 16 };

typedef struct cli_table {
	size_t columns;
	size_t cells;
	size_t capacity;
	char **text;
	cli_color *colors;
} cli_table;

bool cli_table_init(cli_table *t, size_t columns);
bool cli_table_add(cli_table *t, const char *text, cli_color color);
void cli_table_print(const cli_context *ctx, const cli_table *t, FILE *out);
void cli_table_free(cli_table *t);

/* ---- commands --------------------------------------------------------------- */

int cli_cmd_validate(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_list(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_inspect(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_create(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_fix(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_sqlc_schemas(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

int cli_cmd_up(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_down(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_redo(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_reset(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_status(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_version(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

int cli_cmd_verify(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_doctor(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_history(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_stamp(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_repair(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

int cli_cmd_plan(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

int cli_cmd_schema(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_test(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cli_cmd_drift(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

int cli_cmd_lint(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

#endif /* MODMIG_CLI_H */
