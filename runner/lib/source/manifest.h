/*
 * source/manifest.h - the manifest walker shared by manifest.c (modules) and
 * manifest_lint.c (the lint: section): one libyaml event at a time, every
 * error with file:line:column. Private to the source folder.
 */
#ifndef MODMIG_SOURCE_MANIFEST_H
#define MODMIG_SOURCE_MANIFEST_H

#include "source/source.h"

#include <yaml.h>

typedef struct dependency_mark {
	size_t module;
	size_t dependency;
	int line;
	int column;
} dependency_mark;

typedef struct walker {
	yaml_parser_t parser;
	yaml_event_t event;
	bool has_event;
	const char *file;
	const char *text;
	size_t len;
	mm_manifest *out;
	dependency_mark *marks;
	size_t mark_count;
	size_t mark_cap;
	modmig_error **err;
} walker;

/* 1-based line and column of a libyaml mark. */
int mm_yaml_line(yaml_mark_t mark);
int mm_yaml_column(yaml_mark_t mark);
modmig_status mm_yaml_fail_at(walker *w, yaml_mark_t mark, const char *what);
/* The next event (the previous one released); aliases, anchors and tags are errors. */
modmig_status mm_yaml_next(walker *w);
/* "a scalar", "a list", "a mapping" */
const char *mm_yaml_event_kind(const yaml_event_t *e);
/* The current event as a non-null string (a new copy); key names it in messages. */
modmig_status mm_yaml_take_string(walker *w, const char *key, char **value);

/* The lint: section; the current event is its value (manifest_lint.c). */
modmig_status mm_manifest_read_lint(walker *w);

#endif /* MODMIG_SOURCE_MANIFEST_H */
