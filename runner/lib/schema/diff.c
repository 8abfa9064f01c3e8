/*
 * diff.c - compare two snapshots object by object. Both are in the model's
 * stable order, which is an order on identities, so one merge pass pairs
 * every object with its counterpart: an object on one side only is added or
 * removed, a pair is compared attribute by attribute (attributes are sorted
 * by name too) and each attribute that differs is one change with both
 * values. The differences are copied, so the diff outlives the snapshots.
 */
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>

struct modmig_schema_diff {
	modmig_schema_difference *items;
	size_t count, cap;
	bool oom;
};

static char *dup_or_null(const char *s, bool *oom)
{
	char *c;

	if (!s)
		return NULL;
	if (!(c = mm_strdup(s)))
		*oom = true;
	return c;
}

static void add(modmig_schema_diff *d, modmig_schema_change change, const modmig_schema_object *o,
                const char *attribute, const char *a_value, const char *b_value)
{
	modmig_schema_difference *x;

	if (d->count == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		void *p = realloc(d->items, ncap * sizeof(*d->items));

		if (!p) {
			d->oom = true;
			return;
		}
		d->items = p;
		d->cap = ncap;
	}
	x = &d->items[d->count++];
	x->change = change;
	x->kind = dup_or_null(o->kind, &d->oom);
	x->schema = dup_or_null(o->schema, &d->oom);
	x->parent_kind = dup_or_null(o->parent_kind, &d->oom);
	x->parent = dup_or_null(o->parent, &d->oom);
	x->name = dup_or_null(o->name, &d->oom);
	x->attribute = dup_or_null(attribute, &d->oom);
	x->a_value = dup_or_null(a_value, &d->oom);
	x->b_value = dup_or_null(b_value, &d->oom);
}

/* Both objects have the same identity: one change per differing attribute. */
static void compare(modmig_schema_diff *d, const modmig_schema_object *a,
                    const modmig_schema_object *b)
{
	size_t i = 0, j = 0;

	while (i < a->attribute_count || j < b->attribute_count) {
		const modmig_schema_attribute *x =
		        i < a->attribute_count ? &a->attributes[i] : NULL;
		const modmig_schema_attribute *y =
		        j < b->attribute_count ? &b->attributes[j] : NULL;
		int c = !x ? 1 : !y ? -1 : strcmp(x->name, y->name);

		if (c < 0) {
			add(d, MODMIG_SCHEMA_CHANGED, a, x->name, x->value, NULL);
			i++;
		} else if (c > 0) {
			add(d, MODMIG_SCHEMA_CHANGED, b, y->name, NULL, y->value);
			j++;
		} else {
			if (strcmp(x->value, y->value) != 0)
				add(d, MODMIG_SCHEMA_CHANGED, a, x->name, x->value, y->value);
			i++;
			j++;
		}
	}
}

modmig_status modmig_schema_diff_new(const modmig_schema *a, const modmig_schema *b,
                                     modmig_schema_diff **out, modmig_error **err)
{
	modmig_schema_diff *d = calloc(1, sizeof(*d));
	size_t i = 0, j = 0, na = modmig_schema_count(a), nb = modmig_schema_count(b);

	*out = NULL;
	if (!d)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	while (i < na || j < nb) {
		const modmig_schema_object *x = i < na ? &a->objects[i] : NULL;
		const modmig_schema_object *y = j < nb ? &b->objects[j] : NULL;
		int c = !x ? 1 : !y ? -1 : mm_schema_object_cmp(x, y);

		if (c < 0) {
			add(d, MODMIG_SCHEMA_REMOVED, x, NULL, NULL, NULL);
			i++;
		} else if (c > 0) {
			add(d, MODMIG_SCHEMA_ADDED, y, NULL, NULL, NULL);
			j++;
		} else {
			compare(d, x, y);
			i++;
			j++;
		}
	}
	if (d->oom) {
		modmig_schema_diff_free(d);
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	}
	*out = d;
	return MODMIG_OK;
}

size_t modmig_schema_diff_count(const modmig_schema_diff *d)
{
	return d ? d->count : 0;
}

const modmig_schema_difference *modmig_schema_diff_at(const modmig_schema_diff *d, size_t index)
{
	return d && index < d->count ? &d->items[index] : NULL;
}

void modmig_schema_diff_free(modmig_schema_diff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++) {
		modmig_schema_difference *x = &d->items[i];

		free((char *)x->kind);
		free((char *)x->schema);
		free((char *)x->parent_kind);
		free((char *)x->parent);
		free((char *)x->name);
		free((char *)x->attribute);
		free((char *)x->a_value);
		free((char *)x->b_value);
	}
	free(d->items);
	free(d);
}

/* ---- text -------------------------------------------------------------------- */

/* A value as a reader sees it: unset booleans read "false", other unset values "none". */
static const char *shown(const char *v, const char *other)
{
	if (v)
		return v;
	return other && strcmp(other, "true") == 0 ? "false" : "none";
}

/* A copy of n bytes of s without leading blanks. */
static char *trimmed(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	return mm_strndup(s, n);
}

/*
 * The 1-based number of the first line where a and b differ, with the text
 * of that line on each side ("(end)" past a side's last line).
 */
static int first_difference(const char *a, const char *b, char **la, char **lb)
{
	for (int line = 1;; line++) {
		size_t na = a ? strcspn(a, "\n") : 0, nb = b ? strcspn(b, "\n") : 0;

		if (!a || !b || na != nb || memcmp(a, b, na) != 0) {
			*la = a ? trimmed(a, na) : mm_strdup("(end)");
			*lb = b ? trimmed(b, nb) : mm_strdup("(end)");
			return line;
		}
		a = a[na] ? a + na + 1 : NULL;
		b = b[nb] ? b + nb + 1 : NULL;
		if (!a && !b)
			return 0;
	}
}

char *modmig_schema_difference_text(const modmig_schema_difference *d, const char *a_label,
                                    const char *b_label)
{
	modmig_schema_object o = {d->kind, d->schema, d->parent_kind, d->parent, d->name, NULL, 0};
	char *label = mm_schema_object_label(&o, true), *attr = NULL, *out = NULL;
	char *la = NULL, *lb = NULL;
	int line;

	if (!label)
		return NULL;
	if (d->change != MODMIG_SCHEMA_CHANGED) {
		out = mm_printf("%s: only in %s", label,
		                d->change == MODMIG_SCHEMA_ADDED ? b_label : a_label);
		goto cleanup;
	}
	if (!(attr = mm_strdup(d->attribute)))
		goto cleanup;
	for (char *p = attr; *p; p++)
		if (*p == '_')
			*p = ' ';
	if ((d->a_value && strchr(d->a_value, '\n')) || (d->b_value && strchr(d->b_value, '\n'))) {
		/* a definition: name the first line that differs */
		line = first_difference(d->a_value ? d->a_value : "", d->b_value ? d->b_value : "",
		                        &la, &lb);
		if (la && lb)
			out = mm_printf("%s: %s differs at line %d: \"%s\" in %s, \"%s\" in %s",
			                label, attr, line, la, a_label, lb, b_label);
		goto cleanup;
	}
	out = mm_printf("%s: %s is %s in %s, %s in %s", label, attr, shown(d->a_value, d->b_value),
	                a_label, shown(d->b_value, d->a_value), b_label);
cleanup:
	free(la);
	free(lb);
	free(attr);
	free(label);
	return out;
}
