/*
 * source/parse.h - what the two halves of the migration parser share:
 * parse.c reads the file line by line (annotations, header settings, blocks,
 * ENVSUB) and gathers SQL into a chunk; parse_split.c turns a chunk into
 * units with the sql layer. Private to those two files.
 */
#ifndef MODMIG_SOURCE_PARSE_H
#define MODMIG_SOURCE_PARSE_H

#include "source/source.h"

enum stage { STAGE_HEADER, STAGE_UP, STAGE_DOWN };

/*
 * Text gathered for one split. The sql layer reports byte offsets into this
 * text, so each of its lines remembers where it came from in the file.
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
	bool block_has_sql; /* a line that is neither blank nor a -- comment */
	/*
	 * goose's parser keeps nothing of a block whose lines are all empty or
	 * -- comments, and then drops the first line after it that is neither
	 * (DESIGN §3 rule 3). goose_empty tracks the open block; after_empty is
	 * the line of such a block once closed, until an annotation or a line
	 * goose would drop ends the danger.
	 */
	bool block_goose_empty;
	int after_empty;
	size_t block_lines;
	mm_buf block;
	chunk sql;
	size_t up_cap;
	size_t down_cap;
} parser;

/* ---- parse_split.c ------------------------------------------------------ */

modmig_status mm_parse_nomem(parser *ps, int line);
/* Start a chunk line that came from line of the file; false on OOM. */
bool mm_chunk_begin_line(chunk *c, int line);
void mm_chunk_free(chunk *c);
/* Append a unit to the current section (Down after -- +goose Down, else Up). */
modmig_status mm_parse_add_unit(parser *ps, const char *sql, size_t len, int line, int column);
/* Lines before Up may hold comments only; empties the chunk. */
modmig_status mm_parse_check_header(parser *ps);
/* Split the chunk into units; `where` ends the unterminated-statement message. */
modmig_status mm_parse_flush(parser *ps, const char *where);

/* ---- parse_tx.c --------------------------------------------------------- */

/*
 * DESIGN §3 rule 6 over the finished sections of a transactional file: drop
 * a leading BEGIN and a trailing COMMIT with a warning, refuse any other
 * transaction control but savepoints.
 */
modmig_status mm_parse_transaction_control(parser *ps);

#endif /* MODMIG_SOURCE_PARSE_H */
