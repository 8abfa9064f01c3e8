/*
 * sql/sql.h - the one layer over libpg_query, PostgreSQL's own parser. Uses
 * base only. Everything above that needs to know what a text of SQL says asks
 * here: how it splits into statements and tokens (split.c), whether a word is
 * a keyword (split.c), its parse tree and a walker over it (tree.c), and the
 * facts derived from a statement: its kind, its transaction control, the
 * relations it touches and where it creates objects (facts.c).
 *
 * Parse trees are libpg_query's protobuf messages (pg_query.pb-c.h), so that a
 * walker callback or a lint rule can read a node as the PgQuery__RangeVar or
 * PgQuery__CreateStmt it is. Offsets are bytes into the text given, 0-based.
 * Nothing here keeps global state: every call may run on any thread.
 */
#ifndef MODMIG_SQL_H
#define MODMIG_SQL_H

#include "base/base.h"

#include <pg_query/pg_query.pb-c.h>

/* ---- errors ------------------------------------------------------------- */

/*
 * Why libpg_query refused a text. Functions that can refuse return
 * MODMIG_E_PARSE and fill one of these; MODMIG_E_NOMEM and MODMIG_E_INTERNAL
 * (libpg_query answered something impossible) fill it too, with located false.
 */
typedef struct mm_sql_error {
	char *message; /* libpg_query's message, owned; NULL when nothing failed */
	size_t offset; /* byte offset of the error in the text, clamped into it */
	bool located;  /* false when libpg_query gave no position */
} mm_sql_error;

void mm_sql_error_clear(mm_sql_error *e);
/*
 * For the sql layer's own files: fill *error (may be NULL) with message and
 * return code. cursorpos is libpg_query's (1-based, in characters, 0 when
 * unknown) and becomes a byte offset into text (NULL when there is none).
 */
modmig_status mm_sql_error_set(mm_sql_error *error, modmig_status code, const char *text,
                               const char *message, int cursorpos);

/* ---- splitting and scanning (split.c) ----------------------------------- */

typedef struct mm_sql_span {
	size_t offset; /* where the statement starts (may be blank or a comment) */
	size_t len;    /* up to, not including, its ';' */
} mm_sql_span;

typedef struct mm_sql_split {
	mm_sql_span *stmts;
	size_t count;
	bool by_parser; /* false when only the lexer split it (newer or broken syntax) */
} mm_sql_split;

typedef enum mm_sql_split_mode {
	/* PostgreSQL's grammar, falling back to its lexer when the grammar refuses */
	MM_SQL_SPLIT_PARSER,
	/* the lexer only: cheaper, and splits what the grammar cannot parse */
	MM_SQL_SPLIT_SCANNER,
} mm_sql_split_mode;

/*
 * Split text (NUL-terminated) into statements. The lexer may drop text it does
 * not understand, so a caller that must lose nothing checks the spans against
 * mm_sql_scan's tokens (as source/parse_split.c does).
 */
modmig_status mm_sql_split_text(const char *text, mm_sql_split_mode mode, mm_sql_split *out,
                                mm_sql_error *error);
void mm_sql_split_clear(mm_sql_split *s);

typedef enum mm_sql_keyword {
	MM_SQL_KEYWORD_NONE,
	MM_SQL_KEYWORD_UNRESERVED,     /* any identifier position: name, text */
	MM_SQL_KEYWORD_COL_NAME,       /* not a function or type name: int, values */
	MM_SQL_KEYWORD_TYPE_FUNC_NAME, /* not a column or schema name: left, authorization */
	MM_SQL_KEYWORD_RESERVED,       /* nowhere unquoted: select, user, order */
} mm_sql_keyword;

typedef enum mm_sql_token_kind {
	MM_SQL_TOKEN_OTHER,
	MM_SQL_TOKEN_COMMENT, /* -- to the end of the line, or slash-star */
	MM_SQL_TOKEN_SEMICOLON,
} mm_sql_token_kind;

