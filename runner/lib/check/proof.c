/*
 * proof.c - `modmig test`: prove migrations on a shadow database before they
 * ship. One shadow serves every check: it is emptied between builds
 * (mm_shadow_wipe), and the checks compare snapshots taken between steps
 * rather than building a database per question, because a build is the
 * expensive part. The checks run in the order of MODMIG_TEST_CHECKS:
 *
 *   empty          every migration in version order, then verify; drift is
 *                  the same schema rebuilt in the order the history records
 *   round_trip     one pass in version order: before, Up, Down, Up again,
 *                  with a snapshot after each step
 *   allow_missing  proof_order.c
 *   ownership      the snapshots before and after each Up of the round trip
 *                  pass, so it costs no build of its own
 *   upgrade        the older migrations, then `up` to these
 *
 * A migration that fails to apply is a finding (a failed case naming it);
 * an interrupt, a lost connection or out of memory ends the run.
 */
#include "check/proof.h"

#include <stdlib.h>
#include <string.h>

modmig_status mm_proof_build(mm_proof_ctx *t, const int64_t *versions, size_t count,
                             modmig_error **err)
{
	modmig_status rc = mm_shadow_wipe(t->sh, err);

	if (rc == MODMIG_OK)
		rc = mm_run_replay(t->sh->db, t->src, versions, count, &t->sh->interrupted, err);
	return rc;
}

modmig_status mm_proof_snapshot(mm_proof_ctx *t, modmig_schema **out, modmig_error **err)
{
	modmig_status rc = mm_shadow_check(t->sh, err);

	*out = NULL;
	return rc == MODMIG_OK ? modmig_schema_read(t->sh->db, &t->scope, out, err) : rc;
}

bool mm_proof_is_finding(const mm_proof_ctx *t, const modmig_error *e)
{
	modmig_status code = modmig_error_code(e);

	return !t->sh->interrupted && modmig_error_version(e) != 0 &&
	       (code == MODMIG_E_SQL || code == MODMIG_E_INCOMPLETE);
}

/* Compare two snapshots; *n receives the number of differences. */
static modmig_status compare(const modmig_schema *a, const modmig_schema *b,
                             modmig_schema_diff **out, size_t *n, modmig_error **err)
{
	modmig_status rc = modmig_schema_diff_new(a, b, out, err);

	*n = rc == MODMIG_OK ? modmig_schema_diff_count(*out) : 0;
	return rc;
}

/* Hand a fatal error to the caller (the first error wins). */
static modmig_status fatal(modmig_status rc, modmig_error **e, modmig_error **err)
{
	if (err && !*err)
		*err = *e;
	else
		modmig_error_free(*e);
	*e = NULL;
	return rc;
}

/* ---- 1. empty database --------------------------------------------------- */

/* The applied versions in the order the history recorded them. */
static modmig_status history_order(mm_proof_ctx *t, int64_t **out, size_t *count,
                                   modmig_error **err)
{
	modmig_history *h = NULL;
	modmig_status rc = modmig_db_history(t->sh->db, t->src, NULL, &h, err);
	size_t n = 0;

	*out = NULL;
	*count = 0;
	if (rc != MODMIG_OK)
		return rc;
	if (!(*out = malloc((modmig_history_count(h) + 1) * sizeof(**out)))) {
		modmig_history_free(h);
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	}
	for (size_t i = 0; i < modmig_history_count(h); i++)
		if (modmig_history_event_flags(modmig_history_at(h, i)->kind) &
		    MODMIG_HISTORY_F_APPLIES)
			(*out)[n++] = modmig_history_at(h, i)->version;
	*count = n;
	modmig_history_free(h);
	return MODMIG_OK;
}

