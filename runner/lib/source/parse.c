/*
 * parse.c - goose-format migration files (DESIGN §3): annotations, the modmig
 * header settings, StatementBegin/End blocks, ENVSUB, and statement splitting
 * with libpg_query's parser (its scanner as a checked fallback).
 */
#include "source/source.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum annotation {
	ANN_NONE,
	ANN_UP,
	ANN_DOWN,
	ANN_BEGIN,
	ANN_END,
	ANN_NO_TRANSACTION,
	ANN_ENVSUB_ON,
	ANN_ENVSUB_OFF,
	ANN_MALFORMED,
};

static const struct {
	const char *word;
	enum annotation kind;
} annotation_words[] = {
        {"Up", ANN_UP},
        {"Down", ANN_DOWN},
        {"StatementBegin", ANN_BEGIN},
        {"StatementEnd", ANN_END},
        {"NO TRANSACTION", ANN_NO_TRANSACTION},
        {"ENVSUB ON", ANN_ENVSUB_ON},
        {"ENVSUB OFF", ANN_ENVSUB_OFF},
};

#define ANNOTATION_HINT                                                                            \
	"write '-- +goose ' at column 1 followed by one of: Up, Down, StatementBegin, "            \
	"StatementEnd, NO TRANSACTION, ENVSUB ON, ENVSUB OFF"

enum stage { STAGE_HEADER, STAGE_UP, STAGE_DOWN };

/*
 * Text gathered for one libpg_query call. libpg_query reports byte offsets into
 * this text, so each of its lines remembers where it came from in the file.
 */
typedef struct chunk {
	mm_buf text;
	size_t *starts; /* offset of each line in text */
	int *lines;     /* its line in the file */
	size_t count;
	size_t cap;
	bool has_code; /* a line that is neither blank nor a -- comment */
} chunk;

typedef struct parser {
	const char *file;
	modmig_error **err;
	mm_parsed *out;
	enum stage stage;
	int up_line;
	int down_line;
	bool envsub;
	bool in_block;
	int block_line;
	bool block_has_text;
	size_t block_lines;
	mm_buf block;
	chunk sql;
	size_t up_cap;
	size_t down_cap;
} parser;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}
static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_name_char(char c)
{
	return is_name_start(c) || is_digit(c);
}

