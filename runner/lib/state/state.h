/*
 * state/state.h - modmig's own tables in the database: their names, reading
 * them in one round trip, creating them, and the SQL of their rows. Uses db
 * and source.
 */
#ifndef MODMIG_STATE_H
#define MODMIG_STATE_H

#include "db/db.h"
#include "source/source.h"

/* ---- names of modmig's tables (names.c) --------------------------------- */

/*
 * The version table as written in the configuration and the quoted names
 * derived from it: every state table lives beside the version table, named
 * after it (tables.def).
 */
/* modmig's tables, indexes into mm_names.table[] and mm_state.has[] (tables.def). */
typedef enum mm_table {
#define MM_STATE_TABLE(id, suffix, what, ddl) MM_TABLE_##id,
#include "state/tables.def"
#undef MM_STATE_TABLE
	MM_TABLE_COUNT
} mm_table;

/* How messages name a state table ("the history table", ...). */
const char *mm_table_what(mm_table t);

typedef struct mm_names {
	char *written;               /* as configured, e.g. "app.goose_db_version" */
	char *base;                  /* the table's name as the server reads it: goose_db_version */
	char *schema;                /* quoted schema; NULL until an unqualified name is resolved */
	char *table[MM_TABLE_COUNT]; /* quoted and qualified, e.g. "app"."goose_db_version_history"
	                              */
	char *guard_fn;              /* the history's append-only trigger function */
	int64_t lock_key;            /* from the qualified name: set once resolved */
	/*
	 * The fence's transaction-level advisory lock, from the same identity
	 * but a key of its own: session and transaction advisory locks on one key
	 * conflict, so a session lock left on a pooled backend (or taken by the
	 * migrator waiting for this one) would block every fence for good.
	 */
	int64_t fence_key;
} mm_names;

/*
 * Every object of modmig's state, for readers that leave them out (schema
 * snapshots): the tables named <version table><suffix> for each row of
 * tables.def (with their sequences, indexes, constraints and triggers) and
 * the functions named <version table><suffix>, all in the version table's
 * schema. NULL-terminated.
 */
extern const char *const mm_state_table_suffixes[];
extern const char *const mm_state_function_suffixes[];

/*
 * Read the configured name by SQL's rules (libpg_query): one or two
 * identifiers, quoted parts keeping case. An unqualified name stays
 * unqualified until mm_state_read() or mm_names_resolve() finds its schema:
 * where the table is, else where the server would create it
 * (current_schema()). Every statement after that is schema-qualified.
 */
modmig_status mm_names_init(modmig_db *db, const char *version_table, mm_names *out,
                            modmig_error **err);
bool mm_names_resolved(const mm_names *n);
/* Qualify an unqualified name with schema (raw, as the catalog spells it). */
modmig_status mm_names_qualify(modmig_db *db, mm_names *n, const char *schema, modmig_error **err);
/* Resolve an unqualified name with a query of its own (one round trip). */
modmig_status mm_names_resolve(modmig_db *db, mm_names *n, modmig_error **err);
void mm_names_clear(mm_names *n);

/* ---- database state (store.c) ------------------------------------------- */

/* A version whose most recent row in the version table says applied. */
typedef struct mm_applied {
	int64_t version;
	int64_t id; /* that row's id: the apply order */
	char applied_at[24];
} mm_applied;

/* The most recent history event of a version. */
typedef struct mm_event_row {
	int64_t version;
	int64_t id;                /* its row in the history: the fence tells newer events by it */
	int age_seconds;           /* how long ago it was recorded, -1 when unknown */
	char *event;               /* the stored name, as read */
	modmig_history_event kind; /* its enum value (UNKNOWN for names we do not know) */
	char *sha256;
	int failed_unit; /* 1-based, 0 when none */
	char *error;
} mm_event_row;

/* A row of the module registry. */
typedef struct mm_registered {
	char *name;
	int position; /* 1-based manifest position: versions position*1000+1.. */
} mm_registered;

typedef struct mm_state {
	bool has[MM_TABLE_COUNT]; /* which state tables exist */
	mm_applied *applied;      /* ascending version */
	size_t applied_count;
	mm_event_row *events; /* ascending version */
	size_t event_count;
	mm_registered *modules; /* ascending position */
	size_t module_count;
} mm_state;

/*
 * Read all state in one round trip; missing tables read as empty. An
 * unqualified name is resolved in the same round trip and n qualified.
 */
modmig_status mm_state_read(modmig_db *db, mm_names *n, mm_state *out, modmig_error **err);
void mm_state_clear(mm_state *st);
const mm_applied *mm_state_find_applied(const mm_state *st, int64_t version);
const mm_event_row *mm_state_find_event(const mm_state *st, int64_t version);
int64_t mm_state_max_applied(const mm_state *st);
/*
 * The highest applied version at or below limit (0 when none): the planner
 * and verify both ask whether a pending file sits below something applied.
 */
int64_t mm_state_max_applied_upto(const mm_state *st, int64_t limit);

/* ---- creating and writing state (write.c) ------------------------------- */

/* Whether every state table exists. */
bool mm_state_complete(const mm_state *st);
/* Create whichever state tables st says are missing, in one transaction. */
modmig_status mm_store_create(modmig_db *db, const mm_names *n, const mm_state *st,
                              modmig_error **err);
/* Register the source's modules from index first_new on. */
modmig_status mm_store_register(modmig_db *db, const mm_names *n, const modmig_source *src,
                                size_t first_new, modmig_error **err);

/*
 * Append the SQL for one migration's state rows to b, values escaped as
 * literals. duration_ms < 0 lets the server measure the transaction so far.
 */
bool mm_store_sql_version_row(mm_buf *b, const mm_names *n, modmig_direction dir, int64_t version);
bool mm_store_sql_history_row(mm_buf *b, modmig_db *db, const mm_names *n,
                              modmig_history_event event, const modmig_migration *m,
                              double duration_ms, int failed_unit, const char *error);
/* The same row, written only when the SQL condition holds (INSERT ... SELECT ... WHERE). */
bool mm_store_sql_history_row_if(mm_buf *b, modmig_db *db, const mm_names *n,
                                 modmig_history_event event, const modmig_migration *m,
                                 double duration_ms, int failed_unit, const char *error,
                                 const char *condition);

/* ---- history events (events.c) ----------------------------------------- */

/* The stored names of every event with one of flags, as an SQL list 'a', 'b'. */
char *mm_event_sql_list(unsigned flags);

/*
 * The history's append-only guard, derived from its DDL row (tables.def):
 * the names of its triggers as an SQL list 'a', 'b' (count set to how many),
 * and the SQL that creates its function and triggers again, each trigger
 * dropped first if it exists.
 */
char *mm_history_trigger_sql_list(int *count);
bool mm_store_sql_history_guard(mm_buf *b, const mm_names *n);

#endif /* MODMIG_STATE_H */