/* A failed case for the migration an apply error names. */
static void apply_failed(mm_proof_ctx *t, mm_proof_case *pc, const modmig_error *e,
                         const char *what)
{
	const modmig_migration *m = modmig_source_find(t->src, modmig_error_version(e));

	if (!pc->c.subject && m)
		mm_proof_case_init(pc, pc->c.check, m);
	pc->c.version = modmig_error_version(e);
	pc->c.file = m ? modmig_migration_file(m) : NULL;
	pc->c.module = m && modmig_migration_module(m)
	                       ? modmig_module_name(modmig_migration_module(m))
	                       : NULL;
	mm_proof_error(pc, e);
	mm_proof_finish(t, pc, MODMIG_TEST_FAILED, "%05lld %s: %s", (long long)pc->c.version,
	                m ? modmig_migration_name(m) : "", what);
}

static modmig_status check_empty(mm_proof_ctx *t, bool *applied, modmig_error **err)
{
	modmig_status rc;
	modmig_error *e = NULL;
	modmig_findings *f = NULL;
	modmig_schema *rebuilt = NULL;
	modmig_schema_diff *d = NULL;
	mm_proof_case pc;
	int64_t *order = NULL;
	size_t order_count = 0, n = 0, nf;

	*applied = false;
	mm_proof_case_init(&pc, MODMIG_TEST_EMPTY, NULL);
	mm_proof_subject(&pc, "empty database");
	if ((rc = mm_proof_build(t, t->versions, t->count, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		apply_failed(t, &pc, e,
		             "fails on an empty database (the other checks need every migration "
		             "to apply)");
		rc = MODMIG_OK;
		goto cleanup;
	}
	*applied = true;
	rc = modmig_verify(t->sh->db, t->src, &f, &e);
	if (rc != MODMIG_OK && rc != MODMIG_E_CHECK)
		goto cleanup;
	nf = modmig_findings_count(f);
	for (size_t i = 0; i < nf; i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		mm_proof_detail(&pc,
		                mm_printf("verify: %s: %05lld %s: %s",
		                          modmig_finding_kind_name(x->kind), (long long)x->version,
		                          x->module ? x->module : "-", x->message));
	}
	/* drift: the schema the history's order rebuilds is the schema there is */
	if ((rc = mm_proof_snapshot(t, &t->all, &e)) != MODMIG_OK ||
	    (rc = history_order(t, &order, &order_count, &e)) != MODMIG_OK ||
	    (rc = mm_proof_build(t, order, order_count, &e)) != MODMIG_OK ||
	    (rc = mm_proof_snapshot(t, &rebuilt, &e)) != MODMIG_OK ||
	    (rc = compare(t->all, rebuilt, &d, &n, &e)) != MODMIG_OK)
		goto cleanup;
	mm_proof_diff(&pc, d, "the database", "the migrations");
	if (nf || n)
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED,
		                "%zu migrations apply, but verify has %zu finding%s and drift %zu "
		                "difference%s",
		                t->count, nf, nf == 1 ? "" : "s", n, n == 1 ? "" : "s");
	else
		mm_proof_finish(t, &pc, MODMIG_TEST_PASSED,
		                "%zu migrations apply; verify and drift are clean", t->count);
cleanup:
	if (rc != MODMIG_OK)
		rc = fatal(rc, &e, err);
	mm_proof_discard(&pc);
	modmig_error_free(e);
	modmig_findings_free(f);
	modmig_schema_free(rebuilt);
	modmig_schema_diff_free(d);
	free(order);
	return rc;
}

/* ---- 4. module ownership (decided during the round trip pass) ------------- */

static const modmig_schema_object *find_object(const modmig_schema *s, const char *kind,
                                               const char *schema, const char *parent,
                                               const char *name)
{
	for (size_t i = 0; i < modmig_schema_count(s); i++) {
		const modmig_schema_object *o = modmig_schema_at(s, i);

		if (strcmp(o->kind, kind) == 0 && strcmp(o->schema, schema) == 0 &&
		    strcmp(o->name, name) == 0 &&
		    (parent ? o->parent && strcmp(o->parent, parent) == 0 : !o->parent))
			return o;
	}
	return NULL;
}

/*
 * Whether grantee is one of the module's own roles: a role its own schema
 * grants a privilege to. Granting such a role access to another module's
 * objects is the consuming side of a dependency, as a foreign key is.
 */
static bool own_role(const modmig_schema *after, const char *own, const char *grantee, size_t len)
{
	const modmig_schema_object *o = find_object(after, "schema", own, NULL, own);
	const char *g = o ? modmig_schema_object_get(o, "grants") : NULL;

	if (len == 5 && strncmp(grantee, "owner", 5) == 0)
		return false;
	for (const char *p = g; p && *p;) {
		size_t n = strcspn(p, ";");

		if (strncmp(p, "revoked from ", 13) != 0 && strncmp(p, grantee, len) == 0 &&
		    p[len] == ':')
			return true;
		p += n;
		p += strspn(p, "; ");
	}
	return false;
}

/* Whether entry (up to ';') appears in list. */
static bool has_entry(const char *list, const char *entry, size_t len)
{
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ";");

		if (n == len && strncmp(p, entry, len) == 0)
			return true;
		p += n;
		p += strspn(p, "; ");
	}
	return false;
}

