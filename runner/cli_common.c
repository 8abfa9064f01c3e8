/*
 * cli_common.c - what every command shares: global options, choosing the
 * migration source, connecting, and printing errors, tables and JSON.
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

enum {
	OPT_DIR = CLI_OPT_FIRST_LONG,
	OPT_TABLE,
	OPT_JSON,
	OPT_NO_COLOR,
	OPT_LOCK_TIMEOUT,
	OPT_VERSION,
};

static const struct option global_options[] = {
        {"database", required_argument, NULL, 'd'},
        {"manifest", required_argument, NULL, 'm'},
        {"dir", required_argument, NULL, OPT_DIR},
        {"table", required_argument, NULL, OPT_TABLE},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"no-color", no_argument, NULL, OPT_NO_COLOR},
        {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};
static const char global_shortopts[] = "d:m:qvh";

/* ---- option parsing -------------------------------------------------------- */

bool cli_parser_init(cli_parser *p, cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                     const struct option *command_options, const char *command_shortopts)
{
	size_t nglobal = sizeof(global_options) / sizeof(global_options[0]) - 1;
	size_t ncommand = 0;
	const char *extra = command_shortopts ? command_shortopts : "";

	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	while (command_options && command_options[ncommand].name)
		ncommand++;
	p->options = calloc(nglobal + ncommand + 1, sizeof(*p->options));
	/* '+' stops at the command name; ':' tells a missing value from an unknown option */
	p->shortopts = malloc(strlen(global_shortopts) + strlen(extra) + 3);
	if (!p->options || !p->shortopts) {
		cli_parser_free(p);
		return false;
	}
	memcpy(p->options, global_options, nglobal * sizeof(*p->options));
	if (ncommand)
		memcpy(p->options + nglobal, command_options, ncommand * sizeof(*p->options));
	strcpy(p->shortopts, cmd ? ":" : "+:");
	strcat(p->shortopts, global_shortopts);
	strcat(p->shortopts, extra);
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
	for (const struct option *o = p->options; o->name; o++)
		if (o->val == val)
			return o->name;
	snprintf(buf, 8, "%c", val);
	return buf;
}

static void report_bad_option(cli_parser *p, int c)
{
	const char *arg = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "";
	char letter[8];

	if (c == ':') {
		const char *name = option_name_of(p, optopt, letter);
		cli_usage_error(p->ctx, "option '%s%s' needs a value",
		                strlen(name) > 1 ? "--" : "-", name);
	} else if (optopt != 0) {
		cli_usage_error(p->ctx, "unknown option '-%c'", optopt);
	} else {
		size_t len = strcspn(arg, "=");
		cli_usage_error(p->ctx, "unknown option '%.*s'", (int)len, arg);
	}
	p->exit_code = CLI_EXIT_USAGE;
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
	if (ctx->no_color || (no_color && no_color[0])) {
		ctx->color_out = false;
		ctx->color_err = false;
	} else {
		ctx->color_out = isatty(STDOUT_FILENO);
		ctx->color_err = isatty(STDERR_FILENO);
	}
	return true;
}

