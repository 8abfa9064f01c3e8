/*
 * engine.c - modmig_lint(): parse every unit of every selected migration with
 * PostgreSQL's grammar, run the rules over each statement in file order, and
 * collect their findings with severities from the rules' rows and the
 * manifest's lint: section, minus what modmig:nolint comments suppress.
 *
 * A unit is parsed on its own, so that one statement the grammar cannot read
 * (newer syntax that the splitter's lexer fallback let through) costs only
 * itself: it becomes an unparsed statement, and its neighbours are linted.
 * Every tree of a file lives until the file is done, because the objects the
 * file created are kept as names borrowed from them.
 */
#include "check/lint/lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const modmig_lint_rule rules[MODMIG_LINT_RULE_COUNT] = {
#define MODMIG_X_(id, number, text, sev, on, fn, doc)                                              \
	[number] = {MODMIG_LINT_##id, text, sev, on, doc},
        MODMIG_LINT_RULES(MODMIG_X_)
#undef MODMIG_X_
};

static const mm_lint_fn walkers[MODMIG_LINT_RULE_COUNT] = {
#define MODMIG_X_(id, number, text, sev, on, fn, doc) [number] = mm_lint_##fn,
        MODMIG_LINT_RULES(MODMIG_X_)
#undef MODMIG_X_
};

const modmig_lint_rule *modmig_lint_rule_at(size_t index)
{
	return index < MODMIG_LINT_RULE_COUNT && rules[index].name ? &rules[index] : NULL;
}

const modmig_lint_rule *modmig_lint_rule_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < MODMIG_LINT_RULE_COUNT; i++)
		if (rules[i].name && !strcmp(rules[i].name, name))
			return &rules[i];
	return NULL;
}

void modmig_lint_options_init(modmig_lint_options *opts)
{
	memset(opts, 0, sizeof(*opts));
}

/* ---- reporting ---------------------------------------------------------- */

/* The rule's severity after the manifest's lint: section; false when it is off. */
static bool rule_severity(const mm_lint_ctx *c, modmig_lint_rule_id rule, modmig_severity *sev)
{
	switch ((mm_lint_level)c->levels[rule]) {
	case MM_LINT_LEVEL_ERROR:
		*sev = MODMIG_SEVERITY_ERROR;
		return true;
	case MM_LINT_LEVEL_WARNING:
		*sev = MODMIG_SEVERITY_WARNING;
		return true;
	case MM_LINT_LEVEL_OFF:
		return false;
	default:
		*sev = rules[rule].severity;
		return rules[rule].enabled;
	}
}

static void vreport(mm_lint_ctx *c, int line, int column, bool weak, const char *hint,
                    const char *fmt, va_list ap)
{
	uint64_t bit = (uint64_t)1 << c->rule;
	const modmig_migration *m = c->file->m;
	modmig_finding *it;
	modmig_severity sev;
	char text[1024];

	if (!rule_severity(c, c->rule, &sev) || (c->file->nolints.file_wide & bit) ||
	    (c->stmt && (c->stmt->nolint & bit)))
		return;
	if (weak)
		sev = MODMIG_SEVERITY_WARNING;
	vsnprintf(text, sizeof(text), fmt, ap);
	it = mm_findings_push(c->findings);
	if (!it)
		return;
	it->kind = MODMIG_FINDING_LINT;
	it->version = m->version;
	it->module = c->file->module ? mm_strdup(c->file->module->name) : NULL;
	it->file = mm_strdup(m->file);
	it->message = mm_strdup(text);
	it->reason = it->message;
	it->severity = sev;
	it->line = line;
	it->column = column;
	it->rule = rules[c->rule].name;
	it->hint = hint ? mm_strdup(hint) : NULL;
	if ((c->file->module && !it->module) || !it->file || !it->message || (hint && !it->hint))
		c->findings->oom = true;
	if (sev == MODMIG_SEVERITY_ERROR)
		c->errors++;
}