/* The grantees whose entries differ between a and b and are not own roles. */
static void foreign_grantees(mm_buf *out, const char *a, const char *b, const modmig_schema *after,
                             const char *own)
{
	const char *lists[2] = {a, b};

	for (int side = 0; side < 2; side++)
		for (const char *p = lists[side]; p && *p;) {
			size_t n = strcspn(p, ";"), skip = 0, len;

			if (!has_entry(lists[1 - side], p, n)) {
				if (strncmp(p, "revoked from ", 13) == 0)
					skip = 13;
				len = strcspn(p + skip, ":");
				if (!own_role(after, own, p + skip, len))
					mm_buf_printf(out, "%s%.*s", out->len ? ", " : "", (int)len,
					              p + skip);
			}
			p += n;
			p += strspn(p, "; ");
		}
}

static char *object_label(const modmig_schema_difference *d)
{
	if (strcmp(d->kind, "schema") == 0)
		return mm_printf("schema %s", d->name);
	if (d->parent)
		return mm_printf("%s %s on %s %s.%s", d->kind, d->name, d->parent_kind, d->schema,
		                 d->parent);
	return mm_printf("%s %s.%s", d->kind, d->schema, d->name);
}

static const char *owner_of(const modmig_source *src, const char *schema)
{
	for (size_t i = 0; i < modmig_source_module_count(src); i++) {
		const modmig_module *m = modmig_source_module_at(src, i);

		if (modmig_module_schema(m) && strcmp(modmig_module_schema(m), schema) == 0)
			return modmig_module_name(m);
	}
	return NULL;
}

/*
 * Decide migration m's ownership case from the schema before and after its
 * Up: objects of its own schema are its business; a grant on another
 * module's object to one of its own roles is allowed (it consumes, like a
 * foreign key); a trigger it adds to another module's table that calls its
 * own function is a warning (it observes that table); anything else outside
 * its schema is a finding naming the object.
 */
