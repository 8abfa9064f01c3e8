/* test_plan.c - the planner and the registry check, from hand-made files and state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"

/* Three modules: db 1001.., identity 2001.., billing 3001.. */
typedef struct fixture {
	modmig_module modules[3];
	modmig_migration migs[16];
	size_t mig_count;
	mm_applied applied[16];
	mm_event_row events[4];
	mm_state st;
	mm_registered registered[4];
	modmig_source src;
} fixture;

static void fx_init(fixture *f)
{
	static const char *const names[] = {"db", "identity", "billing"};
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 3; i++) {
		f->modules[i].name = (char *)names[i];
		f->modules[i].index = i;
		f->modules[i].first_version = (int64_t)(i + 1) * 1000 + 1;
		f->modules[i].last_version = (int64_t)(i + 1) * 1000 + 999;
	}
	f->st.applied = f->applied;
	f->st.events = f->events;
	f->st.modules = f->registered;
	for (int t = 0; t < MM_TABLE_COUNT; t++)
		f->st.has[t] = true;
	f->src.manifest.modules = f->modules;
	f->src.manifest.module_count = 3;
	f->src.origin = (char *)"modules/modules.yaml";
}

/* Files are added in ascending version order. */
static void add_file(fixture *f, int64_t version)
{
	modmig_migration *m = &f->migs[f->mig_count++];

	m->version = version;
	m->module = &f->modules[version / 1000 - 1];
	m->file = (char *)"x.sql";
}

/* Applied rows stay sorted by version; id is the apply order. */
static void add_applied(fixture *f, int64_t version, int64_t id)
{
	size_t i = f->st.applied_count++;

	while (i > 0 && f->applied[i - 1].version > version) {
		f->applied[i] = f->applied[i - 1];
		i--;
	}
	f->applied[i].version = version;
	f->applied[i].id = id;
}

static void add_registered(fixture *f, const char *name, int position)
{
	f->registered[f->st.module_count].name = (char *)name;
	f->registered[f->st.module_count++].position = position;
}

static void expect_plan(const mm_plan *p, const int64_t *want, size_t n)
{
	size_t i;

	assert_int_equal(p->count, n);
	for (i = 0; i < n; i++)
		assert_int_equal(p->steps[i].version, want[i]);
}

static void test_classify_states(void **state)
{
	fixture f;
	mm_row *rows = NULL;
	size_t n = 0;
	modmig_status rc;

	(void)state;
	fx_init(&f);
	add_file(&f, 1001);
	add_file(&f, 1002);
	add_file(&f, 2001);
	add_file(&f, 3001);
	add_file(&f, 3002);
	add_applied(&f, 1001, 1);
	add_applied(&f, 3001, 2);
	add_applied(&f, 2500, 3); /* applied, but no file has that version */
	f.events[0].version = 1002;
	f.events[0].event = (char *)"failed";
	f.events[0].kind = MODMIG_HISTORY_FAILED;
	f.events[0].failed_unit = 2;
	f.st.event_count = 1;
	rc = mm_classify(f.migs, f.mig_count, &f.st, &rows, &n, NULL);
	assert_int_equal(rc, MODMIG_OK);
	assert_int_equal(n, 6);
	assert_int_equal(rows[0].state, MODMIG_STATE_APPLIED);
	assert_int_equal(rows[1].state, MODMIG_STATE_FAILED);
	assert_int_equal(rows[2].state, MODMIG_STATE_MISSING);
	assert_int_equal(rows[3].version, 2500);
	assert_int_equal(rows[3].state, MODMIG_STATE_NO_FILE);
	assert_null(rows[3].migration);
	assert_int_equal(rows[4].state, MODMIG_STATE_APPLIED);
	assert_int_equal(rows[5].state, MODMIG_STATE_PENDING);
	assert_string_equal(modmig_state_name(rows[3].state), "no_file");
	free(rows);
}