/* The file position of offset in unit u (its text has no CR). */
static void position(const mm_unit *u, size_t offset, int *line, int *column)
{
	size_t i;
	size_t start = 0;
	int lines = 0;

	for (i = 0; i < offset && i < u->len; i++) {
		if (u->sql[i] == '\n') {
			lines++;
			start = i + 1;
		}
	}
	*line = u->line + lines;
	*column = lines ? (int)(offset - start) + 1 : u->column + (int)offset;
}

void mm_lint_report(mm_lint_ctx *c, int location, const char *hint, const char *fmt, ...)
{
	const mm_lint_stmt *s = c->stmt;
	int line = 0;
	int column = 0;
	va_list ap;

	if (s && location >= 0 && (size_t)location < s->unit->len)
		position(s->unit, (size_t)location, &line, &column);
	else if (s) {
		line = s->line;
		column = s->column;
	}
	va_start(ap, fmt);
	vreport(c, line, column, false, hint, fmt, ap);
	va_end(ap);
}

void mm_lint_report_at(mm_lint_ctx *c, int line, int column, bool weak, const char *hint,
                       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, line, column, weak, hint, fmt, ap);
	va_end(ap);
}

bool mm_lint_once(mm_lint_ctx *c, const char *key)
{
	mm_lint_file *f = c->file;
	char **said;
	char *entry = mm_printf("%d:%s", (int)c->rule, key ? key : "");
	size_t i;

	if (!entry) {
		c->findings->oom = true;
		return false;
	}
	for (i = 0; i < f->said_count; i++) {
		if (!strcmp(f->said[i], entry)) {
			free(entry);
			return false;
		}
	}
	said = realloc(f->said, (f->said_count + 1) * sizeof(*said));
	if (!said) {
		free(entry);
		c->findings->oom = true;
		return false;
	}
	f->said = said;
	f->said[f->said_count++] = entry;
	return true;
}

/* ---- statements --------------------------------------------------------- */

/* Past blanks and comments: where a statement's own text starts in its span. */
static size_t first_token(const char *s, size_t from, size_t end)
{
	size_t i = from;

	while (i < end) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
		    s[i] == '\v') {
			i++;
		} else if (s[i] == '-' && i + 1 < end && s[i + 1] == '-') {
			while (i < end && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
			int depth = 1; /* PostgreSQL's block comments nest */

			for (i += 2; i < end && depth > 0; i++) {
				if (s[i] == '*' && i + 1 < end && s[i + 1] == '/') {
					depth--;
					i++;
				} else if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
					depth++;
					i++;
				}
			}
		} else {
			break;
		}
	}
	return i < end ? i : from;
}

typedef struct section {
	mm_lint_stmt *stmts;
	size_t count;
	size_t cap;
} section;

typedef struct file_state {
	mm_lint_file f;
	mm_sql_tree **trees;
	size_t tree_count;
	size_t tree_cap;
	char **errors; /* the grammar's messages for unparsed units */
	size_t error_count;
} file_state;

static bool push_stmt(section *sec, const mm_lint_stmt *s)
{
	if (sec->count == sec->cap) {
		size_t cap = sec->cap ? sec->cap * 2 : 16;
		mm_lint_stmt *items = realloc(sec->stmts, cap * sizeof(*items));

		if (!items)
			return false;
		sec->stmts = items;
		sec->cap = cap;
	}
	sec->stmts[sec->count++] = *s;
	return true;
}

static bool keep_tree(file_state *fs, mm_sql_tree *t)
{
	if (fs->tree_count == fs->tree_cap) {
		size_t cap = fs->tree_cap ? fs->tree_cap * 2 : 16;
		mm_sql_tree **items = realloc(fs->trees, cap * sizeof(*items));

		if (!items)
			return false;
		fs->trees = items;
		fs->tree_cap = cap;
	}
	fs->trees[fs->tree_count++] = t;
	return true;
}

static bool keep_error(file_state *fs, char *message)
{
	char **items = realloc(fs->errors, (fs->error_count + 1) * sizeof(*items));

	if (!items)
		return false;
	fs->errors = items;
	fs->errors[fs->error_count++] = message;
	return true;
}

