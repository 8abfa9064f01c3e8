/*
 * state/state.h - modmig's own tables in the database: their names, reading
 * them in one round trip, creating them, and the SQL of their rows. Uses db
 * and source.
 */
#ifndef MODMIG_STATE_H
#define MODMIG_STATE_H

#include "db/db.h"
#include "source/source.h"

/* ---- names of modmig's tables (store.c) --------------------------------- */

/*
 * The version table as written in the configuration and the quoted names
 * derived from it. The history and the registry live beside the version
 * table: "<table>_history" and "<table>_modules" in the same schema.
 */
typedef struct mm_names {
	char *written;  /* as configured, e.g. "app.goose_db_version" */
	char *version;  /* quoted and qualified, e.g. "app"."goose_db_version" */
	char *history;  /* "app"."goose_db_version_history" */
	char *modules;  /* "app"."goose_db_version_modules" */
	char *schema;   /* quoted schema, or NULL when unqualified */
	char *guard_fn; /* the history's append-only trigger function */
	int64_t lock_key;
} mm_names;

modmig_status mm_names_init(modmig_db *db, const char *version_table, mm_names *out,
                            modmig_error **err);
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
	char *event; /* applied, rolled_back, failed, stamped, resumed, restarted */
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
	bool has_version_table;
	bool has_history;
	bool has_registry;
	mm_applied *applied; /* ascending version */
	size_t applied_count;
	mm_event_row *events; /* ascending version */
	size_t event_count;
	mm_registered *modules; /* ascending position */
	size_t module_count;
} mm_state;

/* Read all state in one round trip; missing tables read as empty. */
modmig_status mm_state_read(modmig_db *db, const mm_names *n, mm_state *out, modmig_error **err);
void mm_state_clear(mm_state *st);
const mm_applied *mm_state_find_applied(const mm_state *st, int64_t version);
const mm_event_row *mm_state_find_event(const mm_state *st, int64_t version);
int64_t mm_state_max_applied(const mm_state *st);
/*
 * The highest applied version at or below limit (0 when none): the planner
 * and verify both ask whether a pending file sits below something applied.
 */
int64_t mm_state_max_applied_upto(const mm_state *st, int64_t limit);

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
bool mm_store_sql_history_row(mm_buf *b, modmig_db *db, const mm_names *n, const char *event,
                              const modmig_migration *m, double duration_ms, int failed_unit,
                              const char *error);

#endif /* MODMIG_STATE_H */
