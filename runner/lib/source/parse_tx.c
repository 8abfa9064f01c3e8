/*
 * parse_tx.c - transaction control in a transactional migration (DESIGN §3
 * rule 6). modmig runs each migration in one transaction, so a COMMIT or a
 * ROLLBACK inside it would end that transaction early: the statements before
 * it would be committed or undone on their own, and the rest would run in
 * autocommit while the migration is recorded as applied. Real goose projects
 * wrap sections in BEGIN; ... COMMIT;, which is harmless: that leading BEGIN
 * and that trailing COMMIT are not sent, with a warning, and the migration
 * stays atomic. Every other transaction-control statement is refused; the
 * savepoint ones are fine. Blocks count too: a block's text may hold several
 * statements, which the sql layer splits to classify, while the block is
 * still sent as it stands, minus a leading BEGIN or a trailing COMMIT.
 */
#include "source/parse.h"

#include "sql/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One statement of a unit, as far as transaction control goes. */
typedef struct tx_stmt {
	size_t unit;
	size_t start; /* its first token, a byte offset in the unit's text */
	size_t end;   /* just past its ';' (or the end of the text) */
	mm_sql_tx tx;
	bool chain;    /* COMMIT AND CHAIN, ROLLBACK AND CHAIN */
	char word[24]; /* its first word as written, upper case: BEGIN, END */
} tx_stmt;

typedef struct tx_list {
	tx_stmt *items;
	size_t count;
	size_t cap;
} tx_list;

/* The words a transaction-control statement can start with. */
static const char *const tx_words[] = {"begin", "start",   "commit",    "end",    "rollback",
                                       "abort", "prepare", "savepoint", "release"};

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

static bool is_tx_word(const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < sizeof(tx_words) / sizeof(tx_words[0]); k++)
		if (strlen(tx_words[k]) == n && strncasecmp(s, tx_words[k], n) == 0)
			return true;
	return false;
}

/*
 * Whether text holds one of tx_words as a whole word anywhere: most units
 * (CREATE TABLE ..., INSERT ...) do not, and skip the lexer and the grammar.
 * Words inside strings or comments only cost a closer look.
 */
static bool may_hold_tx(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j;

		if (!is_word_char(s[i])) {
			i++;
			continue;
		}
		for (j = i; j < n && is_word_char(s[j]); j++)
			;
		if (is_tx_word(s + i, j - i))
			return true;
		i = j;
	}
	return false;
}

static bool push(tx_list *l, const tx_stmt *st)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		tx_stmt *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return false;
		l->items = items;
		l->cap = cap;
	}
	l->items[l->count++] = *st;
	return true;
}

/* The first token of [from, to) that is not a comment, or count when none. */
static size_t first_token(const mm_sql_tokens *t, size_t from, size_t to, size_t k)
{
	for (; k < t->count && t->items[k].start < to; k++)
		if (t->items[k].start >= from && t->items[k].kind != MM_SQL_TOKEN_COMMENT)
			return k;
	return t->count;
}

/* Whether the tokens before token k include BEGIN ATOMIC (a SQL-standard function body). */
static bool after_begin_atomic(const char *text, const mm_sql_tokens *t, size_t k)
{
	size_t i;

	for (i = 0; i + 1 < k; i++) {
		const mm_sql_token *a = &t->items[i];
		const mm_sql_token *b = &t->items[i + 1];

		if (a->end - a->start == 5 && strncasecmp(text + a->start, "begin", 5) == 0 &&
		    b->end - b->start == 6 && strncasecmp(text + b->start, "atomic", 6) == 0)
			return true;
	}
	return false;
}

/* What the one statement in text[from, to) is; MM_SQL_TX_NONE when the grammar cannot say. */
static modmig_status classify_span(const char *text, size_t from, size_t to, mm_sql_tx *tx,
                                   bool *chain)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_tree *tree = NULL;
	char *copy = mm_strndup(text + from, to - from);

	*tx = MM_SQL_TX_NONE;
	*chain = false;
	if (!copy) {
		rc = MODMIG_E_NOMEM;
		goto cleanup;
	}
	rc = mm_sql_tree_new(copy, &tree, NULL);
	if (rc == MODMIG_E_PARSE) {
		/* every transaction-control statement parses: this is something else */
		rc = MODMIG_OK;
		goto cleanup;
	}
	if (rc == MODMIG_OK && mm_sql_tree_count(tree) == 1)
		*tx = mm_sql_tx_of(mm_sql_tree_stmt(tree, 0), chain);
cleanup:
	mm_sql_tree_free(tree);
	free(copy);
	return rc;
}

/*
 * Add the statements of unit ui to l. A unit that cannot hold transaction
 * control counts as one statement of no interest; so does one the lexer
 * refuses (the server will report it where it stands).
 */