/* Returns true when c was a global option (consumed), false otherwise. */
static bool apply_global(cli_parser *p, int c, bool *stop)
{
	cli_context *ctx = p->ctx;

	*stop = false;
	switch (c) {
	case 'd':
		ctx->database = optarg;
		return true;
	case 'm':
		ctx->manifest = optarg;
		return true;
	case OPT_DIR:
		ctx->dir = optarg;
		return true;
	case OPT_TABLE:
		ctx->table = optarg;
		return true;
	case OPT_JSON:
		ctx->json = true;
		return true;
	case 'q':
		ctx->verbosity = -1;
		return true;
	case 'v':
		ctx->verbosity = 1;
		return true;
	case OPT_NO_COLOR:
		ctx->no_color = true;
		return true;
	case OPT_LOCK_TIMEOUT:
		if (!cli_parse_duration_ms(ctx, "--lock-timeout", optarg, &ctx->lock_timeout_ms)) {
			p->exit_code = CLI_EXIT_USAGE;
			*stop = true;
		}
		return true;
	case 'h':
		cli_print_command_help(p->cmd, stdout);
		p->exit_code = CLI_EXIT_OK;
		*stop = true;
		return true;
	case OPT_VERSION:
		printf("modmig %s\n", CLI_VERSION);
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
	cli_parser p;
	bool ok = false;

	*exit_code = CLI_EXIT_USAGE;
	if (!cli_parser_init(&p, ctx, cmd, argc, argv, NULL, NULL)) {
		*exit_code = cli_out_of_memory(ctx);
		goto cleanup;
	}
	if (cli_getopt(&p) != -1) {
		*exit_code = p.exit_code;
		goto cleanup;
	}
	if (!cli_expect_args(&p, min, max, what))
		goto cleanup;
	*args = cli_rest(&p);
	*exit_code = CLI_EXIT_OK;
	ok = true;
cleanup:
	cli_parser_free(&p);
	return ok;
}

int cli_usage_error(const cli_context *ctx, const char *fmt, ...)
{
	va_list ap;

	fputs("modmig: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ctx && ctx->command)
		fprintf(stderr, "\n  hint: run 'modmig %s --help'\n", ctx->command);
	else
		fputs("\n  hint: run 'modmig --help'\n", stderr);
	return CLI_EXIT_USAGE;
}

bool cli_expect_args(const cli_parser *p, int min, int max, const char *what)
{
	int n = cli_rest_count(p);

	if (n < min) {
		cli_usage_error(p->ctx, "missing %s", what);
		return false;
	}
	if (n > max) {
		cli_usage_error(p->ctx, "unexpected argument '%s'", cli_rest(p)[max]);
		return false;
	}
	return true;
}

bool cli_parse_version(const cli_context *ctx, const char *option, const char *text, int64_t *out)
{
	char *end = NULL;
	long long value;

	/* strtoll alone would accept a sign and leading blanks */
	if (!isdigit((unsigned char)text[0]))
		goto bad;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno || *end)
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
	} units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}};
	char *end = NULL;
	long long value;

	if (!isdigit((unsigned char)text[0]))
		goto bad;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno)
		goto bad;
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

/* ---- source and connection ------------------------------------------------------ */

int cli_open_source(cli_context *ctx, modmig_source **out)
{
	modmig_error *err = NULL;
	modmig_status st;
	int rc = 0;

	if (ctx->manifest)
		st = modmig_source_new_manifest(ctx->manifest, out, &err);
	else if (ctx->dir)
		st = modmig_source_new_dir(ctx->dir, ctx->table, out, &err);
	else
		st = modmig_source_new_embedded(modmig_bundled_files, modmig_bundled_count, out,
		                                &err);
	if (st != MODMIG_OK) {
		*out = NULL;
		rc = err ? cli_report_error(ctx, err) : modmig_exit_code(st);
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
		rc = err ? cli_report_error(ctx, err) : modmig_exit_code(st);
		goto cleanup;
	}
	modmig_db_set_log(*out, cli_log_event, ctx);
	modmig_db_set_lock_timeout(*out, ctx->lock_timeout_ms);
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
		for (size_t i = 0; i < modmig_source_module_count(src); i++)
			fprintf(list, "%s%s", i ? ", " : "known modules: ",
			        modmig_module_name(modmig_source_module(src, i)));
		fclose(list);
	}
	rc = cli_report(ctx, MODMIG_E_NOT_FOUND, NULL, known, "unknown module '%s'", name);
cleanup:
	free(known);
	return rc;
}

/* ---- colors and errors ---------------------------------------------------------- */

const char *cli_color_on(const cli_context *ctx, bool to_err, cli_color color)
{
	static const char *const codes[] = {"",         "\033[31m", "\033[32m", "\033[33m",
	                                    "\033[36m", "\033[1m",  "\033[2m"};

	if (!(to_err ? ctx->color_err : ctx->color_out))
		return "";
	return codes[color];
}

const char *cli_color_off(const cli_context *ctx, bool to_err)
{
	return (to_err ? ctx->color_err : ctx->color_out) ? "\033[0m" : "";
}

/* Server text such as PL/pgSQL context spans lines; keep it under its label. */
static void print_labelled(const char *label, const char *text)
{
	const char *line = text;

	fprintf(stderr, "  %s: ", label);
	while (*line) {
		size_t len = strcspn(line, "\n");
		fprintf(stderr, "%s%.*s\n", line == text ? "" : "    ", (int)len, line);
		line += len;
		if (*line == '\n')
			line++;
	}
	if (!*text)
		fputc('\n', stderr);
}

static void print_error_head(const cli_context *ctx, const char *file, int line, int column,
                             const char *message)
{
	if (file && line > 0 && column > 0)
		fprintf(stderr, "%s:%d:%d: ", file, line, column);
	else if (file && line > 0)
		fprintf(stderr, "%s:%d: ", file, line);
	else if (file)
		fprintf(stderr, "%s: ", file);
	else
		fputs("modmig: ", stderr);
	fprintf(stderr, "%serror%s: %s\n", cli_color_on(ctx, true, CLI_RED),
	        cli_color_off(ctx, true), message);
}

