/*
 * run/apply.h - what apply.c shares with apply_errors.c: the query string a
 * migration is sent as, with its map back to the file, and the arguments of
 * one run. Private to the executor.
 */
#ifndef MODMIG_APPLY_H
#define MODMIG_APPLY_H

#include "run/run.h"

/* Where a unit sits in the query string sent to the server. */
typedef struct span {
	size_t start;
	size_t len;
} span;

/* One composed query string and the map back to the file. */
typedef struct composed {
	mm_buf sql;
	span *spans;        /* one per unit, from unit `first` on */
	size_t first;       /* index of the first unit in the section */
	size_t count;       /* units in the string */
	int prefix_results; /* results the server sends before the first unit's */
} composed;

static inline const mm_section *mm_section_of(const modmig_migration *m, modmig_direction dir)
{
	return dir == MODMIG_UP ? &m->parsed.up : &m->parsed.down;
}

typedef struct run_args {
	mm_session *s;
	const modmig_migration *m;
	modmig_direction dir;
	const char *lock_timeout; /* already resolved: file header, else option */
	const char *statement_timeout;
	size_t first_unit;           /* > 0 when resuming a failed NO TRANSACTION migration */
	modmig_history_event prefix; /* recorded first (resumed/restarted), or UNKNOWN */
	size_t failed_unit;          /* out: 1-based unit that failed, 0 when unknown */
	mm_progress progress;        /* reports while the migration runs */
	const composed *running;     /* the query string being sent, for where_running() */
	int fence;                   /* out: what the fence found instead (FENCE_*), or 0 */
	char *fence_message;         /* out: the server's words for it (owned) */
} run_args;

/*
 * A failed migration: the server's error placed at file:line:column of the
 * unit that failed (from how many results came back before it), *unit set.
 */
modmig_status mm_apply_failed(modmig_db *db, const modmig_migration *m, modmig_direction dir,
                              const composed *c, const PGresult *error, int ok_results,
                              size_t *unit, modmig_error **err);
/* Line and column in the file of byte `at` of unit u's text. */
void mm_apply_locate(const mm_unit *u, size_t at, int *line, int *column);
/* The unit (and byte offset in it) that the ok_results-th result belongs to. */
bool mm_apply_unit_by_results(const composed *c, const mm_section *sec, int ok_results,
                              size_t *unit, size_t *offset);
/* How many results the composed string sends when everything succeeds. */
int mm_apply_results_of(const composed *c, const mm_section *sec);
/* A lock or statement timeout: say which table it waited for and who held it. */
void mm_apply_explain_timeout(const run_args *a, modmig_error **err);

/*
 * SQLSTATEs the fence raises (class "MM" is no class of PostgreSQL's), and
 * what each means for the migration about to run.
 */
#define STATE_APPLIED   "MMAPP" /* up: another migrator applied it */
#define STATE_UNAPPLIED "MMUNA" /* down: another migrator rolled it back */
#define STATE_LEASE     "MMLSE" /* the table lock's lease is no longer ours */
#define STATE_RUNNING   "MMRUN" /* a NO TRANSACTION run of it started elsewhere */
#define STATE_FAILED    "MMFLD" /* ... and failed part-way there */

enum { FENCE_NONE = 0, FENCE_DONE, FENCE_LEASE, FENCE_RUNNING };

/* Append "COMMAND name = 'value';" (nothing for a NULL value), counted as a prefix result. */
void mm_apply_add_setting(composed *c, modmig_db *db, const char *command, const char *name,
                          const char *value);

/* ---- the fence (fence.c) ---- */
void mm_fence_clean_session(composed *c, modmig_db *db);
void mm_fence_bookkeeping_session(mm_buf *b);
void mm_fence_add(mm_buf *b, const run_args *a, bool running_check, bool strict);
bool mm_fence_caught(run_args *a, const PGresult *res, modmig_status *rc, modmig_error **err);
modmig_status mm_fence_wait(run_args *a, double *since, double *reported, modmig_error **err);

#endif /* MODMIG_APPLY_H */
