/*
 * facts.c - what a statement is and what it names: its kind (sql/kind.def),
 * its transaction control (sql/tx.def), the relations it touches and the
 * objects it creates. Read from the protobuf tree, never from the text.
 */
#include "sql/sql.h"

#include <stdlib.h>
#include <string.h>

/* ---- kinds -------------------------------------------------------------- */

static const struct {
	PgQuery__Node__NodeCase node;
	const char *name;
} kinds[MM_SQL_KIND_COUNT] = {
        [MM_SQL_KIND_OTHER] = {PG_QUERY__NODE__NODE__NOT_SET, "other"},
#define MM_SQL_KIND(id, name, node) [MM_SQL_KIND_##id] = {PG_QUERY__NODE__NODE_##node, name},
#include "sql/kind.def"
#undef MM_SQL_KIND
};

mm_sql_kind mm_sql_kind_of(const PgQuery__Node *stmt)
{
	int k;

	if (!stmt || stmt->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return MM_SQL_KIND_OTHER;
	for (k = MM_SQL_KIND_OTHER + 1; k < MM_SQL_KIND_COUNT; k++)
		if (kinds[k].node == stmt->node_case)
			return (mm_sql_kind)k;
	return MM_SQL_KIND_OTHER;
}

const char *mm_sql_kind_name(mm_sql_kind kind)
{
	return (unsigned)kind < MM_SQL_KIND_COUNT ? kinds[kind].name : "other";
}

/* ---- transaction control ------------------------------------------------ */

static const struct {
	PgQuery__TransactionStmtKind pg;
	const char *name;
	mm_sql_tx_role role;
} txs[MM_SQL_TX_COUNT] = {
        [MM_SQL_TX_NONE] = {PG_QUERY__TRANSACTION_STMT_KIND__TRANSACTION_STMT_KIND_UNDEFINED,
                            "none", MM_SQL_TX_ROLE_NONE},
#define MM_SQL_TX(id, name, pg_kind, role)                                                         \
	[MM_SQL_TX_##id] = {PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_##pg_kind, name,           \
	                    MM_SQL_TX_ROLE_##role},
#include "sql/tx.def"
#undef MM_SQL_TX
};

mm_sql_tx mm_sql_tx_of(const PgQuery__Node *stmt, bool *chain)
{
	const PgQuery__TransactionStmt *t;
	int k;

	if (chain)
		*chain = false;
	if (!stmt || stmt->node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT)
		return MM_SQL_TX_NONE;
	t = stmt->transaction_stmt;
	if (chain)
		*chain = t->chain;
	for (k = MM_SQL_TX_NONE + 1; k < MM_SQL_TX_COUNT; k++)
		if (txs[k].pg == t->kind)
			return (mm_sql_tx)k;
	return MM_SQL_TX_NONE;
}

const char *mm_sql_tx_name(mm_sql_tx tx)
{
	return (unsigned)tx < MM_SQL_TX_COUNT ? txs[tx].name : "none";
}

mm_sql_tx_role mm_sql_tx_role_of(mm_sql_tx tx)
{
	return (unsigned)tx < MM_SQL_TX_COUNT ? txs[tx].role : MM_SQL_TX_ROLE_NONE;
}

/* ---- name lists --------------------------------------------------------- */

void mm_sql_names_clear(mm_sql_names *n)
{
	if (!n)
		return;
	free(n->items);
	memset(n, 0, sizeof(*n));
}

typedef struct collector {
	mm_sql_names *out;
	size_t cap;
	bool oom;
} collector;

/* protobuf writes an absent string as "": modmig's callers want NULL */
static const char *str_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static void add(collector *c, const char *schema, const char *name, int location)
{
	mm_sql_name *n;

	if (c->oom)
		return;
	if (c->out->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		mm_sql_name *items = realloc(c->out->items, cap * sizeof(*items));

		if (!items) {
			c->oom = true;
			return;
		}
		c->out->items = items;
		c->cap = cap;
	}
	n = &c->out->items[c->out->count++];
	n->schema = str_or_null(schema);
	n->name = str_or_null(name);
	n->location = location;
}

static void add_range_var(collector *c, const PgQuery__RangeVar *rv)
{
	if (rv)
		add(c, rv->schemaname, rv->relname, rv->location);
}

/*
 * A qualified name written as a list of String nodes ([catalog.]schema.name or
 * name), as DROP and CREATE FUNCTION/TYPE/DOMAIN keep it; no location.
 */
static void add_name_list(collector *c, size_t n, PgQuery__Node *const *items)
{
	size_t i;

	if (n == 0 || n > 3)
		return;
	for (i = 0; i < n; i++)
		if (!items[i] || items[i]->node_case != PG_QUERY__NODE__NODE_STRING)
			return;
	add(c, n > 1 ? items[n - 2]->string->sval : NULL, items[n - 1]->string->sval, -1);
}

/* ---- relations ---------------------------------------------------------- */

/* Whether a WITH of msg defines a CTE called name. */
static bool defines_cte(const ProtobufCMessage *msg, const char *name)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "with_clause");
	const PgQuery__WithClause *with;
	size_t i;

	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED ||
	    f->descriptor != &pg_query__with_clause__descriptor)
		return false;
	with = *(const PgQuery__WithClause *const *)(const void *)((const char *)msg + f->offset);
	for (i = 0; with && i < with->n_ctes; i++) {
		const PgQuery__Node *cte = with->ctes[i];

		if (cte && cte->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR &&
		    strcmp(cte->common_table_expr->ctename, name) == 0)
			return true;
	}
	return false;
}

