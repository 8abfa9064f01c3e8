/*
 * nolint.c - suppressions: `-- modmig:nolint RULE[,RULE] reason`.
 *
 * On its own line right above a statement (other comment lines may stand
 * between them), it suppresses those rules for that statement; above the
 * file's `-- +goose Up`, for the whole file. The reason is required, so that
 * a reviewer reads why a hazard is accepted: a suppression without one, or
 * naming no known rule, is itself a finding (rule bad-suppression), reported
 * by that rule's walker from the list read here.
 */
#include "check/lint/lint.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MARKER "modmig:nolint"

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* The line [s, s+n) is `-- +goose Up` (any case, blanks allowed), as the parser reads it. */
static bool is_goose_up(const char *s, size_t n)
{
	size_t i = 2;

	if (n < 2 || s[0] != '-' || s[1] != '-')
		return false;
	while (i < n && blank(s[i]))
		i++;
	if (n - i < 6 || strncasecmp(s + i, "+goose", 6) != 0)
		return false;
	i += 6;
	while (i < n && blank(s[i]))
		i++;
	while (n > i && blank(s[n - 1]))
		n--;
	return n - i == 2 && strncasecmp(s + i, "up", 2) == 0;
}

/* Parse the text after the marker: the rule list, then the reason. */
static void parse_rules(const char *s, size_t n, mm_lint_nolint *out)
{
	size_t i = 0;

	while (i < n && blank(s[i]))
		i++;
	while (i < n && !blank(s[i])) {
		size_t start = i;
		const modmig_lint_rule *rule;
		char name[64];

		while (i < n && !blank(s[i]) && s[i] != ',')
			i++;
		if (i > start && i - start < sizeof(name)) {
			memcpy(name, s + start, i - start);
			name[i - start] = '\0';
			rule = modmig_lint_rule_find(name);
			if (rule)
				out->rules |= (uint64_t)1 << rule->id;
			else if (!out->unknown[0])
				memcpy(out->unknown, name, i - start + 1);
		} else if (i > start && !out->unknown[0]) {
			memcpy(out->unknown, s + start, sizeof(out->unknown) - 1);
			out->unknown[sizeof(out->unknown) - 1] = '\0';
		}
		if (i < n && s[i] == ',')
			i++;
	}
	while (i < n && blank(s[i]))
		i++;
	out->has_reason = i < n;
}

modmig_status mm_lint_nolints_read(const char *text, size_t len, mm_lint_nolints *out)
{
	modmig_status rc = MODMIG_OK;
	bool header = true;
	size_t cap = 0;
	size_t pos = 0;
	int line = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		size_t i = 0;
		size_t dashes;
		mm_lint_nolint *it;

		line++;
		pos += n + 1;
		while (i < n && blank(s[i]))
			i++;
		if (header && is_goose_up(s, n)) {
			header = false;
			continue;
		}
		if (n - i < 2 || s[i] != '-' || s[i + 1] != '-')
			continue;
		dashes = i;
		i += 2;
		while (i < n && blank(s[i]))
			i++;
		if (n - i < strlen(MARKER) || strncmp(s + i, MARKER, strlen(MARKER)) != 0)
			continue;
		if (out->count == cap) {
			mm_lint_nolint *items;

			cap = cap ? cap * 2 : 8;
			items = realloc(out->items, cap * sizeof(*items));
			if (!items) {
				rc = MODMIG_E_NOMEM;
				goto cleanup;
			}
			out->items = items;
		}
		it = &out->items[out->count++];
		memset(it, 0, sizeof(*it));
		it->line = line;
		it->column = (int)dashes + 1;
		it->file_wide = header;
		i += strlen(MARKER);
		parse_rules(s + i, n - i, it);
		if (header)
			out->file_wide |= it->rules;
	}
cleanup:
	if (rc != MODMIG_OK)
		mm_lint_nolints_clear(out);
	return rc;
}

void mm_lint_nolints_clear(mm_lint_nolints *n)
{
	free(n->items);
	memset(n, 0, sizeof(*n));
}

/* The bounds of 1-based line in text, false past its end. */
static bool line_bounds(const char *text, size_t len, int line, size_t *start, size_t *end)
{
	const char *nl;
	size_t pos = 0;
	int at = 1;

	while (at < line) {
		nl = memchr(text + pos, '\n', len - pos);
		if (!nl)
			return false;
		pos = (size_t)(nl - text) + 1;
		at++;
	}
	*start = pos;
	nl = memchr(text + pos, '\n', len - pos);
	*end = nl ? (size_t)(nl - text) : len;
	return true;
}

uint64_t mm_lint_nolints_above(const mm_lint_nolints *n, const char *text, size_t len, int line)
{
	uint64_t rules = 0;
	size_t k;
	int above;

	if (n->count == 0)
		return 0;
	/* the comment lines directly above the statement, nearest first */
	for (above = line - 1; above >= 1; above--) {
		size_t start;
		size_t end;
		size_t i;

		if (!line_bounds(text, len, above, &start, &end))
			break;
		i = start;
		while (i < end && blank(text[i]))
			i++;
		if (end - i < 2 || text[i] != '-' || text[i + 1] != '-')
			break;
		for (k = 0; k < n->count; k++)
			if (n->items[k].line == above)
				rules |= n->items[k].rules;
	}
	return rules;
}

void mm_lint_bad_suppression(mm_lint_ctx *c)
{
	const mm_lint_nolints *n = &c->file->nolints;
	size_t k;

	if (c->stmt)
		return;
	for (k = 0; k < n->count; k++) {
		const mm_lint_nolint *it = &n->items[k];

		if (it->unknown[0])
			mm_lint_report_at(c, it->line, it->column, false,
			                  "name rules as 'modmig lint' prints them, e.g. "
			                  "'-- modmig:nolint drop-column the column moved to ...'",
			                  "modmig:nolint names unknown rule '%s'", it->unknown);
		else if (!it->rules)
			mm_lint_report_at(c, it->line, it->column, false,
			                  "write '-- modmig:nolint RULE[,RULE] reason'",
			                  "modmig:nolint names no rule");
		else if (!it->has_reason)
			mm_lint_report_at(c, it->line, it->column, false,
			                  "say why after the rule names, e.g. '-- modmig:nolint "
			                  "drop-table replaced by billing.accounts in 04002'",
			                  "modmig:nolint without a reason");
	}
}
