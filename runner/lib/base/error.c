/*
 * error.c - the status table (doubling as exit codes), the error object with
 * its next step, the one formatting of an error, and the library's version.
 */
#include "base/base.h"

#include <inttypes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int exit_code;
} status_table[MODMIG_STATUS_COUNT] = {
        [MODMIG_OK] = {"ok", 0},
        [MODMIG_E_USAGE] = {"usage", 2},
        [MODMIG_E_MANIFEST] = {"manifest", 2},
        [MODMIG_E_PARSE] = {"parse", 2},
        [MODMIG_E_VERSION] = {"version", 2},
        [MODMIG_E_NOT_FOUND] = {"not_found", 2},
        [MODMIG_E_REGISTRY] = {"registry", 2},
        [MODMIG_E_REFUSED] = {"refused", 2},
        [MODMIG_E_IO] = {"io", 1},
        [MODMIG_E_CONNECT] = {"connect", 1},
        [MODMIG_E_SQL] = {"sql", 1},
        [MODMIG_E_LOCK_TIMEOUT] = {"lock_timeout", 1},
        [MODMIG_E_STATE] = {"state", 1},
        [MODMIG_E_INCOMPLETE] = {"incomplete", 1},
        [MODMIG_E_NOMEM] = {"nomem", 1},
        [MODMIG_E_INTERNAL] = {"internal", 1},
        [MODMIG_E_CANCELLED] = {"cancelled", 1},
        [MODMIG_E_CHECK] = {"check", 3},
        [MODMIG_E_STALE] = {"stale", 3},
        [MODMIG_E_OUT_OF_ORDER] = {"out_of_order", 3},
        [MODMIG_E_PLAN_MISMATCH] = {"plan_mismatch", 3},
        [MODMIG_E_PENDING] = {"pending", 3},
};

/* MODMIG_VERSION as this library was built, whatever header a client used. */
const char *modmig_version(void)
{
	return MODMIG_VERSION;
}

/* Indexed by modmig_next_step; appended to as the enum is. */
static const char *const next_step_names[] = {
        [MODMIG_NEXT_NONE] = "none",
        [MODMIG_NEXT_RUN_UP] = "run_up",
        [MODMIG_NEXT_RESUME] = "resume",
        [MODMIG_NEXT_CREATE_STATE] = "create_state",
        [MODMIG_NEXT_RUN_VERIFY] = "run_verify",
        [MODMIG_NEXT_WRITE_PLAN] = "write_plan",
        [MODMIG_NEXT_LIST] = "list",
        [MODMIG_NEXT_CREATE_MIGRATION] = "create_migration",
        [MODMIG_NEXT_USE_MANIFEST] = "use_manifest",
        [MODMIG_NEXT_RENUMBER] = "renumber",
        [MODMIG_NEXT_RAISE_LOCK_TIMEOUT] = "raise_lock_timeout",
        [MODMIG_NEXT_RAISE_STATEMENT_TIMEOUT] = "raise_statement_timeout",
        [MODMIG_NEXT_GRANT] = "grant",
        [MODMIG_NEXT_CHECK_UNIT] = "check_unit",
        [MODMIG_NEXT_FINISH_PARTWAY] = "finish_partway",
        [MODMIG_NEXT_MARK_ONLY] = "mark_only",
        [MODMIG_NEXT_WRITABLE] = "writable",
        [MODMIG_NEXT_RAISE_MAX_FILE_SIZE] = "raise_max_file_size",
        [MODMIG_NEXT_REPAIR] = "repair",
};

const char *modmig_next_step_name(modmig_next_step step)
{
	size_t count = sizeof(next_step_names) / sizeof(next_step_names[0]);

	if ((unsigned)step >= count || !next_step_names[step])
		return "unknown";
	return next_step_names[step];
}

int modmig_exit_code(modmig_status status)
{
	if ((int)status < 0 || status >= MODMIG_STATUS_COUNT)
		return 1;
	return status_table[status].exit_code;
}

const char *modmig_status_name(modmig_status status)
{
	if ((int)status < 0 || status >= MODMIG_STATUS_COUNT)
		return "unknown";
	return status_table[status].name;
}

void modmig_error_free(modmig_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err->hint);
	free(err->sqlstate);
	free(err->detail);
	free(err->context);
	free(err->file);
	free(err->module);
	free(err->next_reason);
	free(err);
}

modmig_status modmig_error_code(const modmig_error *err)
{
	return err ? err->code : MODMIG_OK;
}
const char *modmig_error_message(const modmig_error *err)
{
	return err && err->message ? err->message : "out of memory";
}
const char *modmig_error_hint(const modmig_error *err)
{
	return err ? err->hint : NULL;
}
const char *modmig_error_sqlstate(const modmig_error *err)
{
	return err ? err->sqlstate : NULL;
}
const char *modmig_error_detail(const modmig_error *err)
{
	return err ? err->detail : NULL;
}
const char *modmig_error_context(const modmig_error *err)
{
	return err ? err->context : NULL;
}
const char *modmig_error_file(const modmig_error *err)
{
	return err ? err->file : NULL;
}
int modmig_error_line(const modmig_error *err)
{
	return err ? err->line : 0;
}
int modmig_error_column(const modmig_error *err)
{
	return err ? err->column : 0;
}
int64_t modmig_error_version(const modmig_error *err)
{
	return err ? err->version : 0;
}
const char *modmig_error_module(const modmig_error *err)
{
	return err ? err->module : NULL;
}
modmig_next_step modmig_error_next_step(const modmig_error *err)
{
	return err ? err->next : MODMIG_NEXT_NONE;
}
const char *modmig_error_next_reason(const modmig_error *err)
{
	return err ? err->next_reason : NULL;
}
int modmig_error_next_unit(const modmig_error *err)
{
	return err ? err->next_unit : 0;
}
int64_t modmig_error_next_version(const modmig_error *err)
{
	return err ? err->next_version : 0;
}