static size_t skip_blanks(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t trim_end(const char *s, size_t n)
{
	while (n > 0 && is_space(s[n - 1]))
		n--;
	return n;
}

static bool contains_nocase(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (strncasecmp(s + i, needle, m) == 0)
			return true;
	return false;
}

/* The annotation a line spells, or ANN_MALFORMED for a near miss. */
static enum annotation classify(const char *s, size_t n)
{
	size_t end = trim_end(s, n);
	size_t i;
	size_t k;

	if (end >= 2 && s[0] == '-' && s[1] == '-') {
		i = skip_blanks(s, 2, end);
		if (end - i > 6 && strncasecmp(s + i, "+goose", 6) == 0 &&
		    (s[i + 6] == ' ' || s[i + 6] == '\t')) {
			i = skip_blanks(s, i + 6, end);
			for (k = 0; k < sizeof(annotation_words) / sizeof(annotation_words[0]);
			     k++) {
				const char *w = annotation_words[k].word;

				if (strlen(w) == end - i && strncasecmp(s + i, w, end - i) == 0)
					return annotation_words[k].kind;
			}
		}
	}
	i = 0;
	while (i < end && is_space(s[i]))
		i++;
	if (end - i >= 2 && s[i] == '-' && s[i + 1] == '-' &&
	    contains_nocase(s + i, end - i, "+goose"))
		return ANN_MALFORMED;
	return ANN_NONE;
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

static void chunk_free(chunk *c)
{
	mm_buf_free(&c->text);
	free(c->starts);
	free(c->lines);
	memset(c, 0, sizeof(*c));
}

static bool chunk_begin_line(chunk *c, int line)
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

/* ---- errors ------------------------------------------------------------- */

static modmig_status fail_nomem(parser *ps, int line)
{
	return mm_fail(ps->err, MODMIG_E_NOMEM, ps->file, line, 0,
	               "out of memory parsing the file");
}

/* libpg_query's cursorpos is 1-based; 0 means unknown. */
static size_t cursor_offset(int cursorpos, size_t len)
{
	size_t off = cursorpos > 0 ? (size_t)cursorpos - 1 : 0;

	return off < len ? off : (len ? len - 1 : 0);
}

/* ---- ENVSUB ------------------------------------------------------------- */

/*
 * Append s to dst, replacing ${VAR} and $VAR. Dollar quotes ($$, $tag$),
 * positional parameters ($1) and a $ inside an identifier (a$b) stay as they
 * are, since PostgreSQL gives them meaning.
 */
static modmig_status substitute(parser *ps, mm_buf *dst, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;
	char *name = NULL;
	size_t i = 0;
	size_t copied = 0;

	while (i < n) {
		size_t begin = i;
		size_t end;
		const char *value;

		if (s[i] != '$') {
			i++;
			continue;
		}
		if (i + 1 < n && s[i + 1] == '{') {
			end = i + 2;
			while (end < n && is_name_char(s[end]))
				end++;
			if (end == n || s[end] != '}' || end == i + 2 || !is_name_start(s[i + 2])) {
				rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)i + 1,
				             "malformed ${...} reference in an ENVSUB section");
				mm_hint(ps->err,
				        "write ${NAME} with a name of letters, digits and _, "
				        "or end substitution with -- +goose ENVSUB OFF");
				goto cleanup;
			}
			name = mm_strndup(s + i + 2, end - i - 2);
			i = end + 1;
		} else if (i + 1 < n && is_name_start(s[i + 1]) &&
		           !(i > 0 && is_name_char(s[i - 1]))) {
			end = i + 1;
			while (end < n && is_name_char(s[end]))
				end++;
			if (end < n && s[end] == '$') {
				i = end + 1; /* a $tag$ dollar quote */
				continue;
			}
			name = mm_strndup(s + i + 1, end - i - 1);
			i = end;
		} else {
			/* $$ is skipped whole so that the text after it is not read as a name */
			i += (i + 1 < n && s[i + 1] == '$') ? 2 : 1;
			continue;
		}
		if (!name) {
			rc = fail_nomem(ps, line);
			goto cleanup;
		}
		value = getenv(name);
		if (!value) {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)begin + 1,
			             "environment variable %s is not set", name);
			mm_hint(ps->err, "set %s, or end substitution with -- +goose ENVSUB OFF",
			        name);
			goto cleanup;
		}
		mm_buf_append(dst, s + copied, begin - copied);
		mm_buf_puts(dst, value);
		copied = i;
		free(name);
		name = NULL;
	}
	mm_buf_append(dst, s + copied, n - copied);
	if (dst->oom)
		rc = fail_nomem(ps, line);
cleanup:
	free(name);
	return rc;
}

static modmig_status append_text(parser *ps, mm_buf *dst, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;

	if (ps->envsub)
		rc = substitute(ps, dst, s, n, line);
	else if (!mm_buf_append(dst, s, n))
		rc = fail_nomem(ps, line);
	return rc;
}

/* ---- units -------------------------------------------------------------- */

static modmig_status add_unit(parser *ps, const char *sql, size_t len, int line, int column)
{
	modmig_status rc = MODMIG_OK;
	mm_section *sec = ps->stage == STAGE_DOWN ? &ps->out->down : &ps->out->up;
	size_t *cap = ps->stage == STAGE_DOWN ? &ps->down_cap : &ps->up_cap;
	mm_unit *u;

	if (sec->count == *cap) {
		size_t want = *cap ? 2 * *cap : 8;
		mm_unit *units = realloc(sec->units, want * sizeof(*units));

		if (!units) {
			rc = fail_nomem(ps, line);
			goto cleanup;
		}
		sec->units = units;
		*cap = want;
	}
	u = &sec->units[sec->count];
	u->sql = mm_strndup(sql, len);
	if (!u->sql) {
		rc = fail_nomem(ps, line);
		goto cleanup;
	}
	u->len = len;
	u->line = line;
	u->column = column;
	sec->count++;
cleanup:
	return rc;
}

