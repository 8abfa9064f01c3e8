/*
 * split.c - text into statements and tokens with libpg_query's grammar and
 * lexer, keywords, and the translation of libpg_query's errors. Every
 * libpg_query result is copied into modmig's own arrays and freed here, so
 * nothing above this file owns a libpg_query allocation.
 */
#include "sql/sql.h"

#include <pg_query.h>
#include <stdlib.h>
#include <string.h>

void mm_sql_error_clear(mm_sql_error *e)
{
	if (!e)
		return;
	free(e->message);
	memset(e, 0, sizeof(*e));
}

/*
 * Byte offset of libpg_query's cursorpos: a 1-based position in characters
 * (PostgreSQL counts characters for error positions; libpg_query works in
 * UTF-8), 0 when unknown. Clamped into the text so callers can map it to a
 * line without checks of their own.
 */
static size_t cursor_offset(const char *text, size_t len, int cursorpos)
{
	size_t i;
	long chars = 0;

	if (len == 0)
		return 0;
	if (cursorpos <= 1)
		return 0;
	for (i = 0; i < len; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80 && ++chars == cursorpos)
			return i;
	return len - 1;
}

modmig_status mm_sql_error_set(mm_sql_error *error, modmig_status code, const char *text,
                               const char *message, int cursorpos)
{
	if (!error)
		return code;
	mm_sql_error_clear(error);
	error->message = mm_strdup(message ? message : "syntax error");
	if (!error->message)
		return MODMIG_E_NOMEM;
	error->located = text && cursorpos > 0;
	error->offset = text ? cursor_offset(text, strlen(text), cursorpos) : 0;
	return code;
}

/* ---- splitting ---------------------------------------------------------- */

void mm_sql_split_clear(mm_sql_split *s)
{
	if (!s)
		return;
	free(s->stmts);
	memset(s, 0, sizeof(*s));
}

modmig_status mm_sql_split_text(const char *text, mm_sql_split_mode mode, mm_sql_split *out,
                                mm_sql_error *error)
{
	modmig_status rc = MODMIG_OK;
	PgQuerySplitResult split = {0};
	size_t len = strlen(text);
	int i;

	memset(out, 0, sizeof(*out));
	if (mode == MM_SQL_SPLIT_PARSER) {
		split = pg_query_split_with_parser(text);
		out->by_parser = !split.error;
		if (split.error)
			pg_query_free_split_result(split);
	}
	if (!out->by_parser)
		split = pg_query_split_with_scanner(text);
	if (split.error) {
		rc = mm_sql_error_set(error, MODMIG_E_PARSE, text, split.error->message,
		                      split.error->cursorpos);
		goto cleanup;
	}
	if (split.n_stmts > 0) {
		out->stmts = calloc((size_t)split.n_stmts, sizeof(*out->stmts));
		if (!out->stmts) {
			rc = mm_sql_error_set(error, MODMIG_E_NOMEM, NULL,
			                      "out of memory splitting sql", 0);
			goto cleanup;
		}
	}
	for (i = 0; i < split.n_stmts; i++) {
		const PgQuerySplitStmt *st = split.stmts[i];

		if (st->stmt_location < 0 || st->stmt_len < 0 ||
		    (size_t)st->stmt_location + (size_t)st->stmt_len > len) {
			rc = mm_sql_error_set(error, MODMIG_E_INTERNAL, NULL,
			                      "libpg_query returned a statement outside the text",
			                      0);
			goto cleanup;
		}
		out->stmts[i].offset = (size_t)st->stmt_location;
		out->stmts[i].len = (size_t)st->stmt_len;
	}
	out->count = (size_t)split.n_stmts;
cleanup:
	pg_query_free_split_result(split);
	if (rc)
		mm_sql_split_clear(out);
	return rc;
}

/* ---- scanning ----------------------------------------------------------- */

