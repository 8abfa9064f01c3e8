/*
 * json.c - the stable JSON form of a snapshot, for `schema --json`, files
 * committed next to the migrations and `drift --against FILE`:
 *
 *   {"format": "modmig-schema 1", "objects": [
 *   {"attributes": {"owner": "app"}, "kind": "table", "name": "invoices", "schema": "billing"},
 *   {"attributes": {...}, "kind": "column", "name": "due_on", "parent": "invoices",
 *    "parent_kind": "table", "schema": "billing"},
 *   ...]}
 *
 * Objects come in the model's stable order and keys are sorted, one object
 * per line, so that two snapshots of the same schema are byte-identical and a
 * changed one reads well in a code review. Reading goes through libyaml (JSON
 * is YAML), already a dependency for the manifest: no parser of our own.
 */
#include "schema/schema.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define FORMAT "modmig-schema 1"

char *modmig_schema_to_json(const modmig_schema *s)
{
	mm_buf b;

	mm_buf_init(&b);
	mm_buf_puts(&b, "{\"format\": \"" FORMAT "\", \"objects\": [");
	for (size_t i = 0; s && i < s->count; i++) {
		const modmig_schema_object *o = &s->objects[i];

		mm_buf_puts(&b, i ? ",\n{\"attributes\": {" : "\n{\"attributes\": {");
		for (size_t a = 0; a < o->attribute_count; a++) {
			if (a)
				mm_buf_puts(&b, ", ");
			mm_buf_json_string(&b, o->attributes[a].name);
			mm_buf_puts(&b, ": ");
			mm_buf_json_string(&b, o->attributes[a].value);
		}
		mm_buf_puts(&b, "}, \"kind\": ");
		mm_buf_json_string(&b, o->kind);
		mm_buf_puts(&b, ", \"name\": ");
		mm_buf_json_string(&b, o->name);
		if (o->parent) {
			mm_buf_puts(&b, ", \"parent\": ");
			mm_buf_json_string(&b, o->parent);
			mm_buf_puts(&b, ", \"parent_kind\": ");
			mm_buf_json_string(&b, o->parent_kind);
		}
		mm_buf_puts(&b, ", \"schema\": ");
		mm_buf_json_string(&b, o->schema);
		mm_buf_puts(&b, "}");
	}
	mm_buf_puts(&b, "\n]}\n");
	return mm_buf_take(&b);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct reader {
	yaml_document_t *doc;
	const char *origin;
	modmig_schema *s;
	modmig_error **err;
} reader;

static modmig_status bad(reader *r, const yaml_node_t *node, const char *what)
{
	mm_fail(r->err, MODMIG_E_PARSE, r->origin, node ? (int)node->start_mark.line + 1 : 0,
	        node ? (int)node->start_mark.column + 1 : 0, "not a modmig schema snapshot: %s",
	        what);
	mm_hint(r->err, "write one with 'modmig schema --json -o FILE'");
	return MODMIG_E_PARSE;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value node of key in a mapping node, or NULL. */
static yaml_node_t *lookup(reader *r, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(r->doc, p->key));

		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(r->doc, p->value);
	}
	return NULL;
}

