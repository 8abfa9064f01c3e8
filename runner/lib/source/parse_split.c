/*
 * parse_split.c - the SQL gathered outside StatementBegin/End blocks, split
 * into units (DESIGN §3 rule 4) through the sql layer: PostgreSQL's grammar,
 * its lexer as a checked fallback, and the lexer's tokens to find where each
 * statement's real text starts and ends.
 */
#include "source/parse.h"

#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

modmig_status mm_parse_nomem(parser *ps, int line)
{
	return mm_fail(ps->err, MODMIG_E_NOMEM, ps->file, line, 0,
	               "out of memory parsing the file");
}

/* ---- chunks ------------------------------------------------------------- */

static void chunk_reset(chunk *c)
{
	c->text.len = 0;
	if (c->text.data)
		c->text.data[0] = '\0';
	c->count = 0;
	c->has_code = false;
}

void mm_chunk_free(chunk *c)
{
	mm_buf_free(&c->text);
	free(c->starts);
	free(c->lines);
	memset(c, 0, sizeof(*c));
}

bool mm_chunk_begin_line(chunk *c, int line)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		size_t *starts = realloc(c->starts, cap * sizeof(*starts));
		int *lines;

		if (!starts)
			return false;
		c->starts = starts;
		lines = realloc(c->lines, cap * sizeof(*lines));
		if (!lines)
			return false;
		c->lines = lines;
		c->cap = cap;
	}
	c->starts[c->count] = c->text.len;
	c->lines[c->count] = line;
	c->count++;
	return true;
}

/* Index of the chunk line holding offset (binary search: lines are in order). */
static size_t chunk_line_at(const chunk *c, size_t offset)
{
	size_t lo = 0;
	size_t hi = c->count;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->starts[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void chunk_position(const chunk *c, size_t offset, int *line, int *column)
{
	size_t i;

	if (c->count == 0) {
		*line = 0;
		*column = 0;
		return;
	}
	i = chunk_line_at(c, offset);
	*line = c->lines[i];
	*column = (int)(offset - c->starts[i]) + 1;
}

/* ---- units -------------------------------------------------------------- */

modmig_status mm_parse_add_unit(parser *ps, const char *sql, size_t len, int line, int column)
{
	modmig_status rc = MODMIG_OK;
	mm_section *sec = ps->stage == STAGE_DOWN ? &ps->out->down : &ps->out->up;
	size_t *cap = ps->stage == STAGE_DOWN ? &ps->down_cap : &ps->up_cap;
	mm_unit *u;

	if (sec->count == *cap) {
		size_t want = *cap ? 2 * *cap : 8;
		mm_unit *units = realloc(sec->units, want * sizeof(*units));

		if (!units) {
			rc = mm_parse_nomem(ps, line);
			goto cleanup;
		}
		sec->units = units;
		*cap = want;
	}
	u = &sec->units[sec->count];
	/* every field starts known: a StatementBegin block is never marked unparsed */
	memset(u, 0, sizeof(*u));
	u->sql = mm_strndup(sql, len);
	if (!u->sql) {
		rc = mm_parse_nomem(ps, line);
		goto cleanup;
	}
	u->len = len;
	u->line = line;
	u->column = column;
	u->unparsed = false; /* realloc'd memory: mark_unparsed() may set it after */
	sec->count++;
cleanup:
	return rc;
}

/* ---- statement splitting ------------------------------------------------ */

static bool is_comment(const mm_sql_token *t)
{
	return t->kind == MM_SQL_TOKEN_COMMENT;
}

static bool is_semicolon(const mm_sql_token *t)
{
	return t->kind == MM_SQL_TOKEN_SEMICOLON;
}

static int chunk_first_line(const chunk *c)
{
	return c->count ? c->lines[0] : 0;
}

/*
 * An error of the sql layer other than a refusal: out of memory, or
 * PostgreSQL's parser answering something impossible (a bug to report).
 */
static modmig_status sql_layer_failed(parser *ps, modmig_status rc, const mm_sql_error *e)
{
	if (rc == MODMIG_E_NOMEM)
		return mm_parse_nomem(ps, chunk_first_line(&ps->sql));
	return mm_fail(ps->err, rc, ps->file, chunk_first_line(&ps->sql), 0, "%s",
	               e->message ? e->message : "the sql layer failed");
}

/* Lex the chunk; on failure report the lexer's message at its position. */
static modmig_status scan_chunk(parser *ps, mm_sql_tokens *tokens, const char *failure)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_error e = {0};
	chunk *c = &ps->sql;
	int line;
	int column;

	rc = mm_sql_scan(c->text.data, tokens, &e);
	if (rc == MODMIG_E_PARSE) {
		chunk_position(c, e.offset, &line, &column);
		if (failure) {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s",
			             failure);
			mm_hint(ps->err, "put '-- +goose Up' above the first statement");
		} else {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s",
			             e.message);
			mm_hint(ps->err, "close the string, quoted identifier, dollar quote or "
			                 "comment that starts here");
		}
	} else if (rc) {
		rc = sql_layer_failed(ps, rc, &e);
	}
	mm_sql_error_clear(&e);
	return rc;
}