void modmig_free(void *ptr)
{
	free(ptr);
}

void mm_error_set_field(char **field, const char *value)
{
	free(*field);
	*field = value ? mm_strdup(value) : NULL;
}

/*
 * A message is one line (modmig.h promises it): text from elsewhere, a
 * server's message or a file name, may carry a line break; it becomes a
 * space, trailing ones go.
 */
static void one_line(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		s[--len] = '\0';
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

modmig_status mm_fail(modmig_error **err, modmig_status code, const char *file, int line,
                      int column, const char *fmt, ...)
{
	modmig_error *e;
	va_list ap;

	if (!err || *err)
		return code;
	e = calloc(1, sizeof(*e));
	if (!e)
		return code;
	e->code = code;
	e->line = line;
	e->column = column;
	e->file = file ? mm_strdup(file) : NULL;
	va_start(ap, fmt);
	e->message = mm_vprintf(fmt, ap);
	va_end(ap);
	if (e->message)
		one_line(e->message);
	*err = e;
	return code;
}

void mm_hint(modmig_error **err, const char *fmt, ...)
{
	va_list ap;
	char *hint;

	if (!err || !*err)
		return;
	va_start(ap, fmt);
	hint = mm_vprintf(fmt, ap);
	va_end(ap);
	if (!hint)
		return;
	free((*err)->hint);
	(*err)->hint = hint;
	/* a hint without a step: a step set before no longer goes with it */
	(*err)->next = MODMIG_NEXT_NONE;
	(*err)->next_unit = 0;
	(*err)->next_version = 0;
	free((*err)->next_reason);
	(*err)->next_reason = NULL;
}

void mm_error_set_migration(modmig_error **err, int64_t version, const char *module)
{
	if (!err || !*err)
		return;
	(*err)->version = version;
	mm_error_set_field(&(*err)->module, module);
}

void mm_next(modmig_error **err, modmig_next_step step, int unit, const char *fmt, ...)
{
	va_list ap;
	char *hint;

	if (!err || !*err)
		return;
	(*err)->next = step;
	(*err)->next_unit = unit;
	va_start(ap, fmt);
	hint = mm_vprintf(fmt, ap);
	va_end(ap);
	if (!hint)
		return;
	free((*err)->hint);
	(*err)->hint = hint;
}

void mm_next_reason(modmig_error **err, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	if (!err || !*err)
		return;
	va_start(ap, fmt);
	reason = mm_vprintf(fmt, ap);
	va_end(ap);
	free((*err)->next_reason);
	(*err)->next_reason = reason;
}

/* ---- formatting --------------------------------------------------------- */

/* Server text such as PL/pgSQL context spans lines; keep it under its label. */
static void put_labelled(mm_buf *b, const char *label, const char *text)
{
	const char *line = text;

	mm_buf_printf(b, "  %s: ", label);
	while (*line) {
		size_t len = strcspn(line, "\n");

		mm_buf_printf(b, "%s%.*s\n", line == text ? "" : "    ", (int)len, line);
		line += len;
		if (*line == '\n')
			line++;
	}
	if (!*text)
		mm_buf_puts(b, "\n");
}

char *modmig_error_format_hint(const modmig_error *err, unsigned flags, const char *hint)
{
	const char *file = modmig_error_file(err);
	int line = modmig_error_line(err), column = modmig_error_column(err);
	bool color = (flags & MODMIG_FORMAT_COLOR) != 0;
	mm_buf b;

	mm_buf_init(&b);
	/* file:line:column, the form editors jump to */
	if (file && line > 0 && column > 0)
		mm_buf_printf(&b, "%s:%d:%d: ", file, line, column);
	else if (file && line > 0)
		mm_buf_printf(&b, "%s:%d: ", file, line);
	else if (file)
		mm_buf_printf(&b, "%s: ", file);
	else
		mm_buf_puts(&b, "modmig: ");
	mm_buf_printf(&b, "%serror%s: %s\n", color ? "\033[31m" : "", color ? "\033[0m" : "",
	              modmig_error_message(err));
	if (hint)
		put_labelled(&b, "hint", hint);
	if (modmig_error_version(err) != 0)
		mm_buf_printf(&b, "  migration: %05" PRId64 "%s%s\n", modmig_error_version(err),
		              modmig_error_module(err) ? " " : "",
		              modmig_error_module(err) ? modmig_error_module(err) : "");
	if (modmig_error_sqlstate(err))
		mm_buf_printf(&b, "  SQLSTATE %s\n", modmig_error_sqlstate(err));
	if (modmig_error_detail(err))
		put_labelled(&b, "detail", modmig_error_detail(err));
	if (modmig_error_context(err))
		put_labelled(&b, "context", modmig_error_context(err));
	if (b.oom) {
		mm_buf_free(&b);
		return NULL;
	}
	return mm_buf_take(&b);
}

char *modmig_error_format(const modmig_error *err, unsigned flags)
{
	return modmig_error_format_hint(err, flags, modmig_error_hint(err));
}
