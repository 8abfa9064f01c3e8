/*
 * tree.c - parse trees as libpg_query's protobuf messages, and one generic
 * walker over them. The walker reads protobuf-c's message descriptors, so it
 * reaches every message and repeated message field of every node type
 * without a switch over ~250 node types that would fall behind PostgreSQL's
 * grammar.
 */
#include "sql/sql.h"

#include <pg_query.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*
 * The unpacked tree lives in an arena: protobuf-c allocates every node of it
 * on its own, and freeing node by node (free_unpacked walks the whole tree)
 * cost as much as unpacking. Here nodes are carved from a few large blocks,
 * frees are no-ops, and the tree goes with its blocks at once. Lint parses
 * every statement of every file, so this is most of what it costs beyond
 * validate.
 */
typedef struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t size;
	max_align_t data[]; /* size bytes */
} arena_block;

typedef struct arena {
	arena_block *blocks;
	bool oom;
} arena;

#define ARENA_BLOCK (32 * 1024)

static void *arena_alloc(void *data, size_t size)
{
	arena *a = data;
	arena_block *b = a->blocks;
	size_t align = sizeof(max_align_t);
	void *p;

	size = (size + align - 1) / align * align;
	if (!b || b->size - b->used < size) {
		size_t want = size > ARENA_BLOCK ? size : ARENA_BLOCK;

		b = malloc(sizeof(*b) + want);
		if (!b) {
			a->oom = true;
			return NULL;
		}
		b->size = want;
		b->used = 0;
		b->next = a->blocks;
		a->blocks = b;
	}
	p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

static void arena_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* the whole arena goes at once */
}

static void arena_clear(arena *a)
{
	while (a->blocks) {
		arena_block *next = a->blocks->next;

		free(a->blocks);
		a->blocks = next;
	}
}

struct mm_sql_tree {
	PgQuery__ParseResult *result;
	size_t len; /* of the text parsed */
	arena arena;
};

modmig_status mm_sql_tree_new(const char *text, mm_sql_tree **out, mm_sql_error *error)
{
	modmig_status rc = MODMIG_OK;
	PgQueryProtobufParseResult parsed = pg_query_parse_protobuf(text);
	mm_sql_tree *t = NULL;
	size_t i;

	*out = NULL;
	if (parsed.error) {
		rc = mm_sql_error_set(error, MODMIG_E_PARSE, text, parsed.error->message,
		                      parsed.error->cursorpos);
		goto cleanup;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = mm_sql_error_set(error, MODMIG_E_NOMEM, NULL, "out of memory parsing sql", 0);
		goto cleanup;
	}
	t->len = strlen(text);
	{
		ProtobufCAllocator allocator = {arena_alloc, arena_free, &t->arena};

		t->result = pg_query__parse_result__unpack(&allocator, parsed.parse_tree.len,
		                                           (const uint8_t *)parsed.parse_tree.data);
	}
	if (!t->result) {
		rc = mm_sql_error_set(error, MODMIG_E_NOMEM, NULL, "out of memory parsing sql", 0);
		goto cleanup;
	}
	/* what the rest of the layer relies on, checked once */
	for (i = 0; i < t->result->n_stmts; i++) {
		const PgQuery__RawStmt *raw = t->result->stmts[i];

		if (!raw || !raw->stmt || raw->stmt_location < 0 || raw->stmt_len < 0 ||
		    (size_t)raw->stmt_location + (size_t)raw->stmt_len > t->len) {
			rc = mm_sql_error_set(error, MODMIG_E_INTERNAL, NULL,
			                      "libpg_query returned a statement outside the text",
			                      0);
			goto cleanup;
		}
	}
	*out = t;
	t = NULL;
cleanup:
	mm_sql_tree_free(t);
	pg_query_free_protobuf_parse_result(parsed);
	return rc;
}

void mm_sql_tree_free(mm_sql_tree *t)
{
	if (!t)
		return;
	arena_clear(&t->arena);
	free(t);
}

size_t mm_sql_tree_count(const mm_sql_tree *t)
{
	return t->result->n_stmts;
}

