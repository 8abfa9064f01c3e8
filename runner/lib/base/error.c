/* error.c - the status table (doubling as exit codes) and the error object. */
#include "base/base.h"

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
        [MODMIG_E_CHECK] = {"check", 3},
        [MODMIG_E_STALE] = {"stale", 3},
        [MODMIG_E_OUT_OF_ORDER] = {"out_of_order", 3},
        [MODMIG_E_PLAN_MISMATCH] = {"plan_mismatch", 3},
        [MODMIG_E_PENDING] = {"pending", 3},
};

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

void modmig_free(void *ptr)
{
	free(ptr);
}

void mm_error_set_field(char **field, const char *value)
{
	free(*field);
	*field = value ? mm_strdup(value) : NULL;
}

modmig_status mm_fail(modmig_error **err, modmig_status code, const char *file, int line,
                      int column, const char *fmt, ...)
{
	modmig_error *e;
	va_list ap;
	int n;

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
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		e->message = malloc((size_t)n + 1);
		if (e->message) {
			va_start(ap, fmt);
			vsnprintf(e->message, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	*err = e;
	return code;
}

void mm_hint(modmig_error **err, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *hint;

	if (!err || !*err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	hint = malloc((size_t)n + 1);
	if (!hint)
		return;
	va_start(ap, fmt);
	vsnprintf(hint, (size_t)n + 1, fmt, ap);
	va_end(ap);
	free((*err)->hint);
	(*err)->hint = hint;
}

void mm_error_set_migration(modmig_error **err, int64_t version, const char *module)
{
	if (!err || !*err)
		return;
	(*err)->version = version;
	mm_error_set_field(&(*err)->module, module);
}
