/*
 * model.c - the snapshot model: a flat list of objects keyed by identity
 * (schema, kind, parent, name), each with attributes sorted by name, kept in
 * one stable order so that JSON, text and diffs never depend on OIDs or on
 * the order the catalogs returned rows in.
 */
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

modmig_schema *mm_schema_new(void)
{
	return calloc(1, sizeof(modmig_schema));
}

/* Grow *arr (element size sz) to hold one more than *count. */
static bool grow(void **arr, size_t *cap, size_t count, size_t sz)
{
	size_t ncap;
	void *p;

	if (count < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

bool mm_schema_keep(modmig_schema *s, PGresult *res)
{
	if (!grow((void **)&s->results, &s->result_cap, s->result_count, sizeof(PGresult *))) {
		PQclear(res);
		s->oom = true;
		return false;
	}
	s->results[s->result_count++] = res;
	return true;
}

const char *mm_schema_own(modmig_schema *s, const char *text)
{
	char *copy;

	if (!grow((void **)&s->owned, &s->owned_cap, s->owned_count, sizeof(char *)) ||
	    !(copy = mm_strdup(text))) {
		s->oom = true;
		return NULL;
	}
	s->owned[s->owned_count++] = copy;
	return copy;
}

static int attr_cmp(const void *a, const void *b)
{
	return strcmp(((const modmig_schema_attribute *)a)->name,
	              ((const modmig_schema_attribute *)b)->name);
}

bool mm_schema_add(modmig_schema *s, const char *kind, const char *schema, const char *parent_kind,
                   const char *parent, const char *name, modmig_schema_attribute *attrs, size_t n)
{
	modmig_schema_object *o;

	if (!grow((void **)&s->objects, &s->cap, s->count, sizeof(*s->objects))) {
		free(attrs);
		s->oom = true;
		return false;
	}
	if (n > 1)
		qsort(attrs, n, sizeof(*attrs), attr_cmp);
	o = &s->objects[s->count++];
	o->kind = kind;
	o->schema = schema;
	o->parent_kind = parent_kind;
	o->parent = parent;
	o->name = name;
	o->attributes = attrs;
	o->attribute_count = n;
	return true;
}

/*
 * Rank of a kind within its schema: the schema itself first, then what
 * other objects are built from (extensions, types, sequences), then
 * relations, then code. Children of a relation follow it.
 */
static int kind_rank(const char *kind)
{
	static const char *const order[] = {
	        "schema",
	        "extension",
	        "enum",
	        "domain",
	        "composite type",
	        "range type",
	        "sequence",
	        "table",
	        "foreign table",
	        "view",
	        "materialized view",
	        "function",
	        "procedure",
	        "aggregate",
	        "statistics",
	        "column",
	        "constraint",
	        "index",
	        "trigger",
	        "policy",
	};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(order[i], kind) == 0)
			return (int)i;
	return 100;
}

int mm_schema_object_cmp(const modmig_schema_object *a, const modmig_schema_object *b)
{
	const char *ga = a->parent ? a->parent_kind : a->kind;
	const char *gb = b->parent ? b->parent_kind : b->kind;
	int c;

	if ((c = strcmp(a->schema, b->schema)) != 0)
		return c;
	if ((c = kind_rank(ga) - kind_rank(gb)) != 0 || (c = strcmp(ga, gb)) != 0)
		return c;
	if ((c = strcmp(a->parent ? a->parent : a->name, b->parent ? b->parent : b->name)) != 0)
		return c;
	if ((c = (a->parent != NULL) - (b->parent != NULL)) != 0)
		return c;
	if (!a->parent)
		return 0; /* same schema, kind and name */
	if ((c = kind_rank(a->kind) - kind_rank(b->kind)) != 0 ||
	    (c = strcmp(a->kind, b->kind)) != 0)
		return c;
	return strcmp(a->name, b->name);
}

static int object_qsort_cmp(const void *a, const void *b)
{
	return mm_schema_object_cmp(a, b);
}

bool mm_schema_sort(modmig_schema *s, const modmig_schema_object **dup)
{
	if (s->count > 1)
		qsort(s->objects, s->count, sizeof(*s->objects), object_qsort_cmp);
	for (size_t i = 1; i < s->count; i++)
		if (mm_schema_object_cmp(&s->objects[i - 1], &s->objects[i]) == 0) {
			*dup = &s->objects[i];
			return false;
		}
	return true;
}

char *mm_schema_object_label(const modmig_schema_object *o, bool with_parent)
{
	if (o->parent)
		return with_parent ? mm_printf("%s %s.%s: %s %s", o->parent_kind, o->schema,
		                               o->parent, o->kind, o->name)
		                   : mm_printf("%s %s", o->kind, o->name);
	if (strcmp(o->kind, "schema") == 0 || strcmp(o->kind, "extension") == 0)
		return mm_printf("%s %s", o->kind, o->name);
	return mm_printf("%s %s.%s", o->kind, o->schema, o->name);
}

/* ---- the public accessors ------------------------------------------------ */

void modmig_schema_options_init(modmig_schema_options *opts)
{
	memset(opts, 0, sizeof(*opts));
}

void modmig_schema_free(modmig_schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++)
		free((void *)s->objects[i].attributes);
	for (size_t i = 0; i < s->result_count; i++)
		PQclear(s->results[i]);
	for (size_t i = 0; i < s->owned_count; i++)
		free(s->owned[i]);
	free(s->objects);
	free(s->results);
	free(s->owned);
	free(s);
}

size_t modmig_schema_count(const modmig_schema *s)
{
	return s ? s->count : 0;
}

const modmig_schema_object *modmig_schema_at(const modmig_schema *s, size_t index)
{
	return s && index < s->count ? &s->objects[index] : NULL;
}

const char *modmig_schema_object_get(const modmig_schema_object *obj, const char *attribute)
{
	for (size_t i = 0; obj && i < obj->attribute_count; i++)
		if (strcmp(obj->attributes[i].name, attribute) == 0)
			return obj->attributes[i].value;
	return NULL;
}