const PgQuery__Node *mm_sql_tree_stmt(const mm_sql_tree *t, size_t i)
{
	return i < t->result->n_stmts ? t->result->stmts[i]->stmt : NULL;
}

/* PostgreSQL's stmt_len is 0 for "to the end of the text". */
mm_sql_span mm_sql_tree_span(const mm_sql_tree *t, size_t i)
{
	mm_sql_span span = {0, 0};
	const PgQuery__RawStmt *raw;

	if (i >= t->result->n_stmts)
		return span;
	raw = t->result->stmts[i];
	span.offset = (size_t)raw->stmt_location;
	span.len = raw->stmt_len ? (size_t)raw->stmt_len : t->len - span.offset;
	return span;
}

/* ---- the walker --------------------------------------------------------- */

PgQuery__Node__NodeCase mm_sql_node_type(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *node = &pg_query__node__descriptor;
	unsigned i;

	if (!msg)
		return PG_QUERY__NODE__NODE__NOT_SET;
	if (msg->descriptor == node)
		return ((const PgQuery__Node *)msg)->node_case;
	/* each of Node's oneof fields holds one message type; its number is the case */
	for (i = 0; i < node->n_fields; i++)
		if (node->fields[i].descriptor == msg->descriptor)
			return (PgQuery__Node__NodeCase)node->fields[i].id;
	return PG_QUERY__NODE__NODE__NOT_SET;
}

/* The message a Node wrapper holds, NULL when it holds none. */
static const ProtobufCMessage *unwrap(const ProtobufCMessage *msg, PgQuery__Node__NodeCase *type)
{
	const PgQuery__Node *n = (const PgQuery__Node *)msg;
	const ProtobufCFieldDescriptor *f;

	*type = n->node_case;
	if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return NULL;
	f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
	                                            (unsigned)n->node_case);
	if (!f)
		return NULL;
	return *(const ProtobufCMessage *const *)(const void *)((const char *)msg + f->offset);
}

typedef struct walker {
	mm_sql_walk_fn fn;
	void *arg;
	bool stopped;
} walker;

static void visit(walker *w, const ProtobufCMessage *msg, const char *field,
                  const mm_sql_visit *parent);

/* Every message reachable from v's fields, in field order. */
static void children(walker *w, const mm_sql_visit *v)
{
	const ProtobufCMessageDescriptor *d = v->msg->descriptor;
	const char *base = (const char *)v->msg;
	unsigned i;
	size_t j;

	for (i = 0; i < d->n_fields && !w->stopped; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *slot = base + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* a oneof's members share storage: only the chosen one may be read */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
			const ProtobufCMessage *const *items =
			        *(const ProtobufCMessage *const *const *)slot;

			for (j = 0; j < n && !w->stopped; j++)
				visit(w, items[j], f->name, v);
		} else {
			visit(w, *(const ProtobufCMessage *const *)slot, f->name, v);
		}
	}
}

static void visit(walker *w, const ProtobufCMessage *msg, const char *field,
                  const mm_sql_visit *parent)
{
	mm_sql_visit v;
	mm_sql_walk_action action;

	if (!msg)
		return;
	memset(&v, 0, sizeof(v));
	if (msg->descriptor == &pg_query__node__descriptor) {
		msg = unwrap(msg, &v.type);
		if (!msg)
			return;
	} else {
		v.type = mm_sql_node_type(msg);
	}
	v.msg = msg;
	v.name = msg->descriptor->short_name;
	v.field = field;
	v.parent = parent;
	v.depth = parent ? parent->depth + 1 : 0;
	action = w->fn(&v, w->arg);
	if (action == MM_SQL_WALK_STOP)
		w->stopped = true;
	else if (action == MM_SQL_WALK_CONTINUE)
		children(w, &v);
}

bool mm_sql_walk(const ProtobufCMessage *root, mm_sql_walk_fn fn, void *arg)
{
	walker w = {fn, arg, false};

	visit(&w, root, NULL, NULL);
	return !w.stopped;
}
