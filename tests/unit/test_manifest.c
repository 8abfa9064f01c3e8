/* test_manifest.c - modules.yaml: valid shapes and every error with its position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"

static modmig_status parse(const char *text, mm_manifest *m, modmig_error **err)
{
	return mm_manifest_parse("modules/modules.yaml", text, strlen(text), m, err);
}

static void test_full_manifest(void **state)
{
	const char *text = "# positions fix ranges\n"
	                   "version_table: goose_db_version\n"
	                   "modules:\n"
	                   "  - name: db\n"
	                   "  - name: identity\n"
	                   "    schema: identity\n"
	                   "    depends_on: [db]\n"
	                   "  - name: organization\n"
	                   "    schema: organization\n"
	                   "    depends_on:\n"
	                   "      - db\n"
	                   "      - identity\n";
	mm_manifest m;
	modmig_error *err = NULL;

	(void)state;
	assert_int_equal(parse(text, &m, &err), MODMIG_OK);
	assert_null(err);
	assert_string_equal(m.file, "modules/modules.yaml");
	assert_string_equal(m.version_table, "goose_db_version");
	assert_int_equal(m.module_count, 3);
	assert_string_equal(m.modules[0].name, "db");
	assert_null(m.modules[0].schema);
	assert_int_equal(m.modules[0].depends_count, 0);
	assert_int_equal(m.modules[0].first_version, 1001);
	assert_int_equal(m.modules[0].last_version, 1999);
	assert_int_equal(m.modules[0].line, 4);
	assert_int_equal(m.modules[0].column, 5);
	assert_string_equal(m.modules[1].name, "identity");
	assert_string_equal(m.modules[1].schema, "identity");
	assert_int_equal(m.modules[1].depends_count, 1);
	assert_string_equal(m.modules[1].depends_on[0], "db");
	assert_int_equal(m.modules[1].index, 1);
	assert_int_equal(m.modules[1].first_version, 2001);
	assert_int_equal(m.modules[1].last_version, 2999);
	assert_int_equal(m.modules[2].depends_count, 2);
	assert_string_equal(m.modules[2].depends_on[0], "db");
	assert_string_equal(m.modules[2].depends_on[1], "identity");
	assert_int_equal(m.modules[2].first_version, 3001);
	mm_manifest_clear(&m);
	assert_null(m.modules);
}

static void test_defaults_and_qualified_table(void **state)
{
	mm_manifest m;
	modmig_error *err = NULL;

	(void)state;
	assert_int_equal(parse("modules:\n- name: a1_b\n", &m, &err), MODMIG_OK);
	assert_string_equal(m.version_table, "goose_db_version");
	assert_string_equal(m.modules[0].name, "a1_b");
	mm_manifest_clear(&m);

	assert_int_equal(parse("modules: [{name: db}, {name: app, schema: App_1, depends_on: []}]\n"
	                       "version_table: \"migrations.Version_$table\"\n",
	                       &m, &err),
	                 MODMIG_OK);
	assert_string_equal(m.version_table, "migrations.Version_$table");
	assert_int_equal(m.module_count, 2);
	assert_string_equal(m.modules[1].schema, "App_1");
	assert_int_equal(m.modules[1].depends_count, 0);
	mm_manifest_clear(&m);

	/* An explicit document start and end marker are one document. */
	assert_int_equal(parse("---\nmodules:\n  - name: db\n...\n", &m, &err), MODMIG_OK);
	assert_int_equal(m.module_count, 1);
	mm_manifest_clear(&m);
	assert_null(err);
}

typedef struct bad_case {
	const char *text;
	int line;
	int column;
	const char *message;
} bad_case;