static modmig_status unit_statements(const mm_unit *u, size_t ui, tx_list *l)
{
	modmig_status rc = MODMIG_OK;
	mm_sql_tokens tokens = {0};
	mm_sql_split split = {0};
	tx_stmt st;
	size_t s;
	size_t k = 0;

	memset(&st, 0, sizeof(st));
	st.unit = ui;
	st.end = u->len;
	if (!may_hold_tx(u->sql, u->len) || mm_sql_scan(u->sql, &tokens, NULL) != MODMIG_OK ||
	    mm_sql_split_text(u->sql, MM_SQL_SPLIT_PARSER, &split, NULL) != MODMIG_OK) {
		if (!push(l, &st))
			rc = MODMIG_E_NOMEM;
		goto cleanup;
	}
	for (s = 0; s < split.count; s++) {
		size_t from = split.stmts[s].offset;
		size_t to = from + split.stmts[s].len;
		size_t first = first_token(&tokens, from, to, k);
		size_t j;
		const mm_sql_token *f;

		if (first == tokens.count)
			continue; /* only comments */
		f = &tokens.items[first];
		memset(&st, 0, sizeof(st));
		st.unit = ui;
		st.start = f->start;
		st.end = to;
		for (j = first; j < tokens.count; j++) {
			if (tokens.items[j].kind == MM_SQL_TOKEN_SEMICOLON &&
			    tokens.items[j].start >= to) {
				st.end = tokens.items[j].end;
				break;
			}
		}
		k = j;
		if (is_tx_word(u->sql + f->start, f->end - f->start) &&
		    /*
		     * The lexer alone (newer syntax) splits a BEGIN ATOMIC body at
		     * its semicolons, and its END would read as COMMIT.
		     */
		    (split.by_parser || !after_begin_atomic(u->sql, &tokens, first))) {
			rc = classify_span(u->sql, f->start, to, &st.tx, &st.chain);
			if (rc)
				goto cleanup;
			snprintf(st.word, sizeof(st.word), "%.*s",
			         (int)(f->end - f->start < 20 ? f->end - f->start : 20),
			         u->sql + f->start);
			for (j = 0; st.word[j]; j++)
				if (st.word[j] >= 'a' && st.word[j] <= 'z')
					st.word[j] = (char)(st.word[j] - 'a' + 'A');
			/* the words PostgreSQL's documentation names them by */
			if (st.tx == MM_SQL_TX_START)
				snprintf(st.word, sizeof(st.word), "START TRANSACTION");
			else if (st.tx == MM_SQL_TX_PREPARE)
				snprintf(st.word, sizeof(st.word), "PREPARE TRANSACTION");
			else if (st.tx == MM_SQL_TX_COMMIT_PREPARED)
				snprintf(st.word, sizeof(st.word), "COMMIT PREPARED");
			else if (st.tx == MM_SQL_TX_ROLLBACK_PREPARED)
				snprintf(st.word, sizeof(st.word), "ROLLBACK PREPARED");
		}
		if (!push(l, &st)) {
			rc = MODMIG_E_NOMEM;
			goto cleanup;
		}
	}
cleanup:
	mm_sql_split_clear(&split);
	mm_sql_tokens_clear(&tokens);
	return rc;
}

