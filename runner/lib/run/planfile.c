/*
 * planfile.c - reviewed plans: `modmig plan -o FILE` writes the exact list of
 * migrations `up` would apply, with their SHA-256 and a fingerprint of the
 * database state; `up --plan FILE` applies exactly that list or refuses with
 * MODMIG_E_PLAN_MISMATCH. The format is described in planfile.h.
 */
#include "run/planfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLAN_MAGIC "modmig-plan 1"

/* ---- the state fingerprint ---------------------------------------------- */

bool mm_state_fingerprint(const mm_names *n, const mm_state *st, char out[65])
{
	mm_buf b;
	size_t i;

	mm_buf_init(&b);
	mm_buf_printf(&b, "version_table %s\n", n->written ? n->written : "");
	for (i = 0; i < st->applied_count; i++)
		mm_buf_printf(&b, "applied %lld %lld %s\n", (long long)st->applied[i].version,
		              (long long)st->applied[i].id, st->applied[i].applied_at);
	for (i = 0; i < st->event_count; i++) {
		const mm_event_row *e = &st->events[i];

		mm_buf_printf(&b, "event %lld %s %s %d\n", (long long)e->version,
		              e->event ? e->event : "-", e->sha256 ? e->sha256 : "-",
		              e->failed_unit);
	}
	for (i = 0; i < st->module_count; i++)
		mm_buf_printf(&b, "module %d %s\n", st->modules[i].position,
		              st->modules[i].name ? st->modules[i].name : "-");
	if (b.oom) {
		mm_buf_free(&b);
		return false;
	}
	mm_sha256_hex(b.data ? b.data : "", b.len, out);
	mm_buf_free(&b);
	return true;
}

/* ---- writing ------------------------------------------------------------ */

static void write_header(FILE *f, const modmig_db *db, const modmig_source *src, const mm_names *n,
                         const char *state, const modmig_up_options *opts)
{
	char when[32] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(f, "%s\n", PLAN_MAGIC);
	/* the file is read by people running the command line, so it speaks its terms */
	fprintf(f, "# A reviewed plan: the exact migrations 'modmig up --plan FILE' applies,\n"
	           "# in this order. It refuses (exit 3) and changes nothing if any file or\n"
	           "# the database differs from what is written here.\n");
	fprintf(f, "# written %s from %s for %s\n", when, modmig_source_origin(src),
	        modmig_db_display(db));
	fprintf(f, "version_table %s\n", n->written);
	fprintf(f, "state %s\n", state);
	if (opts->to > 0)
		fprintf(f, "option to %lld\n", (long long)opts->to);
	if (opts->module)
		fprintf(f, "option module %s\n", opts->module);
	if (opts->by_one)
		fprintf(f, "option by-one\n");
	if (opts->strict)
		fprintf(f, "option strict\n");
	if (opts->resume == MODMIG_RESUME_CONTINUE)
		fprintf(f, "option resume\n");
	if (opts->resume == MODMIG_RESUME_RESTART)
		fprintf(f, "option restart\n");
}

static void write_steps(FILE *f, const mm_plan *plan)
{
	size_t i;

	fprintf(f, "# %zu migration%s to apply:\n", plan->count, plan->count == 1 ? "" : "s");
	for (i = 0; i < plan->count; i++) {
		const mm_step *st = &plan->steps[i];
		const modmig_migration *m = st->migration;

		fprintf(f, "# %s: %zu unit%s, %s%s%s\n", m->name, m->parsed.up.count,
		        m->parsed.up.count == 1 ? "" : "s",
		        m->parsed.no_transaction ? "NO TRANSACTION" : "one transaction",
		        st->out_of_order ? ", out of order" : "",
		        st->failed ? ", failed before" : "");
		fprintf(f, "apply %lld %s %s %s\n", (long long)m->version,
		        m->module ? m->module->name : "-", m->sha256, m->file);
	}
	fprintf(f, "end %zu\n", plan->count);
}