/* Parse one unit into statements of sec; a unit the grammar refuses is one unparsed statement. */
static modmig_status add_unit(file_state *fs, section *sec, const mm_unit *u, modmig_direction dir)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_error e = {0};
	mm_sql_tree *tree = NULL;
	mm_lint_stmt s;
	size_t i;
	size_t n;

	memset(&s, 0, sizeof(s));
	s.unit = u;
	s.dir = dir;
	rc = mm_sql_tree_new(u->sql, &tree, &e);
	if (rc == MODMIG_E_PARSE) {
		rc = MODMIG_OK;
		s.in_block = fs->f.transactional;
		s.offset = first_token(u->sql, 0, u->len);
		if (!keep_error(fs, e.message)) {
			rc = MODMIG_E_NOMEM;
			goto cleanup;
		}
		s.parse_error = e.message;
		e.message = NULL;
		position(u, s.offset, &s.line, &s.column);
		if (!push_stmt(sec, &s))
			rc = MODMIG_E_NOMEM;
		goto cleanup;
	}
	if (rc != MODMIG_OK)
		goto cleanup;
	if (!keep_tree(fs, tree)) {
		rc = MODMIG_E_NOMEM;
		goto cleanup;
	}
	n = mm_sql_tree_count(tree);
	for (i = 0; i < n; i++) {
		mm_sql_span span = mm_sql_tree_span(tree, i);

		s.node = mm_sql_tree_stmt(tree, i);
		s.kind = mm_sql_kind_of(s.node);
		/* PostgreSQL runs a query string of several statements as one transaction */
		s.in_block = fs->f.transactional || n > 1;
		s.offset = first_token(u->sql, span.offset, span.offset + span.len);
		position(u, s.offset, &s.line, &s.column);
		if (!push_stmt(sec, &s)) {
			rc = MODMIG_E_NOMEM;
			goto cleanup;
		}
	}
	tree = NULL;
cleanup:
	if (tree && (fs->tree_count == 0 || fs->trees[fs->tree_count - 1] != tree))
		mm_sql_tree_free(tree);
	mm_sql_error_clear(&e);
	return rc;
}

/* Remember what a statement created, for the rules about existing tables. */
static modmig_status note_created(mm_lint_file *f, const mm_lint_stmt *s)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_names names = {0};
	size_t i;

	if (!s->node || s->dir != MODMIG_UP)
		goto cleanup;
	if ((rc = mm_sql_created(s->node, &names)) != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < names.count; i++) {
		if (!names.items[i].name)
			continue;
		if (f->created.count == f->created_cap) {
			size_t cap = f->created_cap ? f->created_cap * 2 : 16;
			mm_sql_name *items = realloc(f->created.items, cap * sizeof(*items));

			if (!items) {
				rc = MODMIG_E_NOMEM;
				goto cleanup;
			}
			f->created.items = items;
			f->created_cap = cap;
		}
		f->created.items[f->created.count++] = names.items[i];
	}
cleanup:
	mm_sql_names_clear(&names);
	return rc;
}

static modmig_status lint_section(mm_lint_ctx *c, file_state *fs, const mm_section *units,
                                  modmig_direction dir)
{
	modmig_status rc = MODMIG_OK;
	const modmig_migration *m = fs->f.m;
	section sec = {0};
	size_t i;
	int r;

	for (i = 0; i < units->count; i++)
		if ((rc = add_unit(fs, &sec, &units->units[i], dir)) != MODMIG_OK)
			goto cleanup;
	for (i = 0; i < sec.count; i++) {
		mm_lint_stmt *s = &sec.stmts[i];

		s->first = i == 0;
		s->last = i + 1 == sec.count;
		s->nolint = mm_lint_nolints_above(&fs->f.nolints, m->bytes, m->size, s->line);
		c->stmt = s;
		for (r = 0; r < MODMIG_LINT_RULE_COUNT; r++) {
			modmig_severity sev;

			if (!rule_severity(c, (modmig_lint_rule_id)r, &sev))
				continue;
			c->rule = (modmig_lint_rule_id)r;
			walkers[r](c);
		}
		if ((rc = note_created(&fs->f, s)) != MODMIG_OK)
			goto cleanup;
	}
cleanup:
	c->stmt = NULL;
	free(sec.stmts);
	return rc;
}