static const bad_case bad_cases[] = {
        {"modules:\n  - name: db\n    colour: red\n", 3, 5, "unknown key 'colour' in a module"},
        {"modules:\n  - name: db\ntables: x\n", 3, 1, "unknown key 'tables' at the top level"},
        {"modules:\n  - name: db\nmodules:\n  - name: x\n", 3, 1, "duplicate key 'modules'"},
        {"modules:\n  - name: db\n    name: x\n", 3, 5, "duplicate key 'name' in a module"},
        {"modules:\n  - name: db\n  - name: db\n", 3, 11, "duplicate module name 'db'"},
        {"modules:\n  - name: Identity\n", 2, 11, "bad module name 'Identity'"},
        {"modules:\n  - name: 1db\n", 2, 11, "bad module name '1db'"},
        {"modules:\n  - name: my-mod\n", 2, 11, "bad module name 'my-mod'"},
        {"modules:\n  - name: {a: b}\n", 2, 11, "name must be a string, not a mapping"},
        {"modules:\n  - name: [a]\n", 2, 11, "name must be a string, not a list"},
        {"modules: db\n", 1, 10, "modules must be a list, not a scalar"},
        {"modules:\n  name: db\n", 2, 3, "modules must be a list, not a mapping"},
        {"modules: []\n", 1, 10, "the module list is empty"},
        {"modules:\n", 1, 9, "modules must be a list, not a scalar"},
        {"version_table: x\n", 1, 1, "the manifest has no modules"},
        {"modules:\n  - schema: x\n", 2, 5, "module 1 has no name"},
        {"modules:\n  - db\n", 2, 5, "each module must be a mapping with a name, not a scalar"},
        {"modules:\n  - name:\n", 2, 10, "name has no value"},
        {"modules:\n  - name: db\n    schema: ~\n", 3, 13, "schema has no value"},
        {"modules:\n  - name: db\n    schema: my-schema\n", 3, 13, "bad schema name"},
        {"modules:\n  - name: db\n    schema: a.b\n", 3, 13, "bad schema name"},
        {"version_table: a.b.c\nmodules:\n  - name: db\n", 1, 16, "bad version_table name"},
        {"version_table: 9t\nmodules:\n  - name: db\n", 1, 16, "bad version_table name"},
        {"version_table: [a]\nmodules:\n  - name: db\n", 1, 16,
         "version_table must be a string, not a list"},
        {"modules:\n  - name: db\n    depends_on: [nope]\n", 3, 18,
         "module 'db' depends on unknown module 'nope'"},
        {"modules:\n  - name: db\n    depends_on: [auth]\n  - name: auth\n", 3, 18,
         "module 'db' depends on 'auth', which comes later in the manifest"},
        {"modules:\n  - name: db\n    depends_on: [db]\n", 3, 18, "module 'db' depends on itself"},
        {"modules:\n  - name: db\n  - name: a\n    depends_on: [db, db]\n", 4, 22,
         "lists 'db' twice in depends_on"},
        {"modules:\n  - name: db\n    depends_on: db\n", 3, 17,
         "depends_on must be a list of module names"},
        {"modules:\n  - name: db\n    depends_on: [[db]]\n", 3, 18,
         "a depends_on entry must be a string, not a list"},
        {"modules:\n  - name: db\n   schema: x\n", 3, 4, "invalid yaml"},
        {"modules: [\n", 2, 1, "invalid yaml"},
        {"modules:\n  - name: \"db\n", 3, 1, "invalid yaml"},
        {"modules:\n  - &m name: db\n", 2, 5, "yaml anchors are not supported"},
        {"version_table: &x t\nmodules:\n  - name: *x\n", 1, 16, "yaml anchors are not supported"},
        {"modules:\n  - name: *x\n", 2, 11, "yaml aliases are not supported"},
        {"modules:\n  - name: !!str db\n", 2, 11, "yaml tags are not supported"},
        {"modules:\n  - name: db\n---\nmodules:\n  - name: x\n", 3, 1,
         "the manifest holds more than one document"},
        {"", 1, 1, "the manifest is empty"},
        {"# nothing\n", 1, 1, "the manifest is empty"},
        {"---\n", 2, 1, "the manifest is empty"},
        {"- name: db\n", 1, 1, "the manifest must be a mapping, not a list"},
        {"just text\n", 1, 1, "the manifest must be a mapping, not a scalar"},
        {"? [a]\n: b\nmodules:\n  - name: db\n", 1, 3, "expected a key at the top level"},
        {"modules:\n  - name: db\n\tschema: x\n", 3, 1, "invalid yaml"},
        {"modules:\n  - name: \"d\\0b\"\n", 2, 11, "nul byte"},
        {"modules:\n  - name: d\x01\n", 2, 12, "invalid yaml"},
        {"modules:\n  - name: d\xff\n", 2, 12, "invalid yaml"},
};