static modmig_status write_file(const char *path, const modmig_db *db, const modmig_source *src,
                                const mm_names *n, const char *state, const modmig_up_options *opts,
                                const mm_plan *plan, modmig_error **err)
{
	FILE *f = fopen(path, "w");
	bool failed;

	if (!f && (errno == ENOENT || errno == ENOTDIR || errno == EISDIR || errno == EACCES ||
	           errno == EROFS)) {
		/* a path that cannot be a file is bad input (exit 2), not a failure */
		mm_fail(err, MODMIG_E_USAGE, path, 0, 0, "cannot write the plan to %s: %s", path,
		        strerror(errno));
		mm_hint(err, "give a path in an existing directory you can write to");
		return MODMIG_E_USAGE;
	}
	if (!f)
		return mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot write the plan to %s: %s",
		               path, strerror(errno));
	write_header(f, db, src, n, state, opts);
	write_steps(f, plan);
	failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed)
		return mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot write the plan to %s: %s",
		               path, strerror(errno));
	return MODMIG_OK;
}

modmig_status modmig_plan_write(modmig_db *db, modmig_source *src, const modmig_up_options *opts,
                                const char *path, modmig_result **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_up_options defaults;
	const modmig_module *module = NULL;
	mm_session s;
	mm_plan plan;
	char state[65];
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	if (out)
		*out = NULL;
	if (!opts) {
		modmig_up_options_init(&defaults);
		opts = &defaults;
	}
	if (!path || !*path || opts->plan_file) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             !path || !*path ? "no plan file given"
		                             : "a plan cannot be written from another plan");
		mm_hint(err, "give the path to write the plan to, and only the options that "
		             "choose what up runs (to, by-one, module, strict, resume)");
		goto cleanup;
	}
	if ((rc = modmig_up_options_check(opts, err)) != MODMIG_OK)
		goto cleanup;
	if ((rc = mm_result_new(out, err)) != MODMIG_OK ||
	    (rc = mm_source_module_arg(src, opts->module, &module, err)) != MODMIG_OK ||
	    (rc = mm_session_open(&s, db, src, err)) != MODMIG_OK ||
	    (rc = mm_plan_prefetch(src, &s.state, opts, NULL, module, err)) != MODMIG_OK ||
	    (rc = mm_session_lock(&s, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_plan_up(src->migrations, src->migration_count, &s.state, opts, module, &plan, err);
	if (rc != MODMIG_OK || (rc = mm_plan_parse_all(src, &plan, err)) != MODMIG_OK ||
	    (rc = mm_plan_check_failed(&plan, opts, err)) != MODMIG_OK)
		goto cleanup;
	if (!mm_state_fingerprint(&s.names, &s.state, state)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = write_file(path, db, src, &s.names, state, opts, &plan, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < plan.count && out; i++) {
		rc = mm_result_add(out, plan.steps[i].migration, MODMIG_UP, 0);
		if (rc != MODMIG_OK) {
			mm_fail(err, rc, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
	}
	mm_emit(db, MODMIG_EVENT_MESSAGE, MODMIG_LOG_INFO, NULL, MODMIG_UP, 0, NULL,
	        "wrote a plan of %zu migration%s to %s", plan.count, plan.count == 1 ? "" : "s",
	        path);
cleanup:
	mm_plan_clear(&plan);
	mm_session_close(&s);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

enum { MAX_FIELDS = 5 };

/* Split line at blanks into at most max fields; the last takes the rest of the line. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		fields[n++] = p;
		if (n == max)
			break;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (n == max) {
		size_t len = strlen(fields[n - 1]);

		while (len > 0 && (fields[n - 1][len - 1] == ' ' || fields[n - 1][len - 1] == '\t'))
			fields[n - 1][--len] = '\0';
	}
	return n;
}

static bool parse_int64(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (!text || !isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end || v < 0)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool is_sha256(const char *text)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isdigit((unsigned char)text[i]) && !(text[i] >= 'a' && text[i] <= 'f'))
			return false;
	return text[64] == '\0';
}

typedef struct reader {
	mm_planfile *pf;
	const char *path;
	int line;
	bool have_magic, have_table, have_state, have_end;
	int64_t end_count;
	size_t cap;
} reader;

static modmig_status bad_line(const reader *r, modmig_error **err, const char *what)
{
	mm_fail(err, MODMIG_E_PARSE, r->path, r->line, 0, "malformed plan: %s", what);
	mm_next(err, MODMIG_NEXT_WRITE_PLAN, 0,
	        "write the plan again with plan_write instead of editing it");
	return MODMIG_E_PARSE;
}

static modmig_status read_apply(reader *r, char **f, size_t n, modmig_error **err)
{
	mm_planfile *pf = r->pf;
	mm_planfile_step *st;

	if (n != 5)
		return bad_line(r, err, "want 'apply VERSION MODULE SHA256 FILE'");
	if (pf->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		mm_planfile_step *steps = realloc(pf->steps, cap * sizeof(*steps));

		if (!steps)
			return mm_fail(err, MODMIG_E_NOMEM, r->path, r->line, 0, "out of memory");
		pf->steps = steps;
		r->cap = cap;
	}
	st = &pf->steps[pf->count];
	memset(st, 0, sizeof(*st));
	st->line = r->line;
	if (!parse_int64(f[1], &st->version) || st->version == 0)
		return bad_line(r, err, "the version after 'apply' is not a number");
	if (!is_sha256(f[3]))
		return bad_line(r, err, "the checksum is not 64 lowercase hex digits");
	memcpy(st->sha256, f[3], 65);
	st->module = strcmp(f[2], "-") == 0 ? NULL : mm_strdup(f[2]);
	st->file = mm_strdup(f[4]);
	pf->count++;
	if ((strcmp(f[2], "-") != 0 && !st->module) || !st->file)
		return mm_fail(err, MODMIG_E_NOMEM, r->path, r->line, 0, "out of memory");
	return MODMIG_OK;
}

static modmig_status read_option(reader *r, char **f, size_t n, modmig_error **err)
{
	mm_planfile *pf = r->pf;

	if (n == 3 && strcmp(f[1], "to") == 0 && parse_int64(f[2], &pf->to) && pf->to > 0)
		return MODMIG_OK;
	if (n == 3 && strcmp(f[1], "module") == 0 && !pf->module) {
		pf->module = mm_strdup(f[2]);
		return pf->module
		               ? MODMIG_OK
		               : mm_fail(err, MODMIG_E_NOMEM, r->path, r->line, 0, "out of memory");
	}
	if (n == 2 && strcmp(f[1], "by-one") == 0)
		pf->by_one = true;
	else if (n == 2 && strcmp(f[1], "strict") == 0)
		pf->strict = true;
	else if (n == 2 && strcmp(f[1], "resume") == 0 && pf->mode == MODMIG_RESUME_NONE)
		pf->mode = MODMIG_RESUME_CONTINUE;
	else if (n == 2 && strcmp(f[1], "restart") == 0 && pf->mode == MODMIG_RESUME_NONE)
		pf->mode = MODMIG_RESUME_RESTART;
	else
		return bad_line(r, err,
		                "unknown or repeated option (want to V, module M, by-one, "
		                "strict, resume or restart)");
	return MODMIG_OK;
}

static modmig_status read_line(reader *r, char *line, modmig_error **err)
{
	mm_planfile *pf = r->pf;
	char *f[MAX_FIELDS];
	size_t n;

	if (line[0] == '#')
		return MODMIG_OK;
	n = split_fields(line, f, MAX_FIELDS);
	if (n == 0)
		return MODMIG_OK;
	if (r->have_end)
		return bad_line(r, err, "text after the 'end' line");
	if (!r->have_magic) {
		if (n == 2 && strcmp(f[0], "modmig-plan") == 0 && strcmp(f[1], "1") == 0) {
			r->have_magic = true;
			return MODMIG_OK;
		}
		return bad_line(r, err,
		                "not a modmig plan: the first line must be '" PLAN_MAGIC "'");
	}
	if (strcmp(f[0], "version_table") == 0 && n == 2 && !r->have_table) {
		r->have_table = true;
		pf->version_table = mm_strdup(f[1]);
		return pf->version_table
		               ? MODMIG_OK
		               : mm_fail(err, MODMIG_E_NOMEM, r->path, r->line, 0, "out of memory");
	}
	if (strcmp(f[0], "state") == 0 && n == 2 && !r->have_state) {
		if (!is_sha256(f[1]))
			return bad_line(r, err,
			                "the state fingerprint is not 64 lowercase hex digits");
		memcpy(pf->state, f[1], 65);
		r->have_state = true;
		return MODMIG_OK;
	}
	if (strcmp(f[0], "option") == 0 && n >= 2 && pf->count == 0)
		return read_option(r, f, n, err);
	if (strcmp(f[0], "apply") == 0 && r->have_table && r->have_state)
		return read_apply(r, f, n, err);
	if (strcmp(f[0], "end") == 0 && n == 2 && r->have_table && r->have_state) {
		if (!parse_int64(f[1], &r->end_count) || (size_t)r->end_count != pf->count)
			return bad_line(r, err, "the 'end' count does not match the apply lines");
		r->have_end = true;
		return MODMIG_OK;
	}
	return bad_line(r, err,
	                "unexpected line (want version_table, state, option, apply or "
	                "end, in that order)");
}

modmig_status mm_planfile_read(const char *path, mm_planfile *out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *text = NULL, *line, *next;
	size_t len = 0;
	reader r;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.pf = out;
	r.path = path;
	out->path = mm_strdup(path);
	if (!out->path) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_read_file(path, &text, &len, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	if (strlen(text) != len) {
		r.line = 1;
		rc = bad_line(&r, err, "the file holds a NUL byte");
		goto cleanup;
	}
	for (line = text; rc == MODMIG_OK && line && *line; line = next) {
		size_t l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[l - 1] = '\0';
		r.line++;
		rc = read_line(&r, line, err);
	}
	if (rc == MODMIG_OK && !r.have_end) {
		r.line = r.line ? r.line : 1;
		rc = bad_line(&r, err,
		              !r.have_magic
		                      ? "not a modmig plan: the first line must be '" PLAN_MAGIC "'"
		              : !r.have_table ? "no version_table line"
		              : !r.have_state ? "no state line"
		                              : "no 'end' line: the plan is truncated");
	}
cleanup:
	free(text);
	if (rc != MODMIG_OK)
		mm_planfile_clear(out);
	return rc;
}

void mm_planfile_clear(mm_planfile *pf)
{
	size_t i;

	for (i = 0; i < pf->count; i++) {
		free(pf->steps[i].module);
		free(pf->steps[i].file);
	}
	free(pf->steps);
	free(pf->path);
	free(pf->version_table);
	free(pf->module);
	memset(pf, 0, sizeof(*pf));
}

void mm_planfile_up_options(const mm_planfile *pf, modmig_up_options *opts)
{
	opts->to = pf->to;
	opts->module = pf->module;
	opts->by_one = pf->by_one;
	opts->strict = pf->strict;
	opts->resume = pf->mode;
}

/* ---- comparing ---------------------------------------------------------- */

/* Collects what differs: the first difference is the message, all go to detail. */
typedef struct diffs {
	mm_buf all;
	char *first;
	size_t count;
} diffs;

static void differ(diffs *d, const char *fmt, ...) MM_PRINTF(2, 3);
static void differ(diffs *d, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!d->first)
		d->first = mm_strdup(text);
	mm_buf_printf(&d->all, "%s%s", d->count ? "\n" : "", text);
	d->count++;
}

static const mm_step *find_step(const mm_plan *plan, int64_t version, size_t *at)
{
	size_t i;

	for (i = 0; i < plan->count; i++)
		if (plan->steps[i].version == version) {
			*at = i;
			return &plan->steps[i];
		}
	return NULL;
}

static const mm_planfile_step *find_planned(const mm_planfile *pf, int64_t version)
{
	size_t i;

	for (i = 0; i < pf->count; i++)
		if (pf->steps[i].version == version)
			return &pf->steps[i];
	return NULL;
}

static void compare_steps(const mm_planfile *pf, const mm_session *s, const mm_plan *plan, diffs *d)
{
	const modmig_source *src = s->src;
	size_t i, at = 0;

	for (i = 0; i < pf->count; i++) {
		const mm_planfile_step *p = &pf->steps[i];
		const modmig_migration *m = modmig_source_find(src, p->version);
		const mm_step *now = find_step(plan, p->version, &at);

		if (!m)
			differ(d, "planned migration %lld (%s) has no file now",
			       (long long)p->version, p->file);
		else if (strcmp(m->sha256, p->sha256) != 0)
			differ(d, "planned migration %lld (%s) changed since the plan was written",
			       (long long)p->version, m->file);
		else if (strcmp(m->file, p->file) != 0)
			differ(d, "planned migration %lld is now the file %s, not %s",
			       (long long)p->version, m->file, p->file);
		if (m && mm_state_find_applied(&s->state, p->version))
			differ(d,
			       "planned migration %lld (%s) was applied since the plan was written",
			       (long long)p->version, m->file);
		else if (m && !now)
			differ(d, "planned migration %lld (%s) would not be applied now",
			       (long long)p->version, m->file);
		else if (now && at != i)
			differ(d, "planned migration %lld (%s) would run at position %zu, not %zu",
			       (long long)p->version, m ? m->file : p->file, at + 1, i + 1);
	}
	for (i = 0; i < plan->count; i++) {
		const modmig_migration *m = plan->steps[i].migration;

		if (!find_planned(pf, plan->steps[i].version))
			differ(d, "migration %lld (%s) is pending but not in the plan",
			       (long long)m->version, m->file);
	}
}

/* Every planned migration is applied now, from the file the plan names. */
static bool plan_done(const mm_planfile *pf, const mm_session *s)
{
	size_t i;

	for (i = 0; i < pf->count; i++) {
		const mm_event_row *e = mm_state_find_event(&s->state, pf->steps[i].version);

		if (!mm_state_find_applied(&s->state, pf->steps[i].version) || !e ||
		    e->kind != MODMIG_HISTORY_APPLIED || !e->sha256 ||
		    strcmp(e->sha256, pf->steps[i].sha256) != 0)
			return false;
	}
	return pf->count > 0;
}

modmig_status mm_planfile_check(const mm_planfile *pf, modmig_source *src, const mm_session *s,
                                const mm_plan *plan, bool *done, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const char *table = s->names.written ? s->names.written : "";
	char state[65];
	diffs d;

	*done = false;
	memset(&d, 0, sizeof(d));
	if ((rc = mm_source_load(src, err)) != MODMIG_OK)
		return rc;
	mm_buf_init(&d.all);
	if (!mm_state_fingerprint(&s->names, &s->state, state)) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if (strcmp(pf->version_table, table) != 0) {
		differ(&d, "the plan is for version table %s, not %s", pf->version_table, table);
	} else if (strcmp(state, pf->state) != 0 && plan_done(pf, s)) {
		*done = true;
		goto cleanup;
	} else {
		compare_steps(pf, s, plan, &d);
		if (strcmp(state, pf->state) != 0)
			differ(&d,
			       "the database changed since the plan was written (state %.12s in "
			       "the plan, %.12s now)",
			       pf->state, state);
	}
	if (d.count == 0)
		goto cleanup;
	if (d.all.oom || !d.first) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_fail(err, MODMIG_E_PLAN_MISMATCH, pf->path, 0, 0,
	             "the plan does not match: %s%s; nothing was changed", d.first,
	             d.count > 1 ? " (and more, see detail)" : "");
	mm_next(err, MODMIG_NEXT_WRITE_PLAN, 0,
	        "write a new plan with plan_write, review it and apply that one");
	if (err && *err && d.count > 1)
		mm_error_set_field(&(*err)->detail, d.all.data);
cleanup:
	free(d.first);
	mm_buf_free(&d.all);
	return rc;
}
