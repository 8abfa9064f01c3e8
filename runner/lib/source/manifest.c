/*
 * manifest.c - modules/modules.yaml, read with libyaml's event API.
 *
 * The manifest's shape is fixed and shallow, so it is walked event by event
 * and anything unexpected stops the walk with file:line:column. No document
 * tree is built, which also keeps hostile nesting from costing anything.
 */
#include "source/manifest.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Far beyond any real manifest; they keep hostile input cheap. */
#define MANIFEST_MAX_BYTES   (1024 * 1024)
#define MANIFEST_MAX_MODULES 9000
#define MANIFEST_MAX_DEPENDS 1000

int mm_yaml_line(yaml_mark_t mark)
{
	return mark.line >= (size_t)INT_MAX ? INT_MAX : (int)mark.line + 1;
}

int mm_yaml_column(yaml_mark_t mark)
{
	return mark.column >= (size_t)INT_MAX ? INT_MAX : (int)mark.column + 1;
}

modmig_status mm_yaml_fail_at(walker *w, yaml_mark_t mark, const char *what)
{
	return mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(mark), mm_yaml_column(mark),
	               "%s", what);
}

/* Reader errors (bad encoding) carry only a byte offset, not a line. */
static void offset_position(const walker *w, size_t offset, int *line, int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < offset && i < w->len; i++) {
		if (w->text[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

static modmig_status syntax_error(walker *w)
{
	const yaml_parser_t *p = &w->parser;
	int line;
	int column;
	modmig_status rc = MODMIG_OK;

	if (p->error == YAML_MEMORY_ERROR) {
		rc = mm_fail(w->err, MODMIG_E_NOMEM, w->file, 0, 0,
		             "out of memory reading the manifest");
		goto cleanup;
	}
	if (p->error == YAML_READER_ERROR) {
		offset_position(w, p->problem_offset, &line, &column);
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, line, column, "invalid yaml: %s",
		             p->problem ? p->problem : "unreadable input");
		mm_hint(w->err, "save the manifest as utf-8 text without control characters");
		goto cleanup;
	}
	line = mm_yaml_line(p->problem_mark);
	column = mm_yaml_column(p->problem_mark);
	if (p->context)
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, line, column,
		             "invalid yaml: %s %s", p->problem ? p->problem : "syntax error",
		             p->context);
	else
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, line, column, "invalid yaml: %s",
		             p->problem ? p->problem : "syntax error");
	mm_hint(w->err, "check the indentation, colons and quotes near this position");
cleanup:
	return rc;
}

/*
 * Advance to the next event, releasing the previous one. Anchors, aliases and
 * tags have no use in a manifest; rejecting them here keeps every caller simple.
 */
modmig_status mm_yaml_next(walker *w)
{
	const yaml_event_t *e = &w->event;
	const yaml_char_t *anchor = NULL;
	const yaml_char_t *tag = NULL;
	modmig_status rc = MODMIG_OK;

	if (w->has_event) {
		yaml_event_delete(&w->event);
		w->has_event = false;
	}
	if (!yaml_parser_parse(&w->parser, &w->event)) {
		rc = syntax_error(w);
		goto cleanup;
	}
	w->has_event = true;
	switch (e->type) {
	case YAML_ALIAS_EVENT:
		rc = mm_yaml_fail_at(w, e->start_mark,
		                     "yaml aliases are not supported in the manifest");
		mm_hint(w->err, "write the value out instead of referring to an anchor");
		goto cleanup;
	case YAML_SCALAR_EVENT:
		anchor = e->data.scalar.anchor;
		tag = e->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = e->data.sequence_start.anchor;
		tag = e->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = e->data.mapping_start.anchor;
		tag = e->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor) {
		rc = mm_yaml_fail_at(w, e->start_mark,
		                     "yaml anchors are not supported in the manifest");
		mm_hint(w->err, "remove the &anchor");
		goto cleanup;
	}
	if (tag) {
		rc = mm_yaml_fail_at(w, e->start_mark,
		                     "yaml tags are not supported in the manifest");
		mm_hint(w->err, "remove the !tag and write a plain value");
		goto cleanup;
	}
cleanup:
	return rc;
}

const char *mm_yaml_event_kind(const yaml_event_t *e)
{
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		return "a scalar";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	default:
		return "nothing";
	}
}