modmig_status mm_parse_check_header(parser *ps)
{
	modmig_status rc = MODMIG_OK;
	chunk *c = &ps->sql;
	mm_sql_tokens tokens = {0};
	int line;
	int column;
	size_t i;

	if (!c->has_code)
		goto cleanup;
	rc = scan_chunk(ps, &tokens, "sql before -- +goose Up");
	if (rc)
		goto cleanup;
	for (i = 0; i < tokens.count; i++) {
		if (is_comment(&tokens.items[i]))
			continue;
		chunk_position(c, tokens.items[i].start, &line, &column);
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		             "sql before -- +goose Up");
		mm_hint(ps->err, "put '-- +goose Up' above the first statement");
		goto cleanup;
	}
cleanup:
	mm_sql_tokens_clear(&tokens);
	chunk_reset(c);
	return rc;
}

static modmig_status uncovered(parser *ps, const mm_sql_token *t)
{
	int line;
	int column;

	chunk_position(&ps->sql, t->start, &line, &column);
	mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
	        "cannot split the sql here into statements");
	mm_hint(ps->err, "check the syntax near this line, or wrap the statement in "
	                 "-- +goose StatementBegin / -- +goose StatementEnd");
	return MODMIG_E_PARSE;
}

/* Split the chunk into statements, the grammar first; report a refusal at its position. */
static modmig_status split_chunk(parser *ps, mm_sql_split *split)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_error e = {0};
	int line;
	int column;

	rc = mm_sql_split_text(ps->sql.text.data, MM_SQL_SPLIT_PARSER, split, &e);
	if (rc == MODMIG_E_PARSE) {
		chunk_position(&ps->sql, e.offset, &line, &column);
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s", e.message);
		mm_hint(ps->err, "fix the sql near this line");
	} else if (rc) {
		rc = sql_layer_failed(ps, rc, &e);
	}
	mm_sql_error_clear(&e);
	return rc;
}

/*
 * The chunk fell back to the lexer: which of its statements did the grammar
 * refuse? Each is parsed on its own (only in this rare case), so validate
 * and inspect can name exactly those.
 */
static void mark_unparsed(parser *ps)
{
	mm_section *sec = ps->stage == STAGE_DOWN ? &ps->out->down : &ps->out->up;
	mm_unit *u = &sec->units[sec->count - 1];
	mm_sql_split one = {0};
	mm_sql_error e = {0};

	u->unparsed = mm_sql_split_text(u->sql, MM_SQL_SPLIT_PARSER, &one, &e) != MODMIG_OK ||
	              !one.by_parser;
	mm_sql_split_clear(&one);
	mm_sql_error_clear(&e);
}

/*
 * Turn the gathered SQL into units. The split gives statement ranges; the
 * token list tells where real SQL starts and ends inside them, and proves that
 * every token outside comments and semicolons landed in some unit, because
 * the scanner fallback is known to drop text it does not understand.
 */
modmig_status mm_parse_flush(parser *ps, const char *where)
{
	modmig_status rc = MODMIG_OK;
	chunk *c = &ps->sql;
	mm_sql_tokens tokens = {0};
	mm_sql_split split = {0};
	const mm_sql_token *tok;
	size_t n;
	size_t k = 0;
	size_t s;

	if (!c->has_code)
		goto cleanup;
	rc = scan_chunk(ps, &tokens, NULL);
	if (rc)
		goto cleanup;
	tok = tokens.items;
	n = tokens.count;
	rc = split_chunk(ps, &split);
	if (rc)
		goto cleanup;

	for (s = 0; s < split.count; s++) {
		size_t loc = split.stmts[s].offset;
		size_t stop = loc + split.stmts[s].len;
		size_t floor = k;
		size_t first = n;
		size_t last;
		size_t term;
		size_t start;
		size_t j;
		int line;
		int column;
		int first_line;

		for (; k < n && tok[k].start < stop; k++) {
			if (is_comment(&tok[k]) || is_semicolon(&tok[k]))
				continue;
			if (tok[k].start < loc) {
				rc = uncovered(ps, &tok[k]);
				goto cleanup;
			}
			first = k;
			break;
		}
		if (first == n)
			continue; /* nothing but comments */
		last = first;
		for (j = first + 1; j < n && tok[j].start < stop; j++)
			if (!is_comment(&tok[j]))
				last = j;
		term = last + 1;
		while (term < n && is_comment(&tok[term]))
			term++;
		chunk_position(c, tok[first].start, &first_line, &column);
		if (term == n || !is_semicolon(&tok[term])) {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, first_line, column,
			             "statement is not terminated with ';' %s", where);
			mm_hint(ps->err, "end the statement with ';', or wrap it in "
			                 "-- +goose StatementBegin / -- +goose StatementEnd");
			goto cleanup;
		}
		/*
		 * Start at the real SQL, but keep a comment that shares its line,
		 * unless that comment began on an earlier line.
		 */
		start = first;
		while (start > floor && is_comment(&tok[start - 1])) {
			chunk_position(c, tok[start - 1].start, &line, &column);
			if (line != first_line)
				break;
			start--;
		}
		chunk_position(c, tok[start].start, &line, &column);
		rc = mm_parse_add_unit(ps, c->text.data + tok[start].start,
		                       tok[term].end - tok[start].start, line, column);
		if (rc)
			goto cleanup;
		if (!split.by_parser)
			mark_unparsed(ps);
		k = term + 1;
	}
	for (; k < n; k++) {
		if (!is_comment(&tok[k]) && !is_semicolon(&tok[k])) {
			rc = uncovered(ps, &tok[k]);
			goto cleanup;
		}
	}
cleanup:
	mm_sql_split_clear(&split);
	mm_sql_tokens_clear(&tokens);
	chunk_reset(c);
	return rc;
}
