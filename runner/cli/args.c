/*
 * args.c - reading the command line: the global options and each command's
 * own (from options.def and commands.def), the option loop commands share,
 * usage errors, positional arguments and option values (versions, counts,
 * durations, sizes). Opening the source and connecting are connect.c's,
 * printing is output.c's.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- option parsing -------------------------------------------------------- */

/* Whether o is in cmd's space-separated list of option names. */
static bool takes(const cli_command *cmd, const cli_option *o)
{
	const char *p = cmd ? cmd->options : "";

	while (*p) {
		size_t len = strcspn(p, " ");

		if (len == strlen(o->name) && strncmp(p, o->name, len) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

/*
 * The getopt tables for cmd (NULL: before the command name, global options
 * only), built from options.def: every global option plus the command's own.
 */
bool cli_parser_init(cli_parser *p, cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	size_t n = 0, k = 0;
	char *s;

	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	for (const cli_option *o = cli_options; o->name; o++)
		n++;
	p->options = calloc(n + 1, sizeof(*p->options));
	/* '+' stops at the command name; ':' tells a missing value from an unknown option */
	p->shortopts = malloc(3 * n + 3);
	if (!p->options || !p->shortopts) {
		cli_parser_free(p);
		return false;
	}
	s = p->shortopts;
	*s++ = cmd ? ':' : '+';
	if (!cmd)
		*s++ = ':';
	for (const cli_option *o = cli_options; o->name; o++) {
		if (!o->global && !takes(cmd, o))
			continue;
		/* a global option whose name the command's own option has is shadowed */
		if (o->global) {
			const cli_option *own = cli_find_option(o->name, strlen(o->name));

			if (own != o && takes(cmd, own))
				continue;
		}
		p->options[k].name = o->name;
		p->options[k].has_arg = o->arg ? required_argument : no_argument;
		p->options[k].val = o->id;
		k++;
		if (o->letter) {
			*s++ = o->letter;
			if (o->arg)
				*s++ = ':';
		}
	}
	*s = '\0';
	if (cmd)
		ctx->command = cmd->name;
	return true;
}

void cli_parser_free(cli_parser *p)
{
	free(p->options);
	free(p->shortopts);
	p->options = NULL;
	p->shortopts = NULL;
}

static const char *option_name_of(const cli_parser *p, int val, char buf[8])
{
	(void)p;
	for (const cli_option *o = cli_options; o->name; o++)
		if (o->id == val)
			return o->name;
	snprintf(buf, 8, "%c", val);
	return buf;
}

static void report_bad_option(cli_parser *p, int c)
{
	const char *arg = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "";
	int len = (int)strcspn(arg, "=");
	char letter[8];

	p->exit_code = CLI_EXIT_USAGE;
	if (c == ':') {
		const char *name = option_name_of(p, optopt, letter);
		cli_usage_error(p->ctx, "option '%s%s' needs a value",
		                strlen(name) > 1 ? "--" : "-", name);
	} else if (strncmp(arg, "--", 2) != 0) {
		cli_usage_error(p->ctx, "unknown option '-%c'", optopt);
	} else if (optopt != 0) {
		/* glibc reports "--flag=value" for a flag as '?' with the flag in optopt */
		cli_usage_error(p->ctx, "option '%.*s' does not take a value", len, arg);
	} else {
		/* the nearest option this command takes: the getopt table holds exactly those */
		char word[64];
		cli_suggest s;

		snprintf(word, sizeof(word), "%.*s", len > 2 ? len - 2 : 0, arg + 2);
		cli_suggest_init(&s, word);
		for (const struct option *o = p->options; o->name; o++)
			cli_suggest_add(&s, o->name);
		cli_usage_error_near(p->ctx, "--", s.best, "unknown option '%.*s'", len, arg);
	}
}

static bool check_global_combination(cli_parser *p)
{
	cli_context *ctx = p->ctx;
	const char *no_color = getenv("NO_COLOR");

	if (ctx->manifest && ctx->dir) {
		cli_usage_error(ctx, "options '-m' and '--dir' cannot be used together; choose one "
		                     "migration source");
		return false;
	}
	if (ctx->table && !ctx->dir) {
		cli_usage_error(ctx, "option '--table' needs '--dir'; a manifest names its table "
		                     "in version_table");
		return false;
	}
	ctx->stdout_tty = isatty(STDOUT_FILENO);
	if (ctx->no_color || (no_color && no_color[0])) {
		ctx->color_out = false;
		ctx->color_err = false;
	} else {
		ctx->color_out = isatty(STDOUT_FILENO);
		ctx->color_err = isatty(STDERR_FILENO);
	}
	return true;
}

/* Overwrite a password with 'x': the length stays, so argv's layout does too. */
static void blank(void *userdata, size_t offset, size_t length)
{
	memset((char *)userdata + offset, 'x', length);
}

/*
 * Overwrite, in place, the password of a connection string given on the
 * command line, so that ps and /proc/PID/cmdline no longer show it: where
 * the library finds one to redact. The rest stays readable.
 */
static void scrub_password(char *s)
{
	modmig_conninfo_passwords(s, blank, s);
}

/* Returns true when c was a global option (consumed), false otherwise. */
static bool apply_global(cli_parser *p, int c, bool *stop)
{
	cli_context *ctx = p->ctx;

	*stop = false;
	switch (c) {
	case CLI_OPT_DATABASE:
		/*
		 * Keep a copy to connect with, and scrub the password from argv at
		 * once: ps shows a process's arguments to every local user.
		 */
		free(ctx->database_copy);
		ctx->database_copy = strdup(optarg);
		ctx->database = ctx->database_copy ? ctx->database_copy : optarg;
		if (ctx->database_copy)
			scrub_password(optarg);
		return true;
	case CLI_OPT_MANIFEST:
		ctx->manifest = optarg;
		return true;
	case CLI_OPT_DIR:
		ctx->dir = optarg;
		return true;
	case CLI_OPT_TABLE:
		ctx->table = optarg;
		return true;
	case CLI_OPT_JSON:
		ctx->json = true;
		return true;
	case CLI_OPT_QUIET:
		ctx->verbosity = -1;
		return true;
	case CLI_OPT_VERBOSE:
		ctx->verbosity = 1;
		return true;
	case CLI_OPT_NO_COLOR:
		ctx->no_color = true;
		return true;
	case CLI_OPT_LOCK_TIMEOUT:
		if (!cli_parse_duration_ms(ctx, "--lock-timeout", optarg, &ctx->lock_timeout_ms)) {
			p->exit_code = CLI_EXIT_USAGE;
			*stop = true;
		}
		return true;
	case CLI_OPT_STATEMENT_TIMEOUT:
		if (!cli_parse_duration_ms(ctx, "--statement-timeout", optarg,
		                           &ctx->statement_timeout_ms)) {
			p->exit_code = CLI_EXIT_USAGE;
			*stop = true;
		}
		return true;
	case CLI_OPT_MAX_FILE_SIZE:
		if (!cli_parse_size(ctx, "--max-file-size", optarg, &ctx->max_file_size)) {
			p->exit_code = CLI_EXIT_USAGE;
			*stop = true;
		}
		return true;
	case CLI_OPT_LOCK:
		if (strcmp(optarg, "session") == 0) {
			ctx->lock_table = false;
		} else if (strcmp(optarg, "table") == 0) {
			ctx->lock_table = true;
		} else {
			cli_usage_error(
			        ctx, "invalid value '%s' for '--lock': expected session or table",
			        optarg);
			p->exit_code = CLI_EXIT_USAGE;
			*stop = true;
		}
		return true;
	case CLI_OPT_HELP:
		cli_print_command_help(p->cmd, stdout);
		p->exit_code = CLI_EXIT_OK;
		*stop = true;
		return true;
	case CLI_OPT_PRODUCTION:
		ctx->production = true;
		return true;
	case CLI_OPT_VERSION:
		printf("modmig %s\n", modmig_version());
		p->exit_code = CLI_EXIT_OK;
		*stop = true;
		return true;
	default:
		return false;
	}
}

int cli_getopt(cli_parser *p)
{
	if (!p->started) {
		/* 0 makes glibc start over, so a second parse sees the command's argv */
		optind = 0;
		opterr = 0;
		p->started = true;
	}
	for (;;) {
		bool stop;
		int c = getopt_long(p->argc, p->argv, p->shortopts, p->options, NULL);

		if (c == -1) {
			if (p->cmd && !check_global_combination(p)) {
				p->exit_code = CLI_EXIT_USAGE;
				return CLI_OPT_STOP;
			}
			return -1;
		}
		if (c == '?' || c == ':') {
			report_bad_option(p, c);
			return CLI_OPT_STOP;
		}
		/* a short letter means its option: handlers see only CLI_OPT_<ID> */
		for (const cli_option *o = cli_options; c < 256 && o->name; o++)
			if (o->letter == c)
				c = o->id;
		if (apply_global(p, c, &stop)) {
			if (stop)
				return CLI_OPT_STOP;
			continue;
		}
		return c;
	}
}

int cli_rest_count(const cli_parser *p)
{
	return p->argc - optind;
}
char **cli_rest(const cli_parser *p)
{
	return p->argv + optind;
}

bool cli_parse_plain(cli_context *ctx, const cli_command *cmd, int argc, char **argv, int min,
                     int max, const char *what, char ***args, int *exit_code)
{
	return cli_parse_with_module(ctx, cmd, argc, argv, min, max, what, NULL, args, exit_code);
}

/* The options of the plain commands: --yes, --dry-run, and --module into data when not NULL. */
static int take_plain_option(cli_context *ctx, int c, const char *value, void *data)
{
	const char **module = data;

	/* --yes and --dry-run only come back for a command whose row lists them */
	if (c == CLI_OPT_YES)
		ctx->yes = true;
	else if (c == CLI_OPT_DRY_RUN)
		ctx->dry_run = true;
	else if (c == CLI_OPT_MODULE && module)
		*module = value;
	else
		return 0;
	return 1;
}

bool cli_parse_with_module(cli_context *ctx, const cli_command *cmd, int argc, char **argv, int min,
                           int max, const char *what, const char **module, char ***args,
                           int *exit_code)
{
	return cli_parse_options_args(ctx, cmd, argc, argv, take_plain_option, (void *)module, min,
	                              max, what, args, NULL, exit_code);
}

/*
 * "modmig: <message>", a "did you mean" line when near is not NULL, and the
 * hint; with --json also the error document, whose hint carries the
 * suggestion too.
 */
static int vusage_error(const cli_context *ctx, const char *prefix, const char *near,
                        const char *fmt, va_list ap)
{
	char message[1024], hint[160], json_hint[320];

	vsnprintf(message, sizeof(message), fmt, ap);
	if (ctx && ctx->command)
		snprintf(hint, sizeof(hint), "run 'modmig %s --help'", ctx->command);
	else
		snprintf(hint, sizeof(hint), "run 'modmig --help'");
	fprintf(stderr, "modmig: %s\n", message);
	if (near)
		fprintf(stderr, "  did you mean '%s%s'?\n", prefix, near);
	fprintf(stderr, "  hint: %s\n", hint);
	if (near)
		snprintf(json_hint, sizeof(json_hint), "did you mean '%s%s'? %s", prefix, near,
		         hint);
	else
		snprintf(json_hint, sizeof(json_hint), "%s", hint);
	if (ctx)
		cli_json_error(ctx, MODMIG_E_USAGE, NULL, message, json_hint, NULL);
	return CLI_EXIT_USAGE;
}

int cli_usage_error(const cli_context *ctx, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vusage_error(ctx, "", NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int cli_usage_error_near(const cli_context *ctx, const char *prefix, const char *near,
                         const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vusage_error(ctx, prefix, near, fmt, ap);
	va_end(ap);
	return rc;
}

bool cli_expect_args(const cli_parser *p, int min, int max, const char *what)
{
	int n = cli_rest_count(p);

	if (n < min) {
		/* "MODULE and NAME" with MODULE given: only NAME is missing */
		const char *rest = what ? what : "argument";
		int skip = n;

		while (skip > 0 && strstr(rest, " and ")) {
			rest = strstr(rest, " and ") + 5;
			skip--;
		}
		cli_usage_error(p->ctx, "missing %s", rest);
		return false;
	}
	if (n > max) {
		cli_usage_error(p->ctx, "unexpected argument '%s'", cli_rest(p)[max]);
		return false;
	}
	return true;
}

/*
 * The one option loop: each option through take(), then check() (may be
 * NULL), then min..max positional arguments, into *args and *count when not
 * NULL.
 */
static bool parse_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                          cli_take_fn take, cli_check_fn check, void *data, int min, int max,
                          const char *what, char ***args, int *count, int *exit_code)
{
	bool ok = false;
	cli_parser p;
	int c;

	*exit_code = CLI_EXIT_USAGE;
	if (!cli_parser_init(&p, ctx, cmd, argc, argv)) {
		*exit_code = cli_out_of_memory(ctx);
		goto cleanup;
	}
	while ((c = cli_getopt(&p)) != -1) {
		int taken = c == CLI_OPT_STOP ? 0 : take(ctx, c, optarg, data);

		if (taken < 0)
			goto cleanup;
		if (taken == 0) {
			/* --help or a usage error that cli_getopt() reported: its exit code */
			*exit_code = p.exit_code;
			goto cleanup;
		}
	}
	if (!check || check(ctx, data))
		ok = cli_expect_args(&p, min, max, what);
	if (!ok)
		goto cleanup;
	if (args)
		*args = cli_rest(&p);
	if (count)
		*count = cli_rest_count(&p);
	*exit_code = CLI_EXIT_OK;
cleanup:
	cli_parser_free(&p);
	return ok;
}

bool cli_parse_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                       cli_take_fn take, cli_check_fn check, void *data, int *exit_code)
{
	return parse_options(ctx, cmd, argc, argv, take, check, data, 0, 0, NULL, NULL, NULL,
	                     exit_code);
}

bool cli_parse_options_args(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                            cli_take_fn take, void *data, int min, int max, const char *what,
                            char ***args, int *count, int *exit_code)
{
	return parse_options(ctx, cmd, argc, argv, take, NULL, data, min, max, what, args, count,
	                     exit_code);
}

/*
 * The number that text starts with, *end just past it; false when text does
 * not start with a digit or the number overflows. Versions and durations are
 * both unsigned decimal numbers, with nothing or a unit after them.
 */
static bool read_number(const char *text, long long *value, char **end)
{
	/* strtoll alone would accept a sign and leading blanks */
	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	*value = strtoll(text, end, 10);
	return errno == 0;
}

bool cli_parse_count(const cli_context *ctx, const char *option, const char *text, int64_t *out)
{
	char *end = NULL;
	long long value;

	if (read_number(text, &value, &end) && !*end && value > 0) {
		*out = value;
		return true;
	}
	cli_usage_error(ctx, "invalid value '%s' for '%s': expected a positive number such as 20",
	                text, option);
	return false;
}

bool cli_parse_version(const cli_context *ctx, const char *option, const char *text, int64_t *out)
{
	char *end = NULL;
	long long value;

	if (!read_number(text, &value, &end) || *end)
		goto bad;
	*out = value;
	return true;
bad:
	cli_usage_error(ctx, "invalid value '%s' for '%s': expected a version number such as 2001",
	                text, option);
	return false;
}

bool cli_parse_duration_ms(const cli_context *ctx, const char *option, const char *text, int *out)
{
	static const struct {
		const char *suffix;
		long long factor;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}};
	char *end = NULL;
	long long value;

	if (!read_number(text, &value, &end))
		goto bad;
	/* a bare 2 meant 2 ms, never what was meant: only 0 goes without a unit */
	if (!*end && value != 0) {
		cli_usage_error(ctx,
		                "invalid value '%s' for '%s': a duration needs a unit, e.g. %sms, "
		                "%ss or %sm",
		                text, option, text, text, text);
		return false;
	}
	if (!*end) {
		*out = 0;
		return true;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (value > INT_MAX / units[i].factor)
			goto bad;
		*out = (int)(value * units[i].factor);
		return true;
	}
bad:
	cli_usage_error(ctx,
	                "invalid value '%s' for '%s': expected a duration such as 500ms, 30s or 2m",
	                text, option);
	return false;
}

/*
 * A size in bytes: a number with an optional binary unit (k, M, G, with or
 * without "iB" or "B": 16M, 16MiB and 16MB all mean 16 * 2^20 bytes).
 */
bool cli_parse_size(const cli_context *ctx, const char *option, const char *text, uint64_t *out)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {{"", 0},    {"B", 0},    {"k", 10},  {"K", 10},  {"kB", 10},
	             {"KB", 10}, {"KiB", 10}, {"M", 20},  {"MB", 20}, {"MiB", 20},
	             {"G", 30},  {"GB", 30},  {"GiB", 30}};
	char *end = NULL;
	long long value;

	if (!read_number(text, &value, &end) || value <= 0)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if ((uint64_t)value > (UINT64_MAX >> units[i].shift))
			goto bad;
		*out = (uint64_t)value << units[i].shift;
		return true;
	}
bad:
	cli_usage_error(ctx,
	                "invalid value '%s' for '%s': expected a size such as 64MiB, 500k or "
	                "1G",
	                text, option);
	return false;
}