static bool scalar_is_null(const yaml_event_t *e)
{
	const char *v = (const char *)e->data.scalar.value;

	if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/*
 * The current event must be a non-null scalar; key names the field in
 * messages. On success *value is a new copy.
 */
modmig_status mm_yaml_take_string(walker *w, const char *key, char **value)
{
	const yaml_event_t *e = &w->event;
	modmig_status rc = MODMIG_OK;

	if (e->type != YAML_SCALAR_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(e->start_mark),
		             mm_yaml_column(e->start_mark), "%s must be a string, not %s", key,
		             mm_yaml_event_kind(e));
		mm_hint(w->err, "write %s as a plain word after the colon", key);
		goto cleanup;
	}
	if (scalar_is_null(e)) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(e->start_mark),
		             mm_yaml_column(e->start_mark), "%s has no value", key);
		mm_hint(w->err, "give %s a value or remove the key", key);
		goto cleanup;
	}
	if (strlen((const char *)e->data.scalar.value) != e->data.scalar.length) {
		rc = mm_yaml_fail_at(w, e->start_mark, "the value contains a nul byte");
		mm_hint(w->err, "remove the \\0 escape");
		goto cleanup;
	}
	*value = mm_strndup((const char *)e->data.scalar.value, e->data.scalar.length);
	if (!*value) {
		rc = mm_fail(w->err, MODMIG_E_NOMEM, w->file, 0, 0, "out of memory");
		goto cleanup;
	}
cleanup:
	return rc;
}

/* The current event is a key scalar; reject a repeat of an earlier key. */
static modmig_status check_key(walker *w, const char *const *known, size_t known_count, bool *seen,
                               const char *where, size_t *which)
{
	const yaml_event_t *e = &w->event;
	const char *key;
	modmig_status rc = MODMIG_OK;
	size_t i;

	if (e->type != YAML_SCALAR_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(e->start_mark),
		             mm_yaml_column(e->start_mark), "expected a key %s, found %s", where,
		             mm_yaml_event_kind(e));
		mm_hint(w->err, "keys are plain words followed by a colon");
		goto cleanup;
	}
	key = (const char *)e->data.scalar.value;
	for (i = 0; i < known_count; i++) {
		if (strcmp(key, known[i]) != 0)
			continue;
		if (seen[i]) {
			rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file,
			             mm_yaml_line(e->start_mark), mm_yaml_column(e->start_mark),
			             "duplicate key '%s' %s", key, where);
			mm_hint(w->err, "keep one '%s' and remove the other", key);
			goto cleanup;
		}
		seen[i] = true;
		*which = i;
		goto cleanup;
	}
	rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(e->start_mark),
	             mm_yaml_column(e->start_mark), "unknown key '%.64s' %s", key, where);
	if (known_count == 2)
		mm_hint(w->err, "the keys allowed here are %s and %s", known[0], known[1]);
	else
		mm_hint(w->err, "the keys allowed here are %s, %s and %s", known[0], known[1],
		        known[2]);
cleanup:
	return rc;
}

/*
 * Step to the mapping's next key, check it and step on to its value, the one
 * way the module entries and the top level read their keys. *which is
 * known_count at the end of the mapping.
 */
static modmig_status next_key(walker *w, const char *const *known, size_t known_count, bool *seen,
                              const char *where, size_t *which)
{
	modmig_status rc = mm_yaml_next(w);

	if (rc != MODMIG_OK)
		goto cleanup;
	if (w->event.type == YAML_MAPPING_END_EVENT) {
		*which = known_count;
		goto cleanup;
	}
	rc = check_key(w, known, known_count, seen, where, which);
	if (rc == MODMIG_OK)
		rc = mm_yaml_next(w);
cleanup:
	return rc;
}

static modmig_status add_dependency(walker *w, modmig_module *m, char *name)
{
	modmig_status rc = MODMIG_OK;
	dependency_mark *marks;
	char **deps;
	size_t cap;

	deps = realloc(m->depends_on, (m->depends_count + 1) * sizeof(*deps));
	if (!deps) {
		rc = mm_fail(w->err, MODMIG_E_NOMEM, w->file, 0, 0, "out of memory");
		goto cleanup;
	}
	m->depends_on = deps;
	if (w->mark_count == w->mark_cap) {
		cap = w->mark_cap ? w->mark_cap * 2 : 16;
		marks = realloc(w->marks, cap * sizeof(*marks));
		if (!marks) {
			rc = mm_fail(w->err, MODMIG_E_NOMEM, w->file, 0, 0, "out of memory");
			goto cleanup;
		}
		w->marks = marks;
		w->mark_cap = cap;
	}
	w->marks[w->mark_count].module = m->index;
	w->marks[w->mark_count].dependency = m->depends_count;
	w->marks[w->mark_count].line = mm_yaml_line(w->event.start_mark);
	w->marks[w->mark_count].column = mm_yaml_column(w->event.start_mark);
	w->mark_count++;
	deps[m->depends_count++] = name;
cleanup:
	/* On failure name is not in the list yet, so nothing else frees it. */
	if (rc != MODMIG_OK)
		free(name);
	return rc;
}