/* ---- statement splitting ------------------------------------------------ */

static bool is_comment(const PgQuery__ScanToken *t)
{
	return t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT;
}

static bool is_semicolon(const PgQuery__ScanToken *t)
{
	return t->token == PG_QUERY__TOKEN__ASCII_59;
}

/* Lex the chunk; on failure report the lexer's message at its position. */
static modmig_status scan_chunk(parser *ps, PgQueryScanResult *scan, PgQuery__ScanResult **tokens,
                                const char *failure)
{
	modmig_status rc = MODMIG_OK;
	chunk *c = &ps->sql;
	int line;
	int column;
	size_t i;

	*scan = pg_query_scan(c->text.data);
	if (scan->error) {
		chunk_position(c, cursor_offset(scan->error->cursorpos, c->text.len), &line,
		               &column);
		if (failure) {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s",
			             failure);
			mm_hint(ps->err, "put '-- +goose Up' above the first statement");
		} else {
			rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s",
			             scan->error->message);
			mm_hint(ps->err, "close the string, quoted identifier, dollar quote or "
			                 "comment that starts here");
		}
		goto cleanup;
	}
	*tokens = pg_query__scan_result__unpack(NULL, scan->pbuf.len,
	                                        (const uint8_t *)scan->pbuf.data);
	if (!*tokens) {
		rc = fail_nomem(ps, c->count ? c->lines[0] : 0);
		goto cleanup;
	}
	for (i = 0; i < (*tokens)->n_tokens; i++) {
		const PgQuery__ScanToken *t = (*tokens)->tokens[i];

		if (t->start < 0 || t->end < t->start || (size_t)t->end > c->text.len) {
			rc = mm_fail(ps->err, MODMIG_E_INTERNAL, ps->file,
			             c->count ? c->lines[0] : 0, 0,
			             "libpg_query returned a token outside the text");
			goto cleanup;
		}
	}
cleanup:
	return rc;
}

/* Lines before Up may hold comments only. */
static modmig_status check_header(parser *ps)
{
	modmig_status rc = MODMIG_OK;
	chunk *c = &ps->sql;
	PgQueryScanResult scan = {0};
	PgQuery__ScanResult *tokens = NULL;
	bool scanned = false;
	int line;
	int column;
	size_t i;

	if (!c->has_code)
		goto cleanup;
	scanned = true;
	rc = scan_chunk(ps, &scan, &tokens, "sql before -- +goose Up");
	if (rc)
		goto cleanup;
	for (i = 0; i < tokens->n_tokens; i++) {
		if (is_comment(tokens->tokens[i]))
			continue;
		chunk_position(c, (size_t)tokens->tokens[i]->start, &line, &column);
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		             "sql before -- +goose Up");
		mm_hint(ps->err, "put '-- +goose Up' above the first statement");
		goto cleanup;
	}
cleanup:
	if (tokens)
		pg_query__scan_result__free_unpacked(tokens, NULL);
	if (scanned)
		pg_query_free_scan_result(scan);
	chunk_reset(c);
	return rc;
}

static modmig_status uncovered(parser *ps, const PgQuery__ScanToken *t)
{
	int line;
	int column;

	chunk_position(&ps->sql, (size_t)t->start, &line, &column);
	mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
	        "cannot split the sql here into statements");
	mm_hint(ps->err, "check the syntax near this line, or wrap the statement in "
	                 "-- +goose StatementBegin / -- +goose StatementEnd");
	return MODMIG_E_PARSE;
}

/*
 * Turn the gathered SQL into units. The split gives statement ranges; the
 * token list tells where real SQL starts and ends inside them, and proves that
 * every token outside comments and semicolons landed in some unit, because
 * the scanner fallback is known to drop text it does not understand.
 */
