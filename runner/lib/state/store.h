/*
 * state/store.h - what names.c shares with store.c, write.c and events.c: the query
 * that finds an unqualified version table's schema, each state table's
 * CREATE statements and the creation lock's key. Private to the state
 * folder; the layers above use state/state.h.
 */
#ifndef MODMIG_STATE_STORE_H
#define MODMIG_STATE_STORE_H

#include "state/state.h"

/*
 * Where an unqualified version table is, or would be created: one value, the
 * version table's quoted name as $1. mm_names_resolve() asks it alone,
 * mm_state_read() in the same round trip as the state.
 */
#define MM_RESOLVE_SQL                                                                             \
	"coalesce((select n.nspname::text from pg_class c join pg_namespace n on n.oid = "         \
	"c.relnamespace where c.oid = to_regclass($1)), current_schema()::text)"

/*
 * The CREATE statements of state table t (tables.def): a format taking the
 * table's qualified name and the guard function's.
 */
const char *mm_table_ddl(mm_table t);

/* The advisory key every creation of state and registration of modules takes. */
int64_t mm_state_create_key(void);

#endif /* MODMIG_STATE_STORE_H */
