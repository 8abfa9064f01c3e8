/*
 * commands.c - the table of commands and their help. Each command lives in a
 * runner/cli/cmd_*.c file; to add one, write its run function, declare it in
 * cli.h and add a row to `commands` below.
 */
#include "cli.h"

#include <string.h>

#define GLOBAL_OPTIONS_HELP                                                                        \
	"Global options (before or after the command):\n"                                          \
	"  -d, --database URL      connection URL or key=value string\n"                           \
	"                          (default: DATABASE_URL, then PGHOST, PGDATABASE, ...)\n"        \
	"  -m, --manifest FILE     read modules.yaml and its migrations from disk\n"               \
	"                          (default: the migrations compiled into modmig)\n"               \
	"      --dir DIR           a plain goose directory instead of a manifest\n"                \
	"      --table NAME        version table for --dir (default: goose_db_version)\n"          \
	"      --lock-timeout DUR  longest wait for the migration lock, e.g. 30s, 500ms, 2m;\n"    \
	"                          up, down and redo also set it as each migration's\n"            \
	"                          lock_timeout (default: none)\n"                                 \
	"      --production        production guard (also MODMIG_ENV=production): reset is\n"      \
	"                          refused, down and redo need --yes\n"                            \
	"      --json              machine-readable output\n"                                      \
	"  -q, --quiet             no per-migration lines (errors are still shown)\n"              \
	"  -v, --verbose           show debug events on stderr\n"                                  \
	"      --no-color          no colors (NO_COLOR=1 does the same)\n"                         \
	"  -h, --help              show help\n"