/* Line and column in the file of byte offset at inside unit u (as the executor maps errors). */
static void locate(const mm_unit *u, size_t at, int *line, int *column)
{
	size_t i;

	*line = u->line;
	*column = u->column > 0 ? u->column : 1;
	for (i = 0; i < at && i < u->len; i++) {
		if (u->sql[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

static modmig_status add_warning(parser *ps, modmig_direction dir, int line, int column,
                                 const char *word)
{
	mm_parsed *p = ps->out;
	mm_parse_warning *w;

	w = realloc(p->warnings, (p->warning_count + 1) * sizeof(*w));
	if (!w)
		return mm_parse_nomem(ps, line);
	p->warnings = w;
	w = &p->warnings[p->warning_count];
	w->dir = dir;
	w->line = line;
	w->column = column;
	w->message = mm_printf("%s is redundant: modmig runs the migration in one transaction, so "
	                       "it is not sent",
	                       word);
	if (!w->message)
		return mm_parse_nomem(ps, line);
	p->warning_count++;
	return MODMIG_OK;
}

/* The statement st may not stand in a transactional migration. */
static modmig_status refuse(parser *ps, const mm_unit *u, const tx_stmt *st)
{
	mm_sql_tx_role role = mm_sql_tx_role_of(st->tx);
	int line;
	int column;

	locate(u, st->start, &line, &column);
	if (role == MM_SQL_TX_ROLE_OPEN)
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		        "%s after the first statement of a transactional migration marks a "
		        "transaction boundary that the migration's one transaction would not keep",
		        st->word);
	else if (st->tx == MM_SQL_TX_ROLLBACK)
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		        "%s in a transactional migration would undo the statements before it while "
		        "the migration is recorded as applied",
		        st->word);
	else if (st->tx == MM_SQL_TX_COMMIT)
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		        "%s%s in the middle of a transactional migration would commit the "
		        "statements "
		        "before it on their own",
		        st->word, st->chain ? " AND CHAIN" : "");
	else
		mm_fail(ps->err, MODMIG_E_PARSE, ps->file, line, column,
		        "%s cannot run inside a transactional migration", st->word);
	mm_hint(ps->err, "split the migration at this statement, or mark the file '-- +goose NO "
	                 "TRANSACTION' to run its statements one at a time as written");
	return MODMIG_E_PARSE;
}

/* Remove unit i of sec. */
static void drop_unit(mm_section *sec, size_t i)
{
	free(sec->units[i].sql);
	memmove(&sec->units[i], &sec->units[i + 1], (sec->count - i - 1) * sizeof(sec->units[0]));
	sec->count--;
}

/*
 * Keep text[from, to) of unit u: a leading BEGIN is cut with the rest of its
 * line when only blanks follow it, a trailing COMMIT with the blanks before
 * it. The unit's position moves with its first byte, so that server errors
 * still map to the right file:line:column.
 */
static modmig_status trim_unit(parser *ps, mm_unit *u, size_t from, size_t to)
{
	char *kept;
	int line;
	int column;

	while (from < to && (u->sql[from] == ' ' || u->sql[from] == '\t'))
		from++;
	if (from < to && u->sql[from] == '\n')
		from++;
	while (to > from &&
	       (u->sql[to - 1] == ' ' || u->sql[to - 1] == '\t' || u->sql[to - 1] == '\n'))
		to--;
	locate(u, from, &line, &column);
	kept = mm_strndup(u->sql + from, to - from);
	if (!kept)
		return mm_parse_nomem(ps, u->line);
	free(u->sql);
	u->sql = kept;
	u->len = to - from;
	u->line = line;
	u->column = column;
	return MODMIG_OK;
}

/*
 * Unit ui loses `dropped` of its statements and keeps text[from, to); with
 * none of them left it goes altogether.
 */
static modmig_status cut(parser *ps, mm_section *sec, const tx_list *l, size_t ui, size_t from,
                         size_t to, size_t dropped)
{
	size_t stmts = 0;
	size_t i;

	for (i = 0; i < l->count; i++)
		stmts += l->items[i].unit == ui;
	if (stmts <= dropped) {
		drop_unit(sec, ui);
		return MODMIG_OK;
	}
	return trim_unit(ps, &sec->units[ui], from, to);
}

static modmig_status check_section(parser *ps, mm_section *sec, modmig_direction dir)
{
	modmig_status rc = MODMIG_OK;
	tx_list l = {0};
	tx_stmt *first;
	tx_stmt *last;
	bool drop_first = false;
	bool drop_last = false;
	size_t i;
	int line;
	int column;

	for (i = 0; i < sec->count; i++) {
		rc = unit_statements(&sec->units[i], i, &l);
		if (rc == MODMIG_E_NOMEM)
			rc = mm_parse_nomem(ps, sec->units[i].line);
		if (rc)
			goto cleanup;
	}
	if (l.count == 0)
		goto cleanup;
	first = &l.items[0];
	last = &l.items[l.count - 1];
	drop_first = mm_sql_tx_role_of(first->tx) == MM_SQL_TX_ROLE_OPEN;
	drop_last = last != first && last->tx == MM_SQL_TX_COMMIT && !last->chain;
	/* a section of one COMMIT: it ends nothing that modmig would not end */
	if (l.count == 1 && first->tx == MM_SQL_TX_COMMIT && !first->chain)
		drop_first = true;
	for (i = 0; i < l.count; i++) {
		const tx_stmt *st = &l.items[i];

		if (st->tx == MM_SQL_TX_NONE ||
		    mm_sql_tx_role_of(st->tx) == MM_SQL_TX_ROLE_SAVEPOINT ||
		    (i == 0 && drop_first) || (i == l.count - 1 && drop_last))
			continue;
		rc = refuse(ps, &sec->units[st->unit], st);
		goto cleanup;
	}
	/* warnings in file order, then the cuts from the back so indexes hold */
	if (drop_first) {
		locate(&sec->units[first->unit], first->start, &line, &column);
		if ((rc = add_warning(ps, dir, line, column, first->word)) != MODMIG_OK)
			goto cleanup;
	}
	if (drop_last) {
		locate(&sec->units[last->unit], last->start, &line, &column);
		if ((rc = add_warning(ps, dir, line, column, last->word)) != MODMIG_OK)
			goto cleanup;
	}
	/* the last unit first, so that dropping it leaves the first one's index */
	if (drop_last && (!drop_first || last->unit != first->unit) &&
	    (rc = cut(ps, sec, &l, last->unit, 0, last->start, 1)) != MODMIG_OK)
		goto cleanup;
	if (drop_first)
		rc = cut(ps, sec, &l, first->unit, first->end,
		         drop_last && last->unit == first->unit ? last->start
		                                                : sec->units[first->unit].len,
		         drop_last && last->unit == first->unit ? 2 : 1);
cleanup:
	free(l.items);
	return rc;
}

modmig_status mm_parse_transaction_control(parser *ps)
{
	modmig_status rc = MODMIG_OK;

	/* a NO TRANSACTION file runs its statements as written (DESIGN §3 rule 5) */
	if (ps->out->no_transaction)
		goto cleanup;
	if ((rc = check_section(ps, &ps->out->up, MODMIG_UP)) != MODMIG_OK)
		goto cleanup;
	rc = check_section(ps, &ps->out->down, MODMIG_DOWN);
cleanup:
	return rc;
}