typedef struct mm_sql_token {
	size_t start;
	size_t end; /* one past its last byte */
	mm_sql_token_kind kind;
	mm_sql_keyword keyword;
} mm_sql_token;

typedef struct mm_sql_tokens {
	mm_sql_token *items;
	size_t count;
} mm_sql_tokens;

/* Lex text (NUL-terminated) into tokens, comments included, in text order. */
modmig_status mm_sql_scan(const char *text, mm_sql_tokens *out, mm_sql_error *error);
void mm_sql_tokens_clear(mm_sql_tokens *t);

/*
 * What kind of keyword word is, as PostgreSQL's lexer says (case-insensitive);
 * MM_SQL_KEYWORD_NONE for an identifier or for anything that is not one word.
 */
mm_sql_keyword mm_sql_keyword_of(const char *word);
/* True when word can appear nowhere unquoted (select, user, order). */
bool mm_sql_is_reserved(const char *word);

/* ---- parse trees (tree.c) ----------------------------------------------- */

typedef struct mm_sql_tree mm_sql_tree;

/*
 * Parse text (NUL-terminated; one statement or several) with PostgreSQL's
 * grammar into *out. A syntax error is MODMIG_E_PARSE with its message and
 * position in *error. The text need not outlive the tree; the nodes and
 * strings the tree hands out live as long as it does.
 */
modmig_status mm_sql_tree_new(const char *text, mm_sql_tree **out, mm_sql_error *error);
void mm_sql_tree_free(mm_sql_tree *t);

size_t mm_sql_tree_count(const mm_sql_tree *t);
/* Statement i, as the Node wrapper whose node_case says what it is. */
const PgQuery__Node *mm_sql_tree_stmt(const mm_sql_tree *t, size_t i);
/*
 * Where statement i lies in the text: from just after the previous ';' (so
 * it may begin with blanks and comments) to before its own ';'.
 */
mm_sql_span mm_sql_tree_span(const mm_sql_tree *t, size_t i);

typedef enum mm_sql_walk_action {
	MM_SQL_WALK_CONTINUE, /* go on into the node's children */
	MM_SQL_WALK_SKIP,     /* leave out its children, go on with its siblings */
	MM_SQL_WALK_STOP,     /* end the walk */
} mm_sql_walk_action;

/*
 * One node the walker reached. Node wrappers are unwrapped: msg is the
 * PgQuery__RangeVar itself, and type its case in Node (PG_QUERY__NODE__NODE_
 * RANGE_VAR); messages that never stand in a Node (PgQuery__WithClause is
 * one that does, PgQuery__CTESearchClause one that does not) have type
 * PG_QUERY__NODE__NODE__NOT_SET and are still visited. parent is the visit of
 * the enclosing node (NULL at the root) and lives only during the callback, as
 * do the ancestors it leads to.
 */
typedef struct mm_sql_visit {
	const ProtobufCMessage *msg;
	PgQuery__Node__NodeCase type;
	const char *name;  /* the message's name: "RangeVar" */
	const char *field; /* the parent's field that holds it: "from_clause"; NULL at the root */
	const struct mm_sql_visit *parent;
	int depth; /* 0 at the root */
} mm_sql_visit;

typedef mm_sql_walk_action (*mm_sql_walk_fn)(const mm_sql_visit *v, void *arg);

/*
 * Visit root and every message below it, depth first, each parent before its
 * children and children in the order of their fields (not always text order:
 * a SELECT's WITH comes after its FROM). root may be a Node wrapper or any
 * other message. Returns false when fn stopped the walk.
 */
bool mm_sql_walk(const ProtobufCMessage *root, mm_sql_walk_fn fn, void *arg);

/* The case in Node that stands for messages like msg; NOT_SET when none does. */
PgQuery__Node__NodeCase mm_sql_node_type(const ProtobufCMessage *msg);

/* ---- statement facts (facts.c) ------------------------------------------ */