int cli_report_error(const cli_context *ctx, const modmig_error *err)
{
	const char *hint = modmig_error_hint(err);
	const char *sqlstate = modmig_error_sqlstate(err);
	const char *detail = modmig_error_detail(err);
	const char *context = modmig_error_context(err);
	const char *module = modmig_error_module(err);
	int64_t version = modmig_error_version(err);

	print_error_head(ctx, modmig_error_file(err), modmig_error_line(err),
	                 modmig_error_column(err), modmig_error_message(err));
	if (hint)
		print_labelled("hint", hint);
	if (version != 0) {
		char v[32];
		cli_format_version(v, version);
		fprintf(stderr, "  migration: %s%s%s\n", v, module ? " " : "",
		        module ? module : "");
	}
	if (sqlstate)
		fprintf(stderr, "  SQLSTATE %s\n", sqlstate);
	if (detail)
		print_labelled("detail", detail);
	if (context)
		print_labelled("context", context);
	return modmig_exit_code(modmig_error_code(err));
}

int cli_out_of_memory(const cli_context *ctx)
{
	return cli_report(ctx, MODMIG_E_NOMEM, NULL, NULL, "out of memory");
}

int cli_report(const cli_context *ctx, modmig_status code, const char *file, const char *hint,
               const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	print_error_head(ctx, file, 0, 0, message);
	if (hint)
		print_labelled("hint", hint);
	return modmig_exit_code(code);
}

void cli_warn(const cli_context *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%swarning%s: ", cli_color_on(ctx, true, CLI_YELLOW),
	        cli_color_off(ctx, true));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- JSON and formatting ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_length(const unsigned char *s)
{
	size_t len;
	unsigned min;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void cli_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		size_t len = utf8_length(p);

		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", out);
		} else if (*p == '\r') {
			fputs("\\r", out);
		} else if (*p == '\t') {
			fputs("\\t", out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p);
		} else if (len == 0) {
			/* JSON must be UTF-8: show a stray byte as the replacement character */
			fputs("\\ufffd", out);
			len = 1;
		} else {
			fwrite(p, 1, len, out);
		}
		p += len ? len : 1;
	}
	fputc('"', out);
}

void cli_format_version(char buf[32], int64_t version)
{
	snprintf(buf, 32, "%05" PRId64, version);
}

const char *cli_module_name(const modmig_migration *m)
{
	const modmig_module *module = m ? modmig_migration_module(m) : NULL;
	return module ? modmig_module_name(module) : "-";
}

/* ---- tables ---------------------------------------------------------------------- */

bool cli_table_init(cli_table *t, size_t columns)
{
	memset(t, 0, sizeof(*t));
	t->columns = columns;
	return columns > 0 && columns <= CLI_TABLE_MAX_COLUMNS;
}

bool cli_table_add(cli_table *t, const char *text, cli_color color)
{
	if (t->cells == t->capacity) {
		size_t capacity = t->capacity ? t->capacity * 2 : 64;
		char **text_grown = realloc(t->text, capacity * sizeof(*t->text));
		cli_color *colors_grown;

		if (!text_grown)
			return false;
		t->text = text_grown;
		colors_grown = realloc(t->colors, capacity * sizeof(*t->colors));
		if (!colors_grown)
			return false;
		t->colors = colors_grown;
		t->capacity = capacity;
	}
	t->text[t->cells] = strdup(text ? text : "");
	if (!t->text[t->cells])
		return false;
	t->colors[t->cells++] = color;
	return true;
}

void cli_table_print(const cli_context *ctx, const cli_table *t, FILE *out)
{
	size_t widths[CLI_TABLE_MAX_COLUMNS] = {0};
	bool to_err = out == stderr;

	for (size_t i = 0; i < t->cells; i++)
		if (strlen(t->text[i]) > widths[i % t->columns])
			widths[i % t->columns] = strlen(t->text[i]);
	for (size_t i = 0; i < t->cells; i++) {
		size_t column = i % t->columns;
		/* the first row is the header */
		cli_color color = i < t->columns ? CLI_BOLD : t->colors[i];

		fprintf(out, "%s%s%s", cli_color_on(ctx, to_err, color), t->text[i],
		        color ? cli_color_off(ctx, to_err) : "");
		if (column + 1 == t->columns)
			fputc('\n', out);
		else
			fprintf(out, "%*s", (int)(widths[column] - strlen(t->text[i]) + 2), "");
	}
}

void cli_table_free(cli_table *t)
{
	for (size_t i = 0; i < t->cells; i++)
		free(t->text[i]);
	free(t->text);
	free(t->colors);
	memset(t, 0, sizeof(*t));
}