static void check_ownership(mm_proof_ctx *t, const modmig_migration *m, const modmig_schema *before,
                            const modmig_schema *after, const modmig_schema_diff *d)
{
	const modmig_module *mod = modmig_migration_module(m);
	const char *own = mod ? modmig_module_schema(mod) : NULL;
	mm_proof_case pc;
	char *first = NULL, *fn = NULL;
	size_t failures = 0, warnings = 0;

	(void)before;
	if (!own)
		return;
	mm_proof_case_init(&pc, MODMIG_TEST_OWNERSHIP, m);
	fn = mm_printf("EXECUTE FUNCTION %s.", own);
	for (size_t i = 0; i < modmig_schema_diff_count(d); i++) {
		const modmig_schema_difference *x = modmig_schema_diff_at(d, i);
		const char *owner = owner_of(t->src, x->schema);
		char *label, *text;

		if (strcmp(x->schema, own) == 0)
			continue;
		label = object_label(x);
		if (x->change == MODMIG_SCHEMA_CHANGED && strcmp(x->attribute, "grants") == 0) {
			mm_buf who;

			mm_buf_init(&who);
			foreign_grantees(&who, x->a_value, x->b_value, after, own);
			if (who.len) {
				mm_proof_detail(&pc, mm_printf("grants on %s (module %s) to %s, "
				                               "not a role of module %s",
				                               label, owner ? owner : "none",
				                               who.data, modmig_module_name(mod)));
				failures++;
				if (!first)
					first = mm_printf("grants on %s", label);
			}
			mm_buf_free(&who);
			free(label);
			continue;
		}
		if (x->change == MODMIG_SCHEMA_ADDED && strcmp(x->kind, "trigger") == 0 && fn) {
			const modmig_schema_object *o =
			        find_object(after, x->kind, x->schema, x->parent, x->name);
			const char *def = o ? modmig_schema_object_get(o, "definition") : NULL;

			if (def && strstr(def, fn)) {
				mm_proof_detail(&pc,
				                mm_printf("adds %s of module %s, calling its own "
				                          "function",
				                          label, owner ? owner : "none"));
				warnings++;
				free(label);
				continue;
			}
		}
		text = modmig_schema_difference_text(x, "the schema before it",
		                                     "the schema after it");
		mm_proof_detail(&pc, mm_printf("%s (module %s)", text ? text : label,
		                               owner ? owner : "none"));
		free(text);
		failures++;
		if (!first)
			first = mm_printf("%s of module %s", label, owner ? owner : "none");
		free(label);
	}
	if (failures)
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED, "changes %s outside schema %s: %s",
		                failures == 1 ? "an object" : "objects", own,
		                first ? first : "out of memory");
	else if (warnings)
		mm_proof_finish(t, &pc, MODMIG_TEST_WARNING,
		                "adds a trigger to another module's table; everything else is in "
		                "schema %s",
		                own);
	else
		mm_proof_finish(t, &pc, MODMIG_TEST_PASSED, "changes objects only in schema %s",
		                own);
	mm_proof_discard(&pc);
	free(first);
	free(fn);
}

/* ---- 2. round trip ------------------------------------------------------- */

/*
 * One migration's round trip on a shadow where everything before it is
 * applied and *prev is its schema. On return *prev is the schema with m
 * applied (NULL when the pass cannot go on: *stop is set).
 */