/*
 * An unqualified name that a WITH around it defines is that CTE, not a table.
 * The target of INSERT/UPDATE/DELETE/MERGE (their field "relation") is always
 * a table, even under a WITH of the same statement.
 */
static bool is_cte_reference(const mm_sql_visit *v, const PgQuery__RangeVar *rv)
{
	const mm_sql_visit *up;

	if (*rv->schemaname || *rv->catalogname)
		return false;
	for (up = v->parent; up; up = up->parent) {
		if (up == v->parent && v->field && strcmp(v->field, "relation") == 0)
			continue;
		if (defines_cte(up->msg, rv->relname))
			return true;
	}
	return false;
}

static bool is_relation_drop(PgQuery__ObjectType type)
{
	return type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	       type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW ||
	       type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW ||
	       type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX ||
	       type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE ||
	       type == PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE;
}

static mm_sql_walk_action on_relation(const mm_sql_visit *v, void *arg)
{
	collector *c = arg;

	if (v->type == PG_QUERY__NODE__NODE_RANGE_VAR) {
		const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)v->msg;

		if (!is_cte_reference(v, rv))
			add_range_var(c, rv);
	} else if (v->type == PG_QUERY__NODE__NODE_DROP_STMT) {
		const PgQuery__DropStmt *d = (const PgQuery__DropStmt *)v->msg;
		size_t i;

		for (i = 0; is_relation_drop(d->remove_type) && i < d->n_objects; i++)
			if (d->objects[i] && d->objects[i]->node_case == PG_QUERY__NODE__NODE_LIST)
				add_name_list(c, d->objects[i]->list->n_items,
				              d->objects[i]->list->items);
	}
	return c->oom ? MM_SQL_WALK_STOP : MM_SQL_WALK_CONTINUE;
}

/* Text order; entries without a location (-1) first, each group in walk order. */
static void sort_by_location(mm_sql_names *n)
{
	size_t i;
	size_t j;

	for (i = 1; i < n->count; i++) {
		mm_sql_name x = n->items[i];

		for (j = i; j > 0 && n->items[j - 1].location > x.location; j--)
			n->items[j] = n->items[j - 1];
		n->items[j] = x;
	}
}

modmig_status mm_sql_relations(const PgQuery__Node *stmt, mm_sql_names *out)
{
	modmig_status rc = MODMIG_OK;
	collector c = {out, 0, false};

	memset(out, 0, sizeof(*out));
	if (stmt)
		mm_sql_walk(&stmt->base, on_relation, &c);
	if (c.oom) {
		rc = MODMIG_E_NOMEM;
		goto cleanup;
	}
	sort_by_location(out);
cleanup:
	if (rc)
		mm_sql_names_clear(out);
	return rc;
}

/* ---- objects created ---------------------------------------------------- */

/* Give schema to the entries from `from` on that have none (CREATE SCHEMA's elements). */
static void default_schema(collector *c, size_t from, const char *schema)
{
	size_t i;

	for (i = from; i < c->out->count; i++)
		if (!c->out->items[i].schema)
			c->out->items[i].schema = str_or_null(schema);
}

static void add_created(collector *c, const PgQuery__Node *stmt)
{
	size_t i;
	size_t from;

	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		add_range_var(c, stmt->create_stmt->relation);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (stmt->create_table_as_stmt->into)
			add_range_var(c, stmt->create_table_as_stmt->into->rel);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		add_range_var(c, stmt->view_stmt->view);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		add_range_var(c, stmt->create_seq_stmt->sequence);
		break;
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		add_range_var(c, stmt->composite_type_stmt->typevar);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		/* an index, and a trigger below, live in their table's schema */
		if (stmt->index_stmt->relation)
			add(c, stmt->index_stmt->relation->schemaname, stmt->index_stmt->idxname,
			    stmt->index_stmt->relation->location);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		if (stmt->create_trig_stmt->relation)
			add(c, stmt->create_trig_stmt->relation->schemaname,
			    stmt->create_trig_stmt->trigname,
			    stmt->create_trig_stmt->relation->location);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		add_name_list(c, stmt->create_function_stmt->n_funcname,
		              stmt->create_function_stmt->funcname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		add_name_list(c, stmt->create_enum_stmt->n_type_name,
		              stmt->create_enum_stmt->type_name);
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		add_name_list(c, stmt->create_domain_stmt->n_domainname,
		              stmt->create_domain_stmt->domainname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT: {
		const PgQuery__CreateSchemaStmt *s = stmt->create_schema_stmt;
		/* CREATE SCHEMA AUTHORIZATION r names the schema after the role */
		const char *schema = *s->schemaname ? s->schemaname
		                     : s->authrole  ? s->authrole->rolename
		                                    : NULL;

		add(c, schema, NULL, -1);
		from = c->out->count;
		for (i = 0; i < s->n_schema_elts; i++)
			if (s->schema_elts[i])
				add_created(c, s->schema_elts[i]);
		default_schema(c, from, schema);
		break;
	}
	default:
		break;
	}
}

modmig_status mm_sql_created(const PgQuery__Node *stmt, mm_sql_names *out)
{
	modmig_status rc = MODMIG_OK;
	collector c = {out, 0, false};

	memset(out, 0, sizeof(*out));
	if (stmt)
		add_created(&c, stmt);
	if (c.oom) {
		rc = MODMIG_E_NOMEM;
		mm_sql_names_clear(out);
	}
	return rc;
}