static modmig_status read_depends(walker *w, modmig_module *m)
{
	modmig_status rc = MODMIG_OK;
	char *name = NULL;

	if (w->event.type != YAML_SEQUENCE_START_EVENT) {
		rc = mm_yaml_fail_at(w, w->event.start_mark,
		                     "depends_on must be a list of module names");
		mm_hint(w->err, "write depends_on: [db] or one '- name' per line");
		goto cleanup;
	}
	for (;;) {
		if ((rc = mm_yaml_next(w)) != MODMIG_OK)
			goto cleanup;
		if (w->event.type == YAML_SEQUENCE_END_EVENT)
			goto cleanup;
		if (m->depends_count >= MANIFEST_MAX_DEPENDS) {
			rc = mm_yaml_fail_at(w, w->event.start_mark, "too many depends_on entries");
			mm_hint(w->err, "a module lists at most %d dependencies",
			        MANIFEST_MAX_DEPENDS);
			goto cleanup;
		}
		if ((rc = mm_yaml_take_string(w, "a depends_on entry", &name)) != MODMIG_OK)
			goto cleanup;
		if ((rc = add_dependency(w, m, name)) != MODMIG_OK)
			goto cleanup;
	}
cleanup:
	return rc;
}

static modmig_status read_module(walker *w, size_t index)
{
	static const char *const keys[] = {"name", "schema", "depends_on"};
	bool seen[3] = {false, false, false};
	yaml_mark_t start = w->event.start_mark;
	yaml_mark_t name_mark = start;
	modmig_module *m = &w->out->modules[index];
	modmig_status rc = MODMIG_OK;
	size_t key = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->index = index;
	m->first_version = (int64_t)(index + 1) * 1000 + 1;
	m->last_version = (int64_t)(index + 1) * 1000 + 999;
	m->line = mm_yaml_line(start);
	m->column = mm_yaml_column(start);
	w->out->module_count++;
	if (w->event.type != YAML_MAPPING_START_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, m->line, m->column,
		             "each module must be a mapping with a name, not %s",
		             mm_yaml_event_kind(&w->event));
		mm_hint(w->err, "write '- name: identity' and indent its other keys below it");
		goto cleanup;
	}
	for (;;) {
		if ((rc = next_key(w, keys, 3, seen, "in a module", &key)) != MODMIG_OK)
			goto cleanup;
		if (key == 3)
			break;
		if (key == 0) {
			name_mark = w->event.start_mark;
			if ((rc = mm_yaml_take_string(w, "name", &m->name)) != MODMIG_OK)
				goto cleanup;
		} else if (key == 1) {
			if ((rc = mm_yaml_take_string(w, "schema", &m->schema)) != MODMIG_OK)
				goto cleanup;
			if (!mm_is_identifier_part(m->schema, strlen(m->schema))) {
				rc = mm_yaml_fail_at(w, w->event.start_mark, "bad schema name");
				mm_hint(w->err,
				        "use letters, digits and underscores, starting with "
				        "a letter (at most 63)");
				goto cleanup;
			}
		} else if ((rc = read_depends(w, m)) != MODMIG_OK) {
			goto cleanup;
		}
	}
	if (!m->name) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, m->line, m->column,
		             "module %zu has no name", index + 1);
		mm_hint(w->err, "add 'name: <module>' to this entry");
		goto cleanup;
	}
	if (!mm_is_module_name(m->name)) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(name_mark),
		             mm_yaml_column(name_mark), "bad module name '%.64s'", m->name);
		mm_hint(w->err, "module names are lowercase letters, digits and underscores, "
		                "starting with a letter (at most 63)");
		goto cleanup;
	}
	for (i = 0; i < index; i++) {
		if (strcmp(w->out->modules[i].name, m->name) != 0)
			continue;
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(name_mark),
		             mm_yaml_column(name_mark),
		             "duplicate module name '%s' (first listed at line %d)", m->name,
		             w->out->modules[i].line);
		mm_hint(w->err, "every module needs its own name");
		goto cleanup;
	}