void mm_sql_tokens_clear(mm_sql_tokens *t)
{
	if (!t)
		return;
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static mm_sql_keyword keyword_of(PgQuery__KeywordKind kind)
{
	switch (kind) {
	case PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD:
		return MM_SQL_KEYWORD_UNRESERVED;
	case PG_QUERY__KEYWORD_KIND__COL_NAME_KEYWORD:
		return MM_SQL_KEYWORD_COL_NAME;
	case PG_QUERY__KEYWORD_KIND__TYPE_FUNC_NAME_KEYWORD:
		return MM_SQL_KEYWORD_TYPE_FUNC_NAME;
	case PG_QUERY__KEYWORD_KIND__RESERVED_KEYWORD:
		return MM_SQL_KEYWORD_RESERVED;
	default:
		return MM_SQL_KEYWORD_NONE;
	}
}

modmig_status mm_sql_scan(const char *text, mm_sql_tokens *out, mm_sql_error *error)
{
	modmig_status rc = MODMIG_OK;
	PgQueryScanResult scan = pg_query_scan(text);
	PgQuery__ScanResult *tokens = NULL;
	size_t len = strlen(text);
	size_t i;

	memset(out, 0, sizeof(*out));
	if (scan.error) {
		rc = mm_sql_error_set(error, MODMIG_E_PARSE, text, scan.error->message,
		                      scan.error->cursorpos);
		goto cleanup;
	}
	tokens =
	        pg_query__scan_result__unpack(NULL, scan.pbuf.len, (const uint8_t *)scan.pbuf.data);
	if (!tokens) {
		rc = mm_sql_error_set(error, MODMIG_E_NOMEM, NULL, "out of memory scanning sql", 0);
		goto cleanup;
	}
	if (tokens->n_tokens > 0) {
		out->items = calloc(tokens->n_tokens, sizeof(*out->items));
		if (!out->items) {
			rc = mm_sql_error_set(error, MODMIG_E_NOMEM, NULL,
			                      "out of memory scanning sql", 0);
			goto cleanup;
		}
	}
	for (i = 0; i < tokens->n_tokens; i++) {
		const PgQuery__ScanToken *t = tokens->tokens[i];
		mm_sql_token *o = &out->items[i];

		if (t->start < 0 || t->end < t->start || (size_t)t->end > len) {
			rc = mm_sql_error_set(error, MODMIG_E_INTERNAL, NULL,
			                      "libpg_query returned a token outside the text", 0);
			goto cleanup;
		}
		o->start = (size_t)t->start;
		o->end = (size_t)t->end;
		o->keyword = keyword_of(t->keyword_kind);
		if (t->token == PG_QUERY__TOKEN__SQL_COMMENT ||
		    t->token == PG_QUERY__TOKEN__C_COMMENT)
			o->kind = MM_SQL_TOKEN_COMMENT;
		else if (t->token == PG_QUERY__TOKEN__ASCII_59)
			o->kind = MM_SQL_TOKEN_SEMICOLON;
		else
			o->kind = MM_SQL_TOKEN_OTHER;
	}
	out->count = tokens->n_tokens;
cleanup:
	if (tokens)
		pg_query__scan_result__free_unpacked(tokens, NULL);
	pg_query_free_scan_result(scan);
	if (rc)
		mm_sql_tokens_clear(out);
	return rc;
}

/* ---- keywords ----------------------------------------------------------- */

/*
 * The lexer knows PostgreSQL's keyword list and each word's category, so a
 * word is a keyword when it scans as exactly one token covering all of it
 * that carries a keyword kind. Anything else (an identifier, two words, a
 * quoted name, a lexer error) is no keyword.
 */
mm_sql_keyword mm_sql_keyword_of(const char *word)
{
	mm_sql_tokens tokens = {0};
	mm_sql_keyword kind = MM_SQL_KEYWORD_NONE;

	if (!word || !*word || mm_sql_scan(word, &tokens, NULL) != MODMIG_OK)
		goto cleanup;
	if (tokens.count == 1 && tokens.items[0].start == 0 && tokens.items[0].end == strlen(word))
		kind = tokens.items[0].keyword;
cleanup:
	mm_sql_tokens_clear(&tokens);
	return kind;
}

bool mm_sql_is_reserved(const char *word)
{
	return mm_sql_keyword_of(word) == MM_SQL_KEYWORD_RESERVED;
}