static modmig_status round_trip_one(mm_proof_ctx *t, size_t index, modmig_schema **prev, bool *stop,
                                    modmig_error **err)
{
	const modmig_migration *m = modmig_source_migration_at(t->src, index);
	modmig_status rc;
	modmig_error *e = NULL;
	modmig_schema *up = NULL, *down = NULL, *again = NULL;
	modmig_schema_diff *d_own = NULL, *d_down = NULL, *d_again = NULL;
	modmig_down_options dopts;
	mm_proof_case pc;
	int64_t v = modmig_migration_version(m);
	size_t n_down = 0, n_again = 0;

	mm_proof_case_init(&pc, MODMIG_TEST_ROUND_TRIP, m);
	modmig_down_options_init(&dopts);
	if ((rc = mm_run_replay(t->sh->db, t->src, &v, 1, &t->sh->interrupted, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		apply_failed(t, &pc, e, "Up fails");
		*stop = true;
		rc = MODMIG_OK;
		goto cleanup;
	}
	if ((rc = mm_proof_snapshot(t, &up, &e)) != MODMIG_OK ||
	    (rc = compare(*prev, up, &d_own, &n_down, &e)) != MODMIG_OK)
		goto cleanup;
	check_ownership(t, m, *prev, up, d_own);
	if (!modmig_migration_has_down(m)) {
		mm_proof_finish(t, &pc, MODMIG_TEST_WARNING,
		                "irreversible: it has no Down section");
		goto next;
	}
	if ((rc = modmig_down(t->sh->db, t->src, &dopts, NULL, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		mm_proof_error(&pc, e);
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED, "Down fails: %s",
		                modmig_error_message(e));
		/* a transactional Down rolled back: m stays applied, the pass goes on */
		*stop = modmig_migration_no_transaction(m);
		rc = MODMIG_OK;
		goto next;
	}
	if ((rc = mm_proof_snapshot(t, &down, &e)) != MODMIG_OK ||
	    (rc = compare(*prev, down, &d_down, &n_down, &e)) != MODMIG_OK)
		goto cleanup;
	mm_proof_diff(&pc, d_down, "the schema before Up", "the schema after Down");
	if (n_down) {
		/*
		 * What Down left behind would make Up fail again for the wrong reason:
		 * report Down, and rebuild everything up to m so that the pass goes on
		 */
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED,
		                "Down does not restore the schema before Up: %zu difference%s",
		                n_down, n_down == 1 ? "" : "s");
		if ((rc = mm_proof_build(t, t->versions, index + 1, &e)) != MODMIG_OK) {
			if (!mm_proof_is_finding(t, e))
				goto cleanup;
			*stop = true;
			rc = MODMIG_OK;
		}
		goto next;
	}
	if ((rc = mm_run_replay(t->sh->db, t->src, &v, 1, &t->sh->interrupted, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		mm_proof_error(&pc, e);
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED, "Up fails after Down: %s",
		                modmig_error_message(e));
		*stop = true;
		rc = MODMIG_OK;
		goto cleanup;
	}
	if ((rc = mm_proof_snapshot(t, &again, &e)) != MODMIG_OK ||
	    (rc = compare(up, again, &d_again, &n_again, &e)) != MODMIG_OK)
		goto cleanup;
	mm_proof_diff(&pc, d_again, "the first Up", "Up after Down");
	if (n_again)
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED,
		                "Up after Down differs from the first Up: %zu difference%s",
		                n_again, n_again == 1 ? "" : "s");
	else
		mm_proof_finish(
		        t, &pc, MODMIG_TEST_PASSED,
		        "Down restores the schema before Up; Up again gives the same schema");
	if (again) {
		modmig_schema_free(up);
		up = again;
		again = NULL;
	}
next:
	modmig_schema_free(*prev);
	*prev = up;
	up = NULL;
cleanup:
	if (rc != MODMIG_OK)
		rc = fatal(rc, &e, err);
	mm_proof_discard(&pc);
	modmig_error_free(e);
	modmig_schema_free(up);
	modmig_schema_free(down);
	modmig_schema_free(again);
	modmig_schema_diff_free(d_own);
	modmig_schema_diff_free(d_down);
	modmig_schema_diff_free(d_again);
	return rc;
}

static modmig_status check_round_trip(mm_proof_ctx *t, modmig_error **err)
{
	modmig_status rc;
	modmig_schema *prev = NULL;
	bool stop = false;

	if ((rc = mm_proof_build(t, NULL, 0, err)) != MODMIG_OK ||
	    (rc = mm_proof_snapshot(t, &prev, err)) != MODMIG_OK)
		goto cleanup;
	for (size_t i = 0; i < t->count && !stop && rc == MODMIG_OK; i++)
		rc = round_trip_one(t, i, &prev, &stop, err);
cleanup:
	modmig_schema_free(prev);
	return rc;
}

/* ---- 5. upgrade ------------------------------------------------------------ */

static modmig_status check_upgrade(mm_proof_ctx *t, modmig_error **err)
{
	modmig_status rc;
	modmig_error *e = NULL;
	modmig_up_options up;
	modmig_schema *got = NULL;
	modmig_schema_diff *d = NULL;
	mm_proof_case pc;
	const char *from = t->opts.from_label ? t->opts.from_label : "the older migrations";
	char *b_label = mm_printf("the upgrade from %s", from);
	size_t n = 0;

	mm_proof_case_init(&pc, MODMIG_TEST_UPGRADE, NULL);
	mm_proof_subject(&pc, from);
	modmig_up_options_init(&up);
	if (!b_label) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = mm_shadow_wipe(t->sh, &e)) != MODMIG_OK)
		goto cleanup;
	if ((rc = modmig_up(t->sh->db, t->opts.from, &up, NULL, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		mm_proof_error(&pc, e);
		pc.c.version = modmig_error_version(e);
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED, "%05lld of %s fails to apply",
		                (long long)pc.c.version, from);
		rc = MODMIG_OK;
		goto cleanup;
	}
	if ((rc = modmig_up(t->sh->db, t->src, &up, NULL, &e)) != MODMIG_OK) {
		if (!mm_proof_is_finding(t, e))
			goto cleanup;
		apply_failed(t, &pc, e, "fails in the upgrade");
		rc = MODMIG_OK;
		goto cleanup;
	}
	if ((rc = mm_proof_snapshot(t, &got, &e)) != MODMIG_OK ||
	    (rc = compare(t->all, got, &d, &n, &e)) != MODMIG_OK)
		goto cleanup;
	mm_proof_diff(&pc, d, "a fresh apply", b_label);
	if (n)
		mm_proof_finish(t, &pc, MODMIG_TEST_FAILED,
		                "upgrading from %s differs from a fresh apply: %zu difference%s",
		                from, n, n == 1 ? "" : "s");
	else
		mm_proof_finish(t, &pc, MODMIG_TEST_PASSED,
		                "upgrading from %s gives the schema of a fresh apply", from);
cleanup:
	if (rc != MODMIG_OK)
		rc = fatal(rc, &e, err);
	mm_proof_discard(&pc);
	modmig_error_free(e);
	modmig_schema_free(got);
	modmig_schema_diff_free(d);
	free(b_label);
	return rc;
}

/* ---- the run ---------------------------------------------------------------- */

static modmig_status flush_deferred(mm_proof_ctx *t, modmig_error **err)
{
	modmig_test_report *later = t->deferred;

	t->deferred = NULL;
	for (size_t i = 0; later && i < later->count; i++) {
		mm_proof_case pc;
		char *message;

		memset(&pc, 0, sizeof(pc));
		pc.c = later->cases[i];
		pc.started = mm_now_ms() - pc.c.duration_ms;
		memset(&later->cases[i], 0, sizeof(later->cases[i]));
		message = (char *)pc.c.message;
		mm_proof_finish(t, &pc, pc.c.outcome, "%s", message);
		free(message);
	}
	modmig_test_report_free(later);
	return t->report->oom ? mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory")
	                      : MODMIG_OK;
}

modmig_status modmig_test(modmig_shadow *shadow, modmig_source *src,
                          const modmig_test_options *opts, modmig_test_report **out,
                          modmig_error **err)
{
	modmig_status rc;
	mm_proof_ctx t;
	bool applied = false;

	*out = NULL;
	memset(&t, 0, sizeof(t));
	t.sh = shadow;
	t.src = src;
	if (opts)
		t.opts = *opts;
	else
		modmig_test_options_init(&t.opts);
	modmig_schema_options_init(&t.scope);
	t.scope.version_table = modmig_source_version_table(src);
	t.count = modmig_source_migration_count(src);
	t.versions = malloc((t.count + 1) * sizeof(*t.versions));
	t.report = calloc(1, sizeof(*t.report));
	t.deferred = calloc(1, sizeof(*t.deferred));
	if (!t.versions || !t.report || !t.deferred) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < t.count; i++)
		t.versions[i] = modmig_migration_version(modmig_source_migration_at(src, i));
	/* every file is read and parsed before the first build: a bad file is bad input */
	if ((rc = modmig_source_parse(src, err)) != MODMIG_OK ||
	    (t.opts.from && (rc = modmig_source_parse(t.opts.from, err)) != MODMIG_OK) ||
	    (rc = check_empty(&t, &applied, err)) != MODMIG_OK || !applied ||
	    (rc = check_round_trip(&t, err)) != MODMIG_OK ||
	    (rc = mm_proof_allow_missing(&t, err)) != MODMIG_OK ||
	    (rc = flush_deferred(&t, err)) != MODMIG_OK ||
	    (t.opts.from && (rc = check_upgrade(&t, err)) != MODMIG_OK))
		goto cleanup;
	if (t.report->oom)
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
cleanup:
	if (rc == MODMIG_OK) {
		*out = t.report;
		t.report = NULL;
		rc = modmig_test_report_tally(*out, MODMIG_TEST_FAILED) ? MODMIG_E_CHECK
		                                                        : MODMIG_OK;
	}
	modmig_test_report_free(t.report);
	modmig_test_report_free(t.deferred);
	modmig_schema_free(t.all);
	free(t.versions);
	return rc;
}