/* A copy owned by the snapshot of the scalar value of key (NULL when absent). */
static const char *field(reader *r, yaml_node_t *obj, const char *key, bool required,
                         modmig_status *rc)
{
	yaml_node_t *v = lookup(r, obj, key);
	const char *text = scalar(v), *copy;

	if (!v && !required)
		return NULL;
	if (!text) {
		*rc = bad(r, v ? v : obj,
		          "an object lacks a string \"kind\", \"schema\" or \"name\"");
		return NULL;
	}
	if (!(copy = mm_schema_own(r->s, text)))
		*rc = mm_fail(r->err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	return copy;
}

static modmig_status read_object(reader *r, yaml_node_t *obj)
{
	modmig_status rc = MODMIG_OK;
	yaml_node_t *attrs;
	modmig_schema_attribute *list = NULL;
	const char *kind, *schema, *parent_kind, *parent, *name;
	size_t n = 0, cap;

	if (obj->type != YAML_MAPPING_NODE)
		return bad(r, obj, "\"objects\" holds something that is not an object");
	kind = field(r, obj, "kind", true, &rc);
	schema = field(r, obj, "schema", true, &rc);
	name = field(r, obj, "name", true, &rc);
	parent_kind = field(r, obj, "parent_kind", false, &rc);
	parent = field(r, obj, "parent", false, &rc);
	if (rc != MODMIG_OK)
		return rc;
	if (!parent != !parent_kind)
		return bad(r, obj, "\"parent\" and \"parent_kind\" come together");
	attrs = lookup(r, obj, "attributes");
	if (attrs && attrs->type != YAML_MAPPING_NODE)
		return bad(r, attrs, "\"attributes\" is not an object");
	cap = attrs ? (size_t)(attrs->data.mapping.pairs.top - attrs->data.mapping.pairs.start) : 0;
	if (!(list = calloc(cap ? cap : 1, sizeof(*list))))
		return mm_fail(r->err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	for (size_t i = 0; i < cap && rc == MODMIG_OK; i++) {
		yaml_node_pair_t *p = &attrs->data.mapping.pairs.start[i];
		const char *k = scalar(yaml_document_get_node(r->doc, p->key));
		const char *v = scalar(yaml_document_get_node(r->doc, p->value));

		if (!k || !v)
			rc = bad(r, attrs, "an attribute is not a string");
		else if (!(list[n].name = mm_schema_own(r->s, k)) ||
		         !(list[n].value = mm_schema_own(r->s, v)))
			rc = mm_fail(r->err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		else
			n++;
	}
	if (rc != MODMIG_OK) {
		free(list);
		return rc;
	}
	if (!mm_schema_add(r->s, kind, schema, parent_kind, parent, name, list, n))
		return mm_fail(r->err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	return MODMIG_OK;
}

modmig_status modmig_schema_from_json(const char *text, const char *origin, modmig_schema **out,
                                      modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *objects;
	const modmig_schema_object *dup = NULL;
	reader r = {&doc, origin ? origin : "(snapshot)", NULL, err};
	bool parser_ready = false, doc_ready = false;
	const char *format;

	*out = NULL;
	if (!(r.s = mm_schema_new()) || !yaml_parser_initialize(&parser)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&parser, &doc)) {
		rc = mm_fail(err, MODMIG_E_PARSE, r.origin, (int)parser.problem_mark.line + 1,
		             (int)parser.problem_mark.column + 1, "not valid JSON: %s",
		             parser.problem ? parser.problem : "unknown error");
		goto cleanup;
	}
	doc_ready = true;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = bad(&r, root, "the top level is not an object");
		goto cleanup;
	}
	format = scalar(lookup(&r, root, "format"));
	if (!format || strcmp(format, FORMAT) != 0) {
		rc = bad(&r, root, "\"format\" is not \"" FORMAT "\"");
		goto cleanup;
	}
	objects = lookup(&r, root, "objects");
	if (!objects || objects->type != YAML_SEQUENCE_NODE) {
		rc = bad(&r, objects ? objects : root, "\"objects\" is not a list");
		goto cleanup;
	}
	for (yaml_node_item_t *it = objects->data.sequence.items.start;
	     it < objects->data.sequence.items.top && rc == MODMIG_OK; it++)
		rc = read_object(&r, yaml_document_get_node(&doc, *it));
	if (rc != MODMIG_OK)
		goto cleanup;
	if (!mm_schema_sort(r.s, &dup)) {
		rc = bad(&r, NULL, "two objects share one identity");
		goto cleanup;
	}
	*out = r.s;
	r.s = NULL;
cleanup:
	if (doc_ready)
		yaml_document_delete(&doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	modmig_schema_free(r.s);
	return rc;
}
