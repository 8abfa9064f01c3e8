/*
 * schema/schema.h - the schema layer: a snapshot of a database's schema read
 * from the catalogs (snapshot.c), its model and order (model.c), its JSON
 * form (json.c), differences between two snapshots (diff.c) and shadow
 * databases (shadow.c). Uses state (for the names of modmig's own objects)
 * and everything below.
 */
#ifndef MODMIG_SCHEMA_H
#define MODMIG_SCHEMA_H

#include "state/state.h"

#include <signal.h>

/* ---- the model (model.c) ------------------------------------------------ */

/*
 * Strings are either borrowed from PGresults the snapshot keeps or owned
 * copies; both are released with the snapshot.
 */
struct modmig_schema {
	modmig_schema_object *objects;
	size_t count, cap;
	PGresult **results; /* kept alive: objects point into them */
	size_t result_count, result_cap;
	char **owned; /* strings copied in (from JSON) */
	size_t owned_count, owned_cap;
	bool oom;
};

modmig_schema *mm_schema_new(void);
/* Keep res alive as long as s (takes ownership; PQclear on failure). */
bool mm_schema_keep(modmig_schema *s, PGresult *res);
/* A copy of text owned by s, or NULL when out of memory. */
const char *mm_schema_own(modmig_schema *s, const char *text);
/*
 * Append an object; attrs (count n) is taken over (freed with s) and
 * sorted by name. Strings must live as long as s.
 */
bool mm_schema_add(modmig_schema *s, const char *kind, const char *schema, const char *parent_kind,
                   const char *parent, const char *name, modmig_schema_attribute *attrs, size_t n);
/* Sort objects into the stable order; false when two objects share an identity. */
bool mm_schema_sort(modmig_schema *s, const modmig_schema_object **dup);
/* The stable order: schema, the group's kind, the group, then the child's kind and name. */
int mm_schema_object_cmp(const modmig_schema_object *a, const modmig_schema_object *b);
/* "table billing.invoices", "schema billing", "column due_on" (caller frees). */
char *mm_schema_object_label(const modmig_schema_object *o, bool with_parent);

/* ---- shadow databases (shadow.c) ---------------------------------------- */

struct modmig_shadow {
	modmig_db *target; /* borrowed */
	modmig_db *db;     /* the shadow connection */
	char *name;        /* the temporary database, or NULL with a dev URL */
	PGcancel *cancel_target, *cancel_shadow;
	volatile sig_atomic_t interrupted;
	volatile sig_atomic_t closing; /* the drop is running: an interrupt must not cancel it */
};

/* MODMIG_E_SQL naming the interruption when the shadow was interrupted. */
modmig_status mm_shadow_check(const modmig_shadow *sh, modmig_error **err);
/* Empty the shadow (as a --dev-url database is emptied when opened) for another build. */
modmig_status mm_shadow_wipe(modmig_shadow *sh, modmig_error **err);

#endif /* MODMIG_SCHEMA_H */