cleanup:
	return rc;
}

static modmig_status read_modules(walker *w)
{
	yaml_mark_t start = w->event.start_mark;
	modmig_module *modules;
	modmig_status rc = MODMIG_OK;
	size_t cap = 0;

	if (w->event.type != YAML_SEQUENCE_START_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(start),
		             mm_yaml_column(start), "modules must be a list, not %s",
		             mm_yaml_event_kind(&w->event));
		mm_hint(w->err, "write one '- name: <module>' entry per module");
		goto cleanup;
	}
	for (;;) {
		if ((rc = mm_yaml_next(w)) != MODMIG_OK)
			goto cleanup;
		if (w->event.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (w->out->module_count >= MANIFEST_MAX_MODULES) {
			rc = mm_yaml_fail_at(w, w->event.start_mark, "too many modules");
			mm_hint(w->err, "a manifest lists at most %d modules",
			        MANIFEST_MAX_MODULES);
			goto cleanup;
		}
		if (w->out->module_count == cap) {
			cap = cap ? cap * 2 : 16;
			modules = realloc(w->out->modules, cap * sizeof(*modules));
			if (!modules) {
				rc = mm_fail(w->err, MODMIG_E_NOMEM, w->file, 0, 0,
				             "out of memory");
				goto cleanup;
			}
			w->out->modules = modules;
		}
		if ((rc = read_module(w, w->out->module_count)) != MODMIG_OK)
			goto cleanup;
	}
	if (w->out->module_count == 0) {
		rc = mm_yaml_fail_at(w, start, "the module list is empty");
		mm_hint(w->err, "list at least one module: '- name: db'");
		goto cleanup;
	}
cleanup:
	return rc;
}

static modmig_status read_top(walker *w)
{
	static const char *const keys[] = {"version_table", "modules", "lint"};
	bool seen[3] = {false, false, false};
	yaml_mark_t start = w->event.start_mark;
	modmig_status rc = MODMIG_OK;
	size_t key = 0;

	if (w->event.type == YAML_SCALAR_EVENT && scalar_is_null(&w->event)) {
		rc = mm_yaml_fail_at(w, start, "the manifest is empty");
		mm_hint(w->err, "list the modules under 'modules:'");
		goto cleanup;
	}
	if (w->event.type != YAML_MAPPING_START_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(start),
		             mm_yaml_column(start), "the manifest must be a mapping, not %s",
		             mm_yaml_event_kind(&w->event));
		mm_hint(w->err, "start with 'modules:' and list the modules below it");
		goto cleanup;
	}
	for (;;) {
		if ((rc = next_key(w, keys, 3, seen, "at the top level", &key)) != MODMIG_OK)
			goto cleanup;
		if (key == 3)
			break;
		if (key == 2) {
			if ((rc = mm_manifest_read_lint(w)) != MODMIG_OK)
				goto cleanup;
			continue;
		}
		if (key == 0) {
			free(w->out->version_table);
			w->out->version_table = NULL;
			rc = mm_yaml_take_string(w, "version_table", &w->out->version_table);
			if (rc != MODMIG_OK)
				goto cleanup;
			if (!mm_is_table_name(w->out->version_table)) {
				rc = mm_yaml_fail_at(w, w->event.start_mark,
				                     "bad version_table name");
				mm_hint(w->err, "write table or schema.table with letters, digits "
				                "and underscores");
				goto cleanup;
			}
		} else if ((rc = read_modules(w)) != MODMIG_OK) {
			goto cleanup;
		}
	}
	if (!seen[1]) {
		rc = mm_yaml_fail_at(w, start, "the manifest has no modules");
		mm_hint(w->err, "add 'modules:' with one '- name: <module>' entry per module");
		goto cleanup;
	}
cleanup:
	return rc;
}