static void file_state_clear(file_state *fs)
{
	size_t i;

	for (i = 0; i < fs->tree_count; i++)
		mm_sql_tree_free(fs->trees[i]);
	free(fs->trees);
	for (i = 0; i < fs->error_count; i++)
		free(fs->errors[i]);
	free(fs->errors);
	free(fs->f.created.items);
	for (i = 0; i < fs->f.said_count; i++)
		free(fs->f.said[i]);
	free(fs->f.said);
	mm_lint_nolints_clear(&fs->f.nolints);
	memset(fs, 0, sizeof(*fs));
}

static modmig_status lint_file(mm_lint_ctx *c, const modmig_source *src, modmig_migration *m,
                               const modmig_lint_options *opts, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	file_state fs;
	int r;

	memset(&fs, 0, sizeof(fs));
	if ((rc = mm_migration_parse(m, err)) != MODMIG_OK)
		goto cleanup;
	fs.f.src = src;
	fs.f.m = m;
	fs.f.module = m->module;
	fs.f.transactional = !m->parsed.no_transaction;
	fs.f.lock_timeout = m->parsed.lock_timeout || (opts && opts->lock_timeout);
	if ((rc = mm_lint_nolints_read(m->bytes, m->size, &fs.f.nolints)) != MODMIG_OK)
		goto nomem;
	c->file = &fs.f;
	c->stmt = NULL;
	for (r = 0; r < MODMIG_LINT_RULE_COUNT; r++) {
		modmig_severity sev;

		if (!rule_severity(c, (modmig_lint_rule_id)r, &sev))
			continue;
		c->rule = (modmig_lint_rule_id)r;
		walkers[r](c);
	}
	if ((rc = lint_section(c, &fs, &m->parsed.up, MODMIG_UP)) != MODMIG_OK)
		goto nomem;
	if ((rc = lint_section(c, &fs, &m->parsed.down, MODMIG_DOWN)) != MODMIG_OK)
		goto nomem;
	if (c->findings->oom) {
		rc = MODMIG_E_NOMEM;
		goto nomem;
	}
	goto cleanup;
nomem:
	if (rc == MODMIG_E_NOMEM)
		rc = mm_fail(err, MODMIG_E_NOMEM, m->file, 0, 0, "out of memory linting the file");
	else
		rc = mm_fail(err, rc, m->file, 0, 0, "the sql layer failed on this file");
cleanup:
	c->file = NULL;
	file_state_clear(&fs);
	return rc;
}

/* By version (the selection may come in any order), then line and column. */
static int by_place(const void *a, const void *b)
{
	const modmig_finding *x = a;
	const modmig_finding *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

modmig_status modmig_lint(modmig_source *src, const modmig_lint_options *opts,
                          modmig_findings **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_findings *f = NULL;
	mm_lint_ctx c;
	size_t count;
	size_t i;

	memset(&c, 0, sizeof(c));
	if (out)
		*out = NULL;
	if (!src || !out) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "modmig_lint needs a source and out");
		goto cleanup;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	c.findings = f;
	c.levels = src->manifest.lint;
	count = opts && opts->migrations ? opts->migration_count : src->migration_count;
	for (i = 0; i < count; i++) {
		modmig_migration *m = opts && opts->migrations
		                              ? (modmig_migration *)opts->migrations[i]
		                              : &src->migrations[i];

		if (m->source != src) {
			rc = mm_fail(err, MODMIG_E_USAGE, m->file, 0, 0,
			             "the migration is not one of this source's");
			goto cleanup;
		}
		if ((rc = lint_file(&c, src, m, opts, err)) != MODMIG_OK)
			goto cleanup;
	}
	if (f->count > 1)
		qsort(f->items, f->count, sizeof(*f->items), by_place);
	rc = c.errors ? MODMIG_E_CHECK : MODMIG_OK;
	*out = f;
	f = NULL;
cleanup:
	modmig_findings_free(f);
	return rc;
}