static void test_up_missing_first(void **state)
{
	fixture f;
	mm_plan p;
	static const int64_t want[] = {1002, 2001, 3002, 3003};

	(void)state;
	fx_init(&f);
	add_file(&f, 1001);
	add_file(&f, 1002);
	add_file(&f, 2001);
	add_file(&f, 3001);
	add_file(&f, 3002);
	add_file(&f, 3003);
	add_applied(&f, 3001, 1);
	add_applied(&f, 1001, 2);
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, NULL, NULL, &p, NULL), MODMIG_OK);
	expect_plan(&p, want, 4);
	/* Across modules an earlier version arriving late is normal, not out of order. */
	assert_false(p.steps[0].out_of_order);
	assert_false(p.steps[1].out_of_order);
	mm_plan_clear(&p);
}

static void test_up_empty_database(void **state)
{
	fixture f;
	mm_plan p;
	static const int64_t want[] = {1001, 2001, 3001};

	(void)state;
	fx_init(&f);
	add_file(&f, 1001);
	add_file(&f, 2001);
	add_file(&f, 3001);
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, NULL, NULL, &p, NULL), MODMIG_OK);
	expect_plan(&p, want, 3);
	mm_plan_clear(&p);
	add_applied(&f, 1001, 1);
	add_applied(&f, 2001, 2);
	add_applied(&f, 3001, 3);
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, NULL, NULL, &p, NULL), MODMIG_OK);
	assert_int_equal(p.count, 0);
	mm_plan_clear(&p);
}

static void test_up_to_by_one_module(void **state)
{
	fixture f;
	mm_plan p;
	modmig_up_options opts;
	static const int64_t upto[] = {1002, 2001};
	static const int64_t one[] = {1002};
	static const int64_t identity[] = {2001, 2002};

	(void)state;
	fx_init(&f);
	add_file(&f, 1001);
	add_file(&f, 1002);
	add_file(&f, 2001);
	add_file(&f, 2002);
	add_file(&f, 3001);
	add_applied(&f, 1001, 1);
	modmig_up_options_init(&opts);
	opts.to = 2001;
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL), MODMIG_OK);
	expect_plan(&p, upto, 2);
	mm_plan_clear(&p);
	modmig_up_options_init(&opts);
	opts.by_one = true;
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL), MODMIG_OK);
	expect_plan(&p, one, 1);
	mm_plan_clear(&p);
	modmig_up_options_init(&opts);
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, &f.modules[1], &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, identity, 2);
	mm_plan_clear(&p);
}

static void test_out_of_order_within_module(void **state)
{
	fixture f;
	mm_plan p;
	modmig_up_options opts;
	modmig_error *err = NULL;
	static const int64_t want[] = {2002, 3001};

	(void)state;
	fx_init(&f);
	add_file(&f, 2002);
	add_file(&f, 2003);
	add_file(&f, 3001);
	add_applied(&f, 2003, 1);
	modmig_up_options_init(&opts);
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL), MODMIG_OK);
	expect_plan(&p, want, 2);
	assert_true(p.steps[0].out_of_order);
	assert_false(p.steps[1].out_of_order);
	mm_plan_clear(&p);
	opts.strict = true;
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, NULL, &p, &err),
	                 MODMIG_E_OUT_OF_ORDER);
	assert_int_equal(p.count, 0);
	assert_non_null(strstr(modmig_error_message(err), "2002"));
	assert_non_null(strstr(modmig_error_message(err), "2003"));
	assert_int_equal(modmig_error_version(err), 2002);
	assert_string_equal(modmig_error_module(err), "identity");
	modmig_error_free(err);
}

static void test_strict_across_modules_is_fine(void **state)
{
	fixture f;
	mm_plan p;
	modmig_up_options opts;

	(void)state;
	fx_init(&f);
	add_file(&f, 1002);
	add_file(&f, 3001);
	add_applied(&f, 3001, 1);
	modmig_up_options_init(&opts);
	opts.strict = true;
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL), MODMIG_OK);
	assert_int_equal(p.count, 1);
	assert_int_equal(p.steps[0].version, 1002);
	assert_false(p.steps[0].out_of_order);
	mm_plan_clear(&p);
}

static void test_failed_step_is_marked(void **state)
{
	fixture f;
	mm_plan p;

	(void)state;
	fx_init(&f);
	add_file(&f, 1001);
	f.events[0].version = 1001;
	f.events[0].event = (char *)"failed";
	f.events[0].kind = MODMIG_HISTORY_FAILED;
	f.events[0].failed_unit = 3;
	f.st.event_count = 1;
	assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, NULL, NULL, &p, NULL), MODMIG_OK);
	assert_int_equal(p.count, 1);
	assert_true(p.steps[0].failed);
	assert_int_equal(p.steps[0].failed_unit, 3);
	mm_plan_clear(&p);
}