static const cli_command commands[] = {
        {"validate", cli_cmd_validate, "parse every migration and report the first problem",
         "usage: modmig [GLOBAL OPTIONS] validate\n\n"
         "Read the manifest and parse every migration file. Prints\n"
         "\"ok: N migrations in M modules\", or the problem with its file and line.\n\n"
         "Exit status: 0 when everything is valid, 2 on any problem.\n"},
        {"list", cli_cmd_list, "print the global sequence of migrations",
         "usage: modmig [GLOBAL OPTIONS] list [--json]\n\n"
         "Print every migration in the global order: version, module, name,\n"
         "transaction mode (tx or no-tx) and the number of up and down units.\n"},
        {"inspect", cli_cmd_inspect, "print the parsed units of one migration file",
         "usage: modmig [GLOBAL OPTIONS] inspect FILE [--json]\n\n"
         "Parse FILE and print each unit exactly as it will be sent to the server,\n"
         "with the line it starts on. With --json:\n"
         "  {\"version\":N,\"no_transaction\":bool,\"up\":[{\"line\":L,\"sql\":\"...\"}],"
         "\"down\":[...]}\n"},
        {"create", cli_cmd_create, "write the next migration file of a module",
         "usage: modmig -m MANIFEST create MODULE NAME\n\n"
         "Write the next file in MODULE's version range from a template and print\n"
         "its path. NAME becomes part of the file name, e.g. add_invoices.\n"
         "Needs -m: the migrations compiled into modmig cannot be changed.\n"},
        {"sqlc-schemas", cli_cmd_sqlc_schemas, "write sqlc_schemas.sql from the manifest",
         "usage: modmig [GLOBAL OPTIONS] sqlc-schemas [--check] [-o FILE]\n\n"
         "Write one CREATE SCHEMA IF NOT EXISTS per module schema.\n\n"
         "Options:\n"
         "  -o, --output FILE  the file to write or check (default: sqlc_schemas.sql)\n"
         "      --check        change nothing; exit 3 when FILE is missing or stale\n"},
        {"up", cli_cmd_up, "apply missing and pending migrations",
         "usage: modmig [GLOBAL OPTIONS] up [--to V | --by-one] [--module M] [--strict]\n"
         "                                  [--dry-run] [--resume | --restart]\n"
         "                                  [--statement-timeout DUR]\n"
         "       modmig [GLOBAL OPTIONS] up --plan FILE [--dry-run]\n\n"
         "Apply missing migrations (below the highest applied version) first, then\n"
         "new ones, each in its own transaction.\n\n"
         "Options:\n"
         "      --to V        apply up to and including version V\n"
         "      --by-one      apply only the next migration\n"
         "      --module M    only the migrations of module M\n"
         "      --strict      an out-of-order migration within a module is an error\n"
         "      --dry-run     print what would run, with its SQL, and change nothing\n"
         "      --plan FILE   apply exactly the reviewed plan written by 'modmig plan';\n"
         "                    exit 3 and change nothing if a file or the database differs\n"
         "      --resume      continue a failed NO TRANSACTION migration at its failed unit\n"
         "      --restart     run a failed NO TRANSACTION migration again from unit 1\n"
         "      --statement-timeout DUR\n"
         "                    each migration's statement_timeout, e.g. 30s (default: none;\n"
         "                    --lock-timeout sets its lock_timeout). A file's\n"
         "                    '-- modmig lock_timeout=5s' or 'statement_timeout=' header wins\n"},
        {"plan", cli_cmd_plan, "write a reviewed plan of what up would apply",
         "usage: modmig [GLOBAL OPTIONS] plan -o FILE [--to V | --by-one] [--module M]\n"
         "                                    [--strict] [--resume | --restart]\n\n"
         "Write the exact list of migrations 'up' would apply now, in order, with each\n"
         "file's SHA-256 and a fingerprint of the database state, to FILE, and print it.\n"
         "Review it, then apply exactly that list with 'modmig up --plan FILE'. Changes\n"
         "nothing in the database.\n\n"
         "Options:\n"
         "  -o, --output FILE the plan file to write (required)\n"
         "      --to, --by-one, --module, --strict, --resume, --restart  as for up\n"},
        {"down", cli_cmd_down, "roll back the most recently applied migration",
         "usage: modmig [GLOBAL OPTIONS] down [--to V] [--module M] [--yes]\n"
         "                                    [--statement-timeout DUR]\n\n"
         "Roll back by apply order, the most recently applied migration first.\n\n"
         "Options:\n"
         "      --to V        roll back while the last applied version is above V\n"
         "                    (--to 0 rolls back everything)\n"
         "      --module M    roll back module M's most recently applied migration\n"
         "      --yes         confirm; needed in production (--production, MODMIG_ENV)\n"
         "      --statement-timeout DUR  each migration's statement_timeout\n"},
        {"redo", cli_cmd_redo, "roll back the last migration and apply it again",
         "usage: modmig [GLOBAL OPTIONS] redo [--yes]\n\n"
         "Roll back the most recently applied migration and apply it again.\n\n"
         "Options:\n"
         "      --yes         confirm; needed in production (--production, MODMIG_ENV)\n"},
        {"reset", cli_cmd_reset, "roll back every applied migration",
         "usage: modmig [GLOBAL OPTIONS] reset\n\n"
         "Roll back every applied migration, most recently applied first.\n"
         "Refused in production (--production or MODMIG_ENV=production).\n"},
        {"status", cli_cmd_status, "show every migration and its state",
         "usage: modmig [GLOBAL OPTIONS] status [--module M] [--json]\n\n"
         "Show every migration with its state: applied (with time), pending,\n"
         "missing (below the highest applied version), or no file (applied, but no\n"
         "file has that version).\n\n"
         "Options:\n"
         "      --module M    only module M\n"},
        {"version", cli_cmd_version, "print the highest applied version",
         "usage: modmig [GLOBAL OPTIONS] version [--json]\n\n"
         "Print the highest applied version (0 when none).\n"},
        {"verify", cli_cmd_verify, "check the database against the migration files",
         "usage: modmig [GLOBAL OPTIONS] verify [--json]\n\n"
         "Check, without changing anything, that every applied migration's file is\n"
         "unchanged (SHA-256 recorded in the history), that no applied version lacks a\n"
         "file, that nothing is pending, missing, out of order within its module or\n"
         "failed part-way (NO TRANSACTION), that the module registry matches the\n"
         "manifest and that the history's append-only trigger is in place.\n"
         "Prints one line per finding: KIND  VERSION MODULE FILE: MESSAGE.\n"
         "With --json: [{\"kind\":...,\"version\":N,\"module\":...,\"file\":...,"
         "\"message\":...}]\n\n"
         "Exit status: 0 when clean, 3 when something was found.\n"},
        {"doctor", cli_cmd_doctor, "diagnose configuration, connection, state and privileges",
         "usage: modmig [GLOBAL OPTIONS] doctor [--json]\n\n"
         "Check the configuration, the connection (password redacted), the server\n"
         "version, a stripped search_path, modmig's tables and the history's trigger,\n"
         "the migration lock and who holds it, pending migrations, verify's findings\n"
         "and whether the role can create in each module's schema. Each failed item\n"
         "comes with a one-line fix. Changes nothing.\n\n"
         "Exit status: 0 when healthy, 3 otherwise.\n"},
        {"history", cli_cmd_history, "show the append-only history of migration events",
         "usage: modmig [GLOBAL OPTIONS] history [--module M] [--json]\n\n"
         "Show every recorded event, oldest first: applied, rolled_back, failed,\n"
         "stamped, resumed, restarted, with version, module, file, duration, database\n"
         "user, client host and, for failures, the failed unit and error.\n\n"
         "Options:\n"
         "      --module M    only module M's events\n"},
        {"stamp", cli_cmd_stamp, "mark migrations as applied without running them",
         "usage: modmig [GLOBAL OPTIONS] stamp VERSION [--module M]\n\n"
         "Mark every unapplied migration up to and including VERSION as applied\n"
         "without running it, in one transaction under the migration lock, and record\n"
         "each in the history as \"stamped\". For adopting a database whose schema\n"
         "already exists. VERSION must be the version of a migration file.\n\n"
         "Options:\n"
         "      --module M    only module M's migrations (VERSION must be in its range)\n"},
};

static const size_t command_count = sizeof(commands) / sizeof(commands[0]);

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < command_count; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_print_command_help(const cli_command *cmd, FILE *out)
{
	if (cmd) {
		fprintf(out, "%s\n%s", cmd->usage, GLOBAL_OPTIONS_HELP);
		return;
	}
	fputs("usage: modmig [-d URL] [-m MANIFEST | --dir DIR] [--json] [-q|-v] COMMAND [ARGS]\n\n"
	      "modmig applies PostgreSQL migrations for modular applications.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < command_count; i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-14s %s\n\n", "help COMMAND", "show the help of a command");
	fputs(GLOBAL_OPTIONS_HELP, out);
	fputs("\nExit status: 0 success, 1 database or runtime failure, 2 bad input\n"
	      "(nothing changed), 3 a check found a problem.\n"
	      "Run 'modmig COMMAND --help' for a command's options.\n",
	      out);
}
