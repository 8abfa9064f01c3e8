/*
 * parse.c - goose-format migration files (DESIGN §3), read line by line:
 * annotations, the modmig header settings, StatementBegin/End blocks and
 * ENVSUB. The SQL between annotations is split into statements by
 * parse_split.c.
 */
#include "source/parse.h"

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
			rc = mm_parse_nomem(ps, line);
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
		rc = mm_parse_nomem(ps, line);
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
		rc = mm_parse_nomem(ps, line);
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
		rc = mm_parse_nomem(ps, line);
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
		rc = mm_parse_check_header(ps);
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
		rc = mm_parse_flush(ps, "before -- +goose Down");
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
		rc = mm_parse_flush(ps, "before -- +goose StatementBegin");
		ps->in_block = true;
		ps->block_line = line;
		ps->block_has_sql = false;
		ps->block_goose_empty = true;
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
		goto cleanup;
	}
	ps->in_block = false;
	/* an empty or comment-only block is no unit, as in goose (DESIGN §3 rule 3) */
	if (!ps->block_has_sql) {
		if (ps->block_goose_empty)
			ps->after_empty = ps->block_line;
		goto cleanup;
	}
	rc = mm_parse_add_unit(ps, ps->block.data, ps->block.len, ps->block_line + 1, 1);
cleanup:
	return rc;
}

static bool is_dash_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_space(s[i]))
		i++;
	return n - i >= 2 && s[i] == '-' && s[i + 1] == '-';
}

/*
 * A line after an empty block, before the next annotation: goose skips empty
 * lines and -- comments, then drops the first other line whole. A blank one
 * is harmless; SQL would run in modmig and not in goose, so the two tools
 * would reach different schemas, and the file is refused.
 */
static modmig_status after_empty_block(parser *ps, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;
	size_t i = 0;

	if (n == 0 || is_dash_comment(s, n))
		goto cleanup;
	while (i < n && is_space(s[i]))
		i++;
	if (i < n) {
		rc = mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, (int)i + 1,
		             "goose drops this line: it follows the empty -- +goose StatementBegin "
		             "block at line %d",
		             ps->after_empty);
		mm_hint(ps->err, "remove the empty block: goose would skip this line and modmig "
		                 "would run it, so the two would build different schemas");
	}
	ps->after_empty = 0;
cleanup:
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
			rc = mm_parse_nomem(ps, line);
			goto cleanup;
		}
		if (i < n && !is_dash_comment(s, n))
			ps->block_has_sql = true;
		/* goose keeps a line of blanks; only "" and -- comments leave it empty */
		if (n > 0 && !is_dash_comment(s, n))
			ps->block_goose_empty = false;
		rc = append_text(ps, &ps->block, s, n, line);
		goto cleanup;
	}
	if (!mm_chunk_begin_line(&ps->sql, line)) {
		rc = mm_parse_nomem(ps, line);
		goto cleanup;
	}
	if (i < n && !(n - i >= 2 && s[i] == '-' && s[i + 1] == '-'))
		ps->sql.has_code = true;
	rc = append_text(ps, &ps->sql.text, s, n, line);
	if (!rc && !mm_buf_append(&ps->sql.text, "\n", 1))
		rc = mm_parse_nomem(ps, line);
cleanup:
	return rc;
}

static modmig_status parse_line(parser *ps, const char *s, size_t n, int line)
{
	modmig_status rc = MODMIG_OK;
	enum annotation ann;
	size_t at;

	ann = classify(s, n);
	/* these move goose's parser on; NO TRANSACTION and ENVSUB do not */
	if (ann == ANN_UP || ann == ANN_DOWN || ann == ANN_BEGIN)
		ps->after_empty = 0;
	switch (ann) {
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
	if (ps->after_empty && !ps->in_block &&
	    (rc = after_empty_block(ps, s, n, line)) != MODMIG_OK)
		goto cleanup;
	if (ps->stage == STAGE_HEADER) {
		/* checked as a whole at Up, so that a block comment may span lines */
		if (!mm_chunk_begin_line(&ps->sql, line) || !mm_buf_append(&ps->sql.text, s, n) ||
		    !mm_buf_append(&ps->sql.text, "\n", 1)) {
			rc = mm_parse_nomem(ps, line);
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
	} else if ((rc = mm_parse_flush(ps, "at the end of the file")) == MODMIG_OK) {
		rc = mm_parse_transaction_control(ps);
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

/*
 * The server reads every unit as UTF-8 (the connection's client_encoding is
 * always UTF8), so a file in another encoding would fail later without a
 * line, or worse, store the wrong characters. Columns count bytes from the
 * start of the line (after a byte order mark), as everywhere in the parser.
 */
static modmig_status check_utf8(const char *file, const char *text, size_t len, size_t start,
                                modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t bad = start + mm_utf8_invalid(text + start, len - start);
	size_t line_start = start;
	const char *nl;

	if (bad == len)
		goto cleanup;
	for (nl = text + start; (nl = memchr(nl, '\n', (size_t)(text + bad - nl))) != NULL; nl++)
		line_start = (size_t)(nl - text) + 1;
	rc = mm_fail(err, MODMIG_E_PARSE, file, line_of(text, bad), (int)(bad - line_start) + 1,
	             "invalid UTF-8 (byte 0x%02x)", (unsigned)(unsigned char)text[bad]);
	mm_hint(err, "migrations must be UTF-8: convert the file (for Latin-1: iconv -f LATIN1 "
	             "-t UTF-8) or fix this byte");
cleanup:
	return rc;
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
	if ((rc = check_utf8(file, text, len, pos, err)) != MODMIG_OK)
		goto cleanup;
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
	mm_chunk_free(&ps.sql);
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
	for (size_t i = 0; i < p->warning_count; i++)
		free(p->warnings[i].message);
	free(p->warnings);
	free(p->lock_timeout);
	free(p->statement_timeout);
	memset(p, 0, sizeof(*p));
}