/* The latest event alone says where a NO TRANSACTION migration stands. */
static void latest_event(fixture *f, modmig_history_event kind, int unit)
{
	fx_init(f);
	add_file(f, 1001);
	f->events[0].version = 1001;
	f->events[0].event = (char *)modmig_history_event_name(kind);
	f->events[0].kind = kind;
	f->events[0].failed_unit = unit;
	f->st.event_count = 1;
}

static void test_unit_progress_gives_the_next_unit(void **state)
{
	static const struct {
		modmig_history_event kind;
		int unit;
		bool failed;
		int next;
		bool unknown;
	} cases[] = {
	        /* crashed while unit 2 ran: unit 2 is the one to run again, maybe done */
	        {MODMIG_HISTORY_UNIT_STARTED, 2, true, 2, true},
	        /* unit 2 done, unit 3 not recorded as started: continue at 3 */
	        {MODMIG_HISTORY_UNIT_DONE, 2, true, 3, false},
	        {MODMIG_HISTORY_INTERRUPTED_PARTWAY, 2, true, 2, false},
	        {MODMIG_HISTORY_RESUMED, 3, true, 3, false},
	        /* a transactional migration that failed or was interrupted left nothing */
	        {MODMIG_HISTORY_FAILED_ATOMIC, 2, false, 0, false},
	        {MODMIG_HISTORY_INTERRUPTED, 2, false, 0, false},
	};
	fixture f;
	mm_plan p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		latest_event(&f, cases[i].kind, cases[i].unit);
		assert_int_equal(mm_plan_up(f.migs, f.mig_count, &f.st, NULL, NULL, &p, NULL),
		                 MODMIG_OK);
		assert_int_equal(p.count, 1);
		assert_int_equal(p.steps[0].failed, cases[i].failed);
		if (cases[i].failed) {
			assert_int_equal(p.steps[0].failed_unit, cases[i].next);
			assert_int_equal(p.steps[0].unit_unknown, cases[i].unknown);
		}
		mm_plan_clear(&p);
	}
}

/* down, redo and reset refuse while a migration stands part-way; a failed_atomic does not block */
static void test_partway_blocks_rollbacks(void **state)
{
	fixture f;
	modmig_error *err = NULL;

	(void)state;
	latest_event(&f, MODMIG_HISTORY_UNIT_STARTED, 1);
	f.src.migrations = f.migs;
	f.src.migration_count = f.mig_count;
	assert_int_equal(mm_plan_check_partway(&f.src, &f.st, "roll back", &err), MODMIG_E_REFUSED);
	assert_non_null(
	        strstr(modmig_error_message(err),
	               "cannot roll back while NO TRANSACTION migration 1001 stands part-way"));
	assert_int_equal(modmig_exit_code(modmig_error_code(err)), 2);
	modmig_error_free(err);
	latest_event(&f, MODMIG_HISTORY_FAILED_ATOMIC, 1);
	f.src.migrations = f.migs;
	f.src.migration_count = f.mig_count;
	assert_int_equal(mm_plan_check_partway(&f.src, &f.st, "roll back", NULL), MODMIG_OK);
}

/* Applied in the order 3001, 1001, 2002, 2001: down follows that, newest first. */
static void down_fixture(fixture *f)
{
	fx_init(f);
	add_file(f, 1001);
	add_file(f, 2001);
	add_file(f, 2002);
	add_file(f, 3001);
	add_applied(f, 3001, 10);
	add_applied(f, 1001, 11);
	add_applied(f, 2002, 12);
	add_applied(f, 2001, 13);
}

static void test_down_by_apply_order(void **state)
{
	fixture f;
	mm_plan p;
	modmig_down_options opts;
	static const int64_t one[] = {2001};
	static const int64_t above[] = {2001, 2002, 3001};
	static const int64_t all[] = {2001, 2002, 1001, 3001};

	(void)state;
	down_fixture(&f);
	modmig_down_options_init(&opts);
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, one, 1);
	mm_plan_clear(&p);
	opts.to = 1001;
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, above, 3);
	mm_plan_clear(&p);
	modmig_down_options_init(&opts);
	opts.all = true;
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, &opts, NULL, &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, all, 4);
	mm_plan_clear(&p);
}