static modmig_status flush_sql(parser *ps, const char *where)
{
	modmig_status rc = MODMIG_OK;
	chunk *c = &ps->sql;
	PgQueryScanResult scan = {0};
	PgQuerySplitResult split = {0};
	PgQuery__ScanResult *tokens = NULL;
	PgQuery__ScanToken **tok;
	bool scanned = false;
	bool split_done = false;
	size_t n;
	size_t k = 0;
	int s;

	if (!c->has_code)
		goto cleanup;
	scanned = true;
	rc = scan_chunk(ps, &scan, &tokens, NULL);
	if (rc)
		goto cleanup;
	tok = tokens->tokens;
	n = tokens->n_tokens;

	split_done = true;
	split = pg_query_split_with_parser(c->text.data);
	if (split.error) {
		pg_query_free_split_result(split);
		split = pg_query_split_with_scanner(c->text.data);
	}
	if (split.error) {
		int line;
		int column;

		chunk_position(c, cursor_offset(split.error->cursorpos, c->text.len), &line,
		               &column);
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column, "%s",
		             split.error->message);
		mm_hint(ps->err, "fix the sql near this line");
		goto cleanup;
	}

	for (s = 0; s < split.n_stmts; s++) {
		const PgQuerySplitStmt *st = split.stmts[s];
		size_t loc;
		size_t stop;
		size_t floor = k;
		size_t first = n;
		size_t last;
		size_t term;
		size_t start;
		size_t j;
		int line;
		int column;
		int first_line;

		if (st->stmt_location < 0 || st->stmt_len < 0 ||
		    (size_t)st->stmt_location + (size_t)st->stmt_len > c->text.len) {
			rc = mm_fail(ps->err, MODMIG_E_INTERNAL, ps->file,
			             c->count ? c->lines[0] : 0, 0,
			             "libpg_query returned a statement outside the text");
			goto cleanup;
		}
		loc = (size_t)st->stmt_location;
		stop = loc + (size_t)st->stmt_len;
		for (; k < n && (size_t)tok[k]->start < stop; k++) {
			if (is_comment(tok[k]) || is_semicolon(tok[k]))
				continue;
			if ((size_t)tok[k]->start < loc) {
				rc = uncovered(ps, tok[k]);
				goto cleanup;
			}
			first = k;
			break;
		}
		if (first == n)
			continue; /* nothing but comments */
		last = first;
		for (j = first + 1; j < n && (size_t)tok[j]->start < stop; j++)
			if (!is_comment(tok[j]))
				last = j;
		term = last + 1;
		while (term < n && is_comment(tok[term]))
			term++;
		chunk_position(c, (size_t)tok[first]->start, &first_line, &column);
		if (term == n || !is_semicolon(tok[term])) {
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
		while (start > floor && is_comment(tok[start - 1])) {
			chunk_position(c, (size_t)tok[start - 1]->start, &line, &column);
			if (line != first_line)
				break;
			start--;
		}
		chunk_position(c, (size_t)tok[start]->start, &line, &column);
		rc = add_unit(ps, c->text.data + tok[start]->start,
		              (size_t)(tok[term]->end - tok[start]->start), line, column);
		if (rc)
			goto cleanup;
		k = term + 1;
	}
	for (; k < n; k++) {
		if (!is_comment(tok[k]) && !is_semicolon(tok[k])) {
			rc = uncovered(ps, tok[k]);
			goto cleanup;
		}
	}
cleanup:
	if (split_done)
		pg_query_free_split_result(split);
	if (tokens)
		pg_query__scan_result__free_unpacked(tokens, NULL);
	if (scanned)
		pg_query_free_scan_result(scan);
	chunk_reset(c);
	return rc;
}

/* ---- header settings ---------------------------------------------------- */

/* A PostgreSQL duration: an integer or decimal, optionally with a time unit. */
static bool is_duration(const char *s, size_t n)
{
	static const char *const units[] = {"us", "ms", "s", "min", "h", "d"};
	size_t i = 0;
	size_t f;
	size_t u;

	while (i < n && is_digit(s[i]))
		i++;
	if (i == 0)
		return false;
	if (i < n && s[i] == '.') {
		f = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == f)
			return false;
	}
	if (i == n)
		return true;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (strlen(units[u]) == n - i && memcmp(s + i, units[u], n - i) == 0)
			return true;
	return false;
}

