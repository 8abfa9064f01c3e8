/*
 * manifest_lint.c - the manifest's lint: section, a mapping of rule names to
 * severities:
 *
 *     lint:
 *       drop-column: warning
 *       prefer-bigint: error
 *       require-lock-timeout: off
 *
 * Rule names are the rows of MODMIG_LINT_RULES in the public header, so an
 * unknown or misspelt rule is a manifest error with file:line:column, found by
 * every command that reads the manifest, like any other unknown key.
 */
#include "source/manifest.h"

#include <stdlib.h>
#include <string.h>

static const char *const rule_names[MODMIG_LINT_RULE_COUNT] = {
#define MODMIG_X_(id, number, text, sev, on, fn, doc) [number] = text,
        MODMIG_LINT_RULES(MODMIG_X_)
#undef MODMIG_X_
};

static const struct {
	const char *word;
	mm_lint_level level;
} levels[] = {
        {"error", MM_LINT_LEVEL_ERROR},
        {"warning", MM_LINT_LEVEL_WARNING},
        {"off", MM_LINT_LEVEL_OFF},
};

static int rule_index(const char *name)
{
	int i;

	for (i = 0; i < MODMIG_LINT_RULE_COUNT; i++)
		if (rule_names[i] && !strcmp(rule_names[i], name))
			return i;
	return -1;
}

/* One "rule: severity" pair; the current event is the key. */
static modmig_status read_setting(walker *w, bool *seen)
{
	yaml_mark_t key_mark = w->event.start_mark;
	modmig_status rc = MODMIG_OK;
	char *name = NULL;
	char *value = NULL;
	size_t i;
	int rule;

	if ((rc = mm_yaml_take_string(w, "a lint rule", &name)) != MODMIG_OK)
		goto cleanup;
	rule = rule_index(name);
	if (rule < 0) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(key_mark),
		             mm_yaml_column(key_mark), "unknown lint rule '%.64s'", name);
		mm_hint(w->err, "run 'modmig lint --rules' for the rules");
		goto cleanup;
	}
	if (seen[rule]) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(key_mark),
		             mm_yaml_column(key_mark), "duplicate lint rule '%s'", name);
		mm_hint(w->err, "keep one '%s' and remove the other", name);
		goto cleanup;
	}
	seen[rule] = true;
	if ((rc = mm_yaml_next(w)) != MODMIG_OK)
		goto cleanup;
	if ((rc = mm_yaml_take_string(w, name, &value)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(value, levels[i].word) != 0)
			continue;
		w->out->lint[rule] = levels[i].level;
		goto cleanup;
	}
	rc = mm_yaml_fail_at(w, w->event.start_mark,
	                     "a lint rule's severity must be error, "
	                     "warning or off");
	mm_hint(w->err, "write '%s: error', '%s: warning' or '%s: off'", name, name, name);
cleanup:
	free(name);
	free(value);
	return rc;
}

modmig_status mm_manifest_read_lint(walker *w)
{
	bool seen[MODMIG_LINT_RULE_COUNT] = {false};
	modmig_status rc = MODMIG_OK;

	if (w->event.type != YAML_MAPPING_START_EVENT) {
		rc = mm_fail(w->err, MODMIG_E_MANIFEST, w->file, mm_yaml_line(w->event.start_mark),
		             mm_yaml_column(w->event.start_mark),
		             "lint must be a mapping of rule names to severities, not %s",
		             mm_yaml_event_kind(&w->event));
		mm_hint(w->err, "write one 'rule-name: error|warning|off' per line under 'lint:'");
		goto cleanup;
	}
	for (;;) {
		if ((rc = mm_yaml_next(w)) != MODMIG_OK)
			goto cleanup;
		if (w->event.type == YAML_MAPPING_END_EVENT)
			break;
		if ((rc = read_setting(w, seen)) != MODMIG_OK)
			goto cleanup;
	}
cleanup:
	return rc;
}