static modmig_status check_dependencies(walker *w)
{
	const mm_manifest *man = w->out;
	const dependency_mark *d;
	const modmig_module *m;
	const char *dep;
	modmig_status rc = MODMIG_OK;
	size_t i;
	size_t j;

	for (i = 0; i < w->mark_count; i++) {
		d = &w->marks[i];
		m = &man->modules[d->module];
		dep = m->depends_on[d->dependency];
		for (j = 0; j < man->module_count; j++)
			if (!strcmp(man->modules[j].name, dep))
				break;
		if (j == man->module_count) {
			rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, d->line, d->column,
			             "module '%s' depends on unknown module '%.64s'", m->name, dep);
			mm_hint(w->err, "depends_on lists names of modules in this manifest");
			goto cleanup;
		}
		if (j == d->module) {
			rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, d->line, d->column,
			             "module '%s' depends on itself", m->name);
			mm_hint(w->err, "remove '%s' from its own depends_on", m->name);
			goto cleanup;
		}
		if (j > d->module) {
			rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, d->line, d->column,
			             "module '%s' depends on '%s', which comes later in the "
			             "manifest",
			             m->name, dep);
			mm_hint(w->err, "a module may depend only on modules listed before it; a "
			                "module's position fixes its version range, so remove the "
			                "dependency rather than reorder existing modules");
			goto cleanup;
		}
		for (j = 0; j < d->dependency; j++) {
			if (strcmp(m->depends_on[j], dep) != 0)
				continue;
			rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, d->line, d->column,
			             "module '%s' lists '%s' twice in depends_on", m->name, dep);
			mm_hint(w->err, "remove the repeated entry");
			goto cleanup;
		}
	}
cleanup:
	return rc;
}

static modmig_status read_stream(walker *w)
{
	modmig_status rc = MODMIG_OK;

	if ((rc = mm_yaml_next(w)) != MODMIG_OK) /* stream start */
		goto cleanup;
	if ((rc = mm_yaml_next(w)) != MODMIG_OK)
		goto cleanup;
	if (w->event.type == YAML_STREAM_END_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, 1, 1, "the manifest is empty");
		mm_hint(w->err, "list the modules under 'modules:'");
		goto cleanup;
	}
	if ((rc = mm_yaml_next(w)) != MODMIG_OK) /* the document's root node */
		goto cleanup;
	if ((rc = read_top(w)) != MODMIG_OK)
		goto cleanup;
	if ((rc = mm_yaml_next(w)) != MODMIG_OK) /* document end */
		goto cleanup;
	if ((rc = mm_yaml_next(w)) != MODMIG_OK)
		goto cleanup;
	if (w->event.type != YAML_STREAM_END_EVENT) {
		rc = mm_yaml_fail_at(w, w->event.start_mark,
		                     "the manifest holds more than one document");
		mm_hint(w->err, "remove the '---' and everything after it");
		goto cleanup;
	}
	rc = check_dependencies(w);
cleanup:
	return rc;
}

modmig_status mm_manifest_parse(const char *file, const char *text, size_t len, mm_manifest *out,
                                modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	bool parser_ready = false;
	walker w;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.file = file;
	w.text = text;
	w.len = len;
	w.out = out;
	w.err = err;
	if (len > MANIFEST_MAX_BYTES) {
		rc = mm_fail(err, MODMIG_E_MANIFEST, file, 0, 0,
		             "the manifest is larger than %d bytes", MANIFEST_MAX_BYTES);
		mm_hint(err, "a manifest lists modules only; check that this is the right file");
		goto cleanup;
	}
	out->file = mm_strdup(file ? file : "modules.yaml");
	out->version_table = mm_strdup("goose_db_version");
	if (!out->file || !out->version_table) {
		rc = mm_fail(err, MODMIG_E_NOMEM, file, 0, 0, "out of memory");
		goto cleanup;
	}
	if (!yaml_parser_initialize(&w.parser)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, file, 0, 0, "out of memory");
		goto cleanup;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&w.parser, (const unsigned char *)text, len);
	rc = read_stream(&w);
cleanup:
	if (w.has_event)
		yaml_event_delete(&w.event);
	if (parser_ready)
		yaml_parser_delete(&w.parser);
	free(w.marks);
	if (rc != MODMIG_OK)
		mm_manifest_clear(out);
	return rc;
}

void mm_manifest_clear(mm_manifest *m)
{
	size_t i;
	size_t j;

	if (!m)
		return;
	for (i = 0; i < m->module_count; i++) {
		free(m->modules[i].name);
		free(m->modules[i].schema);
		for (j = 0; j < m->modules[i].depends_count; j++)
			free(m->modules[i].depends_on[j]);
		free(m->modules[i].depends_on);
	}
	free(m->modules);
	free(m->file);
	free(m->version_table);
	memset(m, 0, sizeof(*m));
}
