/*
 * cli_output.c - how the CLI talks to people and programs: colors, error
 * reports in the file:line form editors understand, JSON strings and
 * aligned tables.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- next steps as command lines ------------------------------------------------ */

char *cli_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(out = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

/*
 * The library says what to do in API terms and names the step; here each
 * step becomes the command line that does it. Where one step is worded for
 * several situations, the error's status tells them apart.
 */
char *cli_error_hint(const modmig_error *err)
{
	modmig_status code = modmig_error_code(err);
	const char *reason = modmig_error_next_reason(err);
	const char *module = modmig_error_module(err);
	const char *sep = reason ? "; " : "";

	if (!reason)
		reason = "";
	switch (modmig_error_next_step(err)) {
	case MODMIG_NEXT_RESUME:
		if (code == MODMIG_E_CANCELLED)
			return cli_strdupf(
			        "%s%srun 'modmig up --resume' to continue at unit %d, or "
			        "'modmig up --restart' to run it again from unit 1",
			        reason, sep, modmig_error_next_unit(err));
		return cli_strdupf(
		        "%s%sfix the cause, then run 'modmig up --resume' to continue at unit "
		        "%d, or 'modmig up --restart' to run it again from unit 1",
		        reason, sep, modmig_error_next_unit(err));
	case MODMIG_NEXT_CHECK_UNIT:
		return cli_strdupf(
		        "check whether unit %d took effect and make sure it can run again; "
		        "then run 'modmig up --resume' to run it again and continue, or "
		        "'modmig up --restart' to run the migration again from unit 1",
		        modmig_error_next_unit(err));
	case MODMIG_NEXT_FINISH_PARTWAY:
		return cli_strdupf(
		        "finish it first with 'modmig up --resume' or 'modmig up --restart'; "
		        "nothing was changed");
	case MODMIG_NEXT_MARK_ONLY:
		return cli_strdupf(
		        "add a Down section to the file, or undo its effects by hand and "
		        "drop only the record with 'modmig down --mark-only'; nothing was "
		        "changed");
	case MODMIG_NEXT_RUN_UP:
		return code == MODMIG_E_USAGE ? cli_strdupf("run up without --resume or --restart")
		                              : cli_strdupf("run 'modmig up'");
	case MODMIG_NEXT_WRITE_PLAN:
		if (code == MODMIG_E_PARSE)
			return cli_strdupf(
			        "write the plan again with 'modmig plan -o FILE' instead of "
			        "editing it");
		if (code == MODMIG_E_PLAN_MISMATCH)
			return cli_strdupf(
			        "write a new plan with 'modmig plan -o FILE', review it and "
			        "apply that one");
		if (code == MODMIG_E_USAGE)
			return cli_strdupf(
			        "drop those options, or write a new plan with them: modmig plan "
			        "-o FILE [options]");
		if (code == MODMIG_E_REFUSED)
			return cli_strdupf(
			        "write a plan with 'modmig plan -o FILE', review it, then run "
			        "'modmig up --plan FILE'; or pass --allow-unreviewed");
		return NULL;
	case MODMIG_NEXT_LIST:
		if (code == MODMIG_E_USAGE && module)
			return cli_strdupf("pick one of module %s's versions from 'modmig list'",
			                   module);
		if (module)
			return cli_strdupf("`modmig list` shows the modules%s%s", sep, reason);
		return cli_strdupf("pick a version from 'modmig list'%s%s", sep, reason);
	case MODMIG_NEXT_CREATE_MIGRATION:
		return cli_strdupf("%s%suse `modmig create %s NAME`", reason, sep,
		                   module ? module : "MODULE");
	case MODMIG_NEXT_USE_MANIFEST:
		return code == MODMIG_E_USAGE
		               ? cli_strdupf("use -m with a manifest: a goose directory (--dir) "
		                             "has no modules")
		               : cli_strdupf(
		                         "pass the manifest with -m, e.g. -m modules/modules.yaml");
	case MODMIG_NEXT_RENUMBER:
		return cli_strdupf("give it a version above %" PRId64
		                   ", or run without --strict to apply "
		                   "it out of order",
		                   modmig_error_next_version(err));
	case MODMIG_NEXT_RAISE_LOCK_TIMEOUT:
		return cli_strdupf(
		        "nothing of this migration was kept; let that session finish (or end "
		        "it), then run up again, or raise --lock-timeout or the file's '-- "
		        "modmig lock_timeout=' header");
	case MODMIG_NEXT_RAISE_STATEMENT_TIMEOUT:
		return cli_strdupf(
		        "make the statement faster, or raise --statement-timeout or the file's "
		        "'-- modmig statement_timeout=' header");
	case MODMIG_NEXT_RAISE_MAX_FILE_SIZE:
		return cli_strdupf(
		        "split it into smaller migrations, or raise --max-file-size (e.g. "
		        "--max-file-size 64MiB) if it is meant to be this large");
	default:
		return NULL;
	}
}

char *cli_finding_message(const modmig_finding *f)
{
	const char *step;

	switch (f->next) {
	case MODMIG_NEXT_RUN_UP:
		step = f->kind == MODMIG_FINDING_OUT_OF_ORDER
		               ? "'modmig up' applies it with a warning, --strict refuses"
		               : "run 'modmig up'";
		break;
	case MODMIG_NEXT_CREATE_STATE:
		step = "run 'modmig up' to create it";
		break;
	case MODMIG_NEXT_RESUME:
		step = "run 'modmig up --resume' or 'modmig up --restart'";
		break;
	case MODMIG_NEXT_REPAIR:
		if (f->kind == MODMIG_FINDING_UNVERIFIED)
			return cli_strdupf(
			        "%s; compare the schema with 'modmig drift', then record the "
			        "file's checksum with 'modmig repair --record-checksums "
			        "%" PRId64 "'; a warning, not an error",
			        f->reason, f->version);
		step = f->kind == MODMIG_FINDING_TAMPERED
		               ? "run 'modmig repair --recreate-triggers', then check 'modmig "
		                 "history' for changes"
		               : "restore the manifest, or, if nothing was applied under the "
		                 "modules it no longer has, run 'modmig repair --clear-registry'";
		break;
	default:
		return cli_strdupf("%s", f->message);
	}
	return cli_strdupf("%s; %s", f->reason, step);
}

const char *cli_check_fix(const modmig_check *c)
{
	switch (c->next) {
	case MODMIG_NEXT_RUN_UP:
		return "run 'modmig up'";
	case MODMIG_NEXT_CREATE_STATE:
		return "run 'modmig up' to create it";
	case MODMIG_NEXT_RUN_VERIFY:
		return "run 'modmig verify' for details";
	case MODMIG_NEXT_REPAIR:
		return strcmp(c->name, "history") == 0
		               ? "run 'modmig repair --recreate-triggers', then check 'modmig "
		                 "history' for changes"
		               : "append new modules at the end of the manifest, or, if nothing "
		                 "was applied under the modules it no longer has, run 'modmig "
		                 "repair --clear-registry'";
	default:
		return c->fix;
	}
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

static void json_field(FILE *out, const char *name, const char *value)
{
	fprintf(out, ",\"%s\":", name);
	cli_json_string(out, value);
}

static void json_number(FILE *out, const char *name, int64_t value)
{
	if (value > 0)
		fprintf(out, ",\"%s\":%" PRId64, name, value);
	else
		fprintf(out, ",\"%s\":null", name);
}

/* {"code","exit","message","hint","file","line","column","sqlstate",...} */
static void json_error_object(FILE *out, modmig_status code, const modmig_error *err,
                              const char *message, const char *hint, const char *file)
{
	modmig_next_step next = err ? modmig_error_next_step(err) : MODMIG_NEXT_NONE;

	if (err) {
		code = modmig_error_code(err);
		message = modmig_error_message(err);
		file = modmig_error_file(err);
	}
	fputs("{\"code\":", out);
	cli_json_string(out, modmig_status_name(code));
	fprintf(out, ",\"exit\":%d", modmig_exit_code(code));
	json_field(out, "message", message);
	json_field(out, "hint", hint);
	json_field(out, "file", file);
	json_number(out, "line", err ? modmig_error_line(err) : 0);
	json_number(out, "column", err ? modmig_error_column(err) : 0);
	json_field(out, "sqlstate", err ? modmig_error_sqlstate(err) : NULL);
	json_field(out, "detail", err ? modmig_error_detail(err) : NULL);
	json_field(out, "context", err ? modmig_error_context(err) : NULL);
	json_field(out, "module", err ? modmig_error_module(err) : NULL);
	json_number(out, "version", err ? modmig_error_version(err) : 0);
	json_field(out, "next_step", next == MODMIG_NEXT_NONE ? NULL : modmig_next_step_name(next));
	fputc('}', out);
}

void cli_json_error(const cli_context *ctx, modmig_status code, const modmig_error *err,
                    const char *message, const char *hint, const char *file)
{
	cli_problems *kept = ctx->problems;

	if (kept && kept->stream) {
		if (kept->count++)
			fputc(',', kept->stream);
		json_error_object(kept->stream, code, err, message, hint, file);
		if (kept->count == 1)
			kept->first_end = ftell(kept->stream);
		return;
	}
	if (!ctx->json || !ctx->json_error_written || *ctx->json_error_written)
		return;
	*ctx->json_error_written = true;
	fputs("{\"error\":", stdout);
	json_error_object(stdout, code, err, message, hint, file);
	fputs("}\n", stdout);
}

bool cli_json_problems_start(cli_context *ctx, cli_problems *problems)
{
	memset(problems, 0, sizeof(*problems));
	if (!ctx->json)
		return true;
	problems->stream = open_memstream(&problems->text, &problems->len);
	if (!problems->stream)
		return false;
	ctx->problems = problems;
	return true;
}

void cli_json_problems_flush(cli_context *ctx)
{
	cli_problems *kept = ctx->problems;
	bool ok;

	if (!kept)
		return;
	ctx->problems = NULL;
	/* text and len are valid only once the stream is closed */
	ok = fclose(kept->stream) == 0 && kept->text && kept->first_end > 0;
	if (ok && kept->count && !*ctx->json_error_written) {
		*ctx->json_error_written = true;
		printf("{\"error\":%.*s,\"problems\":[%s]}\n", (int)kept->first_end, kept->text,
		       kept->text);
	}
	free(kept->text);
	memset(kept, 0, sizeof(*kept));
}

int cli_report_error_hint(const cli_context *ctx, const modmig_error *err, const char *hint)
{
	char *text = modmig_error_format_hint(err, ctx->color_err ? MODMIG_FORMAT_COLOR : 0, hint);

	cli_json_error(ctx, MODMIG_OK, err, NULL, hint, NULL);
	if (!text)
		return cli_out_of_memory(ctx);
	fputs(text, stderr);
	modmig_free(text);
	return modmig_exit_code(modmig_error_code(err));
}

int cli_report_error(const cli_context *ctx, const modmig_error *err)
{
	char *hint = cli_error_hint(err);
	int rc = cli_report_error_hint(ctx, err, hint ? hint : modmig_error_hint(err));

	free(hint);
	return rc;
}

int cli_report_failure(const cli_context *ctx, modmig_status st, const modmig_error *err)
{
	/*
	 * Interrupted: one line that says what was kept and what to do next (the
	 * library recorded it and released the lock), then 130 or 143.
	 */
	if (cli_signal_received()) {
		char *hint = err ? cli_error_hint(err) : NULL;
		const char *text = hint ? hint : err ? modmig_error_hint(err) : NULL;

		fprintf(stderr, "modmig: interrupted by %s: %s%s%s\n", cli_signal_name(),
		        err ? modmig_error_message(err) : modmig_status_name(st), text ? "; " : "",
		        text ? text : "");
		cli_json_error(ctx, MODMIG_E_CANCELLED, err, "interrupted", text, NULL);
		free(hint);
		return cli_signal_exit_code();
	}
	if (err)
		return cli_report_error(ctx, err);
	if (st == MODMIG_E_NOMEM)
		return cli_out_of_memory(ctx);
	return cli_report(ctx, st, NULL, "run again with -v for details, and report a bug",
	                  "the operation failed (%s) without saying why", modmig_status_name(st));
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
	cli_json_error(ctx, code, NULL, message, hint, file);
	return modmig_exit_code(code);
}

void cli_print_file_warnings(const cli_context *ctx, const modmig_migration *m)
{
	size_t count = modmig_migration_warning_count(m);
	int line = 0, column = 0;

	for (size_t i = 0; i < count; i++) {
		const char *message = modmig_migration_warning_at(m, i, &line, &column, NULL);

		fprintf(stderr, "%s:%d:%d: %swarning%s: %s\n", modmig_migration_file(m), line,
		        column, cli_color_on(ctx, true, CLI_YELLOW), cli_color_off(ctx, true),
		        message);
	}
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

double cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
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