/*
 * "-- modmig key=value": returns where key starts, or 0 when the line is not a
 * setting (then it is an ordinary comment, such as "-- modmig does this").
 */
static size_t setting_start(const char *s, size_t n)
{
	size_t i;
	size_t key;

	if (n < 2 || s[0] != '-' || s[1] != '-')
		return 0;
	i = skip_blanks(s, 2, n);
	if (n - i <= 6 || memcmp(s + i, "modmig", 6) != 0 || (s[i + 6] != ' ' && s[i + 6] != '\t'))
		return 0;
	key = i = skip_blanks(s, i + 6, n);
	while (i < n && is_name_char(s[i]))
		i++;
	if (i == key)
		return 0;
	i = skip_blanks(s, i, n);
	return i < n && s[i] == '=' ? key : 0;
}

static modmig_status parse_setting(parser *ps, const char *s, size_t n, size_t at, int line)
{
	modmig_status rc = MODMIG_OK;
	size_t end = trim_end(s, n);
	size_t key_end = at;
	size_t value;
	char **slot = NULL;
	const char *key = NULL;

	while (key_end < end && is_name_char(s[key_end]))
		key_end++;
	value = skip_blanks(s, key_end, end) + 1; /* past the '=' that setting_start saw */
	if (key_end - at == 12 && memcmp(s + at, "lock_timeout", 12) == 0) {
		slot = &ps->out->lock_timeout;
		key = "lock_timeout";
	} else if (key_end - at == 17 && memcmp(s + at, "statement_timeout", 17) == 0) {
		slot = &ps->out->statement_timeout;
		key = "statement_timeout";
	} else {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)at + 1,
		             "unknown modmig setting '%.*s'", (int)(key_end - at), s + at);
		mm_hint(ps->err, "the known settings are lock_timeout and statement_timeout");
		goto cleanup;
	}
	value = skip_blanks(s, value, end);
	if (!is_duration(s + value, end - value)) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)value + 1,
		             "invalid %s '%.*s'", key, (int)(end - value), s + value);
		mm_hint(ps->err, "use a PostgreSQL duration such as 500ms, 5s, 2min or 1h");
		goto cleanup;
	}
	if (*slot) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)at + 1,
		             "%s is set twice", key);
		mm_hint(ps->err, "keep one '-- modmig %s=' line", key);
		goto cleanup;
	}
	*slot = mm_strndup(s + value, end - value);
	if (!*slot)
		rc = fail_nomem(ps, line);
cleanup:
	return rc;
}

/* ---- annotations -------------------------------------------------------- */

static modmig_status unclosed_block(parser *ps)
{
	mm_fail(ps->err, MODMIG_E_PARSE, ps->file, ps->block_line, 1,
	        "-- +goose StatementBegin is never closed");
	mm_hint(ps->err, "add '-- +goose StatementEnd' after the block");
	return MODMIG_E_PARSE;
}

static modmig_status malformed(parser *ps, const char *s, size_t n, int line)
{
	size_t end = trim_end(s, n);
	size_t i = 0;

	while (i < end && is_space(s[i]))
		i++;
	if (i > 0 && classify(s + i, end - i) != ANN_MALFORMED) {
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)i + 1,
		        "goose annotation is indented");
		mm_hint(ps->err, "move it to column 1");
	} else {
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)i + 1,
		        "malformed goose annotation '%.*s'", (int)(end - i > 80 ? 80 : end - i),
		        s + i);
		mm_hint(ps->err, ANNOTATION_HINT);
	}
	return MODMIG_E_PARSE;
}

/* Up and Down may each open once; the message points back at the first. */
static modmig_status repeated_section(parser *ps, int line, const char *section, int first_line)
{
	mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
	        "duplicate -- +goose %s (the first is at line %d)", section, first_line);
	mm_hint(ps->err, "keep one '-- +goose %s'", section);
	return MODMIG_E_PARSE;
}