/* Statement kinds, one row each in sql/kind.def; MM_SQL_KIND_OTHER for the rest. */
typedef enum mm_sql_kind {
	MM_SQL_KIND_OTHER,
#define MM_SQL_KIND(id, name, node) MM_SQL_KIND_##id,
#include "sql/kind.def"
#undef MM_SQL_KIND
	MM_SQL_KIND_COUNT
} mm_sql_kind;

mm_sql_kind mm_sql_kind_of(const PgQuery__Node *stmt);
/* Its stable name, as in sql/kind.def: "create_table"; "other". */
const char *mm_sql_kind_name(mm_sql_kind kind);

/* Transaction control, one row each in sql/tx.def. */
typedef enum mm_sql_tx {
	MM_SQL_TX_NONE, /* not a transaction-control statement */
#define MM_SQL_TX(id, name, pg_kind, role) MM_SQL_TX_##id,
#include "sql/tx.def"
#undef MM_SQL_TX
	MM_SQL_TX_COUNT
} mm_sql_tx;

/*
 * What a transaction-control statement does to the transaction a migration
 * runs in, for DESIGN §3 rule 6: a leading OPEN and a trailing COMMIT (without
 * AND CHAIN) of a section are redundant; any other OPEN or END is an error;
 * SAVEPOINT statements are fine.
 */
typedef enum mm_sql_tx_role {
	MM_SQL_TX_ROLE_NONE,
	MM_SQL_TX_ROLE_OPEN,      /* BEGIN, START TRANSACTION */
	MM_SQL_TX_ROLE_END,       /* COMMIT, END, ROLLBACK, ABORT, the PREPARED ones */
	MM_SQL_TX_ROLE_SAVEPOINT, /* SAVEPOINT, RELEASE, ROLLBACK TO */
} mm_sql_tx_role;

/*
 * The transaction control stmt is, MM_SQL_TX_NONE if none. END reads as
 * COMMIT and ABORT as ROLLBACK (PostgreSQL's grammar makes them one).
 * *chain (may be NULL) says COMMIT/ROLLBACK AND CHAIN, which opens a new
 * transaction at once.
 */
mm_sql_tx mm_sql_tx_of(const PgQuery__Node *stmt, bool *chain);
const char *mm_sql_tx_name(mm_sql_tx tx); /* "begin", "rollback_to"; "none" */
mm_sql_tx_role mm_sql_tx_role_of(mm_sql_tx tx);

/*
 * A name a statement uses. Strings borrow from the tree the statement came
 * from. location is a byte offset in the text the tree was parsed from, -1
 * when PostgreSQL records none (the objects of a DROP).
 */
typedef struct mm_sql_name {
	const char *schema; /* NULL when unqualified: the search path decides */
	const char *name;   /* NULL for a CREATE SCHEMA's own entry */
	int location;
} mm_sql_name;

typedef struct mm_sql_names {
	mm_sql_name *items;
	size_t count;
} mm_sql_names;

void mm_sql_names_clear(mm_sql_names *n);

/*
 * The relations (tables, views, sequences, indexes) stmt names, each
 * occurrence once, in text order: FROM and JOIN items, subqueries and CTE
 * bodies, DML targets, the table of CREATE/ALTER TABLE and CREATE INDEX, the
 * tables of REFERENCES, and the objects of DROP TABLE/VIEW/INDEX/SEQUENCE. A
 * CTE's own name, where it is in scope, is not a relation.
 */
modmig_status mm_sql_relations(const PgQuery__Node *stmt, mm_sql_names *out);

/*
 * The objects stmt creates and the schema each lands in, one entry per
 * object: CREATE TABLE s.t -> (s, t); CREATE INDEX i ON s.t -> (s, i), since
 * an index lives with its table; CREATE SCHEMA s -> (s, NULL) plus an entry
 * per element it creates, in s. Tables, indexes, views, sequences, functions
 * and procedures, types, domains and triggers count; schema NULL means the
 * search path chooses.
 */
modmig_status mm_sql_created(const PgQuery__Node *stmt, mm_sql_names *out);

#endif /* MODMIG_SQL_H */
