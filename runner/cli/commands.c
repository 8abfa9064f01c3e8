/*
 * commands.c - the table of commands (commands.def) and of options
 * (options.def), and the help derived from them. To add a command, write its
 * run function in a runner/cli/cmd_*.c file, declare it in cli.h and add a
 * row to commands.def; its help, its getopt table and `modmig --help` follow.
 */
#include "cli.h"

#include <string.h>

static const cli_command commands[] = {
#define CLI_COMMAND(name, run, summary, synopsis, options, description)                            \
	{name, run, summary, synopsis, options, description},
#include "commands.def"
#undef CLI_COMMAND
};

static const size_t command_count = sizeof(commands) / sizeof(commands[0]);

const cli_option cli_options[] = {
#define CLI_OPTION(id, global, name, letter, arg, help)                                            \
	{CLI_OPT_##id, global, name, letter, arg, help},
#include "options.def"
#undef CLI_OPTION
        {0, 0, NULL, 0, NULL, NULL},
};

/* The parts of `modmig --help` that the man page (gen.c) shows too. */
const char cli_help_usage[] = "modmig [-d URL] [-m MANIFEST | --dir DIR] [--table NAME] [--json]\n"
                              "              [-q|-v] [--no-color] [--production] COMMAND [ARGS]\n";
const char cli_help_about[] = "modmig applies PostgreSQL migrations for modular applications.\n";
const char cli_help_exit[] = "Exit status: 0 success, 1 database or runtime failure, 2 bad input\n"
                             "(nothing changed), 3 a check found a problem.\n";

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < command_count; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

const cli_command *cli_command_at(size_t i)
{
	return i < command_count ? &commands[i] : NULL;
}

/*
 * A command's own option before a global one of the same name (history's
 * --version V shadows modmig's --version): commands list their options by
 * name, and a global option is found here only when no command option has it.
 */
const cli_option *cli_find_option(const char *long_name, size_t len)
{
	const cli_option *global = NULL;

	for (const cli_option *o = cli_options; o->name; o++) {
		if (strlen(o->name) != len || strncmp(o->name, long_name, len) != 0)
			continue;
		if (!o->global)
			return o;
		if (!global)
			global = o;
	}
	return global;
}

/* "  -d, --database URL      text", continuation lines indented under the text. */
static void print_option(const cli_option *o, FILE *out)
{
	char head[64];
	const char *help = o->help, *nl;

	snprintf(head, sizeof(head), "%s%c%s--%s%s%s", o->letter ? "-" : " ",
	         o->letter ? o->letter : ' ', o->letter ? ", " : "  ", o->name, o->arg ? " " : "",
	         o->arg ? o->arg : "");
	if (strlen(head) >= 24)
		fprintf(out, "  %s\n%26s", head, "");
	else
		fprintf(out, "  %-24s", head);
	while ((nl = strchr(help, '\n')) != NULL) {
		fprintf(out, "%.*s\n%26s", (int)(nl - help), help, "");
		help = nl + 1;
	}
	fprintf(out, "%s\n", help);
}

/* Each option of cmd's space-separated list, in the order the row gives. */
static void print_command_options(const cli_command *cmd, FILE *out)
{
	const char *p = cmd->options;

	if (!*p)
		return;
	fputs("\nOptions:\n", out);
	while (*p) {
		size_t len = strcspn(p, " ");
		const cli_option *o = cli_find_option(p, len);

		if (o)
			print_option(o, out);
		p += len;
		p += strspn(p, " ");
	}
}

void cli_print_command_help(const cli_command *cmd, FILE *out)
{
	if (cmd) {
		fprintf(out, "usage: modmig [GLOBAL OPTIONS] %s%s%s\n\n%s", cmd->name,
		        cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->description);
		print_command_options(cmd, out);
		fputs("\nGlobal options: see 'modmig --help'.\n", out);
		return;
	}
	fprintf(out, "usage: %s\n%s\nCommands:\n", cli_help_usage, cli_help_about);
	for (size_t i = 0; i < command_count; i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-14s %s\n\n", "help COMMAND", "show the help of a command");
	fputs("Global options (before or after the command):\n", out);
	for (const cli_option *o = cli_options; o->name; o++)
		if (o->global)
			print_option(o, out);
	fprintf(out, "\n%sRun 'modmig COMMAND --help' for a command's options.\n", cli_help_exit);
}