static modmig_status on_up(parser *ps, int line)
{
	modmig_status rc = MODMIG_OK;

	if (ps->in_block) {
		rc = unclosed_block(ps);
	} else if (ps->stage == STAGE_UP) {
		rc = repeated_section(ps, line, "Up", ps->up_line);
	} else if (ps->stage == STAGE_DOWN) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "-- +goose Up after -- +goose Down (line %d)", ps->down_line);
		mm_hint(ps->err, "put the Up section first");
	} else {
		rc = check_header(ps);
		ps->stage = STAGE_UP;
		ps->up_line = line;
	}
	return rc;
}

static modmig_status on_down(parser *ps, int line)
{
	modmig_status rc = MODMIG_OK;

	if (ps->in_block) {
		rc = unclosed_block(ps);
	} else if (ps->stage == STAGE_HEADER) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "-- +goose Down before -- +goose Up");
		mm_hint(ps->err, "put '-- +goose Up' and its statements first");
	} else if (ps->stage == STAGE_DOWN) {
		rc = repeated_section(ps, line, "Down", ps->down_line);
	} else {
		rc = flush_sql(ps, "before -- +goose Down");
		ps->stage = STAGE_DOWN;
		ps->down_line = line;
		ps->out->has_down = true;
	}
	return rc;
}

static modmig_status on_begin(parser *ps, int line)
{
	modmig_status rc = MODMIG_OK;

	if (ps->stage == STAGE_HEADER) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "-- +goose StatementBegin before -- +goose Up");
		mm_hint(ps->err, "put '-- +goose Up' above the block");
	} else if (ps->in_block) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "nested -- +goose StatementBegin (the block opened at line %d)",
		             ps->block_line);
		mm_hint(ps->err, "close the open block with '-- +goose StatementEnd' first");
	} else {
		rc = flush_sql(ps, "before -- +goose StatementBegin");
		ps->in_block = true;
		ps->block_line = line;
		ps->block_has_text = false;
		ps->block_lines = 0;
		ps->block.len = 0;
	}
	return rc;
}

static modmig_status on_end(parser *ps, int line)
{
	modmig_status rc = MODMIG_OK;

	if (!ps->in_block) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "-- +goose StatementEnd without -- +goose StatementBegin");
		mm_hint(ps->err, "add '-- +goose StatementBegin' above the block, or remove "
		                 "this line");
	} else if (!ps->block_has_text) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, ps->block_line, 1,
		             "empty -- +goose StatementBegin block");
		mm_hint(ps->err, "put the statement between StatementBegin and StatementEnd, "
		                 "or remove both lines");
	} else {
		ps->in_block = false;
		rc = add_unit(ps, ps->block.data, ps->block.len, ps->block_line + 1, 1);
	}
	return rc;
}

static modmig_status add_text_line(parser *ps, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;
	size_t i = 0;

	while (i < n && is_space(s[i]))
		i++;
	if (ps->in_block) {
		if (ps->block_lines++ > 0 && !mm_buf_append(&ps->block, "\n", 1)) {
			rc = fail_nomem(ps, line);
			goto cleanup;
		}
		if (i < n)
			ps->block_has_text = true;
		rc = append_text(ps, &ps->block, s, n, line);
		goto cleanup;
	}
	if (!chunk_begin_line(&ps->sql, line)) {
		rc = fail_nomem(ps, line);
		goto cleanup;
	}
	if (i < n && !(n - i >= 2 && s[i] == '-' && s[i + 1] == '-'))
		ps->sql.has_code = true;
	rc = append_text(ps, &ps->sql.text, s, n, line);
	if (!rc && !mm_buf_append(&ps->sql.text, "\n", 1))
		rc = fail_nomem(ps, line);
cleanup:
	return rc;
}

