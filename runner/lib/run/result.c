/*
 * run/result.c - what an online command did: one row per migration applied,
 * rolled back or stamped, and the highest applied version afterwards.
 */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

struct modmig_result {
	modmig_result_row *rows;
	size_t count;
	size_t cap;
	int64_t version; /* highest applied version afterwards, -1 when unknown */
};

void modmig_up_options_init(modmig_up_options *opts)
{
	if (opts)
		memset(opts, 0, sizeof(*opts));
}

void modmig_down_options_init(modmig_down_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->to = -1;
}

/* ---- results ------------------------------------------------------------ */

modmig_status mm_result_new(modmig_result **out, modmig_error **err)
{
	if (!out || *out)
		return MODMIG_OK;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	(*out)->version = -1;
	return MODMIG_OK;
}

/* The direction of the last row for version, or -1 when the result has none. */
static int last_direction(const modmig_result *r, int64_t version)
{
	size_t i;

	for (i = r->count; i-- > 0;)
		if (r->rows[i].version == version)
			return (int)r->rows[i].direction;
	return -1;
}

/*
 * The highest version applied once the command is over, from the state it
 * read plus what it did: callers such as `up` with nothing to do can report
 * it without another round trip.
 */
void mm_result_finish(modmig_result *r, const mm_session *s)
{
	int64_t best = 0;
	size_t i;

	if (!r || !s->state_read)
		return;
	for (i = s->state.applied_count; i-- > 0;) {
		int64_t v = s->state.applied[i].version;

		if (last_direction(r, v) != MODMIG_DOWN) {
			best = v;
			break;
		}
	}
	for (i = 0; i < r->count; i++)
		if (r->rows[i].version > best && last_direction(r, r->rows[i].version) == MODMIG_UP)
			best = r->rows[i].version;
	r->version = best;
}

int64_t modmig_result_version(const modmig_result *result)
{
	return result ? result->version : -1;
}

modmig_status mm_result_add(modmig_result **res, const modmig_migration *m, modmig_direction dir,
                            double duration_ms)
{
	modmig_result *r;
	modmig_result_row *row;

	if (!res || !*res)
		return MODMIG_OK;
	r = *res;
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		modmig_result_row *rows = realloc(r->rows, cap * sizeof(*rows));

		if (!rows)
			return MODMIG_E_NOMEM;
		r->rows = rows;
		r->cap = cap;
	}
	row = &r->rows[r->count++];
	memset(row, 0, sizeof(*row));
	row->version = m->version;
	row->module = m->module ? mm_strdup(m->module->name) : NULL;
	row->file = mm_strdup(m->file);
	row->direction = dir;
	row->duration_ms = duration_ms;
	return MODMIG_OK;
}

size_t modmig_result_count(const modmig_result *result)
{
	return result ? result->count : 0;
}

const modmig_result_row *modmig_result_at(const modmig_result *result, size_t index)
{
	return result && index < result->count ? &result->rows[index] : NULL;
}

void modmig_result_free(modmig_result *result)
{
	size_t i;

	if (!result)
		return;
	for (i = 0; i < result->count; i++) {
		free((char *)result->rows[i].module);
		free((char *)result->rows[i].file);
	}
	free(result->rows);
	free(result);
}