static void test_down_module(void **state)
{
	fixture f;
	mm_plan p;
	modmig_down_options opts;
	static const int64_t db[] = {1001};
	static const int64_t identity_all[] = {2001, 2002};

	(void)state;
	down_fixture(&f);
	modmig_down_options_init(&opts);
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, &opts, &f.modules[0], &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, db, 1);
	mm_plan_clear(&p);
	opts.all = true;
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, &opts, &f.modules[1], &p, NULL),
	                 MODMIG_OK);
	expect_plan(&p, identity_all, 2);
	mm_plan_clear(&p);
}

static void test_down_needs_the_file(void **state)
{
	fixture f;
	mm_plan p;
	modmig_error *err = NULL;

	(void)state;
	down_fixture(&f);
	add_applied(&f, 2500, 14);
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, NULL, NULL, &p, &err),
	                 MODMIG_E_NOT_FOUND);
	assert_int_equal(p.count, 0);
	assert_non_null(strstr(modmig_error_message(err), "2500"));
	modmig_error_free(err);
	err = NULL;
	/* Nothing applied: nothing to roll back, and no error. */
	fx_init(&f);
	add_file(&f, 1001);
	assert_int_equal(mm_plan_down(f.migs, f.mig_count, &f.st, NULL, NULL, &p, &err), MODMIG_OK);
	assert_int_equal(p.count, 0);
}

static void test_registry(void **state)
{
	fixture f;
	size_t first_new = 99;
	modmig_error *err = NULL;

	(void)state;
	fx_init(&f);
	assert_int_equal(mm_registry_check(&f.src, &f.st, &first_new, NULL), MODMIG_OK);
	assert_int_equal(first_new, 0);
	add_registered(&f, "db", 1);
	add_registered(&f, "identity", 2);
	assert_int_equal(mm_registry_check(&f.src, &f.st, &first_new, NULL), MODMIG_OK);
	assert_int_equal(first_new, 2);

	/* billing was registered at 2; the manifest now has identity inserted before it. */
	fx_init(&f);
	add_registered(&f, "db", 1);
	add_registered(&f, "billing", 2);
	assert_int_equal(mm_registry_check(&f.src, &f.st, &first_new, &err), MODMIG_E_REGISTRY);
	assert_non_null(strstr(modmig_error_message(err),
	                       "module billing is at position 3 in modules/modules.yaml but was "
	                       "registered at position 2"));
	assert_non_null(strstr(modmig_error_hint(err), "append new modules at the end"));
	modmig_error_free(err);
	err = NULL;

	/* A rename: position 2 was registered under another name. */
	fx_init(&f);
	add_registered(&f, "db", 1);
	add_registered(&f, "ident", 2);
	assert_int_equal(mm_registry_check(&f.src, &f.st, &first_new, &err), MODMIG_E_REGISTRY);
	assert_non_null(strstr(modmig_error_message(err), "ident"));
	modmig_error_free(err);
	err = NULL;

	/* A registered module dropped from the manifest. */
	fx_init(&f);
	add_registered(&f, "db", 1);
	add_registered(&f, "identity", 2);
	add_registered(&f, "billing", 3);
	add_registered(&f, "extra", 4);
	assert_int_equal(mm_registry_check(&f.src, &f.st, &first_new, &err), MODMIG_E_REGISTRY);
	assert_non_null(strstr(modmig_error_message(err), "extra"));
	modmig_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_classify_states),
	        cmocka_unit_test(test_up_missing_first),
	        cmocka_unit_test(test_up_empty_database),
	        cmocka_unit_test(test_up_to_by_one_module),
	        cmocka_unit_test(test_out_of_order_within_module),
	        cmocka_unit_test(test_strict_across_modules_is_fine),
	        cmocka_unit_test(test_failed_step_is_marked),
	        cmocka_unit_test(test_unit_progress_gives_the_next_unit),
	        cmocka_unit_test(test_partway_blocks_rollbacks),
	        cmocka_unit_test(test_down_by_apply_order),
	        cmocka_unit_test(test_down_module),
	        cmocka_unit_test(test_down_needs_the_file),
	        cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