static modmig_status parse_line(parser *ps, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;
	size_t at;

	switch (classify(s, n)) {
	case ANN_MALFORMED:
		rc = malformed(ps, s, n, line);
		goto cleanup;
	case ANN_UP:
		rc = on_up(ps, line);
		goto cleanup;
	case ANN_DOWN:
		rc = on_down(ps, line);
		goto cleanup;
	case ANN_BEGIN:
		rc = on_begin(ps, line);
		goto cleanup;
	case ANN_END:
		rc = on_end(ps, line);
		goto cleanup;
	case ANN_NO_TRANSACTION:
		ps->out->no_transaction = true;
		goto cleanup;
	case ANN_ENVSUB_ON:
		ps->envsub = true;
		goto cleanup;
	case ANN_ENVSUB_OFF:
		ps->envsub = false;
		goto cleanup;
	case ANN_NONE:
		break;
	}
	at = setting_start(s, n);
	if (at && ps->stage == STAGE_HEADER) {
		rc = parse_setting(ps, s, n, at, line);
		goto cleanup;
	}
	if (at && !ps->in_block) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, 1,
		             "modmig setting after -- +goose Up has no effect");
		mm_hint(ps->err, "move it above '-- +goose Up' (line %d)", ps->up_line);
		goto cleanup;
	}
	if (ps->stage == STAGE_HEADER) {
		/* checked as a whole at Up, so that a block comment may span lines */
		if (!chunk_begin_line(&ps->sql, line) || !mm_buf_append(&ps->sql.text, s, n) ||
		    !mm_buf_append(&ps->sql.text, "\n", 1)) {
			rc = fail_nomem(ps, line);
			goto cleanup;
		}
		at = 0;
		while (at < n && is_space(s[at]))
			at++;
		if (at < n && !(n - at >= 2 && s[at] == '-' && s[at + 1] == '-'))
			ps->sql.has_code = true;
		goto cleanup;
	}
	rc = add_text_line(ps, s, n, line);
cleanup:
	return rc;
}

static modmig_status finish(parser *ps)
{
	modmig_status rc = MODMIG_OK;

	if (ps->in_block) {
		rc = unclosed_block(ps);
	} else if (ps->stage == STAGE_HEADER) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, 1, 0, "no -- +goose Up annotation");
		mm_hint(ps->err, "add '-- +goose Up' above the first statement");
	} else {
		rc = flush_sql(ps, "at the end of the file");
	}
	return rc;
}

static int line_of(const char *text, size_t offset)
{
	int line = 1;
	const char *p = text;
	const char *end = text + offset;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		line++;
		p++;
	}
	return line;
}

modmig_status mm_parse(const char *file, const char *text, size_t len, mm_parsed *out,
                       modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	parser ps;
	const char *nul;
	size_t pos = 0;
	int line = 0;

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	ps.file = file;
	ps.err = err;
	ps.out = out;
	mm_buf_init(&ps.block);
	mm_buf_init(&ps.sql.text);
	if (len == 0)
		text = "";
	nul = memchr(text, '\0', len);
	if (nul) {
		rc = mm_fail(err, MODMIG_E_PARSE, file, line_of(text, (size_t)(nul - text)), 0,
		             "the file contains a NUL byte");
		mm_hint(err, "migrations must be text: remove the NUL byte or save the file "
		             "as UTF-8");
		goto cleanup;
	}
	/* editors on Windows may start the file with a UTF-8 byte order mark */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		rc = parse_line(&ps, s, n, line);
		if (rc)
			goto cleanup;
	}
	rc = finish(&ps);
cleanup:
	if (rc)
		mm_parsed_clear(out);
	mm_buf_free(&ps.block);
	chunk_free(&ps.sql);
	return rc;
}

static void section_clear(mm_section *s)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		free(s->units[i].sql);
	free(s->units);
	s->units = NULL;
	s->count = 0;
}

void mm_parsed_clear(mm_parsed *p)
{
	if (!p)
		return;
	section_clear(&p->up);
	section_clear(&p->down);
	free(p->lock_timeout);
	free(p->statement_timeout);
	memset(p, 0, sizeof(*p));
}
