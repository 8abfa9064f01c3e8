/*
 * state/events.c - the history's events, derived from the one table of rows
 * in include/modmig.h (MODMIG_HISTORY_EVENTS): their stored names, their enum
 * values and what each means for the version it names.
 */
#include "state/state.h"

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
