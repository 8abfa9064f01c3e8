/*
 * state/events.c - the history's events, derived from the one table of rows
 * in include/modmig.h (MODMIG_HISTORY_EVENTS): their stored names, their enum
 * values and what each means for the version it names. And the history's
 * append-only guard (its function and triggers), derived from the history's
 * DDL row in state/tables.def: what verify checks and repair recreates.
 */
#include "state/state.h"
#include "state/store.h"

#include <stdlib.h>
#include <string.h>

typedef struct event_row {
	const char *name;
	unsigned flags;
} event_row;

static const event_row rows[MODMIG_HISTORY_EVENT_COUNT] = {
#define MODMIG_X_(id, number, text, fl, doc) [number] = {text, fl},
        MODMIG_HISTORY_EVENTS(MODMIG_X_)
#undef MODMIG_X_
};

const char *modmig_history_event_name(modmig_history_event event)
{
	if ((int)event <= 0 || (int)event >= MODMIG_HISTORY_EVENT_COUNT)
		return NULL;
	return rows[event].name;
}

modmig_history_event modmig_history_event_from_name(const char *name)
{
	int i;

	for (i = 1; name && i < MODMIG_HISTORY_EVENT_COUNT; i++)
		if (rows[i].name && strcmp(rows[i].name, name) == 0)
			return (modmig_history_event)i;
	return MODMIG_HISTORY_UNKNOWN;
}

unsigned modmig_history_event_flags(modmig_history_event event)
{
	if ((int)event <= 0 || (int)event >= MODMIG_HISTORY_EVENT_COUNT)
		return 0;
	return rows[event].flags;
}

/* The SQL list of the stored names of every event with one of flags: 'a', 'b' */
char *mm_event_sql_list(unsigned flags)
{
	mm_buf b;
	int i;

	mm_buf_init(&b);
	for (i = 1; i < MODMIG_HISTORY_EVENT_COUNT; i++)
		if (rows[i].flags & flags)
			mm_buf_printf(&b, "%s'%s'", b.len ? ", " : "", rows[i].name);
	return mm_buf_take(&b);
}

/* ---- the history's append-only guard ------------------------------------ */

#define CREATE_FUNCTION "CREATE OR REPLACE FUNCTION "
#define CREATE_TRIGGER  "CREATE TRIGGER "

/*
 * Each statement of the history's DDL that belongs to its guard, in order:
 * the function and the triggers. Statements end with ";\n" (the function's
 * body has its semicolons mid-line). each() gets the statement and its
 * length; name and name_len are the trigger's name (NULL for the function).
 */
static bool each_guard_statement(const char *ddl,
                                 bool (*each)(void *arg, const char *stmt, size_t len,
                                              const char *name, size_t name_len),
                                 void *arg)
{
	const char *p = ddl, *end;

	for (; p && *p; p = end ? end + 2 : NULL) {
		size_t len;
		const char *name = NULL;
		size_t name_len = 0;

		end = strstr(p, ";\n");
		len = end ? (size_t)(end - p) : strlen(p);
		if (strncmp(p, CREATE_TRIGGER, strlen(CREATE_TRIGGER)) == 0) {
			name = p + strlen(CREATE_TRIGGER);
			name_len = strcspn(name, " ");
		} else if (strncmp(p, CREATE_FUNCTION, strlen(CREATE_FUNCTION)) != 0) {
			continue;
		}
		if (!each(arg, p, len, name, name_len))
			return false;
	}
	return true;
}

typedef struct names_arg {
	mm_buf *b;
	int count;
} names_arg;

static bool add_name(void *arg, const char *stmt, size_t len, const char *name, size_t name_len)
{
	names_arg *a = arg;

	(void)stmt;
	(void)len;
	if (!name)
		return true;
	a->count++;
	return mm_buf_printf(a->b, "%s'%.*s'", a->b->len ? ", " : "", (int)name_len, name);
}

char *mm_history_trigger_sql_list(int *count)
{
	mm_buf b;
	names_arg a = {&b, 0};

	mm_buf_init(&b);
	each_guard_statement(mm_table_ddl(MM_TABLE_HISTORY), add_name, &a);
	*count = a.count;
	return mm_buf_take(&b);
}

typedef struct guard_arg {
	mm_buf *b;
	const mm_names *n;
} guard_arg;

static bool add_statement(void *arg, const char *stmt, size_t len, const char *name,
                          size_t name_len)
{
	guard_arg *a = arg;
	char *fmt = mm_strndup(stmt, len);
	bool ok = fmt != NULL;

	/* a trigger that is there (disabled, or its twin dropped) is replaced */
	if (ok && name)
		ok = mm_buf_printf(a->b, "DROP TRIGGER IF EXISTS %.*s ON %s;\n", (int)name_len,
		                   name, a->n->table[MM_TABLE_HISTORY]);
	if (ok)
		ok = mm_buf_printf(a->b, fmt, a->n->table[MM_TABLE_HISTORY], a->n->guard_fn) &&
		     mm_buf_puts(a->b, ";\n");
	free(fmt);
	if (!ok)
		a->b->oom = true;
	return ok;
}

bool mm_store_sql_history_guard(mm_buf *b, const mm_names *n)
{
	guard_arg a = {b, n};

	return each_guard_statement(mm_table_ddl(MM_TABLE_HISTORY), add_statement, &a);
}