static void test_bad_manifests(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *c = &bad_cases[i];
		mm_manifest m;
		modmig_error *err = NULL;
		modmig_status rc = parse(c->text, &m, &err);

		print_message("case %zu: %s\n", i, c->message);
		assert_int_equal(rc, MODMIG_E_MANIFEST);
		assert_non_null(err);
		print_message("  got %d:%d: %s\n", modmig_error_line(err), modmig_error_column(err),
		              modmig_error_message(err));
		assert_int_equal(modmig_error_code(err), MODMIG_E_MANIFEST);
		assert_string_equal(modmig_error_file(err), "modules/modules.yaml");
		assert_non_null(strstr(modmig_error_message(err), c->message));
		assert_int_equal(modmig_error_line(err), c->line);
		assert_int_equal(modmig_error_column(err), c->column);
		assert_non_null(modmig_error_hint(err));
		/* A failed parse leaves nothing behind to free. */
		assert_null(m.modules);
		assert_int_equal(m.module_count, 0);
		modmig_error_free(err);
	}
}

static void test_size_limit(void **state)
{
	size_t n = 2 * 1024 * 1024;
	char *big = test_malloc(n + 1);
	mm_manifest m;
	modmig_error *err = NULL;

	(void)state;
	memset(big, '#', n);
	big[n] = '\0';
	assert_int_equal(mm_manifest_parse("m.yaml", big, n, &m, &err), MODMIG_E_MANIFEST);
	assert_non_null(strstr(modmig_error_message(err), "larger than"));
	modmig_error_free(err);
	test_free(big);
}

static void test_deep_nesting_is_cheap(void **state)
{
	/*
	 * A static buffer: with a heap one, gcc -O2 -fsanitize=address follows
	 * the allocation-failure path past cmocka's assert (not noreturn) and
	 * reports -Warray-bounds on the memset.
	 */
	enum { depth = 100000 };
	static char text[depth + 32];
	mm_manifest m;
	modmig_error *err = NULL;

	(void)state;
	memcpy(text, "modules: [{name: ", 17);
	memset(text + 17, '[', depth);
	text[17 + depth] = '\0';
	assert_int_equal(parse(text, &m, &err), MODMIG_E_MANIFEST);
	assert_int_equal(modmig_error_line(err), 1);
	assert_int_equal(modmig_error_column(err), 18);
	modmig_error_free(err);
}

static void test_error_without_out_pointer(void **state)
{
	mm_manifest m;

	(void)state;
	assert_int_equal(mm_manifest_parse("m", "modules: 1\n", 11, &m, NULL), MODMIG_E_MANIFEST);
	assert_null(m.modules);
}

#ifndef MODMIG_SOURCE_ROOT
#define MODMIG_SOURCE_ROOT "."
#endif

/*
 * Each fixture starts with "# expect: LINE:COL: MESSAGE"; the CLI tests run the
 * same files through `modmig validate`, so check here that they say what they
 * claim.
 */
static void check_fixture(const char *dir, const char *name)
{
	char path[4096];
	char expect[256] = "";
	char *text = NULL;
	size_t len = 0;
	int line = 0;
	int column = 0;
	mm_manifest m;
	modmig_error *err = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mm_read_file(path, &text, &len, &err), MODMIG_OK);
	if (sscanf(text, "# expect: %d:%d: %255[^\n]", &line, &column, expect) != 3)
		fail_msg("%s: first line is not '# expect: LINE:COL: MESSAGE'", path);
	assert_int_equal(mm_manifest_parse(path, text, len, &m, &err), MODMIG_E_MANIFEST);
	if (modmig_error_line(err) != line || modmig_error_column(err) != column ||
	    !strstr(modmig_error_message(err), expect))
		fail_msg("%s: expected %d:%d: %s, got %d:%d: %s", path, line, column, expect,
		         modmig_error_line(err), modmig_error_column(err),
		         modmig_error_message(err));
	assert_string_equal(modmig_error_file(err), path);
	modmig_error_free(err);
	free(text);
}

static void test_bad_fixtures(void **state)
{
	const char *dir = MODMIG_SOURCE_ROOT "/tests/fixtures/manifests/bad";
	DIR *d = opendir(dir);
	struct dirent *entry;
	size_t count = 0;
	size_t n;

	(void)state;
	assert_non_null(d);
	while ((entry = readdir(d)) != NULL) {
		n = strlen(entry->d_name);
		if (n < 5 || strcmp(entry->d_name + n - 5, ".yaml") != 0)
			continue;
		check_fixture(dir, entry->d_name);
		count++;
	}
	closedir(d);
	assert_true(count >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full_manifest),
	        cmocka_unit_test(test_defaults_and_qualified_table),
	        cmocka_unit_test(test_bad_manifests),
	        cmocka_unit_test(test_size_limit),
	        cmocka_unit_test(test_deep_nesting_is_cheap),
	        cmocka_unit_test(test_error_without_out_pointer),
	        cmocka_unit_test(test_bad_fixtures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
